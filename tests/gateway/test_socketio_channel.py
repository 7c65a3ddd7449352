"""The website channel speaks Rasa's Socket.IO protocol and never fails on bad input."""

import asyncio
import time

import pytest

from gateway import texts
from tests.socketio_client import WidgetClient


@pytest.fixture
async def client(gateway):
    widget = WidgetClient(gateway.url)
    await widget.connect()
    yield widget
    await widget.close()


async def test_session_request_gets_a_new_session_id(client):
    assert client.session_id and len(client.session_id) == 32
    assert client.token.startswith(client.session_id + "-") and len(client.token) <= 64  # signed, rasa-webchat's size


async def test_session_the_gateway_confirmed_is_kept(client, gateway):
    widget = WidgetClient(gateway.url)
    assert await widget.connect(client.token) == client.session_id and widget.token == client.token
    await widget.close()


async def test_session_id_the_gateway_did_not_sign_is_replaced(gateway):
    widget = WidgetClient(gateway.url)
    assert await widget.connect("my-session-1234") != "my-session-1234"  # kept before the sessions were signed
    await widget.close()


async def test_invalid_session_id_is_replaced(gateway):
    widget = WidgetClient(gateway.url)
    session_id = await widget.connect("../../etc/passwd")
    assert session_id != "../../etc/passwd" and len(session_id) == 32
    await widget.close()


async def test_turn_goes_to_engine_with_channel_and_session(client, engine):
    reply = await client.ask("こんにちは")
    assert reply == {"text": "echo:こんにちは"}
    sent = engine.received[-1]
    assert sent["sender"] == f"web:{client.session_id}"
    assert sent["input_channel"] == "web"
    assert sent["metadata"]["channel"] == "web"
    assert sent["metadata"]["triage"] == "none"  # the engine is told no risk was found (bot/nlu/front_door.py)


async def test_a_turn_is_acknowledged_after_its_replies(client, engine):
    """The evaluations end a widget turn at the gateway's Socket.IO acknowledgement (tests/socketio_client.py
    ``turn``): every reply of a slow turn of several messages comes before it."""
    engine.delay = 0.8  # longer than the silence the client waits after the ack
    try:
        replies = await client.turn("人と話したい", timeout=10, settle=0.1)
    finally:
        engine.delay = 0.0
    assert len(replies) == 2 and replies[0]["text"] == "担当者におつなぎします。", replies
    assert [b["title"] for b in replies[1]["quick_replies"]] == [texts.CANCEL_HANDOFF_BUTTON["title"]], replies


async def test_buttons_become_quick_replies(client):
    reply = await client.ask("menu")
    assert reply["quick_replies"] == [
        {"content_type": "text", "title": "ごみの出し方", "payload": "/menu_garbage"}
    ]


async def test_long_polling_transport_works_too(gateway):
    widget = WidgetClient(gateway.url, transports=["polling"])
    await widget.connect()
    assert (await widget.ask("やあ"))["text"] == "echo:やあ"
    await widget.close()


async def test_every_tab_of_a_session_gets_the_reply(gateway):
    first, second = WidgetClient(gateway.url), WidgetClient(gateway.url)
    await first.connect()
    await second.connect(first.token)
    await first.say("こんにちは")
    assert (await first.next_message())["text"] == "echo:こんにちは"
    assert (await second.next_message())["text"] == "echo:こんにちは"
    await first.close()
    await second.close()


@pytest.mark.parametrize(
    "message, expected",
    [
        ("", texts.EMPTY_MESSAGE),
        ("   \n\t　", texts.EMPTY_MESSAGE),
        ("あ" * 100_000, texts.too_long(2000)),
        (12345, texts.NOT_TEXT),
        (None, texts.NOT_TEXT),
        ({"nested": "object"}, texts.NOT_TEXT),
    ],
)
async def test_bad_messages_get_a_clear_answer_without_reaching_the_engine(client, engine, gateway, message, expected):
    reply = await client.ask(message)
    assert reply["text"] == expected
    assert engine.received == []
    assert gateway.alive()
    assert (await client.ask("まだ話せますか"))["text"] == "echo:まだ話せますか"


async def test_payload_that_is_not_an_object(client, gateway):
    await client.sio.emit("user_uttered", "just a string")
    assert (await client.next_message())["text"] == texts.NOT_TEXT
    await client.sio.emit("user_uttered", ["a", "list"])
    assert (await client.next_message())["text"] == texts.NOT_TEXT
    assert gateway.alive()


async def test_unknown_event_is_answered_and_the_connection_survives(client):
    await client.sio.emit("hack_the_planet", {"x": 1})
    error = await asyncio.wait_for(client.errors.get(), 10)
    assert error == {"error": "unknown_event", "event": "hack_the_planet"}
    assert (await client.ask("こんにちは"))["text"] == "echo:こんにちは"


@pytest.mark.parametrize("mode", ["error", "garbage"])
async def test_engine_errors_become_an_apology_with_the_call_center(client, engine, mode):
    engine.mode = mode
    reply = await client.ask("こんにちは")
    assert reply["text"] == texts.ENGINE_DOWN
    assert "011-222-4894" in reply["text"]


async def test_hung_engine_is_cut_off(client, engine):
    engine.mode = "hang"  # the test gateway runs with ENGINE_TIMEOUT=2
    started = time.monotonic()
    reply = await client.ask("こんにちは", timeout=10)
    assert reply["text"] == texts.ENGINE_DOWN
    assert time.monotonic() - started < 5
    engine.mode = "ok"
