"""Sealing and opening field values: keyring envelope outside, DoubleLock key inside when enabled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from certvault.vault import doublelock
from certvault.vault.core import VaultCore
from certvault.vault.models import Secret, SecretField, SecretHistory

_FIELDS = select(SecretField).where(SecretField.secret_id == bindparam("secret")).order_by(SecretField.position)


@dataclass
class FieldValue:
    slug: str
    name: str
    is_secret: bool
    is_file: bool
    filename: str | None
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def field_aad(field_id: uuid.UUID) -> str:
    return f"vault_field:{field_id}"


def history_aad(entry_id: uuid.UUID) -> str:
    return f"vault_history:{entry_id}"


class FieldStore:
    def __init__(self, core: VaultCore) -> None:
        self._c = core

    def fields(self, secret_id: uuid.UUID) -> list[SecretField]:
        return list(self._c.s.scalars(_FIELDS, {"secret": secret_id}))

    def write(self, field: SecretField, value: bytes, dl_key: bytes | None) -> None:
        aad = field_aad(field.id)
        field.size = len(value)
        if field.is_secret:
            inner = doublelock.lock_value(dl_key, value, aad) if dl_key else value
            field.sealed_value, field.text_value = self._c.ctx.sealer.seal(inner, aad), None
        else:
            field.text_value, field.sealed_value = value.decode("utf-8"), None

    def read(self, field: SecretField, dl_key: bytes | None) -> bytes:
        if not field.is_secret:
            return (field.text_value or "").encode()
        aad = field_aad(field.id)
        inner = self._c.ctx.sealer.open(field.sealed_value or b"", aad)
        return doublelock.unlock_value(dl_key, inner, aad) if dl_key else inner

    def value(self, field: SecretField, dl_key: bytes | None) -> FieldValue:
        return FieldValue(field.slug, field.name, field.is_secret, field.is_file, field.filename,
                          self.read(field, dl_key))

    def remember(self, secret: Secret, field: SecretField, actor_name: str) -> None:
        """Keep the current value of a secret field as history before it is replaced."""
        if not field.is_secret or field.sealed_value is None:
            return
        inner = self._c.ctx.sealer.open(field.sealed_value, field_aad(field.id))
        entry = SecretHistory(id=uuid.uuid4(), secret_id=secret.id, slug=field.slug, version=secret.version,
                              replaced_by=actor_name)
        # Double-locked values stay under the secret key: history is as protected as the value.
        entry.sealed_value = self._c.ctx.sealer.seal(inner, history_aad(entry.id))
        self._c.s.add(entry)

    def read_history(self, entry: SecretHistory, dl_key: bytes | None, field_id: uuid.UUID | None) -> bytes:
        inner = self._c.ctx.sealer.open(entry.sealed_value, history_aad(entry.id))
        if dl_key and field_id is not None:
            return doublelock.unlock_value(dl_key, inner, field_aad(field_id))
        return inner
