"""The gateway's database: conversations and their owners, messages, staff users and sessions, audit log.

SQLAlchemy Core, so the same code runs on the embedded default (SQLite file ``var/gateway.db``) and on
PostgreSQL (``GATEWAY_DB_URL=postgresql+psycopg://…``) for several gateway machines. Every module
declares its tables on ``metadata``; ``connect(url)`` creates what is missing.

Calls are synchronous and short (indexed single-row reads and writes); the async handlers run them
in a worker thread with ``run_db`` so a slow disk never blocks the event loop.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, TypeVar

import sqlalchemy as sa

metadata = sa.MetaData()
T = TypeVar("T")


def utcnow() -> datetime:
    """Naive UTC (SQLite keeps no zone; PostgreSQL columns are TIMESTAMP WITHOUT TIME ZONE)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def connect(url: str) -> sa.engine.Engine:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # concurrent readers, one writer, no lost writes
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    # Import the modules that declare tables, so create_all knows them all (the one place that lists them).
    from gateway.staff import auth  # noqa: F401
    from gateway.storage import canned, conversations, line_events, line_inbox  # noqa: F401

    metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: sa.engine.Engine) -> None:
    """A database made by an older version gets the columns added since (nullable or with a server default).
    Enough for added columns; anything else needs a real migration tool (Alembic, see issue on scale-out)."""
    inspector = sa.inspect(engine)
    with engine.begin() as c:
        for table in metadata.sorted_tables:
            present = {col["name"] for col in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                ddl = column.type.compile(engine.dialect)
                clause = f" NOT NULL DEFAULT {_default_sql(column, engine)}" if column.server_default is not None else ""
                c.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {ddl}{clause}"))


def _default_sql(column: sa.Column, engine: sa.engine.Engine) -> str:
    arg = column.server_default.arg
    if isinstance(arg, str):
        return arg if arg.isdigit() else "'" + arg.replace("'", "''") + "'"
    return str(arg.compile(dialect=engine.dialect))


async def run_db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args, **kwargs))
