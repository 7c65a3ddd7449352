"""What reads the engine's database (common/; plain SQLAlchemy, no Rasa): the 大型ごみ bookings page
(``GET /staff/bookings``, static/staff/bookings.html and bookings.js), its API (list with duplicate flags, open
one with its history, change the date and items or cancel on a citizen's behalf) and the CSV exports (the crews'
bookings CSV; the unanswered questions, supervisors only).

Changes on behalf follow the chat's rules, which live in common/booking (dates.is_bookable, the capacity in the
store, the fee table and its limits in items.price_items); the page sends the booking's ``version`` and a change
from an older one is refused (409) instead of overwriting what the citizen changed in chat meanwhile. Every
list, opened booking and export is in the audit log (names, phones and addresses), like transcripts.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html as html_response, json as json_response, text as text_response

from gateway import texts
from gateway.staff import auth as staff_auth
from gateway.staff.console.common import (SECURITY_HEADERS, api_guard, json_body, session_user, static_page,
                                          to_login)
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


def booking_dict(b, duplicate_of: Optional[List[str]] = None) -> Dict[str, Any]:
    return {"receipt_no": b.receipt_no, "day": b.day.isoformat(), "ward": b.ward, "town": b.town,
            "address": b.address, "items": [{"name": i.name, "quantity": i.quantity, "fee": i.fee}
                                            for i in b.items],
            "total": b.total, "phone": b.phone, "name": b.name, "status": b.status,
            "cancelled_by": b.cancelled_by, "channel": b.channel, "version": b.version,
            "duplicate_of": list(duplicate_of or []),
            "created_at": b.created_at.isoformat(timespec="seconds") if b.created_at else None,
            "updated_at": b.updated_at.isoformat(timespec="seconds") if b.updated_at else None}


def history_dict(entry) -> Dict[str, Any]:
    return {"at": entry.at.isoformat(timespec="seconds"), "by": entry.by, "change": entry.change,
            "before": entry.before, "after": entry.after, "version": entry.version}


def sapporo_today():
    from common.booking.dates import now_jst  # ASSISTANT_TODAY pins it, as for the action server

    return now_jst().date()


def with_duplicates(store, found: List) -> List[Dict[str, Any]]:
    """Rows of ``found``, each with the receipt numbers of its obvious duplicates (common/booking/duplicates.py),
    compared with every booked collection on the same days, not only the listed ones."""
    from common.booking.duplicates import find_duplicates

    flags = find_duplicates(found, store.booked_on({b.day for b in found if b.status == "booked"}))
    return [booking_dict(b, flags.get(b.receipt_no)) for b in found]


class BadChange(ValueError):
    """A change request the page should never send (400, with the text to show)."""


def read_change(body: Dict[str, Any]) -> Tuple[int, Optional[Any], Optional[List[Tuple[str, Any]]]]:
    """(version, new day or None, [(item name, quantity)] or None) of a change request; BadChange."""
    from datetime import date

    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BadChange(texts.STAFF_BOOKING_NO_VERSION)
    day = body.get("day")
    if day is not None:
        try:
            day = date.fromisoformat(day) if isinstance(day, str) and len(day) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise BadChange(texts.STAFF_BOOKING_BAD_DATE)
    items = body.get("items")
    if items is not None:
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str)
                                                  for i in items):
            raise BadChange(texts.STAFF_BOOKING_BAD_ITEMS)
        items = [(i["name"], i.get("quantity", 1)) for i in items]
    if day is None and items is None:
        raise BadChange(texts.STAFF_BOOKING_NOTHING_TO_CHANGE)
    return version, day, items


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
        filters = booking_filters(request)
        store = booking_store()

        def listed() -> List[Dict[str, Any]]:
            found = store.list(**filters)
            if filters["day"] is None:  # no date chosen: from today on (Sapporo time)
                today = sapporo_today()
                found = [b for b in found if b.day >= today]
            return with_duplicates(store, found)

        rows = await run_db(listed)
        # names, phones and addresses: seeing them is recorded like opening a transcript
        await run_db(staff_auth.audit, db, user, "view_bookings", None,
                     f"{filters['day'] or '-'} {filters['ward'] or '-'} {filters['status'] or 'all'} ({len(rows)})")
        return json_response({"bookings": rows,
                              "summary": {"count": len(rows), "total": sum(r["total"] for r in rows),
                                          "duplicates": sum(1 for r in rows if r["duplicate_of"])}})

    @bp.get("/api/booking-items")
    @api(handles_bookings)
    async def booking_items(request: Request, user: Dict) -> HTTPResponse:
        """The items a booking can have (the fee table: dictionary names, fees, limits), for the change form."""
        from common.booking.fees import FeeTable

        table = await run_db(FeeTable.load)
        return json_response({"items": [{"name": i.name, "fee": i.fee} for i in table.items],
                              "limits": {"max_items_per_booking": table.limits.max_items_per_booking,
                                         "max_same_item": table.limits.max_same_item},
                              "sample": table.sample})

    def opened(store, made) -> Dict[str, Any]:
        """One booking as the change form needs it: duplicates, its history and the next free days of its ward."""
        row = with_duplicates(store, [made])[0]
        dates = store.available_dates(made.ward, count=10) if made.status == "booked" else []
        return {"booking": row, "history": [history_dict(e) for e in store.history(made.receipt_no)],
                "dates": [d.isoformat() for d in dates if d != made.day]}

    @bp.get("/api/bookings/<receipt_no:str>")
    @api(handles_bookings)
    async def booking(request: Request, user: Dict, receipt_no: str) -> HTTPResponse:
        store = booking_store()
        made = await run_db(store.get, receipt_no)
        if not made:
            return json_response({"error": texts.STAFF_NO_BOOKING}, 404)
        answer = await run_db(opened, store, made)
        await run_db(staff_auth.audit, db, user, "view_booking", None, made.receipt_no)
        return json_response(answer)

    @bp.post("/api/bookings/<receipt_no:str>/change")
    @api(handles_bookings)
    async def change_booking(request: Request, user: Dict, receipt_no: str) -> HTTPResponse:
        """Date and/or items on the citizen's behalf: {"version": n, "day": "YYYY-MM-DD", "items": [{name, quantity}]}."""
        from common.booking.items import ItemsRefused, price_items
        from common.booking.store import (BookingCancelled, DayFull, NotBookable, PastDeadline, StaleVersion,
                                          items_text)

        store = booking_store()
        if not await run_db(store.get, receipt_no):
            return json_response({"error": texts.STAFF_NO_BOOKING}, 404)
        try:
            version, day, wanted = read_change(json_body(request))
            items = None if wanted is None else await run_db(price_items, wanted)
        except (BadChange, ItemsRefused) as exc:
            return json_response({"error": str(exc)}, 400)
        try:
            changed = await run_db(store.change, receipt_no, day=day, items=items,
                                   by=STAFF_PREFIX + user["username"], expected_version=version, staff=True)
        except NotBookable as exc:
            return json_response({"error": exc.reason}, 400)
        except StaleVersion as exc:
            current = await run_db(opened, store, exc.current)
            return json_response({"error": texts.STAFF_BOOKING_STALE, **current}, 409)
        except BookingCancelled:
            return json_response({"error": texts.STAFF_BOOKING_CANCELLED}, 409)
        except PastDeadline:
            return json_response({"error": texts.STAFF_BOOKING_TOO_LATE}, 409)
        except DayFull as exc:
            return json_response({"error": exc.message}, 409)
        what = " ".join(part for part in (day and f"day={day.isoformat()}",
                                          items is not None and "items=" + items_text(items)) if part)
        await run_db(staff_auth.audit, db, user, "change_booking", None, f"{changed.receipt_no} {what}")
        return json_response(await run_db(opened, store, changed))

    @bp.post("/api/bookings/<receipt_no:str>/cancel")
    @api(handles_bookings)
    async def cancel_booking(request: Request, user: Dict, receipt_no: str) -> HTTPResponse:
        from common.booking.store import BookingError, StaleVersion

        store = booking_store()
        if not await run_db(store.get, receipt_no):
            return json_response({"error": texts.STAFF_NO_BOOKING}, 404)
        version = json_body(request).get("version")  # the page sends it: no cancel of a booking changed meanwhile
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            return json_response({"error": texts.STAFF_BOOKING_NO_VERSION}, 400)
        try:
            cancelled = await run_db(store.cancel, receipt_no, by=STAFF_PREFIX + user["username"], staff=True,
                                     expected_version=version)
        except StaleVersion:
            return json_response({"error": texts.STAFF_BOOKING_STALE}, 409)
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
