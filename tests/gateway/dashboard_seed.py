"""Known figures for the dashboard's tests (tests/gateway/test_staff_dashboard.py, tests/e2e/test_dashboard_browser.py):
a gateway database (conversations, messages, handoff_log) and an assistant database (unanswered log, 大型ごみ
bookings), written with SQLAlchemy into SQLite files before the gateway starts. Times of the gateway are naive UTC,
those of the unanswered log naive Japan time, as the real writers store them. The expected numbers are worked
out by hand in test_staff_dashboard.py."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional

FIRST, LAST = date(2026, 11, 1), date(2026, 11, 7)  # Sunday … Saturday; 11-03 is a holiday (文化の日)
COUNSELING_TEXT = "もう学校に行きたくない"  # a protected message's words: never in the dashboard


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def seed_gateway(url: str) -> None:
    from gateway.storage.conversations import conversations, messages
    from gateway.storage.db import connect
    from gateway.storage.handoff_log import handoff_log

    engine = connect(url)
    now = _at("2026-11-05T01:06:00")
    with engine.begin() as c:
        for cid, channel, owner, queue, risk, since, waiting, claimed in (
                ("web:a", "web", "bot", None, "none", None, None, None),
                ("line:b", "line", "bot", None, "none", None, None, None),
                ("web:c", "web", "bot", None, "none", None, None, None),
                # open now: a counseling chat waiting since 11-05 09:00 JST, a general one with a clerk
                ("web:d", "web", "queued", "counseling", "normal", "2026-11-05T00:00:00", "2026-11-05T00:00:00", None),
                ("web:e", "web", "staff:x", "general", "none", None, "2026-11-05T01:00:00", "2026-11-05T01:06:00")):
            c.execute(conversations.insert().values(
                id=cid, channel=channel, owner=owner, queue=queue, priority=0, risk=risk, updated_at=now,
                engine_session=0, counseling_since=since and _at(since), waiting_since=waiting and _at(waiting),
                claimed_at=claimed and _at(claimed)))
        rows = [  # (UTC time, conversation, sender, kind, protected, text)
            ("2026-10-31T14:59:00", "web:a", "user", "text", False, "前の日（日本時間 10/31 23:59）"),
            ("2026-10-31T14:59:30", "web:a", "bot", "text", False, "答え"),
            ("2026-11-01T15:30:00", "web:a", "user", "text", False, "日本時間 11/2 0:30"),
            ("2026-11-01T15:30:01", "web:a", "bot", "text", False, "答え"),
            ("2026-11-01T16:00:00", "web:a", "user", "text", False, "二つ目"),
            ("2026-11-01T16:00:01", "web:a", "bot", "text", False, "答え"),
            ("2026-11-02T01:00:00", "line:b", "user", "text", False, "LINE から"),
            ("2026-11-02T01:00:01", "line:b", "bot", "text", False, "答え"),
            ("2026-11-02T03:00:00", "web:c", "user", "text", False, "人と話したい"),
            ("2026-11-02T03:00:00", "web:c", "staff:x", "note", False, "メモ（数えない）"),
            ("2026-11-02T03:00:01", "web:c", "system", "text", False, "担当者におつなぎします"),
            ("2026-11-03T02:00:00", "line:b", "user", "text", True, COUNSELING_TEXT),
            ("2026-11-03T02:00:01", "line:b", "system", "text", True, "相談員につなぎます"),
            ("2026-11-03T05:00:00", "web:c", "user", "text", False, "収集日は？"),
            ("2026-11-03T05:00:01", "web:c", "bot", "text", False, "答え"),
            ("2026-11-03T05:10:00", "web:c", "user", "media", False, "（スタンプ）"),
        ]
        for at, cid, sender, kind, protected, text in rows:
            c.execute(messages.insert().values(conversation_id=cid, at=_at(at), sender=sender, kind=kind,
                                               text=text, protected=protected))
        logged = [  # finished handoffs: (queue, channel, risk, counseling, waiting since (UTC), minutes to a person)
            ("general", "web", "none", False, "2026-11-02T00:00:00", 2),
            ("general", "line", "none", False, "2026-11-02T01:00:00", 10),
            ("general", "web", "none", False, "2026-11-03T00:00:00", 4),
            ("general", "web", "none", False, "2026-11-03T00:30:00", None),  # the citizen cancelled
            ("counseling", "line", "high", True, "2026-11-04T00:00:00", 1),
            ("counseling", "web", "emergency", True, "2026-11-04T02:00:00", 3),
            ("general", "web", "none", False, "2026-10-31T14:00:00", 100),  # 10/31 23:00 JST: before the range
            ("general", "web", "none", False, "2026-11-07T14:59:00", 8),  # 11/7 23:59 JST: the last minute
            ("general", "web", "none", False, "2026-11-07T15:00:00", 100),  # 11/8 0:00 JST: after the range
        ]
        for queue, channel, risk, counseling, waiting, minutes in logged:
            start = _at(waiting)
            claimed: Optional[datetime] = start + timedelta(minutes=minutes) if minutes is not None else None
            c.execute(handoff_log.insert().values(
                channel=channel, queue=queue, reason="user_request", risk=risk, counseling=counseling,
                waiting_since=start, claimed_at=claimed, ended_at=(claimed or start) + timedelta(minutes=5),
                outcome="resolved" if claimed else None))
    engine.dispose()


def seed_assistant(url: str) -> None:
    from common import unanswered
    from common.booking.store import BookingStore, bookings

    log = unanswered._engine(url)
    with log.begin() as c:
        for at, kind, text, resolved in (  # naive Japan time
                ("2026-11-02T10:00:00", "fallback", "粗大ごみの出し方わからん", None),
                ("2026-11-02T11:00:00", "faq_candidates", "住民票", "faq_juminhyo"),  # the citizen chose one
                ("2026-11-03T09:00:00", "fallback", "粗大ごみの出し方わからん", None),
                ("2026-11-03T09:30:00", "other_municipality", "=江別市のごみ", None),
                ("2026-11-01T00:00:00", "garbage_item", "謎の物体", None),
                ("2026-10-31T23:59:00", "fallback", "範囲の前", None)):
            c.execute(unanswered.unanswered.insert().values(created_at=_at(at), channel="web", kind=kind, text=text,
                                                            resolved_topic=resolved))
    store = BookingStore(url)
    with store.engine.begin() as c:
        for n, (ward, day, status) in enumerate((("中央区", "2026-11-02", "booked"), ("中央区", "2026-11-02", "booked"),
                                                 ("中央区", "2026-11-02", "cancelled"), ("中央区", "2026-11-05", "booked"),
                                                 ("北区", "2026-11-06", "booked"))):
            c.execute(bookings.insert().values(
                receipt_no=f"TEST-{n:04d}", created_at=_at("2026-10-30T10:00:00"),
                updated_at=_at("2026-10-30T10:00:00"), channel="web", ward=ward, town="北一条西", address="1-1",
                phone="0111234567", day=date.fromisoformat(day),
                items=json.dumps([{"name": "ソファー", "quantity": 1, "fee": 1000}], ensure_ascii=False),
                total=1000, status=status, remind=False, idempotency_key=f"seed-{n}"))


def seed(directory: Path) -> str:
    """Both databases in ``directory`` (the gateway's DATA_DIR); returns the assistant database's URL."""
    seed_gateway(f"sqlite:///{directory / 'gateway.db'}")
    url = f"sqlite:///{directory / 'assistant.db'}"
    seed_assistant(url)
    return url
