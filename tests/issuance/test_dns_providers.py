"""dns-01 end to end through every DNS provider whose server runs here: Pebble asks a real BIND9, and
BIND holds what the provider wrote (moto's Route 53 and the fake HTTPS APIs write through to it over
RFC 2136; the hook's scripts run nsupdate; acme-dns's fake writes its own zone, reached by a CNAME).

Per provider: a wildcard + apex order is issued and the zone is back as it was; a failed order still
takes its records down. Across providers: the account is chosen per name (two accounts, one order),
a CNAME-delegated name validates, a pending order is assigned an account later (assign-dns).
"""

from __future__ import annotations

import importlib.util
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from certvault.auth.rbac import Actor, Role
from certvault.container import App
from certvault.issuance.models import AcmeOrder
from certvault.issuance.requests import RequestSpec
from tests.issuance.conftest import ADMIN, run_orders
from tests.servers import pebble as servers
from tests.servers.acme_dns_fake import AcmeDnsFake
from tests.servers.bind9 import Bind9
from tests.servers.moto_server import ACCESS_KEY, SECRET_KEY, MotoServer
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

ZONES = ("r53.test", "hook.test", "acmedns.test", "deleg.test", "cf.test", "gd.test", "az.test", "cns.test")


@dataclass
class Stack:
    named: Bind9
    ca: servers.Pebble
    tls: LoopbackTLS
    moto: MotoServer
    acmedns: AcmeDnsFake
    workdir: Path
    fakes: dict[str, Any] = field(default_factory=dict)

    def zone_state(self, zone: str) -> list[str]:
        """Every record of the zone (AXFR is refused; the names the tests touch are asked one by one)."""
        return sorted(self.named.txt(zone))


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="cv-dns14-"))
    named = servers.shared("bind9-dns-providers", lambda: Bind9(workdir / "bind", zones=ZONES,
                                                               record_types="TXT CNAME", chase_cnames=True).start())
    ca = servers.shared("pebble-dns-providers", lambda: servers.Pebble(workdir / "pebble",
                                                                       dns_server=named.address).start())
    tls = make_loopback_tls(workdir / "tls")
    moto = MotoServer(workdir / "moto", write_through=(named.address, named.key_name, named.secret, ZONES)).start()
    moto.create_zone("r53.test")
    acmedns = AcmeDnsFake(tls, zone="acmedns.test", write_through=named).start()
    built = Stack(named, ca, tls, moto, acmedns, workdir)
    yield built
    moto.stop()
    acmedns.stop()
    for fake, _options, _secrets in built.fakes.values():
        fake.stop()


def _app(app: App, stack: Stack) -> tuple[App, Any]:
    with app.transaction() as svc:
        for key, value in {"acme.resolvers": [stack.named.address],
                           "acme.dns_check_servers": [stack.named.address]}.items():
            svc.system.set(ADMIN, key, value)
        account = svc.issuance.accounts.register(ADMIN, stack.ca.directory_url, "dns@example.test", True,
                                                 ca_bundle_pem=stack.ca.tls_ca.read_text())
    return app, account


# ---- the providers: how to add an account whose records land in BIND ------------------------------

def _trust(stack: Stack) -> dict[str, Any]:
    return {"trust": "ca_bundle", "ca_bundle": stack.tls.ca_file.read_text(), "backoff": 0.05}


def _route53(app: App, stack: Stack) -> tuple[Any, str]:
    with app.transaction() as svc:
        account = svc.issuance.dns_accounts.add(
            ADMIN, "route53", f"aws-{uuid.uuid4().hex[:6]}",
            {"endpoint": stack.moto.endpoint, "access_key_id": ACCESS_KEY, "polling_interval": 0.2}, {
                "secret_access_key": SECRET_KEY})
    return account, "r53.test"


