"""Notification channels (email, syslog, webhook), subscriptions and the delivery outbox."""
