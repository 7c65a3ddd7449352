"""Canned replies with a title and a ``/`` keyword, searchable, edited by supervisors.

The replies themselves stay in ``canned_replies`` (gateway/storage/conversations.py, seeded there); the title and
keyword live beside them in ``canned_reply_meta`` (one row per reply, optional), so the older table and its
seeding are untouched and a database made before has nothing to migrate.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional

import sqlalchemy as sa

from gateway.storage.conversations import canned_replies
from gateway.storage.db import metadata, utcnow

MAX_TITLE = 80
MAX_KEYWORD = 32

canned_reply_meta = sa.Table(
    "canned_reply_meta", metadata,
    sa.Column("reply_id", sa.Integer, sa.ForeignKey("canned_replies.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("title", sa.String(MAX_TITLE)),
    sa.Column("keyword", sa.String(MAX_KEYWORD), index=True),
    sa.Column("updated_by", sa.String(64)),
    sa.Column("updated_at", sa.DateTime),
)


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(engine: sa.engine.Engine, queues: Iterable[str], query: str = "") -> List[Dict]:
    """The replies of ``queues`` (queue, then id), those whose text, title or keyword contain ``query``."""
    meta = canned_reply_meta
    select = (sa.select(canned_replies, meta.c.title, meta.c.keyword)
              .select_from(canned_replies.outerjoin(meta, meta.c.reply_id == canned_replies.c.id))
              .where(canned_replies.c.queue.in_(list(queues)))
              .order_by(canned_replies.c.queue, canned_replies.c.id))
    if query:
        pattern = _like(query.lower())
        select = select.where(sa.or_(*(sa.func.lower(column).like(pattern, escape="\\")
                                       for column in (canned_replies.c.text, meta.c.title, meta.c.keyword))))
    with engine.connect() as c:
        return [{"id": r.id, "queue": r.queue, "text": r.text, "title": r.title or "", "keyword": r.keyword or ""}
                for r in c.execute(select)]


def get(engine: sa.engine.Engine, reply_id: int) -> Optional[Dict]:
    with engine.connect() as c:
        row = c.execute(sa.select(canned_replies.c.queue).where(canned_replies.c.id == reply_id)).first()
    return {"id": reply_id, "queue": row.queue} if row else None


def add(engine: sa.engine.Engine, queue: str, text: str, title: str, keyword: str, username: str) -> int:
    with engine.begin() as c:
        reply_id = c.execute(canned_replies.insert().values(queue=queue, text=text, created_by=username)
                             ).inserted_primary_key[0]
        c.execute(canned_reply_meta.insert().values(reply_id=reply_id, title=title or None, keyword=keyword or None,
                                                    updated_by=username, updated_at=utcnow()))
    return int(reply_id)


def update(engine: sa.engine.Engine, reply_id: int, queue: str, text: str, title: str, keyword: str,
           username: str) -> bool:
    """Change a reply (its queue, text, title and keyword); False when it does not exist."""
    with engine.begin() as c:
        if c.execute(canned_replies.update().where(canned_replies.c.id == reply_id)
                     .values(queue=queue, text=text)).rowcount != 1:
            return False
        values = dict(title=title or None, keyword=keyword or None, updated_by=username, updated_at=utcnow())
        if not c.execute(canned_reply_meta.update().where(canned_reply_meta.c.reply_id == reply_id)
                         .values(**values)).rowcount:
            c.execute(canned_reply_meta.insert().values(reply_id=reply_id, **values))
    return True


def delete(engine: sa.engine.Engine, reply_id: int) -> bool:
    with engine.begin() as c:
        c.execute(canned_reply_meta.delete().where(canned_reply_meta.c.reply_id == reply_id))
        return c.execute(canned_replies.delete().where(canned_replies.c.id == reply_id)).rowcount == 1
