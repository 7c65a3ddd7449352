"""A citizen on the website widget talks to the real engine through the gateway."""

import asyncio
import json
import time
import urllib.request

import httpx
import pytest


pytestmark = pytest.mark.e2e

MENU_PAYLOADS = ["/menu_faq", "/menu_garbage", "/menu_bulky_booking", "/menu_counseling"]


def test_health_is_ok(stack):
    answer = httpx.get(f"{stack.gateway_url}/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "engine": "ok"}


async def test_greeting_with_menu(widget):
    reply = await widget.ask("こんにちは")
    assert "札幌市" in reply["text"] and reply["text"].endswith("。")
    assert [q["payload"] for q in reply["quick_replies"]] == MENU_PAYLOADS


async def test_what_can_you_do_shows_the_menu(widget):
    reply = await widget.ask("何ができますか？")
    assert [q["payload"] for q in reply["quick_replies"]] == MENU_PAYLOADS


async def test_menu_button_payload(widget):
    reply = await widget.ask("/menu_garbage")
    assert "捨てたい物" in reply["text"]


async def test_counseling_menu_shows_emergency_numbers_at_once(widget):
    reply = await widget.ask("/menu_counseling")
    for number in ["110", "119", "0120-0-78310", "189"]:
        assert number in reply["text"]


@pytest.mark.parametrize("gibberish", ["asdfghjkl qwerty", "ぴよぴよぱぴぷぺぽ", "ｘｙｚｚｙ"])
async def test_honest_fallback_with_call_center(widget, gibberish):
    reply = await widget.ask(gibberish)
    assert "理解できませんでした" in reply["text"]
    assert "011-222-4894" in reply["text"]


async def test_out_of_scope_question_is_declined(widget):
    reply = await widget.ask("おすすめの映画を教えて")
    assert "011-222-4894" in reply["text"]
    assert "quick_replies" not in reply or reply["text"].startswith("申し訳ありません")


async def test_engine_down_apology_then_conversation_resumes_from_the_tracker_store(stack, widget):
    await widget.ask("こんにちは")
    stack.stop_process("engine")
    started = time.monotonic()
    reply = await widget.ask("ありがとう", timeout=10)
    assert time.monotonic() - started < 5
    assert "011-222-4894" in reply["text"]
    assert httpx.get(f"{stack.gateway_url}/healthz").status_code == 503

    stack.start_engine()
    await asyncio.to_thread(stack.wait_ready)
    assert "どういたしまして" in (await widget.ask("ありがとう"))["text"]
    # The conversation from before the restart is still in the SQLite tracker store.
    url = f"{stack.engine_url}/conversations/web:{widget.session_id}/tracker?token={stack.engine_auth_token}"
    events = json.load(urllib.request.urlopen(url))["events"]
    texts = [e.get("text") for e in events if e["event"] == "user"]
    assert texts[:1] == ["こんにちは"] and texts[-1] == "ありがとう"