def _hook_scripts(stack: Stack) -> tuple[Path, Path]:
    """Two real scripts: nsupdate with the TSIG key, the name and value as their arguments."""
    named = stack.named
    key = stack.workdir / "nsupdate.key"
    key.write_text(f'key "{named.key_name}" {{ algorithm hmac-sha256; secret "{named.secret}"; }};\n')
    scripts = []
    for verb in ("add", "delete"):
        script = stack.workdir / f"hook-{verb}.sh"
        ttl = " 60" if verb == "add" else ""
        script.write_text("#!/bin/sh\nset -e\n"
                          f'printf \'server 127.0.0.1 {named.port}\\nupdate {verb} %s.{ttl} TXT "%s"\\nsend\\n\' '
                          f'"$1" "$2" | nsupdate -k {key}\n')
        script.chmod(0o755)
        scripts.append(script)
    return scripts[0], scripts[1]


def _hook(app: App, stack: Stack) -> tuple[Any, str]:
    present, cleanup = _hook_scripts(stack)
    with app.transaction() as svc:
        account = svc.issuance.dns_accounts.add(ADMIN, "hook", f"hook-{uuid.uuid4().hex[:6]}", {
            "present": str(present), "cleanup": str(cleanup), "timeout": 30, "zones": ["hook.test"]}, {})
    return account, "hook.test"


def _acme_dns(app: App, stack: Stack) -> tuple[Any, str]:
    """A new acme-dns registration; the names of the test's zone delegate to it with a CNAME."""
    with app.transaction() as svc:
        account = svc.issuance.dns_accounts.add(ADMIN, "acme-dns", f"acmedns-{uuid.uuid4().hex[:6]}",
                                                {"server": stack.acmedns.url, "propagation_timeout": 5}, {},
                                                register=True,
                                                connection=_trust(stack))
    return account, "deleg.test"


def _hosted(plugin: str, zone: str, make: Callable[[Stack], tuple[Any, dict[str, Any], dict[str, str]]]
            ) -> Callable[[App, Stack], tuple[Any, str]]:
    """Another engineer's fake HTTPS API (tests/servers/*_fake.py), writing through to BIND."""
    def add(app: App, stack: Stack) -> tuple[Any, str]:
        if plugin not in stack.fakes:
            fake, options, secrets = make(stack)
            fake.add_zone(zone)
            stack.fakes[plugin] = (fake.start(), options, secrets)
        fake, options, secrets = stack.fakes[plugin]
        with app.transaction() as svc:
            account = svc.issuance.dns_accounts.add(ADMIN, plugin, f"{plugin}-{uuid.uuid4().hex[:6]}",
                                                    {"endpoint": fake.url, **options}, secrets,
                                                    connection=_trust(stack))
        return account, zone
    return add


def _cloudflare(stack: Stack) -> tuple[Any, dict[str, Any], dict[str, str]]:
    from tests.servers.cloudflare_fake import CloudflareFake

    token = "cf-" + uuid.uuid4().hex
    return CloudflareFake(stack.tls, tokens={token: None}, write_through=stack.named), {}, {"api_token": token}


def _godaddy(stack: Stack) -> tuple[Any, dict[str, Any], dict[str, str]]:
    from tests.servers.godaddy_fake import GoDaddyFake

    key, secret = "gd-" + uuid.uuid4().hex[:12], uuid.uuid4().hex
    return GoDaddyFake(stack.tls, keys={key: secret}, write_through=stack.named), {}, {"api_key": key,
                                                                                       "api_secret": secret}


def _azure(stack: Stack) -> tuple[Any, dict[str, Any], dict[str, str]]:
    from tests.servers.azure_dns_fake import AzureDnsFake

    tenant, client, secret = str(uuid.uuid4()), str(uuid.uuid4()), "az~" + uuid.uuid4().hex
    fake = AzureDnsFake(stack.tls, apps={(tenant, client): secret}, subscription=str(uuid.uuid4()),
                        resource_group="dns-rg", write_through=stack.named)
    return fake, {"authority_url": fake.authority_url, "subscription_id": fake.subscription, "tenant_id": tenant,
                  "client_id": client, "resource_group": "dns-rg"}, {"client_secret": secret}


def _cloudns(stack: Stack) -> tuple[Any, dict[str, Any], dict[str, str]]:
    from tests.servers.cloudns_fake import ClouDNSFake

    auth_id, password = "4" + str(uuid.uuid4().int)[:5], "cd-" + uuid.uuid4().hex
    return (ClouDNSFake(stack.tls, auth_ids={auth_id: password}, sync_polls=2, write_through=stack.named),
            {"auth_id": auth_id, "polling_interval": 0.05}, {"auth_password": password})


