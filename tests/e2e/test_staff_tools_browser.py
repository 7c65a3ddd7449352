"""The console tools in real headless Chromium (Playwright, Debian's chromium) against a real gateway alone (no
engine: chats are queued with the 「担当者と話す」 payload, which the gateway answers itself), with automatic
assignment on: a clerk who is online gets a chat assigned and opened live; once away, nothing more. A supervisor
edits canned replies (title, /keyword), works a chat by keyboard only (n next chat, c claim, r reply box, "/" +
keyword pop-up with arrow keys and Enter, t transfer with the members' availability, x close), opens the help with
"?", and finds the closed chat in the history (search and opening audited). TOOLS_SCREENSHOT=1 writes
docs/staff-console-tools.png (the / pop-up) and docs/staff-console-history.png (1280×800)."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from playwright.sync_api import expect, sync_playwright

from gateway.staff import auth as staff_auth
from gateway.storage.db import connect
from tests.gateway.conftest import HTTP, ROOT, GatewayProcess, free_port, staff_user

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
PASSWORD = "pw-tools-0123456789"
SCREENSHOTS = os.environ.get("TOOLS_SCREENSHOT") == "1"
HOURS = "受付時間は平日8時45分から17時15分です。"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tools-browser")
    process = GatewayProcess(f"http://127.0.0.1:{free_port()}", directory, STAFF_AUTO_ASSIGN="1",
                             STAFF_MAX_CHATS="1", STAFF_SWEEP_SECONDS="0.5")
    staff_user(process, "kacho", "supervisor", PASSWORD)
    staff_user(process, "clerk", "staff", PASSWORD)
    yield process
    process.stop()


def queue_chat(gateway) -> str:
    sender = f"tools-{uuid.uuid4().hex[:8]}"
    answer = HTTP.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": "/request_human"})
    assert answer.status_code == 200 and any("番目" in m.get("text", "") for m in answer.json()["messages"])
    return f"rest:{sender}"


def log_in(browser, gateway, username: str):
    page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP").new_page()
    page.goto(f"{gateway.url}/staff")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    expect(page.locator("#me-name")).to_have_text(username, timeout=15_000)
    expect(page.locator("#tools-presence")).to_be_visible()
    return page


def test_assignment_canned_keyboard_and_history(gateway, tmp_path):
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        problems = []
        clerk = log_in(browser, gateway, "clerk")
        boss = log_in(browser, gateway, "kacho")
        for page in (clerk, boss):
            page.on("pageerror", lambda e: problems.append(str(e)))

        # Assignment: the clerk is online (a console is open) and gets the chat, opened live.
        expect(clerk.locator("#tools-presence")).to_have_value("online")
        first = queue_chat(gateway)
        expect(clerk.locator(f'#mine li[data-conversation-id="{first}"]')).to_be_visible(timeout=15_000)
        expect(clerk.locator("#tools-status")).to_contain_text("割り当て")
        expect(clerk.locator("#reply-text")).to_be_enabled()
        # The per-person limit (1 here): the next chat waits although the clerk is online.
        extra = queue_chat(gateway)
        expect(clerk.locator(f'#waiting li[data-conversation-id="{extra}"]')).to_be_visible(timeout=15_000)
        clerk.wait_for_timeout(1500)  # three sweeps
        expect(clerk.locator(f'#waiting li[data-conversation-id="{extra}"]')).to_be_visible()
        # Away: the next chat waits for the supervisor (who is never assigned automatically).
        clerk.select_option("#tools-presence", "away")
        expect(clerk.locator("#tools-status")).to_contain_text("離席")

        # Canned replies: the supervisor adds one with a keyword, edits it, filters the list.
        boss.click("#canned-open")
        expect(boss.locator("#tools-canned-dialog")).to_be_visible()
        boss.fill("#tools-canned-title", "受付時間")
        boss.fill("#tools-canned-keyword", "jikan")
        boss.fill("#tools-canned-text", "受付時間は平日です。")
        boss.click("#tools-canned-save")
        item = boss.locator("#tools-canned-list li", has_text="受付時間は平日です。")
        expect(item).to_have_count(1)
        item.get_by_role("button", name="編集").click()
        boss.fill("#tools-canned-text", HOURS)
        boss.click("#tools-canned-save")
        expect(boss.locator("#tools-canned-list li", has_text=HOURS)).to_have_count(1)
        boss.fill("#tools-canned-search", "jikan")
        expect(boss.locator("#tools-canned-list li")).to_have_count(1)
        boss.locator("#tools-canned-dialog").get_by_role("button", name="閉じる").click()
        expect(boss.locator("#tools-canned-dialog")).to_be_hidden()

        # The keyboard: "?" opens the help, n opens the next chat, c claims, r goes to the reply box.
        boss.locator("body").click(position={"x": 5, "y": 300})
        boss.keyboard.press("?")
        expect(boss.locator("#tools-help-dialog")).to_be_visible()
        expect(boss.locator("#tools-help-dialog")).to_contain_text("担当する")
        boss.keyboard.press("Escape")
        second = queue_chat(gateway)
        row = boss.locator(f'#waiting li[data-conversation-id="{second}"]')
        expect(row).to_be_visible(timeout=15_000)
        boss.locator("body").click(position={"x": 5, "y": 300})
        for _ in range(4):  # n walks the lists (mine, then waiting) until it reaches the new chat
            boss.keyboard.press("n")
            boss.wait_for_timeout(400)
            if boss.evaluate("() => window.staffConsole.currentConversation()") == second:
                break
        assert boss.evaluate("() => window.staffConsole.currentConversation()") == second
        expect(boss.locator("#claim")).to_be_enabled()
        boss.locator("body").click(position={"x": 5, "y": 300})
        boss.keyboard.press("c")
        expect(boss.locator("#reply-text")).to_be_enabled(timeout=10_000)
        boss.locator("body").click(position={"x": 5, "y": 300})
        boss.keyboard.press("r")
        expect(boss.locator("#reply-text")).to_be_focused()

        # "/" + keyword: the pop-up, arrow keys and Enter put the reply in the box.
        boss.keyboard.type("/jik")
        expect(boss.locator("#tools-slash")).to_be_visible()
        expect(boss.locator("#tools-slash li").first).to_contain_text("/jikan")
        if SCREENSHOTS:
            boss.screenshot(path=str(ROOT / "docs" / "staff-console-tools.png"))
        boss.keyboard.press("ArrowDown")
        boss.keyboard.press("ArrowUp")
        boss.keyboard.press("Enter")
        expect(boss.locator("#reply-text")).to_have_value(HOURS)
        expect(boss.locator("#tools-slash")).to_be_hidden()
        boss.click("#reply-send")
        expect(boss.locator("#transcript")).to_contain_text(HOURS, timeout=10_000)

        # t: the transfer dialog lists the members who can take the chat, with their availability.
        boss.locator("body").click(position={"x": 5, "y": 300})
        boss.keyboard.press("t")
        expect(boss.locator("#transfer-dialog")).to_be_visible()
        expect(boss.locator("#tools-transfer-member option", has_text="clerk")).to_contain_text("離席")
        boss.select_option("#tools-transfer-member", "clerk")
        expect(boss.locator("#transfer-user")).to_have_value("clerk")
        boss.keyboard.press("Escape")

        # x: close with an outcome.
        boss.locator("body").click(position={"x": 5, "y": 300})
        boss.keyboard.press("x")
        expect(boss.locator("#close-dialog")).to_be_visible()
        boss.click("#close-confirm")
        expect(boss.locator("#close-dialog")).to_be_hidden(timeout=10_000)

        # History: h, search the text, open the result.
        boss.locator("body").click(position={"x": 5, "y": 300})
        boss.keyboard.press("h")
        expect(boss.locator("#tools-history-dialog")).to_be_visible()
        boss.fill("#tools-history-q", "17時15分")
        boss.click("#tools-history-search")
        expect(boss.locator("#tools-history-results tr")).to_have_count(1, timeout=10_000)
        boss.locator("#tools-history-results button").click()
        expect(boss.locator("#tools-history-transcript")).to_contain_text(HOURS)
        expect(boss.locator("#tools-history-transcript")).to_contain_text("［ボタン］担当者と話す")  # not its payload
        expect(boss.locator("#tools-history-transcript")).not_to_contain_text("/request_human")
        boss.screenshot(path=str(ROOT / "docs" / "staff-console-history.png" if SCREENSHOTS
                                 else tmp_path / "staff-tools-history.png"))
        browser.close()
    log = staff_auth.audit_entries(connect(gateway.db_url), 500)
    assert any(e["action"] == "view_history" and e["conversation_id"] == second and e["username"] == "kacho" for e in log)
    assert any(e["action"] == "history_search" and e["username"] == "kacho" for e in log)
    assert [e["conversation_id"] for e in log if e["action"] == "auto_assign"] == [first]
    assert not problems, problems
