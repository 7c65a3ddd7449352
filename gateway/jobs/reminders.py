"""The day-before reminder of a 大型ごみ booking, pushed on LINE to citizens who opted in.

A job in the gateway (it owns the LINE push): every ``REMINDER_INTERVAL`` seconds it asks the booking
store (common/booking, the engine's database) for bookings collected tomorrow whose reminder is due, finds
the LINE chat of each (the store knows the chat only as ``owner_ref``, a hash of the engine's sender id
"line:<user id>", so the gateway hashes the LINE conversations it knows), claims the reminder
(``mark_reminded``: two gateways never both send it) and pushes it. With several gateways on one
PostgreSQL one of them runs the job at a time (gateway/jobs/leader.py); the claim is kept as the second guard. ``send_due_reminders`` takes the
time as a parameter, so tests run it with a fixed clock.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Optional

import sqlalchemy as sa

from common.formats import format_date
from gateway.storage.db import run_db
from gateway.storage.conversations import conversations
from gateway.handoff.router import Router, conversation_ref

logger = logging.getLogger(__name__)



def reminder_text(booking) -> str:
    day = booking.day
    return (f"【大型ごみ収集のお知らせ】明日{format_date(day)}は、"
            f"申し込みいただいた大型ごみの収集日です（受付番号 {booking.receipt_no}）。"
            f"処理券（合計{booking.total:,}円分）に受付番号を書いて貼り、当日の朝8時30分までに出してください。")


def _line_conversations_by_owner(router: Router) -> dict:
    from common.booking.store import owner_ref

    with router.store.engine.connect() as c:
        ids = c.execute(sa.select(conversations.c.id).where(conversations.c.channel == "line")).scalars().all()
    return {owner_ref(conversation_id): conversation_id for conversation_id in ids}


async def send_due_reminders(router: Router, store, now: datetime) -> int:
    """Push every due reminder once; returns how many were sent."""
    due = await run_db(store.due_reminders, now)
    if not due:
        return 0
    chats = await run_db(_line_conversations_by_owner, router)
    sent = 0
    for booking in due:
        conversation_id = chats.get(booking.owner_ref)
        if booking.channel != "line" or not conversation_id:
            continue
        if not await run_db(store.mark_reminded, booking.receipt_no, now):
            continue  # another gateway took it
        conversation = await run_db(router.store.get, conversation_id)
        if conversation and await router.push(conversation, [{"text": reminder_text(booking)}], confirm=True):
            sent += 1
            logger.info("reminder pushed conv=%s", conversation_ref(conversation_id))
        else:  # the channel could not take it (LINE: not stored in its inbox): give the claim back, try again later
            await run_db(store.unmark_reminded, booking.receipt_no)
            logger.warning("reminder not delivered conv=%s; will retry", conversation_ref(conversation_id))
    return sent


async def run_reminders(router: Router, store_factory, interval: float, clock=None, leader=None) -> None:
    """The periodic job (started by gateway/app.py); errors are logged and the loop goes on. With several
    gateways on one PostgreSQL only the ``leader`` (gateway/jobs/leader.py) runs it; the claim stays anyway."""
    from common.booking.dates import now_jst

    while True:
        try:
            if leader is None or await leader.held():
                await send_due_reminders(router, store_factory(), (clock or now_jst)())
        except Exception:  # noqa: BLE001 — a broken database must not stop the gateway
            logger.exception("reminder job failed")
        await asyncio.sleep(interval)


def start(app, router: Router, db_url: Optional[str], interval: float) -> None:
    """Register the job on the Sanic app when the booking store is reachable."""
    from common.booking.store import BookingStore
    from gateway.jobs.leader import Leader

    leader = Leader(router.store.engine, "reminders")

    @app.after_server_start
    async def _start(app, _loop=None) -> None:
        app.ctx.reminders = asyncio.get_running_loop().create_task(
            run_reminders(router, lambda: BookingStore(db_url), interval, leader=leader))

    @app.before_server_stop
    async def _stop(app, _loop=None) -> None:
        task = getattr(app.ctx, "reminders", None)
        if task:
            task.cancel()
        leader.close()
