"""Website channel: Rasa's Socket.IO protocol, so rasa-webchat / Rasa Chat Widget connect unchanged.

Protocol (as in rasa/core/channels/socketio.py with session_persistence):
  client → ``session_request`` {session_id?}      server → ``session_confirm`` <session_id>
  client → ``user_uttered`` {message, session_id}  server → ``bot_uttered`` {text, quick_replies?} …
Bot messages go to the room named after the session, so every tab of that session sees them.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any, Dict, List, Optional

import socketio

from common.conversation_id import ConversationId
from gateway import texts
from gateway.handoff.router import BotMessage, Router, conversation_ref
from gateway.input_checks import clean_metadata
from gateway.rate_limits import RateLimits

logger = logging.getLogger(__name__)

CHANNEL = "web"
BAD_PACKET = "_bad_packet"  # the event a Socket.IO packet that cannot be parsed becomes (PacketJson)
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def to_socketio(message: BotMessage) -> List[Dict[str, Any]]:
    """Convert one engine message (Rasa REST format) into ``bot_uttered`` payloads."""
    payloads: List[Dict[str, Any]] = []
    text = message.get("text")
    buttons = message.get("buttons") or []
    if text or buttons:
        payload: Dict[str, Any] = {"text": text or ""}
        if message.get("sender") == "staff":  # a person wrote it (the widget shows it differently)
            payload["sender"] = "staff"
        if buttons:
            payload["quick_replies"] = [
                {"content_type": "text", "title": b.get("title", ""), "payload": b.get("payload", "")}
                for b in buttons
                if isinstance(b, dict)
            ]
        payloads.append(payload)
    if message.get("image"):
        payloads.append({"attachment": {"type": "image", "payload": {"src": message["image"]}}})
    if message.get("attachment"):
        payloads.append({"attachment": message["attachment"]})
    if isinstance(message.get("custom"), dict):
        payloads.append(message["custom"])
    return payloads


class PacketJson:
    """The json module python-socketio parses packets with (``AsyncServer(json=PacketJson)``). Python's parser
    raises RecursionError on ``[[[[…`` nested deep enough, which python-socketio does not catch: the event was
    dropped in silence. Such a packet becomes the event ``_bad_packet``, which the widget is answered for."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(*args: Any, **kwargs: Any) -> Any:
        try:
            return json.loads(*args, **kwargs)
        except RecursionError:
            logger.info("web: socket.io packet nested too deep")
            return [BAD_PACKET]


def _valid_session_id(value: Any) -> Optional[str]:
    return value if isinstance(value, str) and _SESSION_ID.match(value) else None


class WebChat:
    """Socket.IO handlers bound to a router."""

    def __init__(self, sio: socketio.AsyncServer, router: Router, limits: Optional[RateLimits] = None,
                 max_metadata_bytes: int = 4096):
        self.sio = sio
        self.router = router
        self.limits = limits
        self.max_metadata_bytes = max_metadata_bytes
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("session_request", self.on_session_request)
        sio.on("user_uttered", self.on_user_uttered)
        sio.on(BAD_PACKET, self.on_bad_packet)
        sio.on("*", self.on_unknown_event)

    async def on_connect(self, sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
        # The client's address, for the rate limits (engine.io's REMOTE_ADDR is always 127.0.0.1 under ASGI;
        # uvicorn has put the address of a trusted proxy's client into the scope already).
        client = (environ.get("asgi.scope") or {}).get("client") or ("unknown", 0)
        await self.sio.save_session(sid, {"address": client[0]})
        return True

    async def _save(self, sid: str, session_id: str) -> None:
        session = await self.sio.get_session(sid) or {}
        await self.sio.save_session(sid, {**session, "session_id": session_id})

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        return None

    async def on_session_request(self, sid: str, data: Any = None) -> None:
        requested = data.get("session_id") if isinstance(data, dict) else None
        session_id = _valid_session_id(requested) or uuid.uuid4().hex
        await self._save(sid, session_id)
        await self.sio.enter_room(sid, session_id)
        await self.sio.emit("session_confirm", session_id, room=sid)

    async def _session_of(self, sid: str, data: Dict[str, Any]) -> str:
        session = await self.sio.get_session(sid)
        known = session.get("session_id") if session else None
        claimed = _valid_session_id(data.get("session_id"))
        if claimed and claimed != known:
            # A widget that skipped session_request, or reconnected: join its room now.
            await self._save(sid, claimed)
            await self.sio.enter_room(sid, claimed)
            return claimed
        return known or sid

    async def on_user_uttered(self, sid: str, data: Any = None) -> None:
        if not isinstance(data, dict):
            logger.info("web: malformed user_uttered payload type=%s", type(data).__name__)
            await self.sio.emit("bot_uttered", {"text": texts.NOT_TEXT}, room=sid)
            return
        session_id = await self._session_of(sid, data)
        message = data.get("message")  # characters that cannot be stored: the router refuses them (every channel)
        metadata, problem = clean_metadata(data.get("metadata") or data.get("customData"), self.max_metadata_bytes)
        if problem:  # the integrator's mistake: the citizen is still answered, without that metadata
            logger.info("web: metadata dropped (%s) conv=%s", problem, conversation_ref(session_id))
            await self.sio.emit("gateway_error", {"error": problem}, room=sid)
        if self.limits is not None:
            conversation = str(ConversationId(CHANNEL, session_id))
            session = await self.sio.get_session(sid) or {}
            refusal = await self.limits.check_turn(session.get("address", "unknown"), conversation,
                                                   await self.router.owner_of(conversation))
            if refusal:
                logger.info("web: rate limited conv=%s limit=%s", conversation_ref(session_id), refusal.limit)
                await self.sio.emit("bot_uttered", {"text": texts.RATE_LIMITED}, room=sid)
                await self.sio.emit("gateway_error", {"error": "rate_limited", "limit": refusal.limit,
                                                      "retry_after": refusal.retry_after}, room=sid)
                return
        replies = await self.router.handle_text(session_id, CHANNEL, message, metadata)
        for message in replies:
            for payload in to_socketio(message):
                await self.sio.emit("bot_uttered", payload, room=session_id)

    async def push(self, session_id: str, messages: List[BotMessage], confirm: bool = False) -> bool:
        """Messages outside a turn (a person's reply, the queue moving) to every tab of the session."""
        for message in messages:
            for payload in to_socketio(message):
                await self.sio.emit("bot_uttered", payload, room=session_id)
        return True

    async def on_bad_packet(self, sid: str, *args: Any) -> None:
        await self.sio.emit("bot_uttered", {"text": texts.NOT_TEXT}, room=sid)

    async def on_unknown_event(self, event: str, sid: str, data: Any = None) -> None:
        logger.info("web: unknown socket.io event %r from %s", event[:40], conversation_ref(sid))
        await self.sio.emit("gateway_error", {"error": "unknown_event", "event": event[:40]}, room=sid)
