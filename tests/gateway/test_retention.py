"""Retention (gateway/jobs/retention.py): each purge on real databases — the gateway's (SQLite and a real PostgreSQL,
tools/pg.py), a tracker store with Rasa 3.6's ``events`` table, the unanswered log, the LINE inbox — with a fixed
clock: what is older than its period is gone; what is recent, protected (counseling), queued or owned by a person,
and bookings, stays. A LINE unfollow through the real signed webhook of a real gateway process: kept during the grace
period, deleted after it, kept when the user follows again or a person has the chat. And the job wired in the app."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from common import unanswered
from common.booking.dates import JST, Schedule
from common.booking.store import BookedItem, BookingRequest, BookingStore, owner_ref
from gateway.counseling.crypto import TranscriptCipher
from gateway.handoff.router import conversation_ref
from gateway.jobs import retention as retention_job
from gateway.jobs.retention import Retention, RetentionSettings
from gateway.settings import Settings
from gateway.staff.auth import audit_entries
from gateway.storage.conversations import QUEUED, HandoffStore, conversations, messages
from gateway.storage.db import connect, utcnow
from gateway.storage.line_events import webhook_events
from gateway.storage.line_inbox import FAILED, PENDING, Inbox, connect_inbox, inbox, unfollows
from tests.gateway.conftest import GatewayProcess
from tests.gateway.line_fake import Line, event, line, line_api, line_engine, line_env, new_user  # noqa: F401

NOW = utcnow()  # naive UTC, as the gateway's database; rows written now by the stores' own code are "new"
DAY = timedelta(days=1)
SECRET_TEXT = "ひみつの住所は北区北1条西1丁目です"
ENGINE_PYTHON = Path(__file__).resolve().parents[2] / ".venv" / "engine" / "bin" / "python"
SCHEDULE = Schedule(weekdays={"中央区": (0, 3)}, capacities={"中央区": 30})  # data/bulky/schedule.yml's 中央区


def cipher() -> TranscriptCipher:
    return TranscriptCipher([Fernet.generate_key().decode()])


def fresh_database(request, tmp_path: Path, name: str) -> str:
    """A URL of an empty database: a SQLite file in tmp_path, or a new database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.db')}"
    server = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg")
    database = f"{name}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {database}"))
    admin.dispose()
    return server.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    engine = connect(fresh_database(request, tmp_path, "gateway"))
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_url(request, tmp_path):
    url = fresh_database(request, tmp_path, "tracker")
    engine = sa.create_engine(url)
    rasa_metadata().create_all(engine)
    engine.dispose()
    return url


def rasa_metadata() -> sa.MetaData:
    """Rasa 3.6.21's tracker store table, column for column (rasa/core/tracker_store.py, SQLTrackerStore.SQLEvent)."""
    metadata = sa.MetaData()
    sa.Table("events", metadata,
             sa.Column("id", sa.Integer, sa.Sequence("events_seq", optional=True), primary_key=True),
             sa.Column("sender_id", sa.String(255), nullable=False, index=True),
             sa.Column("type_name", sa.String(255), nullable=False),
             sa.Column("timestamp", sa.Float),
             sa.Column("intent_name", sa.String(255)),
             sa.Column("action_name", sa.String(255)),
             sa.Column("data", sa.Text))
    return metadata


def add_events(url: str, sender: str, at: datetime, count: int = 3) -> None:
    """Rasa-like events of one turn (session start, user, bot) at ``at`` (naive UTC)."""
    table = rasa_metadata().tables["events"]
    stamp = at.replace(tzinfo=timezone.utc).timestamp()
    kinds = ["session_started", "user", "bot"]
    engine = sa.create_engine(url)
    with engine.begin() as c:
        for i in range(count):
            kind = kinds[i % 3]
            c.execute(table.insert().values(sender_id=sender, type_name=kind, timestamp=stamp + i / 1000,
                                            intent_name="greet" if kind == "user" else None,
                                            data=f'{{"event": "{kind}", "text": "{SECRET_TEXT}"}}'))
    engine.dispose()


def tracker_senders(url: str) -> Dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT sender_id, count(*) FROM events GROUP BY sender_id")).all()
    engine.dispose()
    return {sender: n for sender, n in rows}


def settings(**changes) -> RetentionSettings:
    """The shipped periods; no tracker store or unanswered log unless a test gives one."""
    return RetentionSettings(**({"tracker_url": "", "unanswered_url": "sqlite:////nonexistent/assistant.db"} | changes))


