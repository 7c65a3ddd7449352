"""The consoles' lists are refreshed one at a time, and the lists sent last are read after the last change
(gateway/staff/console/live.py ``_queue_here``). The reading is slowed down here so that changes arrive while a
refresh runs, as they do when many chats queue at once."""

from __future__ import annotations

import asyncio
from typing import List

from gateway.staff.console import live
from gateway.staff.console.live import LiveUpdates


class Lists(LiveUpdates):
    """Only the refresh logic: ``_send_queues`` records which change it read, slowly."""

    def __init__(self, fail_first: int = 0) -> None:
        self._queue_refreshing = asyncio.Lock()
        self.changes = 0
        self.sent: List[int] = []
        self.running = 0
        self.overlapped = False
        self.fail_first = fail_first

    async def change(self) -> None:
        self.changes += 1
        await self._queue_here({})

    async def _send_queues(self) -> None:
        self.running += 1
        self.overlapped |= self.running > 1
        try:
            read = self.changes
            await asyncio.sleep(0.01)
            if self.fail_first:
                self.fail_first -= 1
                raise RuntimeError("database is locked")
            self.sent.append(read)
        finally:
            self.running -= 1


async def test_changes_during_a_refresh_are_sent_after_it_and_refreshes_never_overlap():
    lists = Lists()
    for _ in range(3):
        await asyncio.gather(*(lists.change() for _ in range(10)), asyncio.sleep(0.005))
        await asyncio.sleep(0.05)
    assert not lists.overlapped
    assert lists.sent[-1] == lists.changes == 30
    assert lists.sent == sorted(lists.sent) and len(lists.sent) < 30  # coalesced, in order


async def test_a_failed_refresh_is_tried_again(monkeypatch):
    monkeypatch.setattr(live, "QUEUE_RETRY_SECONDS", 0.01)
    lists = Lists(fail_first=2)
    await lists.change()
    assert lists.sent == [1]
