"""Notification channels (email, syslog, webhook): one module per channel kind."""
