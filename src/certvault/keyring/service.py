"""Keyring: seals and opens values with cached data keys.

Each purpose has one data key, created at start-up (`prepare`) in its own committed transaction:
if it rode in a caller's transaction that rolled back, values sealed under it would be lost, and
on SQLite a second transaction inside a caller's would wait on the caller's write lock.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certvault.crypto import envelope
from certvault.db.locks import advisory_lock
from certvault.keyring import master as master_file
from certvault.keyring.master import MasterKeys
from certvault.keyring.models import DataKey

PURPOSES = ("secrets", "audit")
STABLE_PURPOSES = frozenset({"audit"})


class Keyring:
    def __init__(self, path: Path, sessions: sessionmaker[Session]) -> None:
        self._path = path
        self._sessions = sessions
        self._master = master_file.load(path)
        self._keys: dict[uuid.UUID, bytes] = {}
        self._active: dict[str, uuid.UUID] = {}
        self._lock = threading.Lock()

    def prepare(self, purposes: tuple[str, ...] = PURPOSES) -> None:
        """Load (creating on first run) the data key of every purpose, outside any transaction."""
        for purpose in purposes:
            self._active[purpose] = self._load_or_create(purpose)

    @property
    def master(self) -> MasterKeys:
        return self._master

    def reload(self) -> None:
        with self._lock:
            self._master = master_file.load(self._path)

    def seal(self, plaintext: bytes, aad: bytes = b"", purpose: str = "secrets") -> bytes:
        key_id = self._active_key(purpose)
        return envelope.seal(self._keys[key_id], key_id, plaintext, aad)

    def open(self, session: Session, blob: bytes, aad: bytes = b"") -> bytes:
        return envelope.open_sealed(self.data_key(session, envelope.sealed_key_id(blob)), blob, aad)

    def data_key(self, session: Session, key_id: uuid.UUID) -> bytes:
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        row = session.get(DataKey, key_id)
        if row is None:
            raise envelope.DecryptionError(f"data key {key_id} does not exist")
        if row.master_key_id not in self._master.keys:
            self.reload()  # another process rotated the master key
        key = envelope.unwrap_key(self._master.key(row.master_key_id), row.wrapped, row.id)
        self._keys[key_id] = key
        return key

    def purpose_key(self, purpose: str) -> bytes:
        """The raw key for one purpose (e.g. the audit chain HMAC key)."""
        return self._keys[self._active_key(purpose)]

    def _active_key(self, purpose: str) -> uuid.UUID:
        try:
            return self._active[purpose]
        except KeyError:
            raise KeyError(f"data key purpose {purpose!r} was not prepared at start-up") from None

    def rotate_data_key(self, purpose: str = "secrets") -> uuid.UUID:
        """Start sealing new values under a fresh data key; old values keep opening with theirs."""
        if purpose in STABLE_PURPOSES:
            raise ValueError(f"the {purpose} data key never changes")
        with self._sessions() as session, session.begin():
            key_id = self._create(session, purpose)
        self._active[purpose] = key_id
        return key_id

    def _load_or_create(self, purpose: str) -> uuid.UUID:
        with self._sessions() as session, session.begin():
            lock_purpose(session, purpose)
            # The audit HMAC key must never change (oldest wins); other purposes seal with the newest.
            order = DataKey.created_at if purpose in STABLE_PURPOSES else DataKey.created_at.desc()
            row = session.scalars(select(DataKey).where(DataKey.purpose == purpose).order_by(order).limit(1)).first()
            if row is None:
                return self._create(session, purpose)
            self.data_key(session, row.id)
            return row.id

    def _create(self, session: Session, purpose: str) -> uuid.UUID:
        raw = envelope.new_key()
        row = DataKey(id=uuid.uuid4(), purpose=purpose, master_key_id=self._master.current)
        row.wrapped = envelope.wrap_key(self._master.current_key, raw, row.id)
        session.add(row)
        session.flush()
        self._keys[row.id] = raw
        return row.id


class Sealer:
    """The keyring bound to one session: what services use to seal and open stored secrets."""

    def __init__(self, keyring: Keyring, session: Session) -> None:
        self._keyring = keyring
        self._session = session

    def seal(self, plaintext: bytes | str, aad: str = "") -> bytes:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        return self._keyring.seal(data, aad.encode())

    def open(self, blob: bytes, aad: str = "") -> bytes:
        return self._keyring.open(self._session, blob, aad.encode())

    def open_text(self, blob: bytes, aad: str = "") -> str:
        return self.open(blob, aad).decode()


def lock_purpose(session: Session, purpose: str) -> None:
    """Serialise creation of a purpose key across processes."""
    advisory_lock(session, "certvault-dk-" + purpose)
