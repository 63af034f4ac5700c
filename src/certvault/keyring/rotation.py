"""Master key rotation that survives being killed at any instant.

1. The new key is added to the file and made current (atomic rename), old keys kept.
2. Data keys are re-wrapped in small committed batches.
3. Only when no data key refers to an old master key are the old keys dropped from the file.
Re-running after an interruption continues from whatever step was reached.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from certvault.crypto import envelope
from certvault.keyring import master as master_file
from certvault.keyring.models import DataKey


@dataclass
class RotationResult:
    new_key_id: str
    rewrapped: int
    retired: list[str]


def rotate_master(
    path: Path,
    sessions: sessionmaker[Session],
    batch_size: int = 200,
    on_batch: Callable[[int], None] | None = None,
) -> RotationResult:
    master = master_file.load(path)
    if len(master.keys) == 1:  # no rotation in progress: start one
        key_id = master_file.new_key_id()
        master.keys[key_id] = os.urandom(envelope.KEY_BYTES)
        master.created[key_id] = datetime.now(UTC).isoformat()
        master.current = key_id
        master_file.save(path, master)
    total = 0
    while True:
        with sessions() as session, session.begin():
            rows = session.scalars(
                select(DataKey).where(DataKey.master_key_id != master.current).limit(batch_size)
            ).all()
            for row in rows:
                raw = envelope.unwrap_key(master.key(row.master_key_id), row.wrapped, row.id)
                row.wrapped = envelope.wrap_key(master.current_key, raw, row.id)
                row.master_key_id = master.current
        if not rows:
            break
        total += len(rows)
        if on_batch:
            on_batch(total)
    with sessions() as session:
        remaining = session.scalar(
            select(func.count()).select_from(DataKey).where(DataKey.master_key_id != master.current)
        )
    retired = [k for k in master.keys if k != master.current]
    if remaining == 0 and retired:
        master.keys = {master.current: master.current_key}
        master.created = {k: v for k, v in master.created.items() if k == master.current}
        master_file.save(path, master)
    return RotationResult(master.current, total, retired)
