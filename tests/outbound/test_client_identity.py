"""Client identities that cannot work fail with one line naming the keystore and the problem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption
from cryptography.hazmat.primitives.serialization import pkcs12 as p12

from certvault.crypto import jks_codec, pkcs12
from certvault.errors import InvalidInput
from certvault.outbound import (
    ClientCertificateExpired,
    ClientIdentity,
    ClientIdentityError,
    ClientOptions,
    OutboundClients,
)
from tests.outbound.pki import Issued, Pki, key_pem, pem

Options = Callable[..., ClientOptions]


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message and isinstance(exc.value, InvalidInput)
    return message


@pytest.mark.parametrize("kind", ["pkcs12", "jks"])
def test_wrong_keystore_password(kind: str, client_cert: Issued) -> None:
    export = pkcs12.export if kind == "pkcs12" else jks_codec.export
    data = export("agent", client_cert.key, client_cert.cert, [], "right-password")
    with pytest.raises(ClientIdentityError) as caught:
        ClientIdentity.from_keystore(data, "wrong-password", label="helpdesk keystore")
    assert _one_line(caught).startswith("helpdesk keystore: wrong password for the ")
    assert "right-password" not in str(caught.value) and "wrong-password" not in str(caught.value)


def test_pkcs12_keystore_without_a_private_key(client_cert: Issued) -> None:
    data = p12.serialize_key_and_certificates(b"only-cert", None, None, [client_cert.cert],
                                              BestAvailableEncryption(b"pw"))
    with pytest.raises(ClientIdentityError) as caught:
        ClientIdentity.from_keystore(data, "pw")
    assert _one_line(caught) == ("client keystore: holds no private key (only 1 certificate(s)); "
                                 "export it with its key")


def test_jks_truststore_without_a_private_key(client_cert: Issued) -> None:
    data = jks_codec.export("trusted", None, client_cert.cert, [], "pw")
    with pytest.raises(ClientIdentityError, match="holds no private key"):
        ClientIdentity.from_keystore(data, "pw")


def test_key_that_does_not_match_the_certificate(pki: Pki, client_cert: Issued) -> None:
    stranger = pki.issue("someone-else")
    with pytest.raises(ClientIdentityError) as caught:
        ClientIdentity.from_pem(pem(client_cert.cert, pki.ca.cert), key_pem(stranger.key))
    assert _one_line(caught) == "client certificate: the private key matches none of its 2 certificate(s)"
    jks = jks_codec.export("agent", stranger.key, client_cert.cert, [], "pw")  # pyjks does not check the pair
    with pytest.raises(ClientIdentityError, match="matches none of its 1 certificate"):
        ClientIdentity.from_keystore(jks, "pw")


def test_keystore_with_two_keys_is_refused(pki: Pki, client_cert: Issued) -> None:
    other = pki.issue("agent-02")
    both = pem(client_cert.cert, other.cert) + key_pem(client_cert.key) + key_pem(other.key)
    with pytest.raises(ClientIdentityError, match="holds 2 private keys; keep only the client's"):
        ClientIdentity.from_pem(both, b"")


@pytest.mark.parametrize(("start", "end", "words"), [
    (timedelta(days=-30), timedelta(days=-1), "expired on"),
    (timedelta(days=1), timedelta(days=30), "is not valid before"),
])
def test_client_certificate_outside_its_validity(start: timedelta, end: timedelta, words: str, pki: Pki,
                                                 opts: Options, clients: OutboundClients) -> None:
    stale = pki.issue("old-agent", start=start, end=end)
    identity = ClientIdentity.from_keystore(pkcs12.export("old", stale.key, stale.cert, [], "pw"), "pw")
    with pytest.raises(ClientCertificateExpired) as caught:
        clients.client_for("acct", opts(), identity)
    assert _one_line(caught).startswith(f"client keystore: the client certificate CN=old-agent {words} 20")
    assert caught.value.message.endswith(" UTC")


def test_identity_keeps_its_chain_in_order_and_hides_its_key(pki: Pki) -> None:
    leaf = pki.issue("agent-03")
    data = pkcs12.export("agent", leaf.key, leaf.cert, [pki.ca.cert], "pw")
    identity = ClientIdentity.from_keystore(data, "pw")
    assert identity.certificate == leaf.cert and identity.chain == ()  # the self-signed root is not sent
    assert identity.subject == "CN=agent-03"
    assert repr(identity).startswith("ClientIdentity('CN=agent-03', sha256:")
    assert identity.fingerprint == leaf.cert.fingerprint(hashes.SHA256()).hex()


def test_identity_built_directly_checks_its_key(pki: Pki, client_cert: Issued) -> None:
    with pytest.raises(ClientIdentityError, match="^client certificate: the private key does not match the "
                                                  "certificate CN=agent-01$"):
        ClientIdentity(pki.issue("x").key, client_cert.cert)
