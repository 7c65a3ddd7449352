"""The console as staff read it, in headless Chromium against the gateway alone (a stand-in engine answering the
booking steps with their buttons): the transcript shows what the citizen pressed by its title, the bot's buttons
under its message, the gateway's lines and a LINE sticker note, each kind of line set apart; the queue rows show
the last message (a clerk's page never holds counseling text); 担当中 and 待機中 scroll on their own and the
transcript gets the height at 1280×800 and 1920×1080 (with CONSOLE_SCREENSHOTS=1 it writes docs/console-1280.png and
docs/console-1920.png);
「市民が入力中…」 appears while the citizen types in the widget and goes away; a long wait reaches a supervisor's
console as an escalation with a desktop notification (STAFF_LONG_WAIT_SECONDS=2, swept every second); この方の履歴
lists a clerk the citizen's earlier general chat and booking, never their counseling chat, and leaves the transcript
its height."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from playwright.async_api import async_playwright, expect

from connectors.webchat_session import session_id_of
from gateway.storage.conversations import HandoffStore
from gateway.storage.db import connect
from tests.e2e.test_staff_console_browser import CHROMIUM, FLAGS
from tests.gateway.conftest import HTTP, ROOT, GatewayProcess, create_staff_user
from tests.gateway.test_staff_transcript import DATE, BookingEngine
from tests.socketio_client import WidgetClient

pytestmark = pytest.mark.e2e
PASSWORD = "correct-horse-battery"
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    engine = BookingEngine().start()
    directory = tmp_path_factory.mktemp("console-view")
    process = GatewayProcess(engine.url, directory, COUNSELING_SWEEP_SECONDS="1", STAFF_LONG_WAIT_SECONDS="2",
                             ASSISTANT_DB_URL=f"sqlite:///{directory / 'assistant.db'}")
    for name, role in (("hanako", "staff"), ("kaori", "counselor"), ("boss", "supervisor")):
        create_staff_user(process, name, role, PASSWORD)
    yield process
    process.stop()
    engine.stop()


def say(gw: GatewayProcess, sender: str, text: str) -> None:
    answer = HTTP.post(f"{gw.url}/api/messages", json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text


async def log_in(browser, gw: GatewayProcess, username: str, width: int = 1280, height: int = 800):
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="ja-JP")
    page = await context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    await page.goto(f"{gw.url}/staff/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await expect(page.locator("#me-name")).to_have_text(username, timeout=15_000)
    return page


async def test_transcript_queue_layout_and_typing(gw):
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    # A counseling chat (its words must never reach the clerk's page) and a few citizens waiting.
    secret = f"学校でいじめられてる {uuid.uuid4().hex[:6]}"
    youth = "youth-" + uuid.uuid4().hex[:6]
    await asyncio.to_thread(say, gw, youth, "相談員さんと話したい")
    await asyncio.to_thread(say, gw, youth, secret)
    for n in range(12):  # a long waiting list
        await asyncio.to_thread(say, gw, f"waiting-{n}-{uuid.uuid4().hex[:4]}", "人と話したい")

    widget = WidgetClient(gw.url)
    await widget.connect()
    conversation = f"web:{widget.session_id}"
    for text in ("大型ごみを出したい", DATE, "/affirm"):
        await widget.ask(text)
    await widget.ask("人と話したい")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        clerk = await log_in(browser, gw, "hanako")
        row = clerk.locator(f'#waiting li[data-conversation-id="{conversation}"]')
        await expect(row).to_be_visible(timeout=15_000)
        await expect(row.locator(".item__preview")).to_contain_text("番目")
        assert secret not in await clerk.content()
        await row.click()
        await clerk.click("#claim")
        await expect(clerk.locator("#mine li")).to_have_count(1, timeout=10_000)

        transcript = clerk.locator("#transcript")
        pressed = transcript.locator(".msg--pressed")
        await expect(pressed).to_have_count(2)
        await expect(pressed.nth(0)).to_contain_text("12月3日（木）")
        await expect(pressed.nth(1)).to_contain_text("はい")
        assert "/choose_date" not in await transcript.inner_text()
        offer = transcript.locator(".msg--bot", has_text="収集日を選んでください")
        await expect(offer.locator(".msg__button")).to_have_text(["12月3日（木）", "12月10日（木）"])
        await expect(offer.locator(".msg__button--chosen")).to_have_text("12月3日（木）")
        await expect(transcript.locator('.msg--system[data-event="queued"]')).to_have_count(1)
        await expect(transcript.locator('.msg--system[data-event="joined"]')).to_have_count(1, timeout=10_000)
        assert "［ボタン" not in await transcript.inner_text()

        # A LINE-style channel note and a private note: each its own look.
        store = HandoffStore(connect(gw.db_url))
        await asyncio.to_thread(store.add_message, conversation, "system", "（スタンプが送られました）", "media")
        await clerk.click("#tab-note")
        await clerk.fill("#note-text", "申込内容は確認済み。")
        await clerk.click("#note-send")
        await expect(transcript.locator(".msg--note")).to_contain_text("申込内容は確認済み。")
        await clerk.click("#tab-reply")
        await clerk.fill("#reply-text", "担当の山田です。ご用件をどうぞ。")
        await clerk.click("#reply-send")
        await expect(transcript.locator(".msg--staff").last).to_contain_text("担当の山田です")

        # The citizen types: 「入力中…」 for a few seconds, no text; then their message.
        await widget.sio.emit("user_typing", {"session_id": widget.token})
        await expect(clerk.locator("#typing-indicator")).to_be_visible(timeout=5_000)
        await expect(clerk.locator("#typing-indicator")).to_be_hidden(timeout=10_000)
        await widget.sio.emit("user_typing", {"session_id": widget.token})
        await expect(clerk.locator("#typing-indicator")).to_be_visible(timeout=5_000)
        await widget.say("収集日を変えたいです")
        await expect(transcript).to_contain_text("収集日を変えたいです", timeout=10_000)
        await expect(clerk.locator("#typing-indicator")).to_be_hidden()
        await clerk.reload()  # the media note comes with the transcript
        await expect(clerk.locator("#me-name")).to_have_text("hanako", timeout=15_000)
        await clerk.click(f'#mine li[data-conversation-id="{conversation}"]')
        await expect(transcript.locator('.msg--media[data-event="media"]')).to_contain_text("スタンプ")

        # Layout: 担当中 above a long waiting list, each scrolling on its own; the transcript gets the height.
        for width, height in ((1280, 800), (1920, 1080)):
            await clerk.set_viewport_size({"width": width, "height": height})
            box = await transcript.bounding_box()
            mine, waiting = await clerk.locator("#mine").bounding_box(), await clerk.locator("#waiting").bounding_box()
            assert box["height"] >= height * 0.5, (width, box)
            assert mine["y"] < waiting["y"] and mine["y"] + mine["height"] <= height
            scroll = await clerk.locator("#waiting").evaluate("ul => [ul.scrollHeight, ul.clientHeight]")
            if width == 1280:
                assert scroll[0] > scroll[1], "the waiting list scrolls inside its pane"
            if os.environ.get("CONSOLE_SCREENSHOTS") == "1":  # the README's pictures, only when asked for
                await clerk.screenshot(path=str(DOCS / f"console-{width}.png"))
        assert not [e for e in clerk.errors if "Content Security Policy" in e or "TypeError" in e], clerk.errors

        # Counselors read the counseling preview; the clerk's page never held it.
        counselor = await log_in(browser, gw, "kaori")
        youth_row = counselor.locator(f'#waiting li[data-conversation-id="rest:{youth}"]')
        await expect(youth_row.locator(".item__preview")).to_be_visible(timeout=10_000)
        assert secret not in await clerk.content()
        await browser.close()
    await widget.close()


async def test_a_long_wait_reaches_a_supervisor_as_an_escalation_with_a_desktop_notice(gw):
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        boss = await log_in(browser, gw, "boss")
        await boss.context.grant_permissions(["notifications"], origin=gw.url)
        await boss.evaluate("""() => {  // record the notifications the page shows
            window.shown = [];
            const Real = window.Notification;
            window.Notification = class extends Real {
                constructor(title, options) { super(title, options); window.shown.push({ title, body: options.body }); }
            };
            Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
        }""")
        sender = "slow-" + uuid.uuid4().hex[:6]
        await asyncio.to_thread(say, gw, sender, "人と話したい")
        banner = boss.locator(f'.alert-banner[data-conversation-id="rest:{sender}"]')
        await expect(banner).to_contain_text("【監督者へ】", timeout=15_000)
        await expect(banner).to_contain_text("待っている問い合わせ")
        await expect(boss.locator(f'#waiting li[data-conversation-id="rest:{sender}"] .tag--long')).to_have_text("長時間待ち")
        shown = await boss.evaluate("window.shown")
        assert any(n["title"].startswith("長い待ち時間") for n in shown), shown
        await browser.close()


async def test_typing_in_the_widget_shows_on_the_console_watching_the_chat(gw):
    W = "[data-sapporo-chat] "  # Playwright's CSS pierces the widget's open shadow root
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        citizen = await (await browser.new_context(locale="ja-JP")).new_page()
        await citizen.goto(gw.url + "/")
        await expect(citizen.locator(W + ".panel")).to_be_visible(timeout=15_000)
        await expect(citizen.locator(W + ".msg--bot").first).to_be_visible(timeout=15_000)  # the greeting's answer
        await citizen.locator(W + "textarea").fill("人と話したい")
        await citizen.locator(W + "textarea").press("Enter")
        await expect(citizen.locator(W + ".msg--bot", has_text="番目")).to_be_visible(timeout=15_000)
        token = await citizen.evaluate("() => localStorage.getItem('sapporo-chat-session')")
        assert token, "the widget keeps its session"

        clerk = await log_in(browser, gw, "hanako")
        row = clerk.locator(f'#waiting li[data-conversation-id="web:{session_id_of(token)}"]')
        await expect(row).to_be_visible(timeout=15_000)
        await row.click()
        await expect(clerk.locator("#transcript")).to_contain_text("人と話したい")
        await expect(clerk.locator("#typing-indicator")).to_be_hidden()
        await citizen.locator(W + "textarea").press_sequentially("ごみの")
        await expect(clerk.locator("#typing-indicator")).to_be_visible(timeout=5_000)
        assert "ごみの" not in await clerk.locator("#transcript").inner_text()  # what is typed stays with the citizen
        await expect(clerk.locator("#typing-indicator")).to_be_hidden(timeout=10_000)
        await browser.close()


async def test_context_panel_lists_earlier_chats_and_bookings_but_no_counseling_for_a_clerk(gw):
    from common.booking import schedule
    from common.booking.dates import available_dates
    from common.booking.store import BookedItem, BookingRequest, BookingStore, owner_ref
    from tests.gateway.conftest import staff_login
    from tests.gateway.test_staff_context import NOW, TODAY

    sender = "ctx-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    counselor, clerk_api = staff_login(gw, "kaori", PASSWORD), staff_login(gw, "hanako", PASSWORD)
    await asyncio.to_thread(say, gw, sender, "相談員さんと話したい")
    assert counselor.act(conversation, "claim").status_code == 200
    assert counselor.act(conversation, "close", {"outcome": "listened"}).status_code == 200
    await asyncio.to_thread(say, gw, sender, "人と話したい")
    assert clerk_api.act(conversation, "claim").status_code == 200
    assert clerk_api.act(conversation, "close", {"outcome": "resolved"}).status_code == 200
    await asyncio.to_thread(say, gw, sender, "人と話したい")
    day = available_dates(schedule(), "中央区", TODAY, 1)[0]
    made = BookingStore(gw.env["ASSISTANT_DB_URL"]).book(BookingRequest(
        items=[BookedItem("ソファー", 1, 1200)], ward="中央区", area=None, town="南1条西", address="1-1", name=None,
        phone="09012345678", day=day, owner_ref=owner_ref(f"{conversation}#1"), channel="rest"), sender, now=NOW)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        clerk = await log_in(browser, gw, "hanako")
        await clerk.click(f'#waiting li[data-conversation-id="{conversation}"]', timeout=15_000)
        panel = clerk.locator("#conv-context")
        await expect(panel).to_be_visible(timeout=10_000)
        await expect(panel.locator(".context__counts")).to_have_text("（以前の対応 1件・大型ごみの予約 1件）")
        transcript = await clerk.locator("#transcript").bounding_box()
        assert transcript["height"] >= 400, transcript  # one line until opened: the transcript keeps the height
        await panel.locator("summary").click()
        await expect(panel.locator("#context-chats li")).to_have_count(1)
        await expect(panel.locator("#context-chats li")).to_contain_text("解決")
        link = panel.locator("#context-bookings a")
        await expect(link).to_have_text(made.receipt_no)
        assert f"day={day.isoformat()}" in await link.get_attribute("href")
        await expect(panel.locator("#context-bookings li")).to_contain_text("ソファー×1")
        assert "傾聴" not in await panel.inner_text() and "kaori" not in await panel.inner_text()
        opened = await clerk.locator("#transcript").bounding_box()
        assert opened["height"] >= 260, opened  # opened, it still leaves the transcript most of the pane
        if os.environ.get("CONSOLE_SCREENSHOTS") == "1":
            await clerk.screenshot(path=str(DOCS / "console-context.png"))
        # The earlier chat opens in the history view (console_tools.js's staffConsoleTools.openHistory), audited.
        await panel.locator("#context-chats li button").click()
        shown = clerk.locator("#tools-history-transcript")
        await expect(shown).to_be_visible(timeout=10_000)
        await expect(shown).to_contain_text("人と話したい")
        assert "相談員さんと話したい" not in await shown.inner_text()  # the counseling chat before it stays hidden
        assert not [e for e in clerk.errors if "Content Security Policy" in e or "TypeError" in e], clerk.errors
        await browser.close()
