"""The engine's endpoints from the environment (tools/endpoints.py via tools/stack.py, deploy/endpoints.yml) are
what Rasa 3.6 itself accepts: read with ``read_endpoint_config`` and built with ``TrackerStore.create`` /
``LockStore.create`` against a real PostgreSQL and a real redis-server started here; a tracker is saved and read
back, a conversation's lock is taken and seen in Redis. Unset variables: today's SQLite tracker, in-memory lock."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tools.endpoints import PINGING_SQL_STORE, engine_endpoints, lock_store, tracker_store
from tools.model import SERVING_DEFAULTS, engine_env
from tools.stack import Stack
from tools.redis_server import RedisServer, installed

ROOT = Path(__file__).resolve().parents[2]



@pytest.fixture
def redis_server():
    """A redis-server's port."""
    if not installed():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server.port
    server.stop()


@pytest.fixture
def tracker_db(postgres_url):
    """A new database for Rasa's tracker store on the throwaway PostgreSQL: (server URL, database name)."""
    name = "rasa_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(postgres_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0], name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def _domain():
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml"))


def _exercise(endpoints_file: Path, redis_port: int, redis_db: int) -> None:
    """Build both stores as `rasa run` does and use them."""
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import read_endpoint_config
    import redis

    tracker_config = read_endpoint_config(str(endpoints_file), "tracker_store")
    lock_config = read_endpoint_config(str(endpoints_file), "lock_store")
    store = TrackerStore.create(tracker_config, _domain())
    # Rasa falls back to an in-memory store when it cannot connect: that must not happen here
    assert isinstance(store, SQLTrackerStore), type(store)
    assert store.engine.dialect.name == "postgresql"
    assert store.engine.pool.size() == int(SERVING_DEFAULTS["SQL_POOL_SIZE"])

    sender = "line:U" + uuid.uuid4().hex
    tracker = DialogueStateTracker.from_events(sender, [UserUttered("ごみの日を教えて")])

    async def roundtrip():
        await store.save(tracker)
        return await store.retrieve(sender)

    again = asyncio.run(roundtrip())
    assert again is not None and again.latest_message.text == "ごみの日を教えて"

    locks = LockStore.create(lock_config)
    assert isinstance(locks, RedisLockStore)
    assert locks.key_prefix.startswith("sapporo:")

    async def hold():
        async with locks.lock(sender, wait_time_in_seconds=0.05):
            client = redis.StrictRedis(host="127.0.0.1", port=redis_port, db=redis_db)
            return [k.decode() for k in client.keys("sapporo:*")]

    assert asyncio.run(hold()) == [locks.key_prefix + sender]
    store.engine.dispose()


def test_stack_endpoints_from_environment_work_in_rasa(tmp_path, tracker_db, redis_server, monkeypatch):
    server, database = tracker_db
    for name, value in SERVING_DEFAULTS.items():  # what the engine process gets (Rasa reads them at use)
        monkeypatch.setenv(name, value)
    stack = Stack(data_dir=tmp_path, actions_port=5999, extra_env={
        "TRACKER_STORE_URL": f"{server}/{database}",
        "LOCK_STORE_URL": f"redis://127.0.0.1:{redis_server}/2",
        "ACTION_SERVER_URL": "http://127.0.0.1:6001/",
    })
    path = stack._endpoints_file()
    written = json.loads(path.read_text())
    assert written["action_endpoint"] == {"url": "http://127.0.0.1:6001/webhook"}
    assert written["tracker_store"]["dialect"] == "postgresql" and written["tracker_store"]["db"] == database
    assert written["lock_store"]["db"] == 2
    _exercise(path, redis_server, 2)


def test_operator_endpoints_file_expands_variables_in_rasa(tracker_db, redis_server, monkeypatch):
    server, database = tracker_db
    for name, value in SERVING_DEFAULTS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ACTION_SERVER_URL", "http://haproxy:5056")
    monkeypatch.setenv("TRACKER_STORE_URL", f"{server}/{database}")
    monkeypatch.setenv("LOCK_STORE_HOST", "127.0.0.1")
    monkeypatch.setenv("LOCK_STORE_PORT", str(redis_server))
    monkeypatch.setenv("LOCK_STORE_DB", "3")
    monkeypatch.setenv("LOCK_STORE_PASSWORD", "")
    from rasa.utils.endpoints import read_endpoint_config

    action = read_endpoint_config(str(ROOT / "deploy" / "endpoints.yml"), "action_endpoint")
    assert action.url == "http://haproxy:5056/webhook"
    _exercise(ROOT / "deploy" / "endpoints.yml", redis_server, 3)


