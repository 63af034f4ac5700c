"""The master key file: JSON {current, keys{id: base64}, created{id: iso}}, mode 0600.

During a rotation the file holds both the old and the new key, so every data key stays
openable whatever the moment a rotation is interrupted.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from certvault.crypto.envelope import KEY_BYTES
from certvault.errors import CertvaultError, InvalidInput


@dataclass
class MasterKeys:
    current: str
    keys: dict[str, bytes]
    created: dict[str, str] = field(default_factory=dict)

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise CertvaultError(f"master key {key_id} is not in the master key file") from None

    def created_at(self, key_id: str | None = None) -> datetime | None:
        value = self.created.get(key_id or self.current)
        return datetime.fromisoformat(value) if value else None


def new_key_id() -> str:
    return "mk-" + secrets.token_hex(6)


def generate() -> MasterKeys:
    key_id = new_key_id()
    return MasterKeys(key_id, {key_id: os.urandom(KEY_BYTES)}, {key_id: datetime.now(UTC).isoformat()})


def load(path: Path) -> MasterKeys:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        keys = {k: base64.b64decode(v) for k, v in raw["keys"].items()}
        master = MasterKeys(raw["current"], keys, raw.get("created", {}))
    except FileNotFoundError:
        raise InvalidInput(f"master key file {path} does not exist; run `certvault init`") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"master key file {path} is malformed ({type(exc).__name__})") from None
    if master.current not in keys or any(len(k) != KEY_BYTES for k in keys.values()):
        raise InvalidInput(f"master key file {path} is malformed (bad key length or current id)")
    return master


def save(path: Path, master: MasterKeys) -> None:
    """Atomic replace: write a 0600 temp file, fsync, rename, fsync the directory."""
    body = json.dumps(
        {
            "version": 1,
            "current": master.current,
            "keys": {k: base64.b64encode(v).decode() for k, v in master.keys.items()},
            "created": master.created,
        },
        indent=2,
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def ensure(path: Path) -> tuple[MasterKeys, bool]:
    """Load the master key file, creating it on first run. Returns (keys, created)."""
    if path.exists():
        return load(path), False
    master = generate()
    save(path, master)
    return master, True
