"""Engine, sessions, column types and Alembic migrations (SQLite WAL or PostgreSQL)."""