PROVIDERS: dict[str, Callable[[App, Stack], tuple[Any, str]]] = {
    "route53": _route53, "hook": _hook, "acme-dns": _acme_dns,
}
# the hosted providers whose fakes exist in this tree (another engineer adds them alongside)
if importlib.util.find_spec("tests.servers.cloudflare_fake"):
    PROVIDERS["cloudflare"] = _hosted("cloudflare", "cf.test", _cloudflare)
if importlib.util.find_spec("tests.servers.godaddy_fake"):
    PROVIDERS["godaddy"] = _hosted("godaddy", "gd.test", _godaddy)
if importlib.util.find_spec("tests.servers.azure_dns_fake"):
    PROVIDERS["azure"] = _hosted("azure", "az.test", _azure)
if importlib.util.find_spec("tests.servers.cloudns_fake"):
    PROVIDERS["cloudns"] = _hosted("cloudns", "cns.test", _cloudns)


def _names(stack: Stack, account: Any, zone: str) -> tuple[str, str]:
    """A fresh apex in the account's zone (for acme-dns: delegated with a CNAME to its fulldomain)."""
    apex = f"e{uuid.uuid4().hex[:8]}.{zone}"
    if account.plugin == "acme-dns":
        stack.named.replace(f"_acme-challenge.{apex}", "CNAME", [account.options["fulldomain"] + "."])
    return apex, f"_acme-challenge.{apex}"


def _order(app: App, account_id: Any, names: list[str], dns_account_id: Any = None) -> AcmeOrder:
    with app.transaction() as svc:
        return svc.issuance.requests.request(ADMIN, RequestSpec(account_id, names, challenge="dns-01",
                                                                dns_account_id=dns_account_id))


def _finished(app: App, order_id: Any) -> tuple[AcmeOrder, list[Any]]:
    run_orders(app, timeout=180)
    with app.transaction() as svc:
        order = svc.issuance.requests.get(ADMIN, order_id)
        return order, svc.issuance.requests.authorizations(order)


def _sans(app: App, entry_id: Any) -> list[str]:
    with app.transaction() as svc:
        leaf = x509.load_der_x509_certificate(svc.certificates.get(ADMIN, entry_id).current.der)
    return sorted(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                  .get_values_for_type(x509.DNSName))


def _where_written(stack: Stack, account: Any, record: str) -> str:
    return account.options["fulldomain"] if account.plugin == "acme-dns" else record


# ---- per provider --------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_wildcard_and_apex_are_issued_and_the_zone_is_left_as_it_was(
        provider: str, sqlite_app: App, stack: Stack) -> None:
    app, acme = _app(sqlite_app, stack)
    dns, zone = PROVIDERS[provider](app, stack)
    apex, record = _names(stack, dns, zone)
    written = _where_written(stack, dns, record)
    before = stack.named.txt(written)
    order = _order(app, acme.id, [apex, f"*.{apex}"], dns.id)
    order, authzs = _finished(app, order.id)
    assert order.state == "stored", order.error_message
    assert _sans(app, order.certificate_entry_id) == sorted([apex, f"*.{apex}"])
    assert {a.dns_account_id for a in authzs} == {dns.id}
    assert {a.record_target for a in authzs} == {written}
    if provider != "acme-dns":  # acme-dns has no delete: its own zone keeps the last two values
        assert stack.named.txt(record) == before == []


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_failed_order_still_takes_its_records_down(provider: str, sqlite_app: App, stack: Stack) -> None:
    """One name validates, the other cannot (no such zone at the CA's DNS): the order fails with the CA's
    reason and the records the provider wrote are gone."""
    app, acme = _app(sqlite_app, stack)
    dns, zone = PROVIDERS[provider](app, stack)
    apex, record = _names(stack, dns, zone)
    # a name in no zone of the provider (nor BIND's): its publication fails after the apex's, or (acme-dns,
    # which writes its own zone whatever the name) it never becomes visible
    order = _order(app, acme.id, [apex, f"x{uuid.uuid4().hex[:6]}.nonexistent.test"], dns.id)
    order, authzs = _finished(app, order.id)
    assert order.state == "failed"
    assert order.error_message
    assert all(a.published_at is None for a in authzs)
    if provider != "acme-dns":
        assert stack.named.txt(record) == []


