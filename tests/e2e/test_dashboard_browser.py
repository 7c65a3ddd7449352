"""The dashboard in real headless Chromium (Playwright, Debian's chromium) against a real gateway alone (no engine:
the dashboard only reads the databases), its two databases seeded with known figures (tests/gateway/dashboard_seed.py):
a supervisor signs in, every chart is drawn from the API's figures (canvas painted, no console error, no blocked
script under the page's CSP), the range changes, a chart's CSV downloads; a clerk gets 403 on page and API.
DASHBOARD_SCREENSHOT=1 writes docs/dashboard.png (1280×800)."""

from __future__ import annotations

import csv
import io
import os
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.gateway.conftest import GatewayProcess, free_port, staff_user
from tests.gateway.dashboard_seed import COUNSELING_TEXT, seed
from tools.model import ROOT

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
CHARTS = ("volume", "outcomes", "unanswered", "handoffs", "counseling", "bookings")
PASSWORD = "pw-dashboard-0123456789"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dashboard-browser")
    assistant_url = seed(directory)
    # Nothing listens on the engine's port: the dashboard never asks the engine.
    process = GatewayProcess(f"http://127.0.0.1:{free_port()}", directory, ASSISTANT_DB_URL=assistant_url)
    staff_user(process, "kacho", "supervisor", PASSWORD)
    staff_user(process, "clerk", "staff", PASSWORD)
    yield process
    process.stop()


def log_in(context, gateway, username: str, target: str):
    page = context.new_page()
    page.goto(f"{gateway.url}{target}")
    expect(page).to_have_url(f"{gateway.url}/staff/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login")
    page.wait_for_url(f"{gateway.url}/staff")
    return page


def painted(page, chart: str) -> int:
    """How many pixels of the chart's canvas are painted (not transparent)."""
    return page.evaluate("""(id) => {
        const canvas = document.getElementById(id);
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
    }""", f"chart-{chart}")


def series(page, chart: str):
    """The chart's datasets as Chart.js holds them: {label: data}."""
    return page.evaluate("""(id) => Object.fromEntries(Chart.getChart(document.getElementById(id)).data.datasets
        .map((d) => [d.label, d.data]))""", f"chart-{chart}")


def test_supervisor_reads_every_chart_changes_the_range_and_downloads_csv(gateway, tmp_path):
    assert os.path.exists(CHROMIUM), "Chromium is missing: `make setup` installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP", accept_downloads=True)
        page = log_in(context, gateway, "kacho", "/staff")
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        # The console's header leads supervisors to the dashboard.
        link = page.locator('a[href="/staff/dashboard"]')
        expect(link).to_be_visible(timeout=15_000)
        link.click()
        page.wait_for_url(f"{gateway.url}/staff/dashboard")
        expect(page.locator("#statusbar")).to_contain_text("表示しています", timeout=15_000)
        assert page.input_value("#to") > "2026"  # the default: the last 14 days up to today

        page.goto(f"{gateway.url}/staff/dashboard?from=2026-11-01&to=2026-11-07")
        expect(page.locator("#statusbar")).to_contain_text("11/1（日）〜11/7（土）（7日間）", timeout=15_000)
        expect(page.locator("#from")).to_have_value("2026-11-01")
        for chart in CHARTS:
            box = page.locator(f"#chart-{chart}").bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100, chart
            assert painted(page, chart) > 2000, f"{chart} is not drawn"
        volume = series(page, "volume")
        assert volume["ウェブ 発言数"] == [0, 3, 1, 0, 0, 0, 0] and volume["LINE 会話数"] == [0, 1, 1, 0, 0, 0, 0]
        assert series(page, "outcomes")["担当者へ引き継ぎ"] == [0, 2, 2, 0, 1, 0, 1]
        assert series(page, "unanswered")["件数"] == [2, 1, 1]
        assert series(page, "handoffs")["待ち時間 90%（分）"] == [10, 3]
        assert series(page, "counseling")["緊急"] == [0, 0, 0, 1, 0, 0, 0]
        bookings = series(page, "bookings")
        assert bookings["中央区"] == [0, 2, 0, 0, 1, 0, 0] and bookings["受付上限"][0] == 0
        expect(page.locator("#handoff-rows tr").first).to_contain_text("6分")
        expect(page.locator("#unanswered-week")).to_have_text("11/1（日）〜11/7（土）")
        assert COUNSELING_TEXT not in page.content()
        if os.environ.get("DASHBOARD_SCREENSHOT"):  # README's picture
            page.screenshot(path=str(ROOT / "docs" / "dashboard.png"))

        # Another range: the figures follow, the address keeps it, the CSV links too.
        page.fill("#from", "2026-11-03")
        page.fill("#to", "2026-11-04")
        page.click("#apply")
        expect(page.locator("#statusbar")).to_contain_text("（2日間）", timeout=15_000)
        assert series(page, "outcomes")["担当者へ引き継ぎ"] == [2, 0]
        assert series(page, "counseling")["高"] == [0, 1]
        assert "from=2026-11-03" in page.url
        page.click('button[data-days="7"]')
        expect(page.locator("#from")).to_have_value("2026-10-29", timeout=15_000)
        page.fill("#from", "2026-11-05")
        page.fill("#to", "2026-11-01")
        page.click("#apply")
        expect(page.locator("#statusbar")).to_contain_text("開始日が終了日より後")

        page.goto(f"{gateway.url}/staff/dashboard?from=2026-11-01&to=2026-11-07")
        expect(page.locator("#statusbar")).to_contain_text("（7日間）", timeout=15_000)
        with page.expect_download() as download:
            page.click('a[data-csv="handoffs"]')
        saved = tmp_path / "handoffs.csv"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "handoffs-2026-11-01-2026-11-07.csv"
        raw = saved.read_bytes()
        assert raw.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[1] == ["一般", "6", "5", "1", "0", "6.0", "10.0"]

        # A server error is shown, not a blank page: a range the API refuses (typed into the address).
        page.goto(f"{gateway.url}/staff/dashboard?from=2026-02-30&to=2026-03-01")
        expect(page.locator("#statusbar")).to_contain_text("存在しません", timeout=15_000)
        problems = [p for p in problems if "400" not in p]  # the refused range's own failed request
        assert not problems, problems

        # ログアウト (StaffApi.bindLogout, shared with the bookings page) ends the session.
        page.click("#logout")
        expect(page).to_have_url(f"{gateway.url}/staff/login", timeout=15_000)
        assert page.request.get(f"{gateway.url}/staff/api/dashboard").status == 401
        browser.close()


def test_a_clerk_is_refused(gateway):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        page = log_in(context, gateway, "clerk", "/staff")
        expect(page.locator("#me-name")).to_have_text("clerk", timeout=15_000)
        expect(page.locator('a[href="/staff/dashboard"]')).to_be_hidden()
        answer = page.goto(f"{gateway.url}/staff/dashboard")
        assert answer.status == 403
        api = page.request.get(f"{gateway.url}/staff/api/dashboard")
        assert api.status == 403
        browser.close()
