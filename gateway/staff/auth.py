"""Staff accounts for the handoff console: users, passwords, sessions, CSRF, login rate limit, roles, audit.

Passwords are hashed with argon2id (argon2-cffi). The session cookie carries a random token; the
database keeps only its SHA-256, so a leaked database does not hand out live sessions. Each session
has its own CSRF token, sent back by the console in a header on every state-changing request.

Functions are synchronous (short indexed reads and writes); async handlers call them with
``gateway.storage.db.run_db``. Nothing here logs a password or a token — only usernames and outcomes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from collections import deque
from datetime import timedelta
from typing import Callable, Deque, Dict, Iterable, Optional, Set, Tuple

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gateway.storage.db import metadata, utcnow

logger = logging.getLogger(__name__)

ROLES = ("staff", "counselor", "supervisor", "admin")
QUEUES_BY_ROLE = {
    "staff": {"general"},
    "counselor": {"counseling"},
    "supervisor": {"general", "counseling"},
    "admin": {"general", "counseling"},
}

SESSION_ABSOLUTE = timedelta(hours=12)
SESSION_IDLE = timedelta(hours=2)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)  # last_seen is written at most this often

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,64}")
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; this only stops absurd inputs

staff_users = sa.Table(
    "staff_users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime, nullable=False, default=utcnow),
)

staff_sessions = sa.Table(
    "staff_sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 hex of the cookie token
    sa.Column("user_id", sa.Integer, sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("user_id", sa.Integer, nullable=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("conversation_id", sa.String(200), nullable=True, index=True),
    sa.Column("detail", sa.String(500), nullable=True),
)

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 defaults
_dummy_hash: Optional[str] = None


# --- roles -------------------------------------------------------------------------------------

def can_handle(role: str, queue: str) -> bool:
    """Whether a user of this role may take conversations from this handoff queue."""
    return queue in QUEUES_BY_ROLE.get(role, set())


def sees_all_live_chats(role: str) -> bool:
    """Supervisors and admins may watch every live chat, not only their own."""
    return role in ("supervisor", "admin")


def is_admin(role: str) -> bool:
    return role == "admin"


# --- passwords ---------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """An argon2id hash (salt and parameters included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if the password matches; False for a mismatch or a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(24))
    return _dummy_hash


def _check_username(username: str) -> None:
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise ValueError("ユーザー名は英数字と _ . - のみ、3〜64文字で指定してください。")


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"パスワードは{MIN_PASSWORD_CHARS}文字以上にしてください。")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"パスワードは{MAX_PASSWORD_CHARS}文字以内にしてください。")


# --- users -------------------------------------------------------------------------------------

def create_user(engine: sa.engine.Engine, username: str, password: str, role: str) -> int:
    """Create an active user; ValueError (Japanese message) for invalid input or a taken username."""
    _check_username(username)
    _check_password(password)
    if role not in ROLES:
        raise ValueError(f"役割は {', '.join(ROLES)} のいずれかを指定してください。")
    password_hash = hash_password(password)
    duplicate = ValueError(f"ユーザー名「{username}」は既に使われています。")
    try:
        with engine.begin() as conn:
            if conn.execute(sa.select(staff_users.c.id).where(staff_users.c.username == username)).first():
                raise duplicate
            result = conn.execute(staff_users.insert().values(
                username=username, password_hash=password_hash, role=role, active=True, created_at=utcnow()))
            user_id = int(result.inserted_primary_key[0])
    except sa.exc.IntegrityError:  # a concurrent insert of the same name
        raise duplicate from None
    logger.info("staff user created: %r (%s)", username, role)
    return user_id


def list_users(engine: sa.engine.Engine) -> list[dict]:
    """All users by username (id, username, role, active, created_at) — never the hash."""
    columns = [staff_users.c.id, staff_users.c.username, staff_users.c.role,
               staff_users.c.active, staff_users.c.created_at]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*columns).order_by(staff_users.c.username)).mappings().all()
    return [dict(row) for row in rows]


def _user_id(conn: sa.engine.Connection, username: str) -> int:
    row = conn.execute(sa.select(staff_users.c.id).where(staff_users.c.username == username)).first()
    if row is None:
        raise ValueError(f"ユーザー「{username}」は存在しません。")
    return row.id