@pytest.mark.parametrize("provider", sorted(set(PROVIDERS) - {"acme-dns"}))  # acme-dns cannot delete
def test_an_order_failing_after_its_records_were_written_takes_them_down(
        provider: str, sqlite_app: App, stack: Stack) -> None:
    """The records are written, but the self-check asks a server that never sees them (challtestsrv), so
    the order fails before the CA is asked: the records written for it are removed again."""
    app, acme = _app(sqlite_app, stack)
    dns, zone = PROVIDERS[provider](app, stack)
    with app.transaction() as svc:
        svc.issuance.dns_accounts.update(ADMIN, dns.id, {"propagation_timeout": 2})
        svc.system.set(ADMIN, "acme.dns_check_servers", [servers.challtestsrv().dns])
    apex, record = _names(stack, dns, zone)
    order = _order(app, acme.id, [apex, f"*.{apex}"], dns.id)
    order, authzs = _finished(app, order.id)
    assert order.state == "failed" and "still not visible after 2 s" in (order.error_message or "")
    assert {a.record_target for a in authzs} == {record}  # both values were written there
    assert all(a.published_at is None for a in authzs)
    assert stack.named.txt(record) == []


# ---- across providers ----------------------------------------------------------------------------

def test_the_account_is_chosen_per_name_and_the_order_says_which(sqlite_app: App, stack: Stack) -> None:
    app, acme = _app(sqlite_app, stack)
    aws, aws_zone = _route53(app, stack)
    hook, hook_zone = _hook(app, stack)
    one, two = f"m{uuid.uuid4().hex[:8]}.{aws_zone}", f"m{uuid.uuid4().hex[:8]}.{hook_zone}"
    order = _order(app, acme.id, [one, f"*.{one}", two])  # no account given
    assert order.fulfilment == "dns" and order.dns_account_id is None
    order, authzs = _finished(app, order.id)
    assert order.state == "stored", order.error_message
    chosen = {a.identifier: a.dns_account_id for a in authzs}
    assert chosen == {one: aws.id, two: hook.id}
    from tests.conftest import api_client, create_login

    login = create_login(app, "operator")
    with api_client(app) as client:
        shown = client.get(f"/api/v1/acme/orders/{order.id}", headers=login.headers).json()
    assert {c["identifier"]: c["dns_account_id"] for c in shown["challenges"]} == {
        one: str(aws.id), f"*.{one}": str(aws.id), two: str(hook.id)}
    assert stack.named.txt(f"_acme-challenge.{one}") == [] and stack.named.txt(f"_acme-challenge.{two}") == []


def test_the_rfc2136_global_configuration_takes_names_no_listed_zone_holds(sqlite_app: App, stack: Stack) -> None:
    """One rfc2136 account without a zone: one key for every zone of the server, the zone found per name."""
    app, acme = _app(sqlite_app, stack)
    aws, aws_zone = _route53(app, stack)
    named = stack.named
    with app.transaction() as svc:
        bind = svc.issuance.dns_accounts.add(ADMIN, "rfc2136", "bind-global", {
            "server": named.address, "key_name": named.key_name}, {"key_secret": named.secret})
    one, two = f"g{uuid.uuid4().hex[:8]}.{aws_zone}", f"g{uuid.uuid4().hex[:8]}.cns.test"
    order = _order(app, acme.id, [one, two])
    order, authzs = _finished(app, order.id)
    assert order.state == "stored", order.error_message
    assert {a.identifier: a.dns_account_id for a in authzs} == {one: aws.id, two: bind.id}
    assert named.txt(f"_acme-challenge.{two}") == []


