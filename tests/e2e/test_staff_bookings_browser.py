"""Staff change a 大型ごみ booking on a citizen's behalf on the bookings page, in real headless Chromium
(Playwright, Debian's chromium): the new date and items, the fee recomputed from the fee table, the receipt
number kept, the history line; a change made from a page opened before the citizen changed the booking in chat
is refused and the page shows the booking as it is now; obvious duplicates are flagged in the list.

Only the gateway runs (a stand-in engine, no Rasa), with the booking store in a seeded SQLite file, as the
action server and the gateway share it."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from common.booking import schedule
from common.booking.dates import available_dates
from common.booking.store import BookedItem, BookingRequest, BookingStore
from tests.gateway.conftest import GatewayProcess, StandInEngine, create_staff_user

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
TODAY = date(2025, 1, 15)
NOW = datetime(2025, 1, 15, 9, 0, tzinfo=timezone(timedelta(hours=9)))
PASSWORD = "pw-bookings-browser-0123"
SCREENSHOT = os.environ.get("BOOKINGS_SCREENSHOT")  # e.g. docs/staff-bookings.png: also save a picture


def book(store, ward, address, phone, day, items, key):
    return store.book(BookingRequest(items=items, ward=ward, area=None, town=address[len(ward):len(ward) + 5],
                                     address=address, name="札幌 花子", phone=phone, day=day, channel="line"),
                      key, now=NOW)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bookings-browser")
    url = f"sqlite:///{directory / 'assistant.db'}"
    store = BookingStore(url)
    central = available_dates(schedule(), "中央区", TODAY, 1)[0]
    west = available_dates(schedule(), "西区", TODAY, 1)[0]
    made = book(store, "中央区", "中央区南6条西8丁目3-5", "09012345678", central, [BookedItem("たんす", 1, 1000)], "k1")
    twins = [book(store, "西区", "西区琴似1条7丁目1-5", "0112223333", west, [BookedItem("ソファー", 1, 1000)], "k2"),
             book(store, "西区", "西区琴似１条７－１－５", "011-222-3333", west, [BookedItem("ベッド", 1, 2000)], "k3")]
    engine = StandInEngine().start()
    process = GatewayProcess(engine.url, directory, ASSISTANT_DB_URL=url, ASSISTANT_TODAY=TODAY.isoformat())
    create_staff_user(process, "suzuki", "staff", PASSWORD)
    yield process, store, made, twins
    process.stop()
    engine.stop()


@pytest.fixture(scope="module")
def page(seeded):
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    process = seeded[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        tab = context.new_page()
        tab.goto(f"{process.url}/staff/login")
        tab.fill("#username", "suzuki")
        tab.fill("#password", PASSWORD)
        tab.click("#login")
        expect(tab.locator("#me-name")).to_have_text("suzuki", timeout=15_000)
        yield tab
        browser.close()


def row(page, receipt):
    return page.locator(f'tr[data-receipt="{receipt}"]')


def test_change_date_and_items_on_behalf(seeded, page):
    process, store, made, _ = seeded
    page.goto(f"{process.url}/staff/bookings?day={made.day.isoformat()}&ward=中央区")
    expect(row(page, made.receipt_no)).to_contain_text("1,000円", timeout=15_000)
    row(page, made.receipt_no).locator("button[data-action=change]").click()
    dialog = page.locator("#change-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#change-history")).to_contain_text("変更はありません")

    # the first free day offered (the current day is the first option), one item changed, one added
    new_day = page.locator("#change-day option").nth(1).get_attribute("value")
    page.select_option("#change-day", new_day)
    first = page.locator("#change-items tr").first
    first.locator("input[list]").fill("ソファー")
    first.locator("input[type=number]").fill("2")
    page.click("#add-item")
    added = page.locator("#change-items tr").nth(1)
    added.locator("input[list]").fill("ベッド")
    expect(page.locator("#change-total")).to_have_text("4,000円")
    page.click("#change-save")

    expect(page.locator("#statusbar")).to_contain_text("手数料を4,000円に", timeout=10_000)
    expect(page.locator("#change-history")).to_contain_text("あなた（代理）：品目 たんす×1（1,000円） → ソファー×2、ベッド×1（4,000円）")
    expect(page.locator("#change-history")).to_contain_text("あなた（代理）：収集日")
    if SCREENSHOT:
        Path(SCREENSHOT).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOT)
    page.click("#change-close")
    expect(dialog).to_be_hidden()
    expect(row(page, made.receipt_no)).to_contain_text("4,000円")  # same receipt number, new fee
    expect(row(page, made.receipt_no)).to_contain_text("変更あり")
    stored = store.get(made.receipt_no)
    assert stored.day.isoformat() == new_day and stored.total == 4000 and stored.version == 2
    assert [h.by for h in store.history(made.receipt_no)] == ["staff:suzuki", "staff:suzuki"]


def test_a_change_the_citizen_made_meanwhile_is_not_overwritten(seeded, page):
    process, store, made, _ = seeded
    current = store.get(made.receipt_no)
    page.goto(f"{process.url}/staff/bookings?day={current.day.isoformat()}&ward=中央区")
    row(page, made.receipt_no).locator("button[data-action=change]").click()
    expect(page.locator("#change-dialog")).to_be_visible()
    # the citizen changes the items in chat while the dialog is open (as actions/booking.py does)
    store.change_items(made.receipt_no, [BookedItem("たんす", 2, 1000)], now=NOW)
    page.locator("#change-items tr").first.locator("input[type=number]").fill("1")
    page.click("#change-save")
    expect(page.locator("#change-error")).to_contain_text("変更されています", timeout=10_000)
    expect(page.locator("#change-history")).to_contain_text("市民（チャット）：品目")
    assert store.get(made.receipt_no).items == [BookedItem("たんす", 2, 1000)]  # the citizen's change stands
    page.click("#change-close")


def test_obvious_duplicates_are_flagged_in_the_list(seeded, page):
    process, _, _, twins = seeded
    page.goto(f"{process.url}/staff/bookings?day={twins[0].day.isoformat()}&ward=西区")
    for twin, other in (twins, twins[::-1]):
        expect(row(page, twin.receipt_no)).to_contain_text("重複の可能性", timeout=15_000)
        expect(row(page, twin.receipt_no)).to_contain_text(other.receipt_no)
    expect(page.locator("#summary")).to_contain_text("重複の可能性 2件")
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT.replace(".png", "-list.png"))
