"""The dashboard for supervisors and admins: ``GET /staff/dashboard`` (static/staff/dashboard.html, dashboard.js,
Chart.js from static/vendor), one read-only JSON API ``GET /staff/api/dashboard?from=YYYY-MM-DD&to=YYYY-MM-DD``
with every chart's series, and ``GET /staff/api/dashboard.csv?chart=<name>&from=…&to=…`` (UTF-8 with a BOM, for
Excel). Staff and counselors get 403; every view and download is audited (who, when, the range).
The figures: gateway/storage/reports.py.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Dict, List

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html as html_response, json as json_response, text as text_response

from gateway import texts
from gateway.staff import auth as staff_auth
from gateway.staff.console.common import SECURITY_HEADERS, api_guard, logger, session_user, static_page, to_login
from gateway.storage import reports
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole


def reads_dashboard(role: str) -> bool:
    return role in ("supervisor", "admin")


def _collects(schedule, ward, day) -> bool:
    from common.booking.dates import _closed_reason  # the schedule's own rule: weekday, holiday, 年末年始

    return _closed_reason(schedule, ward, day) is None


def figures(gateway_engine, assistant_url: str, window: reports.Range) -> Dict:
    """Every chart's series for ``window`` (blocking: call through run_db)."""
    from common import unanswered
    from common.booking.store import BookingStore, bookings

    reports.ensure_indexes(gateway_engine)
    volume = reports.volume(gateway_engine, window)
    replied = reports.engine_replied(gateway_engine, window)
    found, truncated = reports.handoffs(gateway_engine, window)
    handoffs = reports.handoff_figures(found, window)
    log_engine = unanswered._engine(assistant_url or unanswered.default_url())  # noqa: SLF001 (common's own engine)
    kinds = reports.unanswered_per_day(log_engine, unanswered.unanswered, window)
    store = BookingStore(assistant_url or None)
    reader = store.engine.execution_options(booking_read_only=True)  # no BEGIN IMMEDIATE for a read
    return {
        "range": window.as_dict(),
        "labels": texts.DASHBOARD_LABELS,
        "volume": volume,
        "outcomes": reports.outcomes(replied, kinds, handoffs["per_day"].get("general", [0] * len(replied))),
        "unanswered": reports.top_unanswered(log_engine, unanswered.unanswered, window),
        "handoffs": {**handoffs, "truncated": truncated},
        "counseling": reports.counseling_figures(found, window),
        "bookings": reports.bookings_vs_capacity(reader, bookings, store.schedule, window, _collects),
    }


def csv_rows(chart: str, data: Dict) -> List[List]:
    """One chart's figures as the rows of its CSV (after the header of texts.DASHBOARD_CSV)."""
    days = data["range"]["days"]
    labels = data["labels"]
    if chart == "volume":
        return [[d, labels["channels"].get(ch, ch), s["conversations"][i], s["turns"][i]]
                for i, d in enumerate(days) for ch, s in data["volume"]["channels"].items()]
    if chart == "outcomes":
        s = data["outcomes"]["series"]
        return [[d, s["answered"][i], s["candidates"][i], s["not_understood"][i], s["out_of_scope"][i],
                 s["handoff"][i], data["outcomes"]["engine_replied"][i]] for i, d in enumerate(days)]
    if chart == "unanswered":
        u = data["unanswered"]
        return [[f"{u['from']}〜{u['to']}", labels["kinds"].get(item["kind"], item["kind"]), item["text"],
                 item["count"]] for item in u["items"]]
    if chart == "handoffs":
        return [[labels["queues"].get(q["queue"], q["queue"]), q["handoffs"], q["taken"], q["untaken"], q["waiting"],
                 "" if q["p50_minutes"] is None else q["p50_minutes"],
                 "" if q["p90_minutes"] is None else q["p90_minutes"]] for q in data["handoffs"]["queues"]]
    if chart == "counseling":
        return [[d, labels["risks"].get(r, r), data["counseling"]["levels"][r][i]]
                for i, d in enumerate(days) for r in data["counseling"]["levels"]]
    b = data["bookings"]  # "bookings"
    return [[d, w, b["booked"][w][i], b["capacity"][w][i]] for i, d in enumerate(days) for w in b["wards"]]


def _csv_text(header: List[str], rows: List[List]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:  # a question starting with = + - @ is text in Excel, never a formula
        writer.writerow(["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row])
    return "\ufeff" + out.getvalue()


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    db, settings = console.db, console.settings

    def window_of(request: Request) -> reports.Range:
        return reports.parse_range(request.args.get("from"), request.args.get("to"), texts.DASHBOARD_RANGE_ERRORS)

    def bad_range(error: reports.RangeError) -> HTTPResponse:
        return json_response({"error": str(error)}, 400)

    @bp.get("/dashboard")
    async def dashboard_page(request: Request) -> HTTPResponse:
        user = await run_db(session_user, db, request)
        if not user:
            return to_login()
        if not reads_dashboard(user["role"]):
            return html_response(texts.STAFF_FORBIDDEN, status=403, headers=dict(SECURITY_HEADERS))
        return static_page("dashboard.html")

    @bp.get("/api/dashboard")
    @api(reads_dashboard)
    async def dashboard(request: Request, user: Dict) -> HTTPResponse:
        try:
            window = window_of(request)
        except reports.RangeError as error:
            return bad_range(error)
        data = await run_db(figures, db, settings.assistant_db_url, window)
        await run_db(staff_auth.audit, db, user, "view_dashboard", None, f"{window.first}〜{window.last}")
        logger.info("staff: dashboard %s..%s by %s", window.first, window.last, user["username"])
        return json_response(data)

    @bp.get("/api/dashboard.csv")
    @api(reads_dashboard)
    async def dashboard_csv(request: Request, user: Dict) -> HTTPResponse:
        chart = request.args.get("chart") or ""
        if chart not in texts.DASHBOARD_CSV:
            return json_response({"error": texts.DASHBOARD_UNKNOWN_CHART.format(
                names=", ".join(texts.DASHBOARD_CSV))}, 400)
        try:
            window = window_of(request)
        except reports.RangeError as error:
            return bad_range(error)
        data = await run_db(figures, db, settings.assistant_db_url, window)
        name, header = texts.DASHBOARD_CSV[chart]
        await run_db(staff_auth.audit, db, user, "export_dashboard", None,
                     f"{chart} {window.first}〜{window.last}")
        return text_response(_csv_text(header, csv_rows(chart, data)), content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition":
                                      f'attachment; filename="{name}-{window.first}-{window.last}.csv"'})
