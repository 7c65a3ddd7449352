"""Large-garbage (大型ごみ) collection booking: the library behind the booking dialogue and the staff tools.

    fees      FeeTable: fee per item (data/bulky/fees.yml, city-editable), limits
    items     parse_items: 「ソファと電子レンジ2台」 → items with quantities, categories, fees
    dates     Schedule (data/bulky/schedule.yml), parse_date, available_dates, is_bookable, change_deadline
    receipts  receipt numbers (XXXX-XXXX)
    store     BookingStore: book (capacity-safe, idempotent, open-bookings limits), look up (with a lock after
              wrong tries), change (versioned, with a history), cancel, list, CSV, reminders
    duplicates  the same address, phone and day booked twice (flagged on the staff page)
    config    data file paths; AbuseLimits from the environment (BOOKING_MAX_OPEN_PER_PHONE …)

Pure Python and SQLAlchemy Core, importable from both environments: the engine's actions use all of it,
the gateway the store (reminders, staff). ``items`` needs the garbage matcher (engine environment) and
the YAML files need PyYAML (engine environment); both are imported only when used.

The names below are the dialogue's entry points, on the shipped data files and the default store:
``fee_table()``, ``schedule()``, ``store()``, ``is_bookable(ward, day, today)``,
``available_dates(ward, today, count)`` (full days left out). Note that ``common.booking.store`` as an
attribute is that function; import the module's names with ``from common.booking.store import …``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import List, Optional

from common.booking import dates as _dates
from common.booking.config import AbuseLimits, abuse_limits
from common.booking.dates import DateResult, Schedule, change_deadline, format_date, now_jst, parse_date
from common.booking.fees import FeeTable, Limits
from common.booking.items import ItemRequest, ItemsRefused, parse_items, price_items, resolve_item, validate_limits
from common.booking.receipts import new_receipt_number, normalize_receipt
from common.booking.store import (Booking, BookedItem, BookingCancelled, BookingError, BookingNotFound, BookingRequest,
                               BookingStore, DayFull, HistoryEntry, LookupLocked, NotBookable, PastDeadline,
                               StaleVersion, TooManyOpenBookings, owner_ref, validate_phone)

__all__ = [
    "AbuseLimits", "Booking", "BookedItem", "BookingCancelled", "BookingError", "BookingNotFound", "BookingRequest",
    "BookingStore", "DateResult", "DayFull", "FeeTable", "HistoryEntry", "ItemRequest", "ItemsRefused", "Limits",
    "LookupLocked", "NotBookable", "PastDeadline", "Schedule", "StaleVersion", "TooManyOpenBookings", "abuse_limits", "available_dates", "change_deadline",
    "fee_table", "format_date", "is_bookable", "new_receipt_number", "normalize_receipt", "owner_ref", "parse_date",
    "parse_items", "price_items", "resolve_item", "schedule", "store", "validate_limits", "validate_phone",
]


def fee_table() -> FeeTable:
    """data/bulky/fees.yml (re-read when the city edits it)."""
    return FeeTable.load()


def schedule() -> Schedule:
    """data/bulky/schedule.yml (re-read when the city edits it)."""
    return Schedule.load()


def store() -> BookingStore:  # noqa: F811 - shadows the submodule's name on purpose (see the docstring)
    """The store at ASSISTANT_DB_URL (default var/assistant.db); cheap: the engine is shared."""
    return BookingStore()


def _now_if_today(today: date, now: Optional[datetime]) -> Optional[datetime]:
    """Deadlines to the minute when asked about the real today (not a pinned or other day)."""
    if now is not None:
        return now
    current = now_jst()
    return current if current.date() == today else None


def is_bookable(ward: str, day: date, today: date, now: Optional[datetime] = None) -> Optional[str]:
    """None, or why ``day`` cannot be booked for ``ward`` (Japanese, naming the day); see dates.is_bookable."""
    return _dates.is_bookable(schedule(), ward, day, today, _now_if_today(today, now))


def available_dates(ward: str, today: date, count: int = 5, now: Optional[datetime] = None) -> List[date]:
    """The next ``count`` bookable days for ``ward``, days already full left out; see dates.available_dates."""
    plan = schedule()
    counts = store().booked_counts(ward, today, today + timedelta(days=plan.max_days_ahead))
    return _dates.available_dates(plan, ward, today, count, counts, _now_if_today(today, now))
