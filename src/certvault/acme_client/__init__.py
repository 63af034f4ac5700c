"""Pure ACME protocol layer over PyPI `acme` (retries, fast polling, ARI, replaces, EAB)."""
