"""The booking store on a real SQLite file and a real PostgreSQL: booking, capacity under concurrency,
idempotency, deadlines, staff lists and CSV, reminders. The clock is pinned (Fri 2026-11-20 10:00 JST)."""

import csv
import io
import subprocess
import sys
import threading
import uuid
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from common.booking.config import AbuseLimits
from common.booking.dates import JST, Schedule
from common.booking.store import (BookedItem, BookingCancelled, BookingNotFound, BookingRequest, BookingStore, DayFull,
                               NotBookable, PastDeadline, format_phone, owner_ref, validate_phone)
from tools.model import ENGINE_BIN, ROOT, engine_env

store_module = sys.modules["common.booking.store"]  # (the package's attribute `store` is its store() function)

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=JST)
DAY = date(2026, 12, 3)  # Thursday; change deadline Tue 12-01 17:00
SCHEDULE = Schedule.from_dict({
    "daily_capacity": 30,
    "wards": {"中央区": {"weekdays": ["月", "木"], "daily_capacity": 5}, "北区": {"weekdays": ["火", "金"]}},
    "no_collection": ["12-29", "12-30", "12-31", "01-01", "01-02", "01-03"],
})


@pytest.fixture(scope="module")
def postgres_database(postgres_url):
    """A database of its own on the test server."""
    name = f"booking_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        import psycopg2  # noqa: F401 - the engine environment's driver
    except ImportError:  # the gateway environment (SQLAlchemy 2) has psycopg 3
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'assistant.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    booking_store = BookingStore(url, SCHEDULE, limits=AbuseLimits.off())  # the limits: test_booking_limits.py
    yield booking_store
    with booking_store.engine.begin() as conn:
        conn.execute(store_module.bookings.delete())
        conn.execute(store_module.capacity.delete())
        conn.execute(store_module.lookup_failures.delete())


def request_for(day=DAY, ward="中央区", items=None, owner="line:U123", remind=False, phone="090-1234-5678", town="大通西"):
    items = [BookedItem("ソファー", 1, 1000), BookedItem("電子レンジ", 2, 500)] if items is None else items
    return BookingRequest(items, ward,
                          "中央区5", town, "1丁目1-1 札幌ハイツ101", "札幌 太郎", phone, day, owner_ref(owner), "line", remind)


def booked_count(store, day=DAY, ward="中央区"):
    return store.booked_counts(ward, day, day).get(day, 0)


def test_book_get_find(store):
    booking = store.book(request_for(), "event-1", NOW)
    assert booking.receipt_no == store_module.normalize_receipt(booking.receipt_no)
    assert (booking.total, booking.status, booking.phone, booking.day) == (2000, "booked", "09012345678", DAY)
    assert booking.items == [BookedItem("ソファー", 1, 1000), BookedItem("電子レンジ", 2, 500)]
    assert booking.items_text == "ソファー×1、電子レンジ×2"
    assert booking.created_at == NOW and booking.owner_ref == owner_ref("line:U123") and len(booking.owner_ref) == 16
    assert (booking.channel, booking.area, booking.name) == ("line", "中央区5", "札幌 太郎")
    assert store.get(booking.receipt_no.lower().replace("-", "")) == booking
    assert store.find(booking.receipt_no, "０９０−１２３４−５６７８") == booking  # full-width, other hyphen
    assert store.find(booking.receipt_no, "09012345678") == booking
    assert store.find(booking.receipt_no, "090-1234-0000") is None
    assert store.find(booking.receipt_no, "") is None
    assert store.get("AAAA-AAAA") is None and store.get("not a number") is None
    assert booked_count(store) == 1


def test_days_that_cannot_be_booked(store):
    with pytest.raises(NotBookable, match="収集日ではありません"):
        store.book(request_for(day=date(2026, 12, 2)), "k1", NOW)  # Wednesday
    with pytest.raises(NotBookable, match="締め切りました"):
        store.book(request_for(day=DAY), "k2", datetime(2026, 12, 1, 17, 0, tzinfo=JST))
    with pytest.raises(NotBookable, match="年末年始"):
        store.book(request_for(day=date(2026, 12, 31)), "k3", NOW)
    with pytest.raises(NotBookable):
        store.book(request_for(ward="札幌区"), "k4", NOW)
    with pytest.raises(ValueError):
        store.book(request_for(phone="12345"), "k5", NOW)
    with pytest.raises(ValueError):
        store.book(request_for(items=[]), "k6", NOW)
    assert store.list(status=None) == [] and booked_count(store) == 0


