"""A real SSLv3 + CBC server (tlslite-ng, which still speaks SSL 3.0): the POODLE positive case.

Run: python -m tests.servers.tls.tlslite_server - PORT CERT.pem KEY.pem
"""

from __future__ import annotations

import socket
import sys
import threading

from tlslite.api import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey


def serve(port: int, cert_path: str, key_path: str) -> None:
    chain = X509CertChain()
    chain.parsePemList(open(cert_path).read())
    key = parsePEMKey(open(key_path).read(), private=True)
    settings = HandshakeSettings()
    settings.minVersion = (3, 0)
    settings.maxVersion = (3, 0)
    settings.cipherNames = ["aes256", "aes128", "3des"]
    settings.keyExchangeNames = ["rsa", "dhe_rsa"]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=_handle, args=(sock, chain, key, settings), daemon=True).start()


def _handle(sock: socket.socket, chain: X509CertChain, key: object, settings: HandshakeSettings) -> None:
    sock.settimeout(10)
    conn = TLSConnection(sock)
    try:
        conn.handshakeServer(certChain=chain, privateKey=key, settings=settings)
        request = conn.read(max=4096)
        if request:
            conn.write(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        conn.close()
    except Exception:  # noqa: BLE001 - scanners break handshakes on purpose
        pass
    finally:
        sock.close()


if __name__ == "__main__":
    serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
