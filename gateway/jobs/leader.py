"""One runner at a time for the gateway's periodic jobs when several gateways share one PostgreSQL.

``Leader(db, "reminders").held()`` is True in the one gateway that holds the session-level advisory lock
``pg_try_advisory_lock(JOBS, hash(name))`` on a connection of its own (kept open while it leads). When that
gateway dies (also kill -9) PostgreSQL ends its session and frees the lock: the next gateway to ask takes it.
Every call checks, on that very connection, that the lock is still granted, so a leader whose connection broke
(a PostgreSQL restart) stops leading at its next run. On SQLite (one machine, one gateway) it always leads.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from common.advisory import LockConnection, lock_key

logger = logging.getLogger(__name__)

JOBS = 0x5a_70_01  # the advisory lock class of the jobs (LINE chats use their own, gateway/storage/line_inbox.py)


class Leader:
    def __init__(self, db: sa.engine.Engine, name: str) -> None:
        self.db = db
        self.name = name
        self.key = lock_key(name)
        self.shared = db.dialect.name == "postgresql"
        self._session = LockConnection(db)
        self._leading = False

    def held_sync(self) -> bool:
        if not self.shared:
            return True
        with self._session.lock:
            try:
                c = self._session.connection()
                held = c.execute(sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND CAST(classid AS bigint) = :a "
                    "AND CAST(objid AS bigint) = :b AND objsubid = 2 AND pid = pg_backend_pid() AND granted"),
                    {"a": JOBS & 0xFFFFFFFF, "b": self.key & 0xFFFFFFFF}).scalar_one() > 0
                if not held:
                    held = bool(c.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"),
                                          {"a": JOBS, "b": self.key}).scalar_one())
            except Exception as exc:  # noqa: BLE001 — the connection broke: not leading; a new one next time
                logger.warning("job %s: leader check failed (%s)", self.name, type(exc).__name__)
                self._session.drop()
                held = False
        if held != self._leading:
            logger.info("job %s: %s", self.name, "this gateway runs it" if held else "another gateway runs it")
            self._leading = held
        return held

    async def held(self) -> bool:
        if not self.shared:
            return True
        return await asyncio.to_thread(self.held_sync)

    def close(self) -> None:
        """Give the lead up: the connection is closed, not returned to the pool (its session's end frees the lock)."""
        self._session.close()
        self._leading = False
