"""Live updates: the Socket.IO namespace ``/staff`` (connect with the session cookie, watch and unwatch a
chat; events ``queue``, ``message``, ``conversation``, ``alert``, ``delivery``) and the Notifier methods through
which the router and the counseling desk report, plus who is online (presence, for the wait estimate).

A socket lives only as long as its session: the session is checked again on every event the socket sends
and before every event sent to sockets, a sweep every SWEEP_SECONDS catches what ended elsewhere (the admin
CLI's deactivate or set-password in another process, expiry), and logout ends its sockets at once. A socket
whose session ended is disconnected. Only the gateway's own origin may open the namespace.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterable, Optional

import socketio

from gateway.handoff.router import Notifier, Router
from gateway.staff import auth as staff_auth
from gateway.staff.console.transcript import system_event
from gateway.staff.console.common import NAMESPACE, SESSION_COOKIE, may_see, queue_payload, reads_counseling
from gateway.storage.conversations import Conversation, HandoffStore
from gateway.storage.db import run_db

logger = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0


def _cookie_value(cookie_header: str, name: str) -> Optional[str]:
    for part in cookie_header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class LiveUpdates(Notifier):
    """The console's half that talks to the open browsers; StaffConsole sets these attributes."""

    sio: socketio.AsyncServer
    router: Router
    store: HandoffStore
    db: Any
    settings: Any
    _online: Dict[str, Dict]  # socket sid → session user
    _sessions: Dict[str, str]  # socket sid → its session's token hash
    _sweeper: Optional["asyncio.Task[None]"] = None

    def listen(self) -> None:
        """Register the namespace's handlers with the Socket.IO server."""
        self.sio.on("connect", self.on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self.on_disconnect, namespace=NAMESPACE)
        self.sio.on("watch", self.on_watch, namespace=NAMESPACE)
        self.sio.on("unwatch", self.on_unwatch, namespace=NAMESPACE)

    # ------------------------------------------------------------------ sessions of the open sockets
    async def start_sweeping(self, *_: Any) -> None:
        """Server start (a Sanic listener): check every open socket's session every SWEEP_SECONDS."""
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop_sweeping(self, *_: Any) -> None:
        if self._sweeper:
            self._sweeper.cancel()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                await self.check_sessions()
            except Exception:  # noqa: BLE001 — a database hiccup must not end the sweeping
                logger.exception("staff: checking the sockets' sessions failed")

    async def check_sessions(self, sids: Optional[Iterable[str]] = None) -> None:
        """Disconnect the sockets (of ``sids``, default all) whose session ended; one query for all."""
        wanted = {sid: self._sessions[sid] for sid in (sids if sids is not None else list(self._sessions))
                  if sid in self._sessions}
        if not wanted:
            return
        live = await run_db(staff_auth.live_sessions, self.db, wanted.values())
        for sid, hashed in wanted.items():
            if hashed not in live:
                await self._drop(sid)

    async def end_session(self, token: Optional[str]) -> None:
        """Logout: disconnect the session's sockets now."""
        if token:
            hashed = staff_auth.token_hash(token)
            for sid in [sid for sid, h in self._sessions.items() if h == hashed]:
                await self._drop(sid)

    async def _drop(self, sid: str) -> None:
        user = self._online.pop(sid, None)
        if self._sessions.pop(sid, None) is not None:
            logger.info("staff: socket of %s disconnected, its session ended", (user or {}).get("username"))
            await self.sio.disconnect(sid, namespace=NAMESPACE)

    async def _user(self, sid: str) -> Optional[Dict]:
        """The socket's user, its session checked again now (None, and disconnected, if it ended)."""
        await self.check_sessions([sid])
        return self._online.get(sid)

    def _origin_ok(self, environ: Dict[str, Any]) -> bool:
        """Browsers send Origin; only the console's own page may open /staff (no Origin: not a browser)."""
        origin = environ.get("HTTP_ORIGIN")
        return not origin or origin.rstrip("/").lower() in self.settings.own_origins()

    # ------------------------------------------------------------------ Socket.IO /staff
    async def on_connect(self, sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
        if not self._origin_ok(environ):
            raise socketio.exceptions.ConnectionRefusedError("origin not allowed")
        token = _cookie_value(environ.get("HTTP_COOKIE", ""), SESSION_COOKIE)
        user = await run_db(staff_auth.session_user, self.db, token) if token else None
        if not user:
            raise socketio.exceptions.ConnectionRefusedError("login required")
        self._online[sid] = user
        self._sessions[sid] = staff_auth.token_hash(token)
        await self.sio.enter_room(sid, "user:" + user["username"], namespace=NAMESPACE)
        await self.sio.emit("queue", await run_db(queue_payload, self.router, user), to=sid, namespace=NAMESPACE)
        return True

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._online.pop(sid, None)
        self._sessions.pop(sid, None)

    async def on_watch(self, sid: str, data: Any = None) -> Dict:
        user = await self._user(sid)
        conversation_id = data.get("conversation_id") if isinstance(data, dict) else None
        conversation = await run_db(self.store.get, conversation_id) if isinstance(conversation_id, str) else None
        if not user or not conversation or not may_see(user, conversation):
            return {"ok": False}
        await self.sio.enter_room(sid, "conv:" + conversation.id, namespace=NAMESPACE)
        return {"ok": True}

    async def on_unwatch(self, sid: str, data: Any = None) -> None:
        if not await self._user(sid):
            return
        if isinstance(data, dict) and isinstance(data.get("conversation_id"), str):
            await self.sio.leave_room(sid, "conv:" + data["conversation_id"], namespace=NAMESPACE)

    # ------------------------------------------------------------------ Notifier: what the router reports
    async def queue_changed(self) -> None:
        await self.check_sessions()
        by_user: Dict[str, Dict] = {}
        for sid, user in list(self._online.items()):
            if user["username"] not in by_user:
                by_user[user["username"]] = await run_db(queue_payload, self.router, user)
            await self.sio.emit("queue", by_user[user["username"]], to=sid, namespace=NAMESPACE)

    async def _prune_watchers(self, conversation: Conversation) -> None:
        """Watching was allowed when it began; a chat moved to another queue or person must stop reaching
        those who may no longer see it."""
        room = "conv:" + conversation.id
        for sid, _ in list(self.sio.manager.get_participants(NAMESPACE, room)):
            user = self._online.get(sid)
            if not user or not may_see(user, conversation):
                await self.sio.leave_room(sid, room, namespace=NAMESPACE)

    async def _rooms(self, conversation_id: str) -> list:
        """Who hears about a chat's messages: its watchers (those who may still see it) and its owner, who sees
        them even with another chat open."""
        conversation = await run_db(self.store.get, conversation_id)
        if conversation:
            await self._prune_watchers(conversation)
        rooms = ["conv:" + conversation_id]
        if conversation and conversation.staff:
            rooms.append("user:" + conversation.staff)
        return rooms

    async def message(self, conversation_id: str, message: Dict) -> None:
        await self.check_sessions()
        if message.get("sender") == "system":  # its kind (joined, position, …), as in the transcript
            message = {**message, "event": system_event(message)}
        payload = {"conversation_id": conversation_id, "message": message}
        rooms = await self._rooms(conversation_id)
        if not message.get("protected"):
            await self.sio.emit("message", payload, room=rooms, namespace=NAMESPACE)  # each socket once
            return
        sids = {sid for room in rooms for sid, _ in self.sio.manager.get_participants(NAMESPACE, room)}
        for sid in sids:  # counseling text: only to counselors and supervisors
            user = self._online.get(sid)
            if user and reads_counseling(user):
                await self.sio.emit("message", payload, to=sid, namespace=NAMESPACE)

    async def typing(self, conversation: Conversation) -> None:
        """The citizen is typing (the widget said so; no text): event ``typing`` {conversation_id} to the consoles
        watching the chat and to its owner's. Sessions are swept every SWEEP_SECONDS, not checked per keystroke."""
        rooms = await self._rooms(conversation.id)
        await self.sio.emit("typing", {"conversation_id": conversation.id}, room=rooms, namespace=NAMESPACE)

    async def delivered(self, conversation_id: str, marks: list) -> None:
        """A citizen's client acknowledged messages (connectors/webchat.py): the console turns 「送信済み」 or
        「未達」 into 「表示済み」. Ids and times only, no text."""
        await self.check_sessions()
        payload = {"conversation_id": conversation_id, "messages": marks}
        await self.sio.emit("delivery", payload, room=await self._rooms(conversation_id), namespace=NAMESPACE)

    async def alert(self, payload: Dict, roles=(), usernames=()) -> None:
        """A sound-and-banner alert (gateway/counseling/desk.py) to the online users of ``roles`` and to
        ``usernames``; a counseling chat's alert only to those who may see it."""
        await self.check_sessions()
        conversation = await run_db(self.store.get, payload["conversation_id"])
        for sid, user in list(self._online.items()):
            if user["role"] not in roles and user["username"] not in usernames:
                continue
            if conversation and user["username"] not in usernames and not may_see(user, conversation):
                continue
            await self.sio.emit("alert", payload, to=sid, namespace=NAMESPACE)

    async def escalate(self, payload: Dict) -> None:
        """A long wait (gateway/counseling/jobs.py) escalated: event ``escalation`` to the online supervisors
        (ids, queue, minutes and level; no text of the chat)."""
        await self.check_sessions()
        for sid, user in list(self._online.items()):
            if user["role"] == "supervisor":
                await self.sio.emit("escalation", payload, to=sid, namespace=NAMESPACE)

    def available(self, queue: str) -> int:
        return len({u["username"] for u in self._online.values() if staff_auth.can_handle(u["role"], queue)})

    async def conversation(self, conversation: Conversation) -> None:
        await self.check_sessions()
        payload = {"conversation": conversation.as_dict()}
        await self.sio.emit("conversation", payload, room="conv:" + conversation.id, namespace=NAMESPACE)
        await self._prune_watchers(conversation)  # after telling them it moved, stop sending them more