def age(engine: sa.engine.Engine, conversation_id: str, days: float, message_ids: List[int] = ()) -> None:
    """Make a conversation (and some of its messages) ``days`` old."""
    with engine.begin() as c:
        c.execute(conversations.update().where(conversations.c.id == conversation_id)
                  .values(updated_at=NOW - days * DAY))
        if message_ids:
            c.execute(messages.update().where(messages.c.id.in_(list(message_ids))).values(at=NOW - days * DAY))


def message_texts(store: HandoffStore, conversation_id: str) -> List[str]:
    return [m["text"] for m in store.transcript(conversation_id, show_protected=True)]


# ====================================================================== general transcripts

async def test_old_general_messages_and_idle_bot_chats_are_deleted_the_rest_stays(db, caplog):
    store = HandoffStore(db, cipher())
    chats = {name: f"web:{name}-{uuid.uuid4().hex[:6]}" for name in
             ("mixed", "old", "counseling", "queued", "staff", "empty_recent", "empty_old")}
    for chat in chats.values():
        store.get_or_create(chat, "web")
    old_ids = {}
    for name in ("mixed", "old", "counseling", "queued", "staff"):
        old_ids[name] = [store.add_message(chats[name], "user", f"{SECRET_TEXT}（{name}）")["id"],
                         store.add_message(chats[name], "bot", "古い答え")["id"]]
    protected = store.add_message(chats["counseling"], "user", "つらいです", protected=True)["id"]
    store.add_message(chats["mixed"], "user", "最近の質問")
    store.enqueue(chats["queued"], "general", 0, "user_request")
    store.enqueue(chats["staff"], "general", 0, "user_request")
    assert store.claim(chats["staff"], "tanaka")
    for name in ("mixed", "old", "counseling", "queued", "staff"):
        age(db, chats[name], 181, old_ids[name])
    age(db, chats["counseling"], 181, [protected])
    age(db, chats["mixed"], 1)  # its last message is recent
    age(db, chats["empty_recent"], 179)
    age(db, chats["empty_old"], 181)

    with caplog.at_level(logging.INFO, logger="gateway.jobs.retention"):
        done = await Retention(store, settings()).purge(NOW)

    assert done["messages"] == 10 and done["conversations"] == 2, done
    assert store.get(chats["old"]) is None and store.get(chats["empty_old"]) is None
    assert message_texts(store, chats["mixed"]) == ["最近の質問"]
    # a protected message keeps the counseling period (and so its chat stays)
    assert message_texts(store, chats["counseling"]) == ["つらいです"] and store.get(chats["counseling"])
    # a chat waiting for or owned by a person is never deleted (its old messages are)
    assert store.get(chats["queued"]).owner == QUEUED and message_texts(store, chats["queued"]) == []
    assert store.get(chats["staff"]).owner == "staff:tanaka"
    assert store.get(chats["empty_recent"]) is not None
    # counts in the log and one audit entry, never a text or a conversation id
    assert "retention purge messages=10 conversations=2" in caplog.text
    [entry] = [e for e in audit_entries(db) if e["action"] == "retention_purge"]
    assert entry["username"] == "system" and entry["conversation_id"] is None
    assert entry["detail"].startswith("messages=10 conversations=2")
    for leaked in [SECRET_TEXT, "つらいです", *chats.values()]:
        assert leaked not in caplog.text and leaked not in entry["detail"]

    # the next run finds nothing more; a period of 0 deletes nothing
    assert (await Retention(store, settings()).purge(NOW + DAY))["messages"] == 0
    before = message_texts(store, chats["mixed"])
    done = await Retention(store, settings(transcript_days=0)).purge(NOW + 400 * DAY)
    assert "messages" not in done and message_texts(store, chats["mixed"]) == before


async def test_many_old_messages_are_deleted_in_batches(db):
    store = HandoffStore(db, cipher())
    chat = "web:batches"
    store.get_or_create(chat, "web")
    ids = [store.add_message(chat, "user", f"質問{i}")["id"] for i in range(7)]
    age(db, chat, 200, ids)
    assert store.purge_transcripts(NOW - 180 * DAY, batch=3) == (7, 1)
    assert store.get(chat) is None


# ====================================================================== the engine's tracker store

