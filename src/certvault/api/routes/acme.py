"""REST routes for acme (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/acme", tags=["acme"])
