"""The `agent` deploy target with the real agent: deploy into an nginx the agent manages, verify the served
serial, a broken deployment rolled back by the agent with the old certificate still served, rollback after
a failed verification, http-01 files in the webroot, and a private key that is sealed while it waits."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certvault.agents.channel import AgentJobChannel
from certvault.auth.rbac import Actor
from certvault.errors import IntegrationError
from certvault.plugins.deploy.agent import AgentTarget
from certvault.plugins.protocols import CertificateBundle, DeployFailed
from tests.agent.conftest import enroll, run_agent, status, stop
from tests.agent.helpers import _app
from tests.servers.certvault_server import LiveServer
from tests.servers.process import free_port, port_open, start, wait_until, which

PEM = serialization.Encoding.PEM


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Issuer:
    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("agent test CA"))
            .issuer_name(_name("agent test CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def bundle(self) -> CertificateBundle:
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("localhost"))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        return CertificateBundle(
            names=("localhost",),
            serial=format(cert.serial_number, "x"),
            cert_pem=cert.public_bytes(PEM),
            chain_pem=self.cert.public_bytes(PEM),
            key_pem=key_pem,
        )


@dataclass
class Site:
    root: Path
    port: int
    proc: subprocess.Popen[bytes]

    def command(self, *args: str) -> str:
        return " ".join(
            [
                which("nginx", "/usr/sbin/nginx"),
                "-c",
                str(self.root / "nginx.conf"),
                "-p",
                str(self.root),
                "-e",
                str(self.root / "error.log"),
                *args,
            ]
        )

    def serves(self, serial: str, timeout: float = 20.0) -> bool:
        """Whether it comes to serve `serial` (after a reload, old workers answer a little longer)."""
        from certvault.plugins.deploy.endpoints import parse, serial_hex, served_chain

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if serial_hex(served_chain(parse(f"127.0.0.1:{self.port}/localhost"))[0]) == serial:
                return True
            time.sleep(0.2)
        return False


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer()


@pytest.fixture
def site(tmp_path: Path, issuer: Issuer) -> Iterator[Site]:
    with _site(tmp_path, issuer) as running:
        yield running


@contextmanager
def _site(tmp_path: Path, issuer: Issuer, http_port: int | None = None) -> Iterator[Site]:
    """nginx serving the agent-managed certificate, and the webroot over plain HTTP when `http_port` is given."""
    root = tmp_path / "nginx"
    for sub in ("ssl", "www", "tmp"):
        (root / sub).mkdir(parents=True)
    first = issuer.bundle()
    (root / "ssl" / "fullchain.pem").write_bytes(first.fullchain_pem)
    (root / "ssl" / "privkey.pem").write_bytes(first.key_pem)
    port = free_port()
    (root / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}  # the webroot is under the test's private temporary directory
worker_processes 1; pid {root}/nginx.pid; error_log {root}/error.log warn; daemon off;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  server {{ listen 127.0.0.1:{port} ssl; server_name localhost; root {root}/www;
    ssl_certificate {root}/ssl/fullchain.pem; ssl_certificate_key {root}/ssl/privkey.pem; }}
  {f"server {{ listen 127.0.0.1:{http_port}; root {root}/www; }}" if http_port else ""} }}
""")
    proc = start(
        [
            which("nginx", "/usr/sbin/nginx"),
            "-c",
            str(root / "nginx.conf"),
            "-p",
            str(root),
            "-e",
            str(root / "error.log"),
        ],
        root / "nginx.log",
    )
    wait_until(lambda: port_open(port), 20, "nginx", proc, root / "nginx.log")
    try:
        yield Site(root, port, proc)
    finally:
        stop(proc)


@pytest.fixture
def agent_dir(server: LiveServer, tmp_path: Path) -> Iterator[Path]:
    directory = enroll(server, f"edge-{uuid.uuid4().hex[:8]}", tmp_path / "agent")
    proc = run_agent(directory, "--poll-wait", "5")
    yield directory
    stop(proc)
    assert status(directory)["failed_polls"] == 0


def _target(server: LiveServer, agent_dir: Path, site: Site, **extra: object) -> AgentTarget:
    bound = type("BoundAgentTarget", (AgentTarget,), {"jobs": AgentJobChannel(_app(str(server.data_dir)).transaction)})
    options = AgentTarget.Options.model_validate(
        {
            "agent": status(agent_dir)["name"],
            "preset": "nginx",
            "fullchain_path": str(site.root / "ssl" / "fullchain.pem"),
            "key_path": str(site.root / "ssl" / "privkey.pem"),
            "mode": "0600",
            "test_command": site.command("-t"),
            "reload_command": site.command("-s", "reload"),
            "webroot": str(site.root / "www"),
            "verify": [f"127.0.0.1:{site.port}/localhost"],
            "verify_timeout": 20,
            "timeout": 90,
            **extra,
        }
    )
    target: AgentTarget = bound(options, lambda _name: "", None)
    return target


