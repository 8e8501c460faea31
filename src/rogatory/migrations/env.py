"""Alembic environment: migrates the database named by the node's settings (or the connection
handed in by `rogatory.bootstrap`)."""

from __future__ import annotations

from alembic import context

import rogatory.models  # noqa: F401  (registers every table)
from rogatory.config import Settings
from rogatory.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(Settings())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
