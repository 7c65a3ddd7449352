"""The LINE inbox's storage (gateway/storage/line_inbox.py) on SQLite and on a real PostgreSQL (tools/pg.py):
one transaction per webhook with the dedupe claim, duplicates inside one webhook and across webhooks, the
states, resuming order, giving up, the staff listing, encryption at rest."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from gateway.counseling.crypto import TranscriptCipher
from gateway.storage.db import connect
from gateway.storage.line_events import webhook_events
from gateway.storage.line_inbox import ANSWERED, ENGINE, FAILED, PENDING, ChatLocks, Inbox, inbox
from cryptography.fernet import Fernet


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        engine = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    else:
        server = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg")
        name = "inbox_" + uuid.uuid4().hex[:8]
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        engine = connect(server.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()


def event(user: str, text: str, event_id: str | None = None) -> dict:
    return {"type": "message", "webhookEventId": event_id, "source": {"type": "user", "userId": user},
            "message": {"type": "text", "text": text}}


def test_store_claims_resumes_and_gives_up(db):
    box = Inbox(db, TranscriptCipher([Fernet.generate_key().decode()]))
    a, b = "line:Ua", "line:Ub"
    ids = box.store([("E1", a, "message", event("Ua", "一通目", "E1"), None),
                     ("E1", a, "message", event("Ua", "同じ id", "E1"), None),  # a duplicate inside one webhook
                     ("E2", b, "message", event("Ub", "別の人", "E2"), None),
                     (None, a, "message", event("Ua", "id なし"), None),
                     ("E3", a, "message", event("Ua", "多すぎ", "E3"), "flood")])
    assert ids[1] is None and ids[4] is None and None not in (ids[0], ids[2], ids[3])
    assert box.store([("E2", b, "message", event("Ub", "再送", "E2"), None)]) == [None]  # a redelivery
    assert box.unfinished() == [(ids[0], a), (ids[2], b), (ids[3], a)]  # arrival order
    first = box.get(ids[0])
    assert (first.state, first.attempts, first.event["message"]["text"]) == (PENDING, 0, "一通目")
    box.set_state(ids[0], ENGINE)
    box.answered(ids[0], [{"type": "text", "text": "答え"}])
    assert box.get(ids[0]).state == ANSWERED and box.get(ids[0]).outgoing == [{"type": "text", "text": "答え"}]
    box.done(ids[0])
    assert box.get(ids[0]) is None
    assert box.tried(ids[2], "DeliveryFailed") == 1 and box.tried(ids[2], "DeliveryFailed") == 2
    box.give_up(ids[2])
    assert box.unfinished() == [(ids[3], a)]
    failed = box.failed()
    assert [(f["conversation_id"], f["error"], f["attempts"]) for f in failed] == \
        [(a, "flood", 0), (b, "DeliveryFailed", 2)]
    with db.connect() as c:
        claims = {r.event_id for r in c.execute(sa.select(webhook_events.c.event_id))}
        stored = " ".join(r.payload + (r.outgoing or "") for r in c.execute(sa.select(inbox)))
        states = sorted(r.state for r in c.execute(sa.select(inbox.c.state)))
    assert claims == {"E1", "E2", "E3"}  # the claim stays after the row is done
    assert states == [FAILED, FAILED, PENDING]
    for text in ("一通目", "別の人", "id なし", "多すぎ", "message"):
        assert text not in stored  # encrypted at rest


def test_a_webhook_that_fails_midway_stores_nothing(db):
    """One transaction: when a row cannot be written, neither are the claims before it (LINE gets a 500 and
    redelivers, and the redelivery is not taken for a duplicate)."""
    box = Inbox(db, TranscriptCipher([Fernet.generate_key().decode()]))
    with pytest.raises(TypeError):  # the second event cannot be written (no kind)
        box.store([("F1", "line:Uf", "message", event("Uf", "一通目", "F1"), None),
                   ("F2", "line:Uf", None, event("Uf", "二通目", "F2"), None)])
    assert box.unfinished() == []
    assert box.store([("F1", "line:Uf", "message", event("Uf", "一通目", "F1"), None)])[0] is not None


def test_one_event_alone_is_claimed_capped_and_stored_as_in_a_webhooks_transaction(db):
    """The usual webhook of one event: one statement on PostgreSQL, without a transaction (``alone``); the same
    effects as ``store``: a redelivery has none, an event without an id is stored, the cap refuses (stored failed,
    claimed, so its redelivery is not stored again either)."""
    box = Inbox(db, TranscriptCipher([Fernet.generate_key().decode()]))
    chat = "line:Uo"

    def one(event_id, text, cap=2):
        row = (event_id, chat, "message", event("Uo", text, event_id), None)
        return box.apply([lambda c: box.store_one_op(c, row, cap)], alone=True)[0]

    first = one("O1", "一通目")
    assert first is not None and one("O1", "再送") is None
    second = one(None, "id なし")
    assert second is not None
    assert one("O3", "多すぎ") is None and one("O3", "多すぎの再送") is None  # two rows wait: the cap
    assert box.unfinished() == [(first, chat), (second, chat)]
    assert [(f["conversation_id"], f["error"]) for f in box.failed()] == [(chat, "flood")]
    assert box.get(first).event["message"]["text"] == "一通目"
    with db.connect() as c:
        assert {r.event_id for r in c.execute(sa.select(webhook_events.c.event_id))} == {"O1", "O3"}
        assert c.execute(sa.select(sa.func.count()).select_from(inbox)).scalar() == 3


def test_the_chat_lock_comes_with_the_oldest_row_and_is_let_go_when_none_is_left(db):
    """``lock_next`` and ``next_or_unlock`` (PostgreSQL): the lock and the chat's oldest row in one statement; the
    next row, or the lock let go when there is none or the drain tried it already."""
    if db.dialect.name != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    box = Inbox(db, TranscriptCipher([Fernet.generate_key().decode()]))
    mine, other = ChatLocks(db, box), ChatLocks(db, box)
    chat = "line:Ul"
    try:
        a, b = box.store([("L1", chat, "message", event("Ul", "一通目", "L1"), None),
                          ("L2", chat, "message", event("Ul", "二通目", "L2"), None)])
        locked, entry = mine.lock_next(chat)
        assert locked and (entry.id, entry.event["message"]["text"], entry.state) == (a, "一通目", PENDING)
        assert other.lock_next(chat) == (False, None)  # held elsewhere: not taken, nothing read
        box.done(a)
        let_go, entry = mine.next_or_unlock(chat, {a})
        assert not let_go and entry.id == b
        assert other.lock_next(chat) == (False, None)  # still held
        let_go, entry = mine.next_or_unlock(chat, {a, b})  # the drain could not finish b: left to the sweep
        assert let_go and entry.id == b
        locked, entry = other.lock_next(chat)
        assert locked and entry.id == b  # the other gateway takes it up
        box.done(b)
        assert other.next_or_unlock(chat, set()) == (True, None)  # none left: let go
        assert mine.lock_next(chat) == (True, None)
        mine.unlock(chat)
        assert other.lock_next(chat) == (True, None)
    finally:
        mine.close()
        other.close()
