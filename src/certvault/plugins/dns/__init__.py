"""DNS providers for dns-01 challenges: one module per service."""
