"""The retention job: every ``RETENTION_INTERVAL`` seconds the gateway deletes what the city keeps only for a while.

* **General transcripts** (gateway/storage/conversations.py): messages older than ``TRANSCRIPT_RETENTION_DAYS``
  that are not protected, then conversations left without a message that the bot owns and that were idle that
  long. Counseling messages keep their own period (``COUNSELING_RETENTION_DAYS``, gateway/counseling/jobs.py); a
  chat that waits for or is owned by a person is never deleted.
* **The engine's tracker store** (Rasa's SQL tracker store, table ``events``): events older than
  ``TRACKER_RETENTION_DAYS``, whole rows by their ``timestamp``, by SQL on its database (``TRACKER_STORE_URL``, by
  default ``$DATA_DIR/engine/tracker.db`` where ``make run`` puts it; not there yet: skipped). Rasa reads a
  tracker from its last session start (sessions expire after 60 minutes, domain.yml), so old sessions go
  without disturbing a running one.
* **The unanswered-question log** (common/unanswered.py): rows older than ``UNANSWERED_RETENTION_DAYS``.
* **The LINE inbox** (gateway/storage/line_inbox.py): an event is deleted as soon as its answer went out; what
  stays is given-up events (with the citizen's text, listed for staff), deleted after the transcripts' period,
  and the dedupe claims (event ids only), deleted after ``LINE_DEDUPE_DAYS``.
* **LINE unfollow**: ``LINE_UNFOLLOW_GRACE_DAYS`` after a user unfollowed (blocked) the account without following
  again, their conversation and messages, their tracker events, their unanswered-log rows and their given-up
  inbox events are deleted, unless a person has the chat, it waits for one or a counseling session is open
  (then it is tried again at the next run). Their 大型ごみ bookings are kept: the city needs them.

A period of 0 switches that deletion off. Logs and the audit log get counts and conversation refs only, never
a text or a user id; a run that deleted something leaves one audit entry (user ``system``, ``retention_purge``).
``Retention.purge`` takes the time as a parameter (naive UTC, like the database), so tests run it with a fixed clock.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

import sqlalchemy as sa

from common import unanswered
from common.conversation_id import ConversationId
from gateway.handoff.router import conversation_ref
from gateway.settings import Settings
from gateway.staff.auth import audit
from gateway.storage.conversations import HandoffStore
from gateway.storage.db import run_db, utcnow
from gateway.storage.line_inbox import Inbox, connect_inbox

logger = logging.getLogger(__name__)

# The unanswered log keeps only a hash of the engine's sender id (line:U…, line:U…#1 after a hand-back …), so the
# ids of at least this many sessions are hashed when a user's rows are deleted: the conversation row, which knows
# the number, may be gone already (an idle transcript is deleted before the log's longer period is over).
MIN_SESSIONS = 32
BATCH = 5000  # tracker events deleted per transaction: Rasa's writes never wait long for the lock

# The columns of Rasa's SQLTrackerStore.SQLEvent (rasa/core/tracker_store.py) this job reads.
rasa_events = sa.Table(
    "events", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
)


@dataclass(frozen=True)
class RetentionSettings:
    transcript_days: float = 180
    tracker_days: float = 180
    unanswered_days: float = 365
    line_dedupe_days: float = 7
    unfollow_grace_days: float = 30
    tracker_url: str = ""  # empty: no tracker store to purge
    unanswered_url: Optional[str] = None  # None: common/unanswered.py's default (ASSISTANT_DB_URL or var/assistant.db)

    @classmethod
    def from_settings(cls, s: Settings) -> "RetentionSettings":
        return cls(s.transcript_retention_days, s.tracker_retention_days, s.unanswered_retention_days,
                   s.line_dedupe_days, s.line_unfollow_grace_days, s.tracker_database_url(),
                   s.assistant_db_url or None)


class TrackerEvents:
    """Rasa's ``events`` table, on SQLite or PostgreSQL. Missing database or table: nothing to do."""

    def __init__(self, url: str) -> None:
        self.url = sa.engine.make_url(url) if url else None
        if self.url is not None and self.url.drivername == "postgresql":  # the gateway has psycopg 3, not psycopg2
            self.url = self.url.set(drivername="postgresql+psycopg")
        self._engine: Optional[sa.engine.Engine] = None

    def _db(self) -> Optional[sa.engine.Engine]:
        if self.url is None:
            return None
        if self.url.get_backend_name() == "sqlite" and not (self.url.database and Path(self.url.database).exists()):
            return None  # the engine has not run here (yet): do not create its file
        if self._engine is None:
            self._engine = sa.create_engine(self.url, future=True, pool_pre_ping=True, hide_parameters=True,
                                            **({"connect_args": {"timeout": 30}}
                                               if self.url.get_backend_name() == "sqlite" else {}))
        return self._engine if sa.inspect(self._engine).has_table("events") else None

    def purge(self, before: float) -> int:
        """Delete events older than ``before`` (unix time), in batches; returns how many."""
        return self._delete(rasa_events.c.timestamp < before)

    def forget(self, conversation_id: str) -> int:
        """Delete every event of the conversation's engine sessions (``line:U…`` and ``line:U…#n``)."""
        return self._delete(self._senders(conversation_id))

    def sessions(self, conversation_id: str) -> int:
        """The highest engine session number stored for the conversation (0 when none)."""
        db = self._db()
        if db is None:
            return 0
        with db.connect() as c:
            senders = c.execute(sa.select(rasa_events.c.sender_id).distinct()
                                .where(self._senders(conversation_id))).scalars().all()
        return max((ConversationId.parse(s).session for s in senders), default=0)

    @staticmethod
    def _senders(conversation_id: str):
        return sa.or_(rasa_events.c.sender_id == conversation_id,
                      rasa_events.c.sender_id.startswith(conversation_id + "#", autoescape=True))

    def _delete(self, condition) -> int:
        db = self._db()
        if db is None:
            return 0
        total = 0
        while True:
            with db.begin() as c:
                ids = sa.select(rasa_events.c.id).where(condition).limit(BATCH).scalar_subquery()
                deleted = c.execute(rasa_events.delete().where(rasa_events.c.id.in_(ids))).rowcount
            total += deleted
            if deleted < BATCH:
                return total

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


