"""Mutual TLS against a real HTTPS server that requires a client certificate: the identity from
PKCS#12, JKS (made by pyjks and by the JDK's keytool) and the internal CA's PEM; and the key
never in a file."""

from __future__ import annotations

import asyncio
import builtins
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.crypto import jks_codec, pkcs12
from certvault.outbound import ClientIdentity, ClientOptions, OutboundClients, OutboundError
from tests.outbound.pki import Issued, key_pem, pem
from tests.outbound.servers import MutualTLSServer
from tests.servers.process import which

Options = Callable[..., ClientOptions]


def _whoami(clients: OutboundClients, options: ClientOptions, identity: ClientIdentity | None) -> str:
    with clients.client_for("acct", options, identity) as client:
        return client.get("/whoami").text


def test_pkcs12_keystore_identity_is_accepted(clients: OutboundClients, opts: Options, client_cert: Issued) -> None:
    data = pkcs12.export("agent-01", client_cert.key, client_cert.cert, [], "p12-pass")
    assert _whoami(clients, opts(), ClientIdentity.from_keystore(data, "p12-pass")) == "agent-01"


def test_jks_keystore_made_by_pyjks_is_accepted(clients: OutboundClients, opts: Options, client_cert: Issued) -> None:
    data = jks_codec.export("agent", client_cert.key, client_cert.cert, [], "jks-pass")
    assert _whoami(clients, opts(), ClientIdentity.from_keystore(data, "jks-pass")) == "agent-01"


def test_jks_keystore_made_by_keytool_is_accepted(clients: OutboundClients, opts: Options, client_cert: Issued,
                                                  tmp_path: Path) -> None:
    p12, jks = tmp_path / "agent.p12", tmp_path / "agent.jks"
    p12.write_bytes(pkcs12.export("agent-01", client_cert.key, client_cert.cert, [], "store-pass"))
    subprocess.run([which("keytool"), "-importkeystore", "-noprompt", "-srckeystore", str(p12), "-srcstoretype",
                    "PKCS12", "-srcstorepass", "store-pass", "-destkeystore", str(jks), "-deststoretype", "JKS",
                    "-deststorepass", "store-pass"], check=True, capture_output=True)
    assert jks.read_bytes()[:4] == b"\xfe\xed\xfe\xed"
    identity = ClientIdentity.from_keystore(jks.read_bytes(), "store-pass")
    assert _whoami(clients, opts(), identity) == "agent-01"


def test_internal_ca_client_certificate_with_its_chain_is_accepted(
        sqlite_app: App, server: MutualTLSServer, clients: OutboundClients, opts: Options) -> None:
    with sqlite_app.transaction() as svc:
        bundle = svc.pki.issue_client(Actor.system(), "deploy-agent", days=30)
        server.trust_client_ca(svc.pki.root_pem())  # the root only: the client must send the intermediate
    identity = ClientIdentity.from_pem(bundle.cert_pem + bundle.chain_pem, bundle.key_pem())
    assert len(identity.chain) == 1  # the issuing intermediate, not the self-signed root
    assert _whoami(clients, opts(), identity) == "deploy-agent"


def test_encrypted_pem_key_is_read_with_its_password(clients: OutboundClients, opts: Options,
                                                     client_cert: Issued) -> None:
    from certvault.crypto import keys

    identity = ClientIdentity.from_pem(pem(client_cert.cert), keys.to_pem(client_cert.key, b"pem-pass"), "pem-pass")
    assert _whoami(clients, opts(), identity) == "agent-01"


def test_server_refuses_a_client_without_certificate(clients: OutboundClients, opts: Options,
                                                     server: MutualTLSServer) -> None:
    # The server's alert says why; a reset can overtake it when the request was already on its way.
    refused = (r"^GET to 127\.0\.0\.1:\d+ failed: (tlsv13 alert certificate required \(the server wants a client "
               r"certificate\)|.*reset by peer(?: \(\d attempts\))?)$")
    with pytest.raises(OutboundError, match=refused):
        _whoami(clients, opts(retries=2), None)


def test_async_client_does_mutual_tls(clients: OutboundClients, opts: Options, identity: ClientIdentity) -> None:
    async def call() -> str:
        async with clients.async_client_for("acct", opts(), identity) as client:
            return (await client.get("/whoami")).text

    assert asyncio.run(call()) == "agent-01"


def _memfds() -> list[str]:
    links = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return [link for link in links if "certvault-client-identity" in link]


def test_private_key_never_reaches_a_file(clients: OutboundClients, opts: Options, client_cert: Issued,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    written: list[object] = []
    real_open, real_os_open = builtins.open, os.open

    def watch_open(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if any(flag in mode for flag in "wax+"):
            written.append(file)
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    def watch_os_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            written.append(path)
        return real_os_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    identity = ClientIdentity.from_keystore(pkcs12.export("a", client_cert.key, client_cert.cert, [], "pw"), "pw")
    fds_before = sorted(os.listdir("/proc/self/fd"))
    with monkeypatch.context() as watching:
        watching.setattr(builtins, "open", watch_open)
        watching.setattr(os, "open", watch_os_open)
        client = clients.client_for("acct", opts(), identity)
    assert sorted(os.listdir("/proc/self/fd")) == fds_before  # the memory file is closed again
    with client:
        assert client.get("/whoami").text == "agent-01"
    assert written == [] and list(scratch.iterdir()) == [] and _memfds() == []
    assert key_pem(client_cert.key) not in repr(identity).encode()
