"""Staff work with 大型ごみ bookings in the console's API: list per date and ward with items and totals,
cancel on behalf (audited; the capacity is freed), CSV for the collection crew; change the date and the items on
a citizen's behalf with the chat's rules (versioned: a stale change is 409; history), duplicate flags, audit of
every view. Real gateway process, real
booking store (SQLite file shared with the gateway, as the action server and gateway share it)."""

import csv
import io
import itertools
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
    sessions = {role: staff_user(process, f"bk-{role}", role) for role in ("staff", "counselor", "supervisor", "admin")}
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


# ---- change on a citizen's behalf, duplicates, audit of views ----

_phones = itertools.count(1)


def book(store, ward="中央区", town="南27条西", address=None, phone=None, day=None, items=None):
    """A booking as the chat makes it (each its own phone number: the open-bookings limit is per phone)."""
    day = day or available_dates(schedule(), ward, TODAY, 1)[0]
    phone = phone or f"0901111{next(_phones):04d}"
    request = BookingRequest(items=items or [BookedItem("たんす", 1, 1000)], ward=ward, area=None, town=town,
                             address=address or f"{ward}{town}1-1", name=None, phone=phone, day=day, channel="web")
    return store.book(request, f"key-{phone}-{day}-{address}", now=NOW)


def audit_of(process, action):
    from gateway.staff import auth as staff_auth
    from gateway.storage.db import connect

    return [e for e in staff_auth.audit_entries(connect(process.db_url), 200) if e["action"] == action]