InboxWrite = Callable[..., Awaitable[Any]]


class Retention:
    """The purges, on the gateway's store, the LINE inbox (its writes through the LINE channel's writer when the
    channel runs, so they queue with the webhook's), the tracker store and the unanswered log."""

    def __init__(self, store: HandoffStore, settings: RetentionSettings, inbox: Optional[Inbox] = None,
                 inbox_write: Optional[InboxWrite] = None) -> None:
        self.store = store
        self.settings = settings
        self.inbox = inbox or Inbox(connect_inbox(store.engine), cipher=None)  # no text is read or written here
        self._inbox_write = inbox_write
        self.tracker = TrackerEvents(settings.tracker_url)

    async def _inbox(self, op: Callable[..., Any], *args: Any) -> Any:
        if self._inbox_write is not None:
            return await self._inbox_write(op, *args)
        return (await run_db(self.inbox.apply, [lambda c: op(c, *args)]))[0]

    async def purge(self, now: datetime) -> Dict[str, int]:
        """One run; returns the counts (for logs and tests). A part that fails is logged and the others go on."""
        s = self.settings
        done: Dict[str, int] = {}

        def before(days: float) -> Optional[datetime]:
            return now - timedelta(days=days) if days > 0 else None

        async def step(name: str, work: Callable[[], Awaitable[Any]]) -> None:
            try:
                result = await work()
            except Exception as exc:  # noqa: BLE001 — one broken database must not stop the other purges
                logger.error("retention: %s failed (%s); tried again at the next run", name, type(exc).__name__)
                return
            done.update(result)

        transcripts = before(s.transcript_days)
        if transcripts:
            async def purge_transcripts() -> Dict[str, int]:
                messages, conversations = await run_db(self.store.purge_transcripts, transcripts)
                return {"messages": messages, "conversations": conversations}
            await step("transcripts", purge_transcripts)
        if tracker := before(s.tracker_days):
            cutoff = tracker.replace(tzinfo=timezone.utc).timestamp()
            await step("tracker store", lambda: self._count("tracker_events", self.tracker.purge, cutoff))
        if log := before(s.unanswered_days):
            await step("unanswered log", lambda: self._count(
                "unanswered", unanswered.purge, log.replace(tzinfo=timezone.utc), s.unanswered_url))

        async def purge_inbox() -> Dict[str, int]:
            failed, claims = await self._inbox(self.inbox.purge_op, transcripts or datetime.min,
                                               before(s.line_dedupe_days) or datetime.min)
            return {"line_failed": failed, "line_claims": claims}
        await step("LINE inbox", purge_inbox)
        if grace := before(s.unfollow_grace_days):
            await step("LINE unfollows", lambda: self._forget_unfollowed(grace))

        deleted = {k: v for k, v in done.items() if v}
        if deleted:
            summary = " ".join(f"{k}={v}" for k, v in deleted.items())
            logger.info("retention purge %s", summary)
            try:
                await run_db(audit, self.store.engine, None, "retention_purge", None, summary)
            except Exception as exc:  # noqa: BLE001 — the deletion happened; the log line above says so
                logger.error("retention: audit entry not written (%s)", type(exc).__name__)
        return done

    @staticmethod
    async def _count(name: str, function: Callable[..., int], *args: Any) -> Dict[str, int]:
        return {name: await run_db(function, *args)}

    async def _forget_unfollowed(self, cutoff: datetime) -> Dict[str, int]:
        done = {"forgotten": 0, "forget_deferred": 0}
        for chat in await run_db(self.inbox.unfollowed_before, cutoff):
            counts = await self.forget(chat)
            done["forgotten" if counts is not None else "forget_deferred"] += 1
        return done

    async def forget(self, chat: str) -> Optional[Dict[str, int]]:
        """Delete one LINE user's data (not their bookings); None when kept for now (a person or a counseling
        session has the chat). Each part can run again: a part that fails leaves the unfollow row for the next run."""
        kept = await run_db(self.store.forget, chat)
        ref = conversation_ref(chat)
        if kept is None:
            logger.info("retention: conv=%s unfollowed; kept while a person has it or a counseling session is open", ref)
            return None
        session, messages = kept
        sessions = max(session, await run_db(self.tracker.sessions, chat), MIN_SESSIONS)
        events = await run_db(self.tracker.forget, chat)
        base = ConversationId.parse(chat)
        senders = [replace(base, session=n).engine_sender for n in range(sessions + 1)]
        rows = await run_db(unanswered.purge, None, self.settings.unanswered_url, senders)
        line_events = await self._inbox(self.inbox.forget_op, chat)
        counts = {"messages": messages, "tracker_events": events, "unanswered": rows, "line_failed": line_events}
        logger.info("retention: data of conv=%s deleted after the unfollow grace period (%s; bookings kept)", ref,
                    " ".join(f"{k}={v}" for k, v in counts.items()))
        return counts


