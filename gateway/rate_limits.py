"""Rate limits on the citizen-facing doors (the widget's ``user_uttered``, ``POST /api/messages``).

Where each limit sits, and why (README "Security and reliability"):

- **A new conversation** (its first message: the gateway has never seen it) counts only against the
  *new conversations per address* limit. That is what stops a script that posts 「死にたい」 with a new sender
  each time from filling the counseling queue, and it is the only limit a child's first message can meet:
  a first message is never refused because other chats of the same address (a school, a shared Wi-Fi) were
  busy. When even that limit is reached, the refusal still names 110/119 and a 24-hour line
  (texts.RATE_LIMITED), and nothing is stored or queued.
- **A message of a known conversation** counts against the *per conversation* limit (no person types
  more than a message every two seconds for a minute), and, while the bot answers it, against the *per
  address* limit, which bounds what one address can make the engine do. A chat that a person owns or that
  waits in a queue (counseling included) is exempt from the per-address limit: a child talking with a
  counselor is never cut off because the school's address is busy.
- The risk triage still runs first on every message that gets through (gateway/handoff/router.py); a refused
  message is neither stored nor read by anything.

The counters live in the `limits` library's storage: memory (one gateway) or Redis (several gateways share
them). If the storage fails, the message goes through (logged): a broken Redis must not silence citizens.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, List, Optional

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from gateway.settings import Settings
from gateway.storage.conversations import BOT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refusal:
    limit: str  # new_conversation | conversation | address
    retry_after: int  # seconds until the window has room again (at least 1)


def _async_url(url: str) -> str:
    return url if url.startswith("async+") else f"async+{url}"


class RateLimits:
    """The gateway's limits; ``check_turn`` decides about one citizen message before the router sees it."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limits
        url = _async_url(settings.rate_limit_storage_url or "memory://")
        options = {"implementation": "redispy"} if "redis" in url.split("://", 1)[0] else {}
        self.storage = storage_from_string(url, **options)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.new_conversations = parse_many(settings.rate_limit_new_conversations)
        self.address_messages = parse_many(settings.rate_limit_address_messages)
        self.conversation_messages = parse_many(settings.rate_limit_conversation_messages)

    async def check_turn(self, address: str, conversation_id: str,
                         owner_of: Callable[[], Awaitable[Optional[str]]]) -> Optional[Refusal]:
        """None: let the message through (and count it); else why not. ``owner_of()`` tells the conversation's
        owner (``Router.owner_of``), None for a conversation the gateway has not seen yet; asked only when the
        limits are on (a database read the turn need not wait for otherwise)."""
        if not self.enabled:
            return None
        owner = await owner_of()
        if owner is None:
            return await self._hit("new_conversation", self.new_conversations, address)
        refusal = await self._hit("conversation", self.conversation_messages, conversation_id)
        if refusal is None and owner == BOT:
            refusal = await self._hit("address", self.address_messages, address)
        return refusal

    async def _hit(self, name: str, items: List[RateLimitItem], key: str) -> Optional[Refusal]:
        try:
            for item in items:
                if not await self.limiter.hit(item, name, key):
                    stats = await self.limiter.get_window_stats(item, name, key)
                    return Refusal(name, max(1, int(stats.reset_time - time.time() + 0.999)))
        except Exception:  # the storage is down (Redis): let citizens through
            logger.exception("rate limit storage failed (%s); message let through", name)
        return None
