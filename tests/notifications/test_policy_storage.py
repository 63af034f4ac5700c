"""Policies on both databases: the default policy from the migration, and a due run claimed once when two
workers check at the same moment."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.notifications.policies import PolicySpec
from tests.certificates.factory import make_ca, make_leaf

ADMIN = Actor.system("test-admin", via="cli")


def test_default_policy_and_one_run_for_two_workers(app: App) -> None:
    with app.transaction() as svc:
        [default] = svc.notification_policies.list_policies(ADMIN)
        assert (default.name, default.is_default, default.filters, default.channel_ids) == \
            ("expiring-certificates", True, {}, [])
        svc.notifications.create_channel(ADMIN, "hook", "webhook", {"url": "https://127.0.0.1:9/hook"})
        svc.certificates.import_data(ADMIN, make_leaf(make_ca("Storage CA"), "both.example.com", days=3).pem, "b.pem")
        policy = svc.notification_policies.add(ADMIN, PolicySpec("twice", filters={"tags": []}), ["hook"])
        policy.next_run_at = datetime.now(UTC) - timedelta(seconds=5)
        policy_id = policy.id
    barrier, results = threading.Barrier(2), []

    def worker() -> None:
        barrier.wait(30)
        with app.transaction() as svc:
            results.append(svc.notification_policies.run_due(policy_id))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    ran: list[dict[str, Any]] = [r for r in results if r is not None]
    assert len(results) == 2 and len(ran) == 1 and ran[0]["certificates"] == 1
    with app.transaction() as svc:
        assert len(svc.notifications.list_outbox(ADMIN, status="pending")) == 1
        policy = svc.notification_policies.get(ADMIN, "twice")
        assert policy.next_run_at is not None and policy.next_run_at > datetime.now(UTC)
        assert policy.last_result["messages"] == ran[0]["messages"]
