"""Expectations computed straight from the city's official CSV files (../shared/data/sapporo)."""

import csv
from datetime import date
from pathlib import Path
from typing import List

OFFICIAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sapporo"
OFFICIAL_TODAY = "2025-01-15"  # a day inside the official calendar (tests pin ASSISTANT_TODAY to it)


def calendar_day(text: str) -> date:
    """The calendar mixes "2024-10-01" and "2025-9-30"."""
    y, m, d = (int(x) for x in text.split("-"))
    return date(y, m, d)


def collection_dates(area: str, code: str, after: str, limit: int = 3) -> List[str]:
    """「1月17日」-style dates on which ``area``'s column holds ``code``, from ``after`` (ISO date) on."""
    found = []
    with open(OFFICIAL_DATA / "gomi_calendar.csv", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            day = calendar_day(row["日付"])
            if day >= date.fromisoformat(after) and row[area] == code:
                found.append(f"{day.month}月{day.day}日")
    return found[:limit]
