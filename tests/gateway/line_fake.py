"""A fake LINE platform for the LINE connector's tests and benchmark.

``FakeLineApi`` is a real HTTP server on loopback (aiohttp, in its own thread) that answers the Messaging API
calls the gateway and tools/line_richmenu.py make, checks them the way LINE does (access token, at most five
messages, text length in UTF-16 units, quick-reply limits, one use per reply token, retry keys), records every
request, and can be told to answer 429/500 (or 400) a number of times. ``/data/…`` stands for
api-data.line.me (point ``LINE_API_DATA_BASE_URL`` at ``<url>/data``).

Also here: signing and building webhook events, the stand-in engine with the extra answers these tests need,
and the fixtures (module-scoped: each test module gets its own fake, engine and gateway).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple

import httpx
import pytest
from aiohttp import web

from tests.gateway.conftest import GatewayProcess, StandInEngine, free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "line"
# The secret of the signature test vector in ../shared/fixtures/line/, so that vector works against the gateway.
SECRET = "channel_secret"
TOKEN = "test-channel-access-token"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ====================================================================== the fake platform

class FakeLineApi:
    """LINE's API on loopback. ``requests`` holds every call (oldest first) as dicts with ``endpoint``,
    ``method``, ``path``, ``headers`` (lower-case names), ``json``/``body`` and ``status`` (what it answered)."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = free_port()
        self.requests: List[Dict[str, Any]] = []
        self.delivered: List[Dict[str, Any]] = []  # what reached the user: {"via": reply|push, "to", "messages"}
        self.richmenus: Dict[str, Dict[str, Any]] = {}
        self.default_richmenu: Optional[str] = None
        self._failures: Dict[str, Deque[Tuple[int, bool]]] = defaultdict(deque)
        self._accepted_keys: Dict[str, str] = {}
        self._used_tokens: set = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ control
    def fail(self, endpoint: str, status: int, times: int = 1, accept: bool = False) -> None:
        """The next ``times`` calls to ``endpoint`` (reply, push, loading, …) answer ``status``; with
        ``accept`` the call is carried out first (as when LINE's answer is lost on the way back)."""
        with self._lock:
            self._failures[endpoint].extend([(status, accept)] * times)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.delivered.clear()
            self._failures.clear()

    def calls(self, endpoint: str) -> List[Dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["endpoint"] == endpoint]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting; requests so far: {[r['endpoint'] for r in self.requests]}")

    def wait_calls(self, endpoint: str, count: int, timeout: float = 10.0) -> List[Dict[str, Any]]:
        self.wait_for(lambda: len(self.calls(endpoint)) >= count, timeout)
        return self.calls(endpoint)

    def quiet(self, seconds: float = 0.5, timeout: float = 15.0) -> None:
        """Wait until no request has arrived for ``seconds``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = self.requests[-1]["at"] if self.requests else 0.0
            if time.monotonic() - max(last, 0.0) >= seconds:
                return
            time.sleep(0.05)
        raise AssertionError("the fake LINE API never went quiet")

    # ------------------------------------------------------------------ server
    def start(self) -> "FakeLineApi":
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(runner.setup(), self._loop).result()
        asyncio.run_coroutine_threadsafe(web.TCPSite(runner, "127.0.0.1", self.port).start(), self._loop).result()
        self._runner = runner
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)

    ROUTES = [
        ("POST", r"/v2/bot/message/reply", "reply"),
        ("POST", r"/v2/bot/message/push", "push"),
        ("POST", r"/v2/bot/chat/loading/start", "loading"),
        ("POST", r"/v2/bot/richmenu/validate", "richmenu_validate"),
        ("POST", r"/v2/bot/richmenu", "richmenu_create"),
        ("GET", r"/v2/bot/richmenu/list", "richmenu_list"),
        ("DELETE", r"/v2/bot/richmenu/(?P<id>[^/]+)", "richmenu_delete"),
        ("POST", r"/data/v2/bot/richmenu/(?P<id>[^/]+)/content", "richmenu_content"),
        ("POST", r"/v2/bot/user/all/richmenu/(?P<id>[^/]+)", "richmenu_default"),
        ("GET", r"/v2/bot/user/all/richmenu", "richmenu_get_default"),
    ]

    async def _dispatch(self, request: web.Request) -> web.Response:
        endpoint, params = "unknown", {}
        for method, pattern, name in self.ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match and request.method == method:
                endpoint, params = name, match.groupdict()
                break
        body = await request.read()
        record: Dict[str, Any] = {"endpoint": endpoint, "method": request.method, "path": request.path,
                                  "headers": {k.lower(): v for k, v in request.headers.items()},
                                  "body": body, "json": None, "at": time.monotonic(), "status": None}
        if request.content_type == "application/json" and body:
            try:
                record["json"] = json.loads(body)
            except ValueError:
                pass
        with self._lock:
            self.requests.append(record)
            failure = self._failures[endpoint].popleft() if self._failures[endpoint] else None
        response = self._answer(endpoint, params, record, request, failure)
        record["status"] = response.status
        return response

    def _answer(self, endpoint: str, params: Dict[str, str], record: Dict[str, Any], request: web.Request,
                failure: Optional[Tuple[int, bool]]) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Authentication failed. Confirm that the access token in the authorization header is valid.")
        if endpoint == "unknown":
            return _error(404, "Not found")
        if failure and not failure[1]:
            return _error(failure[0], "Fake failure" if failure[0] != 429 else "Too Many Requests")
        handler = getattr(self, f"_{endpoint}")
        response = handler(record, params, request)
        if failure:  # carried out, but the answer is "lost"
            return _error(failure[0], "Fake failure after acceptance")
        return response

    # ------------------------------------------------------------------ endpoints
    def _reply(self, record, params, request) -> web.Response:
        body = record["json"] or {}
        token = body.get("replyToken")
        problems = _check_messages(body.get("messages"))
        if not isinstance(token, str) or not token:
            problems.append({"message": "Must not be empty", "property": "replyToken"})
        if problems:
            return _error(400, f"The request body has {len(problems)} error(s)", problems)
        with self._lock:
            if token in self._used_tokens or token.startswith("expired"):
                return _error(400, "Invalid reply token")
            self._used_tokens.add(token)
            self.delivered.append({"via": "reply", "to": token, "messages": body["messages"]})
        return web.json_response({"sentMessages": [{"id": uuid.uuid4().hex[:18]} for _ in body["messages"]]})

    def _push(self, record, params, request) -> web.Response:
        body = record["json"] or {}
        problems = _check_messages(body.get("messages"))
        if not isinstance(body.get("to"), str) or not body.get("to"):
            problems.append({"message": "Must not be empty", "property": "to"})
        key = request.headers.get("X-Line-Retry-Key")
        if key is not None and not UUID_RE.match(key):
            problems.append({"message": "The retry key must be a UUID", "property": "X-Line-Retry-Key"})
        if problems:
            return _error(400, f"The request body has {len(problems)} error(s)", problems)
        with self._lock:
            if key and key in self._accepted_keys:
                return web.json_response({"message": "The retry key is already accepted", "sentMessages": []},
                                         status=409, headers={"x-line-accepted-request-id": self._accepted_keys[key]})
            request_id = str(uuid.uuid4())
            if key:
                self._accepted_keys[key] = request_id
            self.delivered.append({"via": "push", "to": body["to"], "messages": body["messages"]})
        return web.json_response({"sentMessages": [{"id": uuid.uuid4().hex[:18]} for _ in body["messages"]]},
                                 headers={"x-line-request-id": request_id})

    def _loading(self, record, params, request) -> web.Response:
        body = record["json"] or {}
        seconds = body.get("loadingSeconds", 20)
        if not isinstance(body.get("chatId"), str) or seconds not in range(5, 61, 5):
            return _error(400, "The request body has 1 error(s)")
        return web.json_response({}, status=202)

    def _richmenu_validate(self, record, params, request) -> web.Response:
        definition = record["json"] or {}
        size = definition.get("size") or {}
        areas = definition.get("areas")
        if (size.get("width") != 2500 or size.get("height") not in (843, 1686) or not isinstance(areas, list)
                or not 1 <= len(areas) <= 20 or not 1 <= len(definition.get("chatBarText") or "") <= 14
                or not definition.get("name")):
            return _error(400, "The request body has 1 error(s)")
        return web.json_response({})

    def _richmenu_create(self, record, params, request) -> web.Response:
        invalid = self._richmenu_validate(record, params, request)
        if invalid.status != 200:
            return invalid
        menu_id = "richmenu-" + uuid.uuid4().hex
        with self._lock:
            self.richmenus[menu_id] = {"definition": record["json"], "image": None, "content_type": None}
        return web.json_response({"richMenuId": menu_id})

    def _richmenu_content(self, record, params, request) -> web.Response:
        menu = self.richmenus.get(params["id"])
        if menu is None:
            return _error(404, "Not found")
        if request.content_type not in ("image/png", "image/jpeg") or not 0 < len(record["body"]) <= 1024 * 1024:
            return _error(400, "Invalid image")
        if menu["image"] is not None:
            return _error(400, "An image has already been uploaded to the richmenu")
        menu["image"], menu["content_type"] = record["body"], request.content_type
        return web.json_response({})

    def _richmenu_default(self, record, params, request) -> web.Response:
        menu = self.richmenus.get(params["id"])
        if menu is None:
            return _error(404, "Not found")
        if menu["image"] is None:
            return _error(400, "must upload richmenu image before applying it to user")
        self.default_richmenu = params["id"]
        return web.json_response({})

    def _richmenu_get_default(self, record, params, request) -> web.Response:
        if not self.default_richmenu:
            return _error(404, "no default richmenu")
        return web.json_response({"richMenuId": self.default_richmenu})

    def _richmenu_list(self, record, params, request) -> web.Response:
        return web.json_response({"richmenus": [dict(m["definition"], richMenuId=i) for i, m in self.richmenus.items()]})

    def _richmenu_delete(self, record, params, request) -> web.Response:
        if self.richmenus.pop(params["id"], None) is None:
            return _error(404, "Not found")
        if self.default_richmenu == params["id"]:
            self.default_richmenu = None
        return web.json_response({})


def _error(status: int, message: str, details: Optional[List[Dict]] = None) -> web.Response:
    return web.json_response({"message": message, **({"details": details} if details else {})}, status=status)


def _check_messages(messages: Any) -> List[Dict[str, str]]:
    """LINE's limits on message objects, as far as the gateway uses them."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [{"message": "Size must be between 1 and 5", "property": "messages"}]
    problems = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "text":
            if not isinstance(message.get("text"), str) or not 1 <= utf16_units(message["text"]) <= 5000:
                problems.append({"message": "Length must be between 1 and 5000", "property": where + ".text"})
        elif kind == "flex":
            if not message.get("altText") or not isinstance(message.get("contents"), dict):
                problems.append({"message": "altText and contents required", "property": where})
        elif kind == "image":
            if not str(message.get("originalContentUrl", "")).startswith("https://"):
                problems.append({"message": "Must be an https URL", "property": where + ".originalContentUrl"})
        else:
            problems.append({"message": "Unknown message type", "property": where + ".type"})
            continue
        sender = message.get("sender")
        if sender is not None and not 1 <= len(sender.get("name", "")) <= 20:
            problems.append({"message": "Length must be between 1 and 20", "property": where + ".sender.name"})
        items = (message.get("quickReply") or {}).get("items")
        if items is None:
            continue
        if not 1 <= len(items) <= 13:
            problems.append({"message": "Size must be between 1 and 13", "property": where + ".quickReply.items"})
        for j, item in enumerate(items):
            action = item.get("action") or {}
            label = action.get("label") or ""
            if item.get("type") != "action" or not 1 <= len(label) <= 20:
                problems.append({"message": "Invalid label", "property": f"{where}.quickReply.items[{j}]"})
            if action.get("type") == "postback" and not 1 <= len(action.get("data") or "") <= 300:
                problems.append({"message": "Invalid data", "property": f"{where}.quickReply.items[{j}].data"})
            if action.get("type") == "datetimepicker" and action.get("mode") not in ("date", "time", "datetime"):
                problems.append({"message": "Invalid mode", "property": f"{where}.quickReply.items[{j}].mode"})
            if action.get("type") not in ("postback", "message", "datetimepicker", "camera", "cameraRoll", "location"):
                problems.append({"message": "Invalid action", "property": f"{where}.quickReply.items[{j}].type"})
    return problems


