"""Schema migrations (migrations/gateway, migrations/assistant; common/migrate.py) in the gateway's environment
(SQLAlchemy 2.1, psycopg 3), on SQLite and on a real PostgreSQL:

* each chain at head equals the models' metadata (Alembic's compare_metadata finds nothing);
* a database made by create_all before migrations (an older version: tables, columns and an index missing)
  is adopted with its rows;
* two processes starting at once on one fresh database both come up, and the schema is made once.

tests/engine/test_migrations_engine.py runs the assistant chain under the engine's SQLAlchemy 1.4.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from common import migrate
from gateway.storage.db import connect, load_tables

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, or a new database on the throwaway PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg")
    name = "migrations_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def _revision(engine: sa.engine.Engine, chain: str = "gateway") -> str:
    with engine.connect() as c:
        return migrate.current(c, chain)


def _version_rows(engine: sa.engine.Engine, chain: str = "gateway") -> int:
    with engine.connect() as c:
        return c.execute(sa.text(f"SELECT count(*) FROM {migrate.version_table(chain)}")).scalar()


# ---------------------------------------------------------------------- chain == models

def test_gateway_chain_equals_models(db_url):
    engine = connect(db_url)
    try:
        assert _revision(engine) == migrate.heads("gateway")[0]
        assert migrate.diff(engine, load_tables(), "gateway") == []
        connect(db_url).dispose()  # a second start changes nothing
        assert _version_rows(engine) == 1
    finally:
        engine.dispose()


def test_assistant_chain_equals_models(db_url):
    engine = sa.create_engine(db_url, future=True)
    try:
        migrate.upgrade(engine, "assistant")
        assert _revision(engine, "assistant") == migrate.heads("assistant")[0]
        assert migrate.diff(engine, migrate.assistant_metadata(), "assistant") == []
    finally:
        engine.dispose()


def test_a_model_change_without_revision_is_seen(tmp_path):
    """The comparison can fail: a column the models have and no revision made is reported."""
    engine = connect(f"sqlite:///{tmp_path / 'gw.db'}")
    extra = sa.MetaData()
    for table in load_tables().sorted_tables:
        table.to_metadata(extra)
    sa.Table("staff_presence", extra, sa.Column("mood", sa.String(8)), extend_existing=True)
    differences = migrate.diff(engine, extra, "gateway")
    engine.dispose()
    assert [d[0] for d in differences] == ["add_column"] and differences[0][3].name == "mood"


# ---------------------------------------------------------------------- adoption of create_all-made databases

def _baseline_schema() -> sa.MetaData:
    """The gateway's tables as the last version before migrations made them with create_all (the baseline
    revision's frozen copy; today's models have the later revisions' columns too)."""
    path = ROOT / "migrations" / "gateway" / "versions" / "0001_baseline.py"
    spec = importlib.util.spec_from_file_location("gateway_baseline_revision", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FROZEN


def _old_gateway_schema() -> sa.MetaData:
    """The gateway's tables as an older version's create_all made them: no messages.buttons, no index on
    messages.at, no canned_reply_meta / staff_presence tables."""
    old = sa.MetaData()
    for table in _baseline_schema().sorted_tables:
        if table.name in ("canned_reply_meta", "staff_presence"):
            continue
        columns = [c.copy() for c in table.columns if (table.name, c.name) != ("messages", "buttons")]
        for column in columns:
            column.index = None  # the indexes are copied below
        constraints = [sa.ForeignKeyConstraint([e.parent.name], [e.target_fullname], ondelete=e.ondelete)
                       for e in table.foreign_keys]
        constraints += [sa.UniqueConstraint(*(c.name for c in u.columns), name=u.name) for u in table.constraints
                        if isinstance(u, sa.UniqueConstraint)]
        copy = sa.Table(table.name, old, *columns, *constraints)
        for index in table.indexes:
            if index.name != "ix_messages_at":
                sa.Index(index.name, *(copy.c[c.name] for c in index.columns), unique=index.unique)
    return old


def test_old_gateway_database_is_adopted_with_its_rows(db_url):
    engine = sa.create_engine(db_url, future=True)
    _old_gateway_schema().create_all(engine)
    now = datetime(2026, 11, 30, 9, 0)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO conversations (id, channel, owner, priority, updated_at, engine_session, risk,"
                          " intake_step) VALUES ('web:abc', 'web', 'bot', 0, :t, 1, 'none', 0)"), {"t": now})
        c.execute(sa.text("INSERT INTO messages (conversation_id, at, sender, kind, text, protected)"
                          " VALUES ('web:abc', :t, 'user', 'text', 'こんにちは', :p)"), {"t": now, "p": False})
        c.execute(sa.text("INSERT INTO staff_users (username, password_hash, role, active, created_at)"
                          " VALUES ('sato', 'x', 'admin', :a, :t)"), {"a": True, "t": now})
    engine.dispose()

    engine = connect(db_url)
    try:
        assert _revision(engine) == migrate.heads("gateway")[0]
        assert migrate.diff(engine, load_tables(), "gateway") == []
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT text, buttons FROM messages")).all() == [("こんにちは", None)]
            assert c.execute(sa.text("SELECT username FROM staff_users")).scalars().all() == ["sato"]
            assert c.execute(sa.text("SELECT count(*) FROM staff_presence")).scalar() == 0
    finally:
        engine.dispose()


