"""certvault: certificate lifecycle manager with a secrets vault."""

__version__ = "0.1.0"