# ====================================================================== webhooks

def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def fixture_events() -> List[Dict[str, Any]]:
    """The 28 events of ../shared/fixtures/line/webhook_v3.json (a fresh copy)."""
    return copy.deepcopy(json.loads((FIXTURES / "webhook_v3.json").read_text())["events"])


def new_user() -> str:
    return "U" + uuid.uuid4().hex


def event(user: str, kind: str = "message", redelivery: bool = False, **fields: Any) -> Dict[str, Any]:
    """A webhook event from ``user`` in a one-to-one chat, with a fresh event id and reply token."""
    return {"type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user}, "webhookEventId": "01" + uuid.uuid4().hex[:24].upper(),
            "deliveryContext": {"isRedelivery": redelivery}, "replyToken": uuid.uuid4().hex, **fields}


def text_event(user: str, text: str) -> Dict[str, Any]:
    return event(user, message={"id": str(uuid.uuid4().int)[:18], "type": "text", "text": text,
                                "quoteToken": "q"})


def message_event(user: str, message: Dict[str, Any]) -> Dict[str, Any]:
    return event(user, message={"id": str(uuid.uuid4().int)[:18], **message})


def postback_event(user: str, data: str, params: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    return event(user, "postback", postback={"data": data, **({"params": params} if params else {})})


def post_webhook(url: str, events: List[Dict[str, Any]], secret: str = SECRET,
                 signature: Optional[str] = None, body: Optional[bytes] = None,
                 client: Optional[httpx.Client] = None) -> httpx.Response:
    """POST a signed webhook (``signature=""``: no header) like LINE does."""
    raw = body if body is not None else json.dumps({"destination": "Uaccount", "events": events},
                                                   ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "LineBotWebhook/2.0"}
    sig = sign(raw, secret) if signature is None else signature
    if sig:
        headers["X-Line-Signature"] = sig
    return (client or httpx).post(f"{url}/webhooks/line/webhook", content=raw, headers=headers, timeout=10)


# ====================================================================== the stand-in engine, for LINE

LONG_SENTENCE = "大型ごみは申込センターに電話かインターネットで申し込み、処理券を貼って出してください🍙。"


def line_replies(message: str) -> Optional[List[Dict[str, Any]]]:
    """Extra engine answers for the LINE tests (None: the stand-in's usual echo)."""
    if message == "six":
        return [{"text": f"six:{i}"} for i in range(1, 7)]
    if message == "long":  # 12,000 characters, with emoji (two UTF-16 units each)
        text = LONG_SENTENCE * (12_000 // len(LONG_SENTENCE) + 1)
        return [{"text": text[:12_000 - 1] + "。"}]
    if message == "picker":
        return [{"text": "収集日を選んでください。", "custom": {"datetimepicker": {
            "label": "日付を選ぶ", "data": "/choose_date", "min": "2026-12-01", "max": "2027-01-31"}}}]
    if message == "flex":
        return [{"text": "申込内容です。"}, {"custom": {"flex": {"altText": "大型ごみ申込の内容", "contents": {
            "type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
                {"type": "text", "text": "ソファー 1点"}, {"type": "text", "text": "12月3日（木）"}]}}}}}]
    if message == "many buttons":
        return [{"text": "どれですか？", "buttons": [
            {"title": f"とても長い選択肢のタイトルでラベルには入らないもの{i}", "payload": f"/choose{{\"n\": {i}}}"} for i in range(20)]}]
    if message == "buttons only":
        return [{"buttons": [{"title": "はい", "payload": "/affirm"}, {"title": "いいえ", "payload": "/deny"}]}]
    return None


