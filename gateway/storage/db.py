"""The gateway's database: conversations and their owners, messages, staff users and sessions, audit log.

SQLAlchemy Core, so the same code runs on the embedded default (SQLite file ``var/gateway.db``) and on
PostgreSQL (``GATEWAY_DB_URL=postgresql+psycopg://…``) for several gateway machines. Every module
declares its tables on ``metadata`` (``load_tables`` imports them all); ``connect(url)`` brings the schema to
the newest Alembic revision of ``migrations/gateway/`` (common/migrate.py: one process at a time, a database
made by ``create_all`` before migrations is adopted with its rows). A new table or column needs a revision.

Calls are synchronous and short (indexed single-row reads and writes); the async handlers run them
in a worker thread with ``run_db`` so a slow disk never blocks the event loop.

On PostgreSQL every round trip counts (a turn makes a few): a pooled connection is checked without one
(``_check_on_checkout``) instead of SQLAlchemy's ``pool_pre_ping``, which pings on every checkout.
"""

from __future__ import annotations

import asyncio
import select
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, TypeVar

import sqlalchemy as sa

from gateway.settings import SQLITE_SYNCHRONOUS_VALUES

metadata = sa.MetaData()
T = TypeVar("T")
# A pooled PostgreSQL connection idle longer than this is pinged when checked out (one round trip); one used more
# recently only gets the free check of ``_check_on_checkout``.
PING_IDLE_SECONDS = 1.0


def utcnow() -> datetime:
    """Naive UTC (SQLite keeps no zone; PostgreSQL columns are TIMESTAMP WITHOUT TIME ZONE)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def connect(url: str, sqlite_synchronous: str = "NORMAL") -> sa.engine.Engine:
    """The database at ``url``, its schema migrated; ``sqlite_synchronous``: Settings.sqlite_synchronous."""
    sqlite = url.startswith("sqlite")
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    # A file needs no ping. PostgreSQL's connections are checked by _check_on_checkout; the pool hands out the one
    # used last (LIFO), so under load a connection is seldom idle long enough to need the ping.
    engine = sa.create_engine(url, future=True, pool_use_lifo=not sqlite,
                              hide_parameters=True)  # errors in logs never carry what a citizen wrote
    if not sqlite:
        _check_on_checkout(engine)
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


def _check_on_checkout(engine: sa.engine.Engine) -> None:
    """What ``pool_pre_ping`` gave (a PostgreSQL restart costs only the turns in flight), without its round trip on
    every checkout. A connection the server closed (a restart, a failover, ``pg_terminate_backend``, an idle timeout)
    has something to read while it sits in the pool — the server's last error, or the end of the stream — so a
    pooled connection with anything to read is dead: the pool is invalidated, as after a failed pre-ping, and the
    checkout gets a new connection. That costs no round trip. A connection idle longer than PING_IDLE_SECONDS is
    pinged as before (the server's goodbye may still be on its way over a real network)."""
    @sa.event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, _proxy) -> None:
        returned = record.info.get("returned_at")
        if returned is None:
            return  # a new connection
        if dbapi_connection.closed or _has_input(dbapi_connection.fileno()):
            raise sa.exc.InvalidatePoolError("the server closed a pooled connection")
        if time.monotonic() - returned > PING_IDLE_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except engine.dialect.loaded_dbapi.Error as exc:
                raise sa.exc.InvalidatePoolError("a pooled connection failed its ping") from exc


def _has_input(fileno: int) -> bool:
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))  # POLLHUP and POLLERR are reported too


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
