"""Formats both services write the same way: Japanese dates and weekdays, the city's call-center line."""

from __future__ import annotations

from datetime import date

WEEKDAYS = "月火水木金土日"  # date.weekday() → 月 … 日
CALL_CENTER = "札幌市コールセンター（011-222-4894）"


def format_date(day: date, year: bool = False) -> str:
    """"12月3日（木）" (with year=True: "2026年12月3日（木）")."""
    text = f"{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"
    return f"{day.year}年{text}" if year else text
