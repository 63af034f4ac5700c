"""ACME accounts, orders as durable state machines, challenges, renewal, revocation."""
