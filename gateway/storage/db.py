"""The gateway's database: conversations and their owners, messages, staff users and sessions, audit log.

SQLAlchemy Core, so the same code runs on the embedded default (SQLite file ``var/gateway.db``) and on
PostgreSQL (``GATEWAY_DB_URL=postgresql+psycopg://…``) for several gateway machines. Every module
declares its tables on ``metadata`` (``load_tables`` imports them all); ``connect(url)`` brings the schema to
the newest Alembic revision of ``migrations/gateway/`` (common/migrate.py: one process at a time, a database
made by ``create_all`` before migrations is adopted with its rows). A new table or column needs a revision.

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

from gateway.settings import SQLITE_SYNCHRONOUS_VALUES

metadata = sa.MetaData()
T = TypeVar("T")


def utcnow() -> datetime:
    """Naive UTC (SQLite keeps no zone; PostgreSQL columns are TIMESTAMP WITHOUT TIME ZONE)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def connect(url: str, sqlite_synchronous: str = "NORMAL") -> sa.engine.Engine:
    """The database at ``url``, its schema migrated; ``sqlite_synchronous``: Settings.sqlite_synchronous."""
    sqlite = url.startswith("sqlite")
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True, pool_pre_ping=not sqlite,  # a file needs no ping (PostgreSQL does)
                              hide_parameters=True)  # errors in logs never carry what a citizen wrote
    if engine.dialect.name == "sqlite":
        synchronous = sqlite_synchronous if sqlite_synchronous in SQLITE_SYNCHRONOUS_VALUES else "NORMAL"

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # concurrent readers, one writer, no lost writes
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    migrate(engine)
    return engine


def load_tables() -> sa.MetaData:
    """Import every module that declares tables on ``metadata`` (the one place that lists them)."""
    from gateway.staff import auth  # noqa: F401
    from gateway.storage import (canned, conversations, handoff_log, line_events, line_inbox,  # noqa: F401
                                 presence, reports)
    return metadata


def migrate(engine: sa.engine.Engine) -> None:
    """The schema to the head of migrations/gateway (serialized across processes, see common/migrate.py)."""
    from common.migrate import upgrade

    load_tables()
    upgrade(engine, "gateway")


async def run_db(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args, **kwargs))
