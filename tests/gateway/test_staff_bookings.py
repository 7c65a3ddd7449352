"""Staff work with 大型ごみ bookings in the console's API: list per date and ward with items and totals,
cancel on behalf (audited; the capacity is freed), CSV for the collection crew. Real gateway process, real
booking store (SQLite file shared with the gateway, as the action server and gateway share it)."""

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from common.booking import schedule
from common.booking.dates import available_dates
from common.booking.store import BookedItem, BookingRequest, BookingStore
from tests.gateway.conftest import GatewayProcess, staff_user

TODAY = date(2025, 1, 15)
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=timezone(timedelta(hours=9)))


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    directory = tmp_path_factory.mktemp("bookings")
    url = f"sqlite:///{directory / 'assistant.db'}"
    store = BookingStore(url)
    made = []
    for ward, name, town in (("中央区", "ソファー", "南27条西"), ("中央区", "自転車", "宮の森"), ("北区", "たんす", "北七条西")):
        day = available_dates(schedule(), ward, TODAY, 1)[0]
        made.append(store.book(BookingRequest(items=[BookedItem(name, 2, 1000)], ward=ward, area=None, town=town,
                                              address=f"{ward}{town}1-1", name=None, phone="09012345678", day=day,
                                              owner_ref="x", channel="web"), f"key-{ward}-{name}", now=NOW))
    process = GatewayProcess(engine.url, directory, ASSISTANT_DB_URL=url, ASSISTANT_TODAY=TODAY.isoformat())
    sessions = {role: staff_user(process, f"bk-{role}", role) for role in ("staff", "counselor")}
    yield process, store, made, sessions
    process.stop()


def test_list_per_day_and_ward_with_items_and_totals(setup):
    _, _, made, sessions = setup
    first = made[0]
    answer = sessions["staff"].get(f"/staff/api/bookings?day={first.day.isoformat()}&ward=中央区&status=all")
    assert answer.status_code == 200
    rows = answer.json()["bookings"]
    assert {r["receipt_no"] for r in rows} == {b.receipt_no for b in made if b.ward == "中央区" and b.day == first.day}
    assert rows[0]["items"][0]["quantity"] == 2 and rows[0]["total"] == 2000
    assert answer.json()["summary"]["total"] == 2000 * len(rows)


def test_cancel_on_behalf_frees_the_day_and_is_audited(setup):
    process, store, made, sessions = setup
    target = made[2]
    answer = sessions["staff"].post(f"/staff/api/bookings/{target.receipt_no}/cancel")
    assert answer.status_code == 200 and answer.json()["booking"]["status"] == "cancelled"
    assert store.get(target.receipt_no).cancelled_by == "staff:bk-staff"
    assert sessions["staff"].post("/staff/api/bookings/ZZZZ-ZZZZ/cancel").status_code == 404


def test_csv_for_the_crew(setup):
    _, _, made, sessions = setup
    answer = sessions["staff"].get(f"/staff/api/bookings.csv?day={made[0].day.isoformat()}")
    assert answer.status_code == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert "受付番号" in rows[0] and any(made[0].receipt_no in row for row in rows[1:])


def test_counselors_do_not_handle_bookings(setup):
    _, _, made, sessions = setup
    assert sessions["counselor"].get("/staff/api/bookings").status_code == 403
    assert sessions["counselor"].post(f"/staff/api/bookings/{made[0].receipt_no}/cancel").status_code == 403


def test_bookings_page_is_served_to_staff(setup):
    _, _, _, sessions = setup
    page = sessions["staff"].get("/staff/bookings")
    assert page.status_code == 200 and "大型ごみ" in page.text


def test_viewing_the_booking_list_is_audited(setup):
    """Names, phones and addresses: who looked, when, at which list (like opening a transcript)."""
    from gateway.staff import auth as staff_auth
    from gateway.storage.db import connect

    process, _, made, sessions = setup
    day = made[0].day.isoformat()
    assert sessions["staff"].get(f"/staff/api/bookings?day={day}&ward=中央区&status=all").status_code == 200
    assert sessions["counselor"].get(f"/staff/api/bookings?day={day}").status_code == 403
    entries = [e for e in staff_auth.audit_entries(connect(process.db_url), 50) if e["action"] == "view_bookings"]
    assert entries and entries[0]["username"] == "bk-staff"
    assert entries[0]["detail"].startswith(f"{day} 中央区 all")
    assert "bk-counselor" not in {e["username"] for e in entries}  # refused, so nothing was seen
