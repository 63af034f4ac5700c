"""REST routes for scans (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/scans", tags=["scans"])
