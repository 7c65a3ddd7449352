"""A youth in danger in the middle of a 大型ごみ booking, against the real stack (engine, action server,
gateway) and a counselor's console in headless Chromium: the emergency numbers come in that same turn, the
engine never sees the words, and the chat is at the top of the counseling queue with an alert before the
counselor has clicked anything; the counselor claims it, reads the (decrypted) words, and replies live."""

import asyncio
import os

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.e2e.test_staff_console_browser import CHROMIUM, FLAGS, create_staff, log_in
from tests.socketio_client import WidgetClient

pytestmark = pytest.mark.e2e

DANGER = "ロープを用意した。もう無理"


async def texts_of_turn(widget: WidgetClient, until: str, limit: int = 8) -> str:
    seen = []
    for _ in range(limit):
        message = await widget.next_message(30)
        seen.append(message.get("text", ""))
        if until in seen[-1]:
            return "\n".join(seen)
    raise AssertionError(f"{until!r} not in {seen}")


async def test_emergency_during_a_booking_reaches_the_top_of_the_counselors_console(stack, tmp_path):
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    create_staff(stack, "sachiko", "counselor")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        counselor = await log_in(browser, stack, "sachiko")

        # Someone is already waiting for a counselor with an ordinary worry.
        earlier = WidgetClient(stack.gateway_url)
        await earlier.connect()
        await earlier.say("相談員さんと話したい")
        await texts_of_turn(earlier, "番目")

        # A youth starts a 大型ごみ booking, then writes the words of danger in the middle of it.
        youth = WidgetClient(stack.gateway_url)
        await youth.connect()
        first = await youth.ask("大型ごみを出したい")
        assert "出したい物と数" in first["text"]
        await youth.say(DANGER)
        turn = await texts_of_turn(youth, "番目")
        for number in ("110", "119", "0120-0-78310", "189"):
            assert number in turn
        assert "ここで待っていて" in turn

        # The engine never saw the words (its tracker for this chat has the booking turn only).
        tracker = httpx.get(f"{stack.engine_url}/conversations/web:{youth.session_id}/tracker",
                            params={"token": stack.engine_auth_token}, timeout=10).json()
        said = [e.get("text") for e in tracker.get("events", []) if e.get("event") == "user"]
        assert "大型ごみを出したい" in said and DANGER not in said

        # The console: an emergency alert and the chat first in the waiting list, ahead of the earlier one.
        banner = counselor.locator(f'.alert-banner[data-conversation-id="web:{youth.session_id}"]')
        await expect(banner).to_be_visible(timeout=15_000)
        assert await banner.get_attribute("data-level") == "emergency"
        first_row = counselor.locator("#waiting li").first
        await expect(first_row).to_have_attribute("data-conversation-id", f"web:{youth.session_id}", timeout=15_000)
        await expect(first_row.locator(".risk-pill")).to_have_attribute("data-risk", "emergency")
        await counselor.screenshot(path=str(tmp_path / "counselor-alert.png"))

        # The counselor opens and claims it, reads the words, and answers; the youth gets it live.
        await first_row.click()
        await expect(counselor.locator("#transcript")).to_contain_text(DANGER, timeout=10_000)
        await counselor.click("#claim")
        joined = await texts_of_turn(youth, "相談員")
        assert "相談員が対応します" in joined
        await counselor.fill("#reply-text", "相談員です。話してくれてありがとう。今、安全な場所にいますか？")
        await counselor.click("#reply-send")
        reply = await youth.next_message(30)
        assert reply["text"].startswith("相談員です") and reply.get("sender") == "staff"
        # While a counselor owns the chat, the engine stays out of it.
        await youth.say("うん、部屋にいる")
        await expect(counselor.locator("#transcript")).to_contain_text("うん、部屋にいる", timeout=10_000)
        with pytest.raises(asyncio.TimeoutError):
            await youth.next_message(timeout=3)

        for client in (earlier, youth):
            await client.close()
        await browser.close()
