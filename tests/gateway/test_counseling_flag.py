"""The widget's counseling flag comes with the turn (issue #15): ``Router.handle_turn`` gives it when the turn's path
cannot have opened or ended a counseling session, and the widget (connectors/webchat.py) reads the chat only when it
does not. Whatever the way, the widget must mark the answers exactly as a read of the chat after the turn did."""

from __future__ import annotations

import uuid

import pytest

from benchmarks.router_db import make_router
from gateway import texts
from gateway.counseling.hours import CounselingHours
from gateway.storage.db import run_db
from tests.gateway.conftest import ROOT, GatewayProcess
from tests.socketio_client import WidgetClient

HIGH = "死にたい"  # a rule's example (data/counseling/triage.yml): the desk opens a counseling session
ALWAYS_OPEN = str(ROOT / "tests" / "gateway" / "hours_always_open.yml")


@pytest.fixture
async def router(engine, tmp_path):
    made = make_router(f"sqlite:///{tmp_path / 'gateway.db'}", engine.url)
    made.desk.hours = CounselingHours.load(ALWAYS_OPEN)
    yield made
    await made.engine.close()
    made.store.engine.dispose()


async def flag_after(router, sender: str, text: str):
    """(what the router said of the flag, what a read of the chat after the turn says)."""
    turn = await router.handle_turn(sender, "web", text)
    assert turn.replies or turn.counseling is not None
    read = await run_db(router.store.get, f"web:{sender}")
    return turn.counseling, bool(read and read.counseling)


async def test_the_flag_given_with_a_turn_is_what_a_read_after_it_says(router, engine):
    chat = uuid.uuid4().hex
    assert await flag_after(router, chat, "こんにちは") == (False, False)  # the ordinary turn: no read needed
    assert await flag_after(router, chat, HIGH) == (None, True)  # the triage opened a session: the widget reads
    assert await flag_after(router, chat, "まだ待ってます") == (None, True)  # waiting for a counselor
    assert await run_db(router.store.claim, f"web:{chat}", "sato")
    given, read = await flag_after(router, chat, "今から死ぬ")  # a counselor has it: the numbers, flag known
    assert (given, read) == (True, True)

    clerk = uuid.uuid4().hex
    assert await flag_after(router, clerk, "人と話したい") == (None, False)  # the engine's handoff: queued
    assert await run_db(router.store.claim, f"web:{clerk}", "tanaka")
    assert (await router.handle_turn(clerk, "web", "よろしく")).replies == []  # a person answers from the console
    assert await flag_after(router, clerk, "今から死ぬ") == (False, False)  # the numbers in a clerk's chat

    youth = uuid.uuid4().hex
    assert await flag_after(router, youth, "相談員と話したい") == (None, True)  # the engine's handoff to counseling
    assert await flag_after(router, youth, "キャンセル") == (None, False)  # cancelled: the session ended

    down = uuid.uuid4().hex
    engine.mode = "error"
    assert await flag_after(router, down, "こんにちは") == (False, False)  # the apology, no handoff
    assert (await router.handle_turn(down, "web", "")).counseling is None  # refused before the chat is read


async def test_the_widget_marks_the_answers_as_before(engine, tmp_path):
    """Through a real gateway: an ordinary answer has no mark; the answers of the turn that opened a counseling
    session have it, and so has the numbers' answer once a counselor owns the chat."""
    gateway = GatewayProcess(engine.url, tmp_path)
    widget = WidgetClient(gateway.url, keep_ids=True)
    try:
        await widget.connect()
        first = await widget.ask("こんにちは")
        assert first["text"] == "echo:こんにちは" and "counseling" not in first
        await widget.say(HIGH)
        opened = [await widget.next_message(10)]
        while opened[-1]["text"] != texts.INTAKE_AGE_QUESTION and len(opened) < 6:
            opened.append(await widget.next_message(10))
        assert len(opened) >= 3 and all(m.get("counseling") is True for m in opened), opened
    finally:
        await widget.close()
        gateway.stop()
