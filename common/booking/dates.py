"""Collection dates: the schedule (data/bulky/schedule.yml), typed dates, bookable days, deadlines.

    schedule = Schedule.load()
    parse_date("来週の火曜", today)              # → DateResult(date(2026, 11, 24), None)
    available_dates(schedule, "中央区", today)    # → the next 5 bookable days
    is_bookable(schedule, "中央区", day, today)   # → None, or why not (Japanese)

Typed dates: the numeric forms and the relative ones (明日, 来週の火曜, 3日後) are parsed here, so
that they work the same in both environments; ja-timex (engine environment only) adds the forms
written in kanji numerals or with other eras (十二月三日, 平成…).
"""

from __future__ import annotations

import calendar
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Dict, FrozenSet, List, Mapping, Optional, Tuple

import jpholiday

from common.booking.config import SCHEDULE_FILE, load_cached
from common.clock import JST, now as clock_now, today as clock_today
from common.formats import WEEKDAYS, format_date  # noqa: F401  (format_date: part of this module's API)

_WEEKDAY_WORDS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def now_jst() -> datetime:
    """The current time in JST; on the day ASSISTANT_TODAY pins, if it is set (demos, tests)."""
    current = clock_now()
    pinned = clock_today()
    return current if pinned == current.date() else datetime.combine(pinned, current.timetz())


def to_jst(moment: datetime) -> datetime:
    """An aware datetime in JST; a naive one is taken to be JST already."""
    return moment.replace(tzinfo=JST) if moment.tzinfo is None else moment.astimezone(JST)


# ---- the schedule ----

def _weekday(word) -> int:
    text = str(word).strip()
    if text[:1] in WEEKDAYS and text[1:] in ("", "曜", "曜日"):
        return WEEKDAYS.index(text[0])
    if text[:3].lower() in _WEEKDAY_WORDS:
        return _WEEKDAY_WORDS[text[:3].lower()]
    raise ValueError(f"schedule: {word!r} is not a weekday (月, 火, … or mon, tue, …)")


@dataclass(frozen=True)
class Schedule:
    weekdays: Mapping[str, Tuple[int, ...]]  # ward → collection weekdays (0 = Monday)
    capacities: Mapping[str, int]  # ward → bookings per day
    no_collection: FrozenSet[str] = frozenset()  # "MM-DD" (every year) or "YYYY-MM-DD"
    deadline_days_before: int = 2
    deadline_time: time = time(17, 0)
    lead_days: int = 2
    max_days_ahead: int = 60
    sample: bool = True

    @classmethod
    def load(cls, path: Path = SCHEDULE_FILE) -> "Schedule":
        """The schedule in ``path`` (cached until the file changes). ValueError when malformed."""
        return load_cached(Path(path), cls.from_dict, "schedule")

    @classmethod
    def from_dict(cls, data: dict) -> "Schedule":
        default = int(data.get("daily_capacity", 30))
        weekdays: Dict[str, Tuple[int, ...]] = {}
        capacities: Dict[str, int] = {}
        for ward, conf in (data.get("wards") or {}).items():
            weekdays[ward] = tuple(sorted({_weekday(w) for w in conf.get("weekdays") or ()}))
            capacities[ward] = int(conf.get("daily_capacity", default))
        deadline = data.get("change_deadline") or {}
        hour, minute = (int(x) for x in str(deadline.get("time", "17:00")).split(":"))
        no_collection = frozenset(str(d) for d in data.get("no_collection") or ())
        for entry in no_collection:
            if not re.fullmatch(r"(\d{4}-)?\d{2}-\d{2}", entry):
                raise ValueError(f"schedule: no_collection {entry!r} is not MM-DD or YYYY-MM-DD")
        return cls(weekdays, capacities, no_collection, int(deadline.get("days_before", 2)), time(hour, minute),
                   int(data.get("lead_days", 2)), int(data.get("max_days_ahead", 60)), bool(data.get("sample", True)))

    def capacity(self, ward: str) -> int:
        return self.capacities.get(ward, 0)

    def weekday_names(self, ward: str) -> str:
        """"月・木"."""
        return "・".join(WEEKDAYS[w] for w in self.weekdays.get(ward, ()))

    def no_collection_on(self, day: date) -> bool:
        return day.strftime("%m-%d") in self.no_collection or day.isoformat() in self.no_collection


