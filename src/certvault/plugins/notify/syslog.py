"""Syslog: RFC 5424 lines over UDP (RFC 5426), TCP (RFC 6587 octet counting) or TLS (RFC 5425).

The message is plain text with structured data, or a CEF record (ArcSight's format) for SIEMs.
"""

from __future__ import annotations

import os
import socket
import ssl
from datetime import UTC
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from certvault import __version__
from certvault.errors import IntegrationError
from certvault.plugins.notify.email import tls_context
from certvault.plugins.protocols import HttpClientFactory, Notification, SecretResolver

UDP_MAX = 8192  # bytes of one UDP message (RFC 5426 asks receivers for at least 2048; most take 8 KiB)
PEN = 32473  # the RFC's example enterprise number; ours until one is registered
SEVERITY = {"critical": 2, "warning": 4, "info": 6}
CEF_SEVERITY = {"critical": 9, "warning": 6, "info": 3}
CEF_NAMED_KEYS = {"account": "suser", "ip": "src", "secret": "fname"}


class SyslogOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=514, ge=1, le=65535)
    transport: Literal["udp", "tcp", "tls"] = "udp"
    format: Literal["rfc5424", "cef"] = "rfc5424"
    facility: int = Field(default=16, ge=0, le=23)  # local0
    app_name: str = Field(default="certvault", min_length=1, max_length=48)
    hostname: str | None = None
    ca_file: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _sd_name(key: str) -> str:
    cleaned = "".join(c for c in key if 33 <= ord(c) <= 126 and c not in '= ]"')
    return cleaned[:32] or "x"


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(value: str) -> str:
    return (value.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n"))


def cef_record(note: Notification) -> str:
    ext = [f"rt={int(note.occurred_at.timestamp() * 1000)}", f"msg={_cef_value(note.body.strip())}"]
    custom = 0
    for key, value in note.details.items():
        if key in CEF_NAMED_KEYS:
            ext.append(f"{CEF_NAMED_KEYS[key]}={_cef_value(str(value))}")
        elif custom < 6:
            custom += 1
            ext += [f"cs{custom}Label={_cef_value(key)}", f"cs{custom}={_cef_value(str(value))}"]
    header = "|".join(_cef_header(v) for v in (
        "CEF:0", "certvault", "certvault", __version__, note.event, note.title,
    ))
    return f"{header}|{CEF_SEVERITY.get(note.severity, 3)}|{' '.join(ext)}"


def rfc5424_line(note: Notification, options: SyslogOptions) -> bytes:
    pri = options.facility * 8 + SEVERITY.get(note.severity, 6)
    stamp = note.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    host = (options.hostname or socket.gethostname() or "-")[:255]
    msgid = "".join(c if c.isalnum() else "_" for c in note.event.upper())[:32]
    if options.format == "cef":
        structured, text = "-", cef_record(note)
    else:
        params = " ".join(f'{_sd_name(k)}="{_sd_escape(str(v))}"' for k, v in note.details.items())
        structured = f"[certvault@{PEN} event=\"{_sd_escape(note.event)}\"{' ' + params if params else ''}]"
        text = f"{note.title}: {note.body}" if note.body else note.title
        text = " | ".join(part.strip() for part in text.strip().splitlines() if part.strip())  # one line: a digest
    line = f"<{pri}>1 {stamp} {host} {options.app_name} {os.getpid()} {msgid} {structured} {text}".encode()
    if options.transport == "udp" and len(line) > UDP_MAX:  # one datagram: a long digest is cut, marked so
        line = line[:UDP_MAX - 3].decode("utf-8", errors="ignore").encode() + "…".encode()
    return line


class SyslogNotifier:
    """Syslog has no credentials; TLS trust comes from the account's connection settings and ca_file."""

    name: ClassVar[str] = "syslog"
    title: ClassVar[str] = "Syslog (RFC 5424, UDP/TCP/TLS)"
    secret_fields: ClassVar[tuple[str, ...]] = ()
    Options = SyslogOptions

    def __init__(self, options: SyslogOptions, _secrets: SecretResolver,
                 http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._http = http

    def send(self, note: Notification) -> None:
        o = self.options
        line = rfc5424_line(note, o)
        try:
            if o.transport == "udp":
                with socket.socket(_family(o.host), socket.SOCK_DGRAM) as sock:
                    sock.settimeout(o.timeout)
                    sock.sendto(line, (o.host, o.port))
                return
            framed = f"{len(line)} ".encode() + line
            with socket.create_connection((o.host, o.port), timeout=o.timeout) as raw:
                if o.transport == "tls":
                    with tls_context(o.ca_file, self._http).wrap_socket(raw, server_hostname=o.host) as tls:
                        tls.sendall(framed)
                else:
                    raw.sendall(framed)
        except (OSError, ssl.SSLError) as exc:
            raise IntegrationError(f"syslog to {o.host}:{o.port}/{o.transport} failed: {exc}") from None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
