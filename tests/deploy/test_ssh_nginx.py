"""SSH deployment to nginx behind a real sshd: deploy, `nginx -t`, reload, verify the served serial; a broken
deployment rolled back with the old certificate still served; a wrong host key refused; a jump host."""

from __future__ import annotations

import grp
import os
from typing import Any

import pytest

from certvault.auth.rbac import Actor
from certvault.errors import IntegrationError, InvalidInput
from tests.deploy.conftest import Authority, Nginx, ssh_options, store
from tests.servers.sshd import Sshd

ADMIN = Actor.system("test-admin", via="cli")


def _deploy(app: Any, entry_id: Any, target: str = "web") -> dict[str, Any]:
    with app.transaction() as svc:
        [run] = svc.deploy.run(ADMIN, entry_id, target)
        run_id = run.id
    app.worker().run_until_idle(timeout=120)
    with app.transaction() as svc:
        run = svc.deploy.deployment(ADMIN, run_id)
        return {"status": run.status, "served": run.served_serial, "reason": run.reason, "serial": run.serial,
                "receipt": dict(run.receipt)}


def _add_target(app: Any, sshd: Sshd, options: dict[str, Any], name: str = "web") -> None:
    with app.transaction() as svc:
        svc.integrations.add(ADMIN, "deploy", "ssh", name, options,
                             {"private_key": sshd.client_key.read_text()})


def test_deploy_verify_then_a_broken_one_is_rolled_back(sqlite_app: Any, sshd: Sshd, nginx: Nginx,
                                                         test_ca: Authority) -> None:
    _add_target(sqlite_app, sshd, ssh_options(sshd, nginx, owner=f"{sshd.user}:{grp.getgrgid(os.getgid()).gr_name}"))
    chain, key, serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        entry_id = store(svc, chain, key)
        svc.deploy.map(ADMIN, entry_id, "web", auto=False)
        assert "logged in as" in svc.integrations.check(ADMIN, "deploy", "web")

    done = _deploy(sqlite_app, entry_id)
    assert done["status"] == "verified", done
    assert done["served"] == serial
    assert nginx.serves(serial)
    assert nginx.fullchain.read_bytes() == chain
    assert oct(nginx.key.stat().st_mode & 0o777) == "0o600"
    assert (nginx.key.stat().st_uid, nginx.key.stat().st_gid) == (os.getuid(), os.getgid())
    backups = [v for k, v in done["receipt"].items() if k.startswith("file:")]
    assert all(b.endswith(serial) for b in backups)  # the previous files were kept

    # A renewal deployed by a target that writes the key somewhere nginx does not read: `nginx -t` finds the new
    # certificate with the old key (key values mismatch), the previous files come back, the old one is served.
    _add_target(sqlite_app, sshd, ssh_options(sshd, nginx, key_path=str(nginx.workdir / "elsewhere.pem")), "broken")
    new_chain, new_key, new_serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        store(svc, new_chain, new_key, entry_id)
    broken = _deploy(sqlite_app, entry_id, "broken")
    assert broken["status"] == "rolled_back", broken
    assert "test command" in broken["reason"] and "key values mismatch" in broken["reason"]
    assert nginx.fullchain.read_bytes() == chain
    assert not (nginx.workdir / "elsewhere.pem").exists()  # created by the deployment, removed by the rollback
    assert nginx.serves(serial) and serial != new_serial
    # Only the latest deployment's backups are kept: the first one's went when the second began.
    backups = sorted(p.name for p in nginx.fullchain.parent.iterdir() if p.name.startswith("fullchain.pem."))
    assert backups == [f"fullchain.pem.certvault-backup-{new_serial}"], backups


def test_verification_mismatch_rolls_back_and_old_certificate_still_served(
        sqlite_app: Any, sshd: Sshd, nginx: Nginx, test_ca: Authority, tmp_path: Any) -> None:
    # The reload command points nginx at nothing new: the files change but the server keeps serving the old
    # certificate, so the verification sees the old serial, rolls back and says why.
    _add_target(sqlite_app, sshd, ssh_options(sshd, nginx, reload_command="true", verify_timeout=2))
    old_serial = nginx.served_serial()
    old_chain = nginx.fullchain.read_bytes()
    chain, key, serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        entry_id = store(svc, chain, key)
    done = _deploy(sqlite_app, entry_id)
    assert done["status"] == "rolled_back", done
    assert done["served"] == old_serial
    assert f"serves serial {old_serial}, not the deployed {serial}" in done["reason"]
    assert nginx.fullchain.read_bytes() == old_chain  # the backup is back in place
    assert nginx.serves(old_serial)
    with sqlite_app.transaction() as svc:
        events = [e for e in svc.session.execute(
            __import__("sqlalchemy").text("select type, payload from domain_events")).all()]
    assert any(t == "deployment.failed" for t, _ in events)


