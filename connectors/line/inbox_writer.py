"""All writes to the durable LINE inbox, fast enough for LINE's ack (p99 < 50 ms under engine load).

They run in one thread of their own (not the pool where the turns' database calls queue), one after another
(no two writers wait for SQLite's lock), and the writes that arrive while one is under way go together into
the next transaction (a group commit: one disk flush for all). Should that transaction fail, each write is
tried alone, so one bad write fails only its own caller (a webhook is then answered 500 and redelivered).
A write that is one statement (``line_inbox.one_statement``) and finds no other waiting runs without a transaction
on PostgreSQL (autocommit: one round trip instead of three; the light-load case, every turn's own writes).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, List, Tuple

import sqlalchemy as sa

from gateway.storage.line_inbox import Inbox

Op = Callable[[sa.engine.Connection], Any]
Write = Tuple[Op, bool]  # the op, and whether it is one statement


class InboxWriter:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self._pending: List[Tuple[Write, asyncio.Future]] = []
        self._flushing = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="line-inbox")

    async def call(self, method: Callable[..., Any], *args: Any) -> Any:
        """``await writer.call(inbox.done_op, entry_id)``: the write committed, its result."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._pending.append(((lambda c: method(c, *args), getattr(method, "one_statement", False)), done))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                results = await loop.run_in_executor(self._thread, self._write, [write for write, _ in batch])
                for (_, done), (ok, value) in zip(batch, results):
                    if not done.done():
                        done.set_result(value) if ok else done.set_exception(value)
        finally:
            self._flushing = False

    def _write(self, writes: List[Write]) -> List[Tuple[bool, Any]]:
        try:
            return [(True, value) for value in self.inbox.apply([op for op, _ in writes],
                                                                alone=len(writes) == 1 and writes[0][1])]
        except Exception:  # noqa: BLE001 — find the write that failed: each alone
            results = []
            for op, single in writes:
                try:
                    results.append((True, self.inbox.apply([op], alone=single)[0]))
                except Exception as exc:  # noqa: BLE001 — reported to its caller
                    results.append((False, exc))
            return results

    def close(self) -> None:
        self._thread.shutdown(wait=False)
