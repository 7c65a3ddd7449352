"""PostgreSQL advisory locks, the one way the services take a lock across processes on a shared database.

``lock_key`` turns a name (a job, a LINE chat, a migration chain) into the signed 32-bit key the two-int4 form
``pg_*advisory*lock(class, key)`` takes; each user has its own lock class. ``LockConnection`` is the one
connection a process keeps open for its session-level locks: PostgreSQL frees them when the session ends (also on
kill -9), so it is closed, never returned to the pool, when they are given up or it broke.
"""

from __future__ import annotations

import threading
import zlib
from typing import Optional

import sqlalchemy as sa


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a name (two names with one crc32 share a lock: they only wait for each other)."""
    value = zlib.crc32(name.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class LockConnection:
    """One AUTOCOMMIT connection of its own for session-level advisory locks, opened on first use; ``lock``
    serializes its users (a connection runs one statement at a time)."""

    def __init__(self, db: sa.engine.Engine) -> None:
        self.db = db
        self.lock = threading.Lock()
        self._conn: Optional[sa.engine.Connection] = None

    def connection(self) -> sa.engine.Connection:
        """The open connection (call with ``lock`` held)."""
        if self._conn is None:
            self._conn = self.db.connect()
            self._conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def drop(self) -> None:
        """End the session (its locks with it); the next ``connection()`` opens a new one. Call with ``lock`` held."""
        if self._conn is not None:
            try:
                self._conn.invalidate()
                self._conn.close()
            except Exception:  # noqa: BLE001 — already broken: nothing left to free
                pass
            self._conn = None

    def close(self) -> None:
        with self.lock:
            self.drop()
