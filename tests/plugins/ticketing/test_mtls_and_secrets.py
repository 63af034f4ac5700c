"""Mutual TLS refused without a client certificate or with one from a CA the help desk does not trust (one
line that says so), a server certificate that is not the trusted one, and no secret in any error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certvault.errors import CertvaultError, IntegrationError
from certvault.outbound import ClientIdentity
from certvault.plugins.registry import default_registry
from tests.outbound.pki import make_pki, pem
from tests.plugins.ticketing.conftest import KEYSTORE_PASSWORD, AccountClients, ClientPki
from tests.plugins.ticketing.desks import Desk
from tests.plugins.ticketing.test_helpdesks import FAKES, draft
from tests.servers.process import wait_until
from tests.servers.test_ca import LoopbackTLS


@pytest.fixture(params=sorted(FAKES))
def desk(request: pytest.FixtureRequest, tls: LoopbackTLS, client_pki: ClientPki) -> Iterator[Desk]:
    with FAKES[request.param](tls, client_ca=client_pki.ca_file) as fake:
        yield Desk(request.param, fake)


def _one_line(exc: CertvaultError) -> str:
    assert "\n" not in exc.message and len(exc.message) < 400, exc.message
    return exc.message


def test_no_client_certificate_is_refused_in_one_line(desk: Desk, tls: LoopbackTLS) -> None:
    plugin = desk.plugin(AccountClients(tls, None))
    with pytest.raises(IntegrationError) as refused:
        plugin.check()
    message = _one_line(refused.value)
    assert desk.fake.title in message and "client certificate" in message
    # the fake counts the refused handshake in its own thread, which may finish after the client heard "no"
    wait_until(lambda: desk.fake.handshake_failures >= 1, 10, "the fake to count the refused handshake")
    assert desk.fake.calls.total() == 0


def test_a_client_certificate_from_an_untrusted_ca_is_refused(desk: Desk, tls: LoopbackTLS,
                                                              client_pki: ClientPki) -> None:
    wrong = ClientIdentity(client_pki.wrong.key, client_pki.wrong.cert)
    plugin = desk.plugin(AccountClients(tls, wrong))
    with pytest.raises(IntegrationError) as refused:
        plugin.find("expiry:01AB")
    message = _one_line(refused.value)
    assert desk.fake.title in message and "client certificate" in message
    assert desk.fake.calls.total() == 0


def test_a_server_that_is_not_the_trusted_one_is_refused(desk: Desk, tls: LoopbackTLS,
                                                         identity: ClientIdentity) -> None:
    other_ca = pem(make_pki("not the help desk's CA").ca.cert).decode()
    plugin = desk.plugin(AccountClients(tls, identity, ca_bundle=other_ca))
    with pytest.raises(IntegrationError) as refused:
        plugin.check()
    assert "certificate verify failed" in _one_line(refused.value) and desk.fake.calls.total() == 0


def test_check_answers_through_mutual_tls(desk: Desk, clients: AccountClients) -> None:
    result = desk.plugin(clients).check()
    assert desk.fake.title.split()[0] in result and "\n" not in result


def test_no_secret_in_any_error(desk: Desk, clients: AccountClients, tls: LoopbackTLS) -> None:
    secrets = [*desk.secrets().values(), KEYSTORE_PASSWORD]
    messages: list[str] = []
    wrong = {field: f"wrong-{value}" for field, value in desk.secrets().items()}
    bad = default_registry().create("ticketing", desk.name, desk.options(), lambda f: wrong.get(f, ""), clients)
    with pytest.raises(IntegrationError) as refused:
        bad.check()
    messages.append(refused.value.message)
    assert "HTTP 401" in refused.value.message and "check the credentials" in refused.value.message
    secrets += list(wrong.values())

    plugin = desk.plugin(clients)
    for kind, call in (("503", lambda: plugin.find("expiry:01AB")), ("500", lambda: plugin.create(draft())),
                       ("429", lambda: plugin.check())):
        desk.fake.fail_next(kind, 3 if kind == "503" else 1, retry_after=600 if kind == "429" else None)
        with pytest.raises(IntegrationError) as failed:
            call()
        messages.append(failed.value.message)
        messages.append(repr(failed.value.details))
    assert "600" in messages[-2]  # a Retry-After beyond max_retry_wait ends the retries at once, and says so
    assert failed.value.details.get("retry_after") == 600
    with pytest.raises(IntegrationError) as no_cert:
        desk.plugin(AccountClients(tls, None)).check()
    messages.append(no_cert.value.message)
    for message in messages:
        _one_line(IntegrationError(message[:399]))
        assert not any(secret in message for secret in secrets), message
