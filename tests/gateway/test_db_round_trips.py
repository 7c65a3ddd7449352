"""Round trips to PostgreSQL per turn (issue #15): each one is ~0.3–0.5 ms of the gateway's own time per turn.

Counted on the wire (tests/gateway/pg_wire.py, a counting proxy in front of the throwaway PostgreSQL), for a widget
turn as benchmarks/router_db.py makes it. Before issue #15's twelfth session an ordinary turn took 14 (a pre-ping
per checkout; BEGIN, INSERT, UPDATE, COMMIT per write); the figures below must not rise. Also here: what replaced
the pre-ping still replaces a connection the server closed (gateway/storage/db.py ``_check_on_checkout``), and the
one-statement writes store exactly what the transaction stored (the same rows on SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
import sqlalchemy as sa

from benchmarks.router_db import QUIET_JOBS, count_round_trips, gateway_turns, make_router, short
from gateway.storage import db
from gateway.storage.conversations import _NEW_MESSAGE, HandoffStore, messages
from tests.gateway.pg_wire import WireCounter

ORDINARY_TURN = 3  # the chat's lookup, the citizen's message, the bot's answers (the counseling flag comes with them)
FIRST_TURN = 4  # and the new chat's INSERT
# A LINE turn of a real gateway (was ~21): the webhook's row (with its dedupe claim), the chat's lock with its oldest
# row, the row marked before the engine, the router's 3, the row done, the next row or letting go, the look after.
LINE_TURN = 9


@pytest.fixture
def pg_server(request):
    """The throwaway PostgreSQL (tests/conftest.py) and a new database on it; skipped without PostgreSQL's binaries."""
    from tools.pg import _bindir
    if not os.environ.get("TEST_POSTGRES_URL"):
        try:
            _bindir()
        except RuntimeError as exc:
            pytest.skip(str(exc))
    server = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg")
    name = "trips_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
    yield admin, server.set(database=name)
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


def _url(url: sa.engine.URL, wire: WireCounter = None) -> str:
    return (url.set(host=wire.host, port=wire.port) if wire else url).render_as_string(hide_password=False)


async def test_a_widget_turn_makes_no_more_round_trips_than_measured(pg_server, engine):
    _, url = pg_server
    with WireCounter(url.host, url.port) as wire:
        router = make_router(_url(url, wire), engine.url)
        try:
            found = await count_round_trips(router, wire)
        finally:
            await router.engine.close()
            router.store.engine.dispose()
    for name, limit in (("ordinary", ORDINARY_TURN), ("first", FIRST_TURN)):
        count, statements = found[name]
        listed = ", ".join(short(s) for s in statements)
        assert 0 < count <= limit, f"{name} turn: {count} round trips (at most {limit}): {listed}"
        assert "ping" not in listed and "BEGIN" not in listed, listed


async def test_a_real_gateways_widget_and_line_turns_make_no_more_round_trips_than_measured(pg_server, tmp_path):
    """Each turn counted alone, the gateway's periodic jobs off (benchmarks/router_db.py ``gateway_turns``)."""
    from tests.gateway.conftest import GatewayProcess
    from tests.gateway.line_fake import FakeLineApi, LineStandInEngine, line_env

    _, url = pg_server
    fake, engine = FakeLineApi().start(), LineStandInEngine().start()
    try:
        with WireCounter(url.host, url.port) as wire:
            gateway = GatewayProcess(engine.url, tmp_path, GATEWAY_DB_URL=_url(url, wire), **line_env(fake),
                                     **QUIET_JOBS)
            try:
                found = await gateway_turns(gateway.url, wire, fake, turns=4)
            finally:
                gateway.stop()
    finally:
        engine.stop()
        fake.stop()
    for name, limit in (("widget", ORDINARY_TURN), ("LINE", LINE_TURN)):
        for count, statements in found[name]:
            listed = ", ".join(short(s) for s in statements)
            assert 0 < count <= limit, f"{name} turn: {count} round trips (at most {limit}): {listed}"
            assert "BEGIN" not in listed, listed


