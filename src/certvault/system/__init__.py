"""Runtime settings that administrators change (data, not config)."""