async def test_old_tracker_events_are_deleted_recent_ones_stay(tracker_url, monkeypatch, tmp_path):
    gateway_db = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    add_events(tracker_url, "line:Uold", NOW - 200 * DAY, count=7)
    add_events(tracker_url, "web:mixed", NOW - 181 * DAY)
    add_events(tracker_url, "web:mixed", NOW - 2 * DAY)
    add_events(tracker_url, "web:recent", NOW - 179 * DAY)
    monkeypatch.setattr(retention_job, "BATCH", 2)  # several batches
    done = await Retention(HandoffStore(gateway_db), settings(tracker_url=tracker_url)).purge(NOW)
    assert done["tracker_events"] == 10
    assert tracker_senders(tracker_url) == {"web:mixed": 3, "web:recent": 3}
    engine = sa.create_engine(tracker_url)
    with engine.connect() as c:  # what stayed is the newer session of web:mixed, whole
        stamps = c.execute(sa.text("SELECT timestamp FROM events WHERE sender_id = 'web:mixed'")).scalars().all()
    engine.dispose()
    assert min(stamps) >= (NOW - 2 * DAY).replace(tzinfo=timezone.utc).timestamp()


# Rasa itself (the engine's environment) writes a tracker of two sessions, and after the purge reads and extends it.
RASA_SCRIPT = """
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

path, command, old, new = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
domain = Domain.from_dict({"intents": ["greet"]})
store = SQLTrackerStore(domain, dialect="sqlite", db=path)
greet = {"name": "greet", "confidence": 1.0}

async def main():
    if command == "write":
        events = []
        for at, text in ((old, "古い質問"), (new, "新しい質問")):
            events += [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at),
                       ActionExecuted("action_listen", timestamp=at), UserUttered(text, greet, timestamp=at + 1),
                       BotUttered("答え", timestamp=at + 2)]
        await store.save(DialogueStateTracker.from_events("line:U1", events, domain.slots))
        return
    tracker = await store.retrieve("line:U1")
    session = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    tracker.update(UserUttered("三つ目の質問", greet))
    await store.save(tracker)
    full = await store.retrieve_full_tracker("line:U1")
    print(json.dumps({"session": session, "all": [e.text for e in full.events if isinstance(e, UserUttered)],
                      "events": len(full.events)}, ensure_ascii=False))

asyncio.run(main())
"""


def rasa(*args: str) -> str:
    result = subprocess.run([str(ENGINE_PYTHON), "-c", RASA_SCRIPT, *args], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, SQLALCHEMY_SILENCE_UBER_WARNING="1"))
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(not ENGINE_PYTHON.exists(), reason="the engine's environment is not set up (make setup)")
async def test_rasa_reads_and_extends_a_purged_tracker_correctly(tmp_path):
    """Rasa 3.6's own SQLTrackerStore: after the purge of an old session, the tracker it reads is the recent session,
    and its next save adds only the new event (it counts stored events to know what is new)."""
    path = tmp_path / "tracker.db"
    old, new = ((NOW - days * DAY).replace(tzinfo=timezone.utc).timestamp() for days in (200, 1))
    rasa(str(path), "write", str(old), str(new))
    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'gateway.db'}"))
    done = await Retention(store, settings(tracker_url=f"sqlite:///{path}")).purge(NOW)
    assert done["tracker_events"] == 5
    seen = json.loads(rasa(str(path), "check", str(old), str(new)))
    assert seen == {"session": ["新しい質問"], "all": ["新しい質問", "三つ目の質問"], "events": 6}


async def test_a_tracker_store_that_does_not_exist_is_skipped_and_not_created(tmp_path):
    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'gateway.db'}"))
    missing = tmp_path / "engine" / "tracker.db"
    done = await Retention(store, settings(tracker_url=f"sqlite:///{missing}")).purge(NOW)
    assert done["tracker_events"] == 0 and not missing.exists()
    empty = tmp_path / "empty.db"  # a database without Rasa's table (the engine has not started yet)
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    assert (await Retention(store, settings(tracker_url=f"sqlite:///{empty}")).purge(NOW))["tracker_events"] == 0


# ====================================================================== the unanswered log

