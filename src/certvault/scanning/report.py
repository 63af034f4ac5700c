"""A plain-text report of one scan result (the CLI prints it; a ticket body can reuse it)."""

from __future__ import annotations

from typing import Any

from certvault.scanning.findings import LEGACY_PROTOCOLS, describe, is_reachable, offered_protocols, weak_cipher_list

CERT_PROBLEMS = ("expired", "not_yet_valid", "self_signed", "untrusted", "hostname_mismatch", "weak_signature",
                 "weak_key")


def title(result: dict[str, Any]) -> str:
    target = result.get("target") or {}
    host, ip, port = target.get("host"), target.get("ip"), target.get("port")
    where = f"[{host}]:{port}" if host and ":" in str(host) else f"{host}:{port}"
    extra = [x for x in (f"{ip}" if ip and ip != host else "", f"SNI {target['sni']}" if target.get("sni") and
                         target.get("sni") != host else "") if x]
    return where + (f" ({', '.join(extra)})" if extra else "")


def text_report(result: dict[str, Any]) -> list[str]:
    grade = result.get("grade") or "-"
    lines = [f"{title(result)}  grade {grade}" if is_reachable(result) else f"{title(result)}  UNREACHABLE"]
    if is_reachable(result):
        lines += _protocols(result) + _certificate(result) + _vulnerabilities(result) + _weak(result) + _hsts(result)
        if result.get("grade_reasons"):
            lines.append("  Grade reasons: " + "; ".join(str(r) for r in result["grade_reasons"]))
    for error in result.get("errors") or []:
        lines.append(f"  Error: {error}")
    lines.append(f"  {result.get('connections', 0)} connections, {result.get('duration_ms', 0)} ms")
    return lines


def _protocols(result: dict[str, Any]) -> list[str]:
    offered = offered_protocols(result)
    legacy = [p for p in offered if p in LEGACY_PROTOCOLS]
    text = " ".join(offered) or "none"
    return [f"  Protocols: {text}" + (f"  (legacy: {', '.join(legacy)})" if legacy else "")]


def _certificate(result: dict[str, Any]) -> list[str]:
    cert = result.get("certificate")
    if not cert:
        return ["  Certificate: none received"]
    problems = [p.replace("_", " ") for p in CERT_PROBLEMS if cert.get(p)]
    if cert.get("revocation") == "revoked":
        problems.append(f"revoked ({cert.get('revocation_source')})")
    lines = [
        f"  Certificate: {cert.get('subject')}; names {', '.join(cert.get('sans') or []) or '-'}",
        f"    expires {cert.get('not_after')} ({cert.get('days_left')} days); {cert.get('key_type')} "
        f"{cert.get('key_size')}; {cert.get('signature_algorithm')}; revocation {cert.get('revocation')}",
    ]
    lines.append("    problems: " + (", ".join(problems) if problems else "none"))
    return lines


def _vulnerabilities(result: dict[str, Any]) -> list[str]:
    verdicts = result.get("vulnerabilities") or {}
    found = [describe(name) for name, v in verdicts.items() if v == "vulnerable"]
    unknown = [name for name, v in verdicts.items() if v == "error"]
    lines = ["  Vulnerabilities: " + ("; ".join(found) if found else "none found")]
    if unknown:
        lines.append("    not determined: " + ", ".join(unknown))
    return lines


def _weak(result: dict[str, Any]) -> list[str]:
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for row in weak_cipher_list(result):
        protocols, reasons = grouped.setdefault(str(row["name"]), ([], row["reasons"]))
        protocols.append(row["protocol"])
    if not grouped:
        return ["  Weak ciphers: none"]
    lines = [f"  Weak ciphers ({len(grouped)}):"]
    lines += [f"    {name} [{' '.join(protocols)}]: {'; '.join(reasons)}"
              for name, (protocols, reasons) in grouped.items()]
    return lines


def _hsts(result: dict[str, Any]) -> list[str]:
    hsts = result.get("hsts") or {}
    if hsts.get("present"):
        return [f"  HSTS: max-age {hsts.get('max_age')}"]
    return ["  HSTS: missing" if hsts.get("checked", True) else "  HSTS: not checked"]
