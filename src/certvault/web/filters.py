"""Jinja filters: one way to show a moment ("2026-12-07 06:43 UTC", in 5 days), human state names, sizes.

`when` is the one date filter; `date` and `datetime` are its old names, kept for the templates that use them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment
from markupsafe import Markup, escape

# Confirmations a page shows after a redirect with ?done=<key> (a fixed list: the URL cannot put words on a page).
DONE_MESSAGES = {
    "password": "Your password was changed.",
    "tags": "Tags and owner saved.",
    "adopted": "certvault now manages this certificate.",
    "account": "ACME account saved.",
    "account-registered": "ACME account registered.",
    "account-deactivated": "ACME account deactivated at the CA.",
    "account-deleted": "ACME account deleted from certvault.",
    "user-created": "User created.",
    "user-saved": "User saved.",
    "user-deleted": "User deleted.",
    "user-unlocked": "User unlocked.",
    "user-disabled": "User disabled.",
    "user-enabled": "User enabled.",
    "totp-reset": "Two-factor authentication turned off for the user.",
    "group-created": "Group created.",
    "member-added": "Member added.",
    "member-removed": "Member removed.",
    "totp-on": "Two-factor authentication is on.",
    "totp-off": "Two-factor authentication is off.",
    "token-revoked": "Token revoked.",
    "setting": "Setting saved.",
    "revoked": "Certificate revoked.",
    "cancelled": "Order cancelled.",
    "saved": "Saved.",
    "deleted": "Deleted.",
    "enabled": "Enabled.",
    "disabled": "Disabled.",
    "schedule-paused": "Schedule paused.",
    "schedule-resumed": "Schedule resumed.",
    "schedule-deleted": "Schedule deleted.",
    "run-cancelled": "Scan cancelled.",
    "managed-deleted": "Certificate deleted from certvault.",
    "mapped": "Deployment target mapped.",
    "unmapped": "Deployment mapping removed.",
}

PAGE_SIZES = (25, 50, 100, 200)

# State names from the services and their plugins, in words; anything else is split and capitalised.
STATE_NAMES = {
    "authorizations_pending": "Waiting for domain validation",
    "pending": "Pending",
    "ready": "Ready to finalise",
    "processing": "Being issued",
    "valid": "Issued",
    "invalid": "Failed",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "queued": "Queued",
    "running": "Running",
    "done": "Done",
    "succeeded": "Succeeded",
    "RequiresCheckout": "Requires checkout",
    "CheckedOut": "Checked out",
    "RequiresApproval": "Requires approval",
    "RequiresDoubleLockPassword": "Needs your DoubleLock passphrase",
    "CreateDoubleLockPassword": "Create your DoubleLock passphrase first",
    "DoubleLockNoAccess": "Not shared with you (DoubleLock)",
    "CannotView": "No access",
    "HiddenPassword": "Password hidden",
    "internal-ca": "Internal CA",
    "acme": "ACME",
    "csr": "CSR",
    "api": "API",
    "cli": "CLI",
    "ok": "OK",
    "rolled_back": "Rolled back",
    # why a managed certificate renews when it does (issuance/renewal.py renewal_time)
    "one_third_lifetime": "When a third of its lifetime is left",
    "fixed_days": "A fixed number of days before expiry",
    "ari_window": "In the window the CA suggests (ARI)",
    "ari_renew_now": "Now: the CA asks for it (ARI)",
    "due": "Due",
    # the hardening report's checks (vault/hardening.py)
    "https_forced": "HTTPS only",
    "tls_versions": "TLS versions",
    "users_without_ip_restrictions": "Users without IP restrictions",
    "service_accounts_without_ip_restrictions": "Service accounts without IP restrictions",
}

# Where one name means different things: human(value, of="acme_account").
STATE_NAMES_OF = {
    "acme_account": {"valid": "Active", "deactivated": "Deactivated", "revoked": "Revoked by the CA"},
    "managed": {"active": "Active", "revoked": "Revoked"},
    "check": {"ok": "OK", "warn": "Warning", "bad": "Problem", "info": "Information"},
    "acme_order": {"available": "Certificate issued", "pending": "Waiting for you", "processing": "Processing"},
    "key_policy": {"new": "a new key each time", "reuse": "the same key kept", "imported": "an imported key"},
    "fulfilment": {"manual": "by hand", "dns": "through a DNS account", "standalone": "built-in web server",
                   "webroot": "files in a web root"},
    "trust": {"system": "the system trust store", "ca_bundle": "a CA of your own",
              "pinned": "the server's own certificate (pinned)"},
}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def relative(value: datetime | None, now: datetime | None = None) -> str:
    """'in 5 days', '3 hours ago', 'just now'."""
    if value is None:
        return ""
    seconds = (_utc(value) - (now or datetime.now(UTC))).total_seconds()
    future, span = seconds >= 0, abs(seconds)
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if span >= size * (1 if unit != "month" else 2) or unit == "minute":
            count = int(span // size)
            if count == 0:
                return "just now"
            words = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"in {words}" if future else f"{words} ago"
    return "just now"  # pragma: no cover - the loop always returns


def when(value: datetime | date | str | None, relative_too: bool = True) -> Markup:
    """The one date display: <time datetime=...>2026-12-07 06:43 UTC</time> and the relative time."""
    if value is None or value == "":
        return Markup("—")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return escape(value)
    if not isinstance(value, datetime):
        return Markup('<time datetime="{0}">{0}</time>').format(value.isoformat())
    moment = _utc(value)
    text = Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M UTC"))
    if relative_too:
        text += Markup(' <span class="rel">({})</span>').format(relative(moment))
    return text


def plain_when(value: datetime | None) -> str:
    """For CSV and attributes: '2026-12-07 06:43 UTC'."""
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else ""


def _days_left(value: datetime | None) -> str:
    if value is None:
        return "—"
    days = (_utc(value) - datetime.now(UTC)).days
    return f"expired {-days} d ago" if days < 0 else f"{days} d"


def _expiry_class(value: datetime | None) -> str:
    if value is None:
        return ""
    days = (_utc(value) - datetime.now(UTC)).days
    return "bad" if days < 0 else "warn" if days <= 30 else "ok"


def human(value: object, of: str | None = None, days: int | None = None) -> str:
    """A state or kind name in words: 'authorizations_pending' -> 'Waiting for domain validation'; `of` names the
    thing when one word means different things ('valid' is an issued order but an active ACME account); `days`
    fills in a renewal a fixed number of days before expiry."""
    if value is None:
        return "—"
    raw = str(getattr(value, "value", value))
    if raw == "fixed_days" and days:
        return f"{days} days before expiry"
    if raw in STATE_NAMES_OF.get(of or "", {}):
        return STATE_NAMES_OF[of or ""][raw]
    if raw in STATE_NAMES:
        return STATE_NAMES[raw]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", raw).replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:].lower() if words else "—"


TARGET_PAGES = {
    "user": "/admin/users/{}", "group": "/admin/groups/{}", "certificate": "/certificates/{}",
    "acme_order": "/acme/orders/{}", "scan_run": "/scans/runs/{}", "secret": "/vault/secrets/{}",
    "vault_folder": "/vault/folders/{}",
}


_FLAG_ASIDE = re.compile(r"\s*\((?:with |use |give )?--[a-z][^()]*\)|\s+with --[a-z][a-z0-9-]*")
_FLAG = re.compile(r"--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


def plain_words(message: object) -> str:
    """A service's message for a page: no command-line flags ("give its password (--password)" -> "give its
    password"; "give --eab-kid" -> "give the eab kid"), which mean nothing in a browser."""
    text = _FLAG_ASIDE.sub("", str(message))
    return _FLAG.sub(lambda m: "the " + m.group(1).replace("-", " "), text)


