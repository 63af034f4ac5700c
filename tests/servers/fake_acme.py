"""A small stateful RFC 8555 CA over HTTPS on 127.0.0.1, with RFC 9773 renewal information.

Pebble 2.4.0 (Debian) has no ARI, so renewal windows and `replaces` are tested here. The fake
checks what a CA checks about requests (JWS signature, account key or kid, one-time nonce, the
`url` header), keeps accounts, orders, authorizations and certificates in memory, and records
every newOrder payload. It does not contact anybody to validate: an answered challenge is valid,
unless the identifier is listed in `reject`. renewalInfo answers the window set per certificate
(default: the last third of its lifetime); a revoked certificate's window is in the past.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import ssl
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import josepy as jose
from acme import jws as acme_jws
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certvault.acme_client import ari_cert_id
from tests.servers.tls_files import write_tls_files

ERROR = "urn:ietf:params:acme:error:"


class Problem(Exception):
    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeAcmeCA:
    def __init__(self, workdir: Path, validity: timedelta = timedelta(days=90), retry_after: int = 21600) -> None:
        self.workdir = workdir
        self.validity = validity
        self.retry_after = retry_after  # seconds, sent with every renewalInfo answer
        self.windows: dict[str, tuple[datetime, datetime]] = {}  # ARI certID -> suggested window
        self.explanation_url: str | None = None
        self.reject: dict[str, str] = {}  # identifier -> detail of the validation error
        self.new_orders: list[dict[str, Any]] = []  # every newOrder payload, in order
        self.revoked: dict[int, int] = {}  # serial -> reason
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._nonces: set[str] = set()
        self._accounts: dict[str, dict[str, Any]] = {}  # account URL -> {"jwk", "body", "orders"}
        self._orders: dict[str, dict[str, Any]] = {}
        self._authzs: dict[str, dict[str, Any]] = {}
        self._challenges: dict[str, str] = {}  # challenge URL -> authorization URL
        self._certs: dict[str, str] = {}  # certificate URL -> PEM chain
        self._issued: dict[str, x509.Certificate] = {}  # ARI certID -> leaf
        self._issuer_key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC) - timedelta(minutes=5)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake ACME issuing CA")])
        self._issuer = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                        .public_key(self._issuer_key.public_key()).serial_number(x509.random_serial_number())
                        .not_valid_before(now).not_valid_after(now + timedelta(days=3650))
                        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                        .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._issuer_key.public_key()),
                                       critical=False)
                        .sign(self._issuer_key, hashes.SHA256()))
        self._server: ThreadingHTTPServer | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def directory_url(self) -> str:
        return f"{self.base}/dir"

    @property
    def tls_ca(self) -> Path:
        return self.workdir / "tls" / "ca.pem"

    def start(self) -> FakeAcmeCA:
        _ca, cert, key = write_tls_files(self.workdir / "tls")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def cert_id(self, leaf_pem: str) -> str:
        return ari_cert_id(x509.load_pem_x509_certificate(leaf_pem.encode()))

    # ---- directory, nonces, renewal information --------------------------------------------------
    def directory(self) -> dict[str, Any]:
        return {"newNonce": f"{self.base}/nonce", "newAccount": f"{self.base}/new-account",
                "newOrder": f"{self.base}/new-order", "revokeCert": f"{self.base}/revoke",
                "renewalInfo": f"{self.base}/renewal-info",
                "meta": {"termsOfService": f"{self.base}/terms", "website": self.base}}

    def nonce(self) -> str:
        value = _b64(secrets.token_bytes(16))
        with self._lock:
            self._nonces.add(value)
        return value

    def renewal_info(self, cert_id: str) -> dict[str, Any]:
        leaf = self._issued.get(cert_id)
        if leaf is None:
            raise Problem(404, "malformed", f"no certificate {cert_id}")
        start, end = self.windows.get(cert_id) or self._default_window(leaf)
        body: dict[str, Any] = {"suggestedWindow": {"start": _time(start), "end": _time(end)}}
        if self.explanation_url:
            body["explanationURL"] = self.explanation_url
        return body

    def _default_window(self, leaf: x509.Certificate) -> tuple[datetime, datetime]:
        if leaf.serial_number in self.revoked:
            now = datetime.now(UTC)
            return now - timedelta(days=1), now - timedelta(hours=1)
        lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
        start = leaf.not_valid_before_utc + lifetime * 2 / 3
        return start, start + lifetime / 9

    # ---- signed requests ---------------------------------------------------------------------------
    def verify(self, url: str, raw: bytes) -> tuple[dict[str, Any] | None, str | None, jose.JWK]:
        """(payload or None for POST-as-GET, account URL or None, the signing key) of a valid JWS."""
        try:
            jws = acme_jws.JWS.json_loads(raw)
        except (jose.DeserializationError, ValueError) as exc:
            raise Problem(400, "malformed", f"not a JWS: {exc}") from None
        header = jws.signature.combined
        nonce = _b64(header.nonce or b"")
        with self._lock:
            if nonce not in self._nonces:
                raise Problem(400, "badNonce", "the nonce is unknown or was used")
            self._nonces.discard(nonce)
        if header.url != url:
            raise Problem(401, "unauthorized", f"the JWS url {header.url} is not {url}")
        account_url = header.kid
        if account_url:
            account = self._accounts.get(account_url)
            if account is None:
                raise Problem(400, "accountDoesNotExist", "no account with this kid")
            key = account["jwk"]
        elif header.jwk is not None:
            key = header.jwk
        else:
            raise Problem(400, "malformed", "neither kid nor jwk in the protected header")
        if not jws.verify(key):
            raise Problem(401, "unauthorized", "the JWS signature does not verify")
        payload = json.loads(jws.payload) if jws.payload else None
        return payload, account_url, key

    def account_for_key(self, key: jose.JWK) -> str | None:
        return next((url for url, acct in self._accounts.items() if acct["jwk"] == key), None)

    # ---- resources ---------------------------------------------------------------------------------
    def new_order(self, account_url: str, payload: dict[str, Any]) -> str:
        self.new_orders.append(payload)
        order_url = f"{self.base}/order/{next(self._ids)}"
        authzs = [self._new_authz(ident) for ident in payload["identifiers"]]
        self._orders[order_url] = {"status": "pending", "identifiers": payload["identifiers"],
                                   "authorizations": authzs, "finalize": f"{order_url}/finalize",
                                   "expires": _time(datetime.now(UTC) + timedelta(days=7))}
        self._accounts[account_url]["orders"].append(order_url)
        return order_url

    def _new_authz(self, ident: dict[str, str]) -> str:
        url = f"{self.base}/authz/{next(self._ids)}"
        value = ident["value"].removeprefix("*.")
        challenges = []
        for kind in ("http-01", "dns-01"):
            chall_url = f"{self.base}/chall/{next(self._ids)}"
            self._challenges[chall_url] = url
            challenges.append({"type": kind, "url": chall_url, "token": _b64(secrets.token_bytes(32)),
                               "status": "pending"})
        self._authzs[url] = {"identifier": {"type": ident["type"], "value": value}, "status": "pending",
                             "wildcard": ident["value"].startswith("*."), "challenges": challenges,
                             "expires": _time(datetime.now(UTC) + timedelta(days=7))}
        return url

    def answer(self, chall_url: str) -> dict[str, Any]:
        authz = self._authzs[self._challenges[chall_url]]
        chall = next(c for c in authz["challenges"] if c["url"] == chall_url)
        detail = self.reject.get(authz["identifier"]["value"])
        if detail:
            chall["status"], authz["status"] = "invalid", "invalid"
            chall["error"] = {"type": ERROR + "unauthorized", "detail": detail, "status": 403}
        else:
            chall["status"], authz["status"] = "valid", "valid"
        return chall

    def order_view(self, order_url: str) -> dict[str, Any]:
        order = self._orders[order_url]
        statuses = {self._authzs[u]["status"] for u in order["authorizations"]}
        if order["status"] == "pending" and statuses == {"valid"}:
            order["status"] = "ready"
        elif order["status"] == "pending" and "invalid" in statuses:
            order["status"] = "invalid"
        return order

    def finalize(self, order_url: str, payload: dict[str, Any]) -> dict[str, Any]:
        order = self.order_view(order_url)
        if order["status"] != "ready":
            raise Problem(403, "orderNotReady", f"the order is {order['status']}")
        der = base64.urlsafe_b64decode(payload["csr"] + "=" * (-len(payload["csr"]) % 4))
        csr = x509.load_der_x509_csr(der)
        now = datetime.now(UTC) - timedelta(seconds=1)
        leaf = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(self._issuer.subject)
                .public_key(csr.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + self.validity)
                .add_extension(csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value,
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._issuer_key.public_key()),
                               critical=False)
                .sign(self._issuer_key, hashes.SHA256()))
        cert_url = f"{self.base}/cert/{next(self._ids)}"
        pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, self._issuer)).decode()
        self._certs[cert_url] = pem
        self._issued[ari_cert_id(leaf)] = leaf
        order["status"], order["certificate"] = "valid", cert_url
        return order

    def revoke(self, payload: dict[str, Any]) -> None:
        der = base64.urlsafe_b64decode(payload["certificate"] + "=" * (-len(payload["certificate"]) % 4))
        leaf = x509.load_der_x509_certificate(der)
        if leaf.serial_number in self.revoked:
            raise Problem(400, "alreadyRevoked", "the certificate is already revoked")
        self.revoked[leaf.serial_number] = int(payload.get("reason", 0))


def _handler(ca: FakeAcmeCA) -> type[BaseHTTPRequestHandler]:
    return type("FakeAcmeHandler", (_Handler,), {"ca": ca})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ca: FakeAcmeCA

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        data = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Replay-Nonce", self.ca.nonce())
        self.send_header("Cache-Control", "no-store")
        if data:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _problem(self, problem: Problem) -> None:
        self._send(problem.status, {"type": ERROR + problem.kind, "detail": problem.detail,
                                    "status": problem.status}, content_type="application/problem+json")

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._send(200)

    def do_GET(self) -> None:  # noqa: N802
        try:
            if self.path == "/dir":
                self._send(200, self.ca.directory())
            elif self.path == "/nonce":
                self._send(204)
            elif self.path.startswith("/renewal-info/"):
                body = self.ca.renewal_info(self.path.rsplit("/", 1)[1])
                self._send(200, body, {"Retry-After": str(self.ca.retry_after)})
            else:
                raise Problem(404, "malformed", f"nothing at {self.path}")
        except Problem as problem:
            self._problem(problem)

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        url = self.ca.base + self.path
        try:
            payload, account_url, key = self.ca.verify(url, raw)
            with self.ca._lock:  # one change of state at a time
                if self.path == "/new-account":
                    self._new_account(payload or {}, key)
                elif self.path == "/revoke":
                    self._revoke(payload or {}, account_url, key)
                elif account_url is None:
                    raise Problem(400, "malformed", "this request needs the account's kid")
                else:
                    self._with_account(url, payload or {}, account_url)
        except Problem as problem:
            self._problem(problem)

    def _with_account(self, url: str, payload: dict[str, Any], account_url: str) -> None:
        ca, path = self.ca, self.path
        if path.startswith("/acct/"):
            self._account(url, payload)
        elif path == "/new-order":
            order_url = ca.new_order(account_url, payload)
            self._send(201, ca.order_view(order_url), {"Location": order_url})
        elif path.startswith("/authz/"):
            self._send(200, ca._authzs[url])
        elif path.startswith("/chall/"):
            self._send(200, ca.answer(url), {"Link": f'<{ca._challenges[url]}>;rel="up"'})
        elif path.startswith("/order/") and path.endswith("/finalize"):
            self._send(200, ca.finalize(url.removesuffix("/finalize"), payload),
                       {"Location": url.removesuffix("/finalize")})
        elif path.startswith("/order/"):
            self._send(200, ca.order_view(url))
        elif path.startswith("/cert/"):
            self._send(200, ca._certs[url], content_type="application/pem-certificate-chain")
        else:
            raise Problem(404, "malformed", f"nothing at {path}")

    def _revoke(self, payload: dict[str, Any], account_url: str | None, key: jose.JWK) -> None:
        if account_url is None and self.ca.account_for_key(key) is not None:
            raise Problem(400, "malformed", "sign with the certificate key or use the kid")
        self.ca.revoke(payload)
        self._send(200)

    def _new_account(self, payload: dict[str, Any], key: jose.JWK) -> None:
        ca = self.ca
        existing = ca.account_for_key(key)
        if existing is not None:
            self._send(200, ca._accounts[existing]["body"], {"Location": existing})
            return
        if payload.get("onlyReturnExisting"):
            raise Problem(400, "accountDoesNotExist", "no account for this key")
        if not payload.get("termsOfServiceAgreed"):
            raise Problem(400, "malformed", "the terms of service must be agreed to")
        account_url = f"{ca.base}/acct/{next(ca._ids)}"
        body = {"status": "valid", "contact": payload.get("contact", []), "orders": f"{account_url}/orders"}
        ca._accounts[account_url] = {"jwk": key, "body": body, "orders": []}
        self._send(201, body, {"Location": account_url})

    def _account(self, url: str, payload: dict[str, Any]) -> None:
        if url.endswith("/orders"):
            self._send(200, {"orders": self.ca._accounts[url.removesuffix("/orders")]["orders"]})
            return
        body = self.ca._accounts[url]["body"]
        body.update({k: v for k, v in payload.items() if k in ("contact", "status")})
        self._send(200, body)
