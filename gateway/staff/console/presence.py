"""Availability: ``GET /staff/api/presence[?queue=…]`` (every active member, or those who can take the queue's
chats, with their status and open chats: the transfer list) and ``POST /staff/api/presence`` {status: online |
away | offline} (one's own). The presence sweep and automatic assignment (gateway/jobs/assignment.py) start with
the server; a status change to online runs an assignment round at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json as json_response

from gateway import texts
from gateway.jobs.assignment import AssignmentJob, AssignSettings
from gateway.staff import auth as staff_auth
from gateway.staff.console.common import NAMESPACE, api_guard, json_body
from gateway.storage import presence as presence_store
from gateway.storage.conversations import QUEUES, Conversation
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    db = console.db
    settings = AssignSettings.from_env()

    def connected() -> List[str]:
        return [user["username"] for user in list(console._online.values())]

    async def notify(username: str, conversation: Conversation) -> None:
        await console.sio.emit("assigned", {"conversation": conversation.as_dict(), "text": texts.TOOLS_ASSIGNED},
                               room="user:" + username, namespace=NAMESPACE)
        await console.queue_changed()

    job = AssignmentJob(console.router, db, settings, connected, notify)
    console.assignment = job  # tests and other areas reach it here

    # Plain functions: Sanic's listener decorator does not take a bound method with *args as a listener.
    async def start_job(app, *_) -> None:
        await job.start()

    async def stop_job(app, *_) -> None:
        await job.stop()

    bp.after_server_start(start_job)
    bp.before_server_stop(stop_job)

    @bp.get("/api/presence")
    @api()
    async def members(request: Request, user: Dict) -> HTTPResponse:
        queue = request.args.get("queue")
        if queue and queue not in QUEUES:
            return json_response({"error": texts.STAFF_CHOOSE_TRANSFER}, 400)
        everyone = await run_db(presence_store.members, db, settings.grace)
        me = next((m for m in everyone if m["username"] == user["username"]), None)
        shown = [m for m in everyone if not queue or staff_auth.can_handle(m["role"], queue)]
        return json_response({
            "me": {"status": me["status"] if me else "offline", "chosen": me["chosen"] if me else "offline"},
            "auto_assign": settings.enabled, "max_chats": settings.max_chats,
            "members": [{k: m[k] for k in ("username", "role", "status", "open_chats")} for m in shown]})

    @bp.post("/api/presence")
    @api()
    async def set_presence(request: Request, user: Dict) -> HTTPResponse:
        status = json_body(request).get("status")
        if status not in presence_store.STATUSES:
            return json_response({"error": texts.TOOLS_PRESENCE_INVALID}, 400)
        await run_db(presence_store.set_status, db, user["username"], status)
        await run_db(staff_auth.audit, db, user, "presence", None, status)
        if status == "online" and settings.enabled:
            await job.run_once()
        return json_response({"status": status})
