"""Keystore file names with CR/LF and non-ASCII characters download everywhere (issue 11, item 6).

Before: a file name with CR/LF was stored as sent, and every download of it failed (an empty reply; the
server raised "Invalid HTTP header value" building Content-Disposition). Now names are cleaned on import,
and every download builds the header per RFC 6266 / RFC 5987 through one helper, which also cleans a name
stored before cleaning existed.
"""

from __future__ import annotations

import base64
import uuid
from urllib.parse import unquote

from fastapi.testclient import TestClient
from sqlalchemy import update

from certvault.container import App
from certvault.filenames import clean_filename, content_disposition
from certvault.vault.models import SecretField
from tests.conftest import web_login
from tests.vault.conftest import build_scene

CONTENT = b"\x30\x82keystore-bytes"
SENT = "..\\..\\C:\\tmp\\store\r\nX-Injected: yes\r\n été-ключ\u202e.p12"
STORED = "store X-Injected: yes été-ключ.p12"


def _real_name(header: str) -> str:
    """The file name a browser saves under: RFC 5987's filename* wins over the fallback."""
    encoded = header.split("filename*=UTF-8''", 1)[1]
    return unquote(encoded, encoding="utf-8", errors="strict")


def _assert_download(answer: object, name: str) -> None:
    assert answer.status_code == 200, answer.text  # type: ignore[attr-defined]
    assert answer.content == CONTENT  # type: ignore[attr-defined]
    header = answer.headers["content-disposition"]  # type: ignore[attr-defined]
    assert header.startswith("attachment; filename=\"") and header.isascii() and "\r" not in header
    assert _real_name(header) == name


def test_a_keystore_named_with_crlf_and_unicode_imports_and_downloads_everywhere(app: App,
                                                                                   client: TestClient) -> None:
    scene = build_scene(app, client)
    body = {"folder": scene.folders["Ops"], "name": "java-store", "template": "keystore",
            "fields": {"password": "changeit"},
            "files": {"file": {"filename": SENT, "content_base64": base64.b64encode(CONTENT).decode()}}}
    created = scene.post("admin", "/secrets", body)
    assert created.status_code == 201, created.text
    secret = created.json()
    assert [f["filename"] for f in secret["fields"] if f["is_file"]] == [STORED]

    _assert_download(scene.get("admin", f"/secrets/{secret['id']}/fields/file"), STORED)
    _assert_download(client.get(f"/secretserver/api/v1/secrets/{secret['number']}/fields/file",
                                headers=scene.as_("admin")), STORED)
    csrf = web_login(client, scene.admin, f"/vault/secrets/{secret['id']}")
    _assert_download(client.post(f"/vault/secrets/{secret['id']}/download", data={"csrf_token": csrf,
                                                                                 "slug": "file"}), STORED)


def test_a_name_stored_before_cleaning_still_downloads(app: App, client: TestClient) -> None:
    scene = build_scene(app, client)
    body = {"folder": scene.folders["Ops"], "name": "old-store", "template": "keystore",
            "files": {"file": {"filename": "old.jks", "content_base64": base64.b64encode(CONTENT).decode()}}}
    secret = scene.post("admin", "/secrets", body).json()
    with app.transaction() as svc:  # as an earlier version stored it
        svc.session.execute(update(SecretField).where(SecretField.secret_id == uuid.UUID(secret["id"]))
                            .values(filename='old\r\n"quoted";.jks'))
    answer = scene.get("admin", f"/secrets/{secret['id']}/fields/file")
    _assert_download(answer, 'old "quoted";.jks')
    assert 'filename="old _quoted__.jks"' in answer.headers["content-disposition"]


def test_names_are_cleaned_and_headers_encoded() -> None:
    assert clean_filename("a\r\nb.p12") == "a b.p12"
    assert clean_filename("../../etc/passwd") == "passwd" and clean_filename("C:\\fakepath\\x.pem") == "x.pem"
    assert clean_filename("..") == "download" and clean_filename("", "file") == "file"
    assert clean_filename("\u202egp1.exe") == "gp1.exe" and len(clean_filename("x" * 1000)) == 255
    assert content_disposition("ключ.jks") == ("attachment; filename=\"____.jks\"; "
                                               "filename*=UTF-8''%D0%BA%D0%BB%D1%8E%D1%87.jks")
    assert content_disposition('a"b\\c;.p12') == "attachment; filename=\"c_.p12\"; filename*=UTF-8''c%3B.p12"