def test_failed_test_command_restores_previous_files(sqlite_app: Any, sshd: Sshd, nginx: Nginx,
                                                     test_ca: Authority) -> None:
    _add_target(sqlite_app, sshd, ssh_options(sshd, nginx, test_command="false", reload_command="true"), "broken")
    old_serial = nginx.served_serial()
    old_key = nginx.key.read_bytes()
    chain, key, _ = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        entry_id = store(svc, chain, key)
    done = _deploy(sqlite_app, entry_id, "broken")
    assert done["status"] == "rolled_back", done
    assert "test command `false` failed" in done["reason"]
    assert nginx.key.read_bytes() == old_key
    assert nginx.serves(old_serial)


def test_wrong_host_key_is_refused(sqlite_app: Any, sshd: Sshd, nginx: Nginx, test_ca: Authority,
                                   tmp_path: Any) -> None:
    from tests.servers.sshd import keygen

    other = keygen(tmp_path / "other")
    kind, b64 = (tmp_path / "other.pub").read_text().split()[:2]
    options = ssh_options(sshd, nginx, known_host=f"[127.0.0.1]:{sshd.port} {kind} {b64}")
    _add_target(sqlite_app, sshd, options)
    with sqlite_app.transaction() as svc, pytest.raises(IntegrationError, match="host key does not match"):
        svc.integrations.check(ADMIN, "deploy", "web")
    fingerprint = options | {"known_host": None, "host_key_fingerprint": "SHA256:" + "A" * 43}
    _add_target(sqlite_app, sshd, fingerprint, "fp")
    with sqlite_app.transaction() as svc, pytest.raises(IntegrationError, match="host key does not match"):
        svc.integrations.check(ADMIN, "deploy", "fp")
    right = options | {"known_host": None, "host_key_fingerprint": sshd.fingerprint()}
    _add_target(sqlite_app, sshd, right, "right")
    with sqlite_app.transaction() as svc:
        assert "logged in as" in svc.integrations.check(ADMIN, "deploy", "right")
    del other


def test_host_key_pin_is_required(sqlite_app: Any, sshd: Sshd, nginx: Nginx) -> None:
    options = ssh_options(sshd, nginx) | {"known_host": None}
    with sqlite_app.transaction() as svc, pytest.raises(InvalidInput, match="pin the host key"):
        svc.integrations.add(ADMIN, "deploy", "ssh", "nopin", options, {"private_key": sshd.client_key.read_text()})


def test_through_a_jump_host(sqlite_app: Any, sshd: Sshd, nginx: Nginx, test_ca: Authority, tmp_path: Any) -> None:
    jump = Sshd(tmp_path / "jump", ).start(jump=True)
    try:
        (jump.workdir / "authorized_keys").write_text(sshd.client_key.with_suffix(".pub").read_text())
        options = ssh_options(sshd, nginx, jump_host=f"{jump.user}@127.0.0.1:{jump.port}",
                              jump_host_key_fingerprint=jump.fingerprint())
        _add_target(sqlite_app, sshd, options)
        chain, key, serial = test_ca.leaf()
        with sqlite_app.transaction() as svc:
            entry_id = store(svc, chain, key)
        done = _deploy(sqlite_app, entry_id)
        assert done["status"] == "verified", done
        assert nginx.serves(serial)
        assert "Accepted publickey" in (jump.workdir / "sshd.log").read_text()
    finally:
        jump.stop()


def test_unreachable_server_fails_without_change(sqlite_app: Any, sshd: Sshd, nginx: Nginx,
                                                 test_ca: Authority) -> None:
    from tests.servers.process import free_port

    _add_target(sqlite_app, sshd, ssh_options(sshd, nginx, port=free_port(), timeout=5))
    chain, key, _ = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        entry_id = store(svc, chain, key)
    done = _deploy(sqlite_app, entry_id)
    assert done["status"] == "failed", done
    assert "Connection refused" in done["reason"] or "connect" in done["reason"].lower(), done["reason"]
    assert "BEGIN" not in done["reason"]
