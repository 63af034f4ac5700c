"""A real SMTP server (aiosmtpd) on a loopback port: STARTTLS or implicit TLS, AUTH, mailbox in memory."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers.process import free_port
from tests.servers.test_ca import LoopbackTLS


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd API)
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for msg in self.messages:
                    if predicate(msg):
                        return msg
            time.sleep(0.1)
        raise TimeoutError(f"no matching email in {timeout}s; got {[m['Subject'] for m in self.messages]}")


class SmtpServer:
    def __init__(self, tls: LoopbackTLS, username: str = "alerts", password: str = "smtp-pass-123",
                 implicit_tls: bool = False) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self.username, self.password = username, password

        def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and data.login.decode() == username \
                and data.password.decode() == password
            return AuthResult(success=ok, handled=False)

        context = tls.server_context()
        options: dict[str, Any] = {"authenticator": authenticate, "auth_require_tls": True}
        if implicit_tls:
            # the whole connection is TLS; aiosmtpd counts only STARTTLS as TLS for auth_require_tls and would
            # never offer AUTH here
            options.update(ssl_context=context, auth_require_tls=False)
        else:
            options.update(tls_context=context, require_starttls=True)
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, server_hostname="localhost",
                                      **options)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
