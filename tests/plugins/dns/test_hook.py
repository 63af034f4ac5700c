"""The hook provider with real scripts: the record name and value arrive as two arguments (never through
a shell), a failing or hanging script becomes a plain error, and only administrators may add one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.registry import default_registry
from tests.servers.certvault_server import certvault_cli


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _hook(tmp_path: Path, present: str, cleanup: str | None = None, **options: object) -> object:
    opts = {"present": present, "cleanup": cleanup or present, **options}
    default_registry().validate("dns", "hook", opts, {})
    return default_registry().create("dns", "hook", opts, lambda _f: "")


def test_name_and_value_are_two_arguments_and_never_reach_a_shell(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    present = _script(tmp_path / "present.sh", f'printf "add|%s|%s|%s\\n" "$#" "$1" "$2" >> {log}\n')
    cleanup = _script(tmp_path / "cleanup.sh", f'printf "del|%s|%s|%s\\n" "$#" "$1" "$2" >> {log}\n')
    provider = _hook(tmp_path, f"{present} --zone example.com", str(cleanup), zones=["Example.com."])
    hostile = f'$(touch {tmp_path}/pwned); `id` "quoted" ; rm -rf x'
    provider.present("_acme-challenge.www.example.com.", hostile)  # type: ignore[attr-defined]
    provider.cleanup("_acme-challenge.www.example.com", hostile)  # type: ignore[attr-defined]
    lines = log.read_text().splitlines()
    assert lines == ["add|4|--zone|example.com", f"del|2|_acme-challenge.www.example.com|{hostile}"]
    assert not (tmp_path / "pwned").exists()
    assert provider.zones() == ["example.com"]  # type: ignore[attr-defined]
    assert "executable" in provider.check()  # type: ignore[attr-defined]


def test_a_failing_script_says_its_exit_code_and_stderr(tmp_path: Path) -> None:
    failing = _script(tmp_path / "fail.sh", 'echo "zone example.com is locked" >&2\nexit 3\n')
    with pytest.raises(IntegrationError, match="present command .* exited with 3: zone example.com is locked"):
        _hook(tmp_path, str(failing)).present("_acme-challenge.example.com", "v")  # type: ignore[attr-defined]


def test_a_hanging_script_is_stopped_at_the_timeout(tmp_path: Path) -> None:
    hanging = _script(tmp_path / "hang.sh", "sleep 30\n")
    with pytest.raises(IntegrationError, match="did not finish within 0.5 s"):
        _hook(tmp_path, str(hanging), timeout=0.5).present("_acme-challenge.example.com", "v")  # type: ignore[attr-defined]


def test_commands_are_checked_when_the_account_is_saved(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="present: .*not an absolute path or a program on PATH"):
        _hook(tmp_path, "no-such-program-here arg")
    with pytest.raises(InvalidInput, match="cannot split"):
        _hook(tmp_path, '/bin/true "unclosed')
    gone = _script(tmp_path / "gone.sh", "exit 0\n")
    provider = _hook(tmp_path, str(gone))
    gone.unlink()
    with pytest.raises(IntegrationError, match="missing or not executable"):
        provider.check()  # type: ignore[attr-defined]


def test_the_command_adds_and_tests_a_hook_account(tmp_path: Path) -> None:
    present = _script(tmp_path / "p.sh", "exit 0\n")
    data = tmp_path / "data"
    added = json.loads(certvault_cli(data, "dns-account", "add", "hook", "--present", str(present), "--cleanup",
                                     str(present), "--timeout", "20", "--zones", "hook.example", "--json").stdout)
    assert added["options"]["present"] == str(present) and added["options"]["timeout"] == 20
    tested = json.loads(certvault_cli(data, "dns-account", "test", added["id"], "--json").stdout)
    assert tested["ok"] is True and tested["zones"] == ["hook.example"]
