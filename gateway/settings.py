"""Gateway settings, read once from the environment (see README "Configuration")."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
SQLITE_SYNCHRONOUS_VALUES = ("NORMAL", "FULL", "EXTRA")  # what SQLITE_SYNCHRONOUS may say (gateway/storage/db.py)


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _choice(name: str, allowed, default: str) -> str:
    value = os.environ.get(name, default).strip().upper()
    return value if value in allowed else default


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    engine_url: str = "http://127.0.0.1:5005"
    # Connection refused is immediate; a hung engine is cut off after engine_timeout seconds.
    engine_connect_timeout: float = 2.0
    engine_timeout: float = 20.0
    # Rasa's TICKET_LOCK_LIFETIME (tools/model.py: 30 s): an engine that dies mid-turn leaves its conversation
    # locked (Redis lock store) that long; the conversation's next turn may wait for it (router._to_engine).
    engine_lock_seconds: float = 30.0
    max_message_chars: int = 2000
    data_dir: str = "var"
    cors_origins: list = field(default_factory=list)
    # Conversations, owners, messages, staff users, audit (gateway/storage/db.py). Empty: SQLite in data_dir.
    db_url: str = ""
    # SQLite's ``synchronous`` for that database when it is a SQLite file (WAL). NORMAL: a commit survives the death
    # of any process (kill -9) without waiting for the disk; only an OS crash or power loss may take back the last
    # commits. FULL waits for the disk on every commit (measured: up to several ms per turn on a busy disk).
    sqlite_synchronous: str = "NORMAL"
    # The engine's database (unanswered-question log, common/unanswered.py), read for the staff's CSV export.
    assistant_db_url: str = ""
    # Staff session cookie Secure flag: "1" always, "0" never, "auto" (default) always except for plain
    # HTTP on loopback (make run, tests), where a browser would drop a Secure cookie.
    cookie_secure: str = "auto"
    # Youth counseling (README "Youth counseling"): hours file (default data/counseling/hours.yml), the upkeep
    # job's interval in seconds (0: off), inactivity check and close, long-wait re-alert, retention.
    counseling_hours_file: str = ""
    counseling_sweep_seconds: float = 60.0
    counseling_idle_check_minutes: float = 15.0
    counseling_idle_close_minutes: float = 10.0
    counseling_realert_minutes: float = 5.0
    counseling_retention_days: float = 90.0
    # A chat waiting longer than this (seconds; any queue) alerts those who answer its queue and is escalated to
    # the supervisors (gateway/counseling/jobs.py); 0: COUNSELING_REALERT_MINUTES, as before. Checked every
    # COUNSELING_SWEEP_SECONDS.
    staff_long_wait_seconds: float = 0.0
    # Seconds between checks for due 大型ごみ reminders (0: off).
    reminder_interval: float = 300.0
    # Retention (gateway/jobs/retention.py, README "Security and reliability"): the job's interval in seconds
    # (0: off) and how long each kind of data is kept; the city decides the periods. The engine's tracker store
    # is found at TRACKER_STORE_URL, else where `make run` puts it ($DATA_DIR/engine/tracker.db).
    retention_interval: float = 3600.0
    transcript_retention_days: float = 180.0
    tracker_retention_days: float = 180.0
    unanswered_retention_days: float = 365.0
    line_unfollow_grace_days: float = 30.0
    tracker_store_url: str = ""
    # LINE channel (connectors/line/channel.py): disabled unless both the secret and the access token are set.
    line_channel_secret: str = ""
    line_channel_access_token: str = ""
    line_api_base_url: str = "https://api.line.me"
    line_api_data_base_url: str = "https://api-data.line.me"  # rich menu images (tools/line_richmenu.py)
    line_api_timeout: float = 10.0
    # A push is retried on 429/5xx: line_retry_base_delay × 2^n seconds, at most line_push_attempts tries.
    line_retry_base_delay: float = 1.0
    line_push_attempts: int = 5
    # Webhook event ids are remembered this long (LINE redelivers for a few hours at most).
    line_dedupe_days: float = 7.0
    # A reply token older than this is not tried; the answer goes by push.
    line_reply_token_seconds: float = 50.0
    # The durable LINE inbox (connectors/line/channel.py): an event whose processing fails is tried again after
    # line_inbox_retry_seconds × 2^n (at most 5 minutes), at most line_inbox_attempts times, then listed for staff.
    line_inbox_attempts: int = 5
    line_inbox_retry_seconds: float = 2.0
    # Several gateways on one PostgreSQL: how often each takes up LINE chats with events not done that no gateway
    # works on (one killed mid-turn); see connectors/line/channel.py.
    line_inbox_sweep_seconds: float = 10.0
    # Public doors (README "Security and reliability"): request bodies and WebSocket messages over
    # max_body_bytes are refused with 413 while they stream in (gateway/http_limits.py); widget metadata over
    # max_metadata_bytes is dropped. Rate limits (gateway/rate_limits.py) in the `limits` library's notation,
    # several joined by ";"; the storage is memory:// (one gateway) or redis://host:6379/0 (several).
    max_body_bytes: int = 1_000_000
    max_metadata_bytes: int = 4096
    rate_limits: bool = True
    rate_limit_storage_url: str = "memory://"
    rate_limit_new_conversations: str = "30 per hour; 100 per day"
    rate_limit_address_messages: str = "120 per minute"
    rate_limit_conversation_messages: str = "30 per minute"
    # POST /api/messages (plain HTTP chat for integrations) answers only with this bearer token; empty: off.
    rest_api_token: str = ""
    # Website sessions (connectors/webchat_session.py): the HMAC secret of the session tokens (empty: generated
    # once in DATA_DIR; several gateways must share one), and what a widget gets again on (re)connect.
    webchat_session_secret: str = ""
    webchat_history_messages: int = 50
    webchat_history_hours: float = 24.0
    # Several gateways: redis://host:6379/0 for Socket.IO's Redis manager and the gateway bus (gateway/bus.py:
    # the staff console's live events and pushes to widgets on every gateway). Empty: one process.
    socketio_redis_url: str = ""

    # Token of the engine's HTTP API (rasa run --auth-token; tools/stack.py gives both sides the same one).
    engine_auth_token: str = ""
    # Where the gateway is reached (https://… behind the city's proxy); empty: http://HOST:PORT. Its origin is
    # the only one the staff console's Socket.IO accepts and the widget's default one (CORS_ORIGINS adds
    # others); the staff cookie is Secure unless it is plain HTTP on loopback (never taken from Host).
    public_url: str = ""
    # GET /metrics (gateway/metrics.py): METRICS=off removes it; it answers only loopback / private addresses
    # unless METRICS_PUBLIC=1, and only with "Authorization: Bearer <METRICS_TOKEN>" when that is set.
    metrics: bool = True
    metrics_public: bool = False
    metrics_token: str = ""

    def own_origins(self) -> list:
        """The gateway's own origin(s): that of PUBLIC_URL, or http://HOST:PORT (and localhost on loopback)."""
        if self.public_url:
            parts = urlsplit(self.public_url)
            return [f"{parts.scheme}://{parts.netloc}".lower()]
        origins = [f"http://{self.host}:{self.port}"]
        if self.host in LOOPBACK_HOSTS:
            origins += [f"http://{h}:{self.port}" for h in LOOPBACK_HOSTS if h != self.host]
        return origins

    def widget_origins(self) -> list:
        """Origins allowed to open a Socket.IO connection: the gateway's own and CORS_ORIGINS."""
        return self.own_origins() + [o for o in self.cors_origins if o not in self.own_origins()]

    def cookie_is_secure(self) -> bool:
        if self.cookie_secure in ("0", "1"):
            return self.cookie_secure == "1"
        parts = urlsplit(self.own_origins()[0])
        return parts.scheme == "https" or parts.hostname not in ("127.0.0.1", "localhost", "::1")

    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{os.path.abspath(self.data_dir)}/gateway.db"

    def tracker_database_url(self) -> str:
        return self.tracker_store_url or f"sqlite:///{os.path.abspath(self.data_dir)}/engine/tracker.db"

    @classmethod
    def from_env(cls) -> "Settings":
        origins = os.environ.get("CORS_ORIGINS", "")
        return cls(
            host=os.environ.get("HOST", cls.host),
            port=int(os.environ.get("PORT", cls.port)),
            engine_url=os.environ.get("ENGINE_URL", cls.engine_url).rstrip("/"),
            engine_connect_timeout=_env_float("ENGINE_CONNECT_TIMEOUT", cls.engine_connect_timeout),
            engine_timeout=_env_float("ENGINE_TIMEOUT", cls.engine_timeout),
            engine_lock_seconds=_env_float("TICKET_LOCK_LIFETIME", cls.engine_lock_seconds),
            max_message_chars=int(os.environ.get("MAX_MESSAGE_CHARS", cls.max_message_chars)),
            data_dir=os.environ.get("DATA_DIR", cls.data_dir),
            cors_origins=[o.strip() for o in origins.split(",") if o.strip()],
            db_url=os.environ.get("GATEWAY_DB_URL", ""),
            sqlite_synchronous=_choice("SQLITE_SYNCHRONOUS", SQLITE_SYNCHRONOUS_VALUES, cls.sqlite_synchronous),
            assistant_db_url=os.environ.get("ASSISTANT_DB_URL", ""),
            cookie_secure=os.environ.get("STAFF_COOKIE_SECURE", "auto"),
            reminder_interval=_env_float("REMINDER_INTERVAL", cls.reminder_interval),
            retention_interval=_env_float("RETENTION_INTERVAL", cls.retention_interval),
            transcript_retention_days=_env_float("TRANSCRIPT_RETENTION_DAYS", cls.transcript_retention_days),
            tracker_retention_days=_env_float("TRACKER_RETENTION_DAYS", cls.tracker_retention_days),
            unanswered_retention_days=_env_float("UNANSWERED_RETENTION_DAYS", cls.unanswered_retention_days),
            line_unfollow_grace_days=_env_float("LINE_UNFOLLOW_GRACE_DAYS", cls.line_unfollow_grace_days),
            tracker_store_url=os.environ.get("TRACKER_STORE_URL", "").strip(),
            counseling_hours_file=os.environ.get("COUNSELING_HOURS_FILE", ""),
            counseling_sweep_seconds=_env_float("COUNSELING_SWEEP_SECONDS", cls.counseling_sweep_seconds),
            counseling_idle_check_minutes=_env_float("COUNSELING_IDLE_CHECK_MINUTES", cls.counseling_idle_check_minutes),
            counseling_idle_close_minutes=_env_float("COUNSELING_IDLE_CLOSE_MINUTES", cls.counseling_idle_close_minutes),
            counseling_realert_minutes=_env_float("COUNSELING_REALERT_MINUTES", cls.counseling_realert_minutes),
            counseling_retention_days=_env_float("COUNSELING_RETENTION_DAYS", cls.counseling_retention_days),
            staff_long_wait_seconds=_env_float("STAFF_LONG_WAIT_SECONDS", cls.staff_long_wait_seconds),
            line_channel_secret=os.environ.get("LINE_CHANNEL_SECRET", "").strip(),
            line_channel_access_token=os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", "").strip(),
            line_api_base_url=os.environ.get("LINE_API_BASE_URL", cls.line_api_base_url).rstrip("/"),
            line_api_data_base_url=os.environ.get("LINE_API_DATA_BASE_URL", cls.line_api_data_base_url).rstrip("/"),
            line_api_timeout=_env_float("LINE_API_TIMEOUT", cls.line_api_timeout),
            line_retry_base_delay=_env_float("LINE_RETRY_BASE_DELAY", cls.line_retry_base_delay),
            line_push_attempts=max(1, int(_env_float("LINE_PUSH_ATTEMPTS", cls.line_push_attempts))),
            line_dedupe_days=_env_float("LINE_DEDUPE_DAYS", cls.line_dedupe_days),
            line_reply_token_seconds=_env_float("LINE_REPLY_TOKEN_SECONDS", cls.line_reply_token_seconds),
            line_inbox_attempts=max(1, int(_env_float("LINE_INBOX_ATTEMPTS", cls.line_inbox_attempts))),
            line_inbox_retry_seconds=_env_float("LINE_INBOX_RETRY_SECONDS", cls.line_inbox_retry_seconds),
            line_inbox_sweep_seconds=max(0.2, _env_float("LINE_INBOX_SWEEP_SECONDS", cls.line_inbox_sweep_seconds)),
            max_body_bytes=int(_env_float("MAX_BODY_BYTES", cls.max_body_bytes)),
            max_metadata_bytes=int(_env_float("MAX_METADATA_BYTES", cls.max_metadata_bytes)),
            rate_limits=os.environ.get("RATE_LIMITS", "on").strip().lower() not in ("off", "0", "false", "no"),
            rate_limit_storage_url=os.environ.get("RATE_LIMIT_STORAGE_URL", cls.rate_limit_storage_url).strip(),
            rate_limit_new_conversations=os.environ.get("RATE_LIMIT_NEW_CONVERSATIONS",
                                                        cls.rate_limit_new_conversations),
            rate_limit_address_messages=os.environ.get("RATE_LIMIT_ADDRESS_MESSAGES", cls.rate_limit_address_messages),
            rate_limit_conversation_messages=os.environ.get("RATE_LIMIT_CONVERSATION_MESSAGES",
                                                            cls.rate_limit_conversation_messages),
            rest_api_token=os.environ.get("REST_API_TOKEN", "").strip(),
            webchat_session_secret=os.environ.get("WEBCHAT_SESSION_SECRET", "").strip(),
            webchat_history_messages=max(0, int(_env_float("WEBCHAT_HISTORY_MESSAGES", cls.webchat_history_messages))),
            webchat_history_hours=_env_float("WEBCHAT_HISTORY_HOURS", cls.webchat_history_hours),
            socketio_redis_url=os.environ.get("SOCKETIO_REDIS_URL", "").strip(),
            engine_auth_token=os.environ.get("ENGINE_AUTH_TOKEN", "").strip(),
            public_url=os.environ.get("PUBLIC_URL", "").strip().rstrip("/"),
            metrics=os.environ.get("METRICS", "on").strip().lower() not in ("off", "0", "false", "no"),
            metrics_public=os.environ.get("METRICS_PUBLIC", "").strip().lower() in ("1", "on", "true", "yes"),
            metrics_token=os.environ.get("METRICS_TOKEN", "").strip(),
        )
