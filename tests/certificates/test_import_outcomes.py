"""An import in which every file was refused says so: 422 with the per-file errors (issue 11, item 12).

Before: the API answered 200 with `imported: 0`, which scripts took for success.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from certvault.container import App
from tests.conftest import create_login, web_login

BAD = [("files", ("junk.bin", b"\x00\x01 nothing", "application/octet-stream")),
       ("files", ("broken.p12", b"0\x82\x01\x00broken", "application/x-pkcs12"))]


def test_api_import_of_only_bad_files_answers_422_with_each_files_error(sqlite_app: App,
                                                                          sqlite_client: TestClient) -> None:
    operator = create_login(sqlite_app, "operator")
    answer = sqlite_client.post("/api/v1/certificates/import", files=BAD, headers=operator.headers)
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "import_failed" and (problem["imported"], problem["failed"]) == (0, 2)
    assert [f["file"] for f in problem["files"]] == ["junk.bin", "broken.p12"]
    assert all(not f["ok"] and f["error"].startswith(f["file"] + ": ") for f in problem["files"])
    assert problem["detail"].startswith("no file was imported: junk.bin: ") and "broken.p12: " in problem["detail"]
    listed = sqlite_client.get("/api/v1/certificates", headers=operator.headers).json()
    assert listed["total"] == 0


def test_web_import_of_only_bad_files_shows_the_errors_and_the_form(sqlite_app: App,
                                                                     sqlite_client: TestClient) -> None:
    csrf = web_login(sqlite_client, create_login(sqlite_app, "operator"), "/certificates/import")
    answer = sqlite_client.post("/certificates/import", data={"csrf_token": csrf},
                                files=[(name, (f, data)) for name, (f, data, _type) in BAD])
    assert answer.status_code == 422
    assert "Nothing was imported: no file could be read." in answer.text
    assert "0 file(s) imported, 2 refused" in answer.text
    assert "junk.bin: not a certificate file" in answer.text and "broken.p12: " in answer.text
    assert 'action="/certificates/import"' in answer.text and 'type="file"' in answer.text  # the form again
