"""The day-before reminder of a 大型ごみ booking (gateway/jobs/reminders.py) with a fixed clock.

In-process: a BookingStore on a temporary SQLite file, the router on a HandoffStore that knows the LINE chat, and
the real LINE channel (connectors/line/channel.py's ``setup_line``: its push, the real client of connectors/line/api.py)
aimed at the fake LINE API. Then once through the real gateway process, to see the job wired in at start-up."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sanic import Sanic

from common.booking.dates import JST, Schedule
from common.booking.store import BookedItem, BookingRequest, BookingStore, owner_ref
from gateway.storage.db import connect, metadata
from gateway.storage.line_inbox import inbox
from gateway.handoff.engine_client import EngineClient
from gateway.storage.conversations import HandoffStore
from connectors.line.channel import setup_line
from gateway.jobs.reminders import run_reminders, send_due_reminders
from gateway.handoff.router import Router
from gateway.settings import Settings
from tests.gateway.conftest import GatewayProcess
from tests.gateway.line_fake import SECRET, TOKEN, UUID_RE, FakeLineApi, line_api, line_env  # noqa: F401

LINE_USER = "U1234567890abcdef1234567890abcdef"
OPTED_OUT_USER = "U0fedcba0987654321fedcba098765432"
WEB_SESSION = "web:7f3c2a1e-session"
NOW = datetime(2025, 1, 15, 10, 5, tzinfo=JST)  # Wednesday, five past ten: the reminders of Thursday's collections
TOMORROW = date(2025, 1, 16)
BOOKED_AT = datetime(2025, 1, 10, 12, 0, tzinfo=JST)  # the bookings were made the Friday before
# The sample schedule's 中央区 (data/bulky/schedule.yml: 月・木), written out: the gateway has no PyYAML.
SCHEDULE = Schedule(weekdays={"中央区": (0, 3)}, capacities={"中央区": 30})


def book(store: BookingStore, sender: str, channel: str, remind: bool, day: date = TOMORROW,
         phone: str = "090-1234-5678"):
    request = BookingRequest(items=[BookedItem("ソファー", 1, 1200), BookedItem("いす", 2, 300)], ward="中央区",
                             area=None, town="南27条西10丁目", address="中央区南27条西10丁目1-5", name=None,
                             phone=phone, day=day, owner_ref=owner_ref(sender), channel=channel,
                             remind=remind)
    return store.book(request, f"{sender}|{day}|{remind}", now=BOOKED_AT)


@pytest.fixture
def bookings(tmp_path):
    store = BookingStore(f"sqlite:///{tmp_path / 'assistant.db'}", schedule=SCHEDULE)
    made = {
        "line": book(store, f"line:{LINE_USER}", "line", remind=True),
        "line_later": book(store, f"line:{LINE_USER}", "line", remind=True, day=date(2025, 1, 20)),  # Monday
        "web": book(store, WEB_SESSION, "web", remind=True, phone="090-2345-6789"),  # the web cannot be pushed to
        # (another citizen, another phone: at most 3 open bookings per number, common/booking/config.py)
        "opted_out": book(store, f"line:{OPTED_OUT_USER}", "line", remind=False, phone="011-222-3333"),
    }
    return store, made


@pytest.fixture
async def gateway_side(tmp_path, engine, line_api: FakeLineApi):
    """The router (knowing the three chats) with the real LINE channel's push, talking to the fake LINE API."""
    line_api.reset()
    db = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    handoff = HandoffStore(db)
    for conversation_id, channel in ((f"line:{LINE_USER}", "line"), (f"line:{OPTED_OUT_USER}", "line"),
                                     (WEB_SESSION, "web")):
        handoff.get_or_create(conversation_id, channel)
    client = EngineClient(engine.url)
    router = Router(client, handoff)
    settings = Settings(line_channel_secret=SECRET, line_channel_access_token=TOKEN,
                        line_api_base_url=line_api.url, line_api_data_base_url=line_api.url + "/data",
                        line_retry_base_delay=0.05, line_push_attempts=3, line_inbox_retry_seconds=0.1)
    app = Sanic(f"reminders_{uuid.uuid4().hex[:12]}")
    channel = setup_line(app, router, db, settings)
    router.connect(channels={"line": channel.push})
    await channel.start(app)

    async def delivered():
        """Wait until the pushes queued by the channel have been made."""
        await channel.drain(app)
        return line_api.calls("push")

    yield router, delivered
    await channel.drain(app)
    await channel.close(app)
    await client.close()
    db.dispose()


async def test_reminder_pushed_once_from_ten_on_the_day_before_on_line_only(bookings, gateway_side, line_api):
    store, made = bookings
    router, delivered = gateway_side

    # Before 10:00 JST on the day before (and earlier days): nothing.
    for moment in (datetime(2025, 1, 14, 10, 5, tzinfo=JST), datetime(2025, 1, 15, 0, 0, tzinfo=JST),
                   datetime(2025, 1, 15, 9, 59, 59, tzinfo=JST),
                   datetime(2025, 1, 15, 0, 59, 59, tzinfo=timezone.utc)):  # 09:59:59 JST, given in UTC
        assert await send_due_reminders(router, store, moment) == 0, moment
    assert await delivered() == []
    assert store.get(made["line"].receipt_no).reminded_at is None

    # 10:05: exactly one push, to the LINE user who asked for it, with the receipt number and 「明日」.
    assert await send_due_reminders(router, store, NOW) == 1
    pushes = await delivered()
    assert len(pushes) == 1, [p["json"] for p in pushes]
    push = pushes[0]
    assert push["json"]["to"] == LINE_USER and push["status"] == 200
    assert UUID_RE.match(push["headers"]["x-line-retry-key"])
    [message] = push["json"]["messages"]
    assert message["type"] == "text"
    assert made["line"].receipt_no in message["text"]
    assert "明日1月16日（木）" in message["text"] and "処理券（合計1,800円分）" in message["text"]
    assert made["line_later"].receipt_no not in message["text"]
    assert store.get(made["line"].receipt_no).reminded_at == NOW

    # Again (the next run, and later that day): reminded once, nothing more.
    for moment in (NOW, NOW + timedelta(minutes=5), datetime(2025, 1, 15, 23, 59, tzinfo=JST)):
        assert await send_due_reminders(router, store, moment) == 0
    assert len(await delivered()) == 1

    # The web booking and the opted-out booking got nothing and are not marked.
    assert [p["json"]["to"] for p in line_api.calls("push")] == [LINE_USER]
    assert store.get(made["web"].receipt_no).reminded_at is None
    assert store.get(made["opted_out"].receipt_no).reminded_at is None
    assert store.get(made["line_later"].receipt_no).reminded_at is None


