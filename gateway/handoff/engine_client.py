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

import asyncio
import contextvars
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from gateway import metrics

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/rest/webhook"
# An idle connection is dropped before the server would close it (Rasa's Sanic after 5 s, HAProxy's
# `timeout http-keep-alive` 10 s): a turn sent on a connection the server is closing just then would fail.
KEEP_ALIVE_SECONDS = 4.0


class EngineUnavailable(Exception):
    """The engine could not be reached, answered with an error, or answered nothing."""


BEFORE_SEND: contextvars.ContextVar[Optional[Callable[[], Awaitable[None]]]] = \
    contextvars.ContextVar("engine_before_send", default=None)


def balancing_key(sender_id: str) -> str:
    """The X-Conversation-Id header HAProxy hashes: the engine's sender, percent-encoded (a REST sender may be
    「太郎」; a header carries ASCII)."""
    return quote(sender_id, safe=":#@._-")


class EngineClient:
    """Sends one user turn to the engine and returns the bot's messages (Rasa REST format).

    aiohttp, not httpx: measured on loopback, a turn's request costs 0.4–0.5 ms with it and 2–3 ms with httpx
    (README "Engine vs gateway"). The session is made in the running loop, at the first call."""

    def __init__(self, base_url: str, connect_timeout: float = 2.0, timeout: float = 20.0, auth_token: str = "",
                 lock_seconds: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.connect_timeout, self.lock_seconds = timeout, connect_timeout, lock_seconds
        self._api_params = {"token": auth_token} if auth_token else {}  # rasa run --auth-token (not the webhook)
        self._session: Optional[aiohttp.ClientSession] = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64, limit_per_host=0, keepalive_timeout=KEEP_ALIVE_SECONDS),
                json_serialize=_json_dumps)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

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
            async with self._client().post(self.base_url + WEBHOOK_PATH, json=payload, timeout=self._timeout(failed_at),
                                           headers={"X-Conversation-Id": balancing_key(sender_id)}) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise EngineUnavailable(f"{type(exc).__name__}") from exc
        metrics.engine_round_trip(time.perf_counter() - started)
        if status != 200:
            raise EngineUnavailable(f"HTTP {status}")
        try:
            messages = json.loads(body)
        except ValueError as exc:
            raise EngineUnavailable("invalid JSON from engine") from exc
        if not isinstance(messages, list):
            raise EngineUnavailable("unexpected engine response")
        messages = [m for m in messages if isinstance(m, dict)]
        if not messages:
            raise EngineUnavailable("empty answer")  # Rasa's REST channel on an internal error
        return messages

    def _timeout(self, failed_at: Optional[datetime]) -> aiohttp.ClientTimeout:
        """The turn's timeout: longer by what is left of a lock a failed turn may have left behind."""
        left = 0.0
        if failed_at is not None:
            left = self.lock_seconds - (datetime.now(timezone.utc).replace(tzinfo=None) - failed_at).total_seconds()
        return aiohttp.ClientTimeout(total=self.timeout + min(max(left, 0.0), self.lock_seconds),
                                     sock_connect=self.connect_timeout)

    async def is_ready(self, timeout: float = 1.5) -> bool:
        """True when the engine answers and has a model loaded."""
        try:
            async with self._client().get(self.base_url + "/status", params=self._api_params,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as response:
                return response.status == 200 and bool(json.loads(await response.read()).get("model_id"))
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, AttributeError):
            return False


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
