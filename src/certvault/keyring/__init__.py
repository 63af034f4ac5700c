"""Envelope encryption at rest: the master key file, wrapped data keys, sealing and rotation."""