async def run(retention: Retention, interval: float, clock: Callable[[], datetime] = utcnow, leader=None) -> None:
    """The periodic job: the first run one interval after the start, then every interval (with several gateways
    on one PostgreSQL, only in the ``leader``, gateway/jobs/leader.py: the purges are idempotent, but one run
    leaves one audit entry and one log line)."""
    while True:
        await asyncio.sleep(interval)
        try:
            if leader is None or await leader.held():
                await retention.purge(clock())
        except Exception as exc:  # noqa: BLE001 — a broken database must not stop the gateway
            logger.error("retention job failed (%s)", type(exc).__name__)


def start(app, store: HandoffStore, settings: Settings, line=None) -> Retention:
    """Register the job on the Sanic app (``line``: the LINE channel, whose inbox writer the job's writes share)."""
    retention = Retention(store, RetentionSettings.from_settings(settings), line.inbox if line else None,
                          line.writer.call if line else None)
    from gateway.jobs.leader import Leader

    leader = Leader(store.engine, "retention")

    @app.after_server_start
    async def _start(app, _loop=None) -> None:
        app.ctx.retention = asyncio.get_running_loop().create_task(
            run(retention, settings.retention_interval, leader=leader))

    @app.before_server_stop
    async def _stop(app, _loop=None) -> None:
        task = getattr(app.ctx, "retention", None)
        if task:
            task.cancel()
        retention.tracker.close()
        leader.close()

    return retention
