"""The gateways' event bus: what one gateway learns that every gateway must act on for its own sockets.

The staff console's live events (a queue change, a message, a chat that moved, an alert, a logout) and a push to a
widget are published here; each gateway — this one at once, the others when the event arrives — handles it for
the sockets connected to it, with the rules it applies today (who may see the chat, whose session still lives).
Socket.IO's own Redis manager cannot do that: it only relays packets, and ``get_participants`` sees the local
sockets only, so a rule that reads the room's members would run on one gateway's members.

``bus_for("")`` (SOCKETIO_REDIS_URL unset): one process, the event handled here and nowhere else. With a Redis URL:
Redis pub/sub on CHANNEL, plus *marks* — who is connected where (a widget's session, an online staff member) — as
Redis sorted sets scored by expiry, refreshed every MARK_REFRESH seconds while held and dropped on a clean stop, so
a gateway killed with ``kill -9`` stops counting within MARK_TTL seconds.

Redis unreachable: the event is still handled on this gateway (its own sockets keep working, a warning is logged),
other gateways miss it; the listener reconnects by itself and the marks are written again when Redis is back.
Events carry what the sockets are sent, counseling text included (as Socket.IO's Redis manager does): the Redis
server belongs on the private network, with a password and TLS (``rediss://``) between machines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

logger = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], Awaitable[None]]
CHANNEL = "sapporo:gateway:bus"
KEY_PREFIX = "sapporo:gateway:"
MARK_TTL = 30.0
MARK_REFRESH = 10.0


class Bus:
    """One process: an event is handled here only; marks are not needed (the sockets are all here)."""

    shared = False

    def __init__(self) -> None:
        self.host_id = uuid.uuid4().hex
        self._handlers: Dict[str, List[Handler]] = {}

    def on(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    async def publish(self, topic: str, data: Dict[str, Any]) -> None:
        """Handle ``data`` here now, then (when shared) on every other gateway."""
        await self._handle(topic, data)

    async def _handle(self, topic: str, data: Dict[str, Any]) -> None:
        for handler in self._handlers.get(topic, []):
            try:
                await handler(data)
            except Exception:  # noqa: BLE001 — one handler's failure must not stop the others or the caller
                logger.exception("bus: handling %s failed", topic)

    async def mark(self, key: str, member: str) -> None:
        """``member`` (a socket) is connected to this gateway under ``key``, for the other gateways to see."""

    async def unmark(self, key: str, member: str) -> None:
        ...

    async def members(self, key: str) -> Optional[List[str]]:
        """Every gateway's live marks of ``key``; [] in one process, None when Redis cannot say."""
        return []

    async def present(self, key: str) -> bool:
        """Some gateway holds a live mark of ``key``."""
        return bool(await self.members(key))

    async def start(self) -> None:
        ...

    async def stop(self) -> None:
        ...


class RedisBus(Bus):
    shared = True

    def __init__(self, url: str, mark_ttl: float = MARK_TTL, mark_refresh: float = MARK_REFRESH) -> None:
        super().__init__()
        from redis import asyncio as aioredis  # only with SOCKETIO_REDIS_URL

        self.url = url
        self.mark_ttl, self.mark_refresh = mark_ttl, mark_refresh
        self._aioredis = aioredis
        # Short timeouts: a Redis that does not answer must not hold a staff reply or a queue event for long.
        self.redis = aioredis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=2, socket_timeout=2)
        self._marks: Dict[str, Set[str]] = {}
        self._tasks: List["asyncio.Task[None]"] = []
        self._down_since: Optional[float] = None

    # ------------------------------------------------------------------ events
    async def publish(self, topic: str, data: Dict[str, Any]) -> None:
        await self._handle(topic, data)
        try:
            await self.redis.publish(CHANNEL, json.dumps({"host": self.host_id, "topic": topic, "data": data}))
            self._reachable()
        except Exception as exc:  # noqa: BLE001 — Redis down: this gateway's sockets were served, others miss it
            self._unreachable(f"event {topic} handled on this gateway only", exc)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            client = self._aioredis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                logger.info("bus: listening on redis")
                delay = 0.5
                await self._refresh()  # after a Redis restart the marks are gone: write them again now
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                    except (TypeError, ValueError):
                        continue
                    if isinstance(event, dict) and event.get("host") != self.host_id and isinstance(
                            event.get("data"), dict):
                        await self._handle(str(event.get("topic")), event["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — reconnect, whatever went wrong
                self._unreachable(f"listening again in {delay:.1f}s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # noqa: BLE001
                    pass

    def _unreachable(self, what: str, exc: Exception) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            logger.warning("bus: redis unreachable (%s): %s", type(exc).__name__, what)
        else:
            logger.debug("bus: redis still unreachable: %s", what)

    def _reachable(self) -> None:
        if self._down_since is not None:
            logger.info("bus: redis reachable again after %.1fs", time.monotonic() - self._down_since)
            self._down_since = None

    # ------------------------------------------------------------------ marks
    async def mark(self, key: str, member: str) -> None:
        self._marks.setdefault(key, set()).add(member)
        await self._write({key: {member}})

    async def unmark(self, key: str, member: str) -> None:
        held = self._marks.get(key)
        if held is not None:
            held.discard(member)
            if not held:
                del self._marks[key]
        try:
            await self.redis.zrem(KEY_PREFIX + key, member)
        except Exception as exc:  # noqa: BLE001 — it expires by itself
            self._unreachable("a mark is left to expire", exc)

    async def members(self, key: str) -> Optional[List[str]]:
        try:
            return list(await self.redis.zrangebyscore(KEY_PREFIX + key, time.time(), "+inf"))
        except Exception as exc:  # noqa: BLE001
            self._unreachable("other gateways' marks unknown", exc)
            return None

    async def present(self, key: str) -> bool:
        try:
            return await self.redis.zcount(KEY_PREFIX + key, time.time(), "+inf") > 0
        except Exception as exc:  # noqa: BLE001
            self._unreachable("other gateways' marks unknown", exc)
            return False

    async def _write(self, marks: Dict[str, Set[str]]) -> None:
        if not marks:
            return
        now = time.time()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, held in marks.items():
                    if held:
                        pipe.zadd(KEY_PREFIX + key, {member: now + self.mark_ttl for member in held})
                    pipe.zremrangebyscore(KEY_PREFIX + key, "-inf", now)  # what a killed gateway left
                    pipe.expire(KEY_PREFIX + key, int(self.mark_ttl) + 1)
                await pipe.execute()
            self._reachable()
        except Exception as exc:  # noqa: BLE001
            self._unreachable("marks not written", exc)

    async def _refresh(self) -> None:
        await self._write({key: set(held) for key, held in self._marks.items()})

    async def _refreshing(self) -> None:
        while True:
            await asyncio.sleep(self.mark_refresh)
            await self._refresh()

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._listen()), loop.create_task(self._refreshing())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, held in self._marks.items():
                    if held:
                        pipe.zrem(KEY_PREFIX + key, *held)
                await pipe.execute()
        except Exception:  # noqa: BLE001 — they expire by themselves
            pass
        try:
            await self.redis.aclose()
        except Exception:  # noqa: BLE001
            pass


def bus_for(redis_url: str) -> Bus:
    """The bus of SOCKETIO_REDIS_URL: Redis pub/sub when set, this process alone when empty."""
    return RedisBus(redis_url) if redis_url else Bus()
