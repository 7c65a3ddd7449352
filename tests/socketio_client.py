"""A Socket.IO client that behaves like rasa-webchat (session_request, then user_uttered).

Like rasa-webchat it sends back the session token the gateway confirmed (``token``, signed: see
connectors/webchat_session.py); ``session_id`` is the id in it, the conversation being ``web:<session_id>``. The
gateway's extra ``message_id`` is kept aside (``message_ids``, ``last_message_id``) and, unless ``keep_ids``, left
out of the payloads the tests read, as rasa-webchat ignores it. The python client acknowledges every event the
gateway asks an ack for.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple

import socketio

from connectors.webchat_session import session_id_of
from gateway import texts

RATE_LIMITED_ADVICE = ("the gateway refused a new chat from this address (rate limits): start the stack for evaluations "
                       "with RATE_LIMITS=off make run (README \"Security and reliability\")")


class WidgetClient:
    def __init__(self, url: str, transports: Optional[List[str]] = None, keep_ids: bool = False) -> None:
        self.url = url
        self.transports = transports or ["websocket"]
        self.keep_ids = keep_ids
        self.sio = socketio.AsyncClient(reconnection=False)
        self.token: Optional[str] = None
        self.session_id: Optional[str] = None
        self.message_ids: List[int] = []
        self.messages: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.errors: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self._confirmed: "asyncio.Queue[str]" = asyncio.Queue()
        self.sio.on("bot_uttered", self._bot_uttered)
        self.sio.on("gateway_error", self.errors.put)
        self.sio.on("session_confirm", self._session_confirm)

    @property
    def last_message_id(self) -> int:
        return max(self.message_ids, default=0)

    async def _bot_uttered(self, payload: Any) -> None:
        if isinstance(payload, dict) and "message_id" in payload:
            self.message_ids.append(payload["message_id"])
            if not self.keep_ids:
                payload = {k: v for k, v in payload.items() if k != "message_id"}
        await self.messages.put(payload)

    async def _session_confirm(self, token: str) -> None:
        self.token, self.session_id = token, session_id_of(token)
        await self._confirmed.put(token)

    async def connect(self, token: Optional[str] = None, **extra: Any) -> str:
        """Open the socket and ask for a session: ``token`` is a session the gateway confirmed before (another tab,
        a reconnect); ``extra`` goes into session_request too (``last_message_id``). Returns the session id."""
        await self.sio.connect(self.url, transports=self.transports, socketio_path="/socket.io/")
        await self.sio.emit("session_request", {"session_id": token, **extra})
        await asyncio.wait_for(self._confirmed.get(), 10)
        return self.session_id  # type: ignore[return-value]

    async def say(self, message: Any, **extra: Any) -> None:
        await self.sio.emit("user_uttered", {"message": message, "session_id": self.token, **extra})

    async def turn(self, message: Any, timeout: float = 30, settle: float = 0.3) -> List[Dict[str, Any]]:
        """Say ``message`` and return every reply to it. The event asks for Socket.IO's acknowledgement, which the
        gateway sends when its handler has finished, i.e. after it emitted the turn's replies on the same
        connection; ``settle`` seconds of silence after it catch anything that comes later (a room emit through
        Redis). rasa-webchat asks for no ack; the replies are the same."""
        done = asyncio.get_running_loop().create_future()
        await self.sio.emit("user_uttered", {"message": message, "session_id": self.token},
                            callback=lambda *_: done.done() or done.set_result(None))
        await asyncio.wait_for(done, timeout)
        replies: List[Dict[str, Any]] = []
        while True:
            try:
                replies.append(self.messages.get_nowait() if not self.messages.empty()
                               else await asyncio.wait_for(self.messages.get(), settle))
            except asyncio.TimeoutError:
                return replies

    async def next_message(self, timeout: float = 30) -> Dict[str, Any]:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def ask(self, message: Any, timeout: float = 30) -> Dict[str, Any]:
        await self.say(message)
        return await self.next_message(timeout)

    async def close(self) -> None:
        if self.transports == ["polling"]:
            # A polite polling disconnect waits for the pending long-poll (up to the ping interval);
            # a closing browser tab just drops it, and so do we.
            await self.sio.eio.disconnect(abort=True)
        else:
            await self.sio.disconnect()


async def one_chat(url: str, text: str, quiet: float) -> Tuple[str, List[Dict[str, Any]]]:
    """One message in a fresh widget session: (the session id, every reply to it, see ``turn``; ``quiet``: its
    ``settle``). What the evaluations through the running stack send (tools/eval_triage_stack.py)."""
    widget = WidgetClient(url)
    await widget.connect()
    try:
        replies = await widget.turn(text, 30, quiet)
    finally:
        await widget.close()
    if replies and replies[0].get("text") == texts.RATE_LIMITED:
        raise SystemExit(RATE_LIMITED_ADVICE)  # every later chat would be refused too: not a result to score
    return widget.session_id or "", replies
