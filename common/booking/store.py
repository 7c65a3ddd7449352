"""The bookings: SQLite by default (``ASSISTANT_DB_URL``), PostgreSQL through the same SQLAlchemy Core code.

Why it is safe under load:

* Capacity: ``bulky_capacity`` holds one row per ward and day with the number booked. A booking takes a
  unit with ``UPDATE … SET booked = booked + 1 WHERE … AND booked < :capacity`` inside the booking's
  transaction; no row updated means the day is full (``DayFull``) and the transaction rolls back. On
  PostgreSQL concurrent updates of the row wait for each other and re-check the condition; on SQLite every
  writing transaction starts with ``BEGIN IMMEDIATE``, so writers take turns.
* Idempotency: the caller's key (a LINE webhook event id, the web widget's confirmation id …) is unique in
  ``bulky_bookings``; the same key again returns the first booking. The booking row is inserted before the
  capacity unit is taken, so a concurrent duplicate waits on the unique index and then finds the first.
* Deadlocks: a date change updates its two capacity rows in date order.
* Lost updates: every change (date, items, cancel) adds one to the booking's ``version`` in its transaction, and
  a change made from a version that is no longer current (staff on a page opened before the citizen changed the
  booking in chat) is refused (``StaleVersion``) instead of overwriting it. Each change is a row of
  ``bulky_booking_history`` (who, when, before, after).
* Abuse limits (``AbuseLimits``, common/booking/config.py): the open bookings of the phone number and of the
  chat user are counted inside the booking's transaction, after taking a lock per phone number and per chat
  user (SQLite: ``BEGIN IMMEDIATE`` already makes writers take turns; PostgreSQL: transaction-level advisory
  locks, always in the same order), so two confirmations at once cannot both pass the count. Wrong receipt
  number + phone look-ups are rows of ``bulky_lookup_failures``, counted per chat and per receipt number under
  the same kind of lock, so several action servers share the look-up lock.

Times are stored as naive JST and returned as aware JST datetimes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from common.booking.config import AbuseLimits, abuse_limits
from common.booking.dates import (JST, Schedule, available_dates, change_deadline, format_date, format_deadline,
                               is_bookable, now_jst, to_jst)
from common.booking.receipts import new_receipt_number, normalize_receipt
from common.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
BOOKED, CANCELLED = "booked", "cancelled"
REMIND_FROM = time(10, 0)  # reminders go out from 10:00 JST on the day before the collection

metadata = sa.MetaData()
bookings = sa.Table(
    "bulky_bookings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("receipt_no", sa.String(9), nullable=False, unique=True),  # "XXXX-XXXX"
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("owner_ref", sa.String(16), index=True),  # owner_ref(sender id)
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("ward", sa.String(16), nullable=False),
    sa.Column("area", sa.String(32)),
    sa.Column("town", sa.String(100), nullable=False),
    sa.Column("address", sa.String(200), nullable=False),  # 番地, building, where the items will be
    sa.Column("name", sa.String(100)),
    sa.Column("phone", sa.String(16), nullable=False),  # digits only
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("items", sa.Text, nullable=False),  # JSON: [{"name", "quantity", "fee"}]
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # booked | cancelled
    sa.Column("cancelled_by", sa.String(64)),
    sa.Column("cancelled_at", sa.DateTime),
    sa.Column("remind", sa.Boolean, nullable=False),
    sa.Column("reminded_at", sa.DateTime),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),  # sha256 of the caller's key
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),  # +1 per change (optimistic concurrency)
    sa.Index("ix_bulky_bookings_day_ward", "day", "ward"),
)
history = sa.Table(  # who changed what and when (the citizen in chat, staff on their behalf)
    "bulky_booking_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("receipt_no", sa.String(9), nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("by", sa.String(64), nullable=False),  # "citizen" or "staff:<username>"
    sa.Column("change", sa.String(16), nullable=False),  # day | items | cancel
    sa.Column("before", sa.Text, nullable=False),  # day: ISO date; items: "ソファー×1、いす×2"; cancel: status
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # the booking's version after this change
)
phone_index = sa.Index("ix_bulky_bookings_phone", bookings.c.phone)  # the open-bookings limit per phone number
capacity = sa.Table(
    "bulky_capacity",
    metadata,
    sa.Column("ward", sa.String(16), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("booked", sa.Integer, nullable=False),
)
lookup_failures = sa.Table(  # one row per wrong receipt number + phone look-up and key (see _lookup_keys)
    "bulky_lookup_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(40), nullable=False),  # "conversation:<owner_ref>" or "receipt:<XXXX-XXXX>"
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_bulky_lookup_failures_key_at", "key", "at"),
)


# ---- errors (``message`` is for the citizen) ----

class BookingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotBookable(BookingError):
    """The day cannot be booked for that ward (not a collection day, too late, too far ahead …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DayFull(BookingError):
    def __init__(self, day: date) -> None:
        super().__init__(f"{format_date(day)}は申し込みがいっぱいになりました。ほかの日をお選びください。")
        self.day = day


class PastDeadline(BookingError):
    def __init__(self, deadline: datetime) -> None:
        super().__init__(f"変更・キャンセルの受付は{format_deadline(deadline)}で締め切りました。"
                         "お手数ですが、大型ごみの受付センターにお電話ください。")
        self.deadline = deadline


class BookingNotFound(BookingError):
    def __init__(self, receipt_no: str) -> None:
        super().__init__("その受付番号のお申し込みは見つかりませんでした。")
        self.receipt_no = receipt_no


class BookingCancelled(BookingError):
    def __init__(self, receipt_no: str) -> None:
        super().__init__(f"受付番号{receipt_no}のお申し込みは、キャンセルされています。")
        self.receipt_no = receipt_no


class StaleVersion(BookingError):
    """The booking was changed (by the citizen in chat, or by other staff) after ``expected`` was read: the change
    is not made. ``current`` is the booking as it is now."""

    def __init__(self, current: "Booking", expected: int) -> None:
        super().__init__(f"受付番号{current.receipt_no}のお申し込みは、先ほど変更されました。最新の内容を確認してください。")
        self.current, self.expected = current, expected


class TooManyOpenBookings(BookingError):
    """The phone number (``by`` PHONE) or the chat user (CONVERSATION) already has ``count`` open bookings, and
    ``limit`` is the most allowed. The dialogue words it itself (actions/booking.py)."""

    PHONE, CONVERSATION = "phone", "conversation"

    def __init__(self, by: str, count: int, limit: int) -> None:
        super().__init__(f"収集前のお申し込みが上限の{limit}件に達しているため、新しいお申し込みはお受けできません。")
        self.by, self.count, self.limit = by, count, limit


class LookupLocked(BookingError):
    """Too many wrong receipt number + phone look-ups: none is checked before ``until``. ``just_locked``: this
    wrong try locked it."""

    def __init__(self, until: datetime, just_locked: bool = False) -> None:
        super().__init__(f"受付番号と電話番号での確認は、{format_deadline(until)}までお受けできません。")
        self.until, self.just_locked = until, just_locked


# ---- records ----

@dataclass(frozen=True)
class BookedItem:
    name: str  # dictionary item name
    quantity: int
    fee: int  # yen per piece

    @property
    def subtotal(self) -> int:
        return self.fee * self.quantity


@dataclass(frozen=True)
class BookingRequest:
    items: List[BookedItem]
    ward: str
    area: Optional[str]  # calendar area, e.g. "中央区5", when known
    town: str  # 町名
    address: str  # 番地 etc.
    name: Optional[str]
    phone: str
    day: date
    owner_ref: Optional[str] = None  # owner_ref(sender id)
    channel: str = "unknown"
    remind: bool = False

    @property
    def total(self) -> int:
        return sum(item.subtotal for item in self.items)


@dataclass(frozen=True)
class Booking:
    receipt_no: str
    items: List[BookedItem]
    ward: str
    area: Optional[str]
    town: str
    address: str
    name: Optional[str]
    phone: str
    day: date
    owner_ref: Optional[str]
    channel: str
    remind: bool
    total: int
    status: str
    created_at: datetime
    updated_at: datetime
    cancelled_by: Optional[str] = None
    cancelled_at: Optional[datetime] = None
    reminded_at: Optional[datetime] = None
    version: int = 1

    @property
    def items_text(self) -> str:
        """"ソファー×1、電子レンジ×2"."""
        return items_text(self.items)


@dataclass(frozen=True)
class HistoryEntry:
    """One change of a booking: ``change`` is day (ISO dates), items (items_text) or cancel (statuses)."""

    at: datetime
    by: str
    change: str
    before: str
    after: str
    version: int


def items_text(items: Iterable[BookedItem]) -> str:
    """"ソファー×1、電子レンジ×2"."""
    return "、".join(f"{item.name}×{item.quantity}" for item in items)


def owner_ref(sender_id: str) -> str:
    """Who may manage a booking without its receipt number: a non-reversible reference to the chat's
    sender id (LINE user ids are personal). The gateway computes the same from the same id."""
    return hashlib.sha256(sender_id.encode("utf-8", "replace")).hexdigest()[:16]


# ---- phone numbers ----

_PHONE_NOISE = re.compile(r"[\s\-‐‑‒–—―ー−()]")
_NOT_PERSONAL = ("0120", "0800", "0570", "0990")  # free dial, navi dial, paid services


def validate_phone(text: Optional[str]) -> Optional[str]:
    """Digits of a Japanese phone number ("090-1234-5678", "０１１（２２２）４８９４", "+81 90 …"), or None:
    fixed lines 10 digits starting 0, mobiles (and 050 IP phones) 11 digits starting 070/080/090/050."""
    digits = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", text or ""))
    if digits.startswith("+81"):
        digits = "0" + digits[3:]
    if not digits.isdigit() or digits.startswith(_NOT_PERSONAL):
        return None
    mobile = digits[:3] in ("070", "080", "090", "050")
    if (len(digits) == 11 and mobile) or (len(digits) == 10 and digits[0] == "0" and digits[1] != "0" and not mobile):
        return digits
    return None


def format_phone(digits: str) -> str:
    """Hyphens for reading (and so spreadsheets keep the leading 0): 090-1234-5678, 011-222-4894,
    0123-45-6789 (Hokkaido's 4-digit area codes), 03-1234-5678."""
    if len(digits) == 11:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if len(digits) == 10 and digits[:2] in ("03", "06"):
        return f"{digits[:2]}-{digits[2:6]}-{digits[6:]}"
    if len(digits) == 10 and digits[:2] == "01" and digits[:3] != "011":
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    if len(digits) == 10:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    return digits


def _digits(text: Optional[str]) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text or ""))


