"""Integrations behind small protocols, looked up by (kind, name) in a registry."""
