"""The durable LINE inbox (table ``line_inbox``): every verified webhook event is written here, in the
webhook's own transaction together with its dedupe claim (gateway/storage/line_events.py), before LINE gets
its 200. A row lives until the user has the answer; then it is deleted (the claim stays, so a redelivery
has no effect). What a row holds is encrypted at rest (the event carries the citizen's text, which may be
counseling text): the event and, once the turn is over, the LINE messages still to deliver.

Pushes the router asks for (staff replies, queue updates, reminders) are rows too (kind ``push``), stored
``answered`` with their LINE messages: they survive a restart, are retried and listed like events.

States: ``pending`` (not started) → ``engine`` (the text went to the engine: never sent again, also not
after a crash) → ``answered`` (the answer is stored, delivery remains) → deleted. ``failed``: given up after
the last try (or refused by the per-user cap), listed for staff (``failed()``), deleted by the retention job
(gateway/jobs/retention.py) after the transcripts' period, or when the user's data is deleted after an unfollow.

Where: in the gateway's database on PostgreSQL; on SQLite in a file of its own beside it (``line_inbox.db``):
SQLite has one writer per file, and the chats' writes (several per turn) would make LINE's ack wait for the
lock. The ``*_op`` methods take an open connection, so the channel's writer (connectors/line/inbox_writer.py)
can run several in one transaction; the plain methods run one in a transaction of its own. On PostgreSQL an op
marked ``one_statement`` is a single statement, atomic on its own: run alone, it needs no transaction (``apply``
with ``alone``: autocommit, one round trip instead of BEGIN, the statement, COMMIT; as durable, the commit is the
statement's). A webhook's event is one such statement there (its dedupe claim, the per-user cap's count and the
row together, ``_PG_STORE``).

Several gateways on one PostgreSQL (``shared``): a chat's rows are worked on by one gateway at a time, the one
holding the chat's session-level advisory lock (``ChatLocks``: ``pg_try_advisory_lock(LINE_CHATS, hash(chat))``
on a connection of its own); it drains them oldest first. The lock is taken together with the chat's oldest row
(``lock_next``), and each next row is read together with letting go when there is none (``next_or_unlock``): one
round trip each. A killed gateway's session ends, PostgreSQL frees its locks, and another gateway's sweep
(``unfinished_chats``) picks the rows up.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from common.advisory import LockConnection, lock_key
from gateway.storage.db import metadata, utcnow
from gateway.storage.line_events import webhook_events

logger = logging.getLogger(__name__)

PENDING, ENGINE, ANSWERED, FAILED = "pending", "engine", "answered", "failed"
LINE_CHATS = 0x5a_70_02  # the advisory lock class of LINE chats (the jobs' is gateway/jobs/leader.py's)
PUSH = "push"  # the kind of a row that is not a webhook event but a push the router asked for
Row = Tuple[Optional[str], str, str, Dict[str, Any], Optional[str]]  # event id, chat, kind, event, refused
UNFINISHED = (PENDING, ENGINE, ANSWERED)

inbox = sa.Table(
    "line_inbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # arrival order
    sa.Column("event_id", sa.String(64)),  # webhookEventId (None when LINE sent none)
    sa.Column("chat", sa.String(128), nullable=False, index=True),  # line:<userId>, group:…, room:…
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the event, encrypted
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("outgoing", sa.Text),  # LINE messages to deliver, encrypted
    sa.Column("error", sa.String(64)),  # an exception's type or a reason, never text
    sa.Column("failed_at", sa.DateTime),
)

# LINE users who unfollowed (blocked) the account: after LINE_UNFOLLOW_GRACE_DAYS without a new follow their data is
# deleted (gateway/jobs/retention.py); a follow removes the row.
unfollows = sa.Table(
    "line_unfollows", metadata,
    sa.Column("chat", sa.String(128), primary_key=True),  # line:<userId>
    sa.Column("unfollowed_at", sa.DateTime, nullable=False, index=True),
)


def connect_inbox(gateway_db: sa.engine.Engine) -> sa.engine.Engine:
    """The inbox's database: the gateway's own, or on SQLite ``line_inbox.db`` in the same folder."""
    if gateway_db.dialect.name != "sqlite" or not gateway_db.url.database:
        return gateway_db
    path = Path(gateway_db.url.database).with_name("line_inbox.db")
    engine = sa.create_engine(f"sqlite:///{path}", future=True, hide_parameters=True)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:  # WAL, wait for the lock; every commit on the disk (the 200 to LINE
        cursor = connection.cursor()             # promises the event: also after a power loss, whatever SQLITE_SYNCHRONOUS)
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    metadata.create_all(engine, tables=[webhook_events, inbox, unfollows])
    return engine


def one_statement(op: Callable) -> Callable:
    """Marks an ``*_op`` that is one SQL statement on PostgreSQL (see the module's docstring)."""
    op.one_statement = True
    return op


# PostgreSQL: one webhook event in one statement (claim, count, row); no row when the claim was taken before.
_PG_STORE_TAIL = """
, waiting AS (SELECT count(*) AS n FROM line_inbox
              WHERE chat = :chat AND state IN ('pending', 'engine', 'answered')),
  verdict AS (SELECT CASE WHEN CAST(:refused AS VARCHAR) IS NOT NULL THEN CAST(:refused AS VARCHAR)
                          WHEN CAST(:cap AS INTEGER) IS NOT NULL AND n >= CAST(:cap AS INTEGER) THEN 'flood'
                     END AS refused FROM waiting)
INSERT INTO line_inbox (event_id, chat, kind, payload, received_at, state, attempts, error, failed_at)
SELECT CAST(:key AS VARCHAR), :chat, :kind, :payload, :now,
       CASE WHEN refused IS NULL THEN 'pending' ELSE 'failed' END, 0, refused,
       CASE WHEN refused IS NULL THEN NULL ELSE CAST(:now AS TIMESTAMP) END
FROM verdict WHERE {claimed}
RETURNING id, error"""
_PG_STORE = {
    True: sa.text("""WITH claim AS (INSERT INTO line_webhook_events (event_id, received_at) VALUES (:key, :now)
                                   ON CONFLICT (event_id) DO NOTHING RETURNING event_id)"""
                  + _PG_STORE_TAIL.format(claimed="EXISTS (SELECT 1 FROM claim)")),
    False: sa.text("WITH nothing AS (SELECT 1)" + _PG_STORE_TAIL.format(claimed="true")),  # no event id: no claim
}


def event_key(event_id: str) -> str:
    return event_id if len(event_id) <= 64 else hashlib.sha256(event_id.encode()).hexdigest()


@dataclass
class Entry:
    id: int
    chat: str
    kind: str
    event: Dict[str, Any]
    received_at: datetime
    state: str
    attempts: int
    outgoing: Optional[List[Dict[str, Any]]]


class Inbox:
    def __init__(self, db: sa.engine.Engine, cipher) -> None:
        self.db = db
        self.cipher = cipher
        dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(db.dialect.name)
        if dialect is None:
            raise RuntimeError(f"the LINE inbox needs SQLite or PostgreSQL, not {db.dialect.name}")
        self.shared = db.dialect.name == "postgresql"  # several gateways may work on these rows
        # Reads are single SELECTs: on PostgreSQL in autocommit, without a BEGIN and a ROLLBACK round trip each (the
        # same snapshot: READ COMMITTED takes one per statement anyway); SQLite as before.
        self.reader = db.execution_options(isolation_level="AUTOCOMMIT") if self.shared else db
        # RETURNING tells whether the row went in (psycopg answers rowcount -1 here)
        self._claim = (dialect.insert(webhook_events).on_conflict_do_nothing(index_elements=["event_id"])
                       .returning(webhook_events.c.event_id))

    def _seal(self, value: Any) -> str:
        # ASCII escapes: a text with a lone surrogate (\\ud800) is stored, then refused politely by the router
        return self.cipher.encrypt(json.dumps(value))

    def _open(self, token: Optional[str]) -> Any:
        return json.loads(self.cipher.decrypt(token)) if token else None

    def store(self, events: Iterable[Row]) -> List[Optional[int]]:
        """One transaction for a whole webhook: per event (event id, chat, kind, event, refused reason) the
        dedupe claim and the inbox row. Returns the row ids, None for a duplicate. A refused event (the
        per-user cap) is stored as failed, so staff see it."""
        events = list(events)
        return self.apply([lambda c: self.store_op(c, events)], alone=len(events) == 1)[0]

    def apply(self, ops: List[Callable[[sa.engine.Connection], Any]], alone: bool = False) -> List[Any]:
        """Several writes in one transaction (a group commit: one disk flush for all). ``alone``: the caller vouches
        for a single op that is one statement (``one_statement``): autocommit on PostgreSQL (the module's docstring)."""
        if alone and self.shared and len(ops) == 1:
            with self.reader.connect() as c:
                return [ops[0](c)]
        with self.db.begin() as c:
            return [op(c) for op in ops]

    def store_op(self, c: sa.engine.Connection, events: List[Row], cap: Optional[int] = None) -> List[Optional[int]]:
        """``cap``: refuse (store as failed, reason ``flood``) an event whose chat already has that many rows not
        done (used when gateways share the inbox: no one gateway's memory knows them all)."""
        return [self.store_one_op(c, event, cap) for event in events]

    @one_statement
    def store_one_op(self, c: sa.engine.Connection, event: Row, cap: Optional[int] = None) -> Optional[int]:
        """``store_op`` of one event; None for a duplicate or a refused event."""
        now = utcnow()
        event_id, chat, kind, payload, refused = event
        if self.shared:
            row = c.execute(_PG_STORE[bool(event_id)], {
                "key": event_key(event_id) if event_id else None, "now": now, "chat": chat[:128], "kind": kind[:32],
                "payload": self._seal(payload), "refused": refused, "cap": cap}).first()
            if row is None:
                return None
            if row.error == "flood" and not refused:
                logger.warning("line: %d events waiting for a chat, event refused (listed for staff)", cap)
            return None if row.error else row.id
        if event_id and c.execute(self._claim.values(event_id=event_key(event_id), received_at=now)).first() is None:
            return None
        if cap is not None and not refused and self.waiting_op(c, chat) >= cap:
            refused = "flood"
            logger.warning("line: %d events waiting for a chat, event refused (listed for staff)", cap)
        row = c.execute(inbox.insert().values(
            event_id=event_key(event_id) if event_id else None, chat=chat[:128], kind=kind[:32],
            payload=self._seal(payload), received_at=now, state=FAILED if refused else PENDING,
            attempts=0, error=refused, failed_at=now if refused else None))
        return None if refused else row.inserted_primary_key[0]

    @one_statement
    def push_op(self, c: sa.engine.Connection, chat: str, event: Dict[str, Any],
                outgoing: List[Dict[str, Any]]) -> int:
        """A push the router asked for (a person's reply, the queue moving, a reminder): stored answered, so the
        user's queue only delivers it, in order behind their events. Returns the row id."""
        row = c.execute(inbox.insert().values(
            event_id=None, chat=chat[:128], kind=PUSH, payload=self._seal(event), received_at=utcnow(),
            state=ANSWERED, attempts=0, outgoing=self._seal(outgoing)))
        return row.inserted_primary_key[0]

    def unfinished(self) -> List[Tuple[int, str]]:
        """(id, chat) of every row not done, in arrival order (what a restart resumes)."""
        with self.reader.connect() as c:
            return [(r.id, r.chat) for r in c.execute(
                sa.select(inbox.c.id, inbox.c.chat).where(inbox.c.state.in_(UNFINISHED)).order_by(inbox.c.id))]

    def unfinished_chats(self) -> List[Tuple[str, int]]:
        """(chat, rows) of every chat with rows not done (the shared sweep)."""
        with self.reader.connect() as c:
            return [(r.chat, r.n) for r in c.execute(
                sa.select(inbox.c.chat, sa.func.count().label("n")).where(inbox.c.state.in_(UNFINISHED))
                .group_by(inbox.c.chat).order_by(sa.func.min(inbox.c.id)))]

    def next_unfinished(self, chat: str, skip: Iterable[int] = ()) -> Optional[int]:
        """The chat's oldest row not done (leaving out ``skip``: rows this drain could not finish)."""
        query = (sa.select(inbox.c.id).where(inbox.c.chat == chat[:128], inbox.c.state.in_(UNFINISHED))
                 .order_by(inbox.c.id).limit(1))
        skip = list(skip)
        if skip:
            query = query.where(inbox.c.id.not_in(skip))
        with self.reader.connect() as c:
            return c.execute(query).scalar()

    def waiting_op(self, c: sa.engine.Connection, chat: str) -> int:
        """How many of the chat's rows are not done (the per-user cap when gateways share the inbox)."""
        return c.execute(sa.select(sa.func.count()).select_from(inbox)
                         .where(inbox.c.chat == chat[:128], inbox.c.state.in_(UNFINISHED))).scalar_one()

    def get(self, entry_id: int) -> Optional[Entry]:
        with self.reader.connect() as c:
            r = c.execute(sa.select(inbox).where(inbox.c.id == entry_id)).first()
        return self._entry(r)

    def _entry(self, r) -> Optional[Entry]:
        """The row as an Entry (None for a row of NULLs: an outer join found none)."""
        if r is None or r.id is None:
            return None
        return Entry(r.id, r.chat, r.kind, self._open(r.payload), r.received_at, r.state, r.attempts,
                     self._open(r.outgoing))

    @one_statement
    def set_state_op(self, c: sa.engine.Connection, entry_id: int, state: str) -> None:
        c.execute(inbox.update().where(inbox.c.id == entry_id).values(state=state))

    @one_statement
    def answered_op(self, c: sa.engine.Connection, entry_id: int, outgoing: List[Dict[str, Any]]) -> None:
        c.execute(inbox.update().where(inbox.c.id == entry_id).values(state=ANSWERED, outgoing=self._seal(outgoing)))

    @one_statement
    def tried_op(self, c: sa.engine.Connection, entry_id: int, error: str) -> int:
        """Count a failed try; returns how many there were."""
        return c.execute(inbox.update().where(inbox.c.id == entry_id)
                         .values(attempts=inbox.c.attempts + 1, error=error[:64])
                         .returning(inbox.c.attempts)).scalar_one()

    @one_statement
    def give_up_op(self, c: sa.engine.Connection, entry_id: int) -> None:
        c.execute(inbox.update().where(inbox.c.id == entry_id).values(state=FAILED, failed_at=utcnow()))

    @one_statement
    def done_op(self, c: sa.engine.Connection, entry_id: int) -> None:
        c.execute(inbox.delete().where(inbox.c.id == entry_id))

    def set_state(self, entry_id: int, state: str) -> None:
        self.apply([lambda c: self.set_state_op(c, entry_id, state)], alone=True)

    def answered(self, entry_id: int, outgoing: List[Dict[str, Any]]) -> None:
        self.apply([lambda c: self.answered_op(c, entry_id, outgoing)], alone=True)

    def tried(self, entry_id: int, error: str) -> int:
        return self.apply([lambda c: self.tried_op(c, entry_id, error)], alone=True)[0]

    def give_up(self, entry_id: int) -> None:
        self.apply([lambda c: self.give_up_op(c, entry_id)], alone=True)

    def done(self, entry_id: int) -> None:
        self.apply([lambda c: self.done_op(c, entry_id)], alone=True)

    def failed(self, limit: int = 200) -> List[Dict[str, Any]]:
        """Given-up events for staff, newest first: which chat, what kind, why, when; never the text."""
        with self.reader.connect() as c:
            rows = c.execute(sa.select(inbox.c.id, inbox.c.chat, inbox.c.kind, inbox.c.attempts, inbox.c.error,
                                       inbox.c.received_at, inbox.c.failed_at, inbox.c.outgoing)
                             .where(inbox.c.state == FAILED).order_by(inbox.c.id.desc()).limit(limit))
            return [{"id": r.id, "conversation_id": r.chat, "kind": r.kind, "attempts": r.attempts, "error": r.error,
                     "answered": r.outgoing is not None,
                     "received_at": r.received_at.isoformat(timespec="seconds") + "Z",
                     "failed_at": r.failed_at.isoformat(timespec="seconds") + "Z" if r.failed_at else None}
                    for r in rows]

    # ------------------------------------------------------------------ retention (gateway/jobs/retention.py)
    def unfollowed_op(self, c: sa.engine.Connection, chat: str, when: datetime) -> None:
        """The user unfollowed: their data is deleted after the grace period (a redelivery keeps the first time)."""
        if c.execute(sa.select(unfollows.c.chat).where(unfollows.c.chat == chat[:128])).first() is None:
            c.execute(unfollows.insert().values(chat=chat[:128], unfollowed_at=when))

    @one_statement
    def followed_op(self, c: sa.engine.Connection, chat: str) -> bool:
        """The user follows (again): nothing of theirs is deleted. Returns whether a deletion was pending."""
        return c.execute(unfollows.delete().where(unfollows.c.chat == chat[:128])).rowcount > 0

    def unfollowed_before(self, cutoff: datetime) -> List[str]:
        """Chats whose unfollow is older than ``cutoff`` (their grace period is over)."""
        with self.reader.connect() as c:
            return list(c.execute(sa.select(unfollows.c.chat).where(unfollows.c.unfollowed_at < cutoff)
                                  .order_by(unfollows.c.unfollowed_at)).scalars())

    def forget_op(self, c: sa.engine.Connection, chat: str) -> int:
        """A chat's data is gone elsewhere: its given-up events and its unfollow row go too (events still to be
        processed stay). Returns how many events were deleted."""
        deleted = c.execute(inbox.delete().where(inbox.c.chat == chat[:128], inbox.c.state == FAILED)).rowcount
        c.execute(unfollows.delete().where(unfollows.c.chat == chat[:128]))
        return deleted

    def purge_op(self, c: sa.engine.Connection, failed_before: datetime, claims_before: datetime) -> Tuple[int, int]:
        """Given-up events received before ``failed_before`` (they hold the citizen's text; the transcript's period)
        and dedupe claims (event ids only) older than ``claims_before``. Returns (events, claims)."""
        events = c.execute(inbox.delete().where(inbox.c.state == FAILED, inbox.c.received_at < failed_before)).rowcount
        claims = c.execute(webhook_events.delete().where(webhook_events.c.received_at < claims_before)).rowcount
        return events, claims


# The chat's oldest row not done (PostgreSQL; in the lock's statements below).
_OLDEST = ("SELECT * FROM line_inbox WHERE chat = :chat AND state IN ('pending', 'engine', 'answered') "
           "ORDER BY id LIMIT 1")
# The lock, and when it was got the oldest row (the CTE runs the function once; NULLs for no row).
_LOCK_NEXT = sa.text(f"""WITH got AS MATERIALIZED (SELECT pg_try_advisory_lock(:a, :b) AS locked)
SELECT got.locked, oldest.* FROM got LEFT JOIN LATERAL ({_OLDEST.replace("WHERE", "WHERE got.locked AND")}) oldest
ON true""")
# The oldest row; when there is none or this drain tried it already, the lock is let go (``unlocked`` true).
_NEXT_OR_UNLOCK = sa.text(f"""WITH oldest AS MATERIALIZED ({_OLDEST}),
  free AS MATERIALIZED (SELECT pg_advisory_unlock(:a, :b) AS unlocked
                        WHERE NOT EXISTS (SELECT 1 FROM oldest WHERE id <> ALL(CAST(:tried AS INTEGER[]))))
SELECT (SELECT unlocked FROM free) AS unlocked, oldest.* FROM (SELECT 1) AS one LEFT JOIN oldest ON true""")


class ChatLocks:
    """The chats this gateway works on, as PostgreSQL session-level advisory locks, all on one connection of their
    own (a session may hold many). Two chats with the same hash share a lock: they only wait for each other.
    Should the connection break (a PostgreSQL restart), its locks are gone: the next call opens a new one.
    ``lock_next`` and ``next_or_unlock`` read the chat's rows on that connection too (with the lock's change, in
    one round trip): ``inbox`` turns them into entries."""

    def __init__(self, db: sa.engine.Engine, inbox: Optional["Inbox"] = None) -> None:
        self._session = LockConnection(db)
        self.inbox = inbox

    def _row(self, statement, lock_of: str, **params: Any):
        with self._session.lock:
            for attempt in (1, 2):
                try:
                    c = self._session.connection()
                    return c.execute(statement, {"a": LINE_CHATS, "b": lock_key(lock_of), **params}).first()
                except Exception as exc:  # noqa: BLE001 — a broken session: its locks are gone anyway
                    logger.warning("line inbox: lock connection failed (%s)", type(exc).__name__)
                    self._session.drop()
                    if attempt == 2:
                        raise
        return None

    def _run(self, sql: str, chat: str) -> bool:
        row = self._row(sa.text(sql), chat)
        return bool(row[0]) if row is not None else False

    def try_lock(self, chat: str) -> bool:
        return self._run("SELECT pg_try_advisory_lock(:a, :b)", chat)

    def unlock(self, chat: str) -> None:
        try:
            self._run("SELECT pg_advisory_unlock(:a, :b)", chat)
        except Exception:  # noqa: BLE001 — the session is gone, and the lock with it
            pass

    def lock_next(self, chat: str) -> Tuple[bool, Optional[Entry]]:
        """``try_lock``; when it was got, the chat's oldest row not done too (None: none)."""
        row = self._row(_LOCK_NEXT, chat, chat=chat[:128])
        return bool(row.locked), self.inbox._entry(row)

    def next_or_unlock(self, chat: str, tried: Iterable[int]) -> Tuple[bool, Optional[Entry]]:
        """The chat's oldest row not done; the lock is let go when there is none or it is one of ``tried``. Returns
        (let go?, the row)."""
        row = self._row(_NEXT_OR_UNLOCK, chat, chat=chat[:128], tried=sorted(tried))
        return row.unlocked is not None, self.inbox._entry(row)

    def close(self) -> None:
        self._session.close()
