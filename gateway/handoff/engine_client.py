"""HTTP client for the Rasa engine (Rasa's REST channel, see credentials.yml).

An empty answer (``200 []``) is a failure too: Rasa's REST channel answers so when the turn failed inside
the engine (lock store, tracker store, an action server error), and no turn of this bot is silent (every
rule and story ends in an utterance, a form's question or action_handoff's payload), so the citizen gets
the engine-down apology with 「担当者と話す」 instead of nothing.

``BEFORE_SEND``: a caller that must know whether a turn reached the engine (the LINE inbox, which never
sends a message twice, also not after a crash) sets an awaitable here; it runs right before the request.
"""

from __future__ import annotations

import contextvars
import logging
import time
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

    def __init__(self, base_url: str, connect_timeout: float = 2.0, timeout: float = 20.0, auth_token: str = ""):
        self.base_url = base_url.rstrip("/")
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
    ) -> List[Dict[str, Any]]:
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
            response = await self._client.post(WEBHOOK_PATH, json=payload,
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

    async def is_ready(self, timeout: float = 1.5) -> bool:
        """True when the engine answers and has a model loaded."""
        try:
            response = await self._client.get("/status", params=self._api_params, timeout=timeout)
            return response.status_code == 200 and bool(response.json().get("model_id"))
        except (httpx.HTTPError, ValueError):
            return False