def test_current_database_made_by_create_all_is_adopted(db_url):
    """A database of the version just before migrations (its create_all, no alembic_version): adopted, then the
    later revisions run."""
    engine = sa.create_engine(db_url, future=True)
    _baseline_schema().create_all(engine)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO canned_replies (queue, text) VALUES ('general', 'お待ちください。')"))
    engine.dispose()
    engine = connect(db_url)
    try:
        assert _revision(engine) == migrate.heads("gateway")[0]
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT text FROM canned_replies")).scalars().all() == ["お待ちください。"]
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- several processes at once

STARTER = """
import sys, time
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
from gateway.storage.db import connect
from common.booking.store import BookingStore
from common import unanswered
engine = connect(sys.argv[1])
BookingStore(url=sys.argv[1])
unanswered.record("粗大ごみの日", "web", "fallback", url=sys.argv[1])
print("up")
"""


def test_processes_starting_at_once_all_come_up(db_url):
    """Three processes (gateways / action servers) open one fresh database at the same moment: each one
    comes up, each chain's schema is made once (one row in each chain's version table), nothing fails."""
    start = time.time() + 4  # after the interpreters have imported everything
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    processes = [subprocess.Popen([sys.executable, "-c", STARTER, db_url, str(start)], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, results):
        assert process.returncode == 0 and out.strip() == "up", err[-3000:]
    engine = sa.create_engine(db_url, future=True)
    try:
        for chain in migrate.CHAINS:  # the gateway's and the assistant's tables share the database here
            assert _version_rows(engine, chain) == 1
            assert _revision(engine, chain) == migrate.heads(chain)[0]
            metadata = load_tables() if chain == "gateway" else migrate.assistant_metadata()
            assert migrate.diff(engine, metadata, chain) == []
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM unanswered_questions")).scalar() == 3
    finally:
        engine.dispose()


@pytest.mark.parametrize("setting, pragma", [(None, 1), ("full", 2), ("Extra", 3), ("sometimes", 1)])
def test_the_sqlite_file_waits_for_the_disk_as_configured(tmp_path, monkeypatch, setting, pragma):
    """SQLITE_SYNCHRONOUS (README "Configuration"): NORMAL (1) by default and for a value it does not know."""
    from gateway.settings import Settings
    if setting is None:
        monkeypatch.delenv("SQLITE_SYNCHRONOUS", raising=False)
    else:
        monkeypatch.setenv("SQLITE_SYNCHRONOUS", setting)
    engine = connect(f"sqlite:///{tmp_path}/g.db", Settings.from_env().sqlite_synchronous)
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == pragma
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
