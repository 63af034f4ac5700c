"""Configuration: defaults < TOML file < CERTVAULT_* variables; `config show` redacts secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certvault.config import load_settings
from certvault.errors import InvalidInput
from tests.servers.certvault_server import certvault_cli


def test_precedence_defaults_file_environment(tmp_path: Path) -> None:
    (tmp_path / "certvault.toml").write_text('[server]\nport = 9443\nhost = "127.0.0.2"\n[worker]\nconcurrency = 3\n')
    settings = load_settings({"CERTVAULT_DATA_DIR": str(tmp_path), "CERTVAULT_SERVER_PORT": "10443"})
    assert (settings.server.port, settings.server.host, settings.worker.concurrency) == (10443, "127.0.0.2", 3)
    assert settings.database_url == f"sqlite:///{tmp_path / 'certvault.db'}"
    assert load_settings({}).server.host == "127.0.0.1"  # loopback unless configured otherwise


def test_bad_configuration_names_the_problem(tmp_path: Path) -> None:
    (tmp_path / "certvault.toml").write_text("[server]\nport = 'many'\n")
    with pytest.raises(InvalidInput, match="server.port"):
        load_settings({"CERTVAULT_DATA_DIR": str(tmp_path)})
    (tmp_path / "certvault.toml").write_text("[server\n")
    with pytest.raises(InvalidInput, match="certvault.toml"):
        load_settings({"CERTVAULT_DATA_DIR": str(tmp_path)})
    with pytest.raises(InvalidInput, match="does not exist"):
        load_settings({"CERTVAULT_CONFIG": str(tmp_path / "missing.toml")})


def test_config_show_redacts_secrets(tmp_path: Path) -> None:
    shown = certvault_cli(tmp_path, "config", "show", "--json",
                          env={"CERTVAULT_DB_URL": "postgresql://cv:TopSecret99@db.internal/certvault"})
    data = json.loads(shown.stdout)
    assert data["db"]["url"] == "postgresql://cv:***@db.internal/certvault"
    assert "TopSecret99" not in shown.stdout
