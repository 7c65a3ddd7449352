"""Canned replies (moved here from conversations.py): everyone reads those of their queues, searchable
(``GET /staff/api/canned?q=…&queue=…``); supervisors and admins add (POST), edit (PUT) and delete them. Each has
an optional title and a keyword: typed as ``/keyword`` at the start of the reply box it is offered first
(static/staff/console_tools.js).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json as json_response

from gateway import texts
from gateway.staff import auth as staff_auth
from gateway.staff.console.common import MAX_REPLY_CHARS, api_guard, json_body
from gateway.storage import canned as canned_store
from gateway.storage.conversations import QUEUES
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole

KEYWORD_RE = re.compile(r"[^\s/]{1,%d}" % canned_store.MAX_KEYWORD)
MAX_QUERY = 100


def _reply(body: Dict) -> Tuple[Optional[Dict], Optional[str]]:
    """A reply's fields from a request body, checked: (fields, None) or (None, the error)."""
    text, title, keyword = (body.get(k, "") if isinstance(body.get(k, ""), str) else None
                            for k in ("text", "title", "keyword"))
    if body.get("queue") not in QUEUES or text is None or not text.strip():
        return None, texts.STAFF_CANNED_INVALID
    if title is None or len(title.strip()) > canned_store.MAX_TITLE:
        return None, texts.TOOLS_CANNED_TITLE_INVALID
    keyword = keyword.strip().lstrip("/") if keyword is not None else None
    if keyword is None or (keyword and not KEYWORD_RE.fullmatch(keyword)):
        return None, texts.TOOLS_CANNED_KEYWORD_INVALID
    return {"queue": body["queue"], "text": text.strip()[:MAX_REPLY_CHARS], "title": title.strip(),
            "keyword": keyword}, None


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    supervisor = staff_auth.sees_all_live_chats
    db = console.db

    @bp.get("/api/canned")
    @api()
    async def canned(request: Request, user: Dict) -> HTTPResponse:
        queues = staff_auth.QUEUES_BY_ROLE.get(user["role"], set())
        wanted = request.args.get("queue")
        if wanted:
            if wanted not in QUEUES:
                return json_response({"error": texts.STAFF_CANNED_INVALID}, 400)
            if wanted not in queues:
                return json_response({"error": texts.STAFF_FORBIDDEN}, 403)
            queues = {wanted}
        query = (request.args.get("q") or "").strip()[:MAX_QUERY]
        return json_response({"replies": await run_db(canned_store.search, db, sorted(queues), query)})

    @bp.post("/api/canned")
    @api(supervisor)
    async def add_canned(request: Request, user: Dict) -> HTTPResponse:
        fields, error = _reply(json_body(request))
        if error:
            return json_response({"error": error}, 400)
        reply_id = await run_db(canned_store.add, db, fields["queue"], fields["text"], fields["title"],
                                fields["keyword"], user["username"])
        await run_db(staff_auth.audit, db, user, "canned_add", None, str(reply_id))
        return json_response({"id": reply_id})

    @bp.put("/api/canned/<reply_id:int>")
    @api(supervisor)
    async def edit_canned(request: Request, user: Dict, reply_id: int) -> HTTPResponse:
        fields, error = _reply(json_body(request))
        if error:
            return json_response({"error": error}, 400)
        if not await run_db(canned_store.update, db, reply_id, fields["queue"], fields["text"], fields["title"],
                            fields["keyword"], user["username"]):
            return json_response({"error": texts.STAFF_NOT_FOUND}, 404)
        await run_db(staff_auth.audit, db, user, "canned_edit", None, str(reply_id))
        return json_response({"id": reply_id, **fields})

    @bp.delete("/api/canned/<reply_id:int>")
    @api(supervisor)
    async def delete_canned(request: Request, user: Dict, reply_id: int) -> HTTPResponse:
        if not await run_db(canned_store.delete, db, reply_id):
            return json_response({"error": texts.STAFF_NOT_FOUND}, 404)
        await run_db(staff_auth.audit, db, user, "canned_delete", None, str(reply_id))
        return json_response({"ok": True})
