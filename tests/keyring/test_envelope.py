"""Envelope encryption: sealed values open only with the right key and context."""

from __future__ import annotations

import pytest

from certvault.container import App
from certvault.crypto.envelope import DecryptionError


def test_sealed_value_round_trips_and_is_bound_to_its_context(app: App) -> None:
    with app.transaction() as svc:
        blob = svc.sealer.seal("hunter2-secret", aad="users:1")
        assert b"hunter2" not in blob
        assert svc.sealer.open_text(blob, aad="users:1") == "hunter2-secret"
        with pytest.raises(DecryptionError, match="bound to another record"):
            svc.sealer.open(blob, aad="users:2")
        tampered = blob[:-1] + bytes([blob[-1] ^ 1])
        with pytest.raises(DecryptionError):
            svc.sealer.open(tampered, aad="users:1")


def test_values_sealed_before_a_data_key_rotation_still_open(app: App) -> None:
    with app.transaction() as svc:
        old = svc.sealer.seal("before")
    new_key = app.keyring.rotate_data_key()
    with app.transaction() as svc:
        new = svc.sealer.seal("after")
        assert new[3:19] == new_key.bytes and old[3:19] != new_key.bytes
        assert (svc.sealer.open_text(old), svc.sealer.open_text(new)) == ("before", "after")
