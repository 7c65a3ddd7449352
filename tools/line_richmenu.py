"""The LINE rich menu (よくある質問 / ごみの出し方 / 大型ごみ申込 / 相談する) from the definition and image kept in
``data/line/``.

    make line-richmenu                                # = python -m tools.line_richmenu create
    python -m tools.line_richmenu create [--definition data/line/richmenu.json] [--image data/line/richmenu.png]
                                         [--keep-old]  # validate, create, upload the image, make it the default
    python -m tools.line_richmenu list | delete <richMenuId>
    python -m tools.line_richmenu image [--out data/line/richmenu.png]   # redraw the picture

``create`` reads ``LINE_CHANNEL_ACCESS_TOKEN``, ``LINE_API_BASE_URL`` (https://api.line.me) and
``LINE_API_DATA_BASE_URL`` (https://api-data.line.me, where LINE takes the image), as the gateway does; it then
deletes the older menus of the same name (unless ``--keep-old``), so running it again replaces the menu.
``image`` draws the 2500×843 picture with Pillow and a Japanese font when both are there (the engine
environment has Pillow: ``.venv/engine/bin/python -m tools.line_richmenu image``); otherwise it writes plain
coloured panels without labels with a small PNG writer of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "data" / "line" / "richmenu.json"
IMAGE = ROOT / "data" / "line" / "richmenu.png"
WIDTH, HEIGHT = 2500, 843
MAX_IMAGE_BYTES = 1024 * 1024
# One colour per area (Sapporo's green, garbage blue, bulky orange, counseling rose) and the text colour.
COLOURS = [(0x2E, 0x7D, 0x32), (0x15, 0x65, 0xC0), (0xE6, 0x5C, 0x00), (0xAD, 0x14, 0x57)]
FONT_CANDIDATES = ["/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
                   "/System/Library/Fonts/ヒラギノ角ゴシック W6.ttc"]


class RichMenuError(Exception):
    pass


# ---------------------------------------------------------------------- the definition

def load_definition(path: Path = DEFINITION) -> Dict[str, Any]:
    """The JSON definition, checked with line-bot-sdk's model and against the picture's size."""
    from linebot.v3.messaging import RichMenuRequest

    definition = json.loads(path.read_text(encoding="utf-8"))
    try:
        RichMenuRequest.from_dict(definition)
    except ValueError as exc:
        raise RichMenuError(f"{path}: not a valid rich menu ({exc})") from exc
    size = definition["size"]
    for area in definition["areas"]:
        b = area["bounds"]
        if b["x"] < 0 or b["y"] < 0 or b["x"] + b["width"] > size["width"] or b["y"] + b["height"] > size["height"]:
            raise RichMenuError(f"{path}: an area lies outside the {size['width']}×{size['height']} menu")
    return definition


def png_size(data: bytes) -> Tuple[int, int]:
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise RichMenuError("the image is not a PNG")
    return struct.unpack(">II", data[16:24])


def load_image(path: Path, definition: Dict[str, Any]) -> bytes:
    data = path.read_bytes()
    if png_size(data) != (definition["size"]["width"], definition["size"]["height"]):
        raise RichMenuError(f"{path}: {png_size(data)} pixels, the definition says {definition['size']}")
    if len(data) > MAX_IMAGE_BYTES:
        raise RichMenuError(f"{path}: {len(data)} bytes, LINE takes at most 1 MB")
    return data


# ---------------------------------------------------------------------- LINE API

async def _create(definition: Dict[str, Any], image: bytes, keep_old: bool) -> str:
    api = _api()
    try:
        answer = await api.call("POST", "/v2/bot/richmenu/validate", json=definition, attempts=3)
        _check(answer, "validate")
        answer = await api.call("POST", "/v2/bot/richmenu", json=definition)  # not retried: it would make two
        _check(answer, "create")
        menu_id = answer.json()["richMenuId"]
        answer = await api.call("POST", f"/v2/bot/richmenu/{menu_id}/content", content=image,
                                headers={"Content-Type": "image/png"}, data_api=True, attempts=3)
        _check(answer, "upload image")
        answer = await api.call("POST", f"/v2/bot/user/all/richmenu/{menu_id}", attempts=3)
        _check(answer, "set as default")
        if not keep_old:
            for old in await _list(api):
                if old.get("name") == definition.get("name") and old.get("richMenuId") != menu_id:
                    _check(await api.call("DELETE", f"/v2/bot/richmenu/{old['richMenuId']}", attempts=3), "delete old")
                    print(f"deleted the older menu {old['richMenuId']}")
        return menu_id
    finally:
        await api.close()


async def _list(api) -> List[Dict[str, Any]]:
    answer = await api.call("GET", "/v2/bot/richmenu/list", attempts=3)
    _check(answer, "list")
    return answer.json().get("richmenus", [])


async def _list_menus() -> List[Dict[str, Any]]:
    api = _api()
    try:
        return await _list(api)
    finally:
        await api.close()


async def _delete(menu_id: str) -> None:
    api = _api()
    try:
        _check(await api.call("DELETE", f"/v2/bot/richmenu/{menu_id}", attempts=3), "delete")
    finally:
        await api.close()


def _api():
    from connectors.line.api import LineApi
    from gateway.settings import Settings

    settings = Settings.from_env()
    if not settings.line_channel_access_token:
        raise RichMenuError("LINE_CHANNEL_ACCESS_TOKEN is not set")
    return LineApi(settings.line_channel_access_token, settings.line_api_base_url, settings.line_api_data_base_url,
                   timeout=30.0, retry_base_delay=settings.line_retry_base_delay)


def _check(answer, step: str) -> None:
    if answer.status != 200:
        try:
            detail = answer.json()
        except ValueError:
            detail = answer.body[:200].decode("utf-8", "replace")
        raise RichMenuError(f"{step}: LINE answered {answer.status}: {detail}")


# ---------------------------------------------------------------------- the picture

def _labels(definition: Dict[str, Any]) -> List[Tuple[Tuple[int, int, int, int], str]]:
    return [((a["bounds"]["x"], a["bounds"]["y"], a["bounds"]["width"], a["bounds"]["height"]),
             a["action"].get("label", "")) for a in definition["areas"]]


def draw_image(definition: Dict[str, Any]) -> bytes:
    """The menu picture: one coloured panel per area with its label (Pillow), or unlabelled panels."""
    width, height = definition["size"]["width"], definition["size"]["height"]
    areas = _labels(definition)
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        print("Pillow is not installed: drawing panels without labels", file=sys.stderr)
        return write_png(width, height, _panel_rows(width, height, areas))
    font_path = next((p for p in FONT_CANDIDATES if Path(p).exists()), None)
    if font_path is None:
        print("no Japanese font found: drawing panels without labels", file=sys.stderr)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for i, ((x, y, w, h), label) in enumerate(areas):
        colour = COLOURS[i % len(COLOURS)]
        draw.rectangle([x + 12, y + 12, x + w - 13, y + h - 13], fill=colour)
        draw.rectangle([x + 40, y + 40, x + w - 41, y + h - 41], outline=(255, 255, 255), width=6)
        if font_path:
            size = min(110, int((w - 120) / max(1, len(label))))
            font = ImageFont.truetype(font_path, size)
            draw.text((x + w / 2, y + h / 2), label, font=font, fill=(255, 255, 255), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _panel_rows(width: int, height: int, areas) -> List[bytes]:
    rows = []
    for row in range(height):
        line = bytearray(b"\xff\xff\xff" * width)
        for i, ((x, y, w, h), _label) in enumerate(areas):
            if y + 12 <= row < y + h - 12:
                line[3 * (x + 12):3 * (x + w - 12)] = bytes(COLOURS[i % len(COLOURS)]) * (w - 24)
        rows.append(bytes(line))
    return rows


def write_png(width: int, height: int, rows: Sequence[bytes]) -> bytes:
    """A minimal PNG writer (8-bit RGB, no filter): rows of ``3 × width`` bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------------- command line

