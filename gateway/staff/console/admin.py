"""Administration (admins only): the staff accounts (``GET``/``POST /staff/api/users``) and the audit log
(``GET /staff/api/audit``, the newest 500 entries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json as json_response

from gateway.staff import auth as staff_auth
from gateway.staff.console.common import api_guard, json_body
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    admin = staff_auth.is_admin
    db = console.db

    @bp.get("/api/users")
    @api(admin)
    async def users(request: Request, user: Dict) -> HTTPResponse:
        found = await run_db(staff_auth.list_users, db)
        return json_response({"users": [{"username": u["username"], "role": u["role"], "active": u["active"]}
                                        for u in found]})

    @bp.post("/api/users")
    @api(admin)
    async def add_user(request: Request, user: Dict) -> HTTPResponse:
        body = json_body(request)
        try:
            await console.hashes.run(staff_auth.create_user, db, str(body.get("username") or ""),
                                     str(body.get("password") or ""), str(body.get("role") or ""))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        await run_db(staff_auth.audit, db, user, "create_user", None, str(body.get("username"))[:64])
        return json_response({"ok": True})

    @bp.get("/api/audit")
    @api(admin)
    async def audit_log(request: Request, user: Dict) -> HTTPResponse:
        entries = await run_db(staff_auth.audit_entries, db, 500)
        return json_response({"entries": [
            {"at": e["at"].isoformat(timespec="seconds") + "Z", "username": e["username"], "action": e["action"],
             "conversation_id": e["conversation_id"], "detail": e["detail"]} for e in entries]})