async def test_old_unanswered_questions_are_deleted(tmp_path):
    url = f"sqlite:///{tmp_path / 'assistant.db'}"
    for text in ("古い質問", "期限直前の質問", "新しい質問"):
        unanswered.record(text, "web", "fallback", url=url, conversation_id="web:x")
    engine = sa.create_engine(url)
    # stored in Japan time: 366 and 364 days before NOW (UTC) + 9 hours
    with engine.begin() as c:
        for text, days in (("古い質問", 366), ("期限直前の質問", 364)):
            c.execute(unanswered.unanswered.update().where(unanswered.unanswered.c.text == text)
                      .values(created_at=NOW + timedelta(hours=9) - days * DAY))
    engine.dispose()
    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'gateway.db'}"))
    done = await Retention(store, settings(unanswered_url=url)).purge(NOW)
    assert done["unanswered"] == 1
    assert [r["text"] for r in unanswered.rows(url=url)] == ["期限直前の質問", "新しい質問"]
    missing = tmp_path / "none" / "assistant.db"
    assert unanswered.purge(NOW, f"sqlite:///{missing}") == 0 and not missing.parent.exists()


# ====================================================================== the LINE inbox

async def test_given_up_line_events_and_old_dedupe_claims_are_deleted(db):
    box = Inbox(connect_inbox(db), cipher())
    ids = box.store([("E-old-failed", "line:Ua", "message", {"text": SECRET_TEXT}, "flood"),
                     ("E-new-failed", "line:Ua", "message", {"text": "最近"}, "flood"),
                     ("E-old-pending", "line:Ub", "message", {"text": "処理待ち"}, None),
                     ("E-recent-claim", "line:Uc", "message", {"text": "x"}, None)])
    pending = ids[2]
    with box.db.begin() as c:
        c.execute(inbox.update().where(inbox.c.event_id.in_(["E-old-failed", "E-old-pending"]))
                  .values(received_at=NOW - 181 * DAY))
        c.execute(inbox.update().where(inbox.c.event_id == "E-new-failed").values(received_at=NOW - 10 * DAY))
        c.execute(inbox.delete().where(inbox.c.event_id == "E-recent-claim"))  # done: only its claim stays
        c.execute(webhook_events.update().where(webhook_events.c.event_id != "E-recent-claim")
                  .values(received_at=NOW - 8 * DAY))
        c.execute(webhook_events.update().where(webhook_events.c.event_id == "E-recent-claim")
                  .values(received_at=NOW - 6 * DAY))
    done = await Retention(HandoffStore(db), settings(), inbox=box).purge(NOW)
    assert (done["line_failed"], done["line_claims"]) == (1, 3)
    with box.db.connect() as c:
        left = {r.event_id: r.state for r in c.execute(sa.select(inbox.c.event_id, inbox.c.state))}
        claims = set(c.execute(sa.select(webhook_events.c.event_id)).scalars())
    assert left == {"E-new-failed": FAILED, "E-old-pending": PENDING}  # work still to do is never deleted
    assert claims == {"E-recent-claim"}
    assert box.get(pending).event == {"text": "処理待ち"}


# ====================================================================== forgetting one LINE user (store level)

async def test_forgetting_a_user_deletes_their_data_everywhere_but_bookings(db, tracker_url, tmp_path):
    store, box = HandoffStore(db, cipher()), Inbox(connect_inbox(db), cipher())
    assistant = f"sqlite:///{tmp_path / 'assistant.db'}"
    user, other = "line:" + new_user(), "line:" + new_user()
    for chat in (user, other):
        store.get_or_create(chat, "line")
        store.add_message(chat, "user", SECRET_TEXT)
        add_events(tracker_url, chat, NOW - DAY)
        unanswered.record("わからない質問", "line", "fallback", url=assistant, conversation_id=chat)
    store.add_message(user, "user", "以前の相談", protected=True)
    store.enqueue(user, "general", 0, "user_request")
    store.claim(user, "tanaka")
    store.hand_back(user, "staff:tanaka", "resolved")  # the engine now knows the chat as line:U…#1
    add_events(tracker_url, user + "#1", NOW - DAY)
    unanswered.record("次の質問", "line", "fallback", url=assistant, conversation_id=user + "#1")
    box.store([("E1", user, "message", {"text": SECRET_TEXT}, "flood"), ("E2", other, "message", {"x": 1}, "flood")])
    booking = book(BookingStore(assistant, schedule=SCHEDULE), user)
    job = Retention(store, settings(tracker_url=tracker_url, unanswered_url=assistant), inbox=box)

    counts = await job.forget(user)

    assert counts == {"messages": 2, "tracker_events": 6, "unanswered": 2, "line_failed": 1}
    assert store.get(user) is None and store.get(other) is not None
    assert tracker_senders(tracker_url) == {other: 3}
    assert {r["conversation"] for r in unanswered.rows(url=assistant)} == {conversation_ref(other)}
    assert [f["conversation_id"] for f in box.failed()] == [other]
    assert BookingStore(assistant, schedule=SCHEDULE).get(booking.receipt_no).owner_ref == owner_ref(user)


