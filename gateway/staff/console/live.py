"""Live updates: the Socket.IO namespace ``/staff`` (connect with the session cookie, watch and unwatch a
chat; events ``queue``, ``message``, ``conversation``, ``alert``, ``delivery``) and the Notifier methods through
which the router and the counseling desk report, plus who is online (presence, for the wait estimate).

A socket lives only as long as its session: the session is checked again on every event the socket sends
and before every event sent to sockets, a sweep every SWEEP_SECONDS catches what ended elsewhere (the admin
CLI's deactivate or set-password in another process, expiry), and logout ends its sockets at once. A socket
whose session ended is disconnected. Only the gateway's own origin may open the namespace.

Several gateways (SOCKETIO_REDIS_URL): every Notifier method publishes on the gateway bus (gateway/bus.py) and each
gateway handles the event for its own sockets (``_…_here``), with local emits only (``ignore_queue``): the
watcher pruning, the counseling-text check and the session checks read this gateway's ``_online`` and rooms, which
is all Socket.IO's Redis manager lets a process see. Who is online (``available``) is this gateway's sockets plus
the other gateways' marks on the bus, read by the sweep.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, Iterable, Optional, Set, Tuple

import socketio

from gateway.bus import Bus
from gateway.handoff.router import Notifier, Router
from gateway.staff import auth as staff_auth
from gateway.staff.console.transcript import system_event
from gateway.staff.console.common import NAMESPACE, SESSION_COOKIE, may_see, queue_payload, reads_counseling
from gateway.storage.conversations import Conversation, HandoffStore
from gateway.storage.db import run_db

logger = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0
QUEUE_RETRIES, QUEUE_RETRY_SECONDS = 5, 0.2  # sending the consoles' lists again after a database error
ONLINE = "staff:online"  # the bus marks of the open console sockets: JSON [sid, username, role]


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
    bus: Bus
    _online: Dict[str, Dict]  # socket sid → session user
    _sessions: Dict[str, str]  # socket sid → its session's token hash
    _sweeper: Optional["asyncio.Task[None]"] = None
    _elsewhere: Set[Tuple[str, str]] = set()  # (username, role) online on any gateway, read by the sweep
    _queue_refreshing: asyncio.Lock  # one refresh of the consoles' lists at a time (_queue_here)
    _queue_stale = False  # a change came after the running refresh read the lists

    def listen(self) -> None:
        """Register the namespace's handlers with the Socket.IO server, and the bus events' with the bus."""
        self.sio.on("connect", self.on_connect, namespace=NAMESPACE)
        self.sio.on("disconnect", self.on_disconnect, namespace=NAMESPACE)
        self.sio.on("watch", self.on_watch, namespace=NAMESPACE)
        self.sio.on("unwatch", self.on_unwatch, namespace=NAMESPACE)
        for topic, handler in (("queue", self._queue_here), ("message", self._message_here),
                               ("conversation", self._conversation_here), ("typing", self._typing_here),
                               ("delivery", self._delivered_here), ("alert", self._alert_here),
                               ("escalation", self._escalate_here), ("end_session", self._end_session_here)):
            self.bus.on("staff." + topic, handler)

    async def _emit(self, event: str, payload: Any, **to: Any) -> None:
        """To this gateway's sockets only: every gateway sends its own (gateway/bus.py)."""
        await self.sio.emit(event, payload, namespace=NAMESPACE, ignore_queue=True, **to)

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
            await self._read_elsewhere()

    async def _read_elsewhere(self) -> None:
        """Who is online on any gateway (the bus marks); unchanged when Redis cannot say."""
        found = await self.bus.members(ONLINE)
        if found is None:
            return
        people = set()
        for member in found:
            try:
                _, username, role = json.loads(member)
            except (TypeError, ValueError):
                continue
            people.add((username, role))
        self._elsewhere = people

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
        """Logout: disconnect the session's sockets now, on every gateway (the bus carries the token's hash)."""
        if token:
            await self.bus.publish("staff.end_session", {"session": staff_auth.token_hash(token)})

    async def _end_session_here(self, data: Dict) -> None:
        for sid in [sid for sid, h in self._sessions.items() if h == data.get("session")]:
            await self._drop(sid)

    async def _forget(self, sid: str) -> Optional[Dict]:
        user = self._online.pop(sid, None)
        if user:
            await self.bus.unmark(ONLINE, json.dumps([sid, user["username"], user["role"]]))
        return user

    async def _drop(self, sid: str) -> None:
        user = await self._forget(sid)
        if self._sessions.pop(sid, None) is not None:
            logger.info("staff: socket of %s disconnected, its session ended", (user or {}).get("username"))
            await self.sio.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

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
        await self.bus.mark(ONLINE, json.dumps([sid, user["username"], user["role"]]))
        await self.sio.enter_room(sid, "user:" + user["username"], namespace=NAMESPACE)
        await self._emit("queue", await run_db(queue_payload, self.router, user), to=sid)
        return True

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        await self._forget(sid)
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
    # Each method publishes on the bus; its ``_…_here`` handler runs on every gateway for that gateway's sockets.
    async def queue_changed(self) -> None:
        await self.bus.publish("staff.queue", {})

    async def message(self, conversation_id: str, message: Dict) -> None:
        await self.bus.publish("staff.message", {"conversation_id": conversation_id, "message": message})

    async def typing(self, conversation: Conversation) -> None:
        """The citizen is typing (the widget said so; no text): event ``typing`` {conversation_id} to the consoles
        watching the chat and to its owner's. Sessions are swept every SWEEP_SECONDS, not checked per keystroke."""
        await self.bus.publish("staff.typing", {"conversation_id": conversation.id})

    async def delivered(self, conversation_id: str, marks: list) -> None:
        """A citizen's client acknowledged messages (connectors/webchat.py): the console turns 「送信済み」 or
        「未達」 into 「表示済み」. Ids and times only, no text."""
        await self.bus.publish("staff.delivery", {"conversation_id": conversation_id, "messages": marks})

    async def alert(self, payload: Dict, roles=(), usernames=()) -> None:
        """A sound-and-banner alert (gateway/counseling/desk.py) to the online users of ``roles`` and to
        ``usernames``; a counseling chat's alert only to those who may see it."""
        await self.bus.publish("staff.alert", {"payload": payload, "roles": list(roles), "usernames": list(usernames)})

    async def escalate(self, payload: Dict) -> None:
        """A long wait (gateway/counseling/jobs.py) escalated: event ``escalation`` to the online supervisors
        (ids, queue, minutes and level; no text of the chat)."""
        await self.bus.publish("staff.escalation", {"payload": payload})

    async def conversation(self, conversation: Conversation) -> None:
        await self.bus.publish("staff.conversation", {"conversation_id": conversation.id,
                                                      "conversation": conversation.as_dict()})

    def available(self, queue: str) -> int:
        """People online on any gateway who answer ``queue`` (this gateway's sockets now, the others' as of the
        last sweep)."""
        here = {(u["username"], u["role"]) for u in self._online.values()}
        return len({name for name, role in here | self._elsewhere if staff_auth.can_handle(role, queue)})

    # ------------------------------------------------------------------ the same, for this gateway's sockets
    async def _queue_here(self, _: Dict) -> None:
        """Send every open console its lists, one refresh at a time. Changes come from many chats at once; two
        refreshes running side by side could send the older lists last (a chat just queued would vanish from the
        console until the next change). A change during a refresh asks for one more after it, so the lists sent
        last are always read after the last change."""
        self._queue_stale = True
        if self._queue_refreshing.locked():
            return  # the refresh running now goes round once more
        async with self._queue_refreshing:
            failures = 0
            while self._queue_stale:
                self._queue_stale = False
                try:
                    await self._send_queues()
                except Exception:  # noqa: BLE001 — a busy database: try again shortly, the lists must not go stale
                    failures += 1
                    logger.exception("staff: sending the queue lists failed (%d)", failures)
                    if failures < QUEUE_RETRIES:
                        self._queue_stale = True
                        await asyncio.sleep(QUEUE_RETRY_SECONDS)

    async def _send_queues(self) -> None:
        await self.check_sessions()
        by_user: Dict[str, Dict] = {}
        for sid, user in list(self._online.items()):
            if user["username"] not in by_user:
                by_user[user["username"]] = await run_db(queue_payload, self.router, user)
            await self._emit("queue", by_user[user["username"]], to=sid)

    async def _prune_watchers(self, conversation: Conversation) -> None:
        """Watching was allowed when it began; a chat moved to another queue or person must stop reaching
        those who may no longer see it. This gateway's watchers: each gateway prunes its own."""
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

    async def _message_here(self, data: Dict) -> None:
        await self.check_sessions()
        conversation_id, message = data["conversation_id"], data["message"]
        if message.get("sender") == "system":  # its kind (joined, position, …), as in the transcript
            message = {**message, "event": system_event(message)}
        payload = {"conversation_id": conversation_id, "message": message}
        rooms = await self._rooms(conversation_id)
        if not message.get("protected"):
            await self._emit("message", payload, room=rooms)  # each socket once
            return
        sids = {sid for room in rooms for sid, _ in self.sio.manager.get_participants(NAMESPACE, room)}
        for sid in sids:  # counseling text: only to counselors and supervisors
            user = self._online.get(sid)
            if user and reads_counseling(user):
                await self._emit("message", payload, to=sid)

    async def _typing_here(self, data: Dict) -> None:
        rooms = await self._rooms(data["conversation_id"])
        await self._emit("typing", {"conversation_id": data["conversation_id"]}, room=rooms)

    async def _delivered_here(self, data: Dict) -> None:
        await self.check_sessions()
        await self._emit("delivery", data, room=await self._rooms(data["conversation_id"]))

    async def _alert_here(self, data: Dict) -> None:
        await self.check_sessions()
        payload, roles, usernames = data["payload"], data.get("roles") or (), data.get("usernames") or ()
        conversation = await run_db(self.store.get, payload["conversation_id"])
        for sid, user in list(self._online.items()):
            if user["role"] not in roles and user["username"] not in usernames:
                continue
            if conversation and user["username"] not in usernames and not may_see(user, conversation):
                continue
            await self._emit("alert", payload, to=sid)

    async def _escalate_here(self, data: Dict) -> None:
        await self.check_sessions()
        for sid, user in list(self._online.items()):
            if user["role"] == "supervisor":
                await self._emit("escalation", data["payload"], to=sid)

    async def _conversation_here(self, data: Dict) -> None:
        await self.check_sessions()
        await self._emit("conversation", {"conversation": data["conversation"]}, room="conv:" + data["conversation_id"])
        # after telling them it moved, stop sending them more (the chat as it is now, from the database)
        conversation = await run_db(self.store.get, data["conversation_id"])
        if conversation:
            await self._prune_watchers(conversation)
