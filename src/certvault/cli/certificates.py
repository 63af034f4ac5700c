"""cert import/list/show/export/csr/tag/adopt/key/delete, and discover."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import typer

from certvault.certificates import discovery, views
from certvault.certificates.importing import display_name
from certvault.certificates.schemas import EntryDetail, EntryOut
from certvault.certificates.search import CertificateQuery
from certvault.cli.common import cli_actor, console, err_console, fail, print_json, print_table, services
from certvault.crypto.csr import CsrSpec
from certvault.errors import CertvaultError

cert_app = typer.Typer(help="The certificate inventory.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cert_app, name="cert")
    app.command("discover")(discover)


def _entry_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not a certificate id (a UUID from `certvault cert list`)")


def _write_private(out: Path, data: bytes) -> None:
    if out.is_dir():
        fail(f"{out} is a directory")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@cert_app.command("import")
def import_certificates(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="a file (PEM, DER, PKCS#7, PKCS#12, JKS) or a directory"),
    password: str | None = typer.Option(None, "--password", envvar="CERTVAULT_CERT_PASSWORD",
                                        help="keystore or private key password"),
    tag: list[str] = typer.Option([], "--tag", help="tag the imported certificates (repeatable)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Import certificates and keys. In a directory each file is imported on its own."""
    if not os.path.lexists(path):
        fail(f"{display_name(path)}: no such file or directory")
    with services(ctx) as svc:
        results = svc.certificates.import_path(cli_actor(), path, password=password, tags=tag)
    report = views.import_report(results)
    if as_json:
        print_json(report)
    else:
        for f in report.files:
            if f.ok:
                console.print(f"{f.file}: {f.certificates} certificate(s) ({f.format}): {f.created} new, "
                              f"{f.renewed} renewed, {f.unchanged} already stored, {f.keys} key(s)", highlight=False)
            else:
                err_console.print(f"[bold red]error:[/] {f.error}", highlight=False, soft_wrap=True)
    if report.failed:
        raise typer.Exit(1)