def test_a_cname_delegated_name_is_written_at_its_target(sqlite_app: App, stack: Stack) -> None:
    """`_acme-challenge.<name>` in deleg.test is a CNAME into r53.test: Route 53 writes the target."""
    app, acme = _app(sqlite_app, stack)
    aws, _zone = _route53(app, stack)
    apex = f"c{uuid.uuid4().hex[:8]}.deleg.test"
    target = f"v{uuid.uuid4().hex[:8]}.r53.test"
    stack.named.replace(f"_acme-challenge.{apex}", "CNAME", [target + "."])
    order = _order(app, acme.id, [apex])  # chosen by the CNAME's target
    order, authzs = _finished(app, order.id)
    assert order.state == "stored", order.error_message
    assert [(a.dns_account_id, a.record_target) for a in authzs] == [(aws.id, target)]
    assert stack.named.txt(target) == []


def test_a_name_no_account_covers_waits_for_a_person_then_assign_dns(sqlite_app: App, stack: Stack) -> None:
    app, acme = _app(sqlite_app, stack)
    _route53(app, stack)  # an enabled account, but its zone does not hold the name
    hook, _zone = _hook(app, stack)
    with app.transaction() as svc:
        svc.integrations.set_enabled(ADMIN, "dns", hook.id, False)
    apex = f"p{uuid.uuid4().hex[:8]}.hook.test"
    order = _order(app, acme.id, [apex])
    order, _authzs = _finished(app, order.id)
    assert (order.state, order.fulfilment) == ("authorizations_pending", "manual")
    assert "no enabled DNS account has a zone containing" in (order.last_check or "")
    with app.transaction() as svc, pytest.raises(Exception, match="disabled"):
        svc.issuance.requests.assign_dns(ADMIN, order.id, hook.id)
    with app.transaction() as svc:
        svc.integrations.set_enabled(ADMIN, "dns", hook.id, True)
        svc.issuance.requests.assign_dns(ADMIN, order.id, hook.id)
    order, authzs = _finished(app, order.id)
    assert order.state == "stored", order.error_message
    assert order.dns_account_id == hook.id and [a.dns_account_id for a in authzs] == [hook.id]
    with app.transaction() as svc, pytest.raises(Exception, match="pending"):
        svc.issuance.requests.assign_dns(ADMIN, order.id, hook.id)


def test_only_administrators_manage_hook_accounts(sqlite_app: App, stack: Stack) -> None:
    from certvault.errors import Forbidden

    present, cleanup = _hook_scripts(stack)
    operator = Actor(name="op", role=Role.OPERATOR, id=uuid.uuid4())
    with sqlite_app.transaction() as svc, pytest.raises(Forbidden):
        svc.issuance.dns_accounts.add(operator, "hook", "op-hook", {"present": str(present),
                                                                    "cleanup": str(cleanup)}, {})


def test_the_command_assigns_a_dns_account_to_a_pending_order(stack: Stack, tmp_path: Path) -> None:
    """`certvault acme request` without a DNS account (none fits: the order waits for a person), then
    `dns-account add hook`, `dns-account test`, and `acme assign-dns ... --wait` issues it."""
    import json

    from tests.servers.certvault_server import certvault_cli

    data = tmp_path / "data"

    def cli(*args: str) -> dict[str, Any]:
        return json.loads(certvault_cli(data, *args).stdout)  # type: ignore[no-any-return]

    certvault_cli(data, "acme", "settings", "--resolver", stack.named.address, "--dns-check-server",
                  stack.named.address)
    account = cli("acme", "account", "register", "--directory", stack.ca.directory_url, "--agree-tos",
                  "--ca-bundle", str(stack.ca.tls_ca), "--json")
    apex = f"cli{uuid.uuid4().hex[:6]}.hook.test"
    order = cli("acme", "request", "--account", account["id"], "--domain", apex, "--challenge", "dns-01",
                "--wait", "--json")
    assert order["status"] == "pending" and order["fulfilment"] == "manual"
    present, cleanup = _hook_scripts(stack)
    hook = cli("dns-account", "add", "hook", "--name", "nsupdate", "--present", str(present), "--cleanup",
               str(cleanup), "--json")
    assert cli("dns-account", "test", "nsupdate", "--json") == {"ok": True, "zones": []}
    done = cli("acme", "assign-dns", order["id"], "--dns-account", "nsupdate", "--wait", "--json")
    assert done["status"] == "available" and done["dns_account_id"] == hook["id"], done
    assert [c["dns_account_id"] for c in done["challenges"]] == [hook["id"]]
    assert stack.named.txt(f"_acme-challenge.{apex}") == []