async def test_the_periodic_job_sends_it_once_with_a_fixed_clock(bookings, gateway_side, line_api):
    store, made = bookings
    router, delivered = gateway_side
    job = asyncio.create_task(run_reminders(router, lambda: store, 0.05, clock=lambda: NOW))
    try:
        await asyncio.sleep(0.6)  # about ten runs
    finally:
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
    pushes = await delivered()
    assert [(p["json"]["to"], made["line"].receipt_no in p["json"]["messages"][0]["text"]) for p in pushes] == [
        (LINE_USER, True)]


async def test_a_reminder_whose_push_failed_is_delivered_by_the_inbox_once(bookings, gateway_side, line_api):
    """The reminder is written to the channel's durable inbox: when LINE refuses the first try (all three calls),
    the inbox tries again with the same retry key; the job counts it sent and does not send it again."""
    store, made = bookings
    router, delivered = gateway_side
    line_api.fail("push", 500, times=3)  # every call of the first try (line_push_attempts=3) fails
    assert await send_due_reminders(router, store, NOW) == 1
    pushes = await delivered()
    assert [p["status"] for p in pushes] == [500, 500, 500, 200]
    assert len({p["headers"]["x-line-retry-key"] for p in pushes}) == 1
    assert [d["to"] for d in line_api.delivered] == [LINE_USER]
    assert store.get(made["line"].receipt_no).reminded_at == NOW
    assert await send_due_reminders(router, store, NOW + timedelta(minutes=5)) == 0
    await delivered()
    assert len(line_api.delivered) == 1


async def test_a_reminder_that_could_not_be_stored_is_sent_at_a_later_run(bookings, gateway_side, line_api):
    """The channel's inbox cannot take the push (its table is gone): the job gives the claim back and a later run
    sends it."""
    store, made = bookings
    router, delivered = gateway_side
    inbox_db = router.channels["line"].__self__.inbox.db
    with inbox_db.begin() as c:
        c.execute(sa.text("DROP TABLE line_inbox"))
    try:
        assert await send_due_reminders(router, store, NOW) == 0
    finally:
        metadata.create_all(inbox_db, tables=[inbox])
    assert await delivered() == []
    assert store.get(made["line"].receipt_no).reminded_at is None
    assert await send_due_reminders(router, store, NOW + timedelta(minutes=5)) == 1
    await delivered()
    assert [d["to"] for d in line_api.delivered] == [LINE_USER]


def test_the_gateway_process_runs_the_reminder_job(tmp_path, engine, line_api: FakeLineApi):
    """The wiring: REMINDER_INTERVAL, ASSISTANT_DB_URL and the pinned day reach the job in the real gateway."""
    if datetime.now(JST).hour < 10:
        pytest.skip("the job uses the real time of day: reminders are due from 10:00 JST only")
    line_api.reset()
    today = date(2025, 1, 15)  # pinned with ASSISTANT_TODAY; the real clock gives the time of day
    store = BookingStore(f"sqlite:///{tmp_path / 'assistant.db'}", schedule=SCHEDULE)
    made = book(store, f"line:{LINE_USER}", "line", remind=True, day=today + timedelta(days=1))
    book(store, f"line:{OPTED_OUT_USER}", "line", remind=False, day=today + timedelta(days=1))
    data_dir = tmp_path / "gateway"
    db = connect(f"sqlite:///{data_dir / 'gateway.db'}")  # the gateway knows both LINE chats
    for user in (LINE_USER, OPTED_OUT_USER):
        HandoffStore(db).get_or_create(f"line:{user}", "line")
    db.dispose()
    gateway = GatewayProcess(engine.url, data_dir, ASSISTANT_DB_URL=f"sqlite:///{tmp_path / 'assistant.db'}",
                             ASSISTANT_TODAY=today.isoformat(), REMINDER_INTERVAL="0.5", **line_env(line_api))
    try:
        pushes = line_api.wait_calls("push", 1, timeout=15)
        time.sleep(2.0)  # a few more runs of the job
        pushes = line_api.calls("push")
        assert [p["json"]["to"] for p in pushes] == [LINE_USER], gateway.log()
        assert made.receipt_no in pushes[0]["json"]["messages"][0]["text"]
        assert "明日1月16日（木）" in pushes[0]["json"]["messages"][0]["text"]
        assert store.get(made.receipt_no).reminded_at is not None
        log = gateway.log()
        assert " ERROR " not in log and "Traceback" not in log, log
        assert LINE_USER not in log and made.receipt_no not in log
    finally:
        gateway.stop()
