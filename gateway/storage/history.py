"""Closed chats, searched (the console's 履歴): each close or hand-back in the audit log is one closed chat — its
conversation, when it ended, the outcome and who closed it — and its messages are those after the conversation's
previous close (its "window").

A closed chat is a counseling one when its outcome exists only for counseling, a counselor closed it, or its window
holds a protected message; such chats are for the roles of the counseling queue only, and their text (encrypted, so
searched by decrypting in Python, a bounded number of chats) only for those who read counseling. A counseling chat
closed by the inactivity check (gateway/counseling/jobs.py) writes no audit entry; its closing line to the youth
(``texts.IDLE_CLOSED``, a system message) stands for it, as entry ``-<message id>``, outcome ``no_response``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Dict, Iterable, List, Optional, Tuple

import sqlalchemy as sa

from gateway import texts
from gateway.staff.auth import audit_log, staff_users
from gateway.storage.conversations import OUTCOME_LABELS, conversations, messages, message_dict, _iso
from gateway.storage.db import metadata  # noqa: F401 — no table of its own

CLOSE_ACTIONS = ("close", "release")
IDLE_ACTION = "idle_close"
COUNSELING_ONLY = tuple(set(OUTCOME_LABELS["counseling"]) - set(OUTCOME_LABELS["general"]))
PAGE_SIZE = 20
DECRYPT_SCAN = 500  # counseling chats whose encrypted text one search may read
EPOCH = datetime(1970, 1, 1)


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _ends():
    """Every end of a chat with a person: closes and hand-backs (audit log), inactivity closes (their message)."""
    audited = sa.select(audit_log.c.id, audit_log.c.conversation_id, audit_log.c.at, audit_log.c.username,
                        audit_log.c.action, audit_log.c.detail).where(audit_log.c.action.in_(CLOSE_ACTIONS))
    idle = sa.select((-messages.c.id).label("id"), messages.c.conversation_id, messages.c.at,
                     sa.literal("system").label("username"), sa.literal(IDLE_ACTION).label("action"),
                     sa.literal("no_response").label("detail")).where(
        messages.c.sender == "system", messages.c.kind == "text", messages.c.text == texts.IDLE_CLOSED)
    return sa.union_all(audited, idle).subquery()


def _closed_query():
    """(columns of a closed chat, its window start) as one select."""
    ends = _ends()
    a, earlier = ends.alias("a"), ends.alias("earlier")
    window_start = (sa.select(sa.func.max(earlier.c.at))
                    .where(earlier.c.conversation_id == a.c.conversation_id,
                           sa.or_(earlier.c.at < a.c.at, sa.and_(earlier.c.at == a.c.at, earlier.c.id < a.c.id)))
                    .scalar_subquery())
    start = sa.func.coalesce(window_start, EPOCH)
    in_window = sa.and_(messages.c.conversation_id == a.c.conversation_id, messages.c.at > start,
                        messages.c.at <= a.c.at)
    closer_role = (sa.select(staff_users.c.role).where(staff_users.c.username == a.c.username)
                   .scalar_subquery())
    counseling = sa.or_(a.c.detail.in_(COUNSELING_ONLY), closer_role == "counselor", a.c.action == IDLE_ACTION,
                        sa.exists().where(in_window, messages.c.protected.is_(True)))
    select = (sa.select(a.c.id.label("entry"), a.c.conversation_id, a.c.at.label("closed_at"), a.c.username,
                        a.c.action, a.c.detail.label("outcome"), conversations.c.channel,
                        start.label("window_start"), counseling.label("counseling"))
              .select_from(a.join(conversations, conversations.c.id == a.c.conversation_id)))
    return select, a, in_window, counseling


def search(engine: sa.engine.Engine, *, kinds: Iterable[str], read_protected: bool, cipher=None,
           start: Optional[datetime] = None, end: Optional[datetime] = None, channel: str = "", outcome: str = "",
           text: str = "", page: int = 1, page_size: int = PAGE_SIZE) -> Dict:
    """Closed chats, newest first, of the ``kinds`` ("general", "counseling") the user may see, ended in
    [start, end) (naive UTC), on ``channel``, with ``outcome`` ("released": handed back without one), whose window
    holds ``text`` (protected text only with ``read_protected``). Returns {results, total, page, pages, partial}."""
    select, a, in_window, counseling = _closed_query()
    kinds = set(kinds)
    if kinds == {"general"}:
        select = select.where(~counseling)
    elif kinds == {"counseling"}:
        select = select.where(counseling)
    elif not kinds:
        return {"results": [], "total": 0, "page": 1, "pages": 0, "partial": False}
    if start:
        select = select.where(a.c.at >= start)
    if end:
        select = select.where(a.c.at < end)
    if channel:
        select = select.where(conversations.c.channel == channel)
    if outcome == "released":
        select = select.where(a.c.action == "release")
    elif outcome:
        select = select.where(a.c.action.in_(("close", IDLE_ACTION)), a.c.detail == outcome)
    select = select.order_by(a.c.at.desc(), a.c.id.desc())
    partial = False
    with engine.connect() as c:
        if not text:
            total = c.execute(sa.select(sa.func.count()).select_from(select.subquery())).scalar() or 0
            rows = c.execute(select.limit(page_size).offset((page - 1) * page_size)).all()
        else:
            plain = sa.exists().where(in_window, messages.c.protected.is_(False),
                                      sa.func.lower(messages.c.text).like(_like(text.lower()), escape="\\"))
            if not (read_protected and cipher is not None and "counseling" in kinds):
                matched = c.execute(select.where(plain)).all()
            else:
                matched, scanned = [], 0
                for row in c.execute(select.add_columns(plain.label("plain_hit"))).all():
                    if row.plain_hit:
                        matched.append(row)
                    elif row.counseling:
                        if scanned >= DECRYPT_SCAN:
                            partial = True
                            continue
                        scanned += 1
                        if _protected_hit(c, cipher, row, text.lower()):
                            matched.append(row)
            total = len(matched)
            rows = matched[(page - 1) * page_size: page * page_size]
    return {"results": [_result(r) for r in rows], "total": total, "page": page,
            "pages": (total + page_size - 1) // page_size, "partial": partial}


def _protected_hit(c, cipher, row, needle: str) -> bool:
    found = c.execute(sa.select(messages.c.text).where(
        messages.c.conversation_id == row.conversation_id, messages.c.protected.is_(True),
        messages.c.at > row.window_start, messages.c.at <= row.closed_at)).scalars()
    for stored in found:
        try:
            if needle in cipher.decrypt(stored).lower():
                return True
        except Exception:  # noqa: BLE001 — a token of a retired key: not searchable, not an error
            continue
    return False


def _result(row) -> Dict:
    return {"entry": row.entry, "conversation_id": row.conversation_id, "channel": row.channel,
            "closed_at": _iso(row.closed_at), "staff": row.username,
            "outcome": "released" if row.action == "release" else row.outcome, "counseling": bool(row.counseling),
            "automatic": row.action == IDLE_ACTION}


def closed_chats_of(engine: sa.engine.Engine, conversation_id: str, kinds: Iterable[str],
                    limit: int) -> Dict:
    """One conversation's closed chats of ``kinds`` ("general", "counseling"), newest first, at most ``limit``:
    {"chats": [...], "total": n} (the context panel, gateway/staff/console/context.py)."""
    kinds = set(kinds)
    if not kinds:
        return {"chats": [], "total": 0}
    select, a, _, counseling = _closed_query()
    select = select.where(a.c.conversation_id == conversation_id)
    if kinds == {"general"}:
        select = select.where(~counseling)
    elif kinds == {"counseling"}:
        select = select.where(counseling)
    select = select.order_by(a.c.at.desc(), a.c.id.desc())
    with engine.connect() as c:
        total = c.execute(sa.select(sa.func.count()).select_from(select.subquery())).scalar() or 0
        rows = c.execute(select.limit(limit)).all()
    return {"chats": [_result(r) for r in rows], "total": total}


def closed_chat(engine: sa.engine.Engine, entry: int) -> Optional[Tuple[Dict, datetime, datetime]]:
    """One closed chat by its audit entry: (its result, window start, end), or None."""
    select, a, _, _ = _closed_query()
    with engine.connect() as c:
        row = c.execute(select.where(a.c.id == entry)).first()
    return (_result(row), row.window_start, row.closed_at) if row else None


def window_messages(engine: sa.engine.Engine, conversation_id: str, start: datetime, end: datetime,
                    read_protected: bool, cipher=None) -> List[Dict]:
    """The chat's messages in its window; protected ones only for ``read_protected`` (decrypted), else left out."""
    condition = [messages.c.conversation_id == conversation_id, messages.c.at > start, messages.c.at <= end]
    if not read_protected:
        condition.append(messages.c.protected.is_(False))
    with engine.connect() as c:
        rows = c.execute(sa.select(messages).where(*condition).order_by(messages.c.id)).all()
    return [message_dict(r, (cipher.decrypt(r.text) if cipher else None) if r.protected else None) for r in rows]


def day_bounds(first: Optional[datetime], last: Optional[datetime], offset_hours: int = 9
               ) -> Tuple[Optional[datetime], Optional[datetime]]:
    """Local days (Japan: UTC+9) from ``first`` through ``last`` as naive-UTC [start, end)."""
    shift = timedelta(hours=offset_hours)
    return (first - shift if first else None, last + timedelta(days=1) - shift if last else None)
