"""The website widget (gateway/static/widget.js, README "Website widget") in a real browser: Debian's headless
Chromium driven by Playwright, against the real gateway process and a stand-in engine (tests/gateway/conftest.py).

The widget is embedded with its one <script> tag in a page with hostile CSS, served from a second loopback origin
(a small http.server on another port), so the cross-origin script, the Socket.IO CORS check and the Shadow DOM are
the real ones. One browser and one gateway per module; every test gets a fresh browser context (its own
localStorage), except where a test is about tabs of one browser.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest
from aiohttp import web
from playwright.sync_api import expect, sync_playwright

import tests.gateway.conftest as harness
from gateway import texts
from connectors.webchat_session import session_id_of
from tests.gateway.conftest import GatewayProcess, StandInEngine, free_port, staff_user

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
W = "[data-sapporo-chat] "  # Playwright's CSS pierces the widget's open shadow root
KEY = "sapporo-chat-session"
AXE_VERSION = "4.14.1"

WARDS = ["中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区"]
QUESTION = ("ごみの収集日をご案内します。\nお住まいの区によって収集日が違います。\n"
            "下のボタンから、お住まいの区を選んでください。")
SCRIPTED: Dict[str, List[Dict[str, Any]]] = {
    "/greet": [{"text": "こんにちは。札幌市のAIアシスタントです。ご用件を選んでください。",
                "buttons": [{"title": "ごみの出し方", "payload": "/menu_garbage"},
                            {"title": "収集日", "payload": "/collection_day"},
                            {"title": "大型ごみ", "payload": "/menu_bulky"},
                            {"title": "手続き", "payload": "/menu_procedures"}]}],
    "メニュー": [{"text": "ご用件を選んでください。", "buttons": [{"title": "収集日", "payload": "/collection_day"}]}],
    "/collection_day": [{"text": QUESTION, "buttons": [{"title": w, "payload": w} for w in WARDS]}],
}

HOSTILE_PAGE = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>市のページ</title>
<style>
  * { font-size: 40px !important; color: red !important; display: block; background: yellow;
      font-family: serif !important; line-height: 3 !important; letter-spacing: 4px !important; }
  head, style, script, title, meta { display: none !important; }
  div { transform: rotate(8deg) translateX(-200px); opacity: .4; position: absolute !important; top: 0 !important; }
  button, textarea, ol, li { border: 9px dotted green !important; padding: 30px !important; }
  [hidden] { display: block !important; }
</style></head>
<body><main><h1>市のページ</h1><p class="msg" id="page-msg">本文です。</p></main>
<script src="{gateway}/widget.js" data-title="札幌市 AIチャット" data-color="#0058a8" data-privacy-url="/privacy.html" async></script>
</body></html>
"""


class ScriptedEngine(StandInEngine):
    """The stand-in engine (an echo) with a greeting menu and a long question with ten buttons."""

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body["message"] in SCRIPTED:
            self.received.append(body)
            return web.json_response([{"recipient_id": body["sender"], **m} for m in SCRIPTED[body["message"]]])
        return await super()._webhook(request)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def engine():
    stand_in = ScriptedEngine().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The city's page: another origin (same host, another port)."""
    directory = tmp_path_factory.mktemp("site")
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.directory = directory
    server.origin = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def gw(engine, site, tmp_path_factory):
    """The gateway, with the page's origin in CORS_ORIGINS; a list so a test can restart it on the same port."""
    data_dir = tmp_path_factory.mktemp("gateway")
    running = [GatewayProcess(engine.url, data_dir, CORS_ORIGINS=site.origin)]
    (site.directory / "index.html").write_text(HOSTILE_PAGE.replace("{gateway}", running[0].url), encoding="utf-8")
    (site.directory / "en.html").write_text(
        f'<!doctype html><html lang="en"><title>City page</title><p>Text</p><script src="{running[0].url}/widget.js" '
        'data-lang="en" data-initial-message="" data-color="#7a1f5c" data-title="Sapporo chat" async></script>',
        encoding="utf-8")
    (site.directory / "privacy.html").write_text("<!doctype html><title>個人情報</title>", encoding="utf-8")
    yield running
    running[-1].stop()


@pytest.fixture(scope="module")
def playwright():
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    with sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright):
    instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    yield instance
    instance.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
    yield ctx
    ctx.close()


