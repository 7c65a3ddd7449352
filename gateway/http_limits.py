"""A cap on request bodies, enforced while they stream in (an ASGI middleware around the whole gateway).

Under ASGI, Sanic reads a request's whole body into memory before any handler runs, and engine.io reads a
long-polling POST whole before it looks at its size; uvicorn sets no limit. So one unauthenticated multi-GB
POST (LINE webhook, /api/messages, /staff/login, Socket.IO polling) could exhaust memory. This middleware
answers 413 before the app sees a byte: at once when Content-Length says too much, or as soon as a chunked
body passes the limit, and closes the connection so the rest is never read. (WebSocket frames are capped by
uvicorn's ``ws_max_size``, set from the same setting in gateway/__main__.py.)
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict

from gateway import texts

logger = logging.getLogger(__name__)

Scope = Dict[str, Any]
Message = Dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """Refuse HTTP request bodies over ``max_bytes`` with 413 (JSON ``{"error": …}``, ``Connection: close``)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            logger.info("http: refused %s %s, declared body of %d bytes (limit %d)", scope.get("method"),
                        scope.get("path"), declared, self.max_bytes)
            await _refuse(send)
            return
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    logger.info("http: refused %s %s, body over %d bytes", scope.get("method"), scope.get("path"),
                                self.max_bytes)
                    if not started:
                        await _refuse(send)
                    return {"type": "http.disconnect"}  # the app stops reading; what it sends is dropped
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)


def _content_length(scope: Scope):
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send) -> None:
    body = json.dumps({"error": texts.REQUEST_TOO_LARGE}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