def book(store: BookingStore, sender: str):
    request = BookingRequest(items=[BookedItem("ソファー", 1, 1200)], ward="中央区", area=None, town="南27条西10丁目",
                             address="中央区南27条西10丁目1-5", name=None, phone="090-1234-5678", day=date(2025, 1, 16),
                             owner_ref=owner_ref(sender), channel="line", remind=False)
    return store.book(request, f"{sender}|retention", now=datetime(2025, 1, 10, 12, 0, tzinfo=JST))


# ====================================================================== LINE unfollow through the real webhook

@pytest.fixture(scope="module")
def line_gateway(line_api, line_engine, tmp_path_factory):  # noqa: F811 — this module's gateway: its own assistant.db
    data = tmp_path_factory.mktemp("retention-line")
    process = GatewayProcess(line_engine.url, data, **line_env(line_api, ASSISTANT_DB_URL=f"sqlite:///{data}/assistant.db",
                                                              RETENTION_INTERVAL="0"))
    process.assistant_url = f"sqlite:///{data}/assistant.db"
    yield process
    process.stop()


class Side:
    """The gateway process's databases, read and purged from the test (the job's code, in-process)."""

    def __init__(self, gateway: GatewayProcess) -> None:
        self.gateway = gateway
        self.db = connect(gateway.db_url)
        self.store = HandoffStore(self.db)
        self.tracker_url = f"sqlite:///{gateway.data_dir}/engine/tracker.db"
        (gateway.data_dir / "engine").mkdir(exist_ok=True)
        engine = sa.create_engine(self.tracker_url)
        rasa_metadata().create_all(engine)
        engine.dispose()
        self.settings = Settings(data_dir=str(gateway.data_dir), assistant_db_url=gateway.assistant_url)
        self.retention = Retention(self.store, RetentionSettings.from_settings(self.settings))

    def unfollowed(self) -> set:
        with self.retention.inbox.db.connect() as c:
            return set(c.execute(sa.select(unfollows.c.chat)).scalars())

    def wait(self, condition, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(self.gateway.log())


@pytest.fixture
def side(line: Line):  # noqa: F811
    s = Side(line.gateway)
    yield s
    s.db.dispose()


def follow_event(user: str) -> dict:
    return event(user, "follow", follow={"isUnblocked": True})


def unfollow_event(user: str) -> dict:
    sent = event(user, "unfollow")
    sent.pop("replyToken")
    return sent


def chatting_user(line: Line, side: Side, text: str = SECRET_TEXT) -> str:  # noqa: F811
    """A LINE user who chatted: conversation and messages in the gateway, tracker events, an unanswered row."""
    user = new_user()
    sent = line.say(user, text)
    line.reply_to(sent)
    add_events(side.tracker_url, f"line:{user}", utcnow())
    unanswered.record(text, "line", "fallback", url=side.gateway.assistant_url, conversation_id=f"line:{user}")
    return user


async def test_unfollow_deletes_the_users_data_after_the_grace_period(line: Line, side: Side, caplog):  # noqa: F811
    user, other = chatting_user(line, side), chatting_user(line, side, "別の人の質問")
    chat = f"line:{user}"
    booking = book(BookingStore(side.gateway.assistant_url, schedule=SCHEDULE), chat)
    line.post(unfollow_event(user))
    side.wait(lambda: chat in side.unfollowed())

    with caplog.at_level(logging.INFO, logger="gateway.jobs.retention"):
        within = await side.retention.purge(utcnow() + 29 * DAY)  # the grace period is not over
        assert within["forgotten"] == 0 and side.store.get(chat) is not None
        assert f"line:{user}" in tracker_senders(side.tracker_url)

        after = await side.retention.purge(utcnow() + 31 * DAY)

    assert after["forgotten"] == 1
    assert side.store.get(chat) is None and side.store.transcript(chat) == []
    assert side.store.get(f"line:{other}") is not None
    assert chat not in tracker_senders(side.tracker_url) and f"line:{other}" in tracker_senders(side.tracker_url)
    assert [r["text"] for r in unanswered.rows(url=side.gateway.assistant_url)
            if r["conversation"] in (conversation_ref(chat), conversation_ref(f"line:{other}"))] == ["別の人の質問"]
    assert chat not in side.unfollowed()
    # the booking stays: the city needs it
    assert BookingStore(side.gateway.assistant_url, schedule=SCHEDULE).get(booking.receipt_no) is not None
    assert f"data of conv={conversation_ref(chat)} deleted" in caplog.text
    for secret in (user, SECRET_TEXT):
        assert secret not in caplog.text and secret not in line.gateway.log()


async def test_a_new_follow_cancels_the_deletion(line: Line, side: Side):  # noqa: F811
    user = chatting_user(line, side)
    chat = f"line:{user}"
    line.post(unfollow_event(user))
    side.wait(lambda: chat in side.unfollowed())
    follow = follow_event(user)
    line.post(follow)
    line.reply_to(follow)  # the welcome
    assert chat not in side.unfollowed()
    assert "the deletion after the unfollow is cancelled" in line.gateway.log()
    done = await side.retention.purge(utcnow() + 31 * DAY)
    assert done["forgotten"] == 0
    assert side.store.get(chat) is not None and f"line:{user}" in tracker_senders(side.tracker_url)


async def test_a_chat_a_person_has_is_kept_until_it_is_back_with_the_bot(line: Line, side: Side):  # noqa: F811
    user = new_user()
    chat = f"line:{user}"
    line.reply_to(line.say(user, "人と話したい"))
    assert side.store.get(chat).owner == QUEUED
    line.post(unfollow_event(user))
    side.wait(lambda: chat in side.unfollowed())
    done = await side.retention.purge(utcnow() + 31 * DAY)
    assert (done["forgotten"], done["forget_deferred"]) == (0, 1)
    assert side.store.get(chat).owner == QUEUED and chat in side.unfollowed()  # tried again at the next run
    assert side.store.claim(chat, "tanaka") and side.store.hand_back(chat, "staff:tanaka", "no_response")
    done = await side.retention.purge(utcnow() + 32 * DAY)
    assert done["forgotten"] == 1 and side.store.get(chat) is None and chat not in side.unfollowed()


# ====================================================================== the job in the app

def test_the_job_runs_in_the_gateway_at_its_interval(engine, tmp_path):
    """Old data in every store before the start; RETENTION_INTERVAL=1: the gateway deletes it and keeps the rest."""
    now = utcnow()
    db = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    store = HandoffStore(db)
    store.get_or_create("web:old", "web")
    store.get_or_create("web:new", "web")
    old = store.add_message("web:old", "user", SECRET_TEXT)["id"]
    store.add_message("web:new", "user", "新しい質問")
    with db.begin() as c:
        c.execute(messages.update().where(messages.c.id == old).values(at=now - 200 * DAY))
        c.execute(conversations.update().where(conversations.c.id == "web:old").values(updated_at=now - 200 * DAY))
    tracker = f"sqlite:///{tmp_path / 'engine' / 'tracker.db'}"
    (tmp_path / "engine").mkdir()
    engine_db = sa.create_engine(tracker)
    rasa_metadata().create_all(engine_db)
    engine_db.dispose()
    add_events(tracker, "web:old", now - 200 * DAY)
    add_events(tracker, "web:new", now)
    assistant = f"sqlite:///{tmp_path / 'assistant.db'}"
    unanswered.record("新しい質問", "web", "fallback", url=assistant)
    unanswered.record("古い質問", "web", "fallback", url=assistant)
    log = sa.create_engine(assistant)
    with log.begin() as c:
        c.execute(unanswered.unanswered.update().where(unanswered.unanswered.c.text == "古い質問")
                  .values(created_at=now - 400 * DAY))
    log.dispose()

    gateway = GatewayProcess(engine.url, tmp_path, RETENTION_INTERVAL="1", ASSISTANT_DB_URL=assistant)
    try:
        deadline = time.monotonic() + 30
        while "retention purge" not in gateway.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "retention purge messages=1 conversations=1 tracker_events=3 unanswered=1" in gateway.log()
    finally:
        gateway.stop()
    assert store.get("web:old") is None and [m["text"] for m in store.transcript("web:new")] == ["新しい質問"]
    assert tracker_senders(tracker) == {"web:new": 3}
    assert [r["text"] for r in unanswered.rows(url=assistant)] == ["新しい質問"]
    assert [e["detail"] for e in audit_entries(db) if e["action"] == "retention_purge"] == [
        "messages=1 conversations=1 tracker_events=3 unanswered=1"]
    assert SECRET_TEXT not in gateway.log()
    db.dispose()
