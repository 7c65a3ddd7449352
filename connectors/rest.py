"""Plain HTTP chat for integrations and scripts: ``POST /api/messages`` {sender, message} → {messages}.

One turn per request, answered in the response. Off unless REST_API_TOKEN is set; then every request needs
``Authorization: Bearer <token>``. It cannot receive a staff member's reply (there is no connection to push
to): a conversation handed to a person goes quiet here. The same checks and rate limits as the widget apply.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any, Dict, List

from sanic import Request, Sanic
from sanic.response import HTTPResponse, json as json_response

from common.conversation_id import ConversationId
from connectors.webchat import to_socketio
from gateway import texts
from gateway.handoff.router import Router, conversation_ref
from gateway.input_checks import clean_metadata, has_bad_characters, parse_json_object
from gateway.rate_limits import RateLimits
from gateway.settings import Settings

logger = logging.getLogger(__name__)

CHANNEL = "rest"
MAX_SENDER_CHARS = 128


def _error(text: str, status: int, **headers: str) -> HTTPResponse:
    return json_response({"error": text, "messages": [{"text": text}]}, status=status, headers=headers or None)


def setup_rest(app: Sanic, router: Router, limits: RateLimits, settings: Settings) -> None:
    token = settings.rest_api_token

    @app.post("/api/messages")
    async def rest_message(request: Request) -> HTTPResponse:
        if not token:
            return _error(texts.REST_API_OFF, 404)
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), f"Bearer {token}".encode()):
            logger.info("rest: refused request without the token")
            return _error(texts.REST_API_TOKEN, 401, **{"WWW-Authenticate": "Bearer"})
        try:
            body = parse_json_object(request.body)
        except ValueError as why:
            logger.info("rest: refused body (%s), %d bytes", why, len(request.body))
            return _error(texts.BAD_REQUEST, 400)
        sender, message = body.get("sender"), body.get("message")
        if not isinstance(sender, str) or not sender.strip() or has_bad_characters(sender):
            logger.info("rest: refused body (sender)")
            return _error(texts.BAD_REQUEST, 400)
        if not isinstance(message, str):
            logger.info("rest: refused body (message is %s)", type(message).__name__)
            return _error(texts.NOT_TEXT, 400)
        if has_bad_characters(message):
            logger.info("rest: refused message with bad characters")
            return _error(texts.BAD_CHARACTERS, 400)
        metadata, problem = clean_metadata(body.get("metadata"), settings.max_metadata_bytes)
        if problem and problem != "metadata_reserved_key":
            logger.info("rest: refused body (%s)", problem)
            return _error(texts.BAD_REQUEST, 400)
        sender = sender[:MAX_SENDER_CHARS]
        conversation = str(ConversationId(CHANNEL, sender))
        try:
            refusal = await limits.check_turn(request.ip, conversation, lambda: router.owner_of(conversation))
            if refusal:
                logger.info("rest: rate limited conv=%s limit=%s", conversation_ref(conversation), refusal.limit)
                return _error(texts.RATE_LIMITED, 429, **{"Retry-After": str(refusal.retry_after)})
            replies = await router.handle_text(sender, CHANNEL, message, metadata)
        except Exception as exc:  # noqa: BLE001 — e.g. the database restarting: a clear 503, never a bare 500
            # the type only: a database error's text would carry the statement's parameters (the message)
            logger.error("rest: turn failed conv=%s error=%s", conversation_ref(conversation), type(exc).__name__)
            return _error(texts.TURN_FAILED, 503, **{"Retry-After": "5"})
        payloads: List[Dict[str, Any]] = [p for m in replies for p in to_socketio(m)]
        return json_response({"messages": payloads})