def test_deploy_verify_and_roll_back_through_the_agent(
    server: LiveServer, agent_dir: Path, site: Site, issuer: Issuer
) -> None:
    target = _target(server, agent_dir, site)
    assert "is enrolled" in target.check()
    good = issuer.bundle()
    receipt = target.deploy(good)
    target.verify(good)
    assert site.serves(good.serial)
    assert oct((site.root / "ssl" / "privkey.pem").stat().st_mode & 0o777) == "0o600"
    assert (site.root / "ssl" / "privkey.pem").read_bytes() == good.key_pem

    broken = issuer.bundle()
    broken = CertificateBundle(
        broken.names, broken.serial, broken.cert_pem, broken.chain_pem, key_pem=issuer.bundle().key_pem
    )  # a key that does not match: nginx -t fails
    with pytest.raises(DeployFailed) as failed:
        target.deploy(broken)
    assert failed.value.rolled_back and "test command failed" in failed.value.message
    assert site.serves(good.serial)
    assert (site.root / "ssl" / "privkey.pem").read_bytes() == good.key_pem

    newer = issuer.bundle()
    second = target.deploy(newer)
    assert site.serves(newer.serial)
    target.rollback(second)  # what the engine does when verification fails
    assert site.serves(good.serial)
    assert receipt.details[f"file:{site.root / 'ssl' / 'privkey.pem'}"].endswith(f"certvault-backup-{good.serial}")


def test_http01_files_through_the_agent(server: LiveServer, agent_dir: Path, site: Site) -> None:
    target = _target(server, agent_dir, site)
    assert target.answers_http01()
    target.place_http01("tok_abc-1", "tok_abc-1.thumbprint")
    challenge = site.root / "www" / ".well-known" / "acme-challenge" / "tok_abc-1"
    assert challenge.read_text() == "tok_abc-1.thumbprint"
    assert oct(challenge.stat().st_mode & 0o777) == "0o644"
    target.remove_http01("tok_abc-1")
    assert not challenge.exists()


def test_the_key_waits_sealed_and_an_unknown_agent_is_named(
    server: LiveServer, tmp_path: Path, site: Site, issuer: Issuer
) -> None:
    """No agent runs here: the job waits in the database with its files sealed, then the deploy gives up."""
    directory = enroll(server, "parked", tmp_path / "parked")
    target = _target(server, directory, site, timeout=2)
    bundle = issuer.bundle()
    with pytest.raises(DeployFailed) as failed:
        target.deploy(bundle)
    assert "did not finish the deploy job" in failed.value.message
    database = (server.data_dir / "certvault.db").read_bytes()
    key_body = b"".join(bundle.key_pem.splitlines()[1:-1])
    assert key_body[:40] not in database
    nobody = _target(server, directory, site, agent="nobody")
    with pytest.raises(IntegrationError, match="no enrolled agent named nobody"):
        nobody.check()


