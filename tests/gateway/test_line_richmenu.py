"""The LINE rich menu: the definition and picture in data/line/, and ``python -m tools.line_richmenu`` against the
fake LINE API (tests/gateway/line_fake.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

from tests.gateway.line_fake import ROOT, TOKEN, line_api  # noqa: F401
from tools.line_richmenu import DEFINITION, IMAGE, load_definition, load_image, png_size, write_png, _panel_rows


def run_tool(fake, *args: str, token: str = TOKEN) -> subprocess.CompletedProcess:
    env = dict(os.environ) | {"LINE_CHANNEL_ACCESS_TOKEN": token, "LINE_API_BASE_URL": fake.url,
                              "LINE_API_DATA_BASE_URL": fake.url + "/data", "LINE_RETRY_BASE_DELAY": "0.01"}
    return subprocess.run([sys.executable, "-m", "tools.line_richmenu", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_definition_and_picture():
    definition = load_definition()
    assert definition["size"] == {"width": 2500, "height": 843} and len(definition["chatBarText"]) <= 14
    actions = [a["action"] for a in definition["areas"]]
    assert [a["label"] for a in actions] == ["よくある質問", "ごみの出し方", "大型ごみ申込", "相談する"]
    assert [a["data"] for a in actions] == ["/menu_faq", "/menu_garbage", "/menu_bulky_booking", "/menu_counseling"]
    assert all(a["type"] == "postback" and a["displayText"] for a in actions)
    xs = sorted((a["bounds"]["x"], a["bounds"]["x"] + a["bounds"]["width"]) for a in definition["areas"])
    assert xs[0][0] == 0 and xs[-1][1] == 2500 and all(xs[i][1] == xs[i + 1][0] for i in range(3))  # no gap
    image = load_image(IMAGE, definition)
    assert png_size(image) == (2500, 843) and len(image) < 1024 * 1024


def test_fallback_png_writer():
    definition = load_definition()
    areas = [((a["bounds"]["x"] // 10, 0, a["bounds"]["width"] // 10, 84), "") for a in definition["areas"]]
    data = write_png(250, 84, _panel_rows(250, 84, areas))
    assert png_size(data) == (250, 84)
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert len(raw) == 84 * (1 + 250 * 3)
    row = raw[1 + 40 * 751:41 * 751]  # row 40: the first panel is green
    assert row[3 * 30:3 * 31] == bytes((0x2E, 0x7D, 0x32))


def test_create_uploads_the_image_and_sets_the_default(line_api):
    line_api.reset()
    done = run_tool(line_api, "create")
    assert done.returncode == 0, done.stderr
    [menu_id] = list(line_api.richmenus)
    assert f"rich menu {menu_id} created" in done.stdout
    menu = line_api.richmenus[menu_id]
    assert menu["definition"] == load_definition() and menu["image"] == IMAGE.read_bytes()
    assert menu["content_type"] == "image/png" and line_api.default_richmenu == menu_id
    assert [r["endpoint"] for r in line_api.requests] == ["richmenu_validate", "richmenu_create", "richmenu_content",
                                                          "richmenu_default", "richmenu_list"]
    assert line_api.calls("richmenu_content")[0]["path"].startswith("/data/")  # LINE_API_DATA_BASE_URL

    again = run_tool(line_api, "create")  # running it again replaces the menu
    assert again.returncode == 0, again.stderr
    [newer] = list(line_api.richmenus)
    assert newer != menu_id and line_api.default_richmenu == newer and f"deleted the older menu {menu_id}" in again.stdout
    listed = run_tool(line_api, "list")
    assert listed.returncode == 0 and listed.stdout.split("\t")[:2] == [newer, "sapporo-assistant-main"]
    assert run_tool(line_api, "delete", newer).returncode == 0 and line_api.richmenus == {}


def test_create_reports_errors_without_a_traceback(line_api):
    line_api.reset()
    missing = run_tool(line_api, "create", token="")
    assert missing.returncode == 2 and "LINE_CHANNEL_ACCESS_TOKEN is not set" in missing.stderr
    line_api.fail("richmenu_create", 500)
    failed = run_tool(line_api, "create")
    assert failed.returncode == 2 and "create: LINE answered 500" in failed.stderr
    assert "Traceback" not in failed.stderr and line_api.richmenus == {}
    wrong_token = run_tool(line_api, "create", token="wrong")
    assert wrong_token.returncode == 2 and "validate: LINE answered 401" in wrong_token.stderr


def test_definition_file_is_checked(tmp_path):
    broken = tmp_path / "menu.json"
    broken.write_text(DEFINITION.read_text().replace('"x": 1875, "y": 0, "width": 625', '"x": 1875, "y": 0, "width": 700'))
    done = subprocess.run([sys.executable, "-m", "tools.line_richmenu", "create", "--definition", str(broken)],
                          cwd=ROOT, env=dict(os.environ) | {"LINE_CHANNEL_ACCESS_TOKEN": "x"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "outside" in done.stderr