def set_active(engine: sa.engine.Engine, username: str, active: bool) -> None:
    """Enable or disable a user; disabling also ends the user's sessions."""
    with engine.begin() as conn:
        user_id = _user_id(conn, username)
        conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(active=bool(active)))
        if not active:
            conn.execute(staff_sessions.delete().where(staff_sessions.c.user_id == user_id))
    logger.info("staff user %r %s", username, "activated" if active else "deactivated")


def set_password(engine: sa.engine.Engine, username: str, password: str) -> None:
    """Replace a user's password and end the user's sessions."""
    _check_password(password)
    password_hash = hash_password(password)
    with engine.begin() as conn:
        user_id = _user_id(conn, username)
        conn.execute(staff_users.update().where(staff_users.c.id == user_id).values(password_hash=password_hash))
        conn.execute(staff_sessions.delete().where(staff_sessions.c.user_id == user_id))
    logger.info("staff password changed: %r", username)


def authenticate(engine: sa.engine.Engine, username: str, password: str) -> Optional[dict]:
    """{id, username, role} for an active user with this password, else None (same cost either way)."""
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        logger.info("staff login failed: invalid input")
        return None
    row = None
    if len(username) <= 64:
        with engine.connect() as conn:
            row = conn.execute(sa.select(staff_users).where(staff_users.c.username == username)).first()
    if row is None:
        verify_password(_dummy(), password)  # unknown usernames cost as much as known ones
        logger.info("staff login failed: unknown user %r", username[:64])
        return None
    if not verify_password(row.password_hash, password):
        logger.info("staff login failed: wrong password for %r", username)
        return None
    if not row.active:
        logger.info("staff login failed: inactive user %r", username)
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as conn:
            conn.execute(staff_users.update().where(staff_users.c.id == row.id)
                         .values(password_hash=hash_password(password)))
    logger.info("staff login ok: %r", username)
    return {"id": row.id, "username": row.username, "role": row.role}


# --- sessions ----------------------------------------------------------------------------------

def token_hash(token: str) -> str:
    """What the database keeps of a session token (and the live console sockets remember)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(engine: sa.engine.Engine, user_id: int) -> Tuple[str, str]:
    """(cookie token, csrf token) for a new session; also drops sessions that have expired."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(staff_sessions.delete().where(sa.or_(
            staff_sessions.c.expires_at <= now, staff_sessions.c.last_seen < now - SESSION_IDLE)))
        conn.execute(staff_sessions.insert().values(
            token_hash=token_hash(token), user_id=user_id, csrf_token=csrf,
            created_at=now, last_seen=now, expires_at=now + SESSION_ABSOLUTE))
    return token, csrf


def session_user(engine: sa.engine.Engine, token: Optional[str]) -> Optional[dict]:
    """{user_id, username, role, csrf_token} for a live session of an active user, else None."""
    if not token or len(token) > 256:
        return None
    hashed, now = token_hash(token), utcnow()
    query = (sa.select(staff_sessions, staff_users.c.username, staff_users.c.role, staff_users.c.active)
             .join(staff_users, staff_users.c.id == staff_sessions.c.user_id)
             .where(staff_sessions.c.token_hash == hashed))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    if now >= row.expires_at or now - row.last_seen > SESSION_IDLE or not row.active:
        delete_session(engine, token)
        return None
    if now - row.last_seen >= LAST_SEEN_RESOLUTION:
        with engine.begin() as conn:
            conn.execute(staff_sessions.update().where(staff_sessions.c.token_hash == hashed)
                         .values(last_seen=now))
    return {"user_id": row.user_id, "username": row.username, "role": row.role, "csrf_token": row.csrf_token}


def live_sessions(engine: sa.engine.Engine, token_hashes: Iterable[str]) -> Set[str]:
    """Which of these sessions still hold: not ended, not expired, not idle too long, user active.

    Read-only (it does not count as activity): the console's sockets are checked with it on every event.
    """
    wanted = list(set(token_hashes))
    if not wanted:
        return set()
    now = utcnow()
    query = (sa.select(staff_sessions.c.token_hash)
             .join(staff_users, staff_users.c.id == staff_sessions.c.user_id)
             .where(staff_sessions.c.token_hash.in_(wanted), staff_sessions.c.expires_at > now,
                    staff_sessions.c.last_seen >= now - SESSION_IDLE, staff_users.c.active.is_(True)))
    with engine.connect() as conn:
        return {row.token_hash for row in conn.execute(query)}


