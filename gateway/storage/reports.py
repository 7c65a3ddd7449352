"""The dashboard's figures (GET /staff/api/dashboard): read-only aggregations over the gateway's database
(messages, conversations, handoff_log) and the action server's (unanswered log, 大型ごみ bookings).

Days are Japan days (UTC+9, no daylight saving). The gateway stores naive UTC, so a message's day is its time
+9 hours; the unanswered log and bookings store naive Japan time and dates. Counting and bucketing run in SQL
(``date(at, '+9 hours')`` on SQLite, ``CAST(at + INTERVAL '9 hours' AS DATE)`` on PostgreSQL) over indexed
time columns; only handoffs (few, and their waits need percentiles) are fetched, narrow and bounded
(``MAX_HANDOFF_ROWS``), and counted in Python.

Counts only: no conversation id, no citizen's or counselor's text. The one text shown is the unanswered log's,
which never holds a counseling chat (common/unanswered.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Dict, Iterable, List, Optional, Sequence

import sqlalchemy as sa

from gateway.storage.conversations import BOT, QUEUES, RISKS, conversations, messages
from gateway.storage.handoff_log import handoff_log

JST_OFFSET = timedelta(hours=9)
MAX_DAYS = 366
DEFAULT_DAYS = 14
TOP_UNANSWERED = 10
MAX_HANDOFF_ROWS = 200_000  # more handoffs than this in one range: the figures say "truncated"
CHANNELS = ("web", "line")
NOT_UNDERSTOOD = ("fallback", "garbage_item")  # the unanswered log's kinds, by what the citizen got
CANDIDATES = ("faq_candidates",)
OUT_OF_SCOPE = ("other_municipality", "other_service")

# The time column the day-based counts filter messages on; created by ``ensure_indexes`` on an older database
# (create_all makes it with a new messages table). The retention purge (messages.at < …) uses it as well.
messages_at_index = sa.Index("ix_messages_at", messages.c.at)
_indexed: set = set()


class RangeError(ValueError):
    """A date range the dashboard refuses (the API answers 400 with the message)."""


@dataclass(frozen=True)
class Range:
    first: date  # Japan days, both included
    last: date

    @property
    def days(self) -> List[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    @property
    def utc_bounds(self) -> tuple:
        """[start, end) in naive UTC, as the gateway stores times."""
        start = datetime.combine(self.first, datetime.min.time()) - JST_OFFSET
        return start, datetime.combine(self.last + timedelta(days=1), datetime.min.time()) - JST_OFFSET

    @property
    def jst_bounds(self) -> tuple:
        """[start, end) in naive Japan time, as the unanswered log stores times."""
        return (datetime.combine(self.first, datetime.min.time()),
                datetime.combine(self.last + timedelta(days=1), datetime.min.time()))

    def as_dict(self) -> Dict:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "timezone": "Asia/Tokyo",
                "days": [d.isoformat() for d in self.days]}


def japan_today(now: Optional[datetime] = None) -> date:
    return ((now or datetime.now(timezone.utc).replace(tzinfo=None)) + JST_OFFSET).date()


def _day(text: Optional[str], name: str, messages_: Dict[str, str]) -> Optional[date]:
    if text is None or text == "":
        return None
    digits = text[:4] + text[5:7] + text[8:]
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not (digits.isascii() and digits.isdigit()):
        raise RangeError(messages_["format"].format(name=name, value=text[:20]))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RangeError(messages_["impossible"].format(name=name, value=text)) from None


def parse_range(first: Optional[str], last: Optional[str], messages_: Dict[str, str],
                today: Optional[date] = None) -> Range:
    """From the query's ``from`` and ``to`` (YYYY-MM-DD, Japan days, both included); defaults: the last
    ``DEFAULT_DAYS`` days up to today. RangeError (with ``messages_``' wording) for a malformed or impossible
    date, ``from`` after ``to``, more than ``MAX_DAYS`` days, or a year before 2000 or after 2100."""
    start, end = _day(first, "from", messages_), _day(last, "to", messages_)
    for value in (start, end):  # before any arithmetic: 9999-12-31 + 13 days would overflow
        if value is not None and not 2000 <= value.year <= 2100:
            raise RangeError(messages_["year"].format(value=value.isoformat()))
    today = today or japan_today()
    if end is None:
        end = start + timedelta(days=DEFAULT_DAYS - 1) if start else today
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise RangeError(messages_["order"])
    if (end - start).days + 1 > MAX_DAYS:
        raise RangeError(messages_["long"].format(days=MAX_DAYS))
    return Range(start, end)


# ---------------------------------------------------------------------- portable day bucketing
def _utc_day(column, dialect: str):
    """The Japan day of a naive UTC time column."""
    if dialect == "sqlite":
        return sa.func.date(column, "+9 hours")
    return sa.cast(column + sa.literal_column("INTERVAL '9 hours'"), sa.Date)


def _local_day(column, dialect: str):
    """The day of a naive Japan time column."""
    return sa.func.date(column) if dialect == "sqlite" else sa.cast(column, sa.Date)


def _iso(value) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)[:10]


def ensure_indexes(engine: sa.engine.Engine) -> None:
    """The index on messages.at, once per database (an older database lacks it; creating it on a large
    PostgreSQL table holds writes to ``messages`` for as long as the build takes)."""
    key = str(engine.url)
    if key in _indexed:
        return
    messages_at_index.create(engine, checkfirst=True)
    _indexed.add(key)


# ---------------------------------------------------------------------- the gateway's database
def volume(engine: sa.engine.Engine, window: Range) -> Dict:
    """Citizen turns (text messages the citizen sent, counseling ones included as counts) and conversations
    (those with at least one turn that day) per day and channel."""
    dialect = engine.dialect.name
    start, end = window.utc_bounds
    day = _utc_day(messages.c.at, dialect).label("day")
    query = (sa.select(day, conversations.c.channel, sa.func.count().label("turns"),
                       sa.func.count(sa.distinct(messages.c.conversation_id)).label("conversations"))
             .select_from(messages.join(conversations, conversations.c.id == messages.c.conversation_id))
             .where(messages.c.at >= start, messages.c.at < end, messages.c.sender == "user",
                    messages.c.kind == "text")
             .group_by(day, conversations.c.channel))
    with engine.connect() as c:
        rows = c.execute(query).all()
    channels = list(CHANNELS) + sorted({r.channel for r in rows} - set(CHANNELS))
    index = {d.isoformat(): i for i, d in enumerate(window.days)}
    series = {ch: {"conversations": [0] * len(index), "turns": [0] * len(index)} for ch in channels}
    for r in rows:
        i = index.get(_iso(r.day))
        if i is not None:
            series[r.channel]["conversations"][i] += int(r.conversations)
            series[r.channel]["turns"][i] += int(r.turns)
    return {"channels": series}


def engine_replied(engine: sa.engine.Engine, window: Range) -> List[int]:
    """Per day: citizen turns whose next message in the chat is the engine's (sender ``bot``). Turns while a
    person had the chat or waited for one, and those the gateway answered itself (counseling desk, engine down,
    "which 相談?"), are followed by a system or staff line and are not counted."""
    dialect = engine.dialect.name
    start, end = window.utc_bounds
    turn, after = messages.alias("turn"), messages.alias("after")
    next_sender = (sa.select(after.c.sender)
                   .where(after.c.conversation_id == turn.c.conversation_id, after.c.id > turn.c.id,
                          after.c.kind == "text")
                   .order_by(after.c.id).limit(1).scalar_subquery())
    day = _utc_day(turn.c.at, dialect).label("day")
    query = (sa.select(day, sa.func.count().label("n"))
             .where(turn.c.at >= start, turn.c.at < end, turn.c.sender == "user", turn.c.kind == "text",
                    next_sender == BOT)
             .group_by(day))
    with engine.connect() as c:
        found = {_iso(r.day): int(r.n) for r in c.execute(query)}
    return [found.get(d.isoformat(), 0) for d in window.days]


@dataclass(frozen=True)
class Handoff:
    queue: str
    channel: str
    risk: str
    counseling: bool
    waiting_since: datetime
    claimed_at: Optional[datetime]
    ended: bool


def handoffs(engine: sa.engine.Engine, window: Range) -> tuple:
    """(handoffs that began waiting in the range, truncated?): finished ones from handoff_log, open ones (waiting
    or with a person now) from conversations. Narrow columns, at most MAX_HANDOFF_ROWS."""
    start, end = window.utc_bounds
    log = handoff_log.c
    finished = (sa.select(log.queue, log.channel, log.risk, log.counseling, log.waiting_since, log.claimed_at,
                          sa.literal(True).label("ended"))
                .where(log.waiting_since >= start, log.waiting_since < end))
    conv = conversations.c
    open_now = (sa.select(conv.queue, conv.channel, conv.risk, conv.counseling_since.is_not(None).label("counseling"),
                          conv.waiting_since, conv.claimed_at, sa.literal(False).label("ended"))
                .where(conv.owner != BOT, conv.waiting_since >= start, conv.waiting_since < end))
    found: List[Handoff] = []
    with engine.connect() as c:
        for query in (finished, open_now):
            for r in c.execute(query.limit(MAX_HANDOFF_ROWS + 1 - len(found))):
                found.append(Handoff(r.queue or "general", r.channel, r.risk or "none", bool(r.counseling),
                                     r.waiting_since, r.claimed_at, bool(r.ended)))
            if len(found) > MAX_HANDOFF_ROWS:
                return found[:MAX_HANDOFF_ROWS], True
    return found, False


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """Nearest rank: the smallest value with at least p % of the values at or below it; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def _jst_day(moment: datetime) -> str:
    return (moment + JST_OFFSET).date().isoformat()


def handoff_figures(found: Iterable[Handoff], window: Range) -> Dict:
    """Per queue: handoffs, taken by a person, ended untaken (cancelled, closed while waiting), waiting now,
    and the wait until a person took it (p50, p90, minutes); per day and queue: handoffs."""
    found = list(found)
    queues = list(QUEUES) + sorted({h.queue for h in found} - set(QUEUES))
    index = {d.isoformat(): i for i, d in enumerate(window.days)}
    per_day = {q: [0] * len(index) for q in queues}
    rows = []
    for queue in queues:
        mine = [h for h in found if h.queue == queue]
        waits = [(h.claimed_at - h.waiting_since).total_seconds() / 60 for h in mine if h.claimed_at]
        p50, p90 = percentile(waits, 50), percentile(waits, 90)
        rows.append({"queue": queue, "handoffs": len(mine), "taken": len(waits),
                     "untaken": sum(1 for h in mine if h.ended and not h.claimed_at),
                     "waiting": sum(1 for h in mine if not h.ended and not h.claimed_at),
                     "p50_minutes": None if p50 is None else round(p50, 1),
                     "p90_minutes": None if p90 is None else round(p90, 1)})
        for h in mine:
            i = index.get(_jst_day(h.waiting_since))
            if i is not None:
                per_day[queue][i] += 1
    return {"queues": rows, "per_day": per_day}


def counseling_figures(found: Iterable[Handoff], window: Range) -> Dict:
    """Counseling sessions (chats queued for a counselor) per day by risk level: the level at the end for finished
    sessions, the current one for open sessions. Counts only."""
    index = {d.isoformat(): i for i, d in enumerate(window.days)}
    levels = {r: [0] * len(index) for r in RISKS}
    for h in found:
        if not h.counseling:
            continue
        i = index.get(_jst_day(h.waiting_since))
        if i is not None:
            levels[h.risk if h.risk in levels else "none"][i] += 1
    return {"levels": levels, "totals": {r: sum(v) for r, v in levels.items()}}


# ---------------------------------------------------------------------- the action server's database
def unanswered_per_day(engine: sa.engine.Engine, table: sa.Table, window: Range) -> Dict[str, List[int]]:
    """The unanswered log per day and kind (resolved もしかして included: candidates were offered)."""
    dialect = engine.dialect.name
    start, end = window.jst_bounds
    day = _local_day(table.c.created_at, dialect).label("day")
    query = (sa.select(day, table.c.kind, sa.func.count().label("n"))
             .where(table.c.created_at >= start, table.c.created_at < end).group_by(day, table.c.kind))
    index = {d.isoformat(): i for i, d in enumerate(window.days)}
    kinds: Dict[str, List[int]] = defaultdict(lambda: [0] * len(index))
    with engine.connect() as c:
        for r in c.execute(query):
            i = index.get(_iso(r.day))
            if i is not None:
                kinds[r.kind][i] += int(r.n)
    return dict(kinds)


def top_unanswered(engine: sa.engine.Engine, table: sa.Table, window: Range, limit: int = TOP_UNANSWERED) -> Dict:
    """The most frequent unanswered questions of the range's last seven days (same text and kind counted
    together; もしかして the citizen then resolved left out)."""
    week = Range(max(window.first, window.last - timedelta(days=6)), window.last)
    start, end = week.jst_bounds
    n = sa.func.count().label("n")
    query = (sa.select(table.c.kind, table.c.text, n, sa.func.max(table.c.created_at).label("latest"))
             .where(table.c.created_at >= start, table.c.created_at < end, table.c.resolved_topic.is_(None))
             .group_by(table.c.kind, table.c.text)
             .order_by(n.desc(), sa.desc("latest"), table.c.text).limit(limit))
    with engine.connect() as c:
        items = [{"text": r.text, "kind": r.kind, "count": int(r.n)} for r in c.execute(query)]
    return {"from": week.first.isoformat(), "to": week.last.isoformat(), "items": items}


def bookings_vs_capacity(engine: sa.engine.Engine, table: sa.Table, schedule, window: Range,
                         is_collection_day) -> Dict:
    """Bookings (status booked) per collection day and ward, and the capacity of the wards that collect that
    day (the schedule's daily capacity; 0 where the ward does not collect)."""
    query = (sa.select(table.c.day, table.c.ward, sa.func.count().label("n"))
             .where(table.c.status == "booked", table.c.day >= window.first, table.c.day <= window.last)
             .group_by(table.c.day, table.c.ward))
    with engine.connect() as c:
        found = {(_iso(r.day), r.ward): int(r.n) for r in c.execute(query)}
    wards = list(schedule.weekdays) + sorted({w for _, w in found} - set(schedule.weekdays))
    index = {d.isoformat(): i for i, d in enumerate(window.days)}
    booked = {w: [0] * len(index) for w in wards}
    capacity = {w: [0] * len(index) for w in wards}
    for day in window.days:
        i = index[day.isoformat()]
        for ward in wards:
            booked[ward][i] = found.get((day.isoformat(), ward), 0)
            capacity[ward][i] = schedule.capacity(ward) if is_collection_day(schedule, ward, day) else 0
    return {"wards": wards, "booked": booked, "capacity": capacity,
            "total_booked": [sum(booked[w][i] for w in wards) for i in range(len(index))],
            "total_capacity": [sum(capacity[w][i] for w in wards) for i in range(len(index))]}


def outcomes(replied: List[int], kinds: Dict[str, List[int]], general_handoffs: List[int]) -> Dict:
    """How citizens' questions ended, per day. ``answered`` is an estimate: turns the engine replied to minus
    the non-answers it logged (never below 0)."""
    size = len(replied)

    def total(names: Iterable[str]) -> List[int]:
        return [sum(kinds.get(k, [0] * size)[i] for k in names) for i in range(size)]

    candidates, not_understood, out_of_scope = total(CANDIDATES), total(NOT_UNDERSTOOD), total(OUT_OF_SCOPE)
    answered = [max(0, replied[i] - candidates[i] - not_understood[i] - out_of_scope[i]) for i in range(size)]
    series = {"answered": answered, "candidates": candidates, "not_understood": not_understood,
              "out_of_scope": out_of_scope, "handoff": general_handoffs}
    return {"series": series, "engine_replied": replied, "totals": {k: sum(v) for k, v in series.items()}}
