"""The options model names the field at fault; the package stays pure and light to import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from certvault.outbound import ClientOptions
from certvault.outbound.client import USER_AGENT
from tests.outbound.pki import Pki, der, pem

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "certvault" / "outbound"
ALLOWED = ("certvault.errors", "certvault.crypto", "certvault.outbound")


@pytest.mark.parametrize(("given", "words"), [
    ({"trust": "pinned"}, "trust 'pinned' needs pinned_certificate"),
    ({"trust": "ca_bundle"}, "trust 'ca_bundle' needs ca_bundle"),
    ({"ca_bundle": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, "ca_bundle"),
    ({"pinned_certificate": "not a certificate!"}, "pinned_certificate\n.*not a PEM certificate, nor DER"),
    ({"proxy": "http://user:secret@proxy:3128"}, "proxy\n.*must not hold credentials"),
    ({"base_url": "http://api.example"}, "base_url is plain http://"),
    ({"retries": 50}, "retries\n"),
    ({"timeout": 5}, "timeout\n.*Extra inputs"),
])
def test_bad_options_name_the_field(given: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        ClientOptions.model_validate(given)


def test_certificates_are_stored_as_pem_json(pki: Pki) -> None:
    options = ClientOptions(trust="pinned", pinned_certificate=der(pki.server.cert))
    assert options.pinned_certificate == pem(pki.server.cert).decode()
    assert ClientOptions.model_validate_json(options.model_dump_json()) == options


def test_user_agent_names_certvault_and_its_version() -> None:
    from certvault import __version__

    assert USER_AGENT == f"certvault/{__version__}"


def test_the_package_imports_nothing_of_the_app_but_errors_and_crypto() -> None:
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name == "certvault" or not name.startswith("certvault"):
                    continue  # `from certvault import __version__`, or a library
                assert name.startswith(ALLOWED), f"{source.name} imports {name}"


def test_importing_it_pulls_in_no_app_code_and_no_keystore_codec() -> None:
    code = "import sys, certvault.outbound; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    app = [m for m in loaded if m.startswith("certvault") and m != "certvault" and not m.startswith(ALLOWED)]
    assert app == []
    assert not {"jks", "sqlalchemy", "fastapi"} & set(loaded)
