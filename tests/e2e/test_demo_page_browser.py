"""The demo page works in a real browser (Debian's headless Chromium driven by Playwright)."""

import os
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield instance
        instance.close()


def test_chat_box_greets_and_quick_replies_answer(stack, browser, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 760})  # a phone screen
    page.goto(f"{stack.gateway_url}/")
    expect(page.locator("#status")).to_have_text("接続しました", timeout=15_000)

    page.fill("#input", "こんにちは")
    page.press("#input", "Enter")
    expect(page.locator(".msg--user")).to_have_text(["こんにちは"])
    expect(page.locator(".msg--bot").first).to_contain_text("札幌市", timeout=20_000)
    expect(page.locator("#quick button")).to_have_count(4)

    page.get_by_role("button", name="ごみの出し方").click()
    expect(page.locator(".msg--bot").nth(1)).to_contain_text("捨てたい物", timeout=20_000)
    expect(page.locator("#quick button")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "demo-page.png"))
    page.close()


def test_session_survives_a_page_reload(stack, browser):
    page = browser.new_page()
    page.goto(f"{stack.gateway_url}/")
    expect(page.locator("#status")).to_have_text("接続しました", timeout=15_000)
    page.wait_for_function("sessionStorage.getItem('sapporo-chat-session') !== null")
    first = page.evaluate("sessionStorage.getItem('sapporo-chat-session')")
    page.reload()
    expect(page.locator("#status")).to_have_text("接続しました", timeout=15_000)
    page.wait_for_function("sessionStorage.getItem('sapporo-chat-session') !== null")
    assert page.evaluate("sessionStorage.getItem('sapporo-chat-session')") == first
    page.close()