def test_unset_variables_keep_the_one_machine_default(tmp_path, monkeypatch):
    for name in ("TRACKER_STORE_URL", "LOCK_STORE_URL", "ACTION_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    written = json.loads(Stack(data_dir=tmp_path, actions_port=5055)._endpoints_file().read_text())
    assert written == {"action_endpoint": {"url": "http://127.0.0.1:5055/webhook"},
                       "tracker_store": {"type": "SQL", "dialect": "sqlite",
                                         "db": str(tmp_path / "engine" / "tracker.db")}}
    from rasa.core.lock_store import InMemoryLockStore, LockStore
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    path = tmp_path / "engine" / "endpoints.yml"
    store = TrackerStore.create(read_endpoint_config(str(path), "tracker_store"), _domain())
    assert isinstance(store, SQLTrackerStore) and store.engine.dialect.name == "sqlite"
    assert isinstance(LockStore.create(read_endpoint_config(str(path), "lock_store")), InMemoryLockStore)


def test_the_tracker_store_survives_its_connections_being_cut(tracker_db):
    """A PostgreSQL restart cuts every pooled connection: the next turn's save still reaches PostgreSQL (Rasa's own
    SQLTrackerStore fails once per stale connection, and its fail-safe wrapper keeps those events in memory only)."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig
    from bot.tracker_store import PingingSQLTrackerStore

    server, name = tracker_db
    config = tracker_store(f"{server}/{name}")
    store = TrackerStore.create(EndpointConfig(**config), _domain())
    assert isinstance(store, PingingSQLTrackerStore)
    sender = "web:" + uuid.uuid4().hex

    async def save(text):
        tracker = (await store.retrieve(sender)) or DialogueStateTracker.from_events(sender, [])
        tracker.update(UserUttered(text))
        await store.save(tracker)

    asyncio.run(save("一つめ"))
    admin = sa.create_engine(f"{server}/{name}", future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a restart does to the engine's pooled connections
        cut = conn.exec_driver_sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()").scalar()
    admin.dispose()
    assert cut >= 1
    asyncio.run(save("二つめ"))
    again = asyncio.run(store.retrieve(sender))
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["一つめ", "二つめ"]
    store.engine.dispose()


def test_urls_are_parsed_and_bad_ones_refused():
    assert tracker_store("postgresql+psycopg://rasa:p%40ss@db.internal:6543/tracker?sslmode=require") == {
        "type": PINGING_SQL_STORE, "dialect": "postgresql", "url": "db.internal", "port": 6543, "db": "tracker",
        "username": "rasa", "password": "p@ss", "query": {"sslmode": "require"}}
    assert lock_store("rediss://:secret@cache:6380/4", {"LOCK_STORE_KEY_PREFIX": "city1"}) == {
        "type": "redis", "url": "cache", "port": 6380, "db": 4, "key_prefix": "city1", "socket_timeout": 10.0,
        "password": "secret", "use_ssl": True}
    for bad in ("mysql://h/db", "postgresql://h", "sqlite://"):
        with pytest.raises(ValueError):
            tracker_store(bad)
    for bad, env in (("http://h:1/0", {}), ("redis://h:1/x", {}), ("redis://h:1/0", {"LOCK_STORE_KEY_PREFIX": "a-b"})):
        with pytest.raises(ValueError):
            lock_store(bad, env)
    assert engine_endpoints("http://127.0.0.1:5055", Path("/t.db"), {"ACTION_SERVER_URL": " "}) \
        ["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"


def test_serving_defaults_only_where_unset(monkeypatch):
    monkeypatch.setenv("SQL_POOL_SIZE", "20")
    monkeypatch.delenv("TICKET_LOCK_LIFETIME", raising=False)
    serving = engine_env(serving=True)
    assert serving["SQL_POOL_SIZE"] == "20" and serving["TICKET_LOCK_LIFETIME"] == "30"
    assert serving["TF_INTRA_OP_PARALLELISM_THREADS"] == "1"
    monkeypatch.delenv("TF_INTRA_OP_PARALLELISM_THREADS", raising=False)
    assert "TF_INTRA_OP_PARALLELISM_THREADS" not in engine_env()  # training keeps TensorFlow's defaults