def delete_session(engine: sa.engine.Engine, token: Optional[str]) -> None:
    """End one session (logout); unknown tokens are ignored."""
    if not token:
        return
    with engine.begin() as conn:
        conn.execute(staff_sessions.delete().where(staff_sessions.c.token_hash == token_hash(token)))


def delete_sessions_of(engine: sa.engine.Engine, user_id: int) -> None:
    """End every session of a user."""
    with engine.begin() as conn:
        conn.execute(staff_sessions.delete().where(staff_sessions.c.user_id == user_id))


def csrf_ok(session: Optional[dict], presented: Optional[str]) -> bool:
    """Constant-time check of the CSRF token the client sent against the session's."""
    expected = (session or {}).get("csrf_token")
    if not expected or not presented:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


# --- audit -------------------------------------------------------------------------------------

def audit(engine: sa.engine.Engine, user: Optional[dict], action: str,
          conversation_id: Optional[str] = None, detail: Optional[str] = None) -> None:
    """Record who did what (``user`` None: the system or the command line)."""
    user = user or {}
    user_id = user.get("user_id", user.get("id"))
    with engine.begin() as conn:
        conn.execute(audit_log.insert().values(
            at=utcnow(), user_id=user_id, username=(user.get("username") or "system")[:64],
            action=action[:32], conversation_id=conversation_id[:200] if conversation_id else None,
            detail=detail[:500] if detail else None))


def audit_entries(engine: sa.engine.Engine, limit: int = 200,
                  conversation_id: Optional[str] = None) -> list[dict]:
    """The newest entries first, optionally of one conversation only."""
    query = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if conversation_id is not None:
        query = query.where(audit_log.c.conversation_id == conversation_id)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings().all()]


# --- login rate limit --------------------------------------------------------------------------

