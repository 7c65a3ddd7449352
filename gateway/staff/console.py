"""The staff console at /staff: login, the live queue, transcripts, replies, notes, transfer, close.

Pages: ``GET /staff/login`` (form with a double-submit CSRF token), ``POST /staff/login`` (rate-limited),
``POST /staff/logout``, ``GET /staff`` (the console; static/staff/console.js). JSON API under
``/staff/api/…`` (README "Staff console" lists it). Live updates: Socket.IO namespace ``/staff``
(events ``queue``, ``message``, ``conversation``), authenticated by the same session cookie.

Every request is checked here, not in the page: no session → 401 (pages redirect to the login), the
wrong role → 403, a state-changing request without the session's CSRF token (header
``X-CSRF-Token``) → 403. Opening a transcript writes the audit log (who, when, which conversation).
"""

from __future__ import annotations

import csv
import hmac
import html
import io
import logging
import secrets
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import unquote

import socketio
from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, html as html_response, json as json_response, redirect, text as text_response

from common.formats import CALL_CENTER
from gateway.staff import auth as staff_auth
from gateway.storage.db import run_db
from gateway.counseling.desk import LEVEL_LABELS
from gateway.storage.conversations import OUTCOME_LABELS, QUEUED, QUEUES, RISKS, STAFF_PREFIX, Conversation
from gateway.handoff.router import Notifier, Router

logger = logging.getLogger(__name__)

STAFF_DIR = Path(__file__).resolve().parents[1] / "static" / "staff"
SESSION_COOKIE = "staff_session"
LOGIN_CSRF_COOKIE = "staff_login_csrf"
NAMESPACE = "/staff"
MAX_REPLY_CHARS = 2000
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
DEFAULT_CANNED = {
    "general": ["お問い合わせありがとうございます。担当の者がお答えします。",
                "確認いたしますので、少々お待ちください。",
                f"詳しくは{CALL_CENTER}でもご案内しています。"],
    "counseling": ["話してくれてありがとう。ここでは、あなたのペースで大丈夫です。",
                   "今、安全な場所にいますか？",
                   "今すぐ危ないときは、110番（警察）か119番（救急）に電話してください。"],
}


def _cookie_value(cookie_header: str, name: str) -> Optional[str]:
    for part in cookie_header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


