"""Signed website sessions: only the browser the gateway gave a session to can join it (and read its history).

The string the gateway sends in ``session_confirm`` (and the widget sends back as ``session_id``) is
``<id>-<mac>``: ``id`` is 32 hex digits, the conversation is ``web:<id>`` (what staff see), and ``mac`` is
HMAC-SHA256 over the id with the server's secret, cut to 128 bits, base64url (22 characters). The whole
token (55 characters) fits the session-id pattern rasa-webchat clients already handle. A token whose mac
does not match gets a new session, never the room of the id it names.

The secret is ``WEBCHAT_SESSION_SECRET``; without it one is generated on first start and kept in
``<DATA_DIR>/webchat_session.secret`` (mode 0600), so restarts keep sessions valid. Several gateways must share
one secret (set the variable). Changing it ends every web session (the chats start anew).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import uuid
from pathlib import Path
from typing import Any, Optional

logger = logging.getLogger(__name__)

SECRET_FILE = "webchat_session.secret"
MIN_SECRET_CHARS = 32
_CONTEXT = b"sapporo-webchat-session\x00"  # this secret signs nothing else, but keep the MAC's purpose explicit
_TOKEN = re.compile(r"^(?P<id>[0-9a-f]{32})-(?P<mac>[A-Za-z0-9_-]{22})$")


class SessionSigner:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"WEBCHAT_SESSION_SECRET must have at least {MIN_SECRET_CHARS} characters")
        self._key = secret.encode("utf-8")

    def _mac(self, session_id: str) -> str:
        digest = hmac.new(self._key, _CONTEXT + session_id.encode("ascii"), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def new(self) -> str:
        """A token for a new session."""
        return self.sign(uuid.uuid4().hex)

    def sign(self, session_id: str) -> str:
        return f"{session_id}-{self._mac(session_id)}"

    def verify(self, token: Any) -> Optional[str]:
        """The session id of a token this gateway (or one with the same secret) issued; else None."""
        found = _TOKEN.match(token) if isinstance(token, str) else None
        if not found or not hmac.compare_digest(found["mac"], self._mac(found["id"])):
            return None
        return found["id"]


def session_id_of(token: str) -> str:
    """The id part of a token, unchecked (for clients and tests that need the conversation id ``web:<id>``)."""
    return token.split("-", 1)[0]


def load_secret(configured: str, data_dir: str) -> str:
    """WEBCHAT_SESSION_SECRET, or the one kept in the data folder (created once, atomically: gateways starting
    together on one machine end up with the same file)."""
    if configured:
        return configured
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{SECRET_FILE}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)  # fails if another process was first: its secret is kept
            logger.warning("created the web session secret in %s (set WEBCHAT_SESSION_SECRET for several gateways)",
                           path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_text().strip()


def signer_for(configured: str, data_dir: str) -> SessionSigner:
    return SessionSigner(load_secret(configured, data_dir))
