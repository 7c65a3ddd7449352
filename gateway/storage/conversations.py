"""Conversations, their owner and their messages, kept in the gateway's database (gateway/storage/db.py).

Owner of a conversation:
    bot           the engine answers (default)
    queued        waiting for a person in ``queue`` (general | counseling), ordered by priority then wait
    staff:<name>  a person owns it: the engine never sees the citizen's messages, the bot never speaks

Ownership changes are single conditional UPDATEs (``… WHERE owner = 'queued'``), so two staff claiming
the same chat at once cannot both win, on SQLite as on PostgreSQL, across gateway processes. Everything
is in the database: a gateway restart loses no queue, owner or message.

Counseling (README "Youth counseling"): a conversation has a risk level (none < normal < high < emergency,
gateway/counseling/triage.py) that only rises during a counseling session (``counseling_since`` set
while it waits for or talks with a counselor). Messages of that session, and any message triaged above
``none``, are ``protected``: their text is stored encrypted (gateway/counseling/crypto.py) and shown only
to counselors and supervisors; everyone else sees a placeholder. Protected messages are purged after the
retention period (gateway/counseling/jobs.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Dict, Iterable, List, Optional, Tuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from common.conversation_id import ConversationId
from gateway.storage import handoff_log
from gateway.storage.db import metadata, utcnow

BOT = "bot"
QUEUED = "queued"
STAFF_PREFIX = "staff:"
QUEUES = ("general", "counseling")
RISKS = ("none", "normal", "high", "emergency")
# Queue order: the risk level (emergency > high > normal), then waiting time; general chats are 0.
PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_EMERGENCY = 1, 2, 3
OUTCOME_LABELS = {
    "general": {"resolved": "解決", "referred": "担当課・窓口を案内", "no_response": "応答なし", "other": "その他"},
    "counseling": {"listened": "傾聴・助言", "referred": "相談機関を紹介", "child_guidance": "児童相談所へ連絡",
                   "emergency_services": "警察・救急へ通報", "no_response": "応答なし（自動終了を含む）",
                   "other": "その他"},
}
OUTCOMES = tuple(dict.fromkeys(o for labels in OUTCOME_LABELS.values() for o in labels))
HIDDEN = "（相談の内容のため、相談員と管理者だけが読めます）"

conversations = sa.Table(
    "conversations", metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # "<channel>:<id in the channel>"
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(80), nullable=False, index=True),
    sa.Column("queue", sa.String(32)),
    sa.Column("priority", sa.Integer, nullable=False, default=0),
    sa.Column("reason", sa.String(32)),
    sa.Column("waiting_since", sa.DateTime),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("outcome", sa.String(32)),
    # Bumped when a person hands the chat back: the engine then starts a fresh tracker and never
    # sees the human part of the conversation.
    sa.Column("engine_session", sa.Integer, nullable=False, default=0),
    # Counseling: risk of the current session, the triage rules that set it, when the session began,
    # the optional intake answers, and the times the inactivity check and long-wait alert were sent.
    sa.Column("risk", sa.String(16), nullable=False, default="none", server_default="none"),
    sa.Column("risk_rules", sa.String(200)),
    sa.Column("counseling_since", sa.DateTime),
    sa.Column("intake_step", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("intake_age", sa.String(32)),
    sa.Column("intake_topic", sa.String(32)),
    sa.Column("last_user_at", sa.DateTime),
    sa.Column("idle_checked_at", sa.DateTime),
    sa.Column("alerted_at", sa.DateTime),
    # When a turn to the engine last failed: the engine may have died holding the conversation's lock, so the
    # next turn may wait for it (gateway/handoff/engine_client.py). Cleared by the next answered turn.
    sa.Column("engine_failed_at", sa.DateTime),
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(200), sa.ForeignKey("conversations.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("sender", sa.String(80), nullable=False),  # user | bot | system | staff:<name>
    sa.Column("kind", sa.String(8), nullable=False, default="text"),  # text | note (staff only)
    sa.Column("text", sa.Text, nullable=False),  # encrypted (Fernet token) when protected
    sa.Column("protected", sa.Boolean, nullable=False, default=False, server_default=sa.false(), index=True),
    # When a client acknowledged the message (a widget's Socket.IO ack; LINE: its push reported success); NULL: not yet.
    sa.Column("delivered_at", sa.DateTime),
    # The buttons a bot or system message showed ([{title, payload}]), so the console can show what the citizen
    # pressed by its title; NULL for messages without buttons and for those stored before this column.
    sa.Column("buttons", sa.JSON),
)

# The statements of every turn, built once: SQLAlchemy then only binds the values (a statement built per call with
# ``.values(…)`` cost ~0.4 ms more each, measured). An update sets the columns its parameters name, besides ``cid``.
_ONE_CONVERSATION = sa.select(conversations).where(conversations.c.id == sa.bindparam("cid"))
_NEW_CONVERSATION = conversations.insert()
_NEW_MESSAGE = messages.insert()
_UPDATE_CONVERSATION = conversations.update().where(conversations.c.id == sa.bindparam("cid"))


def _insert_messages(touch: Optional[Dict]) -> sa.Insert:
    """PostgreSQL: one sender's messages (``texts``, ``buttons`` as JSON texts, in order) in one statement, which
    also sets ``touch`` on the conversation (a data-modifying WITH): atomic without a transaction, one round trip
    instead of BEGIN, an INSERT per message, the UPDATE and COMMIT. Returns the new ids (ascending = in order)."""
    rows = sa.func.unnest(sa.bindparam("texts", type_=postgresql.ARRAY(sa.Text)),
                          sa.bindparam("buttons", type_=postgresql.ARRAY(sa.Text))
                          ).table_valued("text", "buttons", with_ordinality="n").render_derived()
    select = sa.select(sa.bindparam("cid", type_=sa.String), sa.bindparam("at", type_=sa.DateTime),
                       sa.bindparam("sender", type_=sa.String), sa.bindparam("kind", type_=sa.String), rows.c.text,
                       sa.bindparam("protected", type_=sa.Boolean), sa.cast(rows.c.buttons, sa.JSON)).order_by(rows.c.n)
    insert = messages.insert().from_select(["conversation_id", "at", "sender", "kind", "text", "protected", "buttons"],
                                           select).returning(messages.c.id)
    if touch is None:
        return insert
    return insert.add_cte(conversations.update().where(conversations.c.id == sa.bindparam("cid"))
                          .values(**touch).cte("touched"))


# By what the conversation gets: a citizen's text, anyone else's text, not a text (a note, a media line).
_PG_NEW_MESSAGES = {
    "user": _insert_messages({"updated_at": sa.bindparam("at"), "last_user_at": sa.bindparam("at"),
                              "idle_checked_at": sa.null()}),
    "other": _insert_messages({"updated_at": sa.bindparam("at")}),
    None: _insert_messages(None),
}
# PostgreSQL: a new chat, or nothing when another request created it meanwhile; the row in the same round trip.
_PG_NEW_CONVERSATION = postgresql.insert(conversations).on_conflict_do_nothing(index_elements=["id"]).returning(
    *conversations.c)

canned_replies = sa.Table(
    "canned_replies", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(32), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(64)),
)


@dataclass(frozen=True)
class Conversation:
    id: str
    channel: str
    owner: str
    queue: Optional[str]
    priority: int
    reason: Optional[str]
    waiting_since: Optional[datetime]
    claimed_at: Optional[datetime]
    updated_at: datetime
    outcome: Optional[str]
    engine_session: int
    risk: str = "none"
    risk_rules: Optional[str] = None
    counseling_since: Optional[datetime] = None
    intake_step: int = 0
    intake_age: Optional[str] = None
    intake_topic: Optional[str] = None
    last_user_at: Optional[datetime] = None
    idle_checked_at: Optional[datetime] = None
    alerted_at: Optional[datetime] = None
    engine_failed_at: Optional[datetime] = None

    @property
    def counseling(self) -> bool:
        """A counseling session is open (waiting for or talking with a counselor)."""
        return self.counseling_since is not None

    @property
    def staff(self) -> Optional[str]:
        return self.owner[len(STAFF_PREFIX):] if self.owner.startswith(STAFF_PREFIX) else None

    @property
    def engine_sender(self) -> str:
        """The sender id the engine knows this conversation by (a new one after each hand-back)."""
        return replace(ConversationId.parse(self.id), session=self.engine_session).engine_sender

    def as_dict(self, position: Optional[int] = None, wait_minutes: Optional[int] = None) -> Dict:
        return {"id": self.id, "channel": self.channel, "owner": self.owner, "queue": self.queue,
                "priority": self.priority, "reason": self.reason, "outcome": self.outcome,
                "waiting_since": _iso(self.waiting_since), "updated_at": _iso(self.updated_at),
                "position": position, "wait_minutes": wait_minutes, "risk": self.risk or "none",
                "risk_rules": [r for r in (self.risk_rules or "").split(",") if r],
                "counseling": self.counseling, "intake": {"age": self.intake_age, "topic": self.intake_topic},
                "claimed_at": _iso(self.claimed_at), "last_user_at": _iso(self.last_user_at)}


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def clean_buttons(buttons) -> Optional[List[Dict[str, str]]]:
    """A message's buttons as stored: [{title, payload}] (strings, at most 20, cut to 300 letters); None for none."""
    kept = [{"title": str(b.get("title") or "")[:300], "payload": str(b.get("payload") or b.get("title") or "")[:300]}
            for b in (buttons or []) if isinstance(b, dict)][:20]
    return kept or None


