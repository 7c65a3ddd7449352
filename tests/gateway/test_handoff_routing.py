"""Handoff to a person: who owns a chat (bot → queued → staff → bot), the queue, and the strict lock.

Store level: HandoffStore on real SQLite files in tmp_path and on a real PostgreSQL (tools/pg.py), the
same tests on both. Gateway level: the real gateway process (one per module, plus throwaway ones for
restarts and a stopped engine) with the stand-in engine, staff logged in through the real login form.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Tuple

import pytest
import sqlalchemy as sa

from gateway import texts
from gateway.storage.db import connect
from gateway.storage.conversations import (BOT, PRIORITY_EMERGENCY, PRIORITY_HIGH, PRIORITY_NORMAL, QUEUED,
                                      HandoffStore)
from gateway.staff.console import DEFAULT_CANNED
from tests.gateway.conftest import HTTP, GatewayProcess, StaffSession, free_port, staff_user
from tests.socketio_client import WidgetClient

# ====================================================================== store level

@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty gateway database: a SQLite file, or a new database on the throwaway PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    server = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg")
    name = "handoff_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')  # fast for a small template
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


CANCEL_REPLY = [{"content_type": "text", "title": "キャンセル", "payload": "/cancel_handoff"}]


def waiting_answer(position: int) -> dict:
    """The answer to a request for a person: the place in the queue and the 「キャンセル」 button."""
    return {"text": texts.waiting(position, "general"), "quick_replies": CANCEL_REPLY}


def still_waiting_answer(position: int) -> dict:
    return {"text": texts.still_waiting(position, "general"), "quick_replies": CANCEL_REPLY}


@pytest.fixture
def store(db_url):
    engine = connect(db_url)
    yield HandoffStore(engine)
    engine.dispose()


def new_chat(store: HandoffStore, name: str, queue: str = None, priority: int = PRIORITY_NORMAL,
             reason: str = "user_request") -> str:
    conversation_id = f"web:{name}"
    store.get_or_create(conversation_id, "web")
    if queue:
        assert store.enqueue(conversation_id, queue, priority, reason)
    return conversation_id


def test_ownership_bot_queued_staff_bot(store):
    chat = new_chat(store, "cycle")
    fresh = store.get(chat)
    assert (fresh.owner, fresh.queue, fresh.engine_session, fresh.engine_sender) == (BOT, None, 0, chat)
    assert store.get_or_create(chat, "web") == fresh  # the second call finds it

    assert store.enqueue(chat, "general", PRIORITY_NORMAL, "user_request")
    queued = store.get(chat)
    assert (queued.owner, queued.queue, queued.reason) == (QUEUED, "general", "user_request")
    assert queued.waiting_since is not None and store.position(queued) == 1

    assert store.claim(chat, "alice")
    owned = store.get(chat)
    assert owned.owner == "staff:alice" and owned.staff == "alice" and owned.claimed_at is not None
    assert store.position(owned) is None and store.waiting(["general"]) == []
    assert [c.id for c in store.owned_by("alice")] == [chat] and [c.id for c in store.live()] == [chat]
    assert not store.claim(chat, "bob")  # only a waiting chat can be claimed

    assert not store.hand_back(chat, "staff:bob")  # only the owner hands back
    assert store.hand_back(chat, "staff:alice", "resolved")
    back = store.get(chat)
    assert (back.owner, back.queue, back.waiting_since, back.claimed_at, back.outcome) == (BOT, None, None, None,
                                                                                         "resolved")
    assert back.engine_session == 1 and back.engine_sender == f"{chat}#1"  # the engine starts afresh
    assert store.owned_by("alice") == [] and store.live() == []

    assert store.enqueue(chat, "general", PRIORITY_NORMAL, "user_request") and store.claim(chat, "alice")
    assert store.hand_back(chat, "staff:alice")
    assert store.get(chat).engine_sender == f"{chat}#2"


def test_enqueue_leaves_a_staff_owned_chat_with_the_person(store):
    chat = new_chat(store, "owned", "general")
    assert store.claim(chat, "alice")
    assert not store.enqueue(chat, "counseling", PRIORITY_EMERGENCY, "emergency")
    now = store.get(chat)
    assert (now.owner, now.queue, now.priority) == ("staff:alice", "general", PRIORITY_NORMAL)
    assert store.waiting(["general", "counseling"]) == []


def test_queue_order_is_priority_then_waiting_time(store):
    first = new_chat(store, "z-first", "general")  # ids sort against the waiting order on purpose
    second = new_chat(store, "y-second", "general")
    urgent = new_chat(store, "x-urgent", "general", PRIORITY_HIGH, "counseling")
    other_queue = new_chat(store, "w-counseling", "counseling")
    assert [c.id for c in store.waiting(["general"])] == [urgent, first, second]
    assert [c.id for c in store.waiting(["general", "counseling"])] == [urgent, first, second, other_queue]
    assert [store.position(store.get(c)) for c in (urgent, first, second, other_queue)] == [1, 2, 3, 1]

    # Asking again only moves a waiting chat up: higher priority, same place in time.
    since = store.get(second).waiting_since
    assert store.enqueue(second, "general", PRIORITY_EMERGENCY, "emergency")
    assert store.get(second).waiting_since == since and store.get(second).priority == PRIORITY_EMERGENCY
    assert [c.id for c in store.waiting(["general"])] == [second, urgent, first]
    assert store.enqueue(second, "general", PRIORITY_NORMAL, "user_request")  # never down
    assert store.get(second).priority == PRIORITY_EMERGENCY

    # A waiting chat that turns out to need a counselor moves to that queue.
    assert store.enqueue(first, "counseling", PRIORITY_NORMAL, "counseling")
    assert store.get(first).queue == "counseling"
    assert [c.id for c in store.waiting(["counseling"])] == [first, other_queue]  # it kept its time

    assert store.claim(second, "alice")  # the others move up
    assert [store.position(store.get(c)) for c in (urgent, first, other_queue)] == [1, 1, 2]


def test_transfer_to_queue_and_to_person(store):
    chat = new_chat(store, "transfer", "general")
    waiting = new_chat(store, "already-waiting", "counseling")
    assert store.claim(chat, "alice")

    assert not store.transfer_to_person(chat, "staff:bob", "carol")  # not bob's to give
    assert store.transfer_to_person(chat, "staff:alice", "bob")
    assert store.get(chat).owner == "staff:bob"

    assert not store.transfer_to_queue(chat, "staff:alice", "counseling")
    assert store.transfer_to_queue(chat, "staff:bob", "counseling")
    moved = store.get(chat)
    assert (moved.owner, moved.queue, moved.claimed_at) == (QUEUED, "counseling", None)
    assert [c.id for c in store.waiting(["counseling"])] == [waiting, chat]  # at the back of the new queue
    assert store.position(moved) == 2
    assert store.claim(chat, "carol") and store.get(chat).owner == "staff:carol"


def test_cancel_while_waiting(store):
    chat = new_chat(store, "cancel", "general")
    behind = new_chat(store, "behind", "general")
    assert store.position(store.get(behind)) == 2
    assert not store.hand_back(chat, BOT)  # the owner must match
    assert store.hand_back(chat, QUEUED)
    cancelled = store.get(chat)
    assert (cancelled.owner, cancelled.queue, cancelled.outcome, cancelled.engine_session) == (BOT, None, None, 1)
    assert store.position(cancelled) is None
    assert store.position(store.get(behind)) == 1
    assert not store.claim(chat, "alice")


def test_invalid_queue_and_outcome_raise_and_change_nothing(store):
    chat = new_chat(store, "invalid")
    with pytest.raises(ValueError):
        store.enqueue(chat, "vip", PRIORITY_NORMAL, "user_request")
    assert store.get(chat).owner == BOT
    assert store.enqueue(chat, "general", PRIORITY_NORMAL, "user_request") and store.claim(chat, "alice")
    with pytest.raises(ValueError):
        store.transfer_to_queue(chat, "staff:alice", "nowhere")
    with pytest.raises(ValueError):
        store.hand_back(chat, "staff:alice", "deleted")
    assert store.get(chat).owner == "staff:alice" and store.get(chat).queue == "general"


def test_transcript_keeps_every_sender_in_order(store):
    chat = new_chat(store, "transcript")
    store.add_message(chat, "user", "こんにちは")
    store.add_message(chat, "bot", "ご用件をどうぞ")
    store.add_message(chat, "staff:alice", "内部メモ", kind="note")
    store.add_message(chat, "system", texts.STAFF_JOINED)
    lines = store.transcript(chat)
    assert [(m["sender"], m["kind"], m["text"]) for m in lines] == [
        ("user", "text", "こんにちは"), ("bot", "text", "ご用件をどうぞ"),
        ("staff:alice", "note", "内部メモ"), ("system", "text", texts.STAFF_JOINED)]
    assert all(m["at"].endswith("Z") for m in lines)


def test_canned_replies_seed_add_delete(store):
    assert store.canned(["general", "counseling"]) == []
    store.seed_canned(DEFAULT_CANNED)
    general = store.canned(["general"])
    assert [r["text"] for r in general] == DEFAULT_CANNED["general"]
    assert {r["queue"] for r in store.canned(["counseling"])} == {"counseling"}
    store.seed_canned({"general": ["二度目の種まき"]})  # only when there are none
    assert len(store.canned(["general", "counseling"])) == len(DEFAULT_CANNED["general"] + DEFAULT_CANNED["counseling"])

    new_id = store.add_canned("general", "折り返しご連絡します。", "alice")
    assert store.canned(["general"])[-1] == {"id": new_id, "queue": "general", "text": "折り返しご連絡します。"}
    assert new_id not in {r["id"] for r in store.canned(["counseling"])}
    assert store.delete_canned(new_id)
    assert not store.delete_canned(new_id)
    assert [r["text"] for r in store.canned(["general"])] == DEFAULT_CANNED["general"]


@pytest.mark.parametrize("separate_engines", [False, True], ids=["one-engine", "two-engines"])
def test_simultaneous_claims_exactly_one_wins(db_url, separate_engines):
    engines = [connect(db_url)]
    if separate_engines:  # as two gateway processes on one database
        engines.append(connect(db_url))
    stores = [HandoffStore(engines[0]), HandoffStore(engines[-1])]
    try:
        for round_ in range(15):
            chat = new_chat(stores[0], f"race-{round_}", "general")
            start = threading.Barrier(2)

            def attempt(store: HandoffStore, username: str) -> bool:
                start.wait()
                return store.claim(chat, username)

            with ThreadPoolExecutor(2) as pool:
                results = list(pool.map(attempt, stores, ["alice", "bob"]))
            assert sorted(results) == [False, True], f"round {round_}: {results}"
            winner = ["alice", "bob"][results.index(True)]
            assert stores[1].get(chat).owner == f"staff:{winner}"
    finally:
        for engine in engines:
            engine.dispose()


def _snapshot(store: HandoffStore, chats: List[str]) -> Dict[str, Any]:
    return {
        "waiting": [(c.id, c.priority, c.waiting_since) for c in store.waiting(["general", "counseling"])],
        "positions": {c: store.position(store.get(c)) for c in chats},
        "owners": {c: (store.get(c).owner, store.get(c).engine_session) for c in chats},
        "transcripts": {c: store.transcript(c) for c in chats},
    }


def test_restart_loses_no_queue_owner_or_message(db_url):
    engine = connect(db_url)
    store = HandoffStore(engine)
    chats = [new_chat(store, name) for name in ("a", "b", "c", "d", "e")]
    for chat in chats:
        store.add_message(chat, "user", f"{chat} の質問")
    store.enqueue(chats[0], "general", PRIORITY_NORMAL, "user_request")
    store.enqueue(chats[1], "general", PRIORITY_HIGH, "counseling")
    store.enqueue(chats[2], "counseling", PRIORITY_NORMAL, "counseling")
    store.enqueue(chats[3], "general", PRIORITY_NORMAL, "user_request")
    store.claim(chats[3], "alice")
    store.add_message(chats[3], "staff:alice", "担当のアリスです")
    store.enqueue(chats[4], "general", PRIORITY_NORMAL, "user_request")
    store.hand_back(chats[4], QUEUED)
    before = _snapshot(store, chats)
    engine.dispose()

    engine = connect(db_url)  # as a restarted gateway
    try:
        after = _snapshot(HandoffStore(engine), chats)
    finally:
        engine.dispose()
    assert after == before
    assert [w[0] for w in after["waiting"]] == [chats[1], chats[0], chats[2]]
    assert after["owners"][chats[3]] == ("staff:alice", 0) and after["owners"][chats[4]] == (BOT, 1)
    assert [m["text"] for m in after["transcripts"][chats[3]]] == [f"{chats[3]} の質問", "担当のアリスです"]


# ====================================================================== through the real gateway

@pytest.fixture(scope="module")
def gateway(engine, tmp_path_factory):
    """This module's own gateway (its queue is not shared with the other test modules)."""
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("handoff-gateway"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def _admin(gateway) -> StaffSession:
    return staff_user(gateway, "routing-admin", "admin")


@pytest.fixture(scope="module")
def _clerk(gateway) -> StaffSession:
    return staff_user(gateway, "clerk", "staff")


@pytest.fixture
def admin(_admin) -> StaffSession:
    """An admin session; every test starts with empty queues (earlier chats are closed through the API)."""
    queue = _admin.queue()
    for waiting in queue["waiting"]:
        assert _admin.act(waiting["id"], "claim").status_code == 200
        assert _admin.act(waiting["id"], "close", {"outcome": "other"}).status_code == 200
    for live in queue["live"]:
        assert _admin.act(live["id"], "close", {"outcome": "other"}).status_code == 200
    assert _admin.queue() == {"waiting": [], "mine": [], "live": []}
    return _admin


@pytest.fixture
def clerk(_clerk, admin) -> StaffSession:
    """A logged-in member of staff (role staff: the general queue)."""
    return _clerk


class RestUser:
    """A citizen on the plain HTTP channel (``POST /api/messages``); conversation id ``rest:<sender>``."""

    def __init__(self, gateway: GatewayProcess, name: str) -> None:
        self.url = gateway.url
        self.sender = f"{name}-{uuid.uuid4().hex[:8]}"
        self.id = f"rest:{self.sender}"

    def say(self, text: str) -> List[Dict[str, Any]]:
        answer = HTTP.post(f"{self.url}/api/messages", json={"sender": self.sender, "message": text}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["messages"]


def engine_saw(engine, conversation_id: str) -> List[Tuple[str, str]]:
    """(sender, text) of every turn the stand-in engine got for this conversation, any engine session."""
    return [(r["sender"], r["message"]) for r in engine.received
            if r["sender"] == conversation_id or r["sender"].startswith(conversation_id + "#")]


def waiting_entry(staff: StaffSession, conversation_id: str) -> Dict[str, Any]:
    found = [c for c in staff.queue()["waiting"] if c["id"] == conversation_id]
    assert len(found) == 1, staff.queue()
    return found[0]


def test_claimed_chat_is_locked_away_from_the_engine(gateway, engine, clerk):
    user = RestUser(gateway, "lock")
    assert user.say("こんにちは") == [{"text": "echo:こんにちは"}]
    assert user.say("/request_human") == [waiting_answer(1)]
    assert waiting_entry(clerk, user.id)["position"] == 1

    claimed = clerk.act(user.id, "claim")
    assert claimed.status_code == 200 and claimed.json()["conversation"]["owner"] == "staff:clerk"
    assert clerk.act(user.id, "claim").status_code == 409  # already taken

    # While a person owns the chat: no bot reply, nothing to the engine, not even a cancel word.
    assert user.say("実は個人的な相談です") == []
    assert user.say("キャンセル") == []
    assert user.say("/request_human") == []
    transcript = clerk.conversation(user.id).json()["messages"]
    assert [m["text"] for m in transcript if m["sender"] == "user"][-3:] == ["実は個人的な相談です", "キャンセル",
                                                                             "/request_human"]
    assert {"sender": "system", "text": texts.STAFF_JOINED} in [{k: m[k] for k in ("sender", "text")}
                                                                for m in transcript]
    assert clerk.act(user.id, "reply", {"text": "担当の者です。どうされましたか。"}).status_code == 200
    assert clerk.conversation(user.id).json()["messages"][-1]["sender"] == "staff:clerk"

    released = clerk.act(user.id, "release")
    assert released.status_code == 200 and released.json()["conversation"]["owner"] == "bot"
    assert user.say("ありがとう") == [{"text": "echo:ありがとう"}]
    # The engine saw the part before and after, under a new sender id, never the human part.
    assert engine_saw(engine, user.id) == [(user.id, "こんにちは"), (f"{user.id}#1", "ありがとう")]


def test_engine_handoff_message_queues_the_chat(gateway, engine, clerk):
    user = RestUser(gateway, "engine-handoff")
    # The custom payload is not forwarded: the user sees the engine's text and their place.
    assert user.say("人と話したい") == [{"text": "担当者におつなぎします。"}, waiting_answer(1)]
    entry = waiting_entry(clerk, user.id)
    assert (entry["queue"], entry["reason"], entry["position"], entry["priority"]) == ("general", "user_request", 1,
                                                                                       0)  # general: first come, first served
    lines = [(m["sender"], m["text"]) for m in clerk.conversation(user.id).json()["messages"]]
    assert lines == [("user", "人と話したい"), ("bot", "担当者におつなぎします。"),
                     ("system", texts.waiting(1, "general") + "\n［ボタン：キャンセル］")]
    assert "handoff" not in str(lines)


async def test_engine_handoff_over_socketio_no_custom_json(gateway, engine, clerk):
    widget = WidgetClient(gateway.url)
    await widget.connect()
    try:
        await widget.say("人と話したい")
        assert await widget.next_message() == {"text": "担当者におつなぎします。"}
        assert await widget.next_message() == waiting_answer(1)
        # Nothing else came (no custom JSON): the next message is the answer to the next turn.
        assert await widget.ask("まだですか") == still_waiting_answer(1)
        assert waiting_entry(clerk, f"web:{widget.session_id}")["reason"] == "user_request"
    finally:
        await widget.close()


def test_waiting_user_is_kept_told_the_position_and_can_cancel(gateway, engine, clerk):
    first, second = RestUser(gateway, "first"), RestUser(gateway, "second")
    assert first.say("/request_human") == [waiting_answer(1)]
    assert second.say("人と話したい")[-1] == waiting_answer(2)
    assert "2番目" in texts.waiting(2, "general")

    assert second.say("急いでいます") == [still_waiting_answer(2)]
    assert second.say("住所は北区です") == [still_waiting_answer(2)]
    kept = [m["text"] for m in clerk.conversation(second.id).json()["messages"] if m["sender"] == "user"]
    assert kept == ["人と話したい", "急いでいます", "住所は北区です"]

    assert first.say("キャンセル") == [{"text": texts.HANDOFF_CANCELLED}]
    assert [c["id"] for c in clerk.queue()["waiting"]] == [second.id]
    assert second.say("まだですか") == [still_waiting_answer(1)]
    assert first.say("ごみの日は？") == [{"text": "echo:ごみの日は？"}]  # back with the bot, afresh

    assert engine_saw(engine, first.id) == [(f"{first.id}#1", "ごみの日は？")]
    assert engine_saw(engine, second.id) == [(second.id, "人と話したい")]  # waiting turns stay in the gateway


async def test_queue_moving_is_pushed_to_the_next_socketio_user(gateway, engine, clerk):
    first, second = WidgetClient(gateway.url), WidgetClient(gateway.url)
    await first.connect()
    await second.connect()
    try:
        assert await first.ask("/request_human") == waiting_answer(1)
        assert (await second.ask("/request_human"))["text"] == texts.waiting(2, "general")

        assert clerk.act(f"web:{first.session_id}", "claim").status_code == 200
        assert await first.next_message() == {"text": texts.STAFF_JOINED}
        moved = await second.next_message()
        assert "1番目" in moved["text"] and moved == {"text": texts.still_waiting(1, "general")}
    finally:
        await first.close()
        await second.close()


async def test_staff_reply_reaches_the_widget_live(gateway, engine, clerk):
    widget, other_tab = WidgetClient(gateway.url), WidgetClient(gateway.url)
    await widget.connect()
    await other_tab.connect(widget.token)  # the session token the gateway confirmed (signed)
    chat = f"web:{widget.session_id}"
    try:
        await widget.ask("/request_human")
        await other_tab.next_message()
        assert clerk.act(chat, "claim").status_code == 200
        assert await widget.next_message() == {"text": texts.STAFF_JOINED}
        assert await other_tab.next_message() == {"text": texts.STAFF_JOINED}

        await widget.say("転入届について聞きたいです")
        for _ in range(50):  # the message reaches the person's transcript …
            user_lines = [m["text"] for m in clerk.conversation(chat).json()["messages"] if m["sender"] == "user"]
            if user_lines[-1] == "転入届について聞きたいです":
                break
            await asyncio.sleep(0.1)
        assert user_lines[-1] == "転入届について聞きたいです"
        assert clerk.act(chat, "reply", {"text": "担当の佐藤です。転入届ですね。"}).status_code == 200
        # No bot reply came before the person's reply, on either tab.
        assert await widget.next_message() == {"text": "担当の佐藤です。転入届ですね。", "sender": "staff"}
        assert await other_tab.next_message() == {"text": "担当の佐藤です。転入届ですね。", "sender": "staff"}

        assert clerk.act(chat, "close", {"outcome": "resolved"}).status_code == 200
        assert await widget.next_message() == {"text": texts.CLOSED}
        assert await widget.ask("ありがとう") == {"text": "echo:ありがとう"}
        assert engine_saw(engine, chat) == [(f"{chat}#1", "ありがとう")]
    finally:
        await widget.close()
        await other_tab.close()


async def test_engine_error_offers_a_person_and_the_button_works(gateway, engine, clerk):
    engine.mode = "error"
    widget = WidgetClient(gateway.url)
    await widget.connect()
    try:
        apology = await widget.ask("こんにちは")
        assert apology["text"] == texts.ENGINE_DOWN
        assert apology["quick_replies"] == [{"content_type": "text", "title": "担当者と話す",
                                             "payload": "/request_human"}]
        assert await widget.ask(apology["quick_replies"][0]["payload"]) == waiting_answer(1)
    finally:
        await widget.close()
    assert waiting_entry(clerk, f"web:{widget.session_id}")["position"] == 1
    assert engine_saw(engine, f"web:{widget.session_id}") == [(f"web:{widget.session_id}", "こんにちは")]


def test_engine_stopped_request_human_still_queues(engine, tmp_path):
    process = GatewayProcess(f"http://127.0.0.1:{free_port()}", tmp_path)  # nothing listens there
    try:
        user = RestUser(process, "no-engine")
        apology = user.say("こんにちは")
        assert apology == [{"text": texts.ENGINE_DOWN, "quick_replies": [
            {"content_type": "text", "title": "担当者と話す", "payload": "/request_human"}]}]
        assert user.say("/request_human") == [waiting_answer(1)]
    finally:
        process.stop()
    db = connect(process.db_url)
    try:
        queued = HandoffStore(db).get(user.id)
        assert (queued.owner, queued.queue, queued.reason) == (QUEUED, "general", "user_request")
    finally:
        db.dispose()


def test_gateway_restart_keeps_the_queue(engine, tmp_path):
    first = GatewayProcess(engine.url, tmp_path)
    try:
        admin = staff_user(first, "restart-admin", "admin")
        users = [RestUser(first, name) for name in ("early", "later", "counsel")]
        assert users[0].say("/request_human") == [waiting_answer(1)]
        assert users[1].say("人と話したい")[-1] == waiting_answer(2)
        counseling = users[2].say("相談員と話したい")  # the counseling desk: intake, place and wait
        assert "ただいま1番目です" in " ".join(m["text"] for m in counseling)
        before = admin.queue()["waiting"]
        transcripts = {u.id: admin.conversation(u.id).json()["messages"] for u in users}
    finally:
        first.stop()
    assert [(c["id"], c["queue"], c["position"]) for c in before] == [
        (users[2].id, "counseling", 1), (users[0].id, "general", 1), (users[1].id, "general", 2)]

    second = GatewayProcess(engine.url, tmp_path)  # same DATA_DIR, same database
    try:
        admin = StaffSession(second.url, admin.token)  # the session survived the restart as well
        assert admin.queue()["waiting"] == before
        for user in users:
            assert admin.conversation(user.id).json()["messages"] == transcripts[user.id]
        user = users[1]
        user.url = second.url
        assert user.say("まだですか") == [still_waiting_answer(2)]
    finally:
        second.stop()
