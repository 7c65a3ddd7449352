"""The console's transcript and queue (README "Staff console"): what the citizen pressed by its title, the bot's
buttons under its message, the gateway's lines (queued, position, joined, closed) and channel notes; the
queue's last-message preview (counseling text only for those who read counseling); "the citizen is typing"
passed on only while a person owns or watches the chat, never with text.

Through the real gateway process with a stand-in engine that answers like the booking flow (date buttons,
then はい/いいえ); the media note and older messages through the real router and store in-process."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, Dict, List

import pytest
import socketio
from aiohttp import web
from cryptography.fernet import Fernet

from gateway.counseling.crypto import TranscriptCipher
from gateway.counseling.hours import CounselingHours
from gateway.handoff.router import Router
from gateway.staff.console.transcript import payload_label, shown
from gateway.storage.conversations import HandoffStore
from gateway.storage.db import connect
from tests.gateway.conftest import HTTP, ROOT, GatewayProcess, StandInEngine, staff_user
from tests.socketio_client import WidgetClient

DATE = '/choose_date{"date": "2026-12-03"}'
BOOKING_REPLIES: Dict[str, List[Dict[str, Any]]] = {
    "大型ごみを出したい": [{"text": "収集日を選んでください。", "buttons": [
        {"title": "12月3日（木）", "payload": DATE},
        {"title": "12月10日（木）", "payload": '/choose_date{"date": "2026-12-10"}'}]}],
    DATE: [{"text": "この内容で申し込みますか？", "buttons": [
        {"title": "はい", "payload": "/affirm"}, {"title": "いいえ（やめる）", "payload": "/deny"}]}],
    "/affirm": [{"text": "受け付けました。受付番号は A-1 です。"}],
}


class BookingEngine(StandInEngine):
    """The stand-in engine, answering the booking steps above with their buttons."""

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["message"] in BOOKING_REPLIES:
            self.received.append(body)
            return web.json_response(BOOKING_REPLIES[body["message"]])
        return await super()._webhook(request)


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    engine = BookingEngine().start()
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("transcript"), COUNSELING_SWEEP_SECONDS="0")
    yield process
    process.stop()
    engine.stop()


def say(gw: GatewayProcess, sender: str, text: str) -> List[Dict]:
    answer = HTTP.post(f"{gw.url}/api/messages", json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"]


def new_sender() -> str:
    return "t-" + uuid.uuid4().hex[:10]


def test_pressed_buttons_show_their_titles_and_every_line_the_citizen_saw(gw):
    clerk = staff_user(gw, f"clerk-{uuid.uuid4().hex[:6]}", "staff")
    first, second = new_sender(), new_sender()
    for text in ("大型ごみを出したい", DATE, "/affirm", "人と話したい"):
        say(gw, first, text)
    say(gw, second, "人と話したい")
    assert clerk.act(f"rest:{first}", "claim").status_code == 200  # the second one moves up: told its place
    answer = clerk.conversation(f"rest:{first}")
    assert answer.status_code == 200
    messages = answer.json()["messages"]
    pressed = [(m["text"], m.get("pressed")) for m in messages if m["sender"] == "user"]
    assert pressed == [("大型ごみを出したい", None), (DATE, "12月3日（木）"), ("/affirm", "はい"), ("人と話したい", None)]
    offer = next(m for m in messages if m["text"].startswith("収集日を選んでください"))
    assert [(b["title"], b["payload"], b.get("chosen", False)) for b in offer["buttons"]] == [
        ("12月3日（木）", DATE, True), ("12月10日（木）", '/choose_date{"date": "2026-12-10"}', False)]
    events = [m["event"] for m in messages if m["sender"] == "system"]
    assert events == ["queued", "joined"]
    queued = next(m for m in messages if m.get("event") == "queued")
    assert [b["title"] for b in queued["buttons"]] == ["キャンセル"]

    # The chat still waiting was told its new place: a system line of its transcript too.
    lines = clerk.conversation(f"rest:{second}").json()["messages"]
    assert [m["event"] for m in lines if m["sender"] == "system"] == ["queued", "position"]
    assert "1番目" in lines[-1]["text"]

    assert clerk.act(f"rest:{first}", "close", {"outcome": "resolved"}).status_code == 200
    supervisor = staff_user(gw, f"sv-{uuid.uuid4().hex[:6]}", "supervisor")
    after = supervisor.conversation(f"rest:{first}").json()["messages"]
    assert after[-1]["event"] == "closed"


def test_queue_rows_preview_the_last_message_but_counseling_text_only_to_counselors_and_supervisors(gw):
    people = {role: staff_user(gw, f"{role}-{uuid.uuid4().hex[:6]}", role)
              for role in ("staff", "counselor", "supervisor", "admin")}
    secret = f"学校でいじめられてる {uuid.uuid4().hex[:6]}"
    youth, citizen = new_sender(), new_sender()
    say(gw, youth, "相談員さんと話したい")
    say(gw, youth, secret)
    say(gw, citizen, "大型ごみを出したい")
    say(gw, citizen, DATE)
    say(gw, citizen, "人と話したい")

    def row(role: str, conversation_id: str):
        rows = [r for rows in people[role].queue().values() for r in rows]
        return next((r for r in rows if r["id"] == conversation_id), None)

    general = row("staff", f"rest:{citizen}")
    assert general["preview"]["sender"] == "system" and "番目" in general["preview"]["text"]
    assert "［ボタン" not in general["preview"]["text"]
    assert row("staff", f"rest:{youth}") is None  # not a clerk's queue at all
    waiting = row("counselor", f"rest:{youth}")
    assert waiting["preview"]["protected"] is True and waiting["preview"]["text"]  # the desk's answer, readable
    assert people["counselor"].act(f"rest:{youth}", "claim").status_code == 200
    say(gw, youth, secret)  # the youth's words are now the last message
    assert row("counselor", f"rest:{youth}")["preview"]["text"] == secret
    assert row("supervisor", f"rest:{youth}")["preview"]["text"] == secret
    admin_row = row("admin", f"rest:{youth}")  # admins see live chats, never counseling text
    assert admin_row["preview"] == {**admin_row["preview"], "text": None, "protected": True}
    assert admin_row["preview"]["sender"] is None
    for role in ("staff", "admin"):
        assert secret not in people[role].get("/staff/api/queue").text, role

    # Words of danger in a clerk's own chat are protected: the clerk's preview is the last line they may read.
    assert people["staff"].act(f"rest:{citizen}", "claim").status_code == 200
    danger = "今から死ぬ"
    say(gw, citizen, danger)
    mine = row("staff", f"rest:{citizen}")
    assert mine["preview"]["protected"] is False and danger not in people["staff"].get("/staff/api/queue").text
    watched = row("supervisor", f"rest:{citizen}")["preview"]  # supervisors read it (or what the desk said after)
    assert watched["protected"] is True and watched["text"]


async def _staff_socket(gw: GatewayProcess, session) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(gw.url, namespaces=["/staff"], transports=["websocket"], headers=dict(session.cookie),
                         wait_timeout=10)
    return client


async def test_typing_reaches_the_console_only_while_a_person_owns_or_watches_the_chat(gw):
    clerk = await asyncio.to_thread(staff_user, gw, f"typist-{uuid.uuid4().hex[:6]}", "staff")
    other = await asyncio.to_thread(staff_user, gw, f"other-{uuid.uuid4().hex[:6]}", "staff")
    heard: Dict[str, List[Dict]] = {"clerk": [], "other": []}
    sockets = {name: await _staff_socket(gw, session) for name, session in (("clerk", clerk), ("other", other))}
    for name, client in sockets.items():
        client.on("typing", (lambda n: lambda data: heard[n].append(data))(name), namespace="/staff")
    widget = WidgetClient(gw.url)
    await widget.connect()
    conversation = f"web:{widget.session_id}"

    async def typing_then_wait() -> None:
        await widget.sio.emit("user_typing", {"session_id": widget.token})
        await asyncio.sleep(1.3)  # the gateway passes at most one a second per chat

    try:
        await widget.ask("こんにちは")
        await typing_then_wait()  # the bot has the chat: nobody hears it
        assert heard == {"clerk": [], "other": []}
        await widget.ask("人と話したい")
        while "番目" not in (await widget.next_message(10)).get("text", ""):
            pass
        await typing_then_wait()  # waiting, nobody watches it yet
        assert heard == {"clerk": [], "other": []}
        assert await sockets["clerk"].call("watch", {"conversation_id": conversation}, namespace="/staff") == {"ok": True}
        await typing_then_wait()
        assert heard["clerk"] == [{"conversation_id": conversation}] and heard["other"] == []  # no text, ever
        await sockets["clerk"].emit("unwatch", {"conversation_id": conversation}, namespace="/staff")
        assert (await asyncio.to_thread(clerk.act, conversation, "claim")).status_code == 200
        await typing_then_wait()  # the owner hears it with no chat open
        assert len(heard["clerk"]) == 2 and heard["other"] == []
    finally:
        await widget.close()
        for client in sockets.values():
            await client.disconnect()


async def test_typing_while_the_bot_had_the_chat_does_not_swallow_the_first_one_a_person_can_see(tmp_path):
    """The landing CI's failure: the widget said "typing" as the citizen wrote 「人と話したい」 (the bot had the chat,
    nothing passed on) and, within the second, again at the first key after the chat was queued; that one was
    dropped by the once-a-second limit, and the console never showed 「入力中…」."""
    from gateway.handoff.router import Notifier

    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'gateway.db'}"), TranscriptCipher([Fernet.generate_key().decode()]))
    router = Router(None, store, hours=CounselingHours.load(str(ROOT / "tests" / "gateway" / "hours_always_open.yml")))  # type: ignore[arg-type]
    told: List[str] = []

    class Console(Notifier):
        async def typing(self, conversation) -> None:
            told.append(conversation.id)

    router.connect(channels={}, notifier=Console())
    store.get_or_create("web:s1", "web")
    await router.typing("web:s1")  # the bot has it: not passed on
    assert store.enqueue("web:s1", "general", 0, "user_request")
    await router.typing("web:s1")  # at once: the first a person can see
    await router.typing("web:s1")  # within the second: dropped
    assert told == ["web:s1"]


async def test_a_line_sticker_is_a_channel_note_for_staff_not_a_line_of_the_citizens_history(tmp_path):
    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'gateway.db'}"), TranscriptCipher([Fernet.generate_key().decode()]))
    router = Router(None, store, hours=CounselingHours.load(str(ROOT / "tests" / "gateway" / "hours_always_open.yml")))  # type: ignore[arg-type]

    async def push(channel_id, sent, confirm=False):
        return True

    router.connect(channels={"line": push})
    await router.handle_text("U1", "line", "/request_human")
    assert await router.note_for_staff("line:U1", "（スタンプが送られました）")
    lines = shown(store.transcript("line:U1"))
    assert (lines[-1]["kind"], lines[-1]["event"], lines[-1]["text"]) == ("media", "media", "（スタンプが送られました）")
    assert lines[0]["pressed"] == "担当者と話す"
    from datetime import datetime
    history = store.history("line:U1", 0, datetime(2000, 1, 1), 50)
    assert all(m["kind"] == "text" for m in history) and "（スタンプが送られました）" not in [m["text"] for m in history]


def test_older_messages_without_stored_buttons_get_readable_labels():
    assert payload_label(DATE) == "12月3日（木）"
    assert payload_label("/affirm") == "はい"
    assert payload_label('/edit_booking{"bb_field": "items"}') == "品目を直す"
    assert payload_label("/something_new") == "ボタン（something_new）"
    assert payload_label("はい") is None and payload_label('/choose_date{"date": "not a date"}') == "ボタン（choose_date）"
    older = [{"id": 1, "sender": "bot", "kind": "text", "text": "申し込みますか？\n［ボタン：はい / いいえ（やめる）］",
              "protected": False, "buttons": None},
             {"id": 2, "sender": "user", "kind": "text", "text": "/affirm", "protected": False, "buttons": None}]
    lines = shown(older)
    assert [(b["title"], b.get("chosen", False)) for b in lines[0]["buttons"]] == [("はい", True), ("いいえ（やめる）", False)]
    assert lines[1]["pressed"] == "はい"
    assert json.dumps(lines, ensure_ascii=False)  # what the API sends