def test_http01_for_a_pebble_issuance_then_deploy(server: LiveServer, agent_dir: Path, tmp_path: Path,
                                                   issuer: Issuer) -> None:
    """The agent answers http-01 in the webroot of the nginx it manages (Pebble fetches it over HTTP), then
    installs the certificate Pebble issued; certvault's order is driven here with its ACME client."""
    from certvault.acme_client import Identifier, build_csr
    from tests.acme_client.helpers import new_client
    from tests.servers.pebble import pebble as shared_pebble

    ca = shared_pebble()
    with _site(tmp_path / "acme", issuer, http_port=ca.http_port) as web:
        target = _target(server, agent_dir, web)
        client = new_client(ca)
        client.register("ops@example.com", True)
        name = f"agent-{uuid.uuid4().hex[:8]}.example.com"
        order = client.new_order([Identifier("dns", name)])
        (url,) = order.authorizations
        challenge = client.get_authorization(url).challenge("http-01")
        assert challenge is not None and challenge.token
        target.place_http01(challenge.token, client.key_authorization(challenge.token))
        client.answer_challenge(challenge.url)
        wait_until(lambda: client.get_order(order.url).status == "ready", 60, "Pebble validating http-01")
        target.remove_http01(challenge.token)
        assert not (web.root / "www" / ".well-known" / "acme-challenge" / challenge.token).exists()
        key = ec.generate_private_key(ec.SECP256R1())
        done = client.finalize(client.get_order(order.url), build_csr(key, [name]))
        wait_until(lambda: client.get_order(order.url).status == "valid", 60, "Pebble issuing")
        chain = x509.load_pem_x509_certificates(client.download(client.get_order(order.url).certificate).encode())
        assert done is not None
        leaf = chain[0]
        bundle = CertificateBundle(
            names=(name,), serial=format(leaf.serial_number, "x"), cert_pem=leaf.public_bytes(PEM),
            chain_pem=b"".join(c.public_bytes(PEM) for c in chain[1:]),
            key_pem=key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        target = _target(server, agent_dir, web, verify=[f"127.0.0.1:{web.port}/{name}"])
        target.deploy(bundle)
        target.verify(bundle)
        assert web.serves(bundle.serial)


def test_the_deploy_engine_through_an_agent_target(server: LiveServer, agent_dir: Path, site: Site,
                                                   issuer: Issuer, tmp_path: Path) -> None:
    """The whole path: an agent target (as `deploy target add agent` makes it), mapped and deployed (as `deploy map`
    and `deploy run` do); the server's worker queues the agent's job, the agent installs into nginx, certvault
    verifies the served serial."""
    import json

    bundle = issuer.bundle()
    pem = tmp_path / "new.pem"
    pem.write_bytes(bundle.fullchain_pem + bundle.key_pem)
    imported = json.loads(server.cli("cert", "import", str(pem), "--json").stdout)
    cert_id = str(imported["files"][0]["entry_ids"][0])
    name = f"edge-target-{uuid.uuid4().hex[:6]}"
    _add_target(server, name, {"agent": str(status(agent_dir)["name"]),
                               "fullchain_path": str(site.root / "ssl" / "fullchain.pem"),
                               "key_path": str(site.root / "ssl" / "privkey.pem"), "mode": "0600",
                               "test_command": site.command("-t"), "reload_command": site.command("-s", "reload"),
                               "verify": [f"127.0.0.1:{site.port}/localhost"]})
    admin = Actor.system("test-admin", via="cli")
    with _app(str(server.data_dir)).transaction() as svc:  # what `deploy map` and `deploy run` do
        svc.deploy.map(admin, uuid.UUID(cert_id), name)
        (queued,) = svc.deploy.run(admin, uuid.UUID(cert_id), name)
        deployment_id = queued.id

    def final() -> bool:
        with _app(str(server.data_dir)).transaction() as svc:
            return svc.deploy.deployment(admin, deployment_id).status in ("verified", "rolled_back", "failed")

    wait_until(final, 180, "the deployment")  # run by the server's worker, which queued the agent's job
    with _app(str(server.data_dir)).transaction() as svc:
        run = svc.deploy.deployment(admin, deployment_id)
        assert (run.status, run.served_serial) == ("verified", bundle.serial), run.reason
    assert site.serves(bundle.serial)


def test_pebble_issuance_answered_by_the_agent(server: LiveServer, agent_dir: Path, issuer: Issuer,
                                               tmp_path: Path) -> None:
    """certvault's own engine: `acme request --challenge http-01 --http-mode deploy --webroot TARGET` names the agent
    target; the server's worker has the agent write the challenge into the webroot nginx serves to Pebble, and
    remove it after validation."""
    import json

    from tests.servers.pebble import challtestsrv, pebble

    ca, dns = pebble(), challtestsrv()
    with _site(tmp_path / "acme", issuer, http_port=ca.http_port) as web:
        server.cli("acme", "settings", "--http01-port", str(ca.http_port), "--resolver", dns.dns)
        account = json.loads(server.cli("acme", "account", "register", "--directory", ca.directory_url, "--email",
                                        "ops@example.com", "--agree-tos", "--ca-bundle", str(ca.tls_ca),
                                        "--json").stdout)
        target = f"agent-web-{uuid.uuid4().hex[:6]}"
        _add_target(server, target, {"agent": str(status(agent_dir)["name"]), "webroot": str(web.root / "www"),
                                     "fullchain_path": str(web.root / "ssl" / "fullchain.pem"),
                                     "key_path": str(web.root / "ssl" / "privkey.pem")})
        name = f"agent-{uuid.uuid4().hex[:8]}.example.com"
        order = json.loads(server.cli("acme", "request", "--account", str(account["id"]), "--domain", name,
                                      "--challenge", "http-01", "--http-mode", "deploy", "--webroot", target,
                                      "--wait", "--timeout", "240", "--json").stdout)
        assert order["state"] == "stored", order
        challenges = web.root / "www" / ".well-known" / "acme-challenge"
        assert challenges.is_dir() and list(challenges.iterdir()) == []  # written by the agent, then removed
        kinds = [j["kind"] for j in json.loads(server.cli("agent", "jobs", "--agent",
                                                          str(status(agent_dir)["name"]), "--json").stdout)]
        assert "http01.place" in kinds and "http01.remove" in kinds


def _add_target(server: LiveServer, name: str, options: dict[str, object]) -> None:
    """What `certvault deploy target add agent NAME --agent ... ` stores (through the integrations service)."""
    with _app(str(server.data_dir)).transaction() as svc:
        svc.integrations.add(Actor.system("test-admin", via="cli"), "deploy", "agent", name, options, {})
