"""Alembic environment: runs migrations on the engine handed over by db.engine."""

from __future__ import annotations

from alembic import context

from db.models import TABLES

config = context.config


def run_migrations() -> None:
    engine = config.attributes.get("connection_engine")
    if engine is None:  # `alembic` command line: build one from the usual resolution
        from db.engine import make_engine

        engine = make_engine(migrate=False)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=TABLES,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
