"""AgentJobs (plugins/protocols.py) over the agents service: queue a job in one transaction, then read its
state in short transactions until the agent reports it. Bound to the `agent` deploy target when the
application starts (container.App), so the plugin reaches agents without importing anything of the app."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from certvault.errors import CertvaultError, IntegrationError

POLL_SECONDS = 0.5


class AgentJobChannel:
    def __init__(self, transaction: Callable[[], AbstractContextManager[Any]]) -> None:
        self._transaction = transaction

    def run(self, agent: str, kind: str, payload: Mapping[str, Any], *, secret: bytes | None = None,
            timeout: float = 300.0, dedup_key: str | None = None) -> Mapping[str, Any]:
        try:
            with self._transaction() as svc:
                job_id = svc.agents.submit(agent, kind, dict(payload), secret=secret, dedup_key=dedup_key)
        except CertvaultError as exc:
            raise IntegrationError(f"agent {agent}: {exc.message}") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._transaction() as svc:
                job = svc.agents.job(job_id)
                state, result, error = job.state, dict(job.result), job.error
            if state == "done":
                return result
            if state == "failed":
                raise IntegrationError(f"agent {agent}: {error}")
            time.sleep(POLL_SECONDS)
        raise IntegrationError(f"agent {agent} did not finish the {kind} job within {timeout:.0f} s "
                               "(is certvault-agent running there?)")

    def describe(self, agent: str) -> str:
        with self._transaction() as svc:
            return str(svc.agents.describe(agent))


_BOUND: dict[str, Any] = {}  # the application this process serves (one per process; in tests the latest built)


def bind(registry: Any, transaction: Callable[[], AbstractContextManager[Any]]) -> None:
    """Give the `agent` deploy target this application's channel: the registry entry names a subclass that
    carries it, built when a deploy target is first built (importing no plugin module at start-up)."""
    _BOUND.clear()
    _BOUND["transaction"] = transaction
    registry.register("deploy", "agent", f"{__name__}:AgentTarget")


def __getattr__(name: str) -> Any:
    if name != "AgentTarget":
        raise AttributeError(name)
    if "class" not in _BOUND:
        from certvault.plugins.deploy.agent import AgentTarget

        _BOUND["class"] = type("AgentTarget", (AgentTarget,),
                               {"jobs": AgentJobChannel(_BOUND["transaction"]), "__module__": __name__})
    return _BOUND["class"]
