"""Hash-chained, append-only audit log, written in the caller's transaction."""
