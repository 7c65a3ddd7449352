"""When counselors answer: hours per weekday, national holidays (jpholiday), closed dates (年末年始).

Read from ``data/counseling/hours.yml`` (or ``COUNSELING_HOURS_FILE``). Times are Sapporo time; every
function takes the time as a parameter so tests run with a fixed clock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Dict, Optional, Tuple

import jpholiday
import yaml

from common.formats import WEEKDAYS

JST = timezone(timedelta(hours=9))
HOURS_FILE = Path(__file__).resolve().parents[2] / "data" / "counseling" / "hours.yml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Window = Tuple[int, int]  # minutes since midnight: [start, end)


def now_jst() -> datetime:
    return datetime.now(JST)


def _minutes(value: str) -> int:
    hours, _, minutes = str(value).partition(":")
    return int(hours) * 60 + int(minutes or 0)


def _window(value) -> Optional[Window]:
    if not value:
        return None
    start, end = (_minutes(v) for v in value)
    return (start, end) if 0 <= start < end <= 24 * 60 else None


def _clock(minutes: int) -> str:
    return f"{minutes // 60}時" + (f"{minutes % 60}分" if minutes % 60 else "")


@dataclass(frozen=True)
class CounselingHours:
    weekly: Dict[int, Window]
    holidays: Optional[Window]
    closed_dates: frozenset
    keep_messages_off_hours: bool = True
    minutes_per_chat: int = 20

    @classmethod
    def load(cls, path: Optional[str] = None) -> "CounselingHours":
        source = Path(path or os.environ.get("COUNSELING_HOURS_FILE") or HOURS_FILE)
        data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        weekly = {DAYS.index(day): w for day, value in (data.get("weekly") or {}).items()
                  if (w := _window(value))}
        closed = frozenset(tuple(int(x) for x in str(d).split("-")) for d in data.get("closed_dates") or [])
        return cls(weekly=weekly, holidays=_window(data.get("holidays")), closed_dates=closed,
                   keep_messages_off_hours=bool(data.get("keep_messages_off_hours", True)),
                   minutes_per_chat=int(data.get("minutes_per_chat", 20)))

    def window(self, day: date) -> Optional[Window]:
        if (day.month, day.day) in self.closed_dates:
            return None
        if jpholiday.is_holiday(day):
            return self.holidays
        return self.weekly.get(day.weekday())

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(JST) if now.tzinfo else now
        window = self.window(local.date())
        minute = local.hour * 60 + local.minute
        return bool(window and window[0] <= minute < window[1])

    def next_open(self, now: datetime) -> Optional[datetime]:
        """When counselors next start answering (None if never within two weeks)."""
        local = now.astimezone(JST) if now.tzinfo else now.replace(tzinfo=JST)
        for offset in range(15):
            day = local.date() + timedelta(days=offset)
            window = self.window(day)
            if not window:
                continue
            start = datetime.combine(day, time(0), JST) + timedelta(minutes=window[0])
            end = datetime.combine(day, time(0), JST) + timedelta(minutes=window[1])
            if local < end:
                return max(start, local)
        return None

    def describe(self) -> str:
        """The hours in one short line, e.g. 「月〜金 16時〜22時、土日・祝日 13時〜22時」."""
        groups: Dict[Window, list] = {}
        for day in range(7):
            if day in self.weekly:
                groups.setdefault(self.weekly[day], []).append(day)
        parts = []
        for window, days in groups.items():
            names = "".join(WEEKDAYS[d] for d in days)
            if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
                names = f"{WEEKDAYS[days[0]]}〜{WEEKDAYS[days[-1]]}"
            if self.holidays == window:
                names += "・祝日"
            span = "24時間" if window == (0, 24 * 60) else f"{_clock(window[0])}〜{_clock(window[1])}"
            parts.append(f"{names} {span}")
        return "、".join(parts) or "受付時間外"

    @staticmethod
    def when(moment: datetime) -> str:
        """「12月1日（月）16時」"""
        local = moment.astimezone(JST)
        return f"{local.month}月{local.day}日（{WEEKDAYS[local.weekday()]}）{_clock(local.hour * 60 + local.minute)}"
