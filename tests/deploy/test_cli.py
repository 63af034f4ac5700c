"""The `certvault deploy` commands as an operator types them, against a real sshd with nginx behind it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.deploy.conftest import Authority, Nginx
from tests.servers.certvault_server import certvault_cli
from tests.servers.sshd import Sshd


def test_target_map_run_list(tmp_path: Path, sshd: Sshd, nginx: Nginx, test_ca: Authority) -> None:
    data = tmp_path / "data"
    certvault_cli(data, "init")
    chain, key, serial = test_ca.leaf()
    (tmp_path / "cert.pem").write_bytes(chain + key)
    imported = json.loads(certvault_cli(data, "cert", "import", str(tmp_path / "cert.pem"), "--json").stdout)
    cert_id = imported["files"][0]["entries"][0] if "entries" in imported["files"][0] else None
    if cert_id is None:
        cert_id = json.loads(certvault_cli(data, "cert", "list", "--json").stdout)["items"][0]["id"]

    added = json.loads(certvault_cli(
        data, "deploy", "target", "add", "ssh", "web", "--host", "127.0.0.1", "--port", str(sshd.port),
        "--user", sshd.user, "--private-key", str(sshd.client_key), "--known-host", sshd.known_host_line(),
        "--preset", "nginx", "--fullchain-path", str(nginx.fullchain), "--key-path", str(nginx.key),
        "--mode", "0640", "--test-command", nginx.command("-t"), "--reload-command", nginx.command("-s", "reload"),
        "--webroot", str(nginx.webroot), "--verify", f"127.0.0.1:{nginx.port}/localhost", "--json").stdout)
    assert added["plugin"] == "ssh" and added["name"] == "web" and "id" in added
    assert added["secret_fields"] == ["private_key"]
    assert "BEGIN" not in json.dumps(added)  # the key went to the vault
    unpinned = certvault_cli(data, "deploy", "target", "add", "ssh", "nopin", "--host", "127.0.0.1", "--user", "x",
                             "--private-key", str(sshd.client_key), "--cert-path", "/tmp/x.pem", check=False)
    assert unpinned.returncode == 1 and "pin the host key" in unpinned.stderr
    no_file = certvault_cli(data, "deploy", "target", "add", "ssh", "nofile", "--host", "127.0.0.1", "--user", "x",
                            "--private-key", str(tmp_path / "missing"), "--host-key-fingerprint",
                            sshd.fingerprint(), "--cert-path", "/tmp/x.pem", check=False)
    assert no_file.returncode != 0 and "cannot read" in no_file.stderr

    listed = json.loads(certvault_cli(data, "deploy", "target", "list", "--json").stdout)
    assert [t["name"] for t in listed] == ["web"]
    tested = json.loads(certvault_cli(data, "deploy", "target", "test", "web", "--json").stdout)
    assert tested["ok"] and "logged in as" in tested["result"]

    mapped = json.loads(certvault_cli(data, "deploy", "map", cert_id, "--target", "web", "--no-auto",
                                      "--json").stdout)
    assert mapped["auto"] is False and mapped["target"] == "web" and "id" in mapped
    ran = json.loads(certvault_cli(data, "deploy", "run", cert_id, "--wait", "--timeout", "240", "--json").stdout)
    [one] = ran["deployments"]
    assert {k: one[k] for k in ("target", "status", "served_serial", "reason")} == {
        "target": "web", "status": "verified", "served_serial": serial, "reason": None}
    assert nginx.serves(serial)

    history = json.loads(certvault_cli(data, "deploy", "list", "--cert", cert_id, "--json").stdout)
    assert [(h["target"], h["status"], h["serial"]) for h in history] == [("web", "verified", serial)]
    assert history[0]["verified_at"] is not None
    human = certvault_cli(data, "deploy", "list", env={"COLUMNS": "300"}).stdout
    assert "verified" in human and "web" in human

    certvault_cli(data, "deploy", "unmap", cert_id, "--target", "web")
    nothing = certvault_cli(data, "deploy", "run", cert_id, check=False)
    assert nothing.returncode == 1 and "mapped to no enabled deploy target" in nothing.stderr
    certvault_cli(data, "deploy", "target", "disable", "web")
    disabled = certvault_cli(data, "deploy", "run", cert_id, "--target", "web", check=False)
    assert disabled.returncode == 1 and "deploy target web is disabled" in disabled.stderr
