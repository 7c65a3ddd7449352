"""Working on chats: the queue, a transcript (audited), claim, reply, note, transfer, close, hand back to the
bot, the counseling risk. All JSON under ``/staff/api/``. (Canned replies: canned.py.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional
from urllib.parse import unquote

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json as json_response

from gateway import texts
from gateway.staff import auth as staff_auth
from gateway.staff.console import transcript as transcript_view
from gateway.staff.console.common import (MAX_REPLY_CHARS, api_guard, json_body, may_act, may_see, queue_payload,
                                          reads_counseling)
from gateway.storage.conversations import OUTCOME_LABELS, QUEUES, RISKS, Conversation
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole


def _text(request: Request) -> str:
    """The body's ``text``, trimmed and cut to MAX_REPLY_CHARS ("" when missing)."""
    value = json_body(request).get("text")
    return value.strip()[:MAX_REPLY_CHARS] if isinstance(value, str) else ""


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    router, store, db = console.router, console.store, console.db

    async def _conversation(conversation_id: str) -> Optional[Conversation]:
        return await run_db(store.get, unquote(conversation_id))

    async def _owned(user: Dict, conversation_id: str):
        conversation = await _conversation(conversation_id)
        if not conversation:
            return None, json_response({"error": texts.STAFF_NO_CONVERSATION}, 404)
        if not may_act(user, conversation):
            return None, json_response({"error": texts.STAFF_NOT_OWNER}, 409)
        return conversation, None

    @bp.get("/api/queue")
    @api()
    async def queue(request: Request, user: Dict) -> HTTPResponse:
        return json_response(await run_db(queue_payload, router, user))

    @bp.get("/api/conversations/<conversation_id:str>")
    @api()
    async def transcript(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        conversation = await _conversation(conversation_id)
        if not conversation:
            return json_response({"error": texts.STAFF_NO_CONVERSATION}, 404)
        if not may_see(user, conversation):
            return json_response({"error": texts.STAFF_FORBIDDEN}, 403)
        await run_db(staff_auth.audit, db, user, "view_transcript", conversation.id)
        position = await run_db(store.position, conversation)
        shown = await run_db(store.transcript, conversation.id, reads_counseling(user))
        if not reads_counseling(user):  # earlier counseling stays out of sight, even its existence
            shown = [m for m in shown if not m["protected"]]
        shown = transcript_view.shown(shown)  # button titles, the buttons a message showed, system lines' kinds
        return json_response({"conversation": conversation.as_dict(
            position, router.desk.wait_minutes(position, conversation.queue)), "messages": shown})

    @bp.post("/api/conversations/<conversation_id:str>/risk")
    @api(lambda role: role in ("counselor", "supervisor", "admin"))
    async def set_risk(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        level = json_body(request).get("level")
        if level not in RISKS:
            return json_response({"error": texts.STAFF_CHOOSE_RISK}, 400)
        conversation = await _conversation(conversation_id)
        if not conversation or not may_see(user, conversation):
            return json_response({"error": texts.STAFF_FORBIDDEN}, 403)
        await run_db(store.set_risk, conversation.id, level)
        await run_db(staff_auth.audit, db, user, "set_risk", conversation.id, f"{conversation.risk}→{level}")
        changed = await run_db(store.get, conversation.id)
        await console.queue_changed()
        await console.conversation(changed)
        return json_response({"conversation": changed.as_dict()})

    @bp.post("/api/conversations/<conversation_id:str>/claim")
    @api()
    async def claim(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        conversation = await _conversation(conversation_id)
        if not conversation:
            return json_response({"error": texts.STAFF_NO_CONVERSATION}, 404)
        if not staff_auth.can_handle(user["role"], conversation.queue or ""):
            return json_response({"error": texts.STAFF_FORBIDDEN}, 403)
        claimed = await router.claim(conversation.id, user["username"])
        if not claimed:
            current = await _conversation(conversation_id)
            who = current.staff if current and current.staff else None
            message = texts.staff_already_claimed(who) if who else texts.STAFF_NOT_QUEUED
            return json_response({"error": message}, 409)
        await run_db(staff_auth.audit, db, user, "claim", conversation.id)
        return json_response({"conversation": claimed.as_dict()})

    @bp.post("/api/conversations/<conversation_id:str>/reply")
    @api()
    async def reply(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        text = _text(request)
        if not text:
            return json_response({"error": texts.STAFF_EMPTY_TEXT}, 400)
        conversation, error = await _owned(user, conversation_id)
        if error:
            return error
        message = await router.reply(conversation.id, conversation.staff, text) \
            if conversation.staff == user["username"] else None
        if message is None:
            return json_response({"error": texts.STAFF_NOT_OWNER}, 409)
        return json_response({"message": message})

    @bp.post("/api/conversations/<conversation_id:str>/note")
    @api()
    async def note(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        text = _text(request)
        if not text:
            return json_response({"error": texts.STAFF_EMPTY_TEXT}, 400)
        conversation = await _conversation(conversation_id)
        if not conversation or not may_see(user, conversation):
            return json_response({"error": texts.STAFF_FORBIDDEN}, 403)
        return json_response({"message": await router.note(conversation.id, user["username"], text)})

    @bp.post("/api/conversations/<conversation_id:str>/transfer")
    @api()
    async def transfer(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        body = json_body(request)
        conversation, error = await _owned(user, conversation_id)
        if error:
            return error
        queue, to_user = body.get("queue"), body.get("to_user")
        if to_user:
            target = next((u for u in await run_db(staff_auth.list_users, db)
                           if u["username"] == to_user and u["active"]), None)
            if not target or not staff_auth.can_handle(target["role"], conversation.queue or "general"):
                return json_response({"error": texts.STAFF_CANNOT_TRANSFER_TO}, 400)
        elif queue not in QUEUES:
            return json_response({"error": texts.STAFF_CHOOSE_TRANSFER}, 400)
        moved = await router.transfer(conversation.id, conversation.owner, queue=queue, to_user=to_user)
        if not moved:
            return json_response({"error": texts.STAFF_TRANSFER_FAILED}, 409)
        await run_db(staff_auth.audit, db, user, "transfer", conversation.id, to_user or queue)
        return json_response({"conversation": moved.as_dict()})

    @bp.post("/api/conversations/<conversation_id:str>/close")
    @api()
    async def close(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        outcome = json_body(request).get("outcome")
        conversation, error = await _owned(user, conversation_id)
        if error:
            return error
        kind = "counseling" if conversation.queue == "counseling" or conversation.counseling else "general"
        if outcome not in OUTCOME_LABELS[kind]:
            return json_response({"error": texts.STAFF_CHOOSE_OUTCOME}, 400)
        closed = await router.hand_back(conversation.id, conversation.owner, outcome)
        if not closed:
            return json_response({"error": texts.STAFF_CLOSE_FAILED}, 409)
        await run_db(staff_auth.audit, db, user, "close", conversation.id, outcome)
        return json_response({"conversation": closed.as_dict()})

    @bp.post("/api/conversations/<conversation_id:str>/release")
    @api()
    async def release(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        conversation, error = await _owned(user, conversation_id)
        if error:
            return error
        released = await router.hand_back(conversation.id, conversation.owner)
        if not released:
            return json_response({"error": texts.STAFF_RELEASE_FAILED}, 409)
        await run_db(staff_auth.audit, db, user, "release", conversation.id)
        return json_response({"conversation": released.as_dict()})

