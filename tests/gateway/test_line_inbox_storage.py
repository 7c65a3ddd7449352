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
from gateway.storage.line_inbox import ANSWERED, ENGINE, FAILED, PENDING, Inbox, inbox
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
