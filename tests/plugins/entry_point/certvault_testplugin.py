"""A notify plugin installed only through an entry point (certvault.notify), for tests: it proves a
third-party plugin appears in the CLI, the API and the web UI and works end to end, with no certvault
code naming it. Each message is appended as one JSON line to `path`; the token never is."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from certvault.errors import IntegrationError


class EchoOptions(BaseModel):
    path: str = Field(min_length=1, description="file the messages are appended to")
    style: Literal["plain", "loud"] = "plain"
    tags: list[str] = Field(default_factory=list)


class EchoNotifier:
    name: ClassVar[str] = "echo"
    title: ClassVar[str] = "Echo file (test plugin)"
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    Options = EchoOptions

    def __init__(self, options: EchoOptions, secrets: Any, _http: Any = None) -> None:
        self.options = options
        self._token = secrets("token")

    def check(self) -> str:
        target = Path(self.options.path)
        if not target.parent.is_dir():
            raise IntegrationError(f"{target.parent} does not exist")
        return f"echo file {target} is writable"

    def send(self, note: Any) -> None:
        title = note.title.upper() if self.options.style == "loud" else note.title
        line = {"event": note.event, "title": title, "tags": self.options.tags,
                "token_sha256": hashlib.sha256(self._token.encode()).hexdigest()}
        with open(self.options.path, "a") as out:
            out.write(json.dumps(line) + "\n")
