"""Baseline: the gateway DB's schema as create_all made it when migrations began (issue #15).

A fresh database gets every table. A database made by create_all before migrations (tables but no
alembic_version) is adopted: only what is missing is created (tables, columns and indexes an older version
lacked), rows are kept (common/migrate.py ``create_missing``). The tables are frozen here on purpose: later
changes of the models need a revision of their own, never an edit of this file.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-12-01
"""
from typing import List, Sequence, Union

import sqlalchemy as sa
from alembic import op

from common.migrate import create_missing

revision: str = '0001_baseline'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FROZEN = sa.MetaData()


def _index(name: str, table: str, columns: List[str], unique: bool = False) -> sa.Index:
    return sa.Index(name, *(FROZEN.tables[table].c[c] for c in columns), unique=unique)


sa.Table('audit_log', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
_index('ix_audit_log_conversation_id', 'audit_log', ['conversation_id'], unique=False)
sa.Table('canned_replies', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
sa.Table('conversations', FROZEN,
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=True),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('waiting_since', sa.DateTime(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('engine_session', sa.Integer(), nullable=False),
    sa.Column('risk', sa.String(length=16), server_default='none', nullable=False),
    sa.Column('risk_rules', sa.String(length=200), nullable=True),
    sa.Column('counseling_since', sa.DateTime(), nullable=True),
    sa.Column('intake_step', sa.Integer(), server_default='0', nullable=False),
    sa.Column('intake_age', sa.String(length=32), nullable=True),
    sa.Column('intake_topic', sa.String(length=32), nullable=True),
    sa.Column('last_user_at', sa.DateTime(), nullable=True),
    sa.Column('idle_checked_at', sa.DateTime(), nullable=True),
    sa.Column('alerted_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_conversations_owner', 'conversations', ['owner'], unique=False)
sa.Table('handoff_log', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('queue', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=True),
    sa.Column('risk', sa.String(length=16), nullable=False),
    sa.Column('counseling', sa.Boolean(), nullable=False),
    sa.Column('waiting_since', sa.DateTime(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_handoff_log_waiting_since', 'handoff_log', ['waiting_since'], unique=False)
sa.Table('line_inbox', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('chat', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('outgoing', sa.Text(), nullable=True),
    sa.Column('error', sa.String(length=64), nullable=True),
    sa.Column('failed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_line_inbox_chat', 'line_inbox', ['chat'], unique=False)
_index('ix_line_inbox_state', 'line_inbox', ['state'], unique=False)
sa.Table('line_unfollows', FROZEN,
    sa.Column('chat', sa.String(length=128), nullable=False),
    sa.Column('unfollowed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('chat')
)
_index('ix_line_unfollows_unfollowed_at', 'line_unfollows', ['unfollowed_at'], unique=False)
sa.Table('line_webhook_events', FROZEN,
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
)
_index('ix_line_webhook_events_received_at', 'line_webhook_events', ['received_at'], unique=False)
sa.Table('staff_login_failures', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('scope', sa.String(length=4), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_staff_login_failures_key', 'staff_login_failures', ['scope', 'key', 'at'], unique=False)
sa.Table('staff_presence', FROZEN,
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.Column('last_assigned', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username')
)
sa.Table('staff_users', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
)
sa.Table('canned_reply_meta', FROZEN,
    sa.Column('reply_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=True),
    sa.Column('keyword', sa.String(length=32), nullable=True),
    sa.Column('updated_by', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['reply_id'], ['canned_replies.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('reply_id')
)
_index('ix_canned_reply_meta_keyword', 'canned_reply_meta', ['keyword'], unique=False)
sa.Table('messages', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.String(length=200), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('sender', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('protected', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('buttons', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_messages_at', 'messages', ['at'], unique=False)
_index('ix_messages_conversation_id', 'messages', ['conversation_id'], unique=False)
_index('ix_messages_protected', 'messages', ['protected'], unique=False)
sa.Table('staff_sessions', FROZEN,
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash')
)
_index('ix_staff_sessions_user_id', 'staff_sessions', ['user_id'], unique=False)


def upgrade() -> None:
    create_missing(op.get_bind(), FROZEN)


def downgrade() -> None:
    for table in reversed(FROZEN.sorted_tables):
        op.drop_table(table.name)