_SCAN_WORDS = (
    (re.compile(r"^(?:SSLv[23]|TLSv1(?:\.[0-3])?): connect to (\S+): connection refused$"),
     r"Could not connect to \1: nothing is listening there (connection refused)."),
    (re.compile(r"^(?:SSLv[23]|TLSv1(?:\.[0-3])?): connect to (\S+): timed out$"),
     r"Could not connect to \1: no answer in time (a firewall, or nothing there)."),
    (re.compile(r"^(?:SSLv[23]|TLSv1(?:\.[0-3])?): connect to (\S+): (.*)$"), r"Could not connect to \1: \2."),
    (re.compile(r"^(?:SSLv[23]|TLSv1(?:\.[0-3])?): (?:exchange|STARTTLS): connection closed$"),
     "The server closed the connection during the TLS handshake."),
    (re.compile(r".*candidates exhausted.*|.*unable to get local issuer.*|.*no path to a trust anchor.*", re.I),
     "The certificate chain does not lead to a trusted root: its issuing CA is not trusted (add the CA to the "
     "scan's trusted CAs if it is yours)."),
)


def scan_error(message: object) -> str:
    """A scanner's error in plain words ("SSLv2: connect to 10.0.0.1:443: connection refused" -> "Could not connect
    to 10.0.0.1:443: nothing is listening there"); an unknown message is shown as it is."""
    text = str(message)
    for pattern, words in _SCAN_WORDS:
        if pattern.match(text):
            return pattern.sub(words, text, count=1)
    return text


def target_link(target_type: str | None, target_id: str | None) -> str | None:
    """The page of an audit row's target, when there is one."""
    if not target_type or not target_id or target_type not in TARGET_PAGES:
        return None
    return TARGET_PAGES[target_type].format(target_id)


def detail_value(value: object) -> str:
    """An audit detail in words: lists joined, yes/no, nested maps as key=value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(detail_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}={detail_value(v)}" for k, v in value.items())
    return str(value)


def size(value: int | None) -> str:
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} B"  # pragma: no cover


def query_with(params: Mapping[str, str], **changes: object) -> str:
    """The page's query string with `changes` (None or "" drops a key): links that keep the filters in the URL."""
    merged = {k: v for k, v in params.items()}
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return "?" + urlencode(merged) if merged else "?"


def page_numbers(total: int, offset: int, size: int, around: int = 2) -> list[int | None]:
    """1-based page numbers to link: the first, the last and those around the current; None is a gap."""
    pages = max(1, -(-total // size))
    current = offset // size + 1
    shown = sorted({1, pages, *range(max(1, current - around), min(pages, current + around) + 1)})
    numbered: list[int | None] = []
    for number in shown:
        if numbered and number - (numbered[-1] or 0) > 1:
            numbered.append(None)
        numbered.append(number)
    return numbered


def install_filters(env: Environment) -> None:
    filters: dict[str, Any] = {
        "when": when, "date": when, "datetime": when, "plain_when": plain_when, "relative": relative,
        "days_left": _days_left, "expiry_class": _expiry_class, "human": human, "size": size,
        "detail_value": detail_value, "plain_words": plain_words,
        "scan_error": scan_error,
    }
    env.filters.update(filters)
    env.globals.update(done_messages=DONE_MESSAGES, target_link=target_link, query_with=query_with,
                       page_numbers=page_numbers, page_sizes=PAGE_SIZES)
