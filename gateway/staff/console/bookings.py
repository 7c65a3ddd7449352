"""What reads the engine's database (common/; plain SQLAlchemy, no Rasa): the 大型ごみ bookings page
(``GET /staff/bookings``, static/staff/bookings.html and bookings.js), its API (list, cancel on a citizen's
behalf) and the CSV exports (the crews' bookings CSV; the unanswered questions, supervisors only).
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Dict

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html as html_response, json as json_response, text as text_response

from gateway import texts
from gateway.staff import auth as staff_auth
from gateway.staff.console.common import SECURITY_HEADERS, api_guard, session_user, static_page, to_login
from gateway.storage.conversations import STAFF_PREFIX
from gateway.storage.db import run_db

if TYPE_CHECKING:
    from gateway.staff.console import StaffConsole


def handles_bookings(role: str) -> bool:
    return role in ("staff", "supervisor", "admin")


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


def routes(bp: Blueprint, console: StaffConsole) -> None:
    api = api_guard(console.db)
    supervisor = staff_auth.sees_all_live_chats
    db, settings = console.db, console.settings

    def booking_store():
        from common.booking.store import BookingStore  # plain SQLAlchemy, no Rasa

        return BookingStore(settings.assistant_db_url or None)

    @bp.get("/api/unanswered.csv")
    @api(supervisor)
    async def unanswered_csv(request: Request, user: Dict) -> HTTPResponse:
        from common import unanswered  # the engine's log; plain SQLAlchemy, no Rasa

        url = settings.assistant_db_url or None
        rows = await run_db(unanswered.rows, None, None, url)
        out = io.StringIO()
        weekly = request.args.get("weekly") == "1"
        if weekly:
            writer = csv.writer(out)
            writer.writerow(["week", "kind", "count"])
            writer.writerows(unanswered.weekly_counts(rows))
        else:
            unanswered.write_csv(rows, out)
        await run_db(staff_auth.audit, db, user, "export_unanswered", None, "weekly" if weekly else "rows")
        name = "unanswered-weekly.csv" if weekly else "unanswered.csv"
        return text_response("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})

    # ---- 大型ごみ bookings (common/booking; the engine's database, like the unanswered log)
    @bp.get("/bookings")
    async def bookings_page(request: Request) -> HTTPResponse:
        user = await run_db(session_user, db, request)
        if not user:
            return to_login()
        if not handles_bookings(user["role"]):
            return html_response(texts.STAFF_FORBIDDEN, status=403, headers=dict(SECURITY_HEADERS))
        return static_page("bookings.html")

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
        # names, phones and addresses: seeing them is recorded like opening a transcript
        await run_db(staff_auth.audit, db, user, "view_bookings", None,
                     f"{filters['day'] or '-'} {filters['ward'] or '-'} {filters['status'] or 'all'} ({len(rows)})")
        return json_response({"bookings": rows,
                              "summary": {"count": len(rows), "total": sum(r["total"] for r in rows)}})

    @bp.post("/api/bookings/<receipt_no:str>/cancel")
    @api(handles_bookings)
    async def cancel_booking(request: Request, user: Dict, receipt_no: str) -> HTTPResponse:
        from common.booking.store import BookingError

        store = booking_store()
        if not await run_db(store.get, receipt_no):
            return json_response({"error": texts.STAFF_NO_BOOKING}, 404)
        try:
            cancelled = await run_db(store.cancel, receipt_no, by=STAFF_PREFIX + user["username"], staff=True)
        except BookingError as exc:
            return json_response({"error": str(exc)}, 409)
        await run_db(staff_auth.audit, db, user, "cancel_booking", None, receipt_no)
        return json_response({"booking": booking_dict(cancelled)})

    @bp.get("/api/bookings.csv")
    @api(handles_bookings)
    async def bookings_csv(request: Request, user: Dict) -> HTTPResponse:
        filters = booking_filters(request)
        body = await run_db(booking_store().export_csv, filters["day"], filters["ward"])
        await run_db(staff_auth.audit, db, user, "export_bookings", None,
                     f"{filters['day'] or '-'} {filters['ward'] or '-'}")
        return text_response(body, content_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="bulky-bookings.csv"'})
