"""History of closed chats (履歴): ``GET /staff/api/history`` searches them server side (date range in Japan's days,
channel, outcome, text; 20 a page) and ``GET /staff/api/history/<entry>`` opens one (its messages from that
session). Each role sees the kinds of chat of its queues: general staff never see a counseling chat, not even that
it exists (404), and counseling chats are for counselors and supervisors only (admins neither). Every search and
every opening is audited (``history_search``, ``view_history``), like the live transcript. Storage:
gateway/storage/history.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Dict

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json as json_response

from gateway import texts
from gateway.staff import auth as staff_auth
from gateway.staff.console import transcript
from gateway.staff.console.common import api_guard, reads_counseling
from gateway.storage import history as history_store
from gateway.storage.conversations import OUTCOMES
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole

CHANNELS = ("web", "line", "rest")
MAX_TEXT = 100
MAX_PAGE = 10_000


def _day(value: str):
    return datetime.strptime(value, "%Y-%m-%d") if value else None


def _kinds(user: Dict) -> set:
    """The kinds of closed chat a user may find: those of their queues, counseling only for those who read it
    (counselors, supervisors; the issue: "counseling only for counselors/supervisors" — admins neither)."""
    kinds = set(staff_auth.QUEUES_BY_ROLE.get(user["role"], set()))
    return kinds if reads_counseling(user) else kinds - {"counseling"}


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    db, cipher = console.db, console.store.cipher

    @bp.get("/api/history")
    @api()
    async def search(request: Request, user: Dict) -> HTTPResponse:
        args = {k: (request.args.get(k) or "").strip() for k in ("from", "to", "channel", "outcome", "q", "page")}
        try:
            first, last = _day(args["from"]), _day(args["to"])
            page = int(args["page"] or 1)
        except ValueError:
            return json_response({"error": texts.TOOLS_HISTORY_INVALID}, 400)
        if not 1 <= page <= MAX_PAGE or (args["channel"] and args["channel"] not in CHANNELS) or \
                (args["outcome"] and args["outcome"] not in OUTCOMES + ("released",)) or \
                len(args["q"]) > MAX_TEXT or (first and last and first > last):
            return json_response({"error": texts.TOOLS_HISTORY_INVALID}, 400)
        start, end = history_store.day_bounds(first, last)
        found = await run_db(
            history_store.search, db, kinds=_kinds(user),
            read_protected=reads_counseling(user), cipher=cipher, start=start, end=end, channel=args["channel"],
            outcome=args["outcome"], text=args["q"], page=page)
        detail = " ".join(f"{k}={v}" for k, v in args.items() if v)
        await run_db(staff_auth.audit, db, user, "history_search", None, detail or "all")
        return json_response(found)

    @bp.get("/api/history/<entry:int>")
    @api()
    async def open_closed(request: Request, user: Dict, entry: int) -> HTTPResponse:
        found = await run_db(history_store.closed_chat, db, entry)
        kinds = _kinds(user)
        if not found or ("counseling" if found[0]["counseling"] else "general") not in kinds:
            return json_response({"error": texts.STAFF_NOT_FOUND}, 404)  # a counseling chat's existence too
        result, start, end = found
        await run_db(staff_auth.audit, db, user, "view_history", result["conversation_id"], str(entry))
        shown = await run_db(history_store.window_messages, db, result["conversation_id"], start, end,
                             reads_counseling(user), cipher)
        return json_response({"chat": result, "messages": transcript.shown(shown)})  # pressed buttons by title
