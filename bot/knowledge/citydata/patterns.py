"""The usual collection pattern of an area, read from the loaded calendar: what to say when it no longer
covers today.

The city publishes its collection calendar one year at a time (April or October to the next). When the
loaded calendar has ended, the assistant must not guess dates; what it can honestly say is what the
calendar *showed*: 「前回のカレンダーの最後の3か月では、【燃やせるごみ】は毎週月・木曜日でした」. This module derives
that pattern from the calendar alone, never from a typed list:

* the window is the last ``months`` months of the calendar (the first months when the calendar has not
  started yet), or the last ``months`` months with a collection of the category when it had none at the end;
* per weekday, the gaps between consecutive collection days give the cadence: 7 days → 毎週, 14 → 隔週,
  28 → 4週に1回 (a gap twice the usual one, a holiday, is tolerated once in a while);
* failing a steady gap, the same weeks of every month (第2・第4水曜日) are a pattern too;
* a weekday seen once in the window (a substitute day) is not part of the pattern, but a weekday with no
  steady cadence makes the whole pattern unclear: then ``clean`` is False and the caller points to the
  calendar instead of stating one.

Also given: the last collection day in the calendar (a real date, for categories not collected weekly) and
the months of the whole calendar without any collection of the category (seasonal: 枝・葉・草).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Dict, List, Optional, Sequence, Tuple

from common.formats import WEEKDAYS

MIN_OCCURRENCES = 2  # a weekday seen fewer times in the window is a one-off (a substitute day)
STEADY_SHARE = 0.75  # share of the gaps that must be the usual one (the others: multiples of it, holidays)


@dataclass(frozen=True)
class WeekdayRule:
    """One weekday of a pattern: every ``every_weeks`` weeks, or on the ``nth`` weeks of each month."""

    weekday: int  # date.weekday(): 0 = 月
    every_weeks: Optional[int] = None  # 1 = 毎週, 2 = 隔週, 4 = 4週に1回
    nth: Tuple[int, ...] = ()  # (2, 4) = 第2・第4

    @property
    def cadence(self) -> str:
        """「毎週」, 「隔週」, 「4週に1回の」, 「毎月第2・第4」."""
        if self.nth:
            return "毎月" + "・".join(f"第{n}" for n in self.nth)
        if self.every_weeks == 1:
            return "毎週"
        if self.every_weeks == 2:
            return "隔週"
        return f"{self.every_weeks}週に1回の"


@dataclass(frozen=True)
class UsualPattern:
    """What the calendar showed for one area and category (see the module docstring)."""

    area: str
    codes: Tuple[int, ...]
    window: Tuple[date, date]  # the days the pattern was read from
    rules: Tuple[WeekdayRule, ...] = ()  # by weekday, Monday first
    clean: bool = False  # False: no steady pattern (or no collection at all in the calendar)
    collections: int = 0  # collection days in the window
    last_day: Optional[date] = None  # the last collection day in the whole calendar
    months_without: Tuple[Tuple[int, int], ...] = field(default_factory=tuple)  # (year, month) with none

    @property
    def weekly(self) -> bool:
        return self.clean and all(r.every_weeks == 1 for r in self.rules)

    def text(self) -> Optional[str]:
        """「毎週月・木曜日」, 「隔週水曜日」, 「4週に1回の水曜日」, 「毎月第2・第4水曜日」, 「毎週月曜日と隔週木曜日」;
        None when there is no clean pattern."""
        if not self.clean or not self.rules:
            return None
        groups: Dict[str, List[int]] = {}
        for rule in self.rules:
            groups.setdefault(rule.cadence, []).append(rule.weekday)
        return "と".join(f"{cadence}{'・'.join(WEEKDAYS[d] for d in days)}曜日" for cadence, days in groups.items())

    def months_without_text(self) -> Optional[str]:
        """「12月〜4月」 (runs of consecutive months joined, in calendar order); None when every month had one."""
        if not self.months_without:
            return None
        runs: List[List[Tuple[int, int]]] = []
        for ym in self.months_without:
            if runs and _next_month(runs[-1][-1]) == ym:
                runs[-1].append(ym)
            else:
                runs.append([ym])
        return "、".join(f"{r[0][1]}月" if len(r) == 1 else f"{r[0][1]}月〜{r[-1][1]}月" for r in runs)


def _next_month(ym: Tuple[int, int]) -> Tuple[int, int]:
    year, month = ym
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _months_back(day: date, months: int) -> date:
    """The day after the same day ``months`` months earlier (clamped): 2025-09-30, 3 → 2025-07-01."""
    year, month = day.year, day.month - months
    while month < 1:
        year, month = year - 1, month + 12
    for dd in (day.day, 30, 29, 28):
        try:
            return date(year, month, dd) + timedelta(days=1)
        except ValueError:
            continue
    raise ValueError(day)


def _months_forward(day: date, months: int) -> date:
    """The day before the same day ``months`` months later (clamped): 2026-10-01, 3 → 2026-12-31."""
    year, month = day.year, day.month + months
    while month > 12:
        year, month = year + 1, month - 12
    for dd in (day.day, 30, 29, 28):
        try:
            return date(year, month, dd) - timedelta(days=1)
        except ValueError:
            continue
    raise ValueError(day)


def _weekday_rule(weekday: int, days: Sequence[date], window: Tuple[date, date]) -> Optional[WeekdayRule]:
    """The cadence of one weekday's collection days in the window; None when there is none."""
    gaps = [(b - a).days // 7 for a, b in zip(days, days[1:])]
    if gaps:
        usual, count = Counter(gaps).most_common(1)[0]
        if count / len(gaps) >= STEADY_SHARE and all(g % usual == 0 for g in gaps):
            # The first and the last day must not be far from the window's ends, or collection
            # started or stopped inside it (then the cadence does not describe the window).
            first_gap = (days[0] - window[0]).days // 7
            last_gap = (window[1] - days[-1]).days // 7
            if first_gap < 2 * usual and last_gap < 2 * usual:
                return WeekdayRule(weekday, every_weeks=usual)
    # The same weeks of every month (第2・第4): only months the window covers whole.
    weeks_by_month: Dict[Tuple[int, int], set] = {}
    month = (window[0].year, window[0].month)
    while month <= (window[1].year, window[1].month):
        first = date(*month, 1)
        nxt = date(*_next_month(month), 1)
        if first >= window[0] and nxt - timedelta(days=1) <= window[1]:
            weeks_by_month[month] = set()
        month = _next_month(month)
    for day in days:
        if (day.year, day.month) in weeks_by_month:
            weeks_by_month[(day.year, day.month)].add((day.day - 1) // 7 + 1)
    sets = [frozenset(s) for s in weeks_by_month.values()]
    if len(sets) >= 2 and len(set(sets)) == 1 and sets[0] and not sets[0] >= {1, 2, 3, 4}:
        return WeekdayRule(weekday, nth=tuple(sorted(sets[0])))
    return None


def derive(area: str, codes: Sequence[int], days: Sequence[Tuple[date, int]], first: date, last: date,
           months: int = 3, at_end: bool = True) -> UsualPattern:
    """The pattern of ``codes`` in ``days`` ((day, code) of every collection day of the area, sorted) of a
    calendar running from ``first`` to ``last``: from its last ``months`` months (``at_end``) or its first."""
    wanted = set(codes)
    mine = [d for d, code in days if code in wanted]
    months_with = {(d.year, d.month) for d in mine}
    months_without: List[Tuple[int, int]] = []
    month = (first.year, first.month)
    while month <= (last.year, last.month):
        if month not in months_with:
            months_without.append(month)
        month = _next_month(month)
    if not mine:
        return UsualPattern(area, tuple(codes), (first, last), months_without=tuple(months_without))
    if at_end:
        end = last
        if not any(_months_back(end, months) <= d for d in mine):
            end = mine[-1]  # none at the end (out of season): the last months that had one
        window = (max(first, _months_back(end, months)), end)
    else:
        start = first if any(d <= _months_forward(first, months) for d in mine) else mine[0]
        window = (start, min(last, _months_forward(start, months)))
    inside = [d for d in mine if window[0] <= d <= window[1]]
    by_weekday: Dict[int, List[date]] = {}
    for d in inside:
        by_weekday.setdefault(d.weekday(), []).append(d)
    regular = {w: ds for w, ds in by_weekday.items() if len(ds) >= MIN_OCCURRENCES}
    rules = [_weekday_rule(w, ds, window) for w, ds in sorted(regular.items())]
    clean = bool(rules) and all(r is not None for r in rules)
    return UsualPattern(area, tuple(codes), window, tuple(r for r in rules if r is not None) if clean else (),
                        clean, len(inside), mine[-1], tuple(months_without))
