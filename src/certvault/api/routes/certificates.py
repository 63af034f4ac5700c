"""REST routes for certificates (to be built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/certificates", tags=["certificates"])
