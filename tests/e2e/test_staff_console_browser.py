"""A person takes over a web chat in the staff console, in real headless Chromium (Playwright, Debian's
chromium), against the real stack: the citizen asks for a person on the widget's Socket.IO protocol, the
chat appears live in the console, one member of staff claims it (a second one, claiming at the same
time, is refused), replies, reads the citizen's answer live, and hands the chat back to the bot."""

import asyncio
import os
import re
import shutil
import subprocess

import pytest
from playwright.async_api import async_playwright, expect

from tests.socketio_client import WidgetClient
from tools.model import ROOT

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
GATEWAY_PY = ROOT / ".venv" / "gateway" / "bin" / "python"
PASSWORD = "correct-horse-battery"


def create_staff(stack, username: str, role: str = "staff") -> None:
    subprocess.run([str(GATEWAY_PY), "-m", "gateway.staff.admin", "create-user", username, "--role", role,
                    "--password-stdin", "--db", f"sqlite:///{stack.data_dir / 'gateway.db'}"],
                   input=PASSWORD + "\n", text=True, cwd=ROOT, check=True, capture_output=True)


async def log_in(browser, stack, username: str):
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{stack.gateway_url}/staff")
    await expect(page).to_have_url(f"{stack.gateway_url}/staff/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await expect(page.locator("#me-name")).to_have_text(username, timeout=15_000)
    return page


async def next_text(widget: WidgetClient, timeout: float = 30) -> dict:
    while True:
        message = await widget.next_message(timeout)
        if message.get("text"):
            return message


async def test_staff_take_over_reply_and_hand_back(stack, tmp_path):
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    create_staff(stack, "hanako")
    create_staff(stack, "taro")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        hanako = await log_in(browser, stack, "hanako")
        taro = await log_in(browser, stack, "taro")

        # The citizen asks for a person; the chat appears in both consoles without a reload.
        widget = WidgetClient(stack.gateway_url)
        await widget.connect()
        waiting = await next_text(await _ask(widget, "人と話したい"))
        # Its place in the queue: other tests of the session's stack may have left chats waiting before it.
        assert "担当者におつなぎします" in waiting["text"] and re.search(r"\d+番目", waiting["text"])
        item = f'#waiting li[data-conversation-id="web:{widget.session_id}"]'
        for page in (hanako, taro):
            await expect(page.locator(item)).to_be_visible(timeout=15_000)
            await page.click(item)
            await expect(page.locator("#transcript")).to_contain_text("人と話したい")
            await expect(page.locator("#claim")).to_be_enabled()

        # Both claim at the same moment: exactly one wins, the other is told.
        await asyncio.gather(hanako.click("#claim"), taro.click("#claim"))
        winner, loser = await _winner(hanako, taro)
        await expect(loser.locator("#status")).to_contain_text("担当しています", timeout=10_000)
        joined = await next_text(widget)
        assert "担当者が対応します" in joined["text"]

        # The person replies; the citizen gets it live, marked as written by staff.
        await winner.fill("#reply-text", "担当の者です。どのようなご用件でしょうか。")
        await winner.click("#reply-send")
        reply = await next_text(widget)
        assert reply["text"] == "担当の者です。どのようなご用件でしょうか。" and reply.get("sender") == "staff"

        # The citizen answers: the message reaches the console live, and the bot stays silent.
        await widget.say("住民票のことで相談があります")
        await expect(winner.locator("#transcript")).to_contain_text("住民票のことで相談があります", timeout=10_000)
        with pytest.raises(asyncio.TimeoutError):
            await widget.next_message(timeout=3)
        await winner.screenshot(path=str(tmp_path / "staff-console.png"))

        # Handed back: the citizen is told, and the bot answers again.
        await winner.click("#release")
        told = await next_text(widget)
        assert "自動応答" in told["text"]
        await expect(winner.locator(f'#mine li[data-conversation-id="web:{widget.session_id}"]')).to_have_count(
            0, timeout=10_000)
        greeting = await next_text(await _ask(widget, "こんにちは"))
        assert "札幌市" in greeting["text"]

        await widget.close()
        await browser.close()


async def _ask(widget: WidgetClient, text: str) -> WidgetClient:
    await widget.say(text)
    return widget


async def _winner(first, second):
    """The page whose reply box became usable owns the chat; the other must not."""
    for _ in range(100):
        a = await first.locator("#reply-text").is_enabled()
        b = await second.locator("#reply-text").is_enabled()
        if a != b:
            return (first, second) if a else (second, first)
        await asyncio.sleep(0.1)
    raise AssertionError("neither or both consoles own the chat after simultaneous claims")