class LoginRateLimiter:
    """In-memory: at most ``max_failures`` failed logins per ``window_seconds`` per IP and per username.

    Either limit blocks. Per process: for one gateway (SQLite); several gateways on one PostgreSQL share
    ``SharedLoginRateLimiter`` (``login_limiter`` picks).
    """

    MAX_KEYS = 10_000  # above this, stale keys are swept so a spray of names cannot grow memory

    def __init__(self, max_failures: int = 5, window_seconds: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.clock = clock
        self._by_ip: Dict[str, Deque[float]] = {}
        self._by_user: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _user_key(username: Optional[str]) -> str:
        return (username or "").strip().lower()[:64]

    def _count(self, table: Dict[str, Deque[float]], key: str, now: float) -> int:
        times = table.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del table[key]
            return 0
        return len(times)

    def allowed(self, ip: str, username: Optional[str]) -> bool:
        """False while the IP or the username has reached the failure limit."""
        now = self.clock()
        with self._lock:
            return (self._count(self._by_ip, ip, now) < self.max_failures
                    and self._count(self._by_user, self._user_key(username), now) < self.max_failures)

    def attempt(self, ip: str, username: Optional[str]) -> Optional[float]:
        """Check and count a login in one step, before its password is hashed (checking first and counting
        after the hash let a burst of parallel tries all pass): its time, None when over the limit.
        It counts as a failure unless ``succeeded`` takes it back."""
        now = self.clock()
        with self._lock:
            if (self._count(self._by_ip, ip, now) >= self.max_failures
                    or self._count(self._by_user, self._user_key(username), now) >= self.max_failures):
                return None
            self._record(ip, username, now)
        return now

    def failed(self, ip: str, username: Optional[str]) -> None:
        """Count a failed login against both the IP and the username."""
        now = self.clock()
        with self._lock:
            self._record(ip, username, now)

    def _record(self, ip: str, username: Optional[str], now: float) -> None:
        for table, key in ((self._by_ip, ip), (self._by_user, self._user_key(username))):
            table.setdefault(key, deque(maxlen=self.max_failures)).append(now)
            if len(table) > self.MAX_KEYS:
                for stale in list(table):
                    self._count(table, stale, now)

    def succeeded(self, ip: str, username: Optional[str], at: Optional[float] = None) -> None:
        """A successful login clears the username's failures (the IP's stay) and takes back its own
        ``attempt`` (at its time ``at``)."""
        with self._lock:
            self._by_user.pop(self._user_key(username), None)
            times = self._by_ip.get(ip)
            if at is not None and times is not None and at in times:
                times.remove(at)

    # the login form's calls (gateway/staff/console/pages.py): in memory, no thread needed
    async def try_login(self, ip: str, username: Optional[str]) -> Optional[float]:
        return self.attempt(ip, username)

    async def login_ok(self, ip: str, username: Optional[str], at: Optional[float]) -> None:
        self.succeeded(ip, username, at)


# Failed (and in-flight) staff logins of the shared limiter: one row per IP and one per username and try.
login_failures = sa.Table(
    "staff_login_failures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("scope", sa.String(4), nullable=False),  # ip | user
    sa.Column("key", sa.String(128), nullable=False),  # the address, or the username in lower case
    sa.Column("at", sa.Float, nullable=False),  # unix time (the gateways' clocks, kept by NTP)
    sa.Index("ix_staff_login_failures_key", "scope", "key", "at"),
)
LOGIN_LOCK = (0x5a_70_03, 0)  # advisory lock (class, key): one check-and-count at a time across gateways


class SharedLoginRateLimiter(LoginRateLimiter):
    """The same limits as ``LoginRateLimiter``, counted in the gateway database, so that several gateways on one
    PostgreSQL share them (a failure on one counts on all). Check and count are one transaction under a
    transaction-level advisory lock, so parallel tries on different gateways cannot all pass either."""

    PRUNE_EVERY = 200  # attempts between two deletions of rows that left the window

    def __init__(self, db: sa.engine.Engine, max_failures: int = 5, window_seconds: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(max_failures, window_seconds, clock)
        self.db = db
        self._attempts = 0

    def _serialize(self, c: sa.engine.Connection) -> None:
        if c.dialect.name == "postgresql":
            c.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": LOGIN_LOCK[0], "b": LOGIN_LOCK[1]})

    def _counts(self, c: sa.engine.Connection, ip: str, username: Optional[str], now: float) -> Tuple[int, int]:
        since = now - self.window

        def count(scope: str, key: str) -> int:
            return c.execute(sa.select(sa.func.count()).select_from(login_failures).where(
                login_failures.c.scope == scope, login_failures.c.key == key[:128],
                login_failures.c.at > since)).scalar_one()
        return count("ip", ip), count("user", self._user_key(username))

    def _insert(self, c: sa.engine.Connection, ip: str, username: Optional[str], now: float) -> int:
        row = c.execute(login_failures.insert().values(scope="ip", key=ip[:128], at=now))
        c.execute(login_failures.insert().values(scope="user", key=self._user_key(username), at=now))
        return row.inserted_primary_key[0]

    def allowed(self, ip: str, username: Optional[str]) -> bool:
        with self.db.connect() as c:
            return max(self._counts(c, ip, username, self.clock())) < self.max_failures

    def attempt(self, ip: str, username: Optional[str]) -> Optional[float]:
        """As ``LoginRateLimiter.attempt``; returns the IP row's id (for ``succeeded``), None when over the limit."""
        now = self.clock()
        with self._lock, self.db.begin() as c:
            self._serialize(c)
            if max(self._counts(c, ip, username, now)) >= self.max_failures:
                return None
            row_id = self._insert(c, ip, username, now)
            self._attempts += 1
            if self._attempts % self.PRUNE_EVERY == 0:
                c.execute(login_failures.delete().where(login_failures.c.at <= now - self.window))
        return row_id

    def failed(self, ip: str, username: Optional[str]) -> None:
        with self.db.begin() as c:
            self._insert(c, ip, username, self.clock())

    def succeeded(self, ip: str, username: Optional[str], at: Optional[float] = None) -> None:
        """The username's failures go (the IP's stay), and the try's own IP row (``at``: its id)."""
        with self.db.begin() as c:
            c.execute(login_failures.delete().where(login_failures.c.scope == "user",
                                                    login_failures.c.key == self._user_key(username)))
            if at is not None:
                c.execute(login_failures.delete().where(login_failures.c.id == at, login_failures.c.scope == "ip"))

    async def try_login(self, ip: str, username: Optional[str]) -> Optional[float]:
        from gateway.storage.db import run_db

        return await run_db(self.attempt, ip, username)

    async def login_ok(self, ip: str, username: Optional[str], at: Optional[float]) -> None:
        from gateway.storage.db import run_db

        await run_db(self.succeeded, ip, username, at)


def login_limiter(db: sa.engine.Engine) -> LoginRateLimiter:
    """In memory for one gateway (SQLite); in the database when gateways share PostgreSQL."""
    return SharedLoginRateLimiter(db) if db.dialect.name == "postgresql" else LoginRateLimiter()
