"""The `certvault cert` commands as an operator types them: one-line errors, JSON output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.certificates.factory import make_ca, make_leaf
from tests.servers.certvault_server import certvault_cli


def test_import_list_show_and_bad_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    certvault_cli(data, "init")
    ca = make_ca("CLI CA")
    leaf = make_leaf(ca, "cli.example.com", ["cli.example.com"], days=20)
    (tmp_path / "good.pem").write_bytes(leaf.pem + ca.pem + leaf.key_pem)
    (tmp_path / "bad.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    bad = certvault_cli(data, "cert", "import", str(tmp_path / "bad.pem"), check=False)
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'bad.pem'}: PEM certificate #1 is corrupt")
    missing = certvault_cli(data, "cert", "import", str(tmp_path / "nope.pem"), check=False)
    assert missing.returncode == 1 and f"{tmp_path / 'nope.pem'}: no such file or directory" in missing.stderr
    empty = json.loads(certvault_cli(data, "cert", "list", "--source", "import", "--json").stdout)
    assert empty["items"] == []
    done = json.loads(certvault_cli(data, "cert", "import", str(tmp_path / "good.pem"), "--tag", "cli",
                                    "--json").stdout)
    assert done["imported"] == 1 and done["files"][0]["keys"] == 1
    listed = json.loads(certvault_cli(data, "cert", "list", "--expiring-within", "30", "--json").stdout)
    assert [i["common_name"] for i in listed["items"]] == ["cli.example.com"]
    entry_id = listed["items"][0]["id"]
    shown = json.loads(certvault_cli(data, "cert", "show", entry_id, "--json").stdout)
    assert shown["tags"] == ["cli"] and shown["current"]["issuer"] == "CN=CLI CA,O=Test Org"
    assert len(shown["versions"]) == 1 and shown["chain"][0]["subject"] == "CN=CLI CA,O=Test Org"
    human = certvault_cli(data, "cert", "show", entry_id).stdout
    assert "cli.example.com" in human and "key stored" in human
    wrong_id = certvault_cli(data, "cert", "show", "not-a-uuid", check=False)
    assert wrong_id.returncode == 1 and "'not-a-uuid' is not a certificate id" in wrong_id.stderr
    key_file = tmp_path / "key.pem"
    certvault_cli(data, "cert", "key", entry_id, "--out", str(key_file))
    assert key_file.read_bytes() == leaf.key_pem and (key_file.stat().st_mode & 0o777) == 0o600
    jks = certvault_cli(data, "cert", "export", entry_id, "--format", "jks", "--password", "12", "--out",
                        str(tmp_path / "x.jks"), check=False)
    assert jks.returncode == 1 and "at least 6 characters" in jks.stderr and not (tmp_path / "x.jks").exists()
