"""The domain-event outbox: domains append events in their transaction; consumers read each once through jobs."""
