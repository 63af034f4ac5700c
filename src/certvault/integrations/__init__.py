"""Integration accounts: every configured DNS provider, channel, help desk and deploy target, one model."""
