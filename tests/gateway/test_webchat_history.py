"""Nothing lost on the website channel (issue #13, with the signed sessions of #14): only the browser the gateway
gave a session to can join it and read its history; a staff reply sent while no widget is open is kept, replayed
when the widget comes back with the id of the last message it showed, and marked delivered once a client
acknowledged it, which the staff console sees (API and live event). Plain rasa-webchat clients still work."""

from __future__ import annotations

import asyncio
import stat
import uuid
from datetime import timedelta
from typing import Any, Dict, List

import pytest
import socketio
import sqlalchemy as sa
from cryptography.fernet import Fernet

from connectors.webchat_session import SECRET_FILE, SessionSigner, load_secret, session_id_of
from gateway import texts
from gateway.counseling.crypto import TranscriptCipher
from gateway.storage.conversations import HandoffStore
from gateway.storage.db import connect, utcnow
from tests.gateway.conftest import GatewayProcess, StaffSession, staff_user
from tests.socketio_client import WidgetClient

HIGH = "死にたい"  # an example of the triage rules (data/counseling/triage.yml): a protected message


async def quiet(widget: WidgetClient, seconds: float = 1.0) -> List[Dict[str, Any]]:
    """Everything the widget is sent until nothing comes for ``seconds``."""
    got = []
    try:
        while True:
            got.append(await widget.next_message(seconds))
    except asyncio.TimeoutError:
        return got


async def texts_until(widget: WidgetClient, part: str) -> List[Dict[str, Any]]:
    got = []
    while not got or part not in got[-1].get("text", ""):
        got.append(await widget.next_message(10))
    return got


async def eventually(check, seconds: float = 10):
    for _ in range(int(seconds * 10)):
        result = await asyncio.to_thread(check)
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("still not true after %s s" % seconds)


def transcript(staff: StaffSession, chat: str) -> List[Dict[str, Any]]:
    answer = staff.conversation(chat)
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"]


async def staff_socket(gateway: GatewayProcess, staff: StaffSession, chat: str) -> tuple:
    """The console's live connection watching ``chat``; returns (client, the "delivery" events it gets)."""
    events: List[Dict[str, Any]] = []
    client = socketio.AsyncClient(reconnection=False)
    client.on("delivery", events.append, namespace="/staff")
    await client.connect(gateway.url, namespaces=["/staff"], transports=["websocket"], headers=dict(staff.cookie),
                         wait_timeout=10)
    assert (await client.call("watch", {"conversation_id": chat}, namespace="/staff", timeout=10))["ok"]
    return client, events


@pytest.fixture(scope="module")
def clerk(gateway) -> StaffSession:
    return staff_user(gateway, f"history-clerk-{uuid.uuid4().hex[:6]}", "staff")


@pytest.fixture(scope="module")
def counselor(gateway) -> StaffSession:
    return staff_user(gateway, f"history-counselor-{uuid.uuid4().hex[:6]}", "counselor")


# ------------------------------------------------------------------ signed sessions

async def test_a_session_id_the_gateway_did_not_sign_joins_no_room_and_reads_no_history(gateway):
    citizen = WidgetClient(gateway.url, keep_ids=True)
    await citizen.connect()
    assert (await citizen.ask("住所は北区です"))["text"] == "echo:住所は北区です"
    other_secret = SessionSigner("another-gateway-secret-0123456789abcdef").sign(citizen.session_id)
    forged = {"bare id": citizen.session_id, "made-up mac": f"{citizen.session_id}-{'A' * 22}",
              "other secret": other_secret, "token cut short": citizen.token[:-1]}
    strangers = []
    try:
        for name, claimed in forged.items():
            stranger = WidgetClient(gateway.url, keep_ids=True)
            strangers.append(stranger)
            assert await stranger.connect(claimed, last_message_id=0) != citizen.session_id, name
            assert stranger.token != claimed  # a new session of its own
        # One more that skips session_request and claims the session in user_uttered.
        sneaky = WidgetClient(gateway.url, keep_ids=True)
        strangers.append(sneaky)
        await sneaky.sio.connect(gateway.url, transports=["websocket"], socketio_path="/socket.io/")
        await sneaky.sio.emit("user_uttered", {"message": "こんにちは", "session_id": forged["made-up mac"]})
        assert (await sneaky.next_message(10))["text"] == "echo:こんにちは"
        assert sneaky.session_id and sneaky.session_id != citizen.session_id  # told its new session

        # The citizen's history and the citizen's next answers reach none of them.
        assert (await citizen.ask("二回目です"))["text"] == "echo:二回目です"
        for stranger in strangers:
            assert [m["text"] for m in await quiet(stranger, 0.5)] == [], stranger.session_id
    finally:
        for client in [citizen, *strangers]:
            await client.close()


