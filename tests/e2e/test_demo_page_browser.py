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


W = "[data-sapporo-chat] "  # the widget's open shadow root (Playwright's CSS pierces it)


def test_chat_box_greets_and_quick_replies_answer(stack, browser, tmp_path):
    page = browser.new_page(viewport={"width": 390, "height": 760})  # a phone screen
    page.goto(f"{stack.gateway_url}/")  # the demo page: the widget's tag, open at start, greets with the menu
    greeting = page.locator(W + ".msg--bot").first
    expect(greeting).to_contain_text("札幌市", timeout=20_000)
    expect(page.locator(W + ".quick button")).to_have_count(4)
    expect(page.locator(W + ".msg--user")).to_have_count(0)  # the greeting's /greet is not shown

    page.fill(W + "textarea", "こんにちは")
    page.press(W + "textarea", "Enter")
    expect(page.locator(W + ".msg--user .text")).to_have_text(["こんにちは"])
    expect(page.locator(W + ".msg--bot").nth(1)).to_contain_text("札幌市", timeout=20_000)
    expect(page.locator(W + ".quick button:enabled")).to_have_count(4)

    page.get_by_role("button", name="ごみの出し方").last.click()
    expect(page.locator(W + ".msg--bot").nth(2)).to_contain_text("捨てたい物", timeout=20_000)
    expect(page.locator(W + ".quick button:enabled")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "demo-page.png"))
    page.close()


def test_session_survives_a_page_reload(stack, browser):
    page = browser.new_page()
    page.goto(f"{stack.gateway_url}/")
    expect(page.locator(W + ".msg--bot").first).to_contain_text("札幌市", timeout=20_000)
    page.wait_for_function("localStorage.getItem('sapporo-chat-session') !== null")
    first = page.evaluate("localStorage.getItem('sapporo-chat-session')")
    page.reload()
    expect(page.locator(W + ".msg--bot").first).to_contain_text("札幌市", timeout=20_000)  # the history
    assert page.evaluate("localStorage.getItem('sapporo-chat-session')") == first
    page.wait_for_timeout(500)
    expect(page.locator(W + ".msg--bot")).to_have_count(1)  # not greeted twice
    page.close()
