"""Conversations, their owner and their messages, kept in the gateway's database (connectors/db.py).

Owner of a conversation:
    bot           the engine answers (default)
    queued        waiting for a person in ``queue`` (general | counseling), ordered by priority then wait
    staff:<name>  a person owns it: the engine never sees the citizen's messages, the bot never speaks

Ownership changes are single conditional UPDATEs (``… WHERE owner = 'queued'``), so two staff claiming
the same chat at once cannot both win, on SQLite as on PostgreSQL, across gateway processes. Everything
is in the database: a gateway restart loses no queue, owner or message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterable, List, Optional

import sqlalchemy as sa

from connectors.db import metadata, utcnow

BOT = "bot"
QUEUED = "queued"
STAFF_PREFIX = "staff:"
QUEUES = ("general", "counseling")
PRIORITY_NORMAL, PRIORITY_HIGH, PRIORITY_EMERGENCY = 0, 1, 2
OUTCOMES = ("resolved", "referred", "no_response", "other")

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
)

messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(200), sa.ForeignKey("conversations.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("sender", sa.String(80), nullable=False),  # user | bot | system | staff:<name>
    sa.Column("kind", sa.String(8), nullable=False, default="text"),  # text | note (staff only)
    sa.Column("text", sa.Text, nullable=False),
)

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

    @property
    def staff(self) -> Optional[str]:
        return self.owner[len(STAFF_PREFIX):] if self.owner.startswith(STAFF_PREFIX) else None

    @property
    def engine_sender(self) -> str:
        """The sender id the engine knows this conversation by (a new one after each hand-back)."""
        return self.id if not self.engine_session else f"{self.id}#{self.engine_session}"

    def as_dict(self, position: Optional[int] = None) -> Dict:
        return {"id": self.id, "channel": self.channel, "owner": self.owner, "queue": self.queue,
                "priority": self.priority, "reason": self.reason, "outcome": self.outcome,
                "waiting_since": _iso(self.waiting_since), "updated_at": _iso(self.updated_at),
                "position": position}


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def message_dict(row) -> Dict:
    return {"id": row.id, "at": _iso(row.at), "sender": row.sender, "kind": row.kind, "text": row.text}


class HandoffStore:
    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine

    # ------------------------------------------------------------------ reading
    def get(self, conversation_id: str) -> Optional[Conversation]:
        with self.engine.connect() as c:
            row = c.execute(sa.select(conversations).where(conversations.c.id == conversation_id)).first()
        return Conversation(**row._mapping) if row else None

    def get_or_create(self, conversation_id: str, channel: str) -> Conversation:
        found = self.get(conversation_id)
        if found:
            return found
        try:
            with self.engine.begin() as c:
                c.execute(conversations.insert().values(id=conversation_id, channel=channel, owner=BOT, priority=0,
                                                         updated_at=utcnow(), engine_session=0))
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

    def transcript(self, conversation_id: str) -> List[Dict]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(messages).where(messages.c.conversation_id == conversation_id)
                             .order_by(messages.c.id))
            return [message_dict(r) for r in rows]

    # ------------------------------------------------------------------ writing
    def add_message(self, conversation_id: str, sender: str, text: str, kind: str = "text") -> Dict:
        now = utcnow()
        with self.engine.begin() as c:
            new_id = c.execute(messages.insert().values(conversation_id=conversation_id, at=now, sender=sender,
                                                        kind=kind, text=text)).inserted_primary_key[0]
            if kind == "text":
                c.execute(conversations.update().where(conversations.c.id == conversation_id).values(updated_at=now))
        return {"id": new_id, "at": _iso(now), "sender": sender, "kind": kind, "text": text}

    def _update(self, conversation_id: str, condition, **values) -> bool:
        with self.engine.begin() as c:
            result = c.execute(conversations.update()
                               .where(conversations.c.id == conversation_id, condition)
                               .values(updated_at=utcnow(), **values))
        return result.rowcount == 1

    def enqueue(self, conversation_id: str, queue: str, priority: int, reason: str) -> bool:
        """bot → queued. A chat already waiting only moves up (priority = the higher one, same place in time);
        a chat a person owns stays with that person. Returns whether the chat is now (still) waiting."""
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        if self._update(conversation_id, conversations.c.owner == BOT, owner=QUEUED, queue=queue,
                        priority=priority, reason=reason, waiting_since=utcnow(), outcome=None, claimed_at=None):
            return True
        current = self.get(conversation_id)
        if current and current.owner == QUEUED:
            if priority > current.priority or (queue == "counseling" and current.queue != queue):
                self._update(conversation_id, conversations.c.owner == QUEUED, queue=queue,
                             priority=max(priority, current.priority), reason=reason)
            return True
        return False

    def claim(self, conversation_id: str, username: str) -> bool:
        """queued → staff:<username>; exactly one of simultaneous claims wins."""
        return self._update(conversation_id, conversations.c.owner == QUEUED, owner=STAFF_PREFIX + username,
                            claimed_at=utcnow())

    def transfer_to_queue(self, conversation_id: str, owner: str, queue: str) -> bool:
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}")
        return self._update(conversation_id, conversations.c.owner == owner, owner=QUEUED, queue=queue,
                            waiting_since=utcnow(), claimed_at=None)

    def transfer_to_person(self, conversation_id: str, owner: str, username: str) -> bool:
        return self._update(conversation_id, conversations.c.owner == owner, owner=STAFF_PREFIX + username,
                            claimed_at=utcnow())

    def hand_back(self, conversation_id: str, owner: str, outcome: Optional[str] = None) -> bool:
        """A person (or the waiting citizen) gives the chat back to the bot, which starts afresh."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        return self._update(conversation_id, conversations.c.owner == owner, owner=BOT, queue=None,
                            waiting_since=None, claimed_at=None, outcome=outcome,
                            engine_session=conversations.c.engine_session + 1)

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