def change_deadline(day: date, schedule: Optional[Schedule] = None) -> datetime:
    """Until when (JST) a booking for ``day`` may be made, changed or cancelled by the citizen."""
    schedule = schedule or Schedule.load()
    return datetime.combine(day - timedelta(days=schedule.deadline_days_before), schedule.deadline_time, JST)


def format_deadline(moment: datetime) -> str:
    """"12月1日（火）17時00分"."""
    moment = to_jst(moment)
    return f"{format_date(moment.date())}{moment.hour}時{moment.minute:02d}分"


def _closed_reason(schedule: Schedule, ward: str, day: date) -> Optional[str]:
    """Why there is no collection in ``ward`` on ``day``; None on a collection day."""
    shown = format_date(day)
    if schedule.no_collection_on(day):
        return f"{shown}は大型ごみの収集がお休みです（年末年始など）。"
    holiday = jpholiday.is_holiday_name(day)
    if holiday:
        return f"{shown}は祝日（{holiday}）のため、大型ごみの収集はありません。"
    if day.weekday() not in schedule.weekdays.get(ward, ()):
        return f"{shown}は{ward}の大型ごみの収集日ではありません（{ward}は{schedule.weekday_names(ward)}曜日です）。"
    return None


def is_bookable(schedule: Schedule, ward: str, day: date, today: date, now: Optional[datetime] = None) -> Optional[str]:
    """None when ``day`` may be booked for ``ward``, else the reason in Japanese. Whether the day is full is
    not checked here (the store takes the capacity unit atomically and raises DayFull). With ``now`` the
    deadline of ``day`` is checked to the minute."""
    if ward not in schedule.weekdays:
        return f"{ward}の大型ごみの収集日が見つかりません。区をお確かめください。"
    shown = format_date(day)
    if day < today:
        return f"{shown}は過ぎた日付です。"
    closed = _closed_reason(schedule, ward, day)
    if closed:
        return closed
    deadline = change_deadline(day, schedule)
    if day < today + timedelta(days=schedule.lead_days) or (now is not None and to_jst(now) >= deadline):
        return (f"{shown}の収集は、申し込みの受付を締め切りました（{format_deadline(deadline)}まで）。"
                "ほかの日をお選びください。")
    last = today + timedelta(days=schedule.max_days_ahead)
    if day > last:
        return f"{format_date(day, year=day.year != today.year)}の分はまだ受け付けていません。{format_date(last)}の分までお申し込みいただけます。"
    return None


def available_dates(schedule: Schedule, ward: str, today: date, count: int = 5,
                    counts: Optional[Mapping[date, int]] = None, now: Optional[datetime] = None) -> List[date]:
    """The next ``count`` bookable days for ``ward`` (fewer when the booking window has fewer); ``counts``:
    bookings per day so far (BookingStore.booked_counts), full days are left out."""
    counts = counts or {}
    capacity = schedule.capacity(ward)
    found: List[date] = []
    day = today + timedelta(days=max(schedule.lead_days, 0))
    while len(found) < count and day <= today + timedelta(days=schedule.max_days_ahead):
        if counts.get(day, 0) < capacity and is_bookable(schedule, ward, day, today, now) is None:
            found.append(day)
        day += timedelta(days=1)
    return found


# ---- typed dates ----

@dataclass(frozen=True)
class DateResult:
    date: Optional[date]
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.date is not None


NOT_UNDERSTOOD = "日付が分かりませんでした。「12月3日」や「来週の火曜」のように入力してください。"

