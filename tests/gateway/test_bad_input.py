"""Bad input at every public door gets a clear 4xx answer (never a 500 or silence), and the gateway goes on.

Lone surrogates, NUL, control characters, JSON nested too deep to parse, metadata over MAX_METADATA_BYTES,
JSON that is no object, wrong types; sent to POST /api/messages, the LINE webhook (signed, so the body is
read), the staff login form, a staff JSON API, and the widget's Socket.IO ``user_uttered``. After each, the
same door answers an ordinary message. The widget's metadata never overrides the channel.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any, Dict, List

import httpx
import pytest

from gateway import texts
from tests.gateway.conftest import HTTP, REST_AUTH, GatewayProcess, login_form, staff_user
from tests.gateway.line_fake import SECRET as LINE_SECRET, TOKEN as LINE_TOKEN, line_api, sign  # noqa: F401
from tests.socketio_client import WidgetClient

DEEP = "[" * 100_000 + "]" * 100_000
BIG_METADATA = {"note": "x" * 5000}  # MAX_METADATA_BYTES: 4096

# (name, raw JSON body of POST /api/messages, the answer's text)
REST_BODIES = [
    ("lone surrogate", '{"sender": "s", "message": "\\ud800"}', texts.BAD_CHARACTERS),
    ("lone surrogate, raw bytes", b'{"sender": "s", "message": "\xed\xa0\x80"}', texts.BAD_REQUEST),
    ("NUL", '{"sender": "s", "message": "a\\u0000b"}', texts.BAD_CHARACTERS),
    ("bell", '{"sender": "s", "message": "a\\u0007b"}', texts.BAD_CHARACTERS),
    ("escape sequence", '{"sender": "s", "message": "\\u001b[31mred"}', texts.BAD_CHARACTERS),
    ("C1 control", '{"sender": "s", "message": "a\\u0085b"}', texts.BAD_CHARACTERS),
    ("surrogate sender", '{"sender": "\\udfff", "message": "hi"}', texts.BAD_REQUEST),
    ("NUL sender", '{"sender": "a\\u0000", "message": "hi"}', texts.BAD_REQUEST),
    ("deep JSON", DEEP, texts.BAD_REQUEST),
    ("deep JSON inside", '{"sender": "s", "message": "hi", "metadata": ' + DEEP + "}", texts.BAD_REQUEST),
    ("metadata too large", json.dumps({"sender": "s", "message": "hi", "metadata": BIG_METADATA}), texts.BAD_REQUEST),
    ("metadata not an object", '{"sender": "s", "message": "hi", "metadata": [1]}', texts.BAD_REQUEST),
    ("array", "[1, 2]", texts.BAD_REQUEST),
    ("string", '"hello"', texts.BAD_REQUEST),
    ("null", "null", texts.BAD_REQUEST),
    ("number", "42", texts.BAD_REQUEST),
    ("sender number", '{"sender": 5, "message": "hi"}', texts.BAD_REQUEST),
    ("message number", '{"sender": "s", "message": 5}', texts.NOT_TEXT),
    ("message list", '{"sender": "s", "message": ["hi"]}', texts.NOT_TEXT),
    ("message object", '{"sender": "s", "message": {"text": "hi"}}', texts.NOT_TEXT),
    ("message null", '{"sender": "s", "message": null}', texts.NOT_TEXT),
    ("message missing", '{"sender": "s"}', texts.NOT_TEXT),
    ("not UTF-8", b'{"sender": "s", "message": "\xff\xfe"}', texts.BAD_REQUEST),
    ("not JSON", "{not json", texts.BAD_REQUEST),
    ("empty", "", texts.BAD_REQUEST),
]


@pytest.fixture(scope="module")
def gw(engine, line_api, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("bad"), LINE_CHANNEL_SECRET=LINE_SECRET,
                             LINE_CHANNEL_ACCESS_TOKEN=LINE_TOKEN, LINE_API_BASE_URL=line_api.url)
    yield process
    process.stop()


def as_bytes(body: Any) -> bytes:
    return body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")


def rest_still_answers(gw: GatewayProcess) -> None:
    answer = HTTP.post(f"{gw.url}/api/messages", json={"sender": f"next-{uuid.uuid4().hex[:6]}", "message": "こんにちは"})
    assert answer.status_code == 200 and answer.json()["messages"][0]["text"] == "echo:こんにちは", answer.text
    assert gw.alive()


@pytest.mark.parametrize("name,body,text", REST_BODIES, ids=[b[0] for b in REST_BODIES])
def test_rest_messages(gw, engine, name, body, text):
    answer = httpx.post(f"{gw.url}/api/messages", content=as_bytes(body),
                        headers={"content-type": "application/json"} | REST_AUTH, timeout=20)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == text and answer.json()["messages"] == [{"text": text}]
    assert engine.received == []
    rest_still_answers(gw)


def test_rest_needs_its_token(gw, engine, tmp_path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-rest-token"}):
        refused = httpx.post(f"{gw.url}/api/messages", json={"sender": "t", "message": "hi"}, headers=headers)
        assert refused.status_code == 401 and refused.json()["error"] == texts.REST_API_TOKEN
    off = GatewayProcess(engine.url, tmp_path, REST_API_TOKEN="")  # the default: off
    try:
        answer = httpx.post(f"{off.url}/api/messages", json={"sender": "t", "message": "hi"}, headers=REST_AUTH)
        assert answer.status_code == 404 and answer.json()["error"] == texts.REST_API_OFF
    finally:
        off.stop()
    assert engine.received == []


# ---------------------------------------------------------------- LINE webhook: signed bodies are read

LINE_BODIES = [
    ("deep JSON", DEEP),
    ("deep JSON inside", '{"destination": "U", "events": ' + DEEP + "}"),
    ("array", "[1]"),
    ("events not a list", '{"destination": "U", "events": {"a": 1}}'),
    ("lone surrogate, raw bytes", b'{"destination": "U", "events": [], "x": "\xed\xa0\x80"}'),
    ("not JSON", "{not json"),
]


@pytest.mark.parametrize("name,body", LINE_BODIES, ids=[b[0] for b in LINE_BODIES])
def test_line_webhook_bodies(gw, name, body):
    raw = as_bytes(body)
    signed = httpx.post(f"{gw.url}/webhooks/line/webhook", content=raw, timeout=20,
                        headers={"Content-Type": "application/json", "X-Line-Signature": sign(raw)})
    unsigned = httpx.post(f"{gw.url}/webhooks/line/webhook", content=raw, timeout=20,
                          headers={"Content-Type": "application/json", "X-Line-Signature": "bad"})
    assert 400 <= signed.status_code < 500 and signed.json()["error"], signed.text
    assert unsigned.status_code == 400
    rest_still_answers(gw)


def line_text_event(user: str, text: str) -> Dict[str, Any]:
    return {"type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user}, "webhookEventId": "01" + uuid.uuid4().hex[:24].upper(),
            "deliveryContext": {"isRedelivery": False}, "replyToken": uuid.uuid4().hex,
            "message": {"id": str(uuid.uuid4().int)[:18], "type": "text", "text": text, "quoteToken": "q"}}


# The durable LINE inbox (3c6161d) encodes the event as UTF-8 before the router sees it: a lone surrogate fails there
# (「webhook not stored (UnicodeEncodeError), answered 500」, and LINE would redeliver it again and again). To be fixed
# in connectors/line/ (e.g. store the JSON with ensure_ascii); then drop this mark.


@pytest.mark.parametrize("text", ["\ud800", "a\x00b", "\x1b[31m"],
                         ids=["lone surrogate", "NUL", "escape"])
def test_line_text_with_bad_characters_is_answered(gw, line_api, engine, text):
    user = "U" + uuid.uuid4().hex
    event = line_text_event(user, text)
    raw = json.dumps({"destination": "U", "events": [event]}).encode()  # JSON escapes: \ud800, \u0000
    answer = httpx.post(f"{gw.url}/webhooks/line/webhook", content=raw, timeout=20,
                        headers={"Content-Type": "application/json", "X-Line-Signature": sign(raw)})
    assert answer.status_code == 200
    delivered = line_api.wait_for(lambda: [d for d in line_api.delivered if d["to"] in (event["replyToken"], user)])
    assert delivered[0]["messages"][0]["text"] == texts.BAD_CHARACTERS
    assert engine.received == []
    rest_still_answers(gw)


# ---------------------------------------------------------------- staff doors (no session, and with one)

def test_staff_login_form_with_bad_characters(gw):
    for username in ("a\x00b", "\x1b[31m", "é" * 10_000):
        token, cookie = login_form(gw.url)
        answer = HTTP.post(f"{gw.url}/staff/login", data={"csrf_token": token, "username": username, "password": "x"},
                           headers={"Cookie": f"staff_login_csrf={cookie}"})
        assert 400 <= answer.status_code < 500 or answer.status_code in (200, 303), answer.status_code
        assert answer.status_code != 303  # never logged in
    raw = b"csrf_token=x&username=%ED%A0%80&password=%00"  # an encoded surrogate and NUL
    answer = HTTP.post(f"{gw.url}/staff/login", content=raw,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= answer.status_code < 500
    rest_still_answers(gw)


STAFF_BODIES = [b[:2] for b in REST_BODIES if b[0] in ("lone surrogate", "NUL", "deep JSON", "deep JSON inside",
                                                       "array", "null", "not UTF-8", "not JSON")]


@pytest.fixture(scope="module")
def supervisor(gw):
    return staff_user(gw, "bad-input-sup", "supervisor")


@pytest.mark.parametrize("name,body", STAFF_BODIES, ids=[b[0] for b in STAFF_BODIES])
def test_staff_api_bodies(gw, supervisor, name, body):
    anonymous = httpx.post(f"{gw.url}/staff/api/canned", content=as_bytes(body),
                           headers={"content-type": "application/json"})
    assert 400 <= anonymous.status_code < 500
    answer = HTTP.post(f"{gw.url}/staff/api/canned", content=as_bytes(body),
                       headers=supervisor.cookie | {"X-CSRF-Token": supervisor.csrf, "content-type": "application/json"})
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    rest_still_answers(gw)


# ---------------------------------------------------------------- the widget's user_uttered

WIDGET_PAYLOADS = [
    ("lone surrogate", {"message": "\ud800"}, texts.BAD_CHARACTERS),
    ("NUL", {"message": "a\x00b"}, texts.BAD_CHARACTERS),
    ("escape", {"message": "\x1b[2J"}, texts.BAD_CHARACTERS),
    ("number", {"message": 5}, texts.NOT_TEXT),
    ("list", {"message": ["hi"]}, texts.NOT_TEXT),
    ("null", {"message": None}, texts.NOT_TEXT),
    ("missing", {}, texts.NOT_TEXT),
    ("payload a string", "hello", texts.NOT_TEXT),
    ("payload a list", [1, 2], texts.NOT_TEXT),
    ("payload a number", 42, texts.NOT_TEXT),
]


async def widget_turn(gw: GatewayProcess, send) -> List[Dict[str, Any]]:
    """Connect a widget, ``await send(widget)``, return what it was shown; then the same widget must be answered."""
    widget = WidgetClient(gw.url)
    await widget.connect()
    try:
        await send(widget)
        shown = [await widget.next_message(10)]
        try:
            while True:
                shown.append(await widget.next_message(0.5))
        except asyncio.TimeoutError:
            pass
        assert (await widget.ask("こんにちは", 10))["text"] == "echo:こんにちは"
        return shown
    finally:
        await widget.close()


@pytest.mark.parametrize("name,payload,text", WIDGET_PAYLOADS, ids=[p[0] for p in WIDGET_PAYLOADS])
def test_widget_user_uttered(gw, engine, name, payload, text):
    async def send(widget: WidgetClient) -> None:
        data = {**payload, "session_id": widget.token} if isinstance(payload, dict) else payload
        await widget.sio.emit("user_uttered", data)

    shown = asyncio.run(widget_turn(gw, send))
    assert shown == [{"text": text}]
    assert [r["message"] for r in engine.received] == ["こんにちは"]
    assert gw.alive()


def test_widget_json_nested_too_deep(gw, engine):
    async def send(widget: WidgetClient) -> None:  # a hand-made packet: the client library would not encode it
        await widget.sio.eio.send('2["user_uttered",{"message":"hi","session_id":"%s","metadata":%s}]'
                                  % (widget.token, DEEP))

    assert asyncio.run(widget_turn(gw, send)) == [{"text": texts.NOT_TEXT}]
    assert [r["message"] for r in engine.received] == ["こんにちは"]
    assert "Traceback" not in gw.log()


@pytest.mark.parametrize("metadata,error", [
    (BIG_METADATA, "metadata_too_large"),
    ({"channel": "line", "triage": "none", "page": "/gomi"}, "metadata_reserved_key"),
    ({"bad": "\ud800"}, "metadata_invalid"),
    ("a string", "metadata_not_object"),
], ids=["too large", "reserved keys", "bad characters", "not an object"])
def test_widget_metadata_is_checked_and_never_overrides_the_channel(gw, engine, metadata, error):
    errors: List[Dict[str, Any]] = []

    async def send(widget: WidgetClient) -> None:
        await widget.sio.emit("user_uttered", {"message": "メタデータ", "session_id": widget.token,
                                               "metadata": metadata})
        errors.append(await asyncio.wait_for(widget.errors.get(), 10))

    shown = asyncio.run(widget_turn(gw, send))
    assert shown == [{"text": "echo:メタデータ"}]  # the citizen is answered all the same
    assert errors == [{"error": error}]
    sent = engine.received[0]["metadata"]
    assert sent["channel"] == "web" and sent["triage"] == "none"
    assert sent.get("page") == ("/gomi" if error == "metadata_reserved_key" else None)
    assert "note" not in sent and "bad" not in sent
