"""Help-desk tickets for expiring and vulnerable certificates (docs/tickets.md)."""
