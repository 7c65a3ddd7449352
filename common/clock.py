"""Today's date in Sapporo (Asia/Tokyo), with an override for tests and demos.

`ASSISTANT_TODAY=2025-01-15` pins "today": the city's official calendar used by the tests covers
2024-10-01..2025-09-30 (the repository's sample covers 2026-10-01..2027-09-30), so tests pin a date
inside the data they load.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")


def now() -> datetime:
    return datetime.now(JST)


def today() -> date:
    pinned = os.environ.get("ASSISTANT_TODAY")
    if pinned:
        return date.fromisoformat(pinned)
    return now().date()