def test_same_idempotency_key_books_once(store):
    first = store.book(request_for(), "line-event-42", NOW)
    again = store.book(request_for(), "line-event-42", NOW)
    assert again == first
    # even after the deadline (a redelivered event is answered with the booking it made)
    assert store.book(request_for(), "line-event-42", datetime(2026, 12, 2, 9, 0, tzinfo=JST)) == first
    assert len(store.list()) == 1 and booked_count(store) == 1


def run_at_once(n, action):
    """``action(i)`` in ``n`` threads released together; the results (or exceptions) in thread order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_same_key_concurrently_books_once(store):
    results = run_at_once(20, lambda i: store.book(request_for(), "double-tap", NOW))
    assert all(not isinstance(r, Exception) for r in results), results
    assert len({r.receipt_no for r in results}) == 1
    assert len(store.list()) == 1 and booked_count(store) == 1


def test_capacity_is_never_exceeded_under_concurrency(store):
    store.book(request_for(), "early-1", NOW)
    store.book(request_for(), "early-2", NOW)  # capacity 5: 3 units remain
    results = run_at_once(50, lambda i: store.book(request_for(owner=f"line:U{i}"), f"confirm-{i}", NOW))
    booked = [r for r in results if isinstance(r, store_module.Booking)]
    full = [r for r in results if isinstance(r, DayFull)]
    others = [r for r in results if not isinstance(r, (DayFull, store_module.Booking))]
    assert len(booked) == 3 and len(full) == 47, others
    assert full[0].day == DAY and "いっぱい" in full[0].message
    assert len({b.receipt_no for b in booked}) == 3
    assert len(store.list(day=DAY)) == 5 and booked_count(store) == 5
    # the full day is no longer offered
    assert DAY not in store.available_dates("中央区", count=5, now=NOW)


def test_cancel_frees_the_unit(store):
    bookings = [store.book(request_for(), f"k{i}", NOW) for i in range(5)]
    with pytest.raises(DayFull):
        store.book(request_for(), "k5", NOW)
    cancelled = store.cancel(bookings[0].receipt_no, by="citizen", now=NOW)
    assert (cancelled.status, cancelled.cancelled_by, cancelled.cancelled_at) == ("cancelled", "citizen", NOW)
    assert booked_count(store) == 4
    store.book(request_for(), "k5", NOW)
    assert booked_count(store) == 5
    # cancelling again changes nothing (a double tap), and frees no second unit
    assert store.cancel(bookings[0].receipt_no, by="citizen", now=NOW) == cancelled
    assert booked_count(store) == 5
    with pytest.raises(BookingNotFound):
        store.cancel("ZZZZ-ZZZZ", by="citizen", now=NOW)


def test_deadlines_for_citizens_and_staff(store):
    booking = store.book(request_for(), "k1", NOW)
    just_before = datetime(2026, 12, 1, 16, 59, tzinfo=JST)
    deadline = datetime(2026, 12, 1, 17, 0, tzinfo=JST)
    store.change_items(booking.receipt_no, [BookedItem("ソファー", 1, 1000)], just_before)
    with pytest.raises(PastDeadline) as error:
        store.cancel(booking.receipt_no, by="citizen", now=deadline)
    assert error.value.deadline == deadline and "12月1日（火）17時00分" in error.value.message
    with pytest.raises(PastDeadline):
        store.change_date(booking.receipt_no, date(2026, 12, 10), deadline)
    with pytest.raises(PastDeadline):
        store.change_items(booking.receipt_no, [BookedItem("机", 1, 1000)], deadline)
    cancelled = store.cancel(booking.receipt_no, by="staff:yamada", now=datetime(2026, 12, 2, 9, 0, tzinfo=JST),
                             staff=True)
    assert (cancelled.status, cancelled.cancelled_by) == ("cancelled", "staff:yamada")
    assert booked_count(store) == 0


def test_change_date_moves_the_unit(store):
    booking = store.book(request_for(), "k1", NOW)
    moved = store.change_date(booking.receipt_no, date(2026, 12, 7), NOW)  # Monday
    assert moved.day == date(2026, 12, 7) and moved.receipt_no == booking.receipt_no
    assert booked_count(store) == 0 and booked_count(store, date(2026, 12, 7)) == 1
    with pytest.raises(NotBookable, match="収集日ではありません"):
        store.change_date(booking.receipt_no, date(2026, 12, 8), NOW)
    for i in range(5):
        store.book(request_for(), f"fill-{i}", NOW)
    with pytest.raises(DayFull):
        store.change_date(booking.receipt_no, DAY, NOW)
    assert store.get(booking.receipt_no).day == date(2026, 12, 7)  # unchanged, units unchanged
    assert booked_count(store) == 5 and booked_count(store, date(2026, 12, 7)) == 1
    # the new date's own deadline: on Tue 11-24 after 17:00, Thu 11-26 can no longer be chosen
    with pytest.raises(NotBookable, match="締め切りました"):
        store.change_date(booking.receipt_no, date(2026, 11, 26), datetime(2026, 11, 24, 17, 30, tzinfo=JST))
    store.cancel(booking.receipt_no, by="citizen", now=NOW)
    with pytest.raises(BookingCancelled):
        store.change_date(booking.receipt_no, date(2026, 12, 10), NOW)


def test_concurrent_date_changes_in_opposite_directions(store):
    """Two bookings swapping days at once: no deadlock, units stay right."""
    a = store.book(request_for(), "a", NOW)
    b = store.book(request_for(day=date(2026, 12, 7)), "b", NOW)
    results = run_at_once(2, lambda i: store.change_date((a, b)[i].receipt_no, (date(2026, 12, 7), DAY)[i], NOW))
    assert all(not isinstance(r, Exception) for r in results), results
    assert booked_count(store) == 1 and booked_count(store, date(2026, 12, 7)) == 1


def test_change_items(store):
    booking = store.book(request_for(), "k1", NOW)
    changed = store.change_items(booking.receipt_no, [BookedItem("たんす", 2, 1000), BookedItem("いす", 1, 200)], NOW)
    assert changed.total == 2200 and changed.items_text == "たんす×2、いす×1"
    with pytest.raises(ValueError):
        store.change_items(booking.receipt_no, [], NOW)


def test_list_and_csv_for_the_crew(store):
    a = store.book(request_for(town="南1条西"), "a", NOW)
    b = store.book(request_for(town="北1条西", items=[BookedItem("たんす", 1, 1000)]), "b", NOW)
    c = store.book(request_for(ward="北区", day=date(2026, 12, 4), phone="011-222-4894"), "c", NOW)
    d = store.book(request_for(day=date(2026, 12, 7)), "d", NOW)
    store.cancel(d.receipt_no, by="citizen", now=NOW)
    assert [x.receipt_no for x in store.list()] == [b.receipt_no, a.receipt_no, c.receipt_no]  # day, ward, town
    assert [x.receipt_no for x in store.list(day=DAY)] == [b.receipt_no, a.receipt_no]
    assert [x.receipt_no for x in store.list(ward="北区")] == [c.receipt_no]
    assert [x.receipt_no for x in store.list(status="cancelled")] == [d.receipt_no]
    assert len(store.list(status=None)) == 4

    text = store.export_csv()
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert rows[0] == ["収集日", "区", "町名", "番地", "受付番号", "品目と数量", "手数料合計", "電話番号", "氏名"]
    assert rows[1] == ["2026-12-03", "中央区", "北1条西", "1丁目1-1 札幌ハイツ101", b.receipt_no, "たんす×1", "1000",
                       "090-1234-5678", "札幌 太郎"]
    assert rows[3][6:8] == ["2000", "011-222-4894"]
    assert len(rows) == 4  # the cancelled one is not collected
    assert len(list(csv.reader(io.StringIO(store.export_csv(day=DAY, ward="中央区")[1:])))) == 3


def test_reminders_the_day_before(store):
    wanted = store.book(request_for(remind=True), "a", NOW)
    store.book(request_for(remind=False), "b", NOW)
    cancelled = store.book(request_for(remind=True), "c", NOW)
    store.cancel(cancelled.receipt_no, by="citizen", now=NOW)
    store.book(request_for(remind=True, day=date(2026, 12, 7)), "d", NOW)
    assert store.due_reminders(datetime(2026, 12, 2, 9, 59, tzinfo=JST)) == []  # before 10:00
    assert store.due_reminders(datetime(2026, 12, 1, 12, 0, tzinfo=JST)) == []  # two days before
    due = store.due_reminders(datetime(2026, 12, 2, 10, 0, tzinfo=JST))
    assert [b.receipt_no for b in due] == [wanted.receipt_no]
    assert store.mark_reminded(wanted.receipt_no, datetime(2026, 12, 2, 10, 0, 5, tzinfo=JST)) is True
    assert store.mark_reminded(wanted.receipt_no, datetime(2026, 12, 2, 10, 1, tzinfo=JST)) is False  # other worker
    assert store.due_reminders(datetime(2026, 12, 2, 18, 0, tzinfo=JST)) == []
    assert store.get(wanted.receipt_no).reminded_at == datetime(2026, 12, 2, 10, 0, 5, tzinfo=JST)


def test_moving_a_reminded_booking_reminds_again(store):
    booking = store.book(request_for(remind=True, day=date(2026, 11, 26)), "a", NOW)
    store.mark_reminded(booking.receipt_no, NOW)
    store.change_date(booking.receipt_no, DAY, NOW)
    assert [b.receipt_no for b in store.due_reminders(datetime(2026, 12, 2, 10, 0, tzinfo=JST))] == [booking.receipt_no]


def test_active_bookings_of_a_chat_user(store):
    mine = store.book(request_for(owner="line:Ume"), "a", NOW)
    later = store.book(request_for(owner="line:Ume", day=date(2026, 12, 10)), "b", NOW)
    gone = store.book(request_for(owner="line:Ume", day=date(2026, 12, 7)), "c", NOW)
    store.cancel(gone.receipt_no, by="citizen", now=NOW)
    store.book(request_for(owner="line:Uother"), "d", NOW)
    assert [b.receipt_no for b in store.active_for_owner(owner_ref("line:Ume"), today=NOW.date())] == [
        mine.receipt_no, later.receipt_no]
    assert [b.receipt_no for b in store.active_for_owner(owner_ref("line:Ume"), today=date(2026, 12, 4))] == [
        later.receipt_no]


def test_receipt_number_collision_is_retried(store, monkeypatch):
    first = store.book(request_for(), "a", NOW)
    numbers = iter([first.receipt_no, "XXXX-2345"])
    monkeypatch.setattr(store_module, "new_receipt_number", lambda: next(numbers))
    second = store.book(request_for(), "b", NOW)
    assert second.receipt_no == "XXXX-2345" and booked_count(store) == 2


def test_phone_numbers():
    assert validate_phone("090-1234-5678") == "09012345678"
    assert validate_phone("０８０（１２３４）５６７８") == "08012345678"
    assert validate_phone("+81 70 1234 5678") == "07012345678"
    assert validate_phone("011-222-4894") == "0112224894"
    assert validate_phone("0123-45-6789") == "0123456789"
    assert validate_phone("050-1234-5678") == "05012345678"
    for bad in ("", None, "12345", "090-1234-567", "0901234567", "011-222-48945", "0120-123-456", "abc", "1112224894"):
        assert validate_phone(bad) is None, bad
    assert format_phone("0112224894") == "011-222-4894"
    assert format_phone("0123456789") == "0123-45-6789"
    assert format_phone("09012345678") == "090-1234-5678"


def test_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = BookingStore(url, SCHEDULE)
    booking = store.book(request_for(remind=True), "a", NOW)

    def cli(*args):
        return subprocess.run([str(ENGINE_BIN / "python"), "-m", "common.booking", "--db", url, *args], cwd=ROOT,
                              env=engine_env(), capture_output=True, text=True)

    listed = cli("list", "--day", "2026-12-03", "--ward", "中央区")
    assert listed.returncode == 0 and booking.receipt_no in listed.stdout and "2000円" in listed.stdout
    exported = cli("export", "--day", "2026-12-03")
    assert exported.stdout.startswith("\ufeff収集日,区,町名") and booking.receipt_no in exported.stdout
    due = cli("remind", "--dry-run", "--now", "2026-12-02T10:00")
    assert due.returncode == 0 and booking.receipt_no in due.stdout
    cancelled = cli("cancel", booking.receipt_no.lower(), "--by", "staff:cli")
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout
    assert store.get(booking.receipt_no).cancelled_by == "staff:cli"
    missing = cli("cancel", "ZZZZ-ZZZZ")
    assert missing.returncode == 1 and "見つかりません" in missing.stderr


def test_package_entry_points_for_the_dialogue(tmp_path, monkeypatch):
    """common.booking.store() / available_dates(ward, today) / is_bookable(ward, day, today) on the shipped
    schedule and the store at ASSISTANT_DB_URL, full days left out."""
    import common.booking as booking

    monkeypatch.setenv("ASSISTANT_DB_URL", f"sqlite:///{tmp_path / 'assistant.db'}")
    assert booking.store().url == f"sqlite:///{tmp_path / 'assistant.db'}"
    assert booking.fee_table().fee_for("ソファー") == 1000 and booking.schedule().capacity("中央区") == 30
    today = date(2026, 11, 20)
    assert booking.available_dates("中央区", today, count=2) == [date(2026, 11, 26), date(2026, 11, 30)]
    with booking.store().engine.begin() as conn:  # 11-26 booked out (30 of 30)
        conn.execute(store_module.capacity.insert().values(ward="中央区", day=date(2026, 11, 26), booked=30))
    assert booking.available_dates("中央区", today, count=2) == [date(2026, 11, 30), date(2026, 12, 3)]
    assert booking.is_bookable("中央区", date(2026, 12, 3), today) is None
    assert "収集日ではありません" in booking.is_bookable("中央区", date(2026, 12, 2), today)
    assert booking.parse_items is not None and booking.normalize_receipt("abcd2345") == "ABCD-2345"
