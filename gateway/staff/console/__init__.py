"""The staff console at /staff: login, the live queue, transcripts, replies, notes, transfer, close.

Pages: ``GET /staff/login`` (form with a double-submit CSRF token), ``POST /staff/login`` (rate-limited),
``POST /staff/logout``, ``GET /staff`` (the console; static/staff/console.js). JSON API under
``/staff/api/…`` (README "Staff console" lists it). Live updates: Socket.IO namespace ``/staff``
(events ``queue``, ``message``, ``conversation``), authenticated by the same session cookie.

Every request is checked here, not in the page: no session → 401 (pages redirect to the login), the
wrong role → 403, a state-changing request without the session's CSRF token (header
``X-CSRF-Token``) → 403. Opening a transcript writes the audit log (who, when, which conversation).

One Sanic blueprint ("staff"), its routes by area: pages.py (login, logout, the console page, /api/me),
conversations.py (queue, transcript, claim, reply, note, transfer, close, hand back, risk, canned replies),
admin.py (users, audit log), bookings.py (大型ごみ bookings, CSV exports); live.py (Socket.IO ``/staff``
and the Notifier); common.py (constants, the session/role/CSRF check, permissions). Texts: gateway/texts.py.
"""

from __future__ import annotations

import asyncio
from typing import Dict, Optional

import socketio
from sanic import Blueprint, Sanic

from gateway import texts
from gateway.bus import Bus
from gateway.handoff.router import Router
from gateway.staff import auth as staff_auth
from gateway.staff.console import (admin, bookings, canned, context, conversations, dashboard, history, pages,
                                   presence)
from gateway.staff.console.common import (LOGIN_CSRF_COOKIE, HashGate, MAX_REPLY_CHARS, NAMESPACE, SECURITY_HEADERS,
                                          SESSION_COOKIE, STAFF_DIR)
from gateway.staff.console.live import LiveUpdates

__all__ = ["StaffConsole", "DEFAULT_CANNED", "LOGIN_CSRF_COOKIE", "MAX_REPLY_CHARS", "NAMESPACE",
           "SECURITY_HEADERS", "SESSION_COOKIE", "STAFF_DIR"]

DEFAULT_CANNED = texts.STAFF_CANNED_DEFAULTS


class StaffConsole(LiveUpdates):
    """The console: its HTTP routes (blueprint "staff") and, through LiveUpdates, the router's Notifier."""

    def __init__(self, app: Sanic, sio: socketio.AsyncServer, router: Router, db, settings,
                 bus: Optional[Bus] = None) -> None:
        self.router = router
        self.store = router.store
        self.db = db
        self.settings = settings
        self.sio = sio
        self.bus = bus or Bus()  # live events on every gateway (gateway/bus.py, live.py)
        self.limiter = staff_auth.login_limiter(db)  # shared by the gateways on PostgreSQL
        self.hashes = HashGate()
        self._online: Dict[str, Dict] = {}  # socket sid → session user
        self._sessions: Dict[str, str] = {}  # socket sid → its session's token hash
        self._queue_refreshing = asyncio.Lock()
        app.register_listener(self.start_sweeping, "after_server_start")
        app.register_listener(self.stop_sweeping, "before_server_stop")
        self.store.seed_canned(DEFAULT_CANNED)
        app.blueprint(self._blueprint())
        self.listen()

    def _blueprint(self) -> Blueprint:
        bp = Blueprint("staff", url_prefix="/staff")
        for area in (pages, conversations, context, canned, history, presence, admin, bookings, dashboard):
            area.routes(bp, self)
        return bp