def test_the_session_secret_is_kept_in_the_data_folder(gateway, tmp_path):
    path = gateway.data_dir / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = SessionSigner(path.read_text().strip())  # a restarted gateway reads the same file: sessions stay valid
    token = asyncio.run(_new_token(gateway))
    assert signer.verify(token) == session_id_of(token)

    first = load_secret("", str(tmp_path))
    assert load_secret("", str(tmp_path)) == first and len(first) >= 32
    assert load_secret("x" * 40, str(tmp_path)) == "x" * 40  # WEBCHAT_SESSION_SECRET wins (several gateways)
    with pytest.raises(ValueError, match="WEBCHAT_SESSION_SECRET"):
        SessionSigner("too-short")


async def _new_token(gateway: GatewayProcess) -> str:
    widget = WidgetClient(gateway.url)
    await widget.connect()
    await widget.close()
    return widget.token


# ------------------------------------------------------------------ history and delivery

async def test_staff_reply_while_offline_is_replayed_on_reconnect_and_then_marked_delivered(gateway, clerk):
    widget = WidgetClient(gateway.url, keep_ids=True)
    await widget.connect()
    chat = f"web:{widget.session_id}"
    await widget.say("/request_human")
    await texts_until(widget, "番目")
    assert (await asyncio.to_thread(clerk.act, chat, "claim")).status_code == 200
    assert (await widget.next_message())["text"] == texts.STAFF_JOINED
    seen = widget.last_message_id
    await widget.close()
    await asyncio.sleep(0.5)  # the gateway has seen the socket go

    console, deliveries = await staff_socket(gateway, clerk, chat)
    try:
        answer = await asyncio.to_thread(clerk.act, chat, "reply", {"text": "お待たせしました。担当の佐藤です。"})
        assert answer.status_code == 200
        reply = answer.json()["message"]
        assert reply["delivery"] == "offline"  # the console shows 「未達（相手がオフライン）」
        stored = [m for m in transcript(clerk, chat) if m["id"] == reply["id"]][0]
        assert stored["delivered_at"] is None
        joined = [m for m in transcript(clerk, chat) if m["text"] == texts.STAFF_JOINED][0]
        assert joined["delivered_at"]  # acknowledged by the widget while it was open

        # The widget comes back with the last id it showed: it gets what it missed, nothing it had.
        back = WidgetClient(gateway.url, keep_ids=True)
        assert await back.connect(widget.token, last_message_id=seen) == widget.session_id
        missed = await quiet(back)
        assert missed == [{"text": "お待たせしました。担当の佐藤です。", "sender": "staff", "message_id": reply["id"]}]

        # Acknowledged: stored, and the console is told live.
        await eventually(lambda: [m for m in transcript(clerk, chat) if m["id"] == reply["id"]][0]["delivered_at"])
        await eventually(lambda: any(d["conversation_id"] == chat and [m["id"] for m in d["messages"]] == [reply["id"]]
                                     for d in deliveries))

        # Online now: the next reply is sent to the open widget and acknowledged by it.
        answer = await asyncio.to_thread(clerk.act, chat, "reply", {"text": "ご用件をどうぞ。"})
        second = answer.json()["message"]
        assert second["delivery"] in ("sent", "delivered")
        assert (await back.next_message()) == {"text": "ご用件をどうぞ。", "sender": "staff", "message_id": second["id"]}
        await eventually(lambda: [m for m in transcript(clerk, chat) if m["id"] == second["id"]][0]["delivered_at"])
        await eventually(lambda: any(second["id"] in [m["id"] for m in d["messages"]] for d in deliveries))
        await back.close()
    finally:
        await console.disconnect()


async def test_a_new_page_gets_the_recent_history_with_ids_and_a_reconnect_only_what_is_new(gateway):
    widget = WidgetClient(gateway.url, keep_ids=True)
    await widget.connect()
    first = await widget.ask("こんにちは")
    menu = await widget.ask("menu")
    assert first["text"] == "echo:こんにちは" and isinstance(first["message_id"], int)
    assert menu["message_id"] > first["message_id"] and menu["quick_replies"]  # every stored answer has its id
    await widget.close()

    page = WidgetClient(gateway.url, keep_ids=True)
    await page.connect(widget.token, last_message_id=0)
    history = await quiet(page)
    assert [(m.get("sender"), m["text"]) for m in history] == [
        ("user", "こんにちは"), (None, "echo:こんにちは"), ("user", "menu"), (None, "echo:menu")]  # buttons: not again
    assert history[1]["message_id"] == first["message_id"] and history[3]["message_id"] == menu["message_id"]
    assert history == sorted(history, key=lambda m: m["message_id"])
    await page.close()

    again = WidgetClient(gateway.url, keep_ids=True)
    await again.connect(widget.token, last_message_id=first["message_id"])
    assert [m["text"] for m in await quiet(again)] == ["echo:menu"]  # its own "menu" it showed when it sent it
    await again.close()