def message_dict(row, text: Optional[str] = None) -> Dict:
    return {"id": row.id, "at": _iso(row.at), "sender": row.sender, "kind": row.kind,
            "text": row.text if text is None else text, "protected": bool(row.protected),
            "delivered_at": _iso(row.delivered_at), "buttons": getattr(row, "buttons", None)}


class HandoffStore:
    def __init__(self, engine: sa.engine.Engine, cipher=None):
        self.engine = engine
        # A single statement is atomic on its own: on PostgreSQL, reads and one-statement writes run in autocommit,
        # which spares the BEGIN and COMMIT (or ROLLBACK) round trips of a transaction (measured in-process: 13–17 →
        # 11 ms per turn for the reads alone). SQLite keeps its transactions, exactly as before (its driver begins
        # none for a SELECT anyway).
        self.postgres = engine.dialect.name == "postgresql"
        self.reader = engine.execution_options(isolation_level="AUTOCOMMIT") if self.postgres else engine
        self.cipher = cipher  # gateway/counseling/crypto.py; required to store protected messages

    # ------------------------------------------------------------------ reading
    def get(self, conversation_id: str) -> Optional[Conversation]:
        with self.reader.connect() as c:
            row = c.execute(_ONE_CONVERSATION, {"cid": conversation_id}).first()
        return Conversation(**row._mapping) if row else None

    def get_or_create(self, conversation_id: str, channel: str) -> Conversation:
        found = self.get(conversation_id)
        if found:
            return found
        if self.postgres:
            with self.reader.connect() as c:
                row = c.execute(_PG_NEW_CONVERSATION, {"id": conversation_id, "channel": channel, "owner": BOT,
                                                       "priority": 0, "updated_at": utcnow(), "engine_session": 0}
                                ).first()
            return Conversation(**row._mapping) if row else self.get(conversation_id)  # type: ignore[return-value]
        try:
            with self.engine.begin() as c:
                c.execute(_NEW_CONVERSATION, {"id": conversation_id, "channel": channel, "owner": BOT, "priority": 0,
                                              "updated_at": utcnow(), "engine_session": 0})
        except sa.exc.IntegrityError:  # created meanwhile by another request
            pass
        return self.get(conversation_id)  # type: ignore[return-value]

    def _waiting_query(self, queues: Iterable[str]):
        return (sa.select(conversations)
                .where(conversations.c.owner == QUEUED, conversations.c.queue.in_(list(queues)))
                .order_by(conversations.c.priority.desc(), conversations.c.waiting_since, conversations.c.id))

    def waiting(self, queues: Iterable[str]) -> List[Conversation]:
        """Queued conversations: highest priority first, then longest waiting."""
        with self.engine.connect() as c:
            return [Conversation(**r._mapping) for r in c.execute(self._waiting_query(queues))]

    def position(self, conversation: Conversation) -> Optional[int]:
        """1-based place in its queue, or None when it is not waiting."""
        if conversation.owner != QUEUED or not conversation.queue:
            return None
        ahead = sa.or_(conversations.c.priority > conversation.priority,
                       sa.and_(conversations.c.priority == conversation.priority,
                               sa.or_(conversations.c.waiting_since < conversation.waiting_since,
                                      sa.and_(conversations.c.waiting_since == conversation.waiting_since,
                                              conversations.c.id < conversation.id))))
        with self.engine.connect() as c:
            count = c.execute(sa.select(sa.func.count()).select_from(conversations).where(
                conversations.c.owner == QUEUED, conversations.c.queue == conversation.queue, ahead)).scalar()
        return int(count) + 1

    def owned_by(self, username: str) -> List[Conversation]:
        return self._select(conversations.c.owner == STAFF_PREFIX + username)

    def live(self) -> List[Conversation]:
        return self._select(conversations.c.owner.like(STAFF_PREFIX + "%"))

    def _select(self, condition) -> List[Conversation]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(conversations).where(condition).order_by(conversations.c.claimed_at))
            return [Conversation(**r._mapping) for r in rows]

    def transcript(self, conversation_id: str, show_protected: bool = False) -> List[Dict]:
        """The messages in order; protected ones decrypted for counselors, a placeholder for everyone else."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(messages).where(messages.c.conversation_id == conversation_id)
                             .order_by(messages.c.id))
            return [message_dict(r, self._readable(r.text, show_protected) if r.protected else None) for r in rows]

    def last_messages(self, conversation_ids: Iterable[str], show_protected: bool = False) -> Dict[str, Dict]:
        """Each chat's latest message (of kind text: no staff notes), for the queue's preview: with
        ``show_protected`` any (protected ones decrypted), else the latest one that is not protected (as the
        transcript of those readers leaves them out). One query for all."""
        ids = list(dict.fromkeys(conversation_ids))
        if not ids:
            return {}
        shown = [messages.c.conversation_id.in_(ids), messages.c.kind == "text"]
        if not show_protected:
            shown.append(messages.c.protected.is_(False))
        latest = sa.select(sa.func.max(messages.c.id)).where(*shown).group_by(messages.c.conversation_id)
        with self.engine.connect() as c:
            rows = c.execute(sa.select(messages).where(messages.c.id.in_(latest))).all()
        found = {}
        for r in rows:
            text = self._readable(r.text, True) if r.protected else r.text
            found[r.conversation_id] = {"sender": r.sender, "text": text, "protected": bool(r.protected), "at": _iso(r.at)}
        return found

    def _readable(self, stored: str, show: bool) -> str:
        return self.cipher.decrypt(stored) if show and self.cipher else HIDDEN

    # ------------------------------------------------------------------ website: history and delivery (issue #13)
    def history(self, conversation_id: str, after_id: int, since: datetime, limit: int,
                with_user: bool = True) -> List[Dict]:
        """What a widget gets again on (re)connect: the chat's messages (no staff notes) after ``after_id`` and
        ``since``, the last ``limit`` of them, oldest first; the user's own only ``with_user``. Protected ones
        decrypted: the caller sends them only to the session they belong to."""
        condition = [messages.c.conversation_id == conversation_id, messages.c.kind == "text",
                     messages.c.id > after_id, messages.c.at >= since]
        if not with_user:
            condition.append(messages.c.sender != "user")
        with self.engine.connect() as c:
            rows = c.execute(sa.select(messages).where(*condition).order_by(messages.c.id.desc()).limit(limit)).all()
        return [message_dict(r, self._readable(r.text, True) if r.protected else None) for r in reversed(rows)]

    def mark_delivered(self, conversation_id: str, message_ids: Iterable[int]) -> List[Dict]:
        """Record that a client acknowledged these messages of the chat; returns those not marked before
        ({id, delivered_at}), for the console."""
        ids = [int(i) for i in message_ids]
        if not ids:
            return []
        now = utcnow()
        mine = (messages.c.conversation_id == conversation_id, messages.c.id.in_(ids), messages.c.delivered_at.is_(None))
        with self.engine.begin() as c:
            fresh = c.execute(sa.select(messages.c.id).where(*mine)).scalars().all()
            if fresh:
                c.execute(messages.update().where(*mine).values(delivered_at=now))
        return [{"id": i, "delivered_at": _iso(now)} for i in fresh]

    # ------------------------------------------------------------------ writing
    def add_message(self, conversation_id: str, sender: str, text: str, kind: str = "text",
                    protected: bool = False, buttons: Optional[List[Dict]] = None) -> Dict:
        """Store one message (encrypted when ``protected``; ``buttons``: those a bot or system message showed);
        returns it as the console shows it to a counselor (the caller decides who may receive the text).
        Kinds: text (what the citizen and the chat's people said), note (staff only), media (a channel's note
        that the citizen sent a sticker or an image, staff only)."""
        return self.add_messages(conversation_id, sender, [(text, buttons)], kind, protected)[0]

    def add_messages(self, conversation_id: str, sender: str, items: List[Tuple[str, Optional[List[Dict]]]],
                     kind: str = "text", protected: bool = False) -> List[Dict]:
        """Several messages of one sender, as ``add_message`` each, in one transaction (the bot's answers to a
        turn: one commit, not one per bubble). ``items``: (text, buttons)."""
        if protected and self.cipher is None:
            raise RuntimeError("protected messages need a cipher (gateway/counseling/crypto.py)")
        now = utcnow()
        if self.postgres:
            return self._add_messages_pg(conversation_id, sender, items, kind, protected, now)
        stored = []
        with self.engine.begin() as c:
            for text, buttons in items:
                buttons = clean_buttons(buttons)
                new_id = c.execute(_NEW_MESSAGE, {
                    "conversation_id": conversation_id, "at": now, "sender": sender, "kind": kind, "protected": protected,
                    "text": self.cipher.encrypt(text) if protected else text, "buttons": buttons}).inserted_primary_key[0]
                stored.append({"id": new_id, "at": _iso(now), "sender": sender, "kind": kind, "text": text,
                               "protected": protected, "buttons": buttons})
            if kind == "text" and stored:
                values = {"updated_at": now}
                if sender == "user":
                    values.update(last_user_at=now, idle_checked_at=None)
                c.execute(_UPDATE_CONVERSATION, {"cid": conversation_id, **values})
        return stored

    def _add_messages_pg(self, conversation_id: str, sender: str, items: List[Tuple[str, Optional[List[Dict]]]],
                         kind: str, protected: bool, now: datetime) -> List[Dict]:
        """``add_messages`` on PostgreSQL: one statement in autocommit (``_insert_messages``), same rows."""
        if not items:
            return []
        kept = [clean_buttons(buttons) for _, buttons in items]
        touch = None if kind != "text" else "user" if sender == "user" else "other"
        with self.reader.connect() as c:
            ids = sorted(c.execute(_PG_NEW_MESSAGES[touch], {
                "cid": conversation_id, "at": now, "sender": sender, "kind": kind, "protected": protected,
                "texts": [self.cipher.encrypt(text) if protected else text for text, _ in items],
                "buttons": [json.dumps(b) for b in kept]}).scalars())  # as SQLAlchemy's JSON type writes them
        if len(ids) != len(items):  # cannot happen: an INSERT of n rows inserts n rows or fails
            raise RuntimeError("messages not stored")
        return [{"id": new_id, "at": _iso(now), "sender": sender, "kind": kind, "text": text, "protected": protected,
                 "buttons": buttons} for new_id, (text, _), buttons in zip(ids, items, kept)]

    def _one_statement(self):
        """A connection for one statement that writes: autocommit on PostgreSQL (atomic, no BEGIN or COMMIT round
        trip), a transaction on SQLite as before."""
        return self.reader.connect() if self.postgres else self.engine.begin()

    def engine_failed(self, conversation_id: str, failed: bool = True) -> None:
        """Remember (or, after an answered turn, forget) that a turn to the engine failed (``engine_failed_at``)."""
        with self._one_statement() as c:
            c.execute(_UPDATE_CONVERSATION, {"cid": conversation_id, "engine_failed_at": utcnow() if failed else None})

    def _update(self, conversation_id: str, condition, **values) -> bool:
        with self._one_statement() as c:
            result = c.execute(conversations.update()
                               .where(conversations.c.id == conversation_id, condition)
                               .values(updated_at=utcnow(), **values))
        return result.rowcount == 1

    def enqueue(self, conversation_id: str, queue: str, priority: int, reason: str) -> bool:
        """bot → queued. A chat already waiting only moves up (priority = the higher one, same place in time);
        a chat a person owns stays with that person. Returns whether the chat is now (still) waiting.
        Queuing for a counselor opens a counseling session."""
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        now = utcnow()
        session = {"counseling_since": sa.func.coalesce(conversations.c.counseling_since, now)} \
            if queue == "counseling" else {}
        if self._update(conversation_id, conversations.c.owner == BOT, owner=QUEUED, queue=queue,
                        priority=priority, reason=reason, waiting_since=now, outcome=None, claimed_at=None,
                        alerted_at=None, **session):
            return True
        current = self.get(conversation_id)
        if current and current.owner == QUEUED:
            if priority > current.priority or (queue == "counseling" and current.queue != queue):
                self._update(conversation_id, conversations.c.owner == QUEUED, queue=queue,
                             priority=max(priority, current.priority), reason=reason, **session)
            return True
        return False

    def raise_risk(self, conversation_id: str, level: str, rules: Iterable[str] = ()) -> Optional[str]:
        """Risk only rises: returns the new level when it rose, else None. A waiting counseling chat moves
        up the queue with it."""
        current = self.get(conversation_id)
        if not current or RISKS.index(level) <= RISKS.index(current.risk or "none"):
            return None
        known = [r for r in (current.risk_rules or "").split(",") if r]
        merged = ",".join(dict.fromkeys(known + list(rules)))[:200]
        values = {"risk": level, "risk_rules": merged}
        if current.owner == QUEUED and current.queue == "counseling":
            values["priority"] = max(current.priority, RISKS.index(level))
        self._update(conversation_id, conversations.c.risk == current.risk, **values)
        return level

    def set_risk(self, conversation_id: str, level: str) -> bool:
        """A counselor's judgment (audited by the caller): may also lower the level."""
        if level not in RISKS:
            raise ValueError(f"unknown risk {level!r}")
        current = self.get(conversation_id)
        if not current:
            return False
        values = {"risk": level}
        if current.owner == QUEUED and current.queue == "counseling":
            values["priority"] = max(PRIORITY_NORMAL, RISKS.index(level))
        return self._update(conversation_id, sa.true(), **values)

    def set_intake(self, conversation_id: str, step: int, **answers: Optional[str]) -> bool:
        values = {k: v for k, v in answers.items() if k in ("intake_age", "intake_topic")}
        return self._update(conversation_id, sa.true(), intake_step=step, **values)

    def mark(self, conversation_id: str, column: str, when) -> bool:
        """Record when the inactivity check (idle_checked_at) or a long-wait alert (alerted_at) was sent."""
        if column not in ("idle_checked_at", "alerted_at"):
            raise ValueError(column)
        with self._one_statement() as c:
            return c.execute(conversations.update().where(conversations.c.id == conversation_id)
                             .values(**{column: when})).rowcount == 1

    # ------------------------------------------------------------------ counseling upkeep
    def counseling_sessions(self) -> List[Conversation]:
        """Open counseling sessions (waiting or with a person)."""
        return self._select(sa.and_(conversations.c.counseling_since.is_not(None), conversations.c.owner != BOT))

    def waiting_since_before(self, cutoff) -> List[Conversation]:
        return self._select(sa.and_(conversations.c.owner == QUEUED, conversations.c.waiting_since < cutoff))

    def purge_protected(self, before) -> int:
        """Delete counseling messages older than ``before``; nothing else. Returns how many."""
        with self.engine.begin() as c:
            return c.execute(messages.delete().where(messages.c.protected.is_(True), messages.c.at < before)).rowcount

    def rotate_protected(self) -> int:
        """Re-encrypt every protected message with the newest key (crypto.py ``rotate``)."""
        count = 0
        with self.engine.begin() as c:
            for row in c.execute(sa.select(messages.c.id, messages.c.text).where(messages.c.protected.is_(True))).all():
                c.execute(messages.update().where(messages.c.id == row.id).values(text=self.cipher.rotate(row.text)))
                count += 1
        return count

    def claim(self, conversation_id: str, username: str) -> bool:
        """queued → staff:<username>; exactly one of simultaneous claims wins."""
        return self._update(conversation_id, conversations.c.owner == QUEUED, owner=STAFF_PREFIX + username,
                            claimed_at=utcnow())

    def transfer_to_queue(self, conversation_id: str, owner: str, queue: str) -> bool:
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        extra = {}
        if queue == "counseling":  # a clerk hands a youth over: the counseling session starts, by risk
            current = self.get(conversation_id)
            risk = RISKS.index(current.risk or "none") if current else 0
            extra = {"counseling_since": sa.func.coalesce(conversations.c.counseling_since, utcnow()),
                     "priority": max(PRIORITY_NORMAL, risk), "alerted_at": None}
        return self._update(conversation_id, conversations.c.owner == owner, owner=QUEUED, queue=queue,
                            waiting_since=utcnow(), claimed_at=None, **extra)

    def transfer_to_person(self, conversation_id: str, owner: str, username: str) -> bool:
        return self._update(conversation_id, conversations.c.owner == owner, owner=STAFF_PREFIX + username,
                            claimed_at=utcnow())

    def hand_back(self, conversation_id: str, owner: str, outcome: Optional[str] = None) -> bool:
        """A person (or the waiting citizen) gives the chat back to the bot, which starts afresh."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        before = self.get(conversation_id)  # what the handoff was, for the dashboard's log (handoff_log.py)
        now = utcnow()
        with self.engine.begin() as c:
            done = c.execute(conversations.update().where(conversations.c.id == conversation_id,
                                                          conversations.c.owner == owner).values(
                updated_at=now, owner=BOT, queue=None, waiting_since=None, claimed_at=None, outcome=outcome,
                engine_session=conversations.c.engine_session + 1, counseling_since=None, risk="none",
                risk_rules=None, intake_step=0, intake_age=None, intake_topic=None, idle_checked_at=None,
                alerted_at=None, priority=0)).rowcount == 1
            if done:
                handoff_log.record(c, before, outcome, now)
        return done

    # ------------------------------------------------------------------ canned replies
    def canned(self, queues: Iterable[str]) -> List[Dict]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(canned_replies).where(canned_replies.c.queue.in_(list(queues)))
                             .order_by(canned_replies.c.queue, canned_replies.c.id))
            return [{"id": r.id, "queue": r.queue, "text": r.text} for r in rows]

    def add_canned(self, queue: str, text: str, created_by: str) -> int:
        with self.engine.begin() as c:
            return c.execute(canned_replies.insert().values(queue=queue, text=text, created_by=created_by)
                             ).inserted_primary_key[0]

    def delete_canned(self, reply_id: int) -> bool:
        with self.engine.begin() as c:
            return c.execute(canned_replies.delete().where(canned_replies.c.id == reply_id)).rowcount == 1

    def seed_canned(self, replies: Dict[str, List[str]]) -> None:
        """The first canned replies, when there are none yet (staff edit them in the console)."""
        with self.engine.begin() as c:
            if c.execute(sa.select(sa.func.count()).select_from(canned_replies)).scalar():
                return
            for queue, texts in replies.items():
                for text in texts:
                    c.execute(canned_replies.insert().values(queue=queue, text=text, created_by="system"))

    # ------------------------------------------------------------------ retention (gateway/jobs/retention.py)
    def purge_transcripts(self, before: datetime, batch: int = 2000) -> tuple[int, int]:
        """General transcripts: messages older than ``before`` that are not protected (those keep the counseling
        period, ``purge_protected``), then conversations left without a message that the bot owns, with no
        counseling session, idle since before ``before`` (never one that waits for or is owned by a person).
        Deletes in batches, so a first purge of a large database never holds the write lock for long.
        Returns (messages, conversations)."""
        old = (messages.c.protected.is_(False), messages.c.at < before)
        idle = (conversations.c.owner == BOT, conversations.c.counseling_since.is_(None),
                conversations.c.updated_at < before,
                ~sa.exists().where(messages.c.conversation_id == conversations.c.id))
        counts = []
        for table, condition in ((messages, old), (conversations, idle)):
            total = 0
            while True:
                with self.engine.begin() as c:
                    found = c.execute(sa.select(table.c.id).where(*condition).limit(batch)).scalars().all()
                    if found:  # the condition again: a chat that became busy meanwhile stays
                        total += c.execute(table.delete().where(table.c.id.in_(found), *condition)).rowcount
                if len(found) < batch:
                    break
            counts.append(total)
        return counts[0], counts[1]

    def forget(self, conversation_id: str) -> Optional[tuple[int, int]]:
        """Delete a conversation and all its messages (protected ones too), unless a person owns it, it waits for
        one or a counseling session is open (then None: kept for now). Returns (its engine session number, how many
        messages were deleted); (0, 0) when it does not exist."""
        kept = sa.or_(conversations.c.owner != BOT, conversations.c.counseling_since.is_not(None))
        try:
            with self.engine.begin() as c:
                row = c.execute(sa.select(conversations.c.engine_session, kept.label("kept"))
                                .where(conversations.c.id == conversation_id)).first()
                if row is None:
                    return 0, 0
                if row.kept:
                    return None
                deleted = c.execute(messages.delete().where(messages.c.conversation_id == conversation_id)).rowcount
                if c.execute(conversations.delete().where(conversations.c.id == conversation_id, ~kept)).rowcount != 1:
                    raise _Kept()  # taken by a person meanwhile: roll the messages back
        except _Kept:
            return None
        return int(row.engine_session or 0), deleted


class _Kept(Exception):
    """A conversation to forget changed hands during the deletion."""
