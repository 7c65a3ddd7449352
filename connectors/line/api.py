"""HTTP client for the LINE Messaging API: reply, push (with retries and ``X-Line-Retry-Key``), loading animation,
and the generic call the rich-menu tool uses.

line-bot-sdk v3's async client always talks to ``https://api.line.me`` (``AsyncMessagingApi`` fixes its host;
``Configuration(host=…)`` is not used for it), so the calls go through an aiohttp session aimed at
``LINE_API_BASE_URL`` / ``LINE_API_DATA_BASE_URL``. aiohttp is what the SDK's async client uses too; it costs
about 0.3 ms of CPU per call where httpx costs about 2 ms (benchmarks/line_ack.py: three calls per LINE turn).
Logs carry paths and status codes, never message bodies or user ids.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import aiohttp

logger = logging.getLogger(__name__)

MAX_RETRY_AFTER = 60.0


class LineUnreachable(Exception):
    """The last try of a call got no answer from LINE (connection error or timeout)."""


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)


def retryable(status: int) -> bool:
    return status == 429 or status >= 500


class LineApi:
    def __init__(self, access_token: str, base_url: str = "https://api.line.me",
                 data_base_url: str = "https://api-data.line.me", timeout: float = 10.0,
                 retry_base_delay: float = 1.0, push_attempts: int = 5):
        self.base_url = base_url.rstrip("/")
        self.data_base_url = data_base_url.rstrip("/")
        self.retry_base_delay = retry_base_delay
        self.push_attempts = max(1, push_attempts)
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(5.0, timeout))
        self._session: Optional[aiohttp.ClientSession] = None  # made in the running loop, at the first call

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _delay(self, attempt: int, answer: Optional[Answer]) -> float:
        """Exponential backoff (base × 2^attempt); a Retry-After header, when LINE sends one, wins."""
        retry_after = answer.headers.get("Retry-After") if answer is not None else None
        if retry_after:
            try:
                return min(MAX_RETRY_AFTER, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return self.retry_base_delay * (2 ** attempt)

    async def call(self, method: str, path: str, *, json: Any = None, content: Optional[bytes] = None,
                   headers: Optional[Dict[str, str]] = None, data_api: bool = False, attempts: int = 1) -> Answer:
        """One API call, tried up to ``attempts`` times on 429, 5xx and network errors (the same headers each
        time, so a retry key stays the same). Returns the last answer; raises ``LineUnreachable`` when the last
        try got none."""
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout,
                                                  connector=aiohttp.TCPConnector(limit=64))
        url = (self.data_base_url if data_api else self.base_url) + path
        for attempt in range(attempts):
            answer: Optional[Answer] = None
            try:
                async with self._session.request(method, url, json=json, data=content, headers=headers) as response:
                    answer = Answer(response.status, response.headers, await response.read())
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                if attempt + 1 >= attempts:
                    raise LineUnreachable(type(exc).__name__) from exc
                logger.warning("line: %s %s failed (%s), retry %d/%d", method, _short(path), type(exc).__name__,
                               attempt + 1, attempts - 1)
            else:
                if not retryable(answer.status) or attempt + 1 >= attempts:
                    return answer
                logger.warning("line: %s %s answered %d, retry %d/%d", method, _short(path), answer.status,
                               attempt + 1, attempts - 1)
            await asyncio.sleep(self._delay(attempt, answer))
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ messaging
    async def reply(self, reply_token: str, messages: List[Dict[str, Any]]) -> int:
        """One reply call (a reply token works once: no retries; the caller pushes when it fails).
        Returns the HTTP status, 0 when LINE could not be reached."""
        try:
            answer = await self.call("POST", "/v2/bot/message/reply",
                                     json={"replyToken": reply_token, "messages": messages})
        except LineUnreachable as exc:
            logger.warning("line: reply failed (%s)", exc)
            return 0
        if answer.status != 200:
            logger.warning("line: reply answered %d%s", answer.status, _line_error(answer))
        return answer.status

    async def push(self, to: str, messages: List[Dict[str, Any]], ref: str = "-",
                   retry_key: Optional[str] = None) -> bool:
        """Push with retries; every try carries the same ``X-Line-Retry-Key``, so LINE delivers it once
        (409 = a try with this key was already accepted). ``ref`` names the conversation in logs; a caller
        that may push the same messages again later (the inbox after a restart) gives its own key (a UUID)."""
        retry_key = retry_key or str(uuid.uuid4())
        try:
            answer = await self.call("POST", "/v2/bot/message/push", json={"to": to, "messages": messages},
                                     headers={"X-Line-Retry-Key": retry_key}, attempts=self.push_attempts)
        except LineUnreachable as exc:
            logger.error("line: push gave up conv=%s after %d tries (%s)", ref, self.push_attempts, exc)
            return False
        if answer.status == 200:
            return True
        if answer.status == 409 and answer.headers.get("X-Line-Accepted-Request-Id"):
            logger.info("line: push already accepted conv=%s (retry key)", ref)
            return True
        if retryable(answer.status):
            logger.error("line: push gave up conv=%s after %d tries, last status %d", ref, self.push_attempts,
                         answer.status)
        else:
            logger.error("line: push refused conv=%s status %d%s", ref, answer.status, _line_error(answer))
        return False

    async def show_loading(self, chat_id: str, seconds: int) -> bool:
        """The typing animation in the user's chat, until the next message or ``seconds`` (5–60, by 5)."""
        try:
            answer = await self.call("POST", "/v2/bot/chat/loading/start",
                                     json={"chatId": chat_id, "loadingSeconds": seconds})
        except LineUnreachable as exc:
            logger.info("line: loading animation failed (%s)", exc)
            return False
        if answer.status >= 300:
            logger.info("line: loading animation answered %d", answer.status)
        return answer.status < 300


def _short(path: str) -> str:
    """The API path without ids (``/v2/bot/richmenu/<id>/content`` → ``/v2/bot/richmenu/…/content``)."""
    return "/".join("…" if len(part) > 24 else part for part in path.split("/"))


def _line_error(answer: Answer) -> str:
    """LINE's error message (it names the problem, e.g. "Invalid reply token"; it never echoes the text)."""
    try:
        message = answer.json().get("message")
    except (ValueError, AttributeError):
        return ""
    return f" ({str(message)[:120]})" if message else ""
