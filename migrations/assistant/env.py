"""Alembic environment of the assistant DB (bookings + unanswered log); run through common/migrate.py."""

from alembic import context

from common.migrate import assistant_metadata, run_env

run_env(context, assistant_metadata(), "assistant")
