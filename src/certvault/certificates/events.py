"""Events of the inventory (collected by events/catalogue.py). A bulk import is one event, not one per certificate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from certvault.events.catalogue import EventType

if TYPE_CHECKING:
    from certvault.certificates.importing import FileResult

EVENTS = (
    EventType("certificate.imported", "certificates were imported into the inventory (one event per file)"),
)


def import_summary(result: FileResult) -> str:
    return (f"{result.certificates} certificates in {result.file}: {result.created} new, {result.renewed} renewed, "
            f"{result.history} older versions, {result.unchanged} already stored.")