# ---- database ----

def default_url() -> str:
    return os.environ.get("ASSISTANT_DB_URL") or f"sqlite:///{ROOT / 'var' / 'assistant.db'}"


_engines: Dict[str, sa.engine.Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: str) -> sa.engine.Engine:
    with _engines_lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        sqlite = url.startswith("sqlite")
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        options = {"connect_args": {"timeout": 30, "check_same_thread": False}} if sqlite else {}
        engine = sa.create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True, **options)
        if sqlite:
            @event.listens_for(engine, "connect")
            def _autocommit_driver(dbapi_connection, record):  # SQLAlchemy sends BEGIN itself, below
                dbapi_connection.isolation_level = None

            @event.listens_for(engine, "begin")
            def _begin(connection):  # writers serialise at BEGIN instead of failing at COMMIT
                read_only = connection.get_execution_options().get("booking_read_only")
                connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
        upgrade(engine, "assistant")  # the schema by migrations/assistant (also adopts older databases)
        _engines[url] = engine
        return engine


def _naive(moment: datetime) -> datetime:
    return to_jst(moment).replace(tzinfo=None)


def _aware(moment: Optional[datetime]) -> Optional[datetime]:
    return None if moment is None else moment.replace(tzinfo=JST)


def _row_to_booking(row) -> Booking:
    m = row._mapping
    items = [BookedItem(i["name"], int(i["quantity"]), int(i["fee"])) for i in json.loads(m["items"])]
    return Booking(
        receipt_no=m["receipt_no"], items=items, ward=m["ward"], area=m["area"], town=m["town"],
        address=m["address"], name=m["name"], phone=m["phone"], day=m["day"], owner_ref=m["owner_ref"],
        channel=m["channel"], remind=bool(m["remind"]), total=m["total"], status=m["status"],
        created_at=_aware(m["created_at"]), updated_at=_aware(m["updated_at"]), cancelled_by=m["cancelled_by"],
        cancelled_at=_aware(m["cancelled_at"]), reminded_at=_aware(m["reminded_at"]), version=m["version"] or 1)