class LineStandInEngine(StandInEngine):
    """The conftest stand-in, plus the LINE answers above and ``slow:…`` (0.8 s)."""

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if str(body.get("message", "")).startswith("slow:"):
            await asyncio.sleep(0.8)
        extra = line_replies(body.get("message", ""))
        if extra is None or self.mode != "ok":
            return await super()._webhook(request)  # ``delay`` there
        self.received.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response(extra)


def line_env(fake: FakeLineApi, **extra: str) -> Dict[str, str]:
    return {"LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_BASE_URL": fake.url,
            "LINE_API_DATA_BASE_URL": fake.url + "/data", "LINE_RETRY_BASE_DELAY": "0.05",
            "LINE_PUSH_ATTEMPTS": "4", **extra}


class Line:
    """What a LINE test works with: the gateway, the fake platform, the engine, and shortcuts."""

    def __init__(self, gateway: GatewayProcess, api: FakeLineApi, engine: LineStandInEngine) -> None:
        self.gateway, self.api, self.engine = gateway, api, engine

    def post(self, *events: Dict[str, Any], **kwargs: Any) -> httpx.Response:
        response = post_webhook(self.gateway.url, list(events), **kwargs)
        assert response.status_code == 200, response.text
        return response

    def say(self, user: str, text: str) -> Dict[str, Any]:
        """A text message; returns its event (the reply token names the reply)."""
        sent = text_event(user, text)
        self.post(sent)
        return sent

    def reply_to(self, sent: Dict[str, Any], timeout: float = 10.0) -> Dict[str, Any]:
        """The reply call made with the event's reply token."""
        return self.api.wait_for(lambda: next((r for r in self.api.calls("reply")
                                               if (r["json"] or {}).get("replyToken") == sent["replyToken"]), None),
                                 timeout)

    def pushes_to(self, user: str) -> List[Dict[str, Any]]:
        return [r for r in self.api.calls("push") if (r["json"] or {}).get("to") == user]

    def engine_texts(self) -> List[str]:
        return [m["message"] for m in self.engine.received]


def running_line_api() -> Iterator[FakeLineApi]:
    """The fake LINE platform, started and stopped (every call is recorded)."""
    fake = FakeLineApi().start()
    try:
        yield fake
    finally:
        fake.stop()


line_api = pytest.fixture(scope="module", name="line_api")(running_line_api)
line_api_for_session = pytest.fixture(scope="session", name="line_api")(running_line_api)  # e2e, scale-out


@pytest.fixture(scope="module")
def line_engine():
    stand_in = LineStandInEngine().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def line_gateway(line_api, line_engine, tmp_path_factory):
    process = GatewayProcess(line_engine.url, tmp_path_factory.mktemp("line-gateway"), **line_env(line_api))
    yield process
    process.stop()


@pytest.fixture
def line(line_gateway, line_api, line_engine) -> Line:
    line_api.reset()
    line_engine.mode, line_engine.delay = "ok", 0.0
    line_engine.received.clear()
    assert line_gateway.alive(), line_gateway.log()
    return Line(line_gateway, line_api, line_engine)
