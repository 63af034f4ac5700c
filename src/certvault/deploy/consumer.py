"""The `deploy` event consumer (events/consumers.py): a certificate issued or renewed is deployed where mapped."""

from __future__ import annotations

from typing import Any


def on_event(services: Any, event: Any) -> None:
    services.deploy.on_event(event)
