"""A Socket.IO client that behaves like rasa-webchat (session_request, then user_uttered)."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Tuple

import socketio

from gateway import texts

RATE_LIMITED_ADVICE = ("the gateway refused a new chat from this address (rate limits): start the stack for evaluations "
                       "with RATE_LIMITS=off make run (README \"Security and reliability\")")


class WidgetClient:
    def __init__(self, url: str, transports: Optional[List[str]] = None) -> None:
        self.url = url
        self.transports = transports or ["websocket"]
        self.sio = socketio.AsyncClient(reconnection=False)
        self.session_id: Optional[str] = None
        self.messages: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self.errors: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self._confirmed: "asyncio.Queue[str]" = asyncio.Queue()
        self.sio.on("bot_uttered", self.messages.put)
        self.sio.on("gateway_error", self.errors.put)
        self.sio.on("session_confirm", self._confirmed.put)

    async def connect(self, session_id: Optional[str] = None) -> str:
        await self.sio.connect(self.url, transports=self.transports, socketio_path="/socket.io/")
        await self.sio.emit("session_request", {"session_id": session_id})
        self.session_id = await asyncio.wait_for(self._confirmed.get(), 10)
        return self.session_id

    async def say(self, message: Any, **extra: Any) -> None:
        await self.sio.emit("user_uttered", {"message": message, "session_id": self.session_id, **extra})

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
    """One message in a fresh widget session: (the session id, every reply until the bot is quiet for ``quiet`` s).
    What the evaluations through the running stack send (tools/eval_e2e.py, tools/eval_triage_stack.py)."""
    widget = WidgetClient(url)
    await widget.connect()
    replies: List[Dict[str, Any]] = []
    try:
        await widget.say(text)
        replies.append(await widget.next_message(30))
        while True:
            try:
                replies.append(await widget.next_message(quiet))
            except asyncio.TimeoutError:
                break
    finally:
        await widget.close()
    if replies and replies[0].get("text") == texts.RATE_LIMITED:
        raise SystemExit(RATE_LIMITED_ADVICE)  # every later chat would be refused too: not a result to score
    return widget.session_id or "", replies
