"""ACME clients per account, reused across jobs in this process (one TLS session, warm nonces).

A client is checked out by one thread at a time. Keys are opened from their sealed column by one
small function per use, so the vault work can later swap the storage without touching callers.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certvault import __version__
from certvault.acme_client import AcmeClient, ClientConfig, load_private_key
from certvault.context import ServiceContext
from certvault.issuance.models import AcmeAccount


class ClientPool:
    def __init__(self) -> None:
        self._idle: dict[tuple[str, ...], list[AcmeClient]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def checkout(self, key: tuple[str, ...], build: Callable[[], AcmeClient]) -> Iterator[AcmeClient]:
        with self._lock:
            idle = self._idle.get(key)
            client = idle.pop() if idle else None
        if client is None:
            client = build()
        yield client
        with self._lock:
            self._idle.setdefault(key, []).append(client)

    def forget(self, account_id: str) -> None:
        with self._lock:
            for key in [k for k in self._idle if k[0] == account_id]:
                del self._idle[key]


def pool(ctx: ServiceContext) -> ClientPool:
    if ctx.process.acme_clients is None:
        ctx.process.acme_clients = ClientPool()
    return ctx.process.acme_clients


def ca_bundle_path(ctx: ServiceContext, pem: str | None) -> str | None:
    """Write an account's CA bundle once, named by its hash, for the HTTP client to read."""
    if not pem:
        return None
    digest = hashlib.sha256(pem.encode()).hexdigest()[:24]
    directory = Path(ctx.settings.data_dir) / "acme" / "ca-bundles"
    path = directory / f"{digest}.pem"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(pem)
        tmp.replace(path)
    return str(path)


def client_config(ctx: ServiceContext, directory_url: str, ca_bundle_pem: str | None, timeout: float) -> ClientConfig:
    return ClientConfig(directory_url=directory_url, ca_bundle=ca_bundle_path(ctx, ca_bundle_pem),
                        timeout=float(timeout), user_agent=f"certvault/{__version__}")


def open_account_key(ctx: ServiceContext, account: AcmeAccount) -> PrivateKeyTypes:
    return load_private_key(ctx.sealer.open(account.key_sealed, aad=f"acme_accounts:{account.id}"))


def open_eab_hmac(ctx: ServiceContext, account: AcmeAccount) -> str | None:
    if account.eab_hmac_sealed is None:
        return None
    return ctx.sealer.open_text(account.eab_hmac_sealed, aad=f"acme_accounts.eab:{account.id}")


@dataclass(frozen=True)
class AccountRef:
    """An account as a step needs it, read once in a transaction and used outside it."""

    id: uuid.UUID
    name: str
    ca_name: str
    status: str
    directory_url: str
    account_url: str | None
    key_pem: bytes
    thumbprint: str
    ca_bundle_pem: str | None
    timeout: float

    @classmethod
    def of(cls, ctx: ServiceContext, account: AcmeAccount) -> AccountRef:
        key_pem = ctx.sealer.open(account.key_sealed, aad=f"acme_accounts:{account.id}")
        return cls(account.id, account.name, account.ca_name, account.status, account.directory_url,
                   account.account_url, key_pem, account.key_thumbprint, account.ca_bundle_pem,
                   float(account.timeout_seconds))


@contextmanager
def client_for(ctx: ServiceContext, ref: AccountRef) -> Iterator[AcmeClient]:
    """A ready client for the account, from this process's pool (do not hold a transaction open)."""
    key = (str(ref.id), ref.account_url or "", ref.thumbprint, ref.directory_url, str(ref.timeout),
           str(hash(ref.ca_bundle_pem)))

    def build() -> AcmeClient:  # only when the pool has no idle client for this account
        config = client_config(ctx, ref.directory_url, ref.ca_bundle_pem, ref.timeout)
        return AcmeClient(config, load_private_key(ref.key_pem), ref.account_url)

    with pool(ctx).checkout(key, build) as client:
        yield client


@contextmanager
def account_client(ctx: ServiceContext, account: AcmeAccount) -> Iterator[AcmeClient]:
    with client_for(ctx, AccountRef.of(ctx, account)) as client:
        yield client
