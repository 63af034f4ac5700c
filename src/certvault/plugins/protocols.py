"""The small protocols every integration implements. Imports nothing of the app but errors."""

from __future__ import annotations
