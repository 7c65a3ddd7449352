"""Alembic environment of the gateway DB; run through common/migrate.py (gateway/storage/migrate.py)."""

from alembic import context

from gateway.storage.db import load_tables
from common.migrate import run_env

run_env(context, load_tables(), "gateway")
