"""Email over SMTP: STARTTLS (port 587), implicit TLS (465) or, for a local relay only, plain."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import ClassVar, Literal, Protocol, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.protocols import HttpClientFactory, Notification, SecretResolver


class EmailOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    sender: str = Field(min_length=3)
    recipients: list[str] = Field(min_length=1)
    ca_file: str | None = None  # trust this CA bundle instead of the system store
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("sender", "recipients")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            if "@" not in address or any(c.isspace() for c in address.strip()):
                raise ValueError(f"{address!r} is not an email address")
        return value


class TlsSettings(Protocol):
    """The outbound client factory's TLS context: the account's trust store, CA bundle or pinned certificate."""

    def ssl_context(self, *, ca_bundle: str | None = None) -> ssl.SSLContext: ...


def tls_context(ca_file: str | None, http: object | None = None) -> ssl.SSLContext:
    """The account's TLS settings (outbound's ssl_context, as its HTTPS clients use) with the channel's own
    `ca_file` trusted in place of the system store; a plain default context when built without them."""
    settings = cast(TlsSettings, http) if hasattr(http, "ssl_context") else None
    if settings is not None:
        return settings.ssl_context(ca_bundle=_read(ca_file) if ca_file else None)
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise IntegrationError(f"cannot read ca_file {path}: {exc.strerror}") from None


class EmailNotifier:
    name: ClassVar[str] = "email"
    title: ClassVar[str] = "Email (SMTP)"
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = EmailOptions

    def __init__(self, options: EmailOptions, secrets: SecretResolver, http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets
        self._http = http

    @staticmethod
    def validate_secrets(options: EmailOptions, secrets: Mapping[str, str]) -> None:
        if options.username and not secrets.get("password"):
            raise InvalidInput("email channel: a password is needed when a username is set")
        if options.username and options.security == "none":
            raise InvalidInput("email channel: refusing to send an SMTP password without TLS; "
                               "use security starttls or tls")

    def message(self, note: Notification) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = f"[certvault] {note.title}"
        msg["From"] = self.options.sender
        msg["To"] = ", ".join(note.recipients or self.options.recipients)
        msg["Date"] = formatdate(note.occurred_at.timestamp(), usegmt=True)
        msg["Message-ID"] = make_msgid(idstring=note.message_id or None, domain="certvault")
        msg["X-Certvault-Event"] = note.event
        lines = [note.body, "", f"Event: {note.event}", f"Severity: {note.severity}",
                 f"Time: {note.occurred_at.isoformat()}"]
        lines += [f"{key}: {value}" for key, value in note.details.items()]
        msg.set_content("\n".join(lines) + "\n")
        if note.html:
            msg.add_alternative(note.html, subtype="html")
        for attachment in note.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=attachment.filename)
        return msg

    def send(self, note: Notification) -> None:
        o = self.options
        try:
            with self._connect() as smtp:
                if o.username:
                    smtp.login(o.username, self._secrets("password"))
                smtp.send_message(self.message(note))
        except (smtplib.SMTPException, OSError) as exc:
            raise IntegrationError(f"email via {o.host}:{o.port} failed: {_describe(exc)}") from None

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        if o.security == "tls":
            return smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout, context=tls_context(o.ca_file, self._http))
        smtp = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
        try:
            if o.security == "starttls":
                smtp.starttls(context=tls_context(o.ca_file, self._http))
        except BaseException:
            smtp.close()
            raise
        return smtp


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error if isinstance(exc.smtp_error, str) else exc.smtp_error.decode(errors="replace")
        return f"server answered {exc.smtp_code} {text}"
    return str(exc) or type(exc).__name__