async def test_plain_rasa_webchat_client_still_works(gateway, engine):
    """rasa-webchat: session_request {session_id}, user_uttered {message, session_id}; no extra fields, no acks."""
    client = socketio.AsyncClient(reconnection=False)
    confirmed: "asyncio.Queue[Any]" = asyncio.Queue()
    uttered: "asyncio.Queue[Any]" = asyncio.Queue()
    client.on("session_confirm", confirmed.put)
    client.on("bot_uttered", uttered.put)
    await client.connect(gateway.url, transports=["websocket"], socketio_path="/socket.io/")
    try:
        await client.emit("session_request", {"session_id": None})
        token = await asyncio.wait_for(confirmed.get(), 10)
        assert isinstance(token, str)
        await client.emit("user_uttered", {"message": "こんにちは", "session_id": token})
        reply = await asyncio.wait_for(uttered.get(), 10)
        assert reply["text"] == "echo:こんにちは" and set(reply) == {"text", "message_id"}  # extra field, ignored
        assert engine.received[-1]["sender"] == f"web:{session_id_of(token)}"

        await client.emit("session_request", {"session_id": token})  # a reload: same session, nothing replayed
        assert await asyncio.wait_for(confirmed.get(), 10) == token
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(uttered.get(), 1)
    finally:
        await client.disconnect()


async def test_counseling_history_goes_only_to_the_signed_session(gateway, counselor):
    youth = WidgetClient(gateway.url, keep_ids=True)
    await youth.connect()
    await youth.say(HIGH)
    await quiet(youth)
    chat = f"web:{youth.session_id}"
    await youth.close()
    assert [m for m in transcript(counselor, chat) if m["sender"] == "user"][0]["protected"]

    back = WidgetClient(gateway.url, keep_ids=True)
    await back.connect(youth.token, last_message_id=0)
    history = await quiet(back)
    assert history[0]["text"] == HIGH and history[0]["sender"] == "user"  # decrypted, for the youth's own session
    stranger = WidgetClient(gateway.url, keep_ids=True)
    await stranger.connect(youth.session_id, last_message_id=0)
    assert await quiet(stranger, 0.5) == []
    for client in (back, stranger):
        await client.close()
    assert HIGH not in gateway.log()


# ------------------------------------------------------------------ the store (SQLite and PostgreSQL)

@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
    else:
        server = sa.engine.make_url(request.getfixturevalue("postgres_url")).set(drivername="postgresql+psycopg")
        name = "history_" + uuid.uuid4().hex[:12]
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = server.set(database=name).render_as_string(hide_password=False)
    engine = connect(url)
    yield HandoffStore(engine, TranscriptCipher([Fernet.generate_key().decode("ascii")]))
    engine.dispose()
    if request.param == "postgresql":
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def test_history_keeps_to_its_limits_and_never_has_staff_notes(store):
    chat = "web:" + uuid.uuid4().hex
    store.get_or_create(chat, "web")
    ids = [store.add_message(chat, "user" if i % 2 == 0 else "bot", f"m{i}")["id"] for i in range(6)]
    store.add_message(chat, "staff:sato", "メモ：住所を確認", kind="note")
    secret = store.add_message(chat, "user", HIGH, protected=True)["id"]
    since = utcnow() - timedelta(hours=1)
    assert [m["text"] for m in store.history(chat, 0, since, 50)] == ["m0", "m1", "m2", "m3", "m4", "m5", HIGH]
    assert [m["text"] for m in store.history(chat, 0, since, 3)] == ["m4", "m5", HIGH]  # the last 3, oldest first
    assert [m["text"] for m in store.history(chat, ids[3], since, 50, with_user=False)] == ["m5"]
    assert store.history(chat, 0, utcnow() + timedelta(seconds=1), 50) == []  # older than the window
    assert store.history("web:" + uuid.uuid4().hex, 0, since, 50) == []

    marked = store.mark_delivered(chat, [ids[1], secret])
    assert {m["id"] for m in marked} == {ids[1], secret} and all(m["delivered_at"] for m in marked)
    assert store.mark_delivered(chat, [ids[1]]) == []  # once
    assert store.mark_delivered("web:other", [ids[3]]) == []  # only the chat's own messages
    delivered = {m["id"]: m["delivered_at"] for m in store.transcript(chat)}
    assert delivered[ids[1]] and delivered[secret] and not delivered[ids[3]]


def test_an_older_database_gets_the_delivered_at_column(tmp_path):
    """A database made before delivered_at and before migrations (no version table, none of the later revisions'
    columns) is adopted with the column."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = connect(url)
    with engine.begin() as c:
        c.exec_driver_sql("ALTER TABLE messages DROP COLUMN delivered_at")
        c.exec_driver_sql("ALTER TABLE conversations DROP COLUMN engine_failed_at")  # revision 0002
        c.exec_driver_sql("DROP TABLE alembic_version_gateway")
    engine.dispose()
    engine = connect(url)
    assert "delivered_at" in {c["name"] for c in sa.inspect(engine).get_columns("messages")}
    engine.dispose()
