"""Alembic environment. The engine comes from the caller (certvault.db.migrate)."""

from __future__ import annotations

from alembic import context

from certvault.db.registry import load_all_models

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=load_all_models(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
