"""Staff availability (online / away / offline) and who is connected, for transfer lists and automatic assignment.

``status`` is what the person chose in the console; ``last_seen`` is refreshed every few seconds by each gateway
for the people with an open console socket (gateway/jobs/assignment.py). Someone not seen for the grace period
counts as offline whatever they chose (a closed laptop, a lost network), so no chat is assigned to them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Dict, Iterable, List

import sqlalchemy as sa

from gateway.staff.auth import staff_users
from gateway.storage.conversations import STAFF_PREFIX, conversations
from gateway.storage.db import metadata, utcnow

STATUSES = ("online", "away", "offline")

staff_presence = sa.Table(
    "staff_presence", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime),
    sa.Column("last_assigned", sa.DateTime),
)


def set_status(engine: sa.engine.Engine, username: str, status: str, now: datetime = None) -> None:
    if status not in STATUSES:
        raise ValueError(status)
    now = now or utcnow()
    with engine.begin() as c:
        if not c.execute(staff_presence.update().where(staff_presence.c.username == username)
                         .values(status=status, changed_at=now, last_seen=now)).rowcount:
            c.execute(staff_presence.insert().values(username=username, status=status, changed_at=now, last_seen=now))


def seen(engine: sa.engine.Engine, usernames: Iterable[str], now: datetime = None) -> None:
    """Those with an open console now; someone seen for the first time is online."""
    names = sorted(set(usernames))
    if not names:
        return
    now = now or utcnow()
    with engine.begin() as c:
        c.execute(staff_presence.update().where(staff_presence.c.username.in_(names)).values(last_seen=now))
        known = set(c.execute(sa.select(staff_presence.c.username)
                              .where(staff_presence.c.username.in_(names))).scalars())
        for name in names:
            if name not in known:
                try:
                    with c.begin_nested():
                        c.execute(staff_presence.insert().values(username=name, status="online", changed_at=now,
                                                                 last_seen=now))
                except sa.exc.IntegrityError:  # another gateway was first
                    pass


def open_chats(engine: sa.engine.Engine) -> Dict[str, int]:
    """How many chats each person owns now."""
    owner = conversations.c.owner
    with engine.connect() as c:
        rows = c.execute(sa.select(owner, sa.func.count()).where(owner.like(STAFF_PREFIX + "%")).group_by(owner))
        return {o[len(STAFF_PREFIX):]: int(n) for o, n in rows}


def members(engine: sa.engine.Engine, grace: timedelta, now: datetime = None) -> List[Dict]:
    """Every active user with their effective status (offline when not seen for ``grace``), open chats and
    when a chat was last assigned to them automatically."""
    now = now or utcnow()
    p = staff_presence
    with engine.connect() as c:
        rows = c.execute(sa.select(staff_users.c.username, staff_users.c.role, p.c.status, p.c.last_seen,
                                   p.c.last_assigned)
                         .select_from(staff_users.outerjoin(p, p.c.username == staff_users.c.username))
                         .where(staff_users.c.active.is_(True)).order_by(staff_users.c.username)).all()
    chats = open_chats(engine)
    return [{"username": r.username, "role": r.role,
             "status": r.status if r.status and r.last_seen and now - r.last_seen <= grace else "offline",
             "chosen": r.status or "online", "open_chats": chats.get(r.username, 0),
             "last_assigned": r.last_assigned} for r in rows]


def mark_assigned(engine: sa.engine.Engine, username: str, now: datetime = None) -> None:
    with engine.begin() as c:
        c.execute(staff_presence.update().where(staff_presence.c.username == username)
                  .values(last_assigned=now or utcnow()))