@cert_app.command("list")
def list_certificates(
    ctx: typer.Context,
    name: str | None = typer.Option(None, help="name, *.wildcard, or text"),
    issuer: str | None = typer.Option(None), tag: str | None = typer.Option(None),
    key_type: str | None = typer.Option(None, "--key-type", help="rsa, ec, rsa2048, ec256 ..."),
    expiring_within: int | None = typer.Option(None, "--expiring-within", help="days"),
    expired: bool = typer.Option(False, "--expired", help="only expired certificates"),
    managed: bool | None = typer.Option(None, "--managed/--unmanaged", help="only managed / unmanaged"),
    source: str | None = typer.Option(None, help="import, discovery, internal-ca, acme, csr"),
    sort: str = typer.Option("expiry", help="expiry, -expiry, name, -created"),
    limit: int = typer.Option(50), offset: int = typer.Option(0),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List certificates, soonest expiry first."""
    query = CertificateQuery(name=name, issuer=issuer, tag=tag, key_type=key_type, expiring_within=expiring_within,
                             expired=True if expired else None, managed=managed, source=source, sort=sort,
                             limit=limit, offset=offset)
    with services(ctx) as svc:
        page = svc.certificates.search(cli_actor(), query)
        items = [EntryOut.model_validate(e) for e in page.items]
    if as_json:
        print_json({"items": items, "total": page.total, "total_capped": page.total_capped,
                    "limit": page.limit, "offset": page.offset})
        return
    more = "+" if page.total_capped else ""
    from rich.table import Table

    table = Table(title=f"{len(items)} of {page.total}{more} certificates", header_style="bold")
    table.add_column("id", no_wrap=True, min_width=36)  # whole, so it can be copied into `cert show`
    for column in ("common name", "issuer", "expires", "days", "key", "source", "tags"):
        table.add_column(column)
    for e in items:
        table.add_row(str(e.id), e.common_name, e.issuer_cn, str(e.not_after.date()) if e.not_after else "pending",
                      "" if e.days_left is None else str(e.days_left), f"{e.key_algorithm} {e.key_size}",
                      e.source + ("" if e.managed else " (unmanaged)"), ",".join(e.tags))
    console.print(table)


@cert_app.command("show")
def show_certificate(ctx: typer.Context, entry_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One certificate with its versions, chain and where it was seen."""
    with services(ctx) as svc:
        info = views.detail(svc.certificates, cli_actor(), _entry_id(entry_id))
    if as_json:
        print_json(info)
    else:
        _print_detail(info)


def _print_detail(info: EntryDetail) -> None:
    cur = info.current
    lines = [("id", info.id), ("common name", info.common_name), ("names", ", ".join(info.names)),
             ("status", info.status), ("managed", info.managed), ("source", info.source), ("owner", info.owner),
             ("tags", ", ".join(info.tags))]
    if cur is not None:
        lines += [("subject", cur.subject), ("issuer", cur.issuer), ("serial", cur.serial),
                  ("valid", f"{cur.not_before:%Y-%m-%d} to {cur.not_after:%Y-%m-%d} ({cur.days_left} days left)"),
                  ("key", f"{cur.key_algorithm} {cur.key_size}" + (" (key stored)" if cur.has_key else "")),
                  ("signature", cur.signature_algorithm), ("SHA-256", cur.fingerprint_sha256),
                  ("SPKI SHA-256", cur.spki_sha256)]
    for key, value in lines:
        console.print(f"[bold]{key:>14}[/]  {'' if value is None else value}", highlight=False)
    for c in info.chain:
        console.print(f"[bold]{'chain':>14}[/]  {c.subject} (until {c.not_after:%Y-%m-%d})", highlight=False)
    for s in info.seen:
        console.print(f"[bold]{'seen at':>14}[/]  {s.host or s.ip}:{s.port} ip={s.ip} sni={s.sni or '-'} "
                      f"last {s.last_seen:%Y-%m-%d %H:%M}", highlight=False)
    for v in info.versions:
        mark = "*" if v.current else " "
        console.print(f"[bold]{'version':>14}[/] {mark}{v.not_before:%Y-%m-%d} to {v.not_after:%Y-%m-%d} "
                      f"serial {v.serial}", highlight=False)
    if info.csr_pem:
        console.print(info.csr_pem, highlight=False)


@cert_app.command("export")
def export_certificate(
    ctx: typer.Context, entry_id: str,
    fmt: str | None = typer.Option(None, "--format", help="pem | pkcs12 | jks (default: as requested, else pem)"),
    with_key: bool = typer.Option(False, "--with-key", help="include the private key"),
    chain: bool = typer.Option(True, "--chain/--no-chain", help="include the issuing chain"),
    password: str | None = typer.Option(None, "--password", envvar="CERTVAULT_CERT_PASSWORD",
                                        help="protects the file (needed for keys, PKCS#12, JKS)"),
    out: Path = typer.Option(..., "--out", help="file to write"),
) -> None:
    """Write a certificate (and optionally its key and chain) as PEM, PKCS#12 or JKS."""
    with services(ctx) as svc:
        result = svc.certificates.export(cli_actor(), _entry_id(entry_id), fmt=fmt, with_key=with_key,
                                         with_chain=chain, password=password)
    _write_private(out, result.content)
    console.print(f"{result.filename.rsplit('.', 1)[-1]} written to {out}", highlight=False)


@cert_app.command("email")
def email_certificate(
    ctx: typer.Context, entry_id: str,
    to: str = typer.Option(..., "--to", help="recipient address"),
    fmt: str = typer.Option("pem", "--format", help="pem | pkcs12"),
    with_key: bool = typer.Option(False, "--with-key", help="include the private key (PKCS#12 with --password only)"),
    password: str | None = typer.Option(None, "--password", envvar="CERTVAULT_CERT_PASSWORD",
                                        help="protects the PKCS#12 file"),
    channel: str | None = typer.Option(None, "--channel", help="email channel (default: the first enabled one)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """E-mail a certificate (and chain); a private key only leaves inside a password-protected PKCS#12."""
    with services(ctx) as svc:
        result = svc.notifications.email_certificate(cli_actor(), _entry_id(entry_id), to, fmt=fmt,
                                                     with_key=with_key, password=password, channel=channel)
    if as_json:
        print_json(result)
    else:
        console.print(f"{result['file']} sent to {to} through {result['channel']}", highlight=False)


@cert_app.command("csr")
def create_csr(
    ctx: typer.Context,
    cn: str = typer.Option(..., "--cn", help="subject common name"),
    san: list[str] = typer.Option([], "--san", help="DNS name or IP (repeatable)"),
    key: str = typer.Option("ec256", "--key", help="ec256 | ec384 | rsa2048 | rsa3072 | rsa4096"),
    hash_name: str = typer.Option("sha256", "--hash", help="sha256 | sha384 | sha512"),
    org: str | None = typer.Option(None, "--org"), ou: str | None = typer.Option(None, "--ou"),
    locality: str | None = typer.Option(None, "--locality"), state: str | None = typer.Option(None, "--state"),
    country: str | None = typer.Option(None, "--country"),
    tag: list[str] = typer.Option([], "--tag"),
    out: Path | None = typer.Option(None, "--out", help="write the CSR here (default: print it)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Generate a key (stored sealed) and a CSR; `cert import` of the signed certificate completes it."""
    spec = CsrSpec(common_name=cn, sans=tuple(san), key_spec=key, hash_name=hash_name, organization=org,
                   organizational_unit=ou, locality=locality, state=state, country=country)
    with services(ctx) as svc:
        entry, pem = svc.certificates.create_request(cli_actor(), spec, tags=tag)
        entry_id = entry.id
    if out is not None:
        out.write_bytes(pem)
    if as_json:
        print_json({"id": entry_id, "csr_pem": pem.decode(), "file": str(out) if out else None})
    elif out is not None:
        console.print(f"CSR for {cn} written to {out} (certificate id {entry_id})", highlight=False)
    else:
        sys.stdout.write(pem.decode())


@cert_app.command("tag")
def tag_certificate(
    ctx: typer.Context, entry_id: str,
    tags: list[str] = typer.Option(None, "--tag", help="the new tags (replace the old ones; repeatable)"),
    owner: str | None = typer.Option(None, "--owner"),
) -> None:
    """Set a certificate's tags and owner."""
    with services(ctx) as svc:
        entry = svc.certificates.update(cli_actor(), _entry_id(entry_id), tags=tags, owner=owner)
        console.print(f"{entry.common_name}: tags {', '.join(entry.tags) or '-'}, owner {entry.owner or '-'}",
                      highlight=False)


@cert_app.command("adopt")
def adopt_certificate(ctx: typer.Context, entry_id: str) -> None:
    """Mark a discovered certificate as managed."""
    with services(ctx) as svc:
        entry = svc.certificates.update(cli_actor(), _entry_id(entry_id), managed=True)
        console.print(f"{entry.common_name} is now managed", highlight=False)


@cert_app.command("key")
def show_key(ctx: typer.Context, entry_id: str,
             out: Path = typer.Option(..., "--out", help="file to write the PEM key to (mode 0600)")) -> None:
    """Write the current private key (unencrypted PEM). Audited as a key view."""
    with services(ctx) as svc:
        pem = svc.certificates.current_key_pem(cli_actor(), _entry_id(entry_id))
    if pem is None:
        fail(f"certificate {entry_id} has no stored private key")
    _write_private(out, pem)
    console.print(f"private key written to {out}", highlight=False)


@cert_app.command("delete")
def delete_certificate(ctx: typer.Context, entry_id: str) -> None:
    """Remove a certificate and its history from the inventory."""
    with services(ctx) as svc:
        svc.certificates.delete(cli_actor(), _entry_id(entry_id))
    console.print(f"certificate {entry_id} deleted", highlight=False)


def discover(
    ctx: typer.Context,
    target: list[str] = typer.Argument(None, help="HOST[:PORT] ..."),
    sni: str | None = typer.Option(None, "--sni", help="server name to send (default: the host name)"),
    targets: Path | None = typer.Option(None, "--targets", help="file with one HOST[:PORT] per line"),
    cidr: list[str] = typer.Option([], "--cidr", help="address range, e.g. 10.0.0.0/28 (repeatable)"),
    ports: str = typer.Option("443", "--ports", help="ports for targets without one, e.g. 443,8443"),
    timeout: float = typer.Option(5.0, "--timeout", help="seconds per connection"),
    concurrency: int = typer.Option(64, "--concurrency", help="parallel connections"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Fetch the certificates TLS servers present and add them to the inventory (as unmanaged)."""
    specs = list(target or [])
    if targets is not None:
        try:
            specs += targets.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{display_name(targets)}: cannot read the target list ({exc})")
    try:
        planned = discovery.expand(specs, cidr, discovery.parse_ports(ports), sni)
    except (CertvaultError, ValueError) as exc:
        fail(getattr(exc, "message", str(exc)))
    if not planned:
        fail("give a HOST[:PORT], --targets FILE or --cidr RANGE")
    results = discovery.fetch_all(planned, timeout=timeout, concurrency=concurrency)
    with services(ctx) as svc:
        ids = svc.certificates.record_discovered(cli_actor(), results)
        rows = [_discovered_row(r, svc.certificates.get(cli_actor(), i) if i else None) for r, i in zip(results, ids,
                                                                                                       strict=True)]
    if as_json:
        print_json(rows)
        return
    print_table(["target", "ip", "sni", "certificate", "expires", "id / error"],
                [(f"{r['address']}:{r['port']}", r["ip"], r["sni"], r.get("common_name", ""), r.get("not_after", ""),
                  r.get("id") or r.get("error")) for r in rows])


def _discovered_row(result: discovery.Fetched, entry: object) -> dict[str, object]:
    t = result.target
    row: dict[str, object] = {"host": t.host, "address": t.address, "port": t.port, "sni": t.sni, "ip": result.ip}
    if entry is None:
        row["error"] = result.error
        return row
    row.update({"id": str(entry.id), "common_name": entry.common_name,  # type: ignore[attr-defined]
                "not_after": entry.not_after.isoformat() if entry.not_after else None})  # type: ignore[attr-defined]
    return row
