"""Each help desk added as an administrator adds it (IntegrationService: options and secrets into the vault;
the tickets service: a PKCS#12 client keystore and the trusted server certificate), then built from the
stored account and used over mutual TLS: test connection, create, find."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from tests.plugins.ticketing.conftest import KEYSTORE_PASSWORD, ClientPki
from tests.plugins.ticketing.desks import Desk
from tests.plugins.ticketing.test_helpdesks import FAKES, draft
from tests.servers.test_ca import LoopbackTLS

ADMIN = Actor.system("test-admin", via="cli")


@pytest.fixture(params=sorted(FAKES))
def desk(request: pytest.FixtureRequest, tls: LoopbackTLS, client_pki: ClientPki) -> Iterator[Desk]:
    with FAKES[request.param](tls, client_ca=client_pki.ca_file) as fake:
        yield Desk(request.param, fake)


def test_a_stored_account_reaches_its_help_desk_over_mutual_tls(sqlite_app: App, desk: Desk, tls: LoopbackTLS,
                                                                client_pki: ClientPki) -> None:
    with sqlite_app.transaction() as svc:
        account = svc.integrations.add(ADMIN, "ticketing", desk.name, "desk", desk.options(), desk.secrets())
        svc.tickets.configure(ADMIN, account.id, keystore=client_pki.keystore(),
                              keystore_password=KEYSTORE_PASSWORD, trusted_cert=tls.ca_file.read_bytes())
    with sqlite_app.transaction() as svc:
        assert desk.fake.title.split()[0] in svc.tickets.check(ADMIN, "desk")
        plugin = svc.tickets.helpdesk(svc.tickets.account("desk"))
    with plugin:
        created = plugin.create(draft())
        assert plugin.find("expiry:01AB") == created
    assert desk.fake.handshake_failures == 0
    stored = repr(account.options) + repr(account.secret_refs)
    assert not any(secret in stored for secret in desk.secrets().values())