class StaffConsole(Notifier):
    def __init__(self, app: Sanic, sio: socketio.AsyncServer, router: Router, db, settings) -> None:
        self.router = router
        self.store = router.store
        self.db = db
        self.settings = settings
        self.sio = sio
        self.limiter = staff_auth.LoginRateLimiter()
        self._online: Dict[str, Dict] = {}  # socket sid → session user
        self.store.seed_canned(DEFAULT_CANNED)
        app.blueprint(self._blueprint())
        sio.on("connect", self.on_connect, namespace=NAMESPACE)
        sio.on("disconnect", self.on_disconnect, namespace=NAMESPACE)
        sio.on("watch", self.on_watch, namespace=NAMESPACE)
        sio.on("unwatch", self.on_unwatch, namespace=NAMESPACE)

    # ------------------------------------------------------------------ permissions
    def may_see(self, user: Dict, conversation: Conversation) -> bool:
        if staff_auth.sees_all_live_chats(user["role"]):
            return True
        if conversation.owner == STAFF_PREFIX + user["username"]:
            return True
        return conversation.owner == QUEUED and staff_auth.can_handle(user["role"], conversation.queue or "")

    @staticmethod
    def reads_counseling(user: Dict) -> bool:
        """Counseling text is for counselors and supervisors only (not general staff, not admins)."""
        return user["role"] in ("counselor", "supervisor")

    def may_act(self, user: Dict, conversation: Conversation) -> bool:
        """Reply, note, transfer, close, hand back: the owner, or a supervisor."""
        return conversation.owner == STAFF_PREFIX + user["username"] or (
            staff_auth.sees_all_live_chats(user["role"]) and conversation.owner.startswith(STAFF_PREFIX))

    def queue_payload(self, user: Dict) -> Dict[str, List[Dict]]:
        queues = sorted(staff_auth.QUEUES_BY_ROLE.get(user["role"], set()))
        waiting = []
        counters: Dict[str, int] = {}
        for conversation in self.store.waiting(queues):
            counters[conversation.queue] = counters.get(conversation.queue, 0) + 1
            position = counters[conversation.queue]
            waiting.append(conversation.as_dict(position, self.router.desk.wait_minutes(position, conversation.queue)))
        live = self.store.live() if staff_auth.sees_all_live_chats(user["role"]) else []
        return {"waiting": waiting, "mine": [c.as_dict() for c in self.store.owned_by(user["username"])],
                "live": [c.as_dict() for c in live]}

    # ------------------------------------------------------------------ HTTP
    def _session(self, request: Request) -> Optional[Dict]:
        token = request.cookies.get(SESSION_COOKIE)
        return staff_auth.session_user(self.db, token) if token else None

    def api(self, allowed: Callable[[str], bool] = lambda role: role in staff_auth.ROLES) -> Callable:
        """Decorator: a session (401), an allowed role (403) and, for changes, the CSRF token (403)."""
        def decorate(handler):
            @wraps(handler)
            async def wrapped(request: Request, *args, **kwargs):
                user = await run_db(self._session, request)
                if not user:
                    return json_response({"error": "ログインしてください。"}, 401, headers=dict(SECURITY_HEADERS))
                if not allowed(user["role"]):
                    logger.info("staff: forbidden %s %s for role=%s", request.method, request.path, user["role"])
                    return json_response({"error": "権限がありません。"}, 403, headers=dict(SECURITY_HEADERS))
                if request.method not in ("GET", "HEAD") and not staff_auth.csrf_ok(
                        user, request.headers.get("x-csrf-token")):
                    logger.info("staff: CSRF token missing or wrong on %s %s", request.method, request.path)
                    return json_response({"error": "画面を再読み込みしてください（CSRF）。"}, 403, headers=dict(SECURITY_HEADERS))
                response = await handler(request, user, *args, **kwargs)
                response.headers.update(SECURITY_HEADERS)
                return response
            return wrapped
        return decorate

    def _secure(self, request: Request) -> bool:
        if self.settings.cookie_secure in ("0", "1"):
            return self.settings.cookie_secure == "1"
        loopback = request.host.split(":")[0] in ("127.0.0.1", "localhost", "[::1]")
        return request.scheme == "https" or not loopback

    def _set_cookie(self, request: Request, response: HTTPResponse, name: str, value: str, max_age: int) -> None:
        response.add_cookie(name, value, path="/", httponly=True, samesite="Strict",
                            secure=self._secure(request), max_age=max_age)

    def _login_page(self, request: Request, error: str = "", status: int = 200) -> HTTPResponse:
        token = secrets.token_urlsafe(32)
        page = (STAFF_DIR / "login.html").read_text(encoding="utf-8")
        page = page.replace("__CSRF__", token).replace("__ERROR__", html.escape(error))
        response = html_response(page, status=status, headers=dict(SECURITY_HEADERS))
        self._set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
        return response

    def _body(self, request: Request) -> Dict[str, Any]:
        try:
            body = request.json
        except Exception:  # noqa: BLE001 — Sanic raises its own BadRequest for invalid JSON
            return {}
        return body if isinstance(body, dict) else {}

    async def _conversation(self, conversation_id: str) -> Optional[Conversation]:
        return await run_db(self.store.get, unquote(conversation_id))

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("staff", url_prefix="/staff")
        api = self.api
        supervisor = staff_auth.sees_all_live_chats
        admin = staff_auth.is_admin

        @bp.get("/login")
        async def login_page(request: Request) -> HTTPResponse:
            return self._login_page(request)

        @bp.post("/login")
        async def login(request: Request) -> HTTPResponse:
            form_token = request.form.get("csrf_token") or ""
            cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
            if not cookie_token or not hmac.compare_digest(form_token.encode(), cookie_token.encode()):
                return self._login_page(request, "もう一度ログインしてください（画面の有効期限切れ）。", 403)
            username = (request.form.get("username") or "").strip()[:64]
            password = request.form.get("password") or ""
            ip = request.ip or "unknown"
            if not self.limiter.allowed(ip, username):
                logger.info("staff: login rate-limited user=%s", username)
                return self._login_page(request, "ログインの失敗が続いたため、しばらくしてからお試しください。", 429)
            user = await run_db(staff_auth.authenticate, self.db, username, password)
            if not user:
                self.limiter.failed(ip, username)
                return self._login_page(request, "ユーザー名またはパスワードが違います。", 401)
            self.limiter.succeeded(ip, username)
            token, _ = await run_db(staff_auth.create_session, self.db, user["id"])
            await run_db(staff_auth.audit, self.db, user, "login")
            response = redirect("/staff", status=303, headers=dict(SECURITY_HEADERS))
            self._set_cookie(request, response, SESSION_COOKIE, token, 12 * 3600)
            return response

        @bp.post("/logout")
        @api()
        async def logout(request: Request, user: Dict) -> HTTPResponse:
            await run_db(staff_auth.delete_session, self.db, request.cookies.get(SESSION_COOKIE))
            await run_db(staff_auth.audit, self.db, user, "logout")
            response = json_response({"ok": True})
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response

        @bp.get("/")
        async def console_page(request: Request) -> HTTPResponse:
            if not await run_db(self._session, request):
                return redirect("/staff/login", status=303, headers=dict(SECURITY_HEADERS))
            page = (STAFF_DIR / "console.html").read_text(encoding="utf-8")
            return html_response(page, headers=dict(SECURITY_HEADERS))

        @bp.get("/api/me")
        @api()
        async def me(request: Request, user: Dict) -> HTTPResponse:
            return json_response({"username": user["username"], "role": user["role"],
                                  "csrf_token": user["csrf_token"],
                                  "queues": sorted(staff_auth.QUEUES_BY_ROLE.get(user["role"], set())),
                                  "outcomes": {kind: [{"id": k, "label": v} for k, v in labels.items()]
                                               for kind, labels in OUTCOME_LABELS.items()},
                                  "risk_levels": [{"id": r, "label": LEVEL_LABELS[r]} for r in RISKS]})

        @bp.get("/api/queue")
        @api()
        async def queue(request: Request, user: Dict) -> HTTPResponse:
            return json_response(await run_db(self.queue_payload, user))

        @bp.get("/api/conversations/<conversation_id:str>")
        @api()
        async def transcript(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            conversation = await self._conversation(conversation_id)
            if not conversation:
                return json_response({"error": "会話が見つかりません。"}, 404)
            if not self.may_see(user, conversation):
                return json_response({"error": "権限がありません。"}, 403)
            await run_db(staff_auth.audit, self.db, user, "view_transcript", conversation.id)
            position = await run_db(self.store.position, conversation)
            shown = await run_db(self.store.transcript, conversation.id, self.reads_counseling(user))
            if not self.reads_counseling(user):  # earlier counseling stays out of sight, even its existence
                shown = [m for m in shown if not m["protected"]]
            return json_response({"conversation": conversation.as_dict(
                position, self.router.desk.wait_minutes(position, conversation.queue)), "messages": shown})

        @bp.post("/api/conversations/<conversation_id:str>/risk")
        @api(lambda role: role in ("counselor", "supervisor", "admin"))
        async def set_risk(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            level = self._body(request).get("level")
            if level not in RISKS:
                return json_response({"error": "リスクの段階を選んでください。"}, 400)
            conversation = await self._conversation(conversation_id)
            if not conversation or not self.may_see(user, conversation):
                return json_response({"error": "権限がありません。"}, 403)
            await run_db(self.store.set_risk, conversation.id, level)
            await run_db(staff_auth.audit, self.db, user, "set_risk", conversation.id, f"{conversation.risk}→{level}")
            changed = await run_db(self.store.get, conversation.id)
            await self.queue_changed()
            await self.conversation(changed)
            return json_response({"conversation": changed.as_dict()})

        @bp.post("/api/conversations/<conversation_id:str>/claim")
        @api()
        async def claim(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            conversation = await self._conversation(conversation_id)
            if not conversation:
                return json_response({"error": "会話が見つかりません。"}, 404)
            if not staff_auth.can_handle(user["role"], conversation.queue or ""):
                return json_response({"error": "権限がありません。"}, 403)
            claimed = await self.router.claim(conversation.id, user["username"])
            if not claimed:
                current = await self._conversation(conversation_id)
                who = current.staff if current and current.staff else None
                message = f"{who} さんがすでに担当しています。" if who else "この会話は待ち行列にありません。"
                return json_response({"error": message}, 409)
            await run_db(staff_auth.audit, self.db, user, "claim", conversation.id)
            return json_response({"conversation": claimed.as_dict()})

        async def _owned(user: Dict, conversation_id: str):
            conversation = await self._conversation(conversation_id)
            if not conversation:
                return None, json_response({"error": "会話が見つかりません。"}, 404)
            if not self.may_act(user, conversation):
                return None, json_response({"error": "この会話の担当ではありません。"}, 409)
            return conversation, None

        def _text(request: Request) -> str:
            value = self._body(request).get("text")
            return value.strip()[:MAX_REPLY_CHARS] if isinstance(value, str) else ""

        @bp.post("/api/conversations/<conversation_id:str>/reply")
        @api()
        async def reply(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            text = _text(request)
            if not text:
                return json_response({"error": "本文を入力してください。"}, 400)
            conversation, error = await _owned(user, conversation_id)
            if error:
                return error
            message = await self.router.reply(conversation.id, conversation.staff, text) \
                if conversation.staff == user["username"] else None
            if message is None:
                return json_response({"error": "この会話の担当ではありません。"}, 409)
            return json_response({"message": message})

        @bp.post("/api/conversations/<conversation_id:str>/note")
        @api()
        async def note(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            text = _text(request)
            if not text:
                return json_response({"error": "本文を入力してください。"}, 400)
            conversation = await self._conversation(conversation_id)
            if not conversation or not self.may_see(user, conversation):
                return json_response({"error": "権限がありません。"}, 403)
            return json_response({"message": await self.router.note(conversation.id, user["username"], text)})

        @bp.post("/api/conversations/<conversation_id:str>/transfer")
        @api()
        async def transfer(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            body = self._body(request)
            conversation, error = await _owned(user, conversation_id)
            if error:
                return error
            queue, to_user = body.get("queue"), body.get("to_user")
            if to_user:
                target = next((u for u in await run_db(staff_auth.list_users, self.db)
                               if u["username"] == to_user and u["active"]), None)
                if not target or not staff_auth.can_handle(target["role"], conversation.queue or "general"):
                    return json_response({"error": "その職員には引き継げません。"}, 400)
            elif queue not in QUEUES:
                return json_response({"error": "引き継ぎ先を選んでください。"}, 400)
            moved = await self.router.transfer(conversation.id, conversation.owner, queue=queue, to_user=to_user)
            if not moved:
                return json_response({"error": "引き継ぎできませんでした。"}, 409)
            await run_db(staff_auth.audit, self.db, user, "transfer", conversation.id, to_user or queue)
            return json_response({"conversation": moved.as_dict()})

        @bp.post("/api/conversations/<conversation_id:str>/close")
        @api()
        async def close(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            outcome = self._body(request).get("outcome")
            conversation, error = await _owned(user, conversation_id)
            if error:
                return error
            kind = "counseling" if conversation.queue == "counseling" or conversation.counseling else "general"
            if outcome not in OUTCOME_LABELS[kind]:
                return json_response({"error": "対応結果を選んでください。"}, 400)
            closed = await self.router.hand_back(conversation.id, conversation.owner, outcome)
            if not closed:
                return json_response({"error": "終了できませんでした。"}, 409)
            await run_db(staff_auth.audit, self.db, user, "close", conversation.id, outcome)
            return json_response({"conversation": closed.as_dict()})

        @bp.post("/api/conversations/<conversation_id:str>/release")
        @api()
        async def release(request: Request, user: Dict, conversation_id: str) -> HTTPResponse:
            conversation, error = await _owned(user, conversation_id)
            if error:
                return error
            released = await self.router.hand_back(conversation.id, conversation.owner)
            if not released:
                return json_response({"error": "ボットに戻せませんでした。"}, 409)
            await run_db(staff_auth.audit, self.db, user, "release", conversation.id)
            return json_response({"conversation": released.as_dict()})

        @bp.get("/api/canned")
        @api()
        async def canned(request: Request, user: Dict) -> HTTPResponse:
            queues = staff_auth.QUEUES_BY_ROLE.get(user["role"], set())
            return json_response({"replies": await run_db(self.store.canned, queues)})

        @bp.post("/api/canned")
        @api(supervisor)
        async def add_canned(request: Request, user: Dict) -> HTTPResponse:
            body = self._body(request)
            text = body.get("text").strip()[:MAX_REPLY_CHARS] if isinstance(body.get("text"), str) else ""
            if body.get("queue") not in QUEUES or not text:
                return json_response({"error": "キューと本文を指定してください。"}, 400)
            reply_id = await run_db(self.store.add_canned, body["queue"], text, user["username"])
            return json_response({"id": reply_id})

        @bp.delete("/api/canned/<reply_id:int>")
        @api(supervisor)
        async def delete_canned(request: Request, user: Dict, reply_id: int) -> HTTPResponse:
            if not await run_db(self.store.delete_canned, reply_id):
                return json_response({"error": "見つかりません。"}, 404)
            return json_response({"ok": True})

        @bp.get("/api/users")
        @api(admin)
        async def users(request: Request, user: Dict) -> HTTPResponse:
            found = await run_db(staff_auth.list_users, self.db)
            return json_response({"users": [{"username": u["username"], "role": u["role"], "active": u["active"]}
                                            for u in found]})

        @bp.post("/api/users")
        @api(admin)
        async def add_user(request: Request, user: Dict) -> HTTPResponse:
            body = self._body(request)
            try:
                await run_db(staff_auth.create_user, self.db, str(body.get("username") or ""),
                             str(body.get("password") or ""), str(body.get("role") or ""))
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
            await run_db(staff_auth.audit, self.db, user, "create_user", None, str(body.get("username"))[:64])
            return json_response({"ok": True})

        @bp.get("/api/audit")
        @api(admin)
        async def audit_log(request: Request, user: Dict) -> HTTPResponse:
            entries = await run_db(staff_auth.audit_entries, self.db, 500)
            return json_response({"entries": [
                {"at": e["at"].isoformat(timespec="seconds") + "Z", "username": e["username"], "action": e["action"],
                 "conversation_id": e["conversation_id"], "detail": e["detail"]} for e in entries]})

        @bp.get("/api/unanswered.csv")
        @api(supervisor)
        async def unanswered_csv(request: Request, user: Dict) -> HTTPResponse:
            from common import unanswered  # the engine's log; plain SQLAlchemy, no Rasa

            url = self.settings.assistant_db_url or None
            rows = await run_db(unanswered.rows, None, None, url)
            out = io.StringIO()
            weekly = request.args.get("weekly") == "1"
            if weekly:
                writer = csv.writer(out)
                writer.writerow(["week", "kind", "count"])
                writer.writerows(unanswered.weekly_counts(rows))
            else:
                unanswered.write_csv(rows, out)
            await run_db(staff_auth.audit, self.db, user, "export_unanswered", None, "weekly" if weekly else "rows")
            name = "unanswered-weekly.csv" if weekly else "unanswered.csv"
            return text_response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

        # ---- 大型ごみ bookings (common/booking; the engine's database, like the unanswered log)
        handles_bookings = lambda role: role in ("staff", "supervisor", "admin")  # noqa: E731

        def booking_store():
            from common.booking.store import BookingStore  # plain SQLAlchemy, no Rasa

            return BookingStore(self.settings.assistant_db_url or None)

        def booking_filters(request: Request) -> Dict[str, Any]:
            from datetime import date

            day = request.args.get("day") or None
            try:
                parsed = date.fromisoformat(day) if day else None
            except ValueError:
                parsed = None
            ward = request.args.get("ward") or None
            status = request.args.get("status") or "booked"
            return {"day": parsed, "ward": ward if ward and ward != "all" else None,
                    "status": None if status == "all" else status}

        def booking_dict(b) -> Dict[str, Any]:
            return {"receipt_no": b.receipt_no, "day": b.day.isoformat(), "ward": b.ward, "town": b.town,
                    "address": b.address, "items": [{"name": i.name, "quantity": i.quantity, "fee": i.fee}
                                                    for i in b.items],
                    "total": b.total, "phone": b.phone, "name": b.name, "status": b.status,
                    "cancelled_by": b.cancelled_by, "channel": b.channel,
                    "created_at": b.created_at.isoformat(timespec="seconds") if b.created_at else None}

        @bp.get("/bookings")
        async def bookings_page(request: Request) -> HTTPResponse:
            user = await run_db(self._session, request)
            if not user:
                return redirect("/staff/login", status=303, headers=dict(SECURITY_HEADERS))
            if not handles_bookings(user["role"]):
                return html_response("権限がありません。", status=403, headers=dict(SECURITY_HEADERS))
            page = (STAFF_DIR / "bookings.html").read_text(encoding="utf-8")
            return html_response(page, headers=dict(SECURITY_HEADERS))

        @bp.get("/api/bookings")
        @api(handles_bookings)
        async def bookings(request: Request, user: Dict) -> HTTPResponse:
            from datetime import datetime, timedelta, timezone

            filters = booking_filters(request)
            found = await run_db(booking_store().list, **filters)
            if filters["day"] is None:  # no date chosen: from today on (Sapporo time)
                today = (datetime.now(timezone.utc) + timedelta(hours=9)).date()
                found = [b for b in found if b.day >= today]
            rows = [booking_dict(b) for b in found]
            return json_response({"bookings": rows,
                                  "summary": {"count": len(rows), "total": sum(r["total"] for r in rows)}})

        @bp.post("/api/bookings/<receipt_no:str>/cancel")
        @api(handles_bookings)
        async def cancel_booking(request: Request, user: Dict, receipt_no: str) -> HTTPResponse:
            from common.booking.store import BookingError

            store = booking_store()
            if not await run_db(store.get, receipt_no):
                return json_response({"error": "受付番号が見つかりません。"}, 404)
            try:
                cancelled = await run_db(store.cancel, receipt_no, by=STAFF_PREFIX + user["username"], staff=True)
            except BookingError as exc:
                return json_response({"error": str(exc)}, 409)
            await run_db(staff_auth.audit, self.db, user, "cancel_booking", None, receipt_no)
            return json_response({"booking": booking_dict(cancelled)})

        @bp.get("/api/bookings.csv")
        @api(handles_bookings)
        async def bookings_csv(request: Request, user: Dict) -> HTTPResponse:
            filters = booking_filters(request)
            body = await run_db(booking_store().export_csv, filters["day"], filters["ward"])
            await run_db(staff_auth.audit, self.db, user, "export_bookings", None,
                         f"{filters['day'] or '-'} {filters['ward'] or '-'}")
            return text_response(body, content_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": 'attachment; filename="bulky-bookings.csv"'})

        return bp

    # ------------------------------------------------------------------ live updates (Socket.IO /staff)
    async def on_connect(self, sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
        token = _cookie_value(environ.get("HTTP_COOKIE", ""), SESSION_COOKIE)
        user = await run_db(staff_auth.session_user, self.db, token) if token else None
        if not user:
            raise socketio.exceptions.ConnectionRefusedError("login required")
        self._online[sid] = user
        await self.sio.enter_room(sid, "user:" + user["username"], namespace=NAMESPACE)
        await self.sio.emit("queue", await run_db(self.queue_payload, user), to=sid, namespace=NAMESPACE)
        return True

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._online.pop(sid, None)

    async def on_watch(self, sid: str, data: Any = None) -> Dict:
        user = self._online.get(sid)
        conversation_id = data.get("conversation_id") if isinstance(data, dict) else None
        conversation = await run_db(self.store.get, conversation_id) if isinstance(conversation_id, str) else None
        if not user or not conversation or not self.may_see(user, conversation):
            return {"ok": False}
        await self.sio.enter_room(sid, "conv:" + conversation.id, namespace=NAMESPACE)
        return {"ok": True}

    async def on_unwatch(self, sid: str, data: Any = None) -> None:
        if isinstance(data, dict) and isinstance(data.get("conversation_id"), str):
            await self.sio.leave_room(sid, "conv:" + data["conversation_id"], namespace=NAMESPACE)

    # Notifier: what the router reports
    async def queue_changed(self) -> None:
        by_user: Dict[str, Dict] = {}
        for sid, user in list(self._online.items()):
            if user["username"] not in by_user:
                by_user[user["username"]] = await run_db(self.queue_payload, user)
            await self.sio.emit("queue", by_user[user["username"]], to=sid, namespace=NAMESPACE)

    async def _prune_watchers(self, conversation: Conversation) -> None:
        """Watching was allowed when it began; a chat moved to another queue or person must stop reaching
        those who may no longer see it."""
        room = "conv:" + conversation.id
        for sid, _ in list(self.sio.manager.get_participants(NAMESPACE, room)):
            user = self._online.get(sid)
            if not user or not self.may_see(user, conversation):
                await self.sio.leave_room(sid, room, namespace=NAMESPACE)

    async def message(self, conversation_id: str, message: Dict) -> None:
        payload = {"conversation_id": conversation_id, "message": message}
        conversation = await run_db(self.store.get, conversation_id)
        if conversation:
            await self._prune_watchers(conversation)
        rooms = ["conv:" + conversation_id]
        if conversation and conversation.staff:  # the owner sees it even with another chat open
            rooms.append("user:" + conversation.staff)
        if not message.get("protected"):
            await self.sio.emit("message", payload, room=rooms, namespace=NAMESPACE)  # each socket once
            return
        sids = {sid for room in rooms for sid, _ in self.sio.manager.get_participants(NAMESPACE, room)}
        for sid in sids:  # counseling text: only to counselors and supervisors
            user = self._online.get(sid)
            if user and self.reads_counseling(user):
                await self.sio.emit("message", payload, to=sid, namespace=NAMESPACE)

    async def alert(self, payload: Dict, roles=(), usernames=()) -> None:
        """A sound-and-banner alert (gateway/counseling/desk.py) to the online users of ``roles`` and to
        ``usernames``; a counseling chat's alert only to those who may see it."""
        conversation = await run_db(self.store.get, payload["conversation_id"])
        for sid, user in list(self._online.items()):
            if user["role"] not in roles and user["username"] not in usernames:
                continue
            if conversation and user["username"] not in usernames and not self.may_see(user, conversation):
                continue
            await self.sio.emit("alert", payload, to=sid, namespace=NAMESPACE)

    def available(self, queue: str) -> int:
        return len({u["username"] for u in self._online.values() if staff_auth.can_handle(u["role"], queue)})

    async def conversation(self, conversation: Conversation) -> None:
        payload = {"conversation": conversation.as_dict()}
        await self.sio.emit("conversation", payload, room="conv:" + conversation.id, namespace=NAMESPACE)
        await self._prune_watchers(conversation)  # after telling them it moved, stop sending them more
