"""An aiosmtpd SMTP server offering STARTTLS on a loopback port.

Run: python -m tests.servers.tls.smtp_server - PORT CERT.pem KEY.pem
"""

from __future__ import annotations

import asyncio
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink


def main(port: int, cert: str, key: str) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=False,
                            server_hostname="localhost")
    controller.start()
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main(int(sys.argv[2]), sys.argv[3], sys.argv[4])
