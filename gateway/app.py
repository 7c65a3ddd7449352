"""The gateway application: Sanic for HTTP, python-socketio for the widget, composed as one ASGI app.

python-socketio's maintained Sanic integration is its ASGI mode (its native Sanic driver is no longer
maintained), so the gateway runs as ``socketio.ASGIApp(sio, other_asgi_app=sanic_app)`` under uvicorn:
``/socket.io/`` goes to Socket.IO, everything else to Sanic.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Optional, Tuple

import socketio
from sanic import Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import HTTPResponse, file, json as json_response

from connectors.line.channel import CHANNEL as LINE_CHANNEL, setup_line
from connectors.rest import setup_rest
from connectors.webchat import CHANNEL as WEB_CHANNEL, PacketJson, WebChat
from gateway import metrics, texts
from gateway.bus import bus_for
from gateway.counseling import jobs as counseling_jobs
from gateway.counseling.classifier import default_triage
from gateway.counseling.crypto import cipher_for
from gateway.counseling.hours import CounselingHours
from gateway.handoff.engine_client import EngineClient
from gateway.handoff.router import Router
from gateway.http_limits import BodyLimit
from gateway.jobs import reminders, retention
from gateway.rate_limits import RateLimits
from gateway.settings import Settings
from gateway.staff.console import StaffConsole
from gateway.storage.conversations import HandoffStore
from gateway.storage.db import connect

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Optional[Settings] = None) -> Tuple[Sanic, BodyLimit]:
    settings = settings or Settings.from_env()
    app = Sanic("sapporo_gateway")
    app.config.REQUEST_MAX_SIZE = settings.max_body_bytes  # not enforced under ASGI: BodyLimit below does it
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings

    # Several gateways (SOCKETIO_REDIS_URL): Socket.IO's Redis manager relays the widget's packets between them, and
    # the gateway bus (gateway/bus.py) carries the console's live events and the pushes to widgets.
    bus = bus_for(settings.socketio_redis_url)
    app.ctx.bus = bus
    sio = socketio.AsyncServer(
        async_mode="asgi",
        **({"client_manager": socketio.AsyncRedisManager(settings.socketio_redis_url)}
           if settings.socketio_redis_url else {}),
        json=PacketJson,  # a packet nested too deep to parse is answered, not dropped (connectors/webchat.py)
        cors_allowed_origins=settings.widget_origins(),  # /staff: only the own origin (staff/console/live.py)
        max_http_buffer_size=settings.max_body_bytes,
    )
    # Conversations, owners, messages and staff live in the gateway's database (gateway/storage/db.py).
    db = connect(settings.database_url(), settings.sqlite_synchronous)
    app.ctx.db = db
    # Counseling text is encrypted at rest (gateway/counseling/crypto.py). The triage rules load and the
    # classifier trains now (about two seconds), so a broken rules file stops the start instead of the first
    # message of a youth.
    store = HandoffStore(db, cipher_for(settings.data_dir))
    default_triage().triage("起動確認")
    hours = CounselingHours.load(settings.counseling_hours_file or None)
    engine = EngineClient(settings.engine_url, settings.engine_connect_timeout, settings.engine_timeout,
                          settings.engine_auth_token, lock_seconds=settings.engine_lock_seconds)
    app.ctx.engine = engine
    router = Router(engine, store, settings.max_message_chars, hours=hours)
    app.ctx.router = router
    limits = RateLimits(settings)  # gateway/rate_limits.py: where each limit sits, and why
    limits.check_turn = metrics.counting_refusals(limits.check_turn)  # gateway/metrics.py
    webchat = WebChat(sio, router, limits, settings, bus)  # signed sessions, history, delivery (connectors/webchat.py)
    setup_rest(app, router, limits, settings)  # POST /api/messages, only with REST_API_TOKEN
    # LINE (connectors/line/channel.py): POST /webhooks/line/webhook, only with LINE_CHANNEL_SECRET and _ACCESS_TOKEN.
    app.ctx.line = setup_line(app, router, db, settings)
    app.ctx.staff = StaffConsole(app, sio, router, db, settings, bus)
    # GET /metrics and the HTTP error counts (gateway/metrics.py: who may read it, what it holds).
    metrics.setup(app, settings, db, app.ctx.line.inbox.db if app.ctx.line else None)
    # The one place the router learns how to reach users outside a turn and whom to tell about chats.
    router.connect(channels={WEB_CHANNEL: webchat.push, **({LINE_CHANNEL: app.ctx.line.push} if app.ctx.line else {})},
                   notifier=app.ctx.staff)
    # Counseling upkeep: inactivity check and close, long-wait re-alerts, retention purge.
    if settings.counseling_sweep_seconds > 0:
        counseling_jobs.start(app, router, counseling_jobs.UpkeepSettings(
            settings.counseling_idle_check_minutes, settings.counseling_idle_close_minutes,
            settings.counseling_realert_minutes, settings.counseling_retention_days,
            settings.staff_long_wait_seconds or None), settings.counseling_sweep_seconds)
    # 大型ごみ: the day-before reminder, pushed on LINE to those who asked for it (gateway/jobs/reminders.py).
    if settings.reminder_interval > 0:
        reminders.start(app, router, settings.assistant_db_url or None, settings.reminder_interval)
    # Retention: transcripts, the engine's tracker store, the unanswered log, the LINE inbox, LINE unfollows
    # (gateway/jobs/retention.py; periods in settings, README "Security and reliability").
    if settings.retention_interval > 0:
        retention.start(app, store, settings, app.ctx.line)

    @app.before_server_start
    async def start(app: Sanic, _loop=None) -> None:
        await bus.start()
        logger.info("gateway ready, engine at %s", settings.engine_url)

    @app.after_server_stop
    async def stop(app: Sanic, _loop=None) -> None:
        await bus.stop()
        await app.ctx.engine.close()

    @app.get("/")
    async def demo_page(request: Request) -> HTTPResponse:
        return await file(STATIC_DIR / "index.html", mime_type="text/html; charset=utf-8")

    app.static("/static", STATIC_DIR, name="static")

    # The embeddable widget (one <script> tag on any page; README "Website widget"), with the gateway's limit.
    widget_js = (STATIC_DIR / "widget.js").read_text(encoding="utf-8").replace(
        "__MAX_MESSAGE_CHARS__", str(settings.max_message_chars)).encode()
    widget_etag = '"' + hashlib.sha256(widget_js).hexdigest()[:32] + '"'

    @app.get("/widget.js")
    async def widget(request: Request) -> HTTPResponse:
        headers = {"Cache-Control": "public, max-age=300", "ETag": widget_etag}
        if request.headers.get("if-none-match") == widget_etag:
            return HTTPResponse(status=304, headers=headers)
        return HTTPResponse(widget_js, headers=headers, content_type="text/javascript; charset=utf-8")

    @app.get("/livez")
    async def livez(request: Request) -> HTTPResponse:
        """Liveness for the balancer and Kubernetes: the process serves (whatever the engine does)."""
        return json_response({"status": "ok"})

    @app.get("/healthz")
    async def healthz(request: Request) -> HTTPResponse:
        ready = await app.ctx.engine.is_ready()
        return json_response(
            {"status": "ok", "engine": "ok" if ready else "down"},  # the gateway itself answers; 503 = not ready
            status=200 if ready else 503,
        )

    @app.exception(RecursionError)
    async def too_deep(request: Request, exc: RecursionError) -> HTTPResponse:
        """JSON nested too deep for Python's parser, wherever a handler parses it (the LINE webhook)."""
        logger.info("client error 400 on %s %s: JSON nested too deep", request.method, request.path)
        return json_response({"error": texts.BAD_REQUEST}, status=400)

    @app.exception(SanicException)
    async def client_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 400) or 400
        if status >= 500:
            logger.error("gateway error %s on %s %s", status, request.method, request.path)
        else:
            logger.info("client error %s on %s %s", status, request.method, request.path)
        return json_response({"error": str(exc) or "bad request"}, status=status)

    # Bodies over the limit are refused while they stream in, before Sanic or engine.io buffer them.
    asgi = BodyLimit(socketio.ASGIApp(sio, other_asgi_app=app, socketio_path="socket.io"), settings.max_body_bytes)
    return app, asgi