def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.line_richmenu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="upload the menu and make it every user's default")
    create.add_argument("--definition", type=Path, default=DEFINITION)
    create.add_argument("--image", type=Path, default=IMAGE)
    create.add_argument("--keep-old", action="store_true", help="do not delete older menus of the same name")
    commands.add_parser("list", help="the channel's rich menus")
    delete = commands.add_parser("delete", help="delete one rich menu")
    delete.add_argument("menu_id")
    image = commands.add_parser("image", help="draw the menu picture from the definition")
    image.add_argument("--definition", type=Path, default=DEFINITION)
    image.add_argument("--out", type=Path, default=IMAGE)
    args = parser.parse_args(argv)
    try:
        if args.command == "create":
            definition = load_definition(args.definition)
            menu_id = _run(_create(definition, load_image(args.image, definition), args.keep_old))
            print(f"rich menu {menu_id} created and set as the default")
        elif args.command == "list":
            for menu in _run(_list_menus()):
                print(f"{menu.get('richMenuId')}\t{menu.get('name')}\t{menu.get('chatBarText')}")
        elif args.command == "delete":
            _run(_delete(args.menu_id))
            print(f"deleted {args.menu_id}")
        elif args.command == "image":
            definition = json.loads(args.definition.read_text(encoding="utf-8"))
            data = draw_image(definition)
            args.out.write_bytes(data)
            print(f"wrote {args.out} ({len(data)} bytes)")
    except (RichMenuError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _run(coroutine):
    """Run an API coroutine; a network failure becomes a RichMenuError (a message, not a traceback)."""
    from connectors.line.api import LineUnreachable

    try:
        return asyncio.run(coroutine)
    except LineUnreachable as exc:
        raise RichMenuError(f"LINE could not be reached ({exc})") from exc


if __name__ == "__main__":
    sys.exit(main())
