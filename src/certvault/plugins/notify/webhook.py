"""Webhook: a JSON POST signed with HMAC-SHA256 so the receiver can check it came from certvault.

`format`: `json` (certvault's own shape, below), `slack` (an incoming-webhook message: text plus blocks) or
`teams` (a Microsoft Teams workflow message carrying an Adaptive Card).

Headers: X-Certvault-Event, X-Certvault-Timestamp (unix seconds) and
X-Certvault-Signature: sha256=HEX(HMAC(secret, "<timestamp>.<body>")).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from certvault.errors import InvalidInput
from certvault.plugins.protocols import HttpClientFactory, Notification, SecretResolver
from certvault.plugins.signed_post import HttpsUrl, post_signed


class WebhookOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpsUrl
    format: Literal["json", "slack", "teams"] = "json"
    ca_file: str | None = None
    timeout: float = Field(default=10.0, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict)


def json_message(note: Notification) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": note.message_id, "event": note.event, "title": note.title, "body": note.body,
        "severity": note.severity, "occurred_at": note.occurred_at.isoformat(), "details": dict(note.details)}
    if note.items:
        message["items"] = [dict(item) for item in note.items]
    return message


def slack_message(note: Notification) -> dict[str, Any]:
    """Slack incoming webhook: `text` (notifications, fallback) and Block Kit blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": note.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (note.body or note.title)[:3000]}},
    ]
    facts = [f"*{key}*: {value}" for key, value in note.details.items()][:10]
    if facts:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f[:2000]} for f in facts]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"{note.event} · {note.severity} · {note.occurred_at.isoformat()}"}]})
    return {"text": note.title, "blocks": blocks}


def teams_message(note: Notification) -> dict[str, Any]:
    """Microsoft Teams (Workflows "post to a channel when a webhook request is received"): an Adaptive Card."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": note.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": note.body or note.title, "wrap": True},
    ]
    facts = [{"title": key, "value": str(value)} for key, value in note.details.items()]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body}
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


class WebhookNotifier:
    name: ClassVar[str] = "webhook"
    title: ClassVar[str] = "Webhook (JSON, HMAC-signed)"
    secret_fields: ClassVar[tuple[str, ...]] = ("signing_secret",)
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = WebhookOptions

    def __init__(self, options: WebhookOptions, secrets: SecretResolver,
                 http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets
        self._http = http

    @staticmethod
    def validate_secrets(_options: WebhookOptions, secrets: Mapping[str, str]) -> None:
        secret = secrets.get("signing_secret")
        if secret is not None and len(secret) < 16:
            raise InvalidInput("webhook channel: the signing secret must be at least 16 characters")

    def payload(self, note: Notification) -> bytes:
        shape = {"slack": slack_message, "teams": teams_message}.get(self.options.format, json_message)
        return json.dumps(shape(note), separators=(",", ":")).encode()

    def send(self, note: Notification) -> None:
        post_signed(self._http, self.options.url, note.event, self.payload(note),
                    secret=self._secrets("signing_secret"), label=f"webhook to {urlsplit(self.options.url).hostname}",
                    timeout=self.options.timeout, ca_file=self.options.ca_file, headers=self.options.headers)
