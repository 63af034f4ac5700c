"""The pure ACME client against a real Pebble: accounts, EAB, orders, nonces, revocation, problems."""

from __future__ import annotations

import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certvault.acme_client import (
    AcmeProblem,
    AcmeUnavailable,
    Identifier,
    describe_problem,
    revoke_with_certificate_key,
)
from certvault.errors import InvalidInput
from tests.acme_client.helpers import issue, new_client
from tests.servers import pebble as servers


def _name(label: str = "n") -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}.example.test"


def test_register_update_recover_and_deactivate(pebble: servers.Pebble) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = new_client(pebble, key)
    with pytest.raises(InvalidInput, match="terms of service"):
        client.register("ops@example.test", agree_tos=False)
    account = client.register("ops@example.test", agree_tos=True)
    assert account.status == "valid" and account.email == "ops@example.test" and account.url.startswith("https://")
    assert client.update_contact("security@example.test").email == "security@example.test"
    # A client that lost the URL finds the account again from the key alone.
    recovered = new_client(pebble, key).find_existing()
    assert recovered.url == account.url and recovered.email == "security@example.test"
    # Registering the same key again returns the same account instead of failing.
    assert new_client(pebble, key).register("ops@example.test", agree_tos=True).url == account.url
    assert client.deactivate().status == "deactivated"
    with pytest.raises(AcmeProblem, match="unauthorized|deactivated"):
        client.new_order([Identifier("dns", _name())])


def test_recovering_an_unknown_key_names_the_problem(pebble: servers.Pebble) -> None:
    with pytest.raises(AcmeProblem) as err:
        new_client(pebble).find_existing()
    assert err.value.type == "accountDoesNotExist"
    assert "does not know this account" in err.value.message


def test_external_account_binding_is_required_and_works(challtestsrv: servers.ChallTestSrv) -> None:
    kid, hmac_key = servers.new_eab_key()
    eab_ca = servers.pebble("pebble-eab", eab_keys={kid: hmac_key})
    assert new_client(eab_ca).directory_info().external_account_required
    with pytest.raises(InvalidInput, match="External Account Binding"):
        new_client(eab_ca).register("ops@example.test", agree_tos=True)
    with pytest.raises(AcmeProblem, match="unauthorized|not valid|signature|HMAC|verify"):
        new_client(eab_ca).register("ops@example.test", True, eab_kid=kid, eab_hmac=servers.new_eab_key()[1])
    account = new_client(eab_ca).register("ops@example.test", True, eab_kid=kid, eab_hmac=hmac_key)
    assert account.status == "valid"


def test_issue_with_dns01_then_revoke_by_account_and_by_certificate_key(
        pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv) -> None:
    client = new_client(pebble)
    client.register(None, agree_tos=True)
    names = [_name("www"), _name("api")]
    chain, key = issue(client, challtestsrv, names)
    leaf = chain[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(sans) == sorted(names) and len(chain) == 2
    assert pebble.cert_status(leaf.serial_number)["Status"] == "Valid"
    client.revoke(leaf, 4)
    status = pebble.cert_status(leaf.serial_number)
    assert status["Status"] == "Revoked" and status["Reason"] == 4
    with pytest.raises(AcmeProblem, match="already revoked"):
        client.revoke(leaf, 4)
    chain2, key2 = issue(client, challtestsrv, [_name()])
    revoke_with_certificate_key(client.config, chain2[0], key2, 1)
    assert pebble.cert_status(chain2[0].serial_number)["Reason"] == 1


def test_badnonce_storm_is_absorbed(challtestsrv: servers.ChallTestSrv) -> None:
    """30% of nonces rejected: 20 certificates, none failing (the library alone retries once)."""
    noisy = servers.pebble("pebble-nonce30", env={"PEBBLE_WFE_NONCEREJECT": "30"})
    client = new_client(noisy)
    client.register(None, agree_tos=True)
    for _ in range(20):
        chain, _key = issue(client, challtestsrv, [_name()])
        assert chain[0].not_valid_after_utc > chain[0].not_valid_before_utc


def test_unreachable_ca_is_reported_plainly(tmp_path: object) -> None:
    from certvault.acme_client import AcmeClient, ClientConfig
    from tests.servers.process import free_port

    client = AcmeClient(ClientConfig(f"https://127.0.0.1:{free_port()}/dir", timeout=2),
                        ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(AcmeUnavailable, match="could not be reached"):
        client.register(None, agree_tos=True)


def test_problem_documents_read_as_sentences() -> None:
    text = describe_problem({
        "type": "urn:ietf:params:acme:error:compound", "detail": "2 errors",
        "subproblems": [{"type": "urn:ietf:params:acme:error:dns", "detail": "NXDOMAIN",
                         "identifier": {"type": "dns", "value": "a.example"}}]})
    assert text == ("several problems occurred: 2 errors (a.example: the CA could not look up the DNS records "
                    "needed for validation: NXDOMAIN)")
