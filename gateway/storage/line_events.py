"""Which LINE webhook events were already taken (table ``line_webhook_events``): the dedupe claim of the
LINE channel (connectors/line/channel.py). The id is a webhookEventId (a ULID), never a user id."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa

from gateway.storage.db import metadata, utcnow

PRUNE_EVERY = 500  # claims between two prunes of expired event ids

webhook_events = sa.Table(
    "line_webhook_events", metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),  # webhookEventId (a ULID), never a user id
    sa.Column("received_at", sa.DateTime, nullable=False, index=True),
)


class EventLog:
    """Which webhook events were already taken: inserting the id is the claim (the primary key decides)."""

    def __init__(self, db: sa.engine.Engine, keep: timedelta):
        self.db = db
        self.keep = keep
        self._claims = 0

    def claim(self, event_id: str) -> bool:
        key = event_id if len(event_id) <= 64 else hashlib.sha256(event_id.encode()).hexdigest()
        try:
            with self.db.begin() as c:
                c.execute(webhook_events.insert().values(event_id=key, received_at=utcnow()))
        except sa.exc.IntegrityError:
            return False
        self._claims += 1
        if self._claims % PRUNE_EVERY == 0:
            self.prune()
        return True

    def prune(self) -> int:
        with self.db.begin() as c:
            return c.execute(webhook_events.delete().where(webhook_events.c.received_at < utcnow() - self.keep)
                             ).rowcount