def _items_json(items: Iterable[BookedItem]) -> str:
    items = list(items)
    if not items:
        raise ValueError("a booking needs at least one item")
    for item in items:
        if not item.name or int(item.quantity) < 1 or item.fee is None or int(item.fee) < 0:
            raise ValueError(f"invalid item {item!r}")
    return json.dumps([{"name": i.name, "quantity": int(i.quantity), "fee": int(i.fee)} for i in items],
                      ensure_ascii=False)


def _key_hash(idempotency_key: str) -> str:
    if not idempotency_key:
        raise ValueError("an idempotency key is required")
    return hashlib.sha256(idempotency_key.encode("utf-8", "replace")).hexdigest()


class BookingStore:
    def __init__(self, url: Optional[str] = None, schedule: Optional[Schedule] = None,
                 limits: Optional[AbuseLimits] = None) -> None:
        self.url = url or default_url()
        self._schedule = schedule
        self._limits = limits
        self.engine = _engine(self.url)
        self._reader = self.engine.execution_options(booking_read_only=True)

    @property
    def schedule(self) -> Schedule:
        """The schedule given, else data/bulky/schedule.yml (read when first needed: the gateway has no YAML)."""
        return self._schedule or Schedule.load()

    @property
    def limits(self) -> AbuseLimits:
        """The limits given, else the environment's (BOOKING_MAX_OPEN_PER_PHONE …)."""
        return self._limits or abuse_limits()

    # ---- reading ----

    def _one(self, query) -> Optional[Booking]:
        with self._reader.connect() as conn:
            row = conn.execute(query).first()
        return _row_to_booking(row) if row else None

    def _many(self, query) -> List[Booking]:
        with self._reader.connect() as conn:
            return [_row_to_booking(r) for r in conn.execute(query)]

    def get(self, receipt_no: str) -> Optional[Booking]:
        receipt = normalize_receipt(receipt_no)
        return self._one(sa.select(bookings).where(bookings.c.receipt_no == receipt)) if receipt else None

    def find(self, receipt_no: str, phone: str) -> Optional[Booking]:
        """The booking with that receipt number and phone number (digits compared), else None."""
        booking = self.get(receipt_no)
        return booking if booking and _digits(phone) and booking.phone == _digits(phone) else None

    def lookup(self, receipt_no: str, phone: str, conversation: Optional[str],
               now: Optional[datetime] = None) -> Optional[Booking]:
        """``find`` for a chat that is not the booking's owner (``conversation``: its owner_ref), under the look-up
        lock. A wrong pair (which half was wrong is never told) counts against the chat and the receipt number;
        ``lookup_max_failures`` of them within ``lookup_lock_minutes`` lock both until the oldest of them is that
        old: LookupLocked, also on the try that reaches the limit, and nothing is checked while locked. A right
        pair resets the chat's count. None: no such pair."""
        now = to_jst(now or now_jst())
        limits = self.limits
        if not limits.lookup_max_failures:
            return self.find(receipt_no, phone)
        receipt = normalize_receipt(receipt_no)
        keys = _lookup_keys(conversation, receipt)
        found, just_locked = None, False
        with self.engine.begin() as conn:
            _serialise(conn, keys)
            until = _lookup_locked_until(conn, keys, limits, now)
            if until is None:
                row = receipt and conn.execute(sa.select(bookings).where(bookings.c.receipt_no == receipt)).first()
                if row and _digits(phone) and row.phone == _digits(phone):
                    found = _row_to_booking(row)
                    if conversation:
                        conn.execute(lookup_failures.delete().where(
                            lookup_failures.c.key == _lookup_keys(conversation, None)[0]))
                else:
                    window = timedelta(minutes=limits.lookup_lock_minutes)
                    conn.execute(lookup_failures.delete().where(lookup_failures.c.at <= _naive(now - window)))
                    conn.execute(lookup_failures.insert(), [{"key": key, "at": _naive(now)} for key in keys])
                    until = _lookup_locked_until(conn, keys, limits, now)
                    just_locked = until is not None
        if until is not None:
            raise LookupLocked(until, just_locked)
        return found

    def lookup_locked_until(self, conversation: Optional[str], receipt_no: Optional[str] = None,
                            now: Optional[datetime] = None) -> Optional[datetime]:
        """Until when the chat (and the receipt number, if given) may not look a booking up; None: it may."""
        limits = self.limits
        if not limits.lookup_max_failures:
            return None
        keys = _lookup_keys(conversation, normalize_receipt(receipt_no) if receipt_no else None)
        with self._reader.connect() as conn:
            return _lookup_locked_until(conn, keys, limits, to_jst(now or now_jst()))

    def check_open_limits(self, phone: Optional[str] = None, owner: Optional[str] = None,
                          now: Optional[datetime] = None) -> None:
        """TooManyOpenBookings when ``phone`` or the chat user ``owner`` (owner_ref) already has as many open
        bookings as allowed. The dialogue asks early (at the start, when the phone is given); ``book`` counts
        again in its transaction."""
        today = to_jst(now or now_jst()).date()
        with self._reader.connect() as conn:
            _check_open_limits(conn, self.limits, validate_phone(phone) if phone else None, owner, today)

    def active_for_owner(self, owner: str, today: Optional[date] = None) -> List[Booking]:
        """Booked (not cancelled) collections from today on, of the chat user ``owner`` (see owner_ref)."""
        today = today or now_jst().date()
        return self._many(sa.select(bookings).where(
            bookings.c.owner_ref == owner, bookings.c.status == BOOKED, bookings.c.day >= today)
            .order_by(bookings.c.day, bookings.c.id))

    def of_owners(self, owners: Iterable[str], limit: int) -> List[Booking]:
        """All bookings (also cancelled and past) of the chat users ``owners``, latest collection day first."""
        return self._many(sa.select(bookings).where(bookings.c.owner_ref.in_(list(owners)))
                          .order_by(bookings.c.day.desc(), bookings.c.id.desc()).limit(limit))

    def list(self, day: Optional[date] = None, ward: Optional[str] = None,
             status: Optional[str] = BOOKED) -> List[Booking]:
        """Bookings in the order the crew works: day, ward, town, address. status=None: all."""
        query = sa.select(bookings)
        if day is not None:
            query = query.where(bookings.c.day == day)
        if ward:
            query = query.where(bookings.c.ward == ward)
        if status:
            query = query.where(bookings.c.status == status)
        return self._many(query.order_by(bookings.c.day, bookings.c.ward, bookings.c.town, bookings.c.address,
                                         bookings.c.id))

    def booked_on(self, days: Iterable[date]) -> List[Booking]:
        """Booked (not cancelled) collections on any of ``days`` (the duplicate check compares a list with these)."""
        days = sorted(set(days))
        if not days:
            return []
        return self._many(sa.select(bookings).where(bookings.c.status == BOOKED, bookings.c.day.in_(days))
                          .order_by(bookings.c.id))

    def booked_counts(self, ward: str, start: date, end: date) -> Dict[date, int]:
        """Bookings per day for ``ward`` from ``start`` to ``end`` (inclusive); days without any are left out."""
        with self._reader.connect() as conn:
            rows = conn.execute(sa.select(capacity.c.day, capacity.c.booked).where(
                capacity.c.ward == ward, capacity.c.day >= start, capacity.c.day <= end))
            return {r.day: r.booked for r in rows}

    def available_dates(self, ward: str, count: int = 5, now: Optional[datetime] = None) -> List[date]:
        """The next ``count`` bookable days for ``ward``, full days left out (quick replies)."""
        now = to_jst(now or now_jst())
        schedule = self.schedule
        counts = self.booked_counts(ward, now.date(), now.date() + timedelta(days=schedule.max_days_ahead))
        return available_dates(schedule, ward, now.date(), count, counts, now)

    # ---- booking ----

    def _by_key(self, key_hash: str) -> Optional[Booking]:
        return self._one(sa.select(bookings).where(bookings.c.idempotency_key == key_hash))

    def book(self, request: BookingRequest, idempotency_key: str, now: Optional[datetime] = None) -> Booking:
        """Book ``request`` in one transaction. The same ``idempotency_key`` again (a double tap, a redelivered
        event) returns the first booking. Raises NotBookable, DayFull, TooManyOpenBookings; ValueError for an
        invalid request (no items, a bad phone number: the dialogue checks these first)."""
        key = _key_hash(idempotency_key)
        existing = self._by_key(key)
        if existing:
            return existing
        now = to_jst(now or now_jst())
        phone = validate_phone(request.phone)
        if phone is None:
            raise ValueError(f"invalid phone number {request.phone!r}")
        if not (request.town or "").strip() or not (request.address or "").strip():
            raise ValueError("town and address are required")
        values = dict(
            owner_ref=request.owner_ref, channel=request.channel or "unknown", ward=request.ward, area=request.area,
            town=request.town.strip(), address=request.address.strip(), name=(request.name or "").strip() or None,
            phone=phone, day=request.day, items=_items_json(request.items), total=request.total, status=BOOKED,
            remind=bool(request.remind), idempotency_key=key, created_at=_naive(now), updated_at=_naive(now))
        schedule, limits = self.schedule, self.limits
        reason = is_bookable(schedule, request.ward, request.day, now.date(), now)
        if reason:
            raise NotBookable(reason)
        for _ in range(5):
            receipt = new_receipt_number()
            try:
                with self.engine.begin() as conn:
                    # The lock first: a duplicate waiting on it then sees the first booking's key, not its count.
                    _serialise(conn, _open_limit_keys(limits, phone, request.owner_ref))
                    if conn.execute(sa.select(bookings.c.id).where(bookings.c.idempotency_key == key)).first():
                        break  # booked meanwhile (SQLite: by the writer before us)
                    _check_open_limits(conn, limits, phone, request.owner_ref, now.date())
                    conn.execute(bookings.insert().values(receipt_no=receipt, **values))
                    if not _take_unit(conn, request.ward, request.day, schedule.capacity(request.ward)):
                        raise DayFull(request.day)
                return self.get(receipt)  # type: ignore[return-value]
            except IntegrityError:
                pass  # the same key committed by a concurrent request (PostgreSQL), or a receipt number taken
            if self._by_key(key):
                break
        existing = self._by_key(key)
        if existing is None:
            raise RuntimeError("could not store the booking")
        return existing

    # ---- after booking ----

    def _locked(self, conn, receipt_no: str):
        receipt = normalize_receipt(receipt_no)
        row = receipt and conn.execute(
            sa.select(bookings).where(bookings.c.receipt_no == receipt).with_for_update()).first()
        if not row:
            raise BookingNotFound(receipt_no)
        return row

    def _check_deadline(self, day: date, now: datetime, staff: bool = False) -> None:
        """Citizens: until the change deadline (PastDeadline). Staff: also after it (the citizen is sent to the
        call center then), but not on or after the collection day (the crew is out)."""
        deadline = datetime.combine(day, time(0, 0), JST) if staff else change_deadline(day, self.schedule)
        if now >= deadline:
            raise PastDeadline(deadline)

    @staticmethod
    def _check_version(row, expected_version: Optional[int]) -> None:
        if expected_version is not None and int(row.version or 1) != int(expected_version):
            raise StaleVersion(_row_to_booking(row), int(expected_version))

    @staticmethod
    def _record(conn, row, now: datetime, by: str, changes: List[tuple], values: Dict) -> None:
        """Write ``values`` and one history row per (change, before, after), version + 1; nothing when no change."""
        if not changes:
            return
        version = int(row.version or 1) + 1
        conn.execute(bookings.update().where(bookings.c.id == row.id).values(
            updated_at=_naive(now), version=version, **values))
        conn.execute(history.insert(), [
            {"receipt_no": row.receipt_no, "at": _naive(now), "by": (by or "citizen")[:64], "change": change,
             "before": before, "after": after, "version": version} for change, before, after in changes])

    def cancel(self, receipt_no: str, by: str, now: Optional[datetime] = None, staff: bool = False,
               expected_version: Optional[int] = None) -> Booking:
        """Cancel and free the capacity unit. Citizens only until the change deadline (PastDeadline); staff
        any time. Cancelling a cancelled booking changes nothing and returns it. BookingNotFound; StaleVersion
        when ``expected_version`` is given and no longer the booking's."""
        now = to_jst(now or now_jst())
        by = (by or ("staff" if staff else "citizen"))[:64]
        with self.engine.begin() as conn:
            row = self._locked(conn, receipt_no)
            if row.status == BOOKED:
                self._check_version(row, expected_version)
                if not staff:
                    self._check_deadline(row.day, now)
                self._record(conn, row, now, by, [("cancel", BOOKED, CANCELLED)],
                             dict(status=CANCELLED, cancelled_by=by, cancelled_at=_naive(now)))
                _release_unit(conn, row.ward, row.day)
        return self.get(row.receipt_no)  # type: ignore[return-value]

    def change(self, receipt_no: str, day: Optional[date] = None, items: Optional[List[BookedItem]] = None,
               now: Optional[datetime] = None, by: str = "citizen", expected_version: Optional[int] = None,
               staff: bool = False) -> Booking:
        """Move the booking (and its capacity unit) to ``day`` and/or replace its items (and the total), in one
        transaction; the receipt number stays. The old date must be before its deadline (PastDeadline; staff:
        before the collection day), the new one bookable like a new booking (NotBookable, DayFull).
        BookingNotFound, BookingCancelled, StaleVersion (``expected_version`` given and no longer current);
        ValueError for empty or invalid items. Each field that really changes is a history row (``by``)."""
        now = to_jst(now or now_jst())
        schedule = self.schedule
        encoded = None if items is None else _items_json(items)
        with self.engine.begin() as conn:
            row = self._locked(conn, receipt_no)
            if row.status != BOOKED:
                raise BookingCancelled(row.receipt_no)
            self._check_version(row, expected_version)
            self._check_deadline(row.day, now, staff)
            changes, values = [], {}
            if day is not None and day != row.day:
                reason = is_bookable(schedule, row.ward, day, now.date(), now)
                if reason:
                    raise NotBookable(reason)
                for moved in sorted((row.day, day)):  # always the same order: no deadlock
                    if moved == day:
                        if not _take_unit(conn, row.ward, day, schedule.capacity(row.ward)):
                            raise DayFull(day)
                    else:
                        _release_unit(conn, row.ward, row.day)
                changes.append(("day", row.day.isoformat(), day.isoformat()))
                values.update(day=day, reminded_at=None)
            if encoded is not None and json.loads(encoded) != json.loads(row.items):
                old = [BookedItem(i["name"], int(i["quantity"]), int(i["fee"])) for i in json.loads(row.items)]
                changes.append(("items", f"{items_text(old)}（{row.total:,}円）",
                                f"{items_text(items)}（{sum(i.subtotal for i in items):,}円）"))
                values.update(items=encoded, total=sum(i.subtotal for i in items))
            self._record(conn, row, now, by, changes, values)
        return self.get(row.receipt_no)  # type: ignore[return-value]

    def change_date(self, receipt_no: str, new_day: date, now: Optional[datetime] = None, by: str = "citizen",
                    expected_version: Optional[int] = None) -> Booking:
        """Move the booking (and its capacity unit) to ``new_day`` (see ``change``). The old date must be before its
        deadline (PastDeadline) and the new one bookable (NotBookable, DayFull). BookingNotFound, BookingCancelled."""
        return self.change(receipt_no, day=new_day, now=now, by=by, expected_version=expected_version)

    def change_items(self, receipt_no: str, items: List[BookedItem], now: Optional[datetime] = None,
                     by: str = "citizen", expected_version: Optional[int] = None) -> Booking:
        """Replace the items (and the total) until the deadline (see ``change``). PastDeadline, BookingNotFound,
        BookingCancelled."""
        return self.change(receipt_no, items=items, now=now, by=by, expected_version=expected_version)

    def history(self, receipt_no: str) -> List[HistoryEntry]:
        """The booking's changes, oldest first."""
        receipt = normalize_receipt(receipt_no)
        if not receipt:
            return []
        with self._reader.connect() as conn:
            rows = conn.execute(sa.select(history).where(history.c.receipt_no == receipt)
                                .order_by(history.c.id)).all()
        return [HistoryEntry(_aware(r.at), r.by, r.change, r.before, r.after, r.version) for r in rows]

    def set_remind(self, receipt_no: str, remind: bool, now: Optional[datetime] = None) -> Optional[Booking]:
        """Turn the day-before reminder on or off for a booked collection (LINE offers it after the receipt);
        None when there is no such booking or it is cancelled. ``due_reminders`` reads ``remind``."""
        now = to_jst(now or now_jst())
        receipt = normalize_receipt(receipt_no)
        if not receipt:
            return None
        with self.engine.begin() as conn:
            result = conn.execute(bookings.update().where(
                bookings.c.receipt_no == receipt, bookings.c.status == BOOKED).values(
                remind=bool(remind), updated_at=_naive(now)))
        return self.get(receipt) if result.rowcount == 1 else None

    # ---- staff and reminders ----

    def export_csv(self, day: Optional[date] = None, ward: Optional[str] = None) -> str:
        """The booked collections for the crew: UTF-8 with BOM (Excel opens it as UTF-8)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["収集日", "区", "町名", "番地", "受付番号", "品目と数量", "手数料合計", "電話番号", "氏名"])
        for b in self.list(day, ward):
            writer.writerow([b.day.isoformat(), b.ward, b.town, b.address, b.receipt_no, b.items_text, b.total,
                             format_phone(b.phone), b.name or ""])
        return "\ufeff" + out.getvalue()

    def due_reminders(self, now: datetime, not_before: time = REMIND_FROM) -> List[Booking]:
        """Bookings to remind now: opted in, collected tomorrow, not reminded yet; none before ``not_before``.
        Claim each with mark_reminded() before sending, so two workers do not both send it."""
        now = to_jst(now)
        if now.time() < not_before:
            return []
        return self._many(sa.select(bookings).where(
            bookings.c.status == BOOKED, bookings.c.remind == sa.true(), bookings.c.reminded_at.is_(None),
            bookings.c.day == now.date() + timedelta(days=1)).order_by(bookings.c.id))

    def mark_reminded(self, receipt_no: str, now: datetime) -> bool:
        """Record the reminder; False when it was already recorded (by another worker)."""
        receipt = normalize_receipt(receipt_no)
        with self.engine.begin() as conn:
            result = conn.execute(bookings.update().where(
                bookings.c.receipt_no == receipt, bookings.c.reminded_at.is_(None)).values(reminded_at=_naive(now)))
        return result.rowcount == 1

    def unmark_reminded(self, receipt_no: str) -> bool:
        """Give a reminder claim back when its delivery failed, so the next run sends it again."""
        receipt = normalize_receipt(receipt_no)
        with self.engine.begin() as conn:
            result = conn.execute(bookings.update().where(bookings.c.receipt_no == receipt)
                                  .values(reminded_at=None))
        return result.rowcount == 1


def _ensure_capacity_row(conn, ward: str, day: date) -> None:
    dialect = conn.dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(capacity).values(ward=ward, day=day, booked=0).on_conflict_do_nothing())
        return
    if conn.execute(sa.select(capacity.c.booked).where(capacity.c.ward == ward, capacity.c.day == day)).first():
        return
    try:
        with conn.begin_nested():
            conn.execute(capacity.insert().values(ward=ward, day=day, booked=0))
    except IntegrityError:
        pass  # inserted by a concurrent booking


def _take_unit(conn, ward: str, day: date, limit: int) -> bool:
    """Take one capacity unit of ``ward`` on ``day``; False when the day is full."""
    _ensure_capacity_row(conn, ward, day)
    result = conn.execute(capacity.update()
                          .where(capacity.c.ward == ward, capacity.c.day == day, capacity.c.booked < limit)
                          .values(booked=capacity.c.booked + 1))
    return result.rowcount == 1


def _release_unit(conn, ward: str, day: date) -> None:
    conn.execute(capacity.update().where(capacity.c.ward == ward, capacity.c.day == day, capacity.c.booked > 0)
                 .values(booked=capacity.c.booked - 1))


# ---- abuse limits ----

def _serialise(conn, keys: Iterable[str]) -> None:
    """Make the rest of the transaction one step for everyone holding one of ``keys``: on PostgreSQL a
    transaction-level advisory lock per key, taken in sorted order (no deadlock between two transactions).
    SQLite needs none: every writing transaction begins with BEGIN IMMEDIATE, so writers take turns."""
    if conn.dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        lock_id = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock_id)"), {"lock_id": lock_id})


def _open_limit_keys(limits: AbuseLimits, phone: Optional[str], owner: Optional[str]) -> List[str]:
    keys = []
    if phone and limits.max_open_per_phone:
        keys.append(f"bulky-open:phone:{phone}")
    if owner and limits.max_open_per_conversation:
        keys.append(f"bulky-open:conversation:{owner}")
    return keys


def _check_open_limits(conn, limits: AbuseLimits, phone: Optional[str], owner: Optional[str], today: date) -> None:
    """TooManyOpenBookings when the chat user or the phone number has ``limit`` open bookings (booked, collected
    today or later) already; the chat user first (the dialogue can show that one's bookings)."""
    for by, column, value, limit in ((TooManyOpenBookings.CONVERSATION, bookings.c.owner_ref, owner,
                                      limits.max_open_per_conversation),
                                     (TooManyOpenBookings.PHONE, bookings.c.phone, phone, limits.max_open_per_phone)):
        if not value or not limit:
            continue
        count = conn.execute(sa.select(sa.func.count()).select_from(bookings).where(
            column == value, bookings.c.status == BOOKED, bookings.c.day >= today)).scalar_one()
        if count >= limit:
            raise TooManyOpenBookings(by, count, limit)


def _lookup_keys(conversation: Optional[str], receipt: Optional[str]) -> List[str]:
    return ([f"conversation:{conversation}"] if conversation else []) + ([f"receipt:{receipt}"] if receipt else [])


def _lookup_locked_until(conn, keys: List[str], limits: AbuseLimits, now: datetime) -> Optional[datetime]:
    """Moving window: a key is locked while it has ``lookup_max_failures`` wrong tries in the last
    ``lookup_lock_minutes``, i.e. until the oldest of the latest that many is that old. The later of the keys."""
    window = timedelta(minutes=limits.lookup_lock_minutes)
    until = None
    for key in keys:
        times = conn.execute(sa.select(lookup_failures.c.at).where(
            lookup_failures.c.key == key, lookup_failures.c.at > _naive(now - window))
            .order_by(lookup_failures.c.at.desc()).limit(limits.lookup_max_failures)).scalars().all()
        if len(times) >= limits.lookup_max_failures:
            key_until = _aware(times[-1]) + window
            until = key_until if until is None else max(until, key_until)
    return until
