"""The router: every user turn from every channel passes here on its way to the engine.

It checks the input (empty, too long, not text), forwards good turns to the engine and turns
engine failures into an apology with the call-center number. Later issues add the owner of
the conversation (bot / queued / staff) here, so that a human-owned chat never reaches the engine.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Dict, List, Optional

from connectors import texts
from connectors.engine_client import EngineClient, EngineUnavailable

logger = logging.getLogger(__name__)

BotMessage = Dict[str, Any]


def conversation_ref(conversation_id: str) -> str:
    """A short, stable, non-reversible reference for logs (ids such as LINE user ids are personal)."""
    return hashlib.sha256(conversation_id.encode("utf-8", "replace")).hexdigest()[:12]


class Router:
    def __init__(self, engine: EngineClient, max_message_chars: int = 2000):
        self.engine = engine
        self.max_message_chars = max_message_chars

    async def handle_text(
        self,
        conversation_id: str,
        channel: str,
        text: Any,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> List[BotMessage]:
        """Route one user turn; always returns at least one message for the user."""
        ref = conversation_ref(conversation_id)
        if not isinstance(text, str):
            logger.info("rejected turn conv=%s channel=%s reason=not-text", ref, channel)
            return [{"text": texts.NOT_TEXT}]
        if not text.strip():
            logger.info("rejected turn conv=%s channel=%s reason=empty", ref, channel)
            return [{"text": texts.EMPTY_MESSAGE}]
        if len(text) > self.max_message_chars:
            logger.info("rejected turn conv=%s channel=%s reason=too-long chars=%d", ref, channel, len(text))
            return [{"text": texts.too_long(self.max_message_chars)}]
        sender_id = f"{channel}:{conversation_id}"
        try:
            messages = await self.engine.send(sender_id, text.strip(), channel, metadata)
        except EngineUnavailable as exc:
            logger.warning("engine unavailable conv=%s channel=%s error=%s", ref, channel, exc)
            return [{"text": texts.ENGINE_DOWN}]
        return messages
