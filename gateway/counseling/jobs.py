"""The counseling upkeep job, run by the gateway every ``COUNSELING_SWEEP_SECONDS``:

* **inactivity**: a counseling chat with a counselor where the youth has not written for
  ``COUNSELING_IDLE_CHECK_MINUTES`` gets a gentle check; with no answer ``COUNSELING_IDLE_CLOSE_MINUTES``
  later it is closed (outcome ``no_response``) with how to come back;
* **long waits**: a chat (any queue) waiting longer than ``STAFF_LONG_WAIT_SECONDS`` (default
  ``COUNSELING_REALERT_MINUTES``) alerts those who answer its queue and the supervisors, and is escalated to the
  supervisors (``Notifier.escalate``: the console's ``escalation`` event); again every
  ``COUNSELING_REALERT_MINUTES`` while it waits, so nobody waits unseen;
* **retention**: counseling messages older than ``COUNSELING_RETENTION_DAYS`` (default 90) are deleted;
  nothing else is.

``sweep`` takes the time as a parameter (naive UTC, like the database), so tests run it with a fixed clock.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Dict, Optional

from gateway import texts
from gateway.counseling.desk import LEVEL_LABELS
from gateway.storage.db import run_db, utcnow
from gateway.storage.conversations import STAFF_PREFIX, conversations

if TYPE_CHECKING:
    from gateway.handoff.router import Router

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpkeepSettings:
    idle_check_minutes: float = 15
    idle_close_minutes: float = 10
    realert_minutes: float = 5
    retention_days: float = 90
    long_wait_seconds: Optional[float] = None  # the first long-wait alert; None: realert_minutes


async def sweep(router: "Router", settings: UpkeepSettings, now: datetime) -> Dict[str, int]:
    """One pass; returns what it did (for logs and tests)."""
    done = {"checked": 0, "closed": 0, "realerted": 0, "purged": 0}
    store = router.store
    for conversation in await run_db(store.counseling_sessions):
        if not conversation.owner.startswith(STAFF_PREFIX):
            continue  # waiting: the youth is waiting for us, not the other way round
        last = max(t for t in (conversation.last_user_at, conversation.claimed_at, conversation.counseling_since) if t)
        if conversation.idle_checked_at is None:
            if now - last >= timedelta(minutes=settings.idle_check_minutes):
                if not await run_db(_claim, store.engine, conversation.id, "idle_checked_at", None, now):
                    continue  # another gateway sent it
                await router._tell(conversation, texts.IDLE_CHECK)
                await router.notifier.conversation(await run_db(store.get, conversation.id))
                done["checked"] += 1
        elif now - conversation.idle_checked_at >= timedelta(minutes=settings.idle_close_minutes):
            if await router.hand_back(conversation.id, conversation.owner, "no_response", told=texts.IDLE_CLOSED):
                logger.info("counseling chat closed after inactivity")
                done["closed"] += 1
    cutoff = now - timedelta(minutes=settings.realert_minutes)
    first = now - (timedelta(seconds=settings.long_wait_seconds) if settings.long_wait_seconds
                   else timedelta(minutes=settings.realert_minutes))
    for conversation in await run_db(store.waiting_since_before, first):
        if conversation.alerted_at and conversation.alerted_at > cutoff:
            continue
        if not await run_db(_claim, store.engine, conversation.id, "alerted_at", cutoff, now):
            continue  # another gateway alerted meanwhile
        minutes = int((now - conversation.waiting_since).total_seconds() // 60)
        level = conversation.risk if conversation.queue == "counseling" and conversation.risk != "none" else "normal"
        who = "相談" if conversation.queue == "counseling" else "問い合わせ"
        roles = ("counselor", "supervisor") if conversation.queue == "counseling" else ("staff", "supervisor")
        payload = {"conversation_id": conversation.id, "level": level, "kind": "long_wait",
                   "text": texts.staff_long_wait(minutes, who, LEVEL_LABELS.get(level, "")),
                   "offer_transfer": False, "queue": conversation.queue, "minutes": minutes,
                   "waiting_since": conversation.waiting_since.isoformat(timespec="seconds") + "Z", "escalated": True}
        await router.notifier.alert(payload, roles=roles)
        await router.notifier.escalate(payload)
        done["realerted"] += 1
    done["purged"] = await run_db(store.purge_protected, now - timedelta(days=settings.retention_days))
    if any(done.values()):
        logger.info("counseling upkeep %s", " ".join(f"{k}={v}" for k, v in done.items()))
    return done


def _claim(db, conversation_id: str, column: str, due_before: Optional[datetime], now: datetime) -> bool:
    """Set ``column`` (idle_checked_at / alerted_at) to ``now`` only if it is still empty or older than
    ``due_before``: of two gateways sweeping at once only one sends the check or the alert (claimed before it is
    sent: a crash in between skips one check or one alert, never doubles it)."""
    column_ = conversations.c[column]
    due = column_.is_(None) if due_before is None else sa.or_(column_.is_(None), column_ <= due_before)
    with db.begin() as c:
        return c.execute(conversations.update().where(conversations.c.id == conversation_id, due)
                         .values(**{column: now})).rowcount == 1


async def run(router: "Router", settings: UpkeepSettings, interval: float,
              clock: Callable[[], datetime] = utcnow, leader=None) -> None:
    """Every ``interval`` seconds; with several gateways on one PostgreSQL only in the ``leader``
    (gateway/jobs/leader.py), and each check, close and alert is claimed by a conditional UPDATE besides."""
    while True:
        try:
            if leader is None or await leader.held():
                await sweep(router, settings, clock())
        except Exception:  # noqa: BLE001 — a broken database must not stop the gateway
            logger.exception("counseling upkeep failed")
        await asyncio.sleep(interval)


def start(app, router: "Router", settings: UpkeepSettings, interval: float) -> None:
    from gateway.jobs.leader import Leader

    leader = Leader(router.store.engine, "counseling_upkeep")

    @app.after_server_start
    async def _start(app, _loop=None) -> None:
        app.ctx.counseling_upkeep = asyncio.get_running_loop().create_task(
            run(router, settings, interval, leader=leader))

    @app.before_server_stop
    async def _stop(app, _loop=None) -> None:
        task = getattr(app.ctx, "counseling_upkeep", None)
        if task:
            task.cancel()
        leader.close()

