"""The context of an open chat (この方の履歴): ``GET /staff/api/conversations/<id>/context`` lists the same citizen's
earlier closed chats with a person and their 大型ごみ bookings, so staff need not ask again what was already said.

Who may open it: whoever may open the chat's transcript (``may_see``: the queue's role, the owner, supervisors and
admins). Earlier chats are the closed chats of gateway/storage/history.py (one per close or hand-back, its
"window"); a counseling one is listed only to those who read counseling and whose queues include it (as in the
history search) — for anyone else it is left out, so not even its existence shows. Bookings (common/booking, the
action server's database) only for the roles that handle bookings (not counselors); a booking belongs to the chat
by ``owner_ref`` of the engine's sender id, and the refs of every engine session (``<id>``, ``<id>#1``…) are
looked up. The action server stores the base id's ref (actions/booking.py), the others cover older bookings.
Opening the context is audited (``view_context``) like a transcript view.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Set
from urllib.parse import unquote

import sqlalchemy as sa
from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json as json_response

from common.conversation_id import ConversationId
from gateway import texts
from gateway.staff import auth as staff_auth
from gateway.staff.console.bookings import handles_bookings
from gateway.staff.console.common import api_guard, may_see, reads_counseling
from gateway.storage import history as history_store
from gateway.storage.conversations import Conversation
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole

logger = logging.getLogger("gateway.staff.console")
MAX_CHATS = 20
MAX_BOOKINGS = 20


def chat_kinds(user: Dict) -> Set[str]:
    """The kinds of earlier chat a user may know of: their queues' kinds; counseling only if they read it."""
    kinds = set(staff_auth.QUEUES_BY_ROLE.get(user["role"], set()))
    return kinds if reads_counseling(user) else kinds - {"counseling"}


def earlier_chats(engine: sa.engine.Engine, conversation_id: str, kinds: Iterable[str],
                  limit: int = MAX_CHATS) -> Dict[str, Any]:
    """The conversation's closed chats of ``kinds``, newest first: {"chats": [...], "total": n}."""
    return history_store.closed_chats_of(engine, conversation_id, set(kinds), limit)


def owner_refs(conversation: Conversation) -> List[str]:
    """The booking store's owner_ref of every engine session the chat has had (0 … engine_session)."""
    from common.booking.store import owner_ref  # plain hashlib; the module imports no Rasa

    parsed = ConversationId.parse(conversation.id)
    senders = [ConversationId(parsed.channel, parsed.user, n).engine_sender
               for n in range(max(0, conversation.engine_session or 0) + 1)]
    return [owner_ref(sender) for sender in senders]


def citizen_bookings(url: Optional[str], refs: List[str], limit: int = MAX_BOOKINGS) -> List[Dict[str, Any]]:
    """Bookings whose owner_ref is one of ``refs``, latest collection day first; only what the panel shows (no
    name, phone or address: the bookings page has those, and audits opening them)."""
    from common.booking.store import BookingStore

    found = BookingStore(url).of_owners(refs, limit)
    return [{"receipt_no": b.receipt_no, "day": b.day.isoformat(), "ward": b.ward, "items": b.items_text,
             "total": b.total, "status": b.status, "channel": b.channel} for b in found]


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    store, db, settings = console.store, console.db, console.settings

    @bp.get("/api/conversations/<conversation_id:str>/context")
    @api()
    async def context(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
        conversation = await run_db(store.get, unquote(conversation_id))
        if not conversation:
            return json_response({"error": texts.STAFF_NO_CONVERSATION}, 404)
        if not may_see(user, conversation):
            return json_response({"error": texts.STAFF_FORBIDDEN}, 403)
        chats = await run_db(earlier_chats, db, conversation.id, chat_kinds(user))
        answer: Dict[str, Any] = {"conversation_id": conversation.id, **chats, "bookings": None}
        if handles_bookings(user["role"]):
            try:
                answer["bookings"] = await run_db(citizen_bookings, settings.assistant_db_url or None,
                                                  owner_refs(conversation))
            except (sa.exc.SQLAlchemyError, OSError) as exc:  # the action server's database: the chats still show
                logger.warning("staff: bookings of %s not read: %s", conversation.id, exc)
                answer["bookings_error"] = texts.CONTEXT_BOOKINGS_UNAVAILABLE
        shown = "-" if answer["bookings"] is None else len(answer["bookings"])
        await run_db(staff_auth.audit, db, user, "view_context", conversation.id,
                     f"chats={len(answer['chats'])} bookings={shown}")
        return json_response(answer)
