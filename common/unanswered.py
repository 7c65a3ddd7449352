"""The unanswered-question log: what the assistant could not answer, for city staff to review.

Every honest fallback, unknown garbage item, other-municipality question and "もしかして" is stored with
time, channel, text, best guess and confidence; a "もしかして" the citizen then resolves by choosing a
candidate is marked resolved (``resolve``) and left out of the lists. Conversations are referred to by a
non-reversible hash. Counseling conversations are never logged (callers pass ``counseling=True`` and
nothing is written).

    python -m common.unanswered export [--since YYYY-MM-DD] [--until YYYY-MM-DD]   # CSV to stdout
    python -m common.unanswered weekly                                            # counts per ISO week
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Iterable, List, Optional

import sqlalchemy as sa

from common.clock import now

ROOT = Path(__file__).resolve().parent.parent
MAX_TEXT = 1000

metadata = sa.MetaData()
unanswered = sa.Table(
    "unanswered_questions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # fallback | garbage_item | faq_candidates | other_municipality | other_service
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("best_guess", sa.String(200)),
    sa.Column("confidence", sa.Float),
    sa.Column("conversation", sa.String(16), index=True),  # conversation_ref(sender id)
    sa.Column("resolved_topic", sa.String(16)),  # the FAQ topic the citizen chose from "もしかして"
)
RESOLVE_WITHIN = timedelta(minutes=30)


def conversation_ref(conversation_id: str) -> str:
    """A short, stable, non-reversible reference (LINE user ids are personal); as the gateway's logs."""
    return hashlib.sha256(conversation_id.encode("utf-8", "replace")).hexdigest()[:12]


def default_url() -> str:
    return os.environ.get("ASSISTANT_DB_URL") or f"sqlite:///{ROOT / 'var' / 'assistant.db'}"


@lru_cache(maxsize=4)
def _engine(url: str) -> sa.engine.Engine:
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)
    from common.migrate import upgrade

    upgrade(engine, "assistant")  # the schema by migrations/assistant (a log made by an earlier version is adopted)
    return engine


def record(text: str, channel: str, kind: str, best_guess: Optional[str] = None,
           confidence: Optional[float] = None, counseling: bool = False, url: Optional[str] = None,
           conversation_id: Optional[str] = None) -> bool:
    """Store one unanswered question; returns False (and stores nothing) for counseling conversations."""
    if counseling or not text or not text.strip():
        return False
    with _engine(url or default_url()).begin() as connection:
        connection.execute(unanswered.insert().values(
            created_at=now().replace(tzinfo=None), channel=channel or "unknown", kind=kind,
            text=text.strip()[:MAX_TEXT], best_guess=(best_guess or None) and best_guess[:200],
            confidence=confidence, conversation=conversation_id and conversation_ref(conversation_id),
        ))
    return True


def resolve(conversation_id: str, topic_id: str, url: Optional[str] = None) -> bool:
    """The citizen chose ``topic_id`` from "もしかして": the conversation's latest unresolved candidates
    (within RESOLVE_WITHIN) are resolved. Returns whether there were any."""
    since = now().replace(tzinfo=None) - RESOLVE_WITHIN
    with _engine(url or default_url()).begin() as connection:
        latest = connection.execute(
            sa.select(unanswered.c.id).where(
                unanswered.c.conversation == conversation_ref(conversation_id),
                unanswered.c.kind == "faq_candidates", unanswered.c.resolved_topic.is_(None),
                unanswered.c.created_at >= since).order_by(unanswered.c.id.desc()).limit(1)).scalar()
        if latest is None:
            return False
        connection.execute(unanswered.update().where(unanswered.c.id == latest).values(resolved_topic=topic_id))
    return True


def purge(before: Optional[datetime], url: Optional[str] = None,
          conversation_ids: Optional[Iterable[str]] = None) -> int:
    """Delete rows logged before ``before`` (aware, or naive Japan time as stored), or, with
    ``conversation_ids``, those conversations' rows of any age (``before`` None) or older than ``before``.
    Returns how many. A SQLite log that does not exist yet is not created."""
    url = url or default_url()
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return 0
    condition = sa.true()
    if before is not None:
        if before.tzinfo is not None:
            before = before.astimezone(now().tzinfo).replace(tzinfo=None)
        condition = unanswered.c.created_at < before
    if conversation_ids is not None:
        refs = sorted({conversation_ref(c) for c in conversation_ids})
        if not refs:
            return 0
        condition = sa.and_(condition, unanswered.c.conversation.in_(refs))
    elif before is None:
        raise ValueError("purge needs a time or conversations")
    with _engine(url).begin() as connection:
        return connection.execute(unanswered.delete().where(condition)).rowcount


def rows(since: Optional[date] = None, until: Optional[date] = None, url: Optional[str] = None,
         include_resolved: bool = False) -> List[dict]:
    query = sa.select(unanswered).order_by(unanswered.c.created_at)
    if not include_resolved:
        query = query.where(unanswered.c.resolved_topic.is_(None))
    if since:
        query = query.where(unanswered.c.created_at >= datetime.combine(since, datetime.min.time()))
    if until:
        query = query.where(unanswered.c.created_at < datetime.combine(until + timedelta(days=1), datetime.min.time()))
    with _engine(url or default_url()).connect() as connection:
        return [dict(r._mapping) for r in connection.execute(query)]


def weekly_counts(records: Iterable[dict]) -> List[tuple]:
    """(ISO week "2026-W48", kind, count) sorted by week then kind."""
    counter = Counter()
    for r in records:
        year, week, _ = r["created_at"].isocalendar()
        counter[(f"{year}-W{week:02d}", r["kind"])] += 1
    return sorted((week, kind, n) for (week, kind), n in counter.items())


def write_csv(records: Iterable[dict], out) -> None:
    writer = csv.writer(out)
    writer.writerow(["created_at", "channel", "kind", "text", "best_guess", "confidence"])
    for r in records:
        writer.writerow([r["created_at"].isoformat(timespec="seconds"), r["channel"], r["kind"], r["text"],
                         r["best_guess"] or "", "" if r["confidence"] is None else f"{r['confidence']:.3f}"])


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m common.unanswered", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["export", "weekly"])
    parser.add_argument("--since", type=date.fromisoformat)
    parser.add_argument("--until", type=date.fromisoformat)
    parser.add_argument("--db", help="database URL (default: ASSISTANT_DB_URL or var/assistant.db)")
    args = parser.parse_args(argv)
    found = rows(args.since, args.until, args.db)
    if args.command == "export":
        write_csv(found, sys.stdout)
    else:
        writer = csv.writer(sys.stdout)
        writer.writerow(["week", "kind", "count"])
        writer.writerows(weekly_counts(found))


if __name__ == "__main__":
    main()