def open_widget(page, url, opens_itself=False):
    page.goto(url)
    if not opens_itself:  # the demo page's tag has data-open
        page.locator(W + ".launcher").click()
    expect(page.locator(W + ".panel")).to_be_visible()
    expect(page.locator(W + ".msg--bot").first).to_contain_text("ご用件を選んでください", timeout=15_000)


def shadow_active(page) -> str:
    """What has the focus inside the widget ('' when the focus is outside it)."""
    return page.evaluate("""() => { const h = document.querySelector('[data-sapporo-chat]');
        const a = h && h.shadowRoot.activeElement; if (!a) return '';
        return a.tagName.toLowerCase() + (a.className ? '.' + a.className.split(' ').join('.') : '')
             + (a.textContent && a.tagName === 'BUTTON' ? ':' + a.textContent : ''); }""")


def type_and_send(page, text):
    page.locator(W + "textarea").fill(text)
    page.locator(W + "textarea").press("Enter")


# ------------------------------------------------------------------ serving

def test_widget_js_is_served_with_caching_headers_and_the_gateways_limit(gw):
    answer = httpx.get(f"{gw[0].url}/widget.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "public, max-age=300"
    assert "__MAX_MESSAGE_CHARS__" not in answer.text and 'parseInt("2000", 10)' in answer.text
    again = httpx.get(f"{gw[0].url}/widget.js", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    demo = httpx.get(f"{gw[0].url}/")
    assert '<script src="/widget.js"' in demo.text


# ------------------------------------------------------------------ chatting on a hostile page of another origin

def test_hostile_page_of_another_origin_chats_in_japanese_with_links(gw, site, context, engine):
    page = context.new_page()
    page.goto(site.origin + "/")
    launcher = page.locator(W + ".launcher")
    expect(launcher).to_be_visible()
    # The page's CSS does not reach in …
    style = launcher.evaluate("e => { const s = getComputedStyle(e); return [s.fontSize, s.color, s.position]; }")
    assert style == ["16px", "rgb(255, 255, 255)", "fixed"], style
    box = launcher.bounding_box()
    assert box["x"] + box["width"] <= 1280 and box["y"] + box["height"] <= 800 and box["x"] > 640, box
    # … and the widget's does not reach out (the page's own .msg keeps the page's look).
    assert page.locator("#page-msg").evaluate("e => getComputedStyle(e).borderRadius") == "0px"
    assert not page.evaluate("localStorage.getItem('sapporo-chat-session')")  # no chat before the citizen opens one

    launcher.click()
    expect(page.locator(W + ".msg--bot").first).to_contain_text("ご用件を選んでください", timeout=15_000)
    expect(page.locator(W + ".quick button")).to_have_count(4)
    assert shadow_active(page) == "textarea"
    assert page.locator(W + ".panel").evaluate("e => getComputedStyle(e).fontSize") == "16px"
    assert page.locator(W + ".note").evaluate("e => getComputedStyle(e).fontSize") == "12.8px"  # em, not the page's rem
    expect(page.locator(W + ".note a")).to_have_attribute("href", site.origin + "/privacy.html")

    type_and_send(page, "燃えるごみの日はいつですか")
    expect(page.locator(W + ".msg--user")).to_contain_text(["燃えるごみの日はいつですか"])
    expect(page.locator(W + ".msg--bot").nth(1)).to_contain_text("echo:燃えるごみの日はいつですか", timeout=10_000)
    expect(page.locator(W + ".quick button:enabled")).to_have_count(0)  # the menu's buttons are used up
    expect(page.locator(W + ".msg--bot").nth(1).locator("time")).to_have_text(re.compile(r"^\d{1,2}:\d\d$"))

    type_and_send(page, "電話は011-222-4894か0120-0-78310、詳しくは https://example.org/a.html。")
    answer = page.locator(W + ".msg--bot").nth(2)
    expect(answer.locator("a[href='tel:0112224894']")).to_have_text("011-222-4894", timeout=10_000)
    expect(answer.locator("a[href='tel:0120078310']")).to_have_text("0120-0-78310")
    expect(answer.locator("a[href='https://example.org/a.html']")).to_have_attribute("rel", "noopener noreferrer")
    expect(answer.locator("a")).to_have_count(3)
    # the live region announced the answers
    expect(page.locator(W + "[aria-live=polite]")).to_contain_text("echo:燃えるごみの日はいつですか")
    assert [m["message"] for m in engine.received if m["sender"].startswith("web:")][-3:] == \
        ["/greet", "燃えるごみの日はいつですか", "電話は011-222-4894か0120-0-78310、詳しくは https://example.org/a.html。"]


def test_english_labels_no_initial_message_and_the_colour(gw, site, context, engine):
    page = context.new_page()
    page.goto(site.origin + "/en.html")
    expect(page.locator(W + ".launcher")).to_have_text("Open chat")
    assert page.locator(W + ".launcher").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(122, 31, 92)"
    page.locator(W + ".launcher").click()
    expect(page.locator(W + "h2")).to_have_text("Sapporo chat")
    expect(page.locator(W + ".head button.end")).to_have_text("End chat")
    expect(page.locator(W + "label")).to_have_text("Message")
    page.wait_for_function("localStorage.getItem('sapporo-chat-session') !== null")  # connected on open
    page.wait_for_timeout(500)
    assert page.locator(W + ".msg").count() == 0  # data-initial-message="": no greeting is asked for
    type_and_send(page, "ごみの日")
    expect(page.locator(W + ".msg--bot")).to_contain_text(["echo:ごみの日"], timeout=10_000)


def test_a_page_origin_not_in_cors_origins_cannot_connect(gw, site, context):
    page = context.new_page()
    page.goto(site.origin.replace("127.0.0.1", "localhost") + "/")  # the same page, an origin not allowed
    page.locator(W + ".launcher").click()
    expect(page.locator(W + ".offline")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(500)
    assert page.locator(W + ".msg").count() == 0
    assert not page.evaluate("localStorage.getItem('sapporo-chat-session')")


def test_quick_reply_keeps_the_question_and_its_buttons_in_view_on_a_phone(gw, site, browser, tmp_path):
    context = browser.new_context(viewport={"width": 320, "height": 568}, locale="ja-JP", device_scale_factor=2)
    page = context.new_page()
    open_widget(page, site.origin + "/")
    panel = page.locator(W + ".panel").bounding_box()
    assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 320, panel  # fits at 320 px
    for text in ["一つ目の質問です", "二つ目の質問です"]:  # a log longer than the panel
        type_and_send(page, text)
        expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:" + text, timeout=10_000)
    type_and_send(page, "メニュー")
    expect(page.locator(W + ".quick button:enabled")).to_have_count(1, timeout=10_000)
    page.locator(W + ".quick button:enabled", has_text="収集日").click()
    expect(page.locator(W + ".msg--bot").last).to_contain_text("お住まいの区を選んでください", timeout=10_000)
    expect(page.locator(W + ".quick").last.locator("button")).to_have_count(10)
    assert shadow_active(page) == "textarea"  # the focus stays in the panel
    expect(page.locator(W + ".quick button", has_text="収集日")).to_have_count(2)
    expect(page.locator(W + ".quick button.chosen")).to_have_text("収集日")  # used, disabled, marked
    expect(page.locator(W + ".quick button.chosen")).to_be_disabled()
    page.wait_for_timeout(300)
    log = page.locator(W + ".log").bounding_box()
    question = page.locator(W + ".msg--bot").last.bounding_box()
    buttons = page.locator(W + ".quick").last.bounding_box()
    assert question["y"] >= log["y"] - 1, (question, log)
    assert buttons["y"] + buttons["height"] <= log["y"] + log["height"] + 1, (buttons, log)
    page.screenshot(path=str(tmp_path / "hostile-page.png"))

    page.locator(W + ".quick button", has_text="豊平区").click()
    expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:豊平区", timeout=10_000)
    expect(page.locator(W + ".quick button:enabled")).to_have_count(0)  # used buttons are disabled
    context.close()


# ------------------------------------------------------------------ one chat across reloads, tabs and its end

def test_reload_shows_the_history_and_a_second_tab_continues_the_chat(gw, site, context, engine):
    page = context.new_page()
    open_widget(page, site.origin + "/")
    type_and_send(page, "一つ目")
    expect(page.locator(W + ".msg--bot .text").last).to_have_text("echo:一つ目", timeout=10_000)
    token = page.evaluate(f"localStorage.getItem('{KEY}')")
    assert token and session_id_of(token) and token != session_id_of(token)  # the signed token, not a bare id
    sent_at = page.locator(W + ".msg--user time").last.get_attribute("datetime")

    page.reload()
    expect(page.locator(W + ".msg--bot")).to_have_count(2, timeout=10_000)  # the history, in the closed panel
    expect(page.locator(W + ".launcher .dot")).to_be_hidden()  # nothing new: no unread mark
    assert page.locator(W + "[aria-live=polite]").text_content() == ""  # the history is not read out again
    page.locator(W + ".launcher").click()
    expect(page.locator(W + ".msg .text")).to_have_text(["こんにちは。札幌市のAIアシスタントです。ご用件を選んでください。",
                                                         "一つ目", "echo:一つ目"], timeout=10_000)
    assert page.evaluate(f"localStorage.getItem('{KEY}')") == token
    assert page.locator(W + ".msg--user time").last.get_attribute("datetime") == sent_at  # the time it was sent
    assert "一つ目" not in page.evaluate("localStorage.getItem('sapporo-chat-times')")  # times, never texts
    page.wait_for_timeout(500)
    assert [m["message"] for m in engine.received if m["sender"] == "web:" + session_id_of(token)] == ["/greet", "一つ目"]

    second = context.new_page()  # another tab of the same browser
    second.goto(site.origin + "/")
    second.locator(W + ".launcher").click()
    expect(second.locator(W + ".msg .text").last).to_have_text("echo:一つ目", timeout=10_000)
    type_and_send(second, "二つ目")
    expect(second.locator(W + ".msg--bot").last).to_contain_text("echo:二つ目", timeout=10_000)
    expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:二つ目", timeout=10_000)  # the first tab too
    assert second.evaluate(f"localStorage.getItem('{KEY}')") == token


def test_end_chat_forgets_the_session_and_the_next_open_starts_a_new_one(gw, site, context):
    page = context.new_page()
    other_tab = context.new_page()
    open_widget(page, site.origin + "/")
    type_and_send(page, "ひみつの相談")
    expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:ひみつの相談", timeout=10_000)
    old = page.evaluate(f"localStorage.getItem('{KEY}')")
    other_tab.goto(site.origin + "/")
    other_tab.locator(W + ".launcher").click()
    expect(other_tab.locator(W + ".msg--bot").last).to_contain_text("echo:ひみつの相談", timeout=10_000)

    page.locator(W + ".head button", has_text="会話を終える").click()
    expect(page.locator(W + ".panel")).to_be_hidden()
    assert shadow_active(page).startswith("button.launcher")
    assert page.evaluate(f"localStorage.getItem('{KEY}')") is None
    assert page.evaluate("localStorage.getItem('sapporo-chat-times')") is None
    expect(other_tab.locator(W + ".msg")).to_have_count(0)  # the other tab forgot it too

    page.reload()  # the next person at this computer
    page.locator(W + ".launcher").click()
    expect(page.locator(W + ".msg--bot").first).to_contain_text("ご用件を選んでください", timeout=10_000)
    expect(page.locator(W + ".log")).not_to_contain_text("ひみつの相談")
    new = page.evaluate(f"localStorage.getItem('{KEY}')")
    assert new and new != old and session_id_of(new) != session_id_of(old)


# ------------------------------------------------------------------ Japanese input

def test_enter_during_ime_composition_does_not_send_and_shift_enter_is_a_new_line(gw, site, context, engine):
    page = context.new_page()
    open_widget(page, site.origin + "/")
    box = page.locator(W + "textarea")
    box.fill("ねんりょう")
    box.dispatch_event("compositionstart", {"data": ""})
    box.dispatch_event("keydown", {"key": "Enter", "code": "Enter", "isComposing": True, "bubbles": True,
                                   "cancelable": True})
    box.press("Enter")  # a key the IME takes (between compositionstart and compositionend)
    box.dispatch_event("compositionend", {"data": "燃料"})
    box.fill("燃料")
    box.press("Shift+Enter")
    page.wait_for_timeout(400)
    assert page.locator(W + ".msg--user").count() == 0
    assert box.input_value() == "燃料\n"
    assert "燃料" not in [m["message"] for m in engine.received]

    box.type("はいつ")
    expect(page.locator(W + ".count")).to_have_text("6 / 2000")
    box.press("Enter")
    expect(page.locator(W + ".msg--user .text")).to_have_text(["燃料\nはいつ"])
    expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:燃料\nはいつ", timeout=10_000)
    box.fill("あ" * 2001)
    expect(page.locator(W + ".count")).to_have_text("2001 / 2000")
    expect(page.locator(W + ".send")).to_be_disabled()


# ------------------------------------------------------------------ keyboard only

def test_keyboard_only(gw, site, context):
    page = context.new_page()
    page.goto(site.origin + "/")
    page.locator(W + ".launcher").wait_for()
    for _ in range(5):
        page.keyboard.press("Tab")
        if shadow_active(page).startswith("button.launcher"):
            break
    assert shadow_active(page).startswith("button.launcher")
    assert page.locator(W + ".launcher").evaluate("e => getComputedStyle(e).outlineStyle") != "none"  # visible focus
    page.keyboard.press("Enter")
    expect(page.locator(W + ".quick button")).to_have_count(4, timeout=15_000)
    assert shadow_active(page) == "textarea"

    page.keyboard.press("Shift+Tab")  # back from the text box: the menu's last button
    assert shadow_active(page) == "button:手続き"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert shadow_active(page) == "button:収集日"
    page.keyboard.press("Enter")
    expect(page.locator(W + ".msg--bot").last).to_contain_text("区を選んでください", timeout=10_000)
    assert shadow_active(page) == "textarea"
    page.keyboard.type("キーボードだけ")
    page.keyboard.press("Enter")
    expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:キーボードだけ", timeout=10_000)

    page.keyboard.press("Escape")
    expect(page.locator(W + ".panel")).to_be_hidden()
    assert shadow_active(page).startswith("button.launcher")
    page.keyboard.press("Enter")
    expect(page.locator(W + ".panel")).to_be_visible()
    assert shadow_active(page) == "textarea"
    for _ in range(30):  # every control of the panel is reached by Tab
        page.keyboard.press("Tab")
        if shadow_active(page) == "button.x:×":
            break
    assert shadow_active(page) == "button.x:×"
    page.keyboard.press("Enter")
    expect(page.locator(W + ".panel")).to_be_hidden()
    assert shadow_active(page).startswith("button.launcher")


# ------------------------------------------------------------------ typing indicator, a person's reply

def test_typing_indicator_and_a_staff_reply_labelled(gw, site, context, engine):
    page = context.new_page()
    open_widget(page, site.origin + "/")
    engine.mode = "hang"  # the engine is thinking (until the mode changes; the gateway waits ENGINE_TIMEOUT=2 s)
    try:
        type_and_send(page, "考え中ですか")
        expect(page.locator(W + ".typing")).to_be_visible()
        expect(page.locator(W + ".typing")).to_have_text("回答を作成しています…")
    finally:
        engine.mode = "ok"
    expect(page.locator(W + ".msg--bot")).to_have_count(2, timeout=10_000)
    expect(page.locator(W + ".typing")).to_be_hidden()

    type_and_send(page, "人と話したい")
    expect(page.locator(W + ".msg--bot").last).to_contain_text("おつなぎします", timeout=10_000)
    # while waiting: the place in the queue and a 「キャンセル」 button (typing キャンセル works as well)
    expect(page.locator(W + ".msg--bot").last).to_contain_text("1番目")
    expect(page.locator(W + ".quick button:enabled", has_text="キャンセル")).to_have_count(1)
    token = page.evaluate(f"localStorage.getItem('{KEY}')")
    clerk = staff_user(gw[-1], f"clerk-{os.getpid()}-{time.monotonic_ns() % 100000}", "staff")
    conversation = "web:" + session_id_of(token)
    assert clerk.act(conversation, "claim").status_code == 200
    expect(page.locator(W + ".msg--bot").last).to_contain_text("担当者が対応します", timeout=10_000)
    page.keyboard.press("Escape")  # the panel is closed when the reply comes: the launcher shows a mark
    reply = clerk.act(conversation, "reply", {"text": "担当の者です。お電話は011-222-4894へどうぞ。"})
    assert reply.status_code == 200
    expect(page.locator(W + ".launcher .dot")).to_be_visible(timeout=10_000)
    expect(page.locator(W + ".launcher")).to_contain_text("新しいメッセージがあります")
    page.locator(W + ".launcher").click()
    expect(page.locator(W + ".launcher .dot")).to_be_hidden()
    staff = page.locator(W + ".msg--staff").last
    expect(staff.locator(".who")).to_have_text("担当者", timeout=10_000)
    expect(staff.locator("a[href='tel:0112224894']")).to_be_visible()
    expect(page.locator(W + ".anon")).to_be_hidden()  # not a counseling chat
    for _ in range(50):  # the widget acknowledged it: the console's 「表示済み」
        shown = [m for m in clerk.conversation(conversation).json()["messages"] if m["id"] == reply.json()["message"]["id"]]
        if shown and shown[0].get("delivered_at"):
            break
        time.sleep(0.1)
    assert shown and shown[0].get("delivered_at"), shown


# ------------------------------------------------------------------ counseling

def test_a_counseling_chat_says_it_is_anonymous_and_labels_the_counselor(gw, site, context):
    page = context.new_page()
    open_widget(page, site.origin + "/")
    expect(page.locator(W + ".anon")).to_be_hidden()
    type_and_send(page, "相談員と話したい")
    expect(page.locator(W + ".anon")).to_be_visible(timeout=10_000)
    expect(page.locator(W + ".anon")).to_contain_text("このチャットは匿名です")
    token = page.evaluate(f"localStorage.getItem('{KEY}')")
    counselor = staff_user(gw[-1], f"counselor-{os.getpid()}-{time.monotonic_ns() % 100000}", "counselor")
    conversation = "web:" + session_id_of(token)
    assert counselor.act(conversation, "claim").status_code == 200
    assert counselor.act(conversation, "reply", {"text": "話してくれてありがとう。"}).status_code == 200
    staff = page.locator(W + ".msg--staff").last
    expect(staff).to_contain_text("話してくれてありがとう。", timeout=10_000)
    expect(staff.locator(".who")).to_have_text("相談員")
    page.reload()  # still said after a reload (the history carries the flag)
    page.locator(W + ".launcher").click()
    expect(page.locator(W + ".anon")).to_be_visible(timeout=10_000)
    expect(page.locator(W + ".msg--staff .who").last).to_have_text("相談員")


# ------------------------------------------------------------------ accessibility (axe-core from npm)

def test_text_at_200_percent_of_the_browsers_size(gw, site, playwright, tmp_path):
    """The browser's text size set to 32 px (Chromium's default_font_size, 16 px normally): the widget grows with it
    and its controls stay on the screen."""
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text('{"webkit": {"webprefs": {"default_font_size": 32}}}')
    ctx = playwright.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                        args=FLAGS, viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        open_widget(page, site.origin + "/")
        assert page.locator(W + ".panel").evaluate("e => getComputedStyle(e).fontSize") == "32px"
        for control in [".send", "textarea", ".head .end", ".head .x", ".quick button >> nth=3"]:
            box = page.locator(W + control).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1280 and box["y"] >= 0 \
                and box["y"] + box["height"] <= 800, (control, box)
        type_and_send(page, "大きな文字")
        expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:大きな文字", timeout=10_000)
    finally:
        ctx.close()


@pytest.fixture(scope="module")
def axe_js(tmp_path_factory):
    """axe-core, installed with npm into a cache directory (once; `npm` must reach the registry)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sapporo-tests" / f"axe-core-{AXE_VERSION}"
    script = cache / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        assert shutil.which("npm"), "npm is missing: apt-get install npm (make system-packages does not install it yet)"
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund", "--silent",
                        f"axe-core@{AXE_VERSION}"], check=True, timeout=120, capture_output=True)
    return script


@pytest.mark.parametrize("width,height", [(1280, 800), (320, 568)])
def test_axe_finds_no_serious_or_critical_violation(gw, browser, axe_js, width, height, tmp_path):
    context = browser.new_context(viewport={"width": width, "height": height}, locale="ja-JP")
    page = context.new_page()
    open_widget(page, gw[-1].url + "/", opens_itself=True)  # the demo page: the same tag on a plain page
    page.locator(W + ".quick button", has_text="収集日").click()
    expect(page.locator(W + ".quick").last.locator("button")).to_have_count(10, timeout=10_000)
    if width == 320:
        shot = tmp_path / "widget.png"
        page.screenshot(path=str(shot))
        if os.environ.get("WIDGET_SCREENSHOT"):  # README's picture: WIDGET_SCREENSHOT=1 pytest … -k axe
            shutil.copy(shot, ROOT / "docs" / "widget.png")
    page.add_script_tag(path=str(axe_js))
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    context.close()


# ------------------------------------------------------------------ network: offline, queue, gateway restart

def test_a_staff_reply_sent_while_the_browser_is_offline_is_shown_after_the_reconnect(gw, site, context):
    page = context.new_page()
    open_widget(page, site.origin + "/")
    type_and_send(page, "人と話したい")
    expect(page.locator(W + ".msg--bot").last).to_contain_text("おつなぎします", timeout=10_000)
    conversation = "web:" + session_id_of(page.evaluate(f"localStorage.getItem('{KEY}')"))
    clerk = staff_user(gw[-1], f"clerk-{os.getpid()}-{time.monotonic_ns() % 100000}", "staff")
    assert clerk.act(conversation, "claim").status_code == 200
    expect(page.locator(W + ".msg--bot").last).to_contain_text("担当者が対応します", timeout=10_000)

    context.set_offline(True)
    expect(page.locator(W + ".offline")).to_be_visible(timeout=10_000)
    type_and_send(page, "電波が悪いです")
    expect(page.locator(W + ".msg--user").last.locator(".pending")).to_have_text("未送信（接続後に送信します）")
    reply = clerk.act(conversation, "reply", {"text": "お待たせしました。"})
    assert reply.status_code == 200 and reply.json()["message"]["delivery"] != "delivered"

    context.set_offline(False)
    expect(page.locator(W + ".offline")).to_be_hidden(timeout=20_000)
    expect(page.locator(W + ".msg--staff .text")).to_have_text(["お待たせしました。"], timeout=10_000)
    expect(page.locator(W + ".pending")).to_have_count(0)
    for _ in range(50):
        messages = clerk.conversation(conversation).json()["messages"]
        staff = [m for m in messages if m["id"] == reply.json()["message"]["id"]]
        if staff[0].get("delivered_at") and any(m["text"] == "電波が悪いです" for m in messages):
            break
        time.sleep(0.1)
    assert staff[0].get("delivered_at"), staff  # acknowledged once it was shown
    assert [m["text"] for m in messages if m["sender"] == "user"][-1] == "電波が悪いです"  # the queued message went


def test_offline_notice_queue_and_history_after_a_gateway_restart(gw, site, context, engine, monkeypatch):
    page = context.new_page()
    open_widget(page, site.origin + "/")
    type_and_send(page, "再起動の前")
    expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:再起動の前", timeout=10_000)

    old = gw[-1]
    old.stop()
    expect(page.locator(W + ".offline")).to_be_visible(timeout=10_000)
    type_and_send(page, "止まっている間に")
    expect(page.locator(W + ".msg--user").last.locator(".pending")).to_be_visible()

    monkeypatch.setattr(harness, "free_port", lambda: old.port)  # the same address, the same data and secret
    gw.append(GatewayProcess(engine.url, old.data_dir, **old.env))
    expect(page.locator(W + ".offline")).to_be_hidden(timeout=20_000)
    expect(page.locator(W + ".msg--bot").last).to_contain_text("echo:止まっている間に", timeout=10_000)
    expect(page.locator(W + ".pending")).to_have_count(0)
    texts = page.locator(W + ".msg .text").all_text_contents()
    assert texts.count("止まっている間に") == 1 and texts.count("echo:再起動の前") == 1, texts


def test_the_cancel_button_while_waiting_for_a_person_cancels(gw, site, context):
    page = context.new_page()
    open_widget(page, site.origin + "/")
    type_and_send(page, "人と話したい")
    expect(page.locator(W + ".msg--bot").last).to_contain_text("おつなぎします", timeout=10_000)
    page.locator(W + ".quick button:enabled", has_text="キャンセル").click()
    expect(page.locator(W + ".msg--bot").last).to_contain_text(texts.HANDOFF_CANCELLED, timeout=10_000)
    page.close()
