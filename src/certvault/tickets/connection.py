"""The HTTPS client factory of one help desk: the account's connection settings, plus the mutual-TLS client
identity and the trusted server certificate set for it, through the shared outbound client. Counts calls."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from cryptography import x509


class CallCounter:
    """HTTP requests made through the clients of one sync (the bench reports them per ticket)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> None:
        with self._lock:
            self.calls += 1


def trust_settings(pem: str | None) -> dict[str, Any]:
    """A CA certificate is trusted in place of the system store; a server's own certificate is pinned."""
    if not pem:
        return {}
    first = x509.load_pem_x509_certificates(pem.encode())[0]
    try:
        is_ca = first.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return {"trust": "ca_bundle", "ca_bundle": pem} if is_ca else {"trust": "pinned", "pinned_certificate": pem}


class HelpDeskClients:
    """HttpClientFactory (plugins/protocols.py) for one help desk."""

    def __init__(self, account_key: str, connection: Mapping[str, Any], identity: Any = None,
                 trusted_pem: str | None = None, counter: CallCounter | None = None) -> None:
        self._key = account_key
        self._connection = {**connection, **trust_settings(trusted_pem)}
        self._identity = identity
        self.counter = counter or CallCounter()

    def __call__(self, *, base_url: str = "", headers: Mapping[str, str] | None = None, auth: Any = None,
                 ca_bundle: str | None = None) -> Any:
        from certvault.integrations.service import outbound_clients
        from certvault.outbound import ClientOptions

        settings = dict(self._connection)
        if base_url:
            settings["base_url"] = base_url
        if ca_bundle and settings.get("trust", "system") == "system":
            settings.update(trust="ca_bundle", ca_bundle=ca_bundle)
        client = outbound_clients().client_for(self._key, ClientOptions.model_validate(settings), self._identity)
        client.headers.update(headers or {})
        client.event_hooks["request"].append(self.counter)
        if auth is not None:
            client.auth = auth
        return client
