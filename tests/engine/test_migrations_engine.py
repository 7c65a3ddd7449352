"""The assistant DB's migrations (migrations/assistant) under the engine's SQLAlchemy 1.4 and psycopg2, as the
action server runs them: the chain equals the models, an older create_all-made database is adopted with its rows,
processes starting at once on one fresh PostgreSQL database all come up.
(tests/gateway/test_migrations.py: the same for both chains under SQLAlchemy 2.1.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from common import migrate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assistant.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    name = "assistant_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield server.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def _revision(engine) -> str:
    with engine.connect() as c:
        return migrate.current(c, "assistant")


def test_sqlalchemy_is_the_engines():
    assert sa.__version__.startswith("1.4.")


def test_chain_equals_models(db_url):
    from common.booking.store import BookingStore

    store = BookingStore(url=db_url)
    assert _revision(store.engine) == migrate.heads("assistant")[0]
    assert migrate.diff(store.engine, migrate.assistant_metadata(), "assistant") == []


def test_older_database_is_adopted_with_its_rows(db_url):
    """Tables as an older version's create_all made them: bookings without ``version`` and the phone index, the
    unanswered log without ``conversation`` / ``resolved_topic``, no look-up failures table."""
    engine = sa.create_engine(db_url, future=True)
    old = sa.MetaData()
    store_md, unanswered_md = migrate.assistant_metadata()
    skip = {("bulky_bookings", "version"), ("unanswered_questions", "conversation"),
            ("unanswered_questions", "resolved_topic")}
    for table in list(store_md.sorted_tables) + list(unanswered_md.sorted_tables):
        if table.name == "bulky_lookup_failures":
            continue
        columns = [c.copy() for c in table.columns if (table.name, c.name) not in skip]
        for column in columns:
            column.index = None
        sa.Table(table.name, old, *columns)
    old.create_all(engine)
    now = datetime(2026, 11, 30, 9, 0)
    with engine.begin() as c:
        c.execute(sa.text(
            "INSERT INTO bulky_bookings (receipt_no, created_at, updated_at, channel, ward, town, address, phone, day,"
            " items, total, status, remind, idempotency_key) VALUES ('ABCD-EFGH', :t, :t, 'web', '中央区',"
            " '南1条西1丁目', '1-1', '0111234567', :d, '[{\"name\": \"いす\", \"quantity\": 1, \"fee\": 200}]', 200,"
            " 'booked', :r, 'k1')"), {"t": now, "d": date(2026, 12, 10), "r": False})
        c.execute(sa.text("INSERT INTO unanswered_questions (created_at, channel, kind, text) VALUES"
                          " (:t, 'web', 'fallback', 'ごみの日')"), {"t": now})
    engine.dispose()

    from common.booking.store import BookingStore

    store = BookingStore(url=db_url)
    assert _revision(store.engine) == migrate.heads("assistant")[0]
    assert migrate.diff(store.engine, migrate.assistant_metadata(), "assistant") == []
    booking = store.get("ABCD-EFGH")
    assert booking.version == 1 and booking.total == 200
    with store.engine.connect() as c:
        assert c.execute(sa.text("SELECT text, conversation FROM unanswered_questions")).all() == [("ごみの日", None)]


STARTER = """
import sys, time
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
from common.booking.store import BookingStore
from common import unanswered
BookingStore(url=sys.argv[1])
unanswered.record("粗大ごみ", "web", "fallback", url=sys.argv[1])
print("up")
"""


def test_action_servers_starting_at_once_all_come_up(db_url):
    start = time.time() + 4
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    processes = [subprocess.Popen([sys.executable, "-c", STARTER, db_url, str(start)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and out.strip() == "up", err[-3000:]
    engine = sa.create_engine(db_url, future=True)
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM alembic_version_assistant")).scalar() == 1
        assert c.execute(sa.text("SELECT count(*) FROM unanswered_questions")).scalar() == 3
    engine.dispose()
