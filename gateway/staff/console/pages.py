"""Signing in and out, and the console page: ``GET /staff/login`` (form with a double-submit CSRF token),
``POST /staff/login`` (rate-limited), ``POST /staff/logout``, ``GET /staff`` (static/staff/console.html and
console.js) and ``GET /staff/api/me`` (who is signed in, and the queues, outcomes and risk levels they see).
"""

from __future__ import annotations

import hmac
import html
import secrets
from typing import TYPE_CHECKING, Dict

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html as html_response, json as json_response, redirect

from gateway import texts
from gateway.counseling.desk import LEVEL_LABELS
from gateway.staff import auth as staff_auth
from gateway.staff.console.common import (LOGIN_CSRF_COOKIE, SECURITY_HEADERS, SESSION_COOKIE, STAFF_DIR, api_guard,
                                          logger, session_user, static_page, to_login)
from gateway.storage.conversations import OUTCOME_LABELS, RISKS
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole


def _set_cookie(settings, request: Request, response: HTTPResponse, name: str, value: str, max_age: int) -> None:
    response.add_cookie(name, value, path="/", httponly=True, samesite="Strict",
                        secure=settings.cookie_is_secure(), max_age=max_age)  # never from Host


def _login_form(settings, request: Request, error: str = "", status: int = 200) -> HTTPResponse:
    token = secrets.token_urlsafe(32)
    page = (STAFF_DIR / "login.html").read_text(encoding="utf-8")
    page = page.replace("__CSRF__", token).replace("__ERROR__", html.escape(error))
    response = html_response(page, status=status, headers=dict(SECURITY_HEADERS))
    _set_cookie(settings, request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    db, settings, limiter = console.db, console.settings, console.limiter

    @bp.get("/login")
    async def login_page(request: Request) -> HTTPResponse:
        return _login_form(settings, request)

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        form_token = request.form.get("csrf_token") or ""
        cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if not cookie_token or not hmac.compare_digest(form_token.encode(), cookie_token.encode()):
            return _login_form(settings, request, texts.STAFF_LOGIN_EXPIRED, 403)
        username = (request.form.get("username") or "").strip()[:64]
        password = request.form.get("password") or ""
        ip = request.ip or "unknown"
        attempt = await limiter.try_login(ip, username)  # counted before the hash: parallel tries cannot all pass
        if attempt is None:
            logger.info("staff: login rate-limited user=%s", username)
            return _login_form(settings, request, texts.STAFF_LOGIN_RATE_LIMITED, 429)
        user = await console.hashes.run(staff_auth.authenticate, db, username, password)
        if not user:
            return _login_form(settings, request, texts.STAFF_LOGIN_FAILED, 401)
        await limiter.login_ok(ip, username, attempt)
        token, _ = await run_db(staff_auth.create_session, db, user["id"])
        await run_db(staff_auth.audit, db, user, "login")
        response = redirect("/staff", status=303, headers=dict(SECURITY_HEADERS))
        _set_cookie(settings, request, response, SESSION_COOKIE, token, 12 * 3600)
        return response

    @bp.post("/logout")
    @api()
    async def logout(request: Request, user: Dict) -> HTTPResponse:
        await run_db(staff_auth.delete_session, db, request.cookies.get(SESSION_COOKIE))
        await console.end_session(request.cookies.get(SESSION_COOKIE))  # its open sockets too, now
        await run_db(staff_auth.audit, db, user, "logout")
        response = json_response({"ok": True})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @bp.get("/")
    async def console_page(request: Request) -> HTTPResponse:
        if not await run_db(session_user, db, request):
            return to_login()
        return static_page("console.html")

    @bp.get("/api/me")
    @api()
    async def me(request: Request, user: Dict) -> HTTPResponse:
        return json_response({"username": user["username"], "role": user["role"],
                              "csrf_token": user["csrf_token"],
                              "queues": sorted(staff_auth.QUEUES_BY_ROLE.get(user["role"], set())),
                              "outcomes": {kind: [{"id": k, "label": v} for k, v in labels.items()]
                                           for kind, labels in OUTCOME_LABELS.items()},
                              "risk_levels": [{"id": r, "label": LEVEL_LABELS[r]} for r in RISKS]})
