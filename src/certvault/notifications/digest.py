"""One message for a whole policy run: a text body, an HTML table, a CSV file and the rows (pure rendering)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from certvault.notifications.collate import ExpiringCertificate, WeakEndpoint

CSV_COLUMNS = ("common_name", "names", "issuer", "serial", "not_after", "days_left", "state", "owner", "tags",
               "origin", "id")
TEXT_ROWS = 200  # the text and HTML parts list this many; the CSV has every row


@dataclass(frozen=True)
class Digest:
    event: str
    title: str
    body: str
    severity: str
    html: str
    items: list[dict[str, str]]
    details: dict[str, str] = field(default_factory=dict)
    csv_name: str | None = None
    csv: bytes | None = None


def _row(cert: ExpiringCertificate) -> dict[str, str]:
    return {"common_name": cert.common_name, "names": " ".join(cert.names), "issuer": cert.issuer,
            "serial": cert.serial, "not_after": cert.not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_left": str(cert.days_left), "state": cert.state, "owner": cert.owner, "tags": " ".join(cert.tags),
            "origin": "managed" if cert.managed else "discovered", "id": cert.id}


def expiry_csv(certs: list[ExpiringCertificate]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for cert in certs:
        writer.writerow({k: _csv_safe(v) for k, v in _row(cert).items()})
    return out.getvalue().encode("utf-8")


def _csv_safe(value: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @) is prefixed with a quote."""
    return "'" + value if value[:1] in ("=", "+", "@") or (value[:1] == "-" and not value[1:].isdigit()) else value


def _table(headings: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table border=\"1\" cellpadding=\"4\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, intro: str, table: str, footer: str) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{escape(title)}</title></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(intro)}</p>{table}<p>{escape(footer)}</p></body></html>")


def expiry(policy: str, within_days: int, certs: list[ExpiringCertificate], now: datetime, public_url: str,
           *, report: bool = False) -> Digest:
    expired = sum(1 for c in certs if c.days_left < 0)
    title = (f"Expiry report: {len(certs)} certificates expire within {within_days} days" if report else
             f"{len(certs)} certificates expire within {within_days} days")
    intro = (f"Policy {policy}, {now:%Y-%m-%d %H:%M} UTC: {len(certs) - expired} expiring within {within_days} days,"
             f" {expired} already expired.")
    shown = certs[:TEXT_ROWS]
    lines = [intro, ""] + [f"- {c.common_name} ({c.issuer}) {c.state} {c.not_after:%Y-%m-%d}, {c.days_left} days"
                           for c in shown]
    more = f"... and {len(certs) - len(shown)} more (see the CSV)" if len(certs) > len(shown) else ""
    footer = f"certvault at {public_url}"
    table = _table(("Common name", "Issuer", "Expires", "Days left", "State", "Owner"),
                   [(c.common_name, c.issuer, f"{c.not_after:%Y-%m-%d}", str(c.days_left), c.state, c.owner)
                    for c in shown])
    stamp = f"{now:%Y%m%d}"
    return Digest(event="certificate.expiring" if not report else "notification.expiry_report", title=title,
                  body="\n".join([*lines, more, "", footer]).strip() + "\n",
                  severity="warning" if certs else "info", html=_page(title, intro + (" " + more if more else ""),
                                                                       table, footer),
                  items=[_row(c) for c in certs[:1000]],
                  details={"policy": policy, "window_days": str(within_days), "certificates": str(len(certs)),
                           "expired": str(expired)},
                  csv_name=f"certvault-expiry-{stamp}.csv", csv=expiry_csv(certs))


def vulnerability(policy: str, scope: str, endpoints: list[WeakEndpoint], now: datetime, public_url: str) -> Digest:
    what = "new weaknesses" if scope == "new" else "weaknesses"
    title = f"{len(endpoints)} endpoints with {what}"
    intro = f"Policy {policy}, scans up to {now:%Y-%m-%d %H:%M} UTC: {len(endpoints)} endpoints with {what}."
    rows = [(f"{e.host}:{e.port}", e.ip, ", ".join(e.findings)) for e in endpoints[:TEXT_ROWS]]
    lines = [intro, ""] + [f"- {where} ({ip}): {found}" for where, ip, found in rows]
    footer = f"certvault at {public_url}"
    return Digest(event="scan.weakness_found", title=title, body="\n".join([*lines, "", footer]) + "\n",
                  severity="warning", html=_page(title, intro, _table(("Endpoint", "IP", "Weaknesses"), rows), footer),
                  items=[{"host": e.host, "ip": e.ip, "port": str(e.port), "findings": " ".join(e.findings)}
                         for e in endpoints[:1000]],
                  details={"policy": policy, "scope": scope, "endpoints": str(len(endpoints))})