def test_a_connection_the_server_closed_is_replaced_without_a_failure_or_a_ping(pg_server):
    admin, url = pg_server
    with WireCounter(url.host, url.port) as wire:
        store = HandoffStore(db.connect(_url(url, wire)))
        try:
            store.get_or_create("web:closed", "web")
            with store.reader.connect() as c:  # the pool's one connection
                pid = c.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as c:  # what a restart or a failover does to it; waits until the backend is gone
                assert c.exec_driver_sql(f"SELECT pg_terminate_backend({pid}, 10000)").scalar()
            wire.reset()
            assert store.get("web:closed") is not None  # served by a new connection, no error
            assert ";" not in wire.statements  # found dead without a ping
            with store.reader.connect() as c:
                assert c.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
        finally:
            store.engine.dispose()


def test_a_connection_idle_for_a_while_is_pinged(pg_server, monkeypatch):
    _, url = pg_server
    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.3)
    with WireCounter(url.host, url.port) as wire:
        store = HandoffStore(db.connect(_url(url, wire)))
        try:
            store.get_or_create("web:idle", "web")
            wire.reset()
            store.get("web:idle")
            assert ";" not in wire.statements  # used a moment ago
            time.sleep(0.5)
            wire.reset()
            store.get("web:idle")
            assert wire.statements[0] == ";" and wire.round_trips == 2  # the ping, then the SELECT
        finally:
            store.engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_answers_of_a_turn_are_stored_as_one_transaction_stored_them(kind, tmp_path, request):
    """In order, with their ids, buttons (none: JSON null, as SQLAlchemy's JSON type writes it), encryption, and the
    conversation's times; the same on SQLite (a transaction) and PostgreSQL (one statement)."""
    from cryptography.fernet import Fernet
    from gateway.counseling.crypto import TranscriptCipher
    url = f"sqlite:///{tmp_path / 'gateway.db'}" if kind == "sqlite" else _url(request.getfixturevalue("pg_server")[1])
    store = HandoffStore(db.connect(url), TranscriptCipher([Fernet.generate_key().decode()]))
    try:
        store.get_or_create("web:answers", "web")
        menu = [{"title": "ごみの出し方", "payload": "/menu_garbage"}]
        stored = store.add_messages("web:answers", "bot", [("一つ目", None), ("二つ目", menu), ("三つ目", [])])
        assert [m["text"] for m in stored] == ["一つ目", "二つ目", "三つ目"]
        assert [m["buttons"] for m in stored] == [None, menu, None]
        assert stored[0]["id"] < stored[1]["id"] < stored[2]["id"]
        after_bot = store.get("web:answers")
        assert after_bot.updated_at is not None and after_bot.last_user_at is None
        store.mark("web:answers", "idle_checked_at", after_bot.updated_at)
        user = store.add_message("web:answers", "user", "秘密の話", protected=True)
        now = store.get("web:answers")
        assert now.last_user_at == now.updated_at > after_bot.updated_at and now.idle_checked_at is None
        note = store.add_message("web:answers", "staff:tanaka", "メモ", kind="note")
        assert store.get("web:answers") == now  # a note does not touch the chat
        shown = store.transcript("web:answers", show_protected=True)
        assert [(m["id"], m["text"], m["buttons"], m["protected"]) for m in shown] == [
            (m["id"], m["text"], m["buttons"], m["protected"]) for m in stored + [user, note]]
        assert store.transcript("web:answers")[3]["text"] != "秘密の話"  # encrypted at rest, hidden from others
        with store.engine.begin() as c:  # a row written as before this session's change, beside the new ones
            c.execute(_NEW_MESSAGE, {"conversation_id": "web:answers", "at": now.updated_at, "sender": "bot",
                                     "kind": "text", "protected": False, "text": "old", "buttons": None})
            raw = sa.cast(messages.c.buttons, sa.Text)
            kept = c.execute(sa.select(messages.c.text, raw).order_by(messages.c.id)).all()
        assert kept[0][1] == kept[-1][1]  # no buttons: stored the same way
        assert json.loads(kept[1][1]) == menu
    finally:
        store.engine.dispose()
