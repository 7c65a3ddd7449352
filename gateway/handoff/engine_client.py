"""HTTP client for the Rasa engine (Rasa's REST channel, see credentials.yml).

An empty answer (``200 []``) is a failure too: Rasa's REST channel answers so when the turn failed inside
the engine (lock store, tracker store, an action server error), and no turn of this bot is silent (every
rule and story ends in an utterance, a form's question or action_handoff's payload), so the citizen gets
the engine-down apology with 「担当者と話す」 instead of nothing.

A turn that failed may have died with its engine while that engine held the conversation's lock (Rasa's ticket
lock in Redis, alive for TICKET_LOCK_LIFETIME seconds): the conversation's next turn waits for it on the other
engine. ``send(..., failed_at=…)`` then allows the rest of that lifetime on top of the timeout, so the next turn is
answered late rather than failed too (only turns in flight fail when an engine dies).

``BEFORE_SEND``: a caller that must know whether a turn reached the engine (the LINE inbox, which never
sends a message twice, also not after a crash) sets an awaitable here; it runs right before the request.
"""

from __future__ import annotations

import contextvars
import logging
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional

import httpx

from gateway import metrics

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/rest/webhook"


class EngineUnavailable(Exception):
    """The engine could not be reached, answered with an error, or answered nothing."""


BEFORE_SEND: contextvars.ContextVar[Optional[Callable[[], Awaitable[None]]]] = \
    contextvars.ContextVar("engine_before_send", default=None)


class EngineClient:
    """Sends one user turn to the engine and returns the bot's messages (Rasa REST format)."""

    def __init__(self, base_url: str, connect_timeout: float = 2.0, timeout: float = 20.0, auth_token: str = "",
                 lock_seconds: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.connect_timeout, self.lock_seconds = timeout, connect_timeout, lock_seconds
        self._api_params = {"token": auth_token} if auth_token else {}  # rasa run --auth-token (not the webhook)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def send(
        self,
        sender_id: str,
        text: str,
        channel: str,
        metadata: Optional[Dict[str, Any]] = None,
        failed_at: Optional[datetime] = None,
    ) -> List[Dict[str, Any]]:
        """The bot's messages for one turn. ``failed_at``: when the conversation's last turn failed (UTC, naive)."""
        payload = {
            "sender": sender_id,
            "message": text,
            "input_channel": channel,
            "metadata": {"channel": channel, **(metadata or {})},
        }
        hook = BEFORE_SEND.get()
        if hook is not None:
            await hook()
        started = time.perf_counter()
        try:
            # HAProxy hashes this header: one conversation always reaches the same engine (Rasa 3.6's Redis lock
            # is not atomic, RasaHQ/rasa#9213)
            response = await self._client.post(WEBHOOK_PATH, json=payload, timeout=self._timeout(failed_at),
                                               headers={"X-Conversation-Id": sender_id})
        except httpx.HTTPError as exc:
            raise EngineUnavailable(f"{type(exc).__name__}") from exc
        metrics.engine_round_trip(time.perf_counter() - started)
        if response.status_code != 200:
            raise EngineUnavailable(f"HTTP {response.status_code}")
        try:
            messages = response.json()
        except ValueError as exc:
            raise EngineUnavailable("invalid JSON from engine") from exc
        if not isinstance(messages, list):
            raise EngineUnavailable("unexpected engine response")
        messages = [m for m in messages if isinstance(m, dict)]
        if not messages:
            raise EngineUnavailable("empty answer")  # Rasa's REST channel on an internal error
        return messages

    def _timeout(self, failed_at: Optional[datetime]) -> httpx.Timeout:
        """The turn's timeout: longer by what is left of a lock a failed turn may have left behind."""
        left = 0.0
        if failed_at is not None:
            left = self.lock_seconds - (datetime.now(timezone.utc).replace(tzinfo=None) - failed_at).total_seconds()
        return httpx.Timeout(self.timeout + min(max(left, 0.0), self.lock_seconds), connect=self.connect_timeout)

    async def is_ready(self, timeout: float = 1.5) -> bool:
        """True when the engine answers and has a model loaded."""
        try:
            response = await self._client.get("/status", params=self._api_params, timeout=timeout)
            return response.status_code == 200 and bool(response.json().get("model_id"))
        except (httpx.HTTPError, ValueError):
            return False
