"""Website channel: Rasa's Socket.IO protocol, so rasa-webchat / Rasa Chat Widget connect unchanged.

Protocol (as in rasa/core/channels/socketio.py with session_persistence), with extra fields plain clients ignore:
  client → ``session_request`` {session_id?, last_message_id?}   server → ``session_confirm`` <session token>
  client → ``user_uttered`` {message, session_id}               server → ``bot_uttered`` {text, quick_replies?,
                                                                          sender?, message_id?} …
The session id is a signed token (connectors/webchat_session.py): an unsigned or forged one gets a new session.
Bot messages go to the session's room, so every tab of that session sees them. A stored message carries its
``message_id``. A widget that sends ``last_message_id`` gets the session's messages after it again (0: the
recent history, its own messages included; else what it missed, without them), as ``bot_uttered`` to that socket
only (counseling text too: it is the youth's own chat). Messages pushed outside a turn (a staff reply) and
replayed ones ask for a Socket.IO acknowledgement: the first client's ack marks them delivered
(``Router.delivered``, shown on the staff console). Plain rasa-webchat does not ack: its messages stay "sent".

Several gateways (SOCKETIO_REDIS_URL): a turn's answers reach the session's tabs on any gateway through Socket.IO's
Redis manager. A push goes on the gateway bus (gateway/bus.py) instead: each gateway sends it to its own tabs of the
session with its own acknowledgement callbacks (python-socketio calls acknowledgements of a room emit across hosts
"not tested or supported", and keeps them under the room's name for ever when nobody acks), and an ack on another
gateway comes back to the pushing one as the bus event ``web.acked``. Whether a tab is connected elsewhere is the
bus mark ``web:<session id>`` each gateway holds for its sockets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

import socketio

from common.conversation_id import ConversationId
from connectors.webchat_session import session_id_of, signer_for
from gateway import texts
from gateway.bus import Bus
from gateway.handoff.router import BotMessage, Router, conversation_ref, without_buttons
from gateway.input_checks import clean_metadata
from gateway.rate_limits import RateLimits
from gateway.settings import Settings
from gateway.storage.conversations import STAFF_PREFIX
from gateway.storage.db import run_db, utcnow

logger = logging.getLogger(__name__)

CHANNEL = "web"
BAD_PACKET = "_bad_packet"  # the event a Socket.IO packet that cannot be parsed becomes (PacketJson)
ACK_SECONDS = 5.0  # a push with ``confirm`` waits this long for a client's acknowledgement


def _room(session_id: str) -> str:
    return "session:" + session_id  # never a socket's own room (those are named after its sid)


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


def _payloads(message: BotMessage, counseling: bool = False) -> List[Dict[str, Any]]:
    """``to_socketio``, the first payload with the stored message's id (the widget de-duplicates by it) and
    ``counseling: true`` in a counseling session (the widget says the chat is anonymous, labels 相談員)."""
    payloads = to_socketio(message)
    if payloads and message.get("message_id"):
        payloads[0] = {**payloads[0], "message_id": message["message_id"]}
    return [{**p, "counseling": True} for p in payloads] if counseling else payloads


def _last_message_id(value: Any) -> int:
    """The widget's ``last_message_id``; anything but a whole number ≥ 0 asks for the recent history (0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class WebChat:
    """Socket.IO handlers bound to a router."""

    def __init__(self, sio: socketio.AsyncServer, router: Router, limits: Optional[RateLimits] = None,
                 settings: Optional[Settings] = None, bus: Optional[Bus] = None):
        settings = settings or Settings()
        self.sio = sio
        self.bus = bus or Bus()
        self._waiting: Dict[str, Tuple[Set[int], asyncio.Event]] = {}  # push request → ids not acked yet, all acked
        self.bus.on("web.push", self._push_here)
        self.bus.on("web.acked", self._acked_here)
        self.router = router
        self.limits = limits
        self.max_metadata_bytes = settings.max_metadata_bytes
        self.signer = signer_for(settings.webchat_session_secret, settings.data_dir)
        self.history_messages = settings.webchat_history_messages
        self.history_hours = settings.webchat_history_hours
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("session_request", self.on_session_request)
        sio.on("user_uttered", self.on_user_uttered)
        sio.on("user_typing", self.on_user_typing)
        sio.on(BAD_PACKET, self.on_bad_packet)
        sio.on("*", self.on_unknown_event)

    async def on_connect(self, sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
        # The client's address, for the rate limits (engine.io's REMOTE_ADDR is always 127.0.0.1 under ASGI;
        # uvicorn has put the address of a trusted proxy's client into the scope already).
        client = (environ.get("asgi.scope") or {}).get("client") or ("unknown", 0)
        await self.sio.save_session(sid, {"address": client[0]})
        return True

    async def _join(self, sid: str, session_id: str, token: str) -> None:
        """The socket belongs to this session now (and to no other session's room)."""
        session = await self.sio.get_session(sid) or {}
        if session.get("session_id") and session["session_id"] != session_id:
            await self.sio.leave_room(sid, _room(session["session_id"]))
            await self.bus.unmark(_room(session["session_id"]), sid)
        await self.sio.save_session(sid, {**session, "session_id": session_id, "token": token})
        await self.sio.enter_room(sid, _room(session_id))
        await self.bus.mark(_room(session_id), sid)  # a push on another gateway knows a tab is here

    async def _new_session(self, sid: str) -> str:
        token = self.signer.new()
        await self._join(sid, session_id_of(token), token)
        await self.sio.emit("session_confirm", token, room=sid)
        return session_id_of(token)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = await self.sio.get_session(sid) or {}
        if session.get("session_id"):
            await self.bus.unmark(_room(session["session_id"]), sid)

    async def on_session_request(self, sid: str, data: Any = None) -> None:
        data = data if isinstance(data, dict) else {}
        token = data.get("session_id")
        session_id = self.signer.verify(token)
        if session_id is None:
            if token:
                logger.info("web: session id not signed by this gateway, new session")
            await self._new_session(sid)
            return
        await self._join(sid, session_id, token)
        await self.sio.emit("session_confirm", token, room=sid)
        if "last_message_id" in data:  # plain rasa-webchat keeps its own history: nothing is replayed to it
            await self._replay(sid, session_id, _last_message_id(data["last_message_id"]))

    async def _session_of(self, sid: str, data: Dict[str, Any]) -> str:
        session = await self.sio.get_session(sid) or {}
        known, claimed = session.get("session_id"), data.get("session_id")
        if claimed and claimed != session.get("token"):
            verified = self.signer.verify(claimed)
            if verified:  # a widget that skipped session_request, or reconnected: join its room now
                await self._join(sid, verified, claimed)
                return verified
            logger.info("web: user_uttered with a session id not signed by this gateway")
        return known or await self._new_session(sid)  # never the room of an id the socket cannot prove

    async def on_user_uttered(self, sid: str, data: Any = None) -> None:
        try:
            await self._user_uttered(sid, data)
        except Exception as exc:  # noqa: BLE001 — e.g. the database restarting: an answer, never silence
            # the type only: a database error's text would carry the statement's parameters (the message)
            logger.error("web: turn failed error=%s", type(exc).__name__)
            await self.sio.emit("bot_uttered", {"text": texts.TURN_FAILED}, room=sid)

    async def _user_uttered(self, sid: str, data: Any) -> None:
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
                                                   lambda: self.router.owner_of(conversation))
            if refusal:
                logger.info("web: rate limited conv=%s limit=%s", conversation_ref(session_id), refusal.limit)
                await self.sio.emit("bot_uttered", {"text": texts.RATE_LIMITED}, room=sid)
                await self.sio.emit("gateway_error", {"error": "rate_limited", "limit": refusal.limit,
                                                      "retry_after": refusal.retry_after}, room=sid)
                return
        turn = await self.router.handle_turn(session_id, CHANNEL, message, metadata)
        replies, counseling = turn.replies, turn.counseling
        if counseling is None:  # the turn may have opened or ended a counseling session (or was refused): read it
            counseling = await self._counseling(session_id) if replies else False
        for message in replies:
            for payload in _payloads(message, counseling):
                await self.sio.emit("bot_uttered", payload, room=_room(session_id))

    async def on_user_typing(self, sid: str, data: Any = None) -> None:
        """The widget says its citizen is typing (no text): the router passes it to the staff console when a
        person owns or watches the chat. Only for a session the socket has joined; nothing is answered."""
        session = await self.sio.get_session(sid) or {}
        if session.get("session_id"):
            await self.router.typing(str(ConversationId(CHANNEL, session["session_id"])))

    async def push(self, session_id: str, messages: List[BotMessage], confirm: bool = False) -> Optional[bool]:
        """Messages outside a turn (a person's reply, the queue moving) to every tab of the session, on any gateway.
        False: no tab is connected (the widget gets them when it reconnects); True: a tab acknowledged every stored
        message (with ``confirm``, waited for up to ACK_SECONDS); None: sent, no acknowledgement yet."""
        room = _room(session_id)
        if next(self.sio.manager.get_participants("/", room), None) is None and not await self.bus.present(room):
            return False
        counseling = await self._counseling(session_id)
        pending: Set[int] = set()
        items = []
        for message in messages:
            payloads = _payloads(message, counseling)
            message_id = message.get("message_id") if payloads else None
            if message_id:
                pending.add(message_id)
            items.append({"payloads": payloads, "message_id": message_id})
        request, done = uuid.uuid4().hex, asyncio.Event()
        if pending:
            self._waiting[request] = (pending, done)
        try:
            await self.bus.publish("web.push", {"session_id": session_id, "items": items, "request": request,
                                                "origin": self.bus.host_id})
            if not pending:
                return True
            if confirm:
                try:
                    await asyncio.wait_for(done.wait(), ACK_SECONDS)
                except asyncio.TimeoutError:
                    return False
            return True if not pending else None
        finally:
            self._waiting.pop(request, None)  # a later ack is still recorded (``_on_ack``), nobody waits for it

    async def _push_here(self, data: Dict[str, Any]) -> None:
        """A push (from this gateway or another) to this gateway's tabs of the session, each stored message with
        an acknowledgement callback."""
        session_id, request, origin = data["session_id"], data.get("request"), data.get("origin")
        room = _room(session_id)
        if next(self.sio.manager.get_participants("/", room), None) is None:
            return
        for item in data["items"]:
            message_id = item.get("message_id")
            for index, payload in enumerate(item["payloads"]):
                acked = self._on_ack(session_id, message_id, request, origin) if message_id and index == 0 else None
                await self.sio.emit("bot_uttered", payload, room=room, callback=acked, ignore_queue=True)

    async def _acked_here(self, data: Dict[str, Any]) -> None:
        """A tab acknowledged a message of a push made here (or the event was for another gateway's push)."""
        waiting = self._waiting.get(data.get("request") or "")
        if waiting:
            pending, done = waiting
            pending.discard(data.get("message_id"))
            if not pending:
                done.set()

    def _on_ack(self, session_id: str, message_id: int, request: Optional[str] = None,
                origin: Optional[str] = None) -> Callable[..., Awaitable[None]]:
        """The Socket.IO ack callback of one stored message (whatever the client sends with it is ignored): the
        push that sent it hears of it (on its gateway), and the message is marked delivered."""
        async def acked(*_: Any) -> None:
            if request:
                event = {"request": request, "message_id": message_id}
                if origin == self.bus.host_id:
                    await self._acked_here(event)
                else:
                    await self.bus.publish("web.acked", event)
            try:
                await self.router.delivered(str(ConversationId(CHANNEL, session_id)), [message_id])
            except Exception:  # noqa: BLE001 — a database hiccup: the message stays "sent", the chat goes on
                logger.exception("web: recording a delivery failed conv=%s", conversation_ref(session_id))
        return acked

    async def _counseling(self, session_id: str) -> bool:
        """The chat is in a counseling session now (waiting for or talking with a counselor). A database hiccup
        here costs only the flag, never the messages it would have marked."""
        try:
            conversation = await run_db(self.router.store.get, str(ConversationId(CHANNEL, session_id)))
        except Exception:  # noqa: BLE001
            logger.exception("web: reading the counseling flag failed conv=%s", conversation_ref(session_id))
            return False
        return bool(conversation and conversation.counseling)

    async def _replay(self, sid: str, session_id: str, after: int) -> None:
        """The session's messages after ``after`` to this socket (the recent history when 0)."""
        if self.history_messages <= 0:
            return
        conversation = str(ConversationId(CHANNEL, session_id))
        found = await run_db(self.router.store.history, conversation, after,
                             utcnow() - timedelta(hours=self.history_hours), self.history_messages, with_user=after == 0)
        counseling = await self._counseling(session_id) if found else False
        for message in found:
            sender = message["sender"]
            payload: Dict[str, Any] = {"text": without_buttons(message["text"]), "message_id": message["id"],
                                       **({"counseling": True} if counseling else {})}
            if sender == "user" or sender.startswith(STAFF_PREFIX):  # the widget shows them as such
                payload["sender"] = "user" if sender == "user" else "staff"
            unacknowledged = sender != "user" and not message["delivered_at"]
            await self.sio.emit("bot_uttered", payload, to=sid,
                                callback=self._on_ack(session_id, message["id"]) if unacknowledged else None)
        if found:
            logger.info("web: %d messages replayed conv=%s after=%d", len(found), conversation_ref(session_id), after)

    async def on_bad_packet(self, sid: str, *args: Any) -> None:
        await self.sio.emit("bot_uttered", {"text": texts.NOT_TEXT}, room=sid)

    async def on_unknown_event(self, event: str, sid: str, data: Any = None) -> None:
        logger.info("web: unknown socket.io event %r from %s", event[:40], conversation_ref(sid))
        await self.sio.emit("gateway_error", {"error": "unknown_event", "event": event[:40]}, room=sid)
