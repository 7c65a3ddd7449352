"""Baseline: the assistant DB's schema as create_all made it when migrations began (issue #15).

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


sa.Table('bulky_booking_history', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('receipt_no', sa.String(length=9), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('after', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_bulky_booking_history_receipt_no', 'bulky_booking_history', ['receipt_no'], unique=False)
sa.Table('bulky_bookings', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('receipt_no', sa.String(length=9), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('owner_ref', sa.String(length=16), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('ward', sa.String(length=16), nullable=False),
    sa.Column('area', sa.String(length=32), nullable=True),
    sa.Column('town', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('items', sa.Text(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cancelled_by', sa.String(length=64), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('remind', sa.Boolean(), nullable=False),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key'),
    sa.UniqueConstraint('receipt_no')
)
_index('ix_bulky_bookings_day_ward', 'bulky_bookings', ['day', 'ward'], unique=False)
_index('ix_bulky_bookings_owner_ref', 'bulky_bookings', ['owner_ref'], unique=False)
_index('ix_bulky_bookings_phone', 'bulky_bookings', ['phone'], unique=False)
sa.Table('bulky_capacity', FROZEN,
    sa.Column('ward', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('ward', 'day')
)
sa.Table('bulky_lookup_failures', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_bulky_lookup_failures_key_at', 'bulky_lookup_failures', ['key', 'at'], unique=False)
sa.Table('unanswered_questions', FROZEN,
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('best_guess', sa.String(length=200), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('conversation', sa.String(length=16), nullable=True),
    sa.Column('resolved_topic', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id')
)
_index('ix_unanswered_questions_conversation', 'unanswered_questions', ['conversation'], unique=False)
_index('ix_unanswered_questions_created_at', 'unanswered_questions', ['created_at'], unique=False)


def upgrade() -> None:
    create_missing(op.get_bind(), FROZEN)


def downgrade() -> None:
    for table in reversed(FROZEN.sorted_tables):
        op.drop_table(table.name)

