"""Passwords, keys, Authorization headers, cookies and query-string tokens appear in no log line
and no error message, with every logger involved (ours, httpx, httpcore) at DEBUG."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import pytest

from certvault.crypto import pkcs12
from certvault.outbound import (
    ClientIdentity,
    ClientIdentityError,
    ClientOptions,
    OutboundClients,
    OutboundError,
    RetriesExhausted,
    check_status,
)
from certvault.outbound.redact import redact_headers, redact_text, redact_url
from tests.outbound.pki import Issued, key_pem
from tests.outbound.servers import ConnectProxy

Options = Callable[..., ClientOptions]
SECRETS = {
    "password": "kEyst0re-PassW0rd",
    "bearer": "bEArer-t0ken-9f8e7d",
    "query": "qUEry-t0ken-1a2b3c",
    "cookie": "c00kie-sess10n-77aa",
    "path": "T00000000B00000000XXXXXXXXXXXXXXXX",
    "proxy": "pr0xy-Passw0rd",
}


def test_no_secret_in_logs_or_errors(opts: Options, clients: OutboundClients, client_cert: Issued,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    keystore = pkcs12.export("agent", client_cert.key, client_cert.cert, [], SECRETS["password"])
    with pytest.raises(ClientIdentityError) as wrong:
        ClientIdentity.from_keystore(keystore, SECRETS["password"] + "x")
    errors.append(str(wrong.value))
    identity = ClientIdentity.from_keystore(keystore, SECRETS["password"])
    headers = {"Authorization": f"Bearer {SECRETS['bearer']}"}
    query = f"token={SECRETS['query']}&cookie={SECRETS['cookie']}"
    proxy = ConnectProxy()
    try:
        options = opts(retries=1, backoff=0.01, proxy=proxy.url)
        with clients.client_for("acct", options, identity, proxy_auth=("u", SECRETS["proxy"])) as client:
            assert client.get(f"/whoami/{SECRETS['path']}?{query}", headers=headers).status_code == 200
            with pytest.raises(RetriesExhausted) as exhausted:
                client.get(f"/retry/{uuid.uuid4().hex}/{SECRETS['path']}?times=9&{query}", headers=headers)
            errors.append(str(exhausted.value))
            with pytest.raises(OutboundError) as missing:
                check_status(client.get(f"/nowhere/{SECRETS['path']}?{query}", headers=headers))
            errors.append(str(missing.value))
    finally:
        proxy.close()
    text = caplog.text + "\n".join(errors) + repr(identity)
    assert "HTTP Request: GET https://127.0.0.1" in caplog.text  # httpx did log, redacted
    assert "retry 1 of 1" in caplog.text and "token=***" in caplog.text
    assert "receive_response_headers.complete" in caplog.text  # httpcore did log its headers
    assert "/nowhere/***?token=***&cookie=***" in errors[-1]
    for name, secret in SECRETS.items():
        assert secret not in text, f"the {name} secret leaked"
    assert key_pem(client_cert.key).decode().splitlines()[1] not in text


def test_redaction_rules() -> None:
    assert redact_url("https://user:pw@h.example:8443/a/b?token=x&page=2#frag") == \
        "https://h.example:8443/a/b?token=***&page=***"
    assert redact_url("https://hooks.example/services/T0123/B0123/abcdefghij0123456789") == \
        "https://hooks.example/services/T0123/B0123/***"
    assert redact_headers([("Authorization", "Bearer x"), ("X-Api-Key", "k"), ("Accept", "json")]) == \
        [("Authorization", "***"), ("X-Api-Key", "***"), ("Accept", "json")]
    assert redact_text("[(b'Set-Cookie', b'session=abc'), (b'Content-Type', b'text/plain')]") == \
        "[(b'Set-Cookie', b'***'), (b'Content-Type', b'text/plain')]"
