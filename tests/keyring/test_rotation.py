"""`certvault keys rotate-master` re-wraps every data key and survives being killed midway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from certvault.container import App, build_app
from certvault.keyring.models import DataKey
from tests.conftest import make_settings

BIN = Path(sys.executable).parent


def _seal_under_many_data_keys(app: App, count: int) -> list[tuple[bytes, str]]:
    sealed = []
    for i in range(count):
        app.keyring.rotate_data_key()
        with app.transaction() as svc:
            sealed.append((svc.sealer.seal(f"secret-{i}", aad=f"t:{i}"), f"t:{i}"))
    return sealed


def _all_open(app: App, sealed: list[tuple[bytes, str]]) -> bool:
    with app.transaction() as svc:
        return all(svc.sealer.open_text(blob, aad).startswith("secret-") for blob, aad in sealed)


def _master_ids(app: App) -> dict[str, int]:
    with app.sessions() as session:
        rows = session.execute(select(DataKey.master_key_id, func.count()).group_by(DataKey.master_key_id))
        return {key: count for key, count in rows}


def test_rotation_killed_midway_loses_nothing_and_completes_on_rerun(app: App) -> None:
    settings = app.settings
    sealed = _seal_under_many_data_keys(app, 400)
    old_id = app.keyring.master.current
    env = {**os.environ, "CERTVAULT_DATA_DIR": str(settings.data_dir),
           "CERTVAULT_DB_URL": settings.database_url, "CERTVAULT_SECURITY_PASSWORD_MIN_LENGTH": "8"}
    proc = subprocess.Popen([str(BIN / "certvault"), "keys", "rotate-master", "--batch-size", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until some, but not all, data keys moved to the new key
        ids = _master_ids(app)
        if len(ids) == 2 and all(count > 5 for count in ids.values()):
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    keys_file = json.loads(settings.master_key_path.read_text())
    assert len(keys_file["keys"]) == 2 and keys_file["current"] != old_id  # both keys kept
    assert len(_master_ids(app)) == 2  # interrupted halfway

    fresh = build_app(make_settings(settings.data_dir, settings.db.url.get_secret_value()
                                    if settings.db.url else None), run_migrations=False)
    try:
        assert _all_open(fresh, sealed)  # nothing lost while half-rotated
        done = subprocess.run([str(BIN / "certvault"), "keys", "rotate-master"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        keys_file = json.loads(settings.master_key_path.read_text())
        assert list(keys_file["keys"]) == [keys_file["current"]]
        assert _master_ids(fresh) == {keys_file["current"]: len(sealed) + 2}
        fresh.keyring.reload()
    finally:
        fresh.close()
    final = build_app(make_settings(settings.data_dir, settings.db.url.get_secret_value()
                                    if settings.db.url else None), run_migrations=False)
    try:
        assert _all_open(final, sealed)
    finally:
        final.close()
