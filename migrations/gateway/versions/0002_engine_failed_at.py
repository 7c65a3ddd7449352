"""conversations.engine_failed_at: when a turn to the engine last failed (issue #15, engine killed mid-turn).

An engine that dies mid-turn leaves the conversation's Rasa ticket lock in Redis until TICKET_LOCK_LIFETIME; the
gateway gives that conversation's next turn the rest of that time on top of ENGINE_TIMEOUT
(gateway/handoff/engine_client.py), so it is answered late instead of failing too.

Revision ID: 0002_engine_failed_at
Revises: 0001_baseline
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0002_engine_failed_at'
down_revision: Union[str, Sequence[str], None] = '0001_baseline'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('conversations') as batch:
        batch.add_column(sa.Column('engine_failed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('conversations') as batch:
        batch.drop_column('engine_failed_at')
