"""One row per finished handoff (a chat that waited for or was with a person and went back to the bot), for the
dashboard's figures (gateway/storage/reports.py).

The ``conversations`` row keeps only the current handoff: ``hand_back`` clears its queue, waiting_since,
claimed_at and risk, so without this log a closed handoff would leave no trace but the transcript. The row
holds counts-only facts: channel, queue, reason, the risk level at the end, whether it was a counseling session,
when it started waiting, when a person took it (the last claim: a transfer to a queue starts a new wait) and
when it ended, and the outcome. No conversation id, no user id, no text: nothing here identifies a citizen, so
``forget`` and the retention jobs have nothing to delete in it.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.db import metadata

handoff_log = sa.Table(
    "handoff_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("queue", sa.String(32)),
    sa.Column("reason", sa.String(32)),
    sa.Column("risk", sa.String(16), nullable=False, default="none"),
    sa.Column("counseling", sa.Boolean, nullable=False, default=False),
    sa.Column("waiting_since", sa.DateTime, index=True),  # naive UTC, as every time of the gateway's database
    sa.Column("claimed_at", sa.DateTime),  # NULL: nobody took it (the citizen cancelled, or it was closed waiting)
    sa.Column("ended_at", sa.DateTime, nullable=False),
    sa.Column("outcome", sa.String(32)),
)


def record(connection: sa.engine.Connection, before, outcome, ended_at) -> None:
    """Log the handoff ``before`` (the Conversation as it was just before ``hand_back``), in the caller's
    transaction. Nothing for a chat the bot had."""
    if before is None or before.owner == "bot":
        return
    connection.execute(handoff_log.insert().values(
        channel=before.channel, queue=before.queue, reason=before.reason, risk=before.risk or "none",
        counseling=before.counseling_since is not None, waiting_since=before.waiting_since,
        claimed_at=before.claimed_at, ended_at=ended_at, outcome=outcome))