_ABSOLUTE = re.compile(
    r"(?:(?P<era>令和|平成|r|h)\s*(?P<era_year>元|\d{1,2})\s*[年./-]\s*|(?P<year>\d{4})\s*[年./-]\s*|(?P<year2>\d{2})\s*年\s*)?"
    r"(?<!\d)(?P<month>\d{1,2})\s*(?:月\s*の?|/|-(?=\d))\s*(?P<day>\d{1,2})(?!\d)\s*(?!日\s*(?:後|間))日?")
_ERA_DOTS = re.compile(  # "R8.12.3"
    r"(?P<era>令和|平成|r|h)\s*(?P<era_year>元|\d{1,2})\s*\.\s*(?P<month>\d{1,2})\s*\.\s*(?P<day>\d{1,2})(?!\d)")
_ERAS = {"令和": 2018, "r": 2018, "平成": 1988, "h": 1988}
_MONTH_RELATIVE = re.compile(r"(?P<rel>今月|来月|再来月|さ来月)\s*の?\s*(?P<day>\d{1,2})\s*日")
_MONTH_OFFSET = {"今月": 0, "来月": 1, "再来月": 2, "さ来月": 2}
_DAY_ONLY = re.compile(r"(?<![\d月/.-])(?P<day>\d{1,2})\s*日(?!\s*(?:後|間|以内))")
_WEEKDAY_AFTER = re.compile(r"^\s*(?:\(\s*(?P<a>[月火水木金土日])\s*(?:曜日?)?\s*\)|の?\s*(?P<b>[月火水木金土日])曜)")
_RELATIVE_DAYS = (("しあさって", 3), ("明々後日", 3), ("明明後日", 3), ("あさって", 2), ("明後日", 2),
                  ("あした", 1), ("あす", 1), ("明日", 1), ("きょう", 0), ("今日", 0), ("本日", 0))
_AFTER = re.compile(r"(?P<n>\d{1,3})\s*(?P<unit>日|週間)\s*後")
_RELATIVE_WEEKDAY = re.compile(
    r"(?P<week>今週|来週|再来週|さ来週|次週|翌週|次の|今度の|つぎの|こんどの)?\s*の?\s*(?P<wd>[月火水木金土日])曜")
_WEEK_OFFSET = {"今週": 0, "来週": 1, "次週": 1, "翌週": 1, "再来週": 2, "さ来週": 2}


def parse_date(text: str, today: date) -> DateResult:
    """The day a citizen typed, resolved against ``today``; a date without a year is its next occurrence
    (in December, "1月10日" is next January). Impossible or past dates give a Japanese error."""
    normalized = unicodedata.normalize("NFKC", text or "").lower().strip()
    if not normalized:
        return DateResult(None, NOT_UNDERSTOOD)
    for parse in (_absolute, _relative, _timex):
        result = parse(normalized, today)
        if result is not None:
            return result
    return DateResult(None, NOT_UNDERSTOOD)


def _absolute(text: str, today: date) -> Optional[DateResult]:
    match = _ERA_DOTS.search(text) or _ABSOLUTE.search(text)
    if match:
        groups = match.groupdict()
        year = int(groups["year"]) if groups.get("year") else None
        if groups.get("year2"):  # "26年12月3日"
            year = 2000 + int(groups["year2"])
        if groups.get("era"):
            year = _ERAS[groups["era"]] + (1 if groups["era_year"] == "元" else int(groups["era_year"]))
        result = _resolve(year, int(groups["month"]), int(groups["day"]), today)
        return _check_weekday(result, text[match.end():])
    match = _MONTH_RELATIVE.search(text)
    if match:
        year, month = divmod(today.month - 1 + _MONTH_OFFSET[match.group("rel")], 12)
        return _resolve(today.year + year, month + 1, int(match.group("day")), today)
    match = _DAY_ONLY.search(text)
    if match:
        return _check_weekday(_resolve(None, None, int(match.group("day")), today), text[match.end():])
    return None


