"""Staff accounts: argon2id passwords, hashed session tokens with expiry, CSRF, audit, login rate limit, CLI.

Real SQLite files in tmp_path through ``gateway.storage.db.connect``; the CLI runs as a subprocess.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from gateway.staff import auth as staff_auth
from gateway.storage.db import connect, utcnow
from tests.gateway.conftest import ROOT

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path):
    engine = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def alice(db):
    return staff_auth.create_user(db, "alice", PASSWORD, "staff")


class Clock:
    def __init__(self, start=None) -> None:
        self.now = start or utcnow()

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(staff_auth, "utcnow", fake)
    return fake


# --- roles and passwords ---

def test_roles_and_queues():
    assert staff_auth.can_handle("staff", "general") and not staff_auth.can_handle("staff", "counseling")
    assert staff_auth.can_handle("counselor", "counseling") and not staff_auth.can_handle("counselor", "general")
    assert all(staff_auth.can_handle(r, q) for r in ("supervisor", "admin") for q in ("general", "counseling"))
    assert not staff_auth.can_handle("nobody", "general")
    assert [r for r in staff_auth.ROLES if staff_auth.sees_all_live_chats(r)] == ["supervisor", "admin"]
    assert [r for r in staff_auth.ROLES if staff_auth.is_admin(r)] == ["admin"]


def test_hash_is_argon2id_and_verifies():
    hashed = staff_auth.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert hashed != staff_auth.hash_password(PASSWORD)  # salted
    assert staff_auth.verify_password(hashed, PASSWORD)
    assert not staff_auth.verify_password(hashed, PASSWORD + "x")
    assert not staff_auth.verify_password("not a hash", PASSWORD)


# --- users ---

@pytest.mark.parametrize("username, password, role", [
    ("ab", PASSWORD, "staff"),                 # too short
    ("a" * 65, PASSWORD, "staff"),             # too long
    ("bad name", PASSWORD, "staff"),           # space
    ("山田", PASSWORD, "staff"),               # not ASCII
    ("bob", "short", "staff"),                 # password < 10
    ("bob", PASSWORD, "root"),                 # unknown role
])
def test_create_user_validation(db, username, password, role):
    with pytest.raises(ValueError) as error:
        staff_auth.create_user(db, username, password, role)
    assert any("\u3040" <= ch <= "\u30ff" for ch in str(error.value))  # a Japanese message
    assert staff_auth.list_users(db) == []


def test_create_user_duplicate_and_list(db, alice):
    with pytest.raises(ValueError, match="既に"):
        staff_auth.create_user(db, "alice", "another password", "admin")
    staff_auth.create_user(db, "b.o-b_2", "x" * 10, "counselor")
    users = staff_auth.list_users(db)
    assert [u["username"] for u in users] == ["alice", "b.o-b_2"]
    assert set(users[0]) == {"id", "username", "role", "active", "created_at"}
    assert users[0]["id"] == alice and users[0]["role"] == "staff" and users[0]["active"] is True


def test_authenticate(db, alice):
    assert staff_auth.authenticate(db, "alice", PASSWORD) == {"id": alice, "username": "alice", "role": "staff"}
    assert staff_auth.authenticate(db, "alice", "wrong password") is None
    assert staff_auth.authenticate(db, "nobody", PASSWORD) is None
    assert staff_auth.authenticate(db, "x" * 500, PASSWORD) is None
    staff_auth.set_active(db, "alice", False)
    assert staff_auth.authenticate(db, "alice", PASSWORD) is None
    assert staff_auth.list_users(db)[0]["active"] is False
    staff_auth.set_active(db, "alice", True)
    assert staff_auth.authenticate(db, "alice", PASSWORD)["id"] == alice


def test_unknown_user_still_verifies_a_hash(db, monkeypatch):
    calls = []
    real = staff_auth.verify_password
    monkeypatch.setattr(staff_auth, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    assert staff_auth.authenticate(db, "nobody", PASSWORD) is None
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def test_set_password(db, alice):
    with pytest.raises(ValueError):
        staff_auth.set_password(db, "alice", "short")
    with pytest.raises(ValueError):
        staff_auth.set_password(db, "nobody", "long enough password")
    token, _ = staff_auth.create_session(db, alice)
    staff_auth.set_password(db, "alice", "a new password")
    assert staff_auth.authenticate(db, "alice", PASSWORD) is None
    assert staff_auth.authenticate(db, "alice", "a new password")["id"] == alice
    assert staff_auth.session_user(db, token) is None  # a password change ends sessions


def test_rehash_when_parameters_change(db, alice, monkeypatch):
    from argon2 import PasswordHasher
    with db.connect() as conn:
        old = conn.execute(sa.select(staff_auth.staff_users.c.password_hash)).scalar_one()
    monkeypatch.setattr(staff_auth, "_hasher", PasswordHasher(time_cost=4))
    assert staff_auth.authenticate(db, "alice", PASSWORD)
    with db.connect() as conn:
        new = conn.execute(sa.select(staff_auth.staff_users.c.password_hash)).scalar_one()
    assert new != old and "t=4" in new
    assert staff_auth.authenticate(db, "alice", PASSWORD)


def test_logs_name_outcome_but_never_password_or_token(db, alice, caplog):
    caplog.set_level(logging.DEBUG)
    staff_auth.authenticate(db, "alice", "wrong password 123")
    staff_auth.authenticate(db, "nobody", "another secret 456")
    staff_auth.authenticate(db, "alice", PASSWORD)
    token, csrf = staff_auth.create_session(db, alice)
    staff_auth.session_user(db, token)
    staff_auth.delete_session(db, token)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "alice" in text and "nobody" in text and "failed" in text and "ok" in text
    for secret in ("wrong password 123", "another secret 456", PASSWORD, token, csrf):
        assert secret not in text


# --- sessions ---

def test_session_stores_only_token_hash(db, alice):
    token, csrf = staff_auth.create_session(db, alice)
    assert len(token) >= 43 and len(csrf) >= 43 and token != csrf
    with db.connect() as conn:
        rows = conn.execute(sa.select(staff_auth.staff_sessions)).mappings().all()
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(v) for v in rows[0].values()}
    assert rows[0]["expires_at"] - rows[0]["created_at"] == staff_auth.SESSION_ABSOLUTE
    user = staff_auth.session_user(db, token)
    assert user == {"user_id": alice, "username": "alice", "role": "staff", "csrf_token": csrf}
    assert staff_auth.session_user(db, "not-a-token") is None
    assert staff_auth.session_user(db, "") is None and staff_auth.session_user(db, None) is None
    assert staff_auth.session_user(db, rows[0]["token_hash"]) is None  # the hash is not a token


def test_session_idle_expiry_and_last_seen(db, alice, clock):
    token, _ = staff_auth.create_session(db, alice)

    def last_seen():
        with db.connect() as conn:
            return conn.execute(sa.select(staff_auth.staff_sessions.c.last_seen)).scalar_one()

    start = last_seen()
    clock.now += timedelta(seconds=30)
    assert staff_auth.session_user(db, token)
    assert last_seen() == start  # written at most once a minute
    clock.now += timedelta(minutes=1)
    assert staff_auth.session_user(db, token)
    assert last_seen() == clock.now
    clock.now += staff_auth.SESSION_IDLE - timedelta(seconds=1)
    assert staff_auth.session_user(db, token)  # activity keeps it alive
    clock.now += staff_auth.SESSION_IDLE + timedelta(seconds=1)
    assert staff_auth.session_user(db, token) is None
    with db.connect() as conn:  # the expired session is gone
        assert conn.execute(sa.select(sa.func.count()).select_from(staff_auth.staff_sessions)).scalar() == 0


def test_session_absolute_expiry(db, alice, clock):
    token, _ = staff_auth.create_session(db, alice)
    for _ in range(7):  # active every 100 minutes: never idle, but 11 h 40 min old
        clock.now += timedelta(minutes=100)
        assert staff_auth.session_user(db, token)
    clock.now += timedelta(minutes=20)  # 12 h
    assert staff_auth.session_user(db, token) is None


def test_session_expiry_by_editing_the_database(db, alice):
    token, _ = staff_auth.create_session(db, alice)
    with db.begin() as conn:
        conn.execute(staff_auth.staff_sessions.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    assert staff_auth.session_user(db, token) is None


def test_session_delete_and_inactive_user(db, alice):
    bob = staff_auth.create_user(db, "bob", PASSWORD, "admin")
    one, _ = staff_auth.create_session(db, alice)
    two, _ = staff_auth.create_session(db, alice)
    three, _ = staff_auth.create_session(db, bob)
    staff_auth.delete_session(db, one)
    assert staff_auth.session_user(db, one) is None and staff_auth.session_user(db, two)
    staff_auth.delete_sessions_of(db, alice)
    assert staff_auth.session_user(db, two) is None
    assert staff_auth.session_user(db, three)["role"] == "admin"
    four, _ = staff_auth.create_session(db, alice)
    with db.begin() as conn:  # deactivated behind the API's back: the session still fails
        conn.execute(staff_auth.staff_users.update().where(staff_auth.staff_users.c.id == alice).values(active=False))
    assert staff_auth.session_user(db, four) is None
    staff_auth.delete_session(db, "unknown")  # no error


def test_csrf_ok():
    session = {"csrf_token": "abc123"}
    assert staff_auth.csrf_ok(session, "abc123")
    assert not staff_auth.csrf_ok(session, "abc124")
    assert not staff_auth.csrf_ok(session, None) and not staff_auth.csrf_ok(session, "")
    assert not staff_auth.csrf_ok(session, "日本語")
    assert not staff_auth.csrf_ok({}, "abc123") and not staff_auth.csrf_ok(None, "")


# --- audit ---

def test_audit_order_and_filter(db, alice, clock):
    user = staff_auth.session_user(db, staff_auth.create_session(db, alice)[0])
    staff_auth.audit(db, user, "take", conversation_id="c1")
    clock.now += timedelta(seconds=1)
    staff_auth.audit(db, {"id": alice, "username": "alice"}, "reply", conversation_id="c2", detail="x" * 900)
    staff_auth.audit(db, None, "user_create", detail="cli")  # same second: id breaks the tie
    clock.now += timedelta(seconds=1)
    staff_auth.audit(db, user, "close", conversation_id="c1")
    entries = staff_auth.audit_entries(db)
    assert [e["action"] for e in entries] == ["close", "user_create", "reply", "take"]
    assert entries[0]["user_id"] == alice and entries[0]["username"] == "alice"
    assert entries[1]["user_id"] is None and entries[1]["username"] == "system"
    assert len(entries[2]["detail"]) == 500
    assert [e["action"] for e in staff_auth.audit_entries(db, conversation_id="c1")] == ["close", "take"]
    assert [e["action"] for e in staff_auth.audit_entries(db, limit=2)] == ["close", "user_create"]
    assert staff_auth.audit_entries(db, conversation_id="none") == []


# --- login rate limit ---

class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_rate_limit_per_ip():
    ticks = Ticks()
    limiter = staff_auth.LoginRateLimiter(clock=ticks)
    for i in range(5):
        assert limiter.allowed("10.0.0.1", f"user{i}")
        limiter.failed("10.0.0.1", f"user{i}")
    assert not limiter.allowed("10.0.0.1", "someone-else")  # the IP is blocked for every name
    assert limiter.allowed("10.0.0.2", "someone-else")
    ticks.t += 299
    assert not limiter.allowed("10.0.0.1", "someone-else")
    ticks.t += 2  # the window has passed
    assert limiter.allowed("10.0.0.1", "someone-else")


def test_rate_limit_per_username_and_reset_on_success():
    ticks = Ticks()
    limiter = staff_auth.LoginRateLimiter(clock=ticks)
    for i in range(5):
        limiter.failed(f"10.0.0.{i}", "alice")
        ticks.t += 10
    assert not limiter.allowed("192.168.1.1", "alice")  # the name is blocked from every IP
    assert not limiter.allowed("192.168.1.1", "ALICE")
    assert limiter.allowed("192.168.1.1", "bob")
    ticks.t = 1000 + 305  # only the first failure (t=1000) has left the window
    assert limiter.allowed("192.168.1.1", "alice")
    limiter.failed("192.168.1.1", "alice")
    assert not limiter.allowed("192.168.1.1", "alice")
    limiter.succeeded("192.168.1.1", "alice")
    assert limiter.allowed("192.168.1.9", "alice")


def test_rate_limit_parameters():
    ticks = Ticks()
    limiter = staff_auth.LoginRateLimiter(max_failures=2, window_seconds=10, clock=ticks)
    limiter.failed("ip", "a")
    assert limiter.allowed("ip", "b")
    limiter.failed("ip", "b")
    assert not limiter.allowed("ip", "c")
    ticks.t += 11
    assert limiter.allowed("ip", "a")


# --- command line ---

def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway.staff.admin", *args], cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_cli_create_admin(tmp_path):
    path = tmp_path / "var" / "gateway.db"
    url = f"sqlite:///{path}"
    secret = "Sapporo-admin-2024!"
    first = run_cli("create-admin", "admin", "--password-stdin", "--db", url, stdin=secret + "\n")
    assert first.returncode == 0, first.stderr
    assert "admin" in first.stdout and "作成" in first.stdout

    again = run_cli("create-admin", "admin", "--password-stdin", "--db", url, stdin="other password 1\n")
    assert again.returncode == 1 and "既に" in again.stderr

    short = run_cli("create-user", "carol", "--role", "staff", "--password-stdin", "--db", url, stdin="short\n")
    assert short.returncode == 1 and "10文字以上" in short.stderr

    listing = run_cli("list-users", "--db", url)
    assert listing.returncode == 0 and "admin" in listing.stdout and "carol" not in listing.stdout

    for result in (first, again, short, listing):
        assert secret not in result.stdout + result.stderr

    engine = connect(url)
    try:
        assert staff_auth.authenticate(engine, "admin", secret)["role"] == "admin"
        assert any(e["action"] == "user_create" for e in staff_auth.audit_entries(engine))
    finally:
        engine.dispose()
    for file in path.parent.iterdir():  # the database and its WAL
        assert secret.encode() not in file.read_bytes()


def test_cli_deactivate_and_set_password(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    assert run_cli("create-user", "dave", "--role", "counselor", "--password-stdin", "--db", url,
                   stdin="first password\n").returncode == 0
    assert run_cli("set-password", "dave", "--password-stdin", "--db", url,
                   stdin="second password\r\n").returncode == 0
    assert run_cli("deactivate", "dave", "--db", url).returncode == 0
    missing = run_cli("deactivate", "nobody", "--db", url)
    assert missing.returncode == 1 and "存在しません" in missing.stderr
    engine = connect(url)
    try:
        assert staff_auth.authenticate(engine, "dave", "second password") is None  # inactive
        staff_auth.set_active(engine, "dave", True)
        assert staff_auth.authenticate(engine, "dave", "second password")["role"] == "counselor"
    finally:
        engine.dispose()
