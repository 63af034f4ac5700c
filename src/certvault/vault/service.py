"""Operations of this domain (to be built)."""

from __future__ import annotations

from certvault.context import ServiceContext


class VaultService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
