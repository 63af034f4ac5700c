"""REST routes for vault (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/vault", tags=["vault"])
