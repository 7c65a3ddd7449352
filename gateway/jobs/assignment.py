"""Automatic assignment of waiting chats, and the presence sweep that feeds it.

Every ``sweep_seconds`` (a task started after the server starts): the people with an open console on this gateway
are marked as seen (gateway/storage/presence.py); then, when ``STAFF_AUTO_ASSIGN=1``, each queue's waiting chats,
most urgent and oldest first, go to an online member of the queue's role (general → staff, counseling → counselor;
supervisors and admins are never assigned automatically) who owns fewer than ``STAFF_MAX_CHATS`` chats — the one
with the fewest, then the one assigned longest ago. Assigning is the router's ordinary claim, a conditional UPDATE,
so two gateways (or a person clicking 「担当する」 at the same moment) never get one chat twice; the loser moves on.
The assigned person hears of it live (Socket.IO ``assigned`` to their consoles). ``assign_waiting`` takes the time
as a parameter, so tests run it with a fixed clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Awaitable, Callable, List, Mapping, Optional, Tuple

from gateway.handoff.router import Router, conversation_ref
from gateway.staff import auth as staff_auth
from gateway.storage import presence
from gateway.storage.conversations import QUEUES, Conversation
from gateway.storage.db import run_db, utcnow

logger = logging.getLogger(__name__)
ASSIGN_ROLES = {"general": ("staff",), "counseling": ("counselor",)}
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class AssignSettings:
    enabled: bool = False
    max_chats: int = 3
    grace: timedelta = timedelta(seconds=60)
    sweep_seconds: float = 3.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "AssignSettings":
        """STAFF_AUTO_ASSIGN (0|1, default 0), STAFF_MAX_CHATS (3), STAFF_PRESENCE_GRACE_SECONDS (60),
        STAFF_SWEEP_SECONDS (3)."""
        return cls(enabled=env.get("STAFF_AUTO_ASSIGN", "0").strip().lower() in ("1", "true", "yes", "on"),
                   max_chats=max(1, int(env.get("STAFF_MAX_CHATS", "3"))),
                   grace=timedelta(seconds=max(1, int(env.get("STAFF_PRESENCE_GRACE_SECONDS", "60")))),
                   sweep_seconds=max(0.2, float(env.get("STAFF_SWEEP_SECONDS", "3"))))


Notify = Callable[[str, Conversation], Awaitable[None]]


async def assign_waiting(router: Router, db, settings: AssignSettings, notify: Notify,
                         now: Optional[datetime] = None) -> List[Tuple[str, str]]:
    """One round of assignment; returns (conversation id, username) of each chat assigned."""
    now = now or utcnow()
    people = await run_db(presence.members, db, settings.grace, now)
    assigned = []
    for queue in QUEUES:
        candidates = [m for m in people if m["status"] == "online" and m["role"] in ASSIGN_ROLES[queue]
                      and m["open_chats"] < settings.max_chats]
        if not candidates:
            continue
        for waiting in await run_db(router.store.waiting, [queue]):
            candidates = [m for m in candidates if m["open_chats"] < settings.max_chats]
            if not candidates:
                break
            pick = min(candidates, key=lambda m: (m["open_chats"], m["last_assigned"] or EPOCH, m["username"]))
            claimed = await router.claim(waiting.id, pick["username"])
            if claimed is None:
                continue  # taken meanwhile (a person, another gateway)
            pick["open_chats"] += 1
            pick["last_assigned"] = now
            await run_db(presence.mark_assigned, db, pick["username"], now)
            await run_db(staff_auth.audit, db, None, "auto_assign", waiting.id, pick["username"])
            logger.info("assigned conv=%s to=%s", conversation_ref(waiting.id), pick["username"])
            assigned.append((waiting.id, pick["username"]))
            await notify(pick["username"], claimed)
    return assigned


class AssignmentJob:
    """The periodic sweep: presence of this gateway's consoles, then (when enabled) assignment."""

    def __init__(self, router: Router, db, settings: AssignSettings, connected: Callable[[], List[str]],
                 notify: Notify) -> None:
        self.router, self.db, self.settings, self.connected, self.notify = router, db, settings, connected, notify
        self._task: Optional["asyncio.Task[None]"] = None
        self._lock = asyncio.Lock()

    async def start(self, *_) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self, *_) -> None:
        if self._task:
            self._task.cancel()

    async def run_once(self) -> None:
        async with self._lock:  # the sweep and a status change never assign at the same time here
            await run_db(presence.seen, self.db, self.connected())
            if self.settings.enabled:
                await assign_waiting(self.router, self.db, self.settings, self.notify)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_seconds)
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 — a database hiccup must not end the sweep
                logger.exception("staff: presence / assignment sweep failed")