def opened(session, receipt):
    answer = session.get(f"/staff/api/bookings/{receipt}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def change(session, receipt, body, csrf=None):
    return session.post(f"/staff/api/bookings/{receipt}/change", body, csrf=csrf)


def test_change_date_and_items_on_behalf_with_the_chats_rules(setup):
    process, store, _, sessions = setup
    made = book(store, items=[BookedItem("たんす", 1, 1000)])
    shown = opened(sessions["staff"], made.receipt_no)
    assert shown["booking"]["version"] == 1 and shown["history"] == []
    assert shown["dates"] and made.day.isoformat() not in shown["dates"]  # the next free days of its ward
    new_day = shown["dates"][0]
    # the fee comes from the table, whatever the page sends; いす by its alias-free spelling in another script
    answer = change(sessions["staff"], made.receipt_no, {
        "version": 1, "day": new_day,
        "items": [{"name": "ソファー", "quantity": 2, "fee": 1}, {"name": "そふぁー", "quantity": 1}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["booking"]["receipt_no"] == made.receipt_no  # the receipt stays
    assert body["booking"]["day"] == new_day and body["booking"]["version"] == 2
    assert body["booking"]["items"] == [{"name": "ソファー", "quantity": 3, "fee": 1000}]
    assert body["booking"]["total"] == 3000
    assert [(h["change"], h["by"], h["before"], h["after"]) for h in body["history"]] == [
        ("day", "staff:bk-staff", made.day.isoformat(), new_day),
        ("items", "staff:bk-staff", "たんす×1（1,000円）", "ソファー×3（3,000円）")]
    stored = store.get(made.receipt_no)
    assert stored.day.isoformat() == new_day and stored.total == 3000 and stored.version == 2
    # the capacity unit moved with it
    counts = store.booked_counts("中央区", made.day, stored.day)
    assert counts.get(stored.day, 0) >= 1
    entries = audit_of(process, "change_booking")
    assert entries[0]["username"] == "bk-staff" and entries[0]["detail"].startswith(f"{made.receipt_no} day={new_day}")
    assert any(e["detail"] == made.receipt_no for e in audit_of(process, "view_booking"))


def test_a_change_from_a_stale_version_is_refused(setup):
    """The citizen changed the items in chat after the page was opened: staff's change is 409, nothing overwritten,
    and the answer carries the booking as it is now, with the citizen's change in its history."""
    _, store, _, sessions = setup
    made = book(store)
    assert opened(sessions["staff"], made.receipt_no)["booking"]["version"] == 1
    store.change_items(made.receipt_no, [BookedItem("ベッド", 1, 2000)], now=NOW)  # as actions/booking.py does
    answer = change(sessions["staff"], made.receipt_no, {"version": 1, "items": [{"name": "ソファー", "quantity": 1}]})
    assert answer.status_code == 409
    body = answer.json()
    assert "変更されています" in body["error"] and body["booking"]["version"] == 2
    assert body["booking"]["items"][0]["name"] == "ベッド"
    assert [(h["change"], h["by"]) for h in body["history"]] == [("items", "citizen")]
    assert store.get(made.receipt_no).items == [BookedItem("ベッド", 1, 2000)]
    # with the current version it goes through
    assert change(sessions["staff"], made.receipt_no,
                  {"version": 2, "items": [{"name": "ソファー", "quantity": 1}]}).status_code == 200
    # a cancel from the old version is refused too
    assert sessions["staff"].post(f"/staff/api/bookings/{made.receipt_no}/cancel", {"version": 2}).status_code == 409
    assert store.get(made.receipt_no).status == "booked"


def _not_a_collection_day(ward="中央区"):
    plan = schedule()
    day = TODAY + timedelta(days=plan.lead_days + 1)
    while day.weekday() in plan.weekdays[ward]:
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize("body, status, says", [
    ({"items": [{"name": "ソファー", "quantity": 1}]}, 400, "版"),  # no version
    ({"version": "1", "items": [{"name": "ソファー"}]}, 400, "版"),
    ({"version": 1}, 400, "指定してください"),  # nothing to change
    ({"version": 1, "day": "2025-02-30"}, 400, "日付が正しくありません"),  # impossible
    ({"version": 1, "day": "来週の火曜"}, 400, "日付が正しくありません"),
    ({"version": 1, "day": 20250220}, 400, "日付が正しくありません"),
    ({"version": 1, "day": "2025-01-10"}, 400, "過ぎた日付"),
    ({"version": 1, "day": "NOT-A-COLLECTION-DAY"}, 400, "収集日ではありません"),
    ({"version": 1, "day": "2026-12-03"}, 400, "まだ受け付けていません"),  # beyond max_days_ahead
    ({"version": 1, "items": []}, 400, "1つ以上"),
    ({"version": 1, "items": [{"name": "ねこ", "quantity": 1}]}, 400, "手数料表にありません"),
    ({"version": 1, "items": [{"name": "冷蔵庫", "quantity": 1}]}, 400, "手数料表にありません"),  # 家電4品目
    ({"version": 1, "items": [{"name": "ソファー", "quantity": 0}]}, 400, "1以上"),
    ({"version": 1, "items": [{"name": "ソファー", "quantity": "two"}]}, 400, "整数"),
    ({"version": 1, "items": [{"name": "ソファー", "quantity": 6}]}, 400, "5点まで"),
    ({"version": 1, "items": [{"name": "ソファー", "quantity": 5}, {"name": "ベッド", "quantity": 5},
                              {"name": "たんす", "quantity": 1}]}, 400, "合計10点まで"),
    ({"version": 1, "items": "ソファー"}, 400, "品目の指定"),
    ({"version": 1, "items": [{"quantity": 1}]}, 400, "品目の指定"),
    (["version", 1], 400, "版"),
])
def test_bad_changes_are_400_and_change_nothing(setup, body, status, says):
    _, store, _, sessions = setup
    made = book(store)
    if isinstance(body, dict) and body.get("day") == "NOT-A-COLLECTION-DAY":
        body = dict(body, day=_not_a_collection_day().isoformat())
    answer = change(sessions["staff"], made.receipt_no, body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]
    assert store.get(made.receipt_no) == made and store.history(made.receipt_no) == []


def test_invalid_json_unknown_receipt_and_cancelled_booking(setup):
    import httpx

    _, store, _, sessions = setup
    staff = sessions["staff"]
    made = book(store)
    raw = httpx.post(f"{staff.base_url}/staff/api/bookings/{made.receipt_no}/change", content=b"{not json",
                     headers=staff.cookie | {"X-CSRF-Token": staff.csrf, "Content-Type": "application/json"})
    assert raw.status_code == 400
    assert staff.get("/staff/api/bookings/ZZZZ-ZZZZ").status_code == 404
    assert staff.get("/staff/api/bookings/<script>").status_code == 404
    assert change(staff, "ZZZZ-ZZZZ", {"version": 1, "items": [{"name": "ソファー", "quantity": 1}]}).status_code == 404
    store.cancel(made.receipt_no, by="citizen", now=NOW)
    answer = change(staff, made.receipt_no, {"version": 2, "items": [{"name": "ソファー", "quantity": 1}]})
    assert answer.status_code == 409 and "キャンセル" in answer.json()["error"]


def test_roles_session_and_csrf_of_the_new_endpoints(setup):
    from tests.gateway.conftest import HTTP

    process, store, _, sessions = setup
    made = book(store)
    body = {"version": 1, "items": [{"name": "ソファー", "quantity": 1}]}
    for path in (f"/staff/api/bookings/{made.receipt_no}", "/staff/api/booking-items"):
        assert HTTP.get(process.url + path).status_code == 401
        assert sessions["counselor"].get(path).status_code == 403
        for role in ("staff", "supervisor", "admin"):
            assert sessions[role].get(path).status_code == 200, (role, path)
    assert HTTP.post(f"{process.url}/staff/api/bookings/{made.receipt_no}/change", json=body).status_code == 401
    assert change(sessions["counselor"], made.receipt_no, body).status_code == 403
    assert change(sessions["staff"], made.receipt_no, body, csrf="").status_code == 403
    assert change(sessions["staff"], made.receipt_no, body, csrf="wrong").status_code == 403
    assert store.get(made.receipt_no).version == 1  # none of these changed it
    assert "bk-counselor" not in {e["username"] for e in audit_of(process, "view_booking")}
    assert change(sessions["supervisor"], made.receipt_no, body).status_code == 200
    assert change(sessions["admin"], made.receipt_no, dict(body, version=2)).status_code == 200
    items = sessions["staff"].get("/staff/api/booking-items").json()
    assert {"name": "ソファー", "fee": 1000} in items["items"] and items["limits"]["max_same_item"] == 5


def test_obvious_duplicates_are_flagged(setup):
    """Same address (written in other widths / spacing), phone and day: flagged both ways; another phone or a
    cancelled one is not."""
    _, store, _, sessions = setup
    day = available_dates(schedule(), "西区", TODAY, 1)[0]
    first = book(store, ward="西区", town="琴似1条", address="西区琴似1条 7丁目1-5", phone="011-222-3333", day=day)
    second = book(store, ward="西区", town="琴似1条", address="西区琴似１条７－１－５", phone="０１１２２２３３３３", day=day)
    other = book(store, ward="西区", town="琴似1条", address="西区琴似1条7-1-5", phone="0112224444", day=day)
    gone = book(store, ward="西区", town="琴似1条", address="西区琴似1条7-1-5 ", phone="0112223333",
                day=available_dates(schedule(), "西区", TODAY, 2)[1])
    answer = sessions["staff"].get(f"/staff/api/bookings?day={day.isoformat()}&ward=西区&status=all")
    rows = {r["receipt_no"]: r for r in answer.json()["bookings"]}
    assert rows[first.receipt_no]["duplicate_of"] == [second.receipt_no]
    assert rows[second.receipt_no]["duplicate_of"] == [first.receipt_no]
    assert rows[other.receipt_no]["duplicate_of"] == []
    assert answer.json()["summary"]["duplicates"] == 2
    store.cancel(second.receipt_no, by="citizen", now=NOW)
    rows = {r["receipt_no"]: r for r in sessions["staff"].get(
        f"/staff/api/bookings?day={day.isoformat()}&ward=西区&status=all").json()["bookings"]}
    assert rows[first.receipt_no]["duplicate_of"] == [] and rows[second.receipt_no]["duplicate_of"] == []
    assert opened(sessions["staff"], gone.receipt_no)["booking"]["duplicate_of"] == []  # another day


def test_opening_and_exporting_are_audited(setup):
    process, store, _, sessions = setup
    made = book(store)
    opened(sessions["supervisor"], made.receipt_no)
    assert any(e["username"] == "bk-supervisor" and e["detail"] == made.receipt_no
               for e in audit_of(process, "view_booking"))
    assert sessions["staff"].get(f"/staff/api/bookings.csv?day={made.day.isoformat()}&ward=中央区").status_code == 200
    assert audit_of(process, "export_bookings")[0]["detail"] == f"{made.day.isoformat()} 中央区"


# ---- the store underneath (common/booking/store.py): versions, history, staff's deadline, old databases ----

def test_every_change_is_versioned_and_in_the_history(tmp_path):
    store = BookingStore(f"sqlite:///{tmp_path / 'a.db'}")
    made = book(store)
    moved_to = available_dates(schedule(), "中央区", TODAY, 3)[2]
    store.change_date(made.receipt_no, moved_to, NOW)  # the chat's call, by the citizen
    assert store.change_date(made.receipt_no, moved_to, NOW).version == 2  # the same day again changes nothing
    store.cancel(made.receipt_no, by="staff:yamada", now=NOW, staff=True)
    assert store.get(made.receipt_no).version == 3
    assert [(h.change, h.by, h.before, h.after, h.version) for h in store.history(made.receipt_no)] == [
        ("day", "citizen", made.day.isoformat(), moved_to.isoformat(), 2),
        ("cancel", "staff:yamada", "booked", "cancelled", 3)]


def test_staff_change_after_the_citizens_deadline_but_not_on_the_collection_day(tmp_path):
    from common.booking.store import PastDeadline

    store = BookingStore(f"sqlite:///{tmp_path / 'a.db'}")
    made = book(store)
    past_deadline = datetime.combine(made.day - timedelta(days=1), datetime.min.time(), NOW.tzinfo) + timedelta(hours=9)
    with pytest.raises(PastDeadline):
        store.change_items(made.receipt_no, [BookedItem("ソファー", 1, 1000)], past_deadline)  # the citizen
    assert store.change(made.receipt_no, items=[BookedItem("ソファー", 1, 1000)], now=past_deadline,
                        by="staff:yamada", staff=True).total == 1000
    on_the_day = datetime.combine(made.day, datetime.min.time(), NOW.tzinfo) + timedelta(hours=7)
    with pytest.raises(PastDeadline):
        store.change(made.receipt_no, items=[BookedItem("ベッド", 1, 2000)], now=on_the_day, by="staff:x", staff=True)


def test_a_database_made_before_versions_gets_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # bulky_bookings as it was before the version column
        conn.execute("""CREATE TABLE bulky_bookings (id INTEGER PRIMARY KEY, receipt_no VARCHAR(9) NOT NULL UNIQUE,
            created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, owner_ref VARCHAR(16), channel VARCHAR(32) NOT NULL,
            ward VARCHAR(16) NOT NULL, area VARCHAR(32), town VARCHAR(100) NOT NULL, address VARCHAR(200) NOT NULL,
            name VARCHAR(100), phone VARCHAR(16) NOT NULL, day DATE NOT NULL, items TEXT NOT NULL, total INTEGER NOT NULL,
            status VARCHAR(16) NOT NULL, cancelled_by VARCHAR(64), cancelled_at DATETIME, remind BOOLEAN NOT NULL,
            reminded_at DATETIME, idempotency_key VARCHAR(64) NOT NULL UNIQUE)""")
        conn.execute("""INSERT INTO bulky_bookings VALUES (1, 'K7M2-9QXA', '2025-01-15 09:00:00', '2025-01-15 09:00:00',
            NULL, 'web', '中央区', NULL, '南6条西', '中央区南6条西8丁目3-5', NULL, '09012345678', '2025-01-23',
            '[{"name": "ソファー", "quantity": 1, "fee": 1000}]', 1000, 'booked', NULL, NULL, 0, NULL, 'k')""")
    store = BookingStore(f"sqlite:///{path}")
    assert store.get("K7M2-9QXA").version == 1
    assert store.change_items("K7M2-9QXA", [BookedItem("ベッド", 1, 2000)], NOW).version == 2


def test_two_changes_from_the_same_version_at_once_one_wins(tmp_path):
    """The citizen in chat and staff on the page, at the same moment, both from version 1: one change is made,
    the other refused (the row is locked in the change's transaction; SQLite: BEGIN IMMEDIATE)."""
    from concurrent.futures import ThreadPoolExecutor

    from common.booking.store import StaleVersion

    store = BookingStore(f"sqlite:///{tmp_path / 'a.db'}")
    made = book(store)

    def attempt(i):
        try:
            return store.change(made.receipt_no, items=[BookedItem(("ソファー", "ベッド")[i], 1, 1000)], now=NOW,
                                by=("citizen", "staff:x")[i], expected_version=1, staff=bool(i))
        except StaleVersion as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(attempt, range(2)))
    assert sorted(type(r).__name__ for r in results) == ["Booking", "StaleVersion"]
    assert store.get(made.receipt_no).version == 2 and len(store.history(made.receipt_no)) == 1
