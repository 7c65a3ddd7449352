"""The engine's endpoints (Rasa 3.6's endpoints.yml) from the environment, for tools/stack.py and tools/scaleout.py.

    TRACKER_STORE_URL   postgresql://user:password@host:port/db[?sslmode=…]  → tracker_store: {type:
                        bot.tracker_store.PingingSQLTrackerStore (Rasa's SQL store, pinging pool), dialect: postgresql, url: host, port, db, username, password[, query]}
                        (a driver suffix such as +psycopg is dropped: Rasa's SQLAlchemy 1.4 uses psycopg2);
                        sqlite:///path → the SQLite tracker store at that path.
                        Unset: SQLite at <data dir>/engine/tracker.db (one machine, today's default).
    LOCK_STORE_URL      redis://[:password@]host:port/db (rediss:// for TLS) → lock_store: {type: redis, url: host,
                        port, db, key_prefix, socket_timeout[, password, use_ssl]}.
                        Unset: Rasa's in-memory lock store (right for one engine process only).
    LOCK_STORE_KEY_PREFIX   letters and digits only (Rasa drops any other prefix); default ``sapporo``.
    LOCK_STORE_SOCKET_TIMEOUT  seconds until a Redis call fails; default 10 (Rasa's).
    ACTION_SERVER_URL   the action server's base URL (in the scale-out topology HAProxy's actions frontend);
                        default the local action server of this run.

The argument names are those of Rasa 3.6's SQLTrackerStore(dialect, host → ``url``, port, db, username, password,
query) and RedisLockStore(host → ``url``, port, db, password, use_ssl, key_prefix, socket_timeout);
tests/engine/test_engine_endpoints.py builds both from the written file with Rasa's own factories.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_KEY_PREFIX = "sapporo"
PINGING_SQL_STORE = "bot.tracker_store.PingingSQLTrackerStore"
DEFAULT_SOCKET_TIMEOUT = 10.0


def tracker_store(url: str) -> Dict[str, Any]:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "sqlite":
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path:
            raise ValueError("TRACKER_STORE_URL: sqlite needs a file, sqlite:///path/tracker.db")
        return {"type": "SQL", "dialect": "sqlite", "db": path}
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"TRACKER_STORE_URL: postgresql://… or sqlite:///…, not {parts.scheme}://")
    database = parts.path.lstrip("/")
    if not parts.hostname or not database:
        raise ValueError("TRACKER_STORE_URL needs a host and a database: postgresql://user:pw@host:5432/rasa")
    # Rasa's SQLTrackerStore with a pinging pool (bot/tracker_store.py: survives a PostgreSQL restart)
    store: Dict[str, Any] = {"type": PINGING_SQL_STORE, "dialect": "postgresql", "url": parts.hostname,
                             "port": parts.port or 5432, "db": unquote(database)}
    if parts.username:
        store["username"] = unquote(parts.username)
    if parts.password is not None:
        store["password"] = unquote(parts.password)
    if parts.query:
        store["query"] = dict(parse_qsl(parts.query))
    return store


def lock_store(url: str, env: Mapping[str, str]) -> Dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ValueError(f"LOCK_STORE_URL: redis://host:port/db, not {url!r}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError("LOCK_STORE_URL: the database is a number, redis://host:6379/2")
    prefix = env.get("LOCK_STORE_KEY_PREFIX", "").strip() or DEFAULT_KEY_PREFIX
    if not prefix.isalnum():
        raise ValueError("LOCK_STORE_KEY_PREFIX: letters and digits only (Rasa ignores any other prefix)")
    store: Dict[str, Any] = {"type": "redis", "url": parts.hostname, "port": parts.port or 6379,
                             "db": int(path or 0), "key_prefix": prefix,
                             "socket_timeout": float(env.get("LOCK_STORE_SOCKET_TIMEOUT") or DEFAULT_SOCKET_TIMEOUT)}
    if parts.password:
        store["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        store["use_ssl"] = True
    return store


def engine_endpoints(actions_url: str, sqlite_tracker: Path,
                     env: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The endpoints for ``rasa run --endpoints``; ``actions_url`` and ``sqlite_tracker`` are the one-machine
    defaults, the environment (``env``, else os.environ) overrides them."""
    env = os.environ if env is None else env
    action_base = (env.get("ACTION_SERVER_URL", "").strip() or actions_url).rstrip("/")
    tracker_url = env.get("TRACKER_STORE_URL", "").strip()
    endpoints: Dict[str, Any] = {
        "action_endpoint": {"url": f"{action_base}/webhook"},
        "tracker_store": tracker_store(tracker_url) if tracker_url else
        {"type": "SQL", "dialect": "sqlite", "db": str(sqlite_tracker)},
    }
    lock_url = env.get("LOCK_STORE_URL", "").strip()
    if lock_url:
        endpoints["lock_store"] = lock_store(lock_url, env)
    return endpoints
