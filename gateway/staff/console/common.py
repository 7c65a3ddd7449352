"""What the console's areas share: its constants and security headers, the check in front of every JSON
route (``api_guard``: session 401, role 403, CSRF 403), the JSON body, the static HTML pages, and who may
see or act on a chat (also used by the live updates).
"""

from __future__ import annotations

import asyncio
import logging
import os
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from sanic import Request
from sanic.response import HTTPResponse, html as html_response, json as json_response, redirect

from gateway import texts
from gateway.handoff.router import Router
from gateway.staff import auth as staff_auth
from gateway.storage.conversations import QUEUED, STAFF_PREFIX, Conversation
from gateway.storage.db import run_db

logger = logging.getLogger("gateway.staff.console")  # the package's name, for every module of it

STAFF_DIR = Path(__file__).resolve().parents[2] / "static" / "staff"
SESSION_COOKIE = "staff_session"
LOGIN_CSRF_COOKIE = "staff_login_csrf"
NAMESPACE = "/staff"
MAX_REPLY_CHARS = 2000
# Password hashes at once (login, new user): one core is always left to the chats (2 cores → 1; at most 2). Two
# argon2 hashes on a 2-core machine took both cores: chat p95 rose to 3-4× idle (benchmarks/login_burst.py).
HASH_CONCURRENCY = max(1, min(2, (os.cpu_count() or 2) - 1))
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


# ---------------------------------------------------------------------- password hashes
class HashGate:
    """At most ``limit`` password hashes at a time. argon2id takes tens of ms of CPU and 64 MiB per hash and runs
    in the thread pool every chat's database call uses; the others wait here on the event loop, holding no
    thread, so a burst of logins cannot stall chats. ``running`` and ``peak`` say how many ran at once."""

    def __init__(self, limit: int = HASH_CONCURRENCY) -> None:
        self._slots = asyncio.Semaphore(limit)
        self.running = self.peak = 0

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        async with self._slots:
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                return await run_db(function, *args)
            finally:
                self.running -= 1


# ---------------------------------------------------------------------- HTTP
def session_user(db, request: Request) -> Optional[Dict]:
    """The signed-in user of the request's session cookie, or None (blocking: call through run_db)."""
    token = request.cookies.get(SESSION_COOKIE)
    return staff_auth.session_user(db, token) if token else None


def any_role(role: str) -> bool:
    return role in staff_auth.ROLES


def api_guard(db) -> Callable[..., Callable]:
    """``api = api_guard(db)``, then ``@api()`` or ``@api(allowed)`` on a JSON route: the handler is called
    as ``handler(request, user, …)`` and its response gets the security headers."""
    def api(allowed: Callable[[str], bool] = any_role) -> Callable:
        """Decorator: a session (401), an allowed role (403) and, for changes, the CSRF token (403)."""
        def decorate(handler):
            @wraps(handler)
            async def wrapped(request: Request, *args, **kwargs):
                user = await run_db(session_user, db, request)
                if not user:
                    return json_response({"error": texts.STAFF_LOGIN_REQUIRED}, 401, headers=dict(SECURITY_HEADERS))
                if not allowed(user["role"]):
                    logger.info("staff: forbidden %s %s for role=%s", request.method, request.path, user["role"])
                    return json_response({"error": texts.STAFF_FORBIDDEN}, 403, headers=dict(SECURITY_HEADERS))
                if request.method not in ("GET", "HEAD") and not staff_auth.csrf_ok(
                        user, request.headers.get("x-csrf-token")):
                    logger.info("staff: CSRF token missing or wrong on %s %s", request.method, request.path)
                    return json_response({"error": texts.STAFF_CSRF}, 403, headers=dict(SECURITY_HEADERS))
                response = await handler(request, user, *args, **kwargs)
                response.headers.update(SECURITY_HEADERS)
                return response
            return wrapped
        return decorate
    return api


def json_body(request: Request) -> Dict[str, Any]:
    """The request's JSON object, or {} (no body, invalid JSON, not an object)."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 — Sanic raises its own BadRequest for invalid JSON
        return {}
    return body if isinstance(body, dict) else {}


def static_page(name: str) -> HTTPResponse:
    """An HTML page of static/staff, as it is, with the security headers."""
    page = (STAFF_DIR / name).read_text(encoding="utf-8")
    return html_response(page, headers=dict(SECURITY_HEADERS))


def to_login() -> HTTPResponse:
    """A page asked for without a session: off to the login form."""
    return redirect("/staff/login", status=303, headers=dict(SECURITY_HEADERS))


# ---------------------------------------------------------------------- who may see and do what
def may_see(user: Dict, conversation: Conversation) -> bool:
    if staff_auth.sees_all_live_chats(user["role"]):
        return True
    if conversation.owner == STAFF_PREFIX + user["username"]:
        return True
    return conversation.owner == QUEUED and staff_auth.can_handle(user["role"], conversation.queue or "")


def reads_counseling(user: Dict) -> bool:
    """Counseling text is for counselors and supervisors only (not general staff, not admins)."""
    return user["role"] in ("counselor", "supervisor")


def may_act(user: Dict, conversation: Conversation) -> bool:
    """Reply, note, transfer, close, hand back: the owner, or a supervisor."""
    return conversation.owner == STAFF_PREFIX + user["username"] or (
        staff_auth.sees_all_live_chats(user["role"]) and conversation.owner.startswith(STAFF_PREFIX))


def queue_payload(router: Router, user: Dict) -> Dict[str, List[Dict]]:
    """The user's queues: waiting chats they may take (with place and wait), their own, and (supervisors) all
    live ones (blocking: call through run_db)."""
    store = router.store
    queues = sorted(staff_auth.QUEUES_BY_ROLE.get(user["role"], set()))
    waiting = []
    counters: Dict[str, int] = {}
    for conversation in store.waiting(queues):
        counters[conversation.queue] = counters.get(conversation.queue, 0) + 1
        position = counters[conversation.queue]
        waiting.append(conversation.as_dict(position, router.desk.wait_minutes(position, conversation.queue)))
    live = store.live() if staff_auth.sees_all_live_chats(user["role"]) else []
    lists = {"waiting": waiting, "mine": [c.as_dict() for c in store.owned_by(user["username"])],
             "live": [c.as_dict() for c in live]}
    from gateway.staff.console.transcript import add_previews  # the last message of each row (console-core)
    add_previews(store, [row for rows in lists.values() for row in rows], reads_counseling(user))
    return lists
