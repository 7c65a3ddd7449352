"""Prometheus metrics of the gateway (``GET /metrics``, prometheus-client's default registry).

What is counted (README "Operations"): turns per channel and outcome, how long a whole turn and the engine's
round trip take, engine errors by kind, HTTP answers 4xx/5xx by status code, rate-limit refusals by limit; on
every scrape, from the database: chats waiting per queue and the longest wait, the LINE inbox's unfinished and
failed rows. Label values come from fixed sets only (channel, outcome, queue, reason, status code): never a
message text, a conversation id or an address.

One registry per process is enough: the gateway runs one uvicorn process (gateway/__main__.py, no
``workers``); several gateways are several processes, each scraped on its own. The queue and inbox gauges
read the shared database, so every gateway reports the same value: aggregate them with ``max``, not ``sum``.

Who may read /metrics: ``METRICS=off`` removes it (404). Otherwise a request is answered only when its
address and every address in its forwarding headers are loopback or private (the scraper on the internal
network; a citizen's request through the city's proxy carries a public address) unless ``METRICS_PUBLIC=1``;
and when ``METRICS_TOKEN`` is set, only with ``Authorization: Bearer <token>`` too.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterable, Iterator, List, Optional

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.storage.conversations import QUEUED, QUEUES, conversations
from gateway.storage.db import run_db, utcnow
from gateway.storage.line_inbox import FAILED, UNFINISHED, inbox

logger = logging.getLogger(__name__)

CHANNELS = ("web", "line", "rest")
# What became of a turn (the router says, see ``outcome``): rejected (empty, too long, not text, bad characters),
# bot (the engine answered), engine_error (the apology with 「担当者と話す」), handoff (put in a queue), queued
# (a message while waiting), staff (a person owns the chat), counseling (the counseling desk took it),
# gateway (the gateway answered itself, e.g. 「どちらのご相談ですか」), error (an exception).
OUTCOMES = ("rejected", "bot", "engine_error", "handoff", "queued", "staff", "counseling", "gateway", "error")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 20.0)

TURNS = Counter("gateway_turns", "User turns by channel and outcome", ["channel", "outcome"])
TURN_SECONDS = Histogram("gateway_turn_seconds", "A whole user turn in the gateway (checks, storage, engine)",
                         ["channel"], buckets=LATENCY_BUCKETS)
ENGINE_SECONDS = Histogram("gateway_engine_seconds", "The engine's round trip (one REST webhook request)",
                           buckets=LATENCY_BUCKETS)
ENGINE_ERRORS = Counter("gateway_engine_errors", "Turns the engine did not answer, by kind "
                        "(connect, timeout, status, invalid, empty)", ["reason"])
HTTP_ERRORS = Counter("gateway_http_errors", "HTTP answers with a status of 400 or more", ["code"])
RATE_LIMITED = Counter("gateway_rate_limited", "Messages refused by a rate limit", ["limit"])

_TURN: ContextVar[Optional[List[str]]] = ContextVar("metrics_turn", default=None)


# ---------------------------------------------------------------------- recording (cheap, no I/O)
def timed_turn(handler):
    """Decorates ``Router.handle_text(self, conversation_id, channel, …)``: one count and one latency per turn."""
    @functools.wraps(handler)
    async def wrapper(self, conversation_id, channel, *args, **kwargs):
        with turn(channel):
            return await handler(self, conversation_id, channel, *args, **kwargs)
    return wrapper


@contextmanager
def turn(channel: str) -> Iterator[None]:
    holder = ["gateway"]
    token = _TURN.set(holder)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        holder[0] = "error"
        raise
    finally:
        _TURN.reset(token)
        label = channel if channel in CHANNELS else "other"
        TURNS.labels(label, holder[0]).inc()
        TURN_SECONDS.labels(label).observe(time.perf_counter() - started)


def outcome(name: str) -> None:
    """What became of the turn being handled (outside a turn: nothing)."""
    holder = _TURN.get()
    if holder is not None and name in OUTCOMES:
        holder[0] = name


def engine_round_trip(seconds: float) -> None:
    ENGINE_SECONDS.observe(seconds)


def engine_error(exc: BaseException) -> None:
    """An EngineUnavailable, counted by kind (its message is the engine client's own, never the user's text)."""
    why = str(exc)
    if why.startswith("HTTP "):
        reason = "status"
    elif why == "empty answer":
        reason = "empty"
    elif "JSON" in why or "unexpected" in why:
        reason = "invalid"
    elif "Timeout" in why:
        reason = "timeout"
    else:
        reason = "connect"
    ENGINE_ERRORS.labels(reason).inc()
    outcome("engine_error")


def rate_limited(limit: str) -> None:
    RATE_LIMITED.labels(limit if limit in ("new_conversation", "conversation", "address") else "other").inc()


def counting_refusals(check_turn):
    """Wraps ``RateLimits.check_turn`` (gateway/app.py): every refusal is counted by its limit."""
    @functools.wraps(check_turn)
    async def wrapper(*args, **kwargs):
        refusal = await check_turn(*args, **kwargs)
        if refusal is not None:
            rate_limited(refusal.limit)
        return refusal
    return wrapper


# ---------------------------------------------------------------------- gauges read on scrape
class _DatabaseGauges(Collector):
    """Queue lengths, longest waits and the LINE inbox's depth, read when Prometheus scrapes (two indexed
    aggregate queries; the scrape runs in a worker thread, not on the event loop)."""

    def __init__(self) -> None:
        self.db: Optional[sa.engine.Engine] = None
        self.inbox_db: Optional[sa.engine.Engine] = None

    def collect(self) -> Iterable[Any]:
        if self.db is None:
            return []
        families = []
        try:
            families += self._queues()
            if self.inbox_db is not None:
                families += self._inbox()
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("metrics: database gauges not read (%s)", type(exc).__name__)
        return families

    def _queues(self) -> List[GaugeMetricFamily]:
        length = GaugeMetricFamily("gateway_queue_length", "Chats waiting for a person, per queue", labels=["queue"])
        wait = GaugeMetricFamily("gateway_queue_longest_wait_seconds",
                                 "How long the chat waiting longest has waited, per queue (0: none waiting)",
                                 labels=["queue"])
        now = utcnow()
        with self.db.connect() as c:
            rows = {r.queue: r for r in c.execute(
                sa.select(conversations.c.queue, sa.func.count().label("n"),
                          sa.func.min(conversations.c.waiting_since).label("oldest"))
                .where(conversations.c.owner == QUEUED).group_by(conversations.c.queue))}
        for queue in QUEUES:
            row = rows.get(queue)
            length.add_metric([queue], row.n if row else 0)
            oldest = row.oldest if row else None
            wait.add_metric([queue], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        return [length, wait]

    def _inbox(self) -> List[GaugeMetricFamily]:
        rows = GaugeMetricFamily("gateway_line_inbox_rows", "LINE inbox rows: unfinished (not yet answered and "
                                 "delivered) and failed (given up, listed for staff)", labels=["state"])
        oldest = GaugeMetricFamily("gateway_line_inbox_oldest_seconds", "Age of the oldest unfinished LINE inbox row")
        with self.inbox_db.connect() as c:
            counts = dict(c.execute(sa.select(inbox.c.state, sa.func.count()).group_by(inbox.c.state)).all())
            first = c.execute(sa.select(sa.func.min(inbox.c.received_at))
                              .where(inbox.c.state.in_(UNFINISHED))).scalar()
        rows.add_metric(["unfinished"], sum(counts.get(s, 0) for s in UNFINISHED))
        rows.add_metric(["failed"], counts.get(FAILED, 0))
        oldest.add_metric([], max(0.0, (utcnow() - first).total_seconds()) if first else 0.0)
        return [rows, oldest]


_GAUGES = _DatabaseGauges()
REGISTRY.register(_GAUGES)


# ---------------------------------------------------------------------- who may read /metrics
def _is_internal(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_private


def forwarded_addresses(headers) -> List[str]:
    """Every address a proxy put in X-Forwarded-For, X-Real-IP or Forwarded (for=…)."""
    found = []
    for value in headers.getall("x-forwarded-for", []) + headers.getall("x-real-ip", []):
        found += [a.strip() for a in value.split(",") if a.strip()]
    for value in headers.getall("forwarded", []):
        for part in value.replace(",", ";").split(";"):
            key, _, val = part.strip().partition("=")
            if key.lower() == "for":
                val = val.strip('"')
                if val.startswith("["):  # [2001:db8::1]:port
                    val = val[1:].split("]")[0]
                elif val.count(":") == 1:  # 192.0.2.1:port
                    val = val.split(":")[0]
                found.append(val)
    return found


def allowed(peer: str, forwarded: List[str], authorization: str, public: bool, token: str) -> Optional[int]:
    """None when the scrape may be answered, else the HTTP status to refuse it with."""
    if token and not hmac.compare_digest(authorization.encode("utf-8", "replace"), f"Bearer {token}".encode()):
        return 401
    if not public and not all(_is_internal(a) for a in [peer, *forwarded]):
        return 403
    return None


def setup(app, settings, db: sa.engine.Engine, inbox_db: Optional[sa.engine.Engine] = None) -> None:
    """Counts HTTP errors and serves /metrics (unless METRICS=off); the gauges read ``db`` and ``inbox_db``."""
    from sanic.response import HTTPResponse, json as json_response

    _GAUGES.db, _GAUGES.inbox_db = db, inbox_db

    @app.on_response
    async def count_errors(request, response) -> None:
        if response is not None and response.status >= 400:
            HTTP_ERRORS.labels(str(response.status)).inc()

    if not settings.metrics:
        return

    @app.get("/metrics")
    async def metrics(request) -> HTTPResponse:
        refused = allowed(request.ip or "", forwarded_addresses(request.headers),
                          request.headers.get("authorization", ""), settings.metrics_public, settings.metrics_token)
        if refused:
            logger.info("metrics: refused a scrape (%d)", refused)
            return json_response({"error": "forbidden" if refused == 403 else "token required"}, status=refused,
                                 headers={"WWW-Authenticate": "Bearer"} if refused == 401 else None)
        body = await run_db(generate_latest, REGISTRY)
        return HTTPResponse(body, headers={"Cache-Control": "no-store"}, content_type=CONTENT_TYPE_LATEST)