def _check_weekday(result: DateResult, rest: str) -> DateResult:
    """"12月3日(水)" when 12月3日 is a Thursday: say so rather than guess which was meant."""
    match = _WEEKDAY_AFTER.match(rest)
    if result.date is None or not match:
        return result
    typed = WEEKDAYS.index(match.group("a") or match.group("b"))
    if typed != result.date.weekday():
        found = result.date
        return DateResult(None, f"{found.month}月{found.day}日は{WEEKDAYS[found.weekday()]}曜日です"
                                f"（{WEEKDAYS[typed]}曜日ではありません）。日付をもう一度入力してください。")
    return result


def _resolve(year: Optional[int], month: Optional[int], day: int, today: date) -> DateResult:
    if month is not None and not 1 <= month <= 12:
        return DateResult(None, f"{month}月という月はありません。日付をもう一度入力してください。")
    written = f"{'' if year is None else f'{year}年'}{'' if month is None else f'{month}月'}{day}日"
    longest = 31 if month is None else (29 if month == 2 else calendar.monthrange(2001, month)[1])
    if not 1 <= day <= longest:
        return DateResult(None, f"{written}という日付はありません。日付をもう一度入力してください。")
    if year is not None:
        try:
            found = date(year, month or today.month, day)
        except ValueError:
            return DateResult(None, f"{written}という日付はありません。日付をもう一度入力してください。")
        return DateResult(None, f"{format_date(found, year=True)}は過ぎた日付です。") if found < today else DateResult(found)
    # No year: the next occurrence (for 2月29日 the next leap year; for "31日" the next month that has one).
    for step in range(0, 12 * 8 + 1):
        if month is None:
            y, m = divmod(today.month - 1 + step, 12)
            candidate_year, candidate_month = today.year + y, m + 1
        else:
            candidate_year, candidate_month = today.year + step, month
        try:
            found = date(candidate_year, candidate_month, day)
        except ValueError:
            continue
        if found >= today:
            return DateResult(found)
    return DateResult(None, f"{written}という日付はありません。")


def _relative(text: str, today: date) -> Optional[DateResult]:
    match = _AFTER.search(text)
    if match:
        n = int(match.group("n")) * (7 if match.group("unit") == "週間" else 1)
        return DateResult(today + timedelta(days=n))
    match = _RELATIVE_WEEKDAY.search(text)
    if match:
        weekday = WEEKDAYS.index(match.group("wd"))
        offset = _WEEK_OFFSET.get(match.group("week") or "")
        if offset is None:  # "火曜", "次の火曜": the next one after today
            return DateResult(today + timedelta(days=(weekday - today.weekday()) % 7 or 7))
        found = today - timedelta(days=today.weekday()) + timedelta(weeks=offset, days=weekday)
        if found < today:
            return DateResult(None, f"{match.group('week')}の{WEEKDAYS[weekday]}曜日（{found.month}月{found.day}日）は過ぎています。")
        return DateResult(found)
    for word, days in _RELATIVE_DAYS:
        if word in text:
            return DateResult(today + timedelta(days=days))
    return None


_timex_lock = threading.Lock()
_timex_parser = []
_TIMEX_VALUE = re.compile(r"(?P<year>\d{4}|XXXX)-(?P<month>\d{2}|XX)-(?P<day>\d{2})")


def _timex(text: str, today: date) -> Optional[DateResult]:
    """Kanji numerals and other eras, by ja-timex when it is installed (engine environment)."""
    with _timex_lock:
        if not _timex_parser:
            try:
                from ja_timex import TimexParser
            except ImportError:
                _timex_parser.append(None)
            else:
                _timex_parser.append(TimexParser())
        parser = _timex_parser[0]
        if parser is None:
            return None
        tags = parser.parse(text)
    if any(t.type == "DURATION" for t in tags):  # "十三月一日" → P13M + 1日: not a date
        return None
    for tag in tags:
        match = _TIMEX_VALUE.fullmatch(tag.value or "") if tag.type == "DATE" else None
        if match:
            year, month = match.group("year"), match.group("month")
            return _resolve(None if year == "XXXX" else int(year), None if month == "XX" else int(month),
                            int(match.group("day")), today)
    return None
