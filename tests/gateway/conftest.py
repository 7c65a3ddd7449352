"""Gateway tests run the real gateway process against a stand-in engine.

The stand-in is a real HTTP server on loopback that speaks the two engine endpoints the gateway uses
(Rasa's REST webhook and /status); tests switch it between healthy, failing, hanging and down.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import httpx
import pytest
from aiohttp import web


ROOT = Path(__file__).resolve().parents[2]
# POST /api/messages is off without a token; the test gateways get this one, and HTTP below sends it.
REST_TOKEN = "test-rest-token"
REST_AUTH = {"Authorization": f"Bearer {REST_TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Messages the stand-in answers like the real engine's action_handoff: a text, then the custom payload.
HANDOFF_REPLIES: Dict[str, List[Dict[str, Any]]] = {
    "人と話したい": [{"text": "担当者におつなぎします。"},
                    {"custom": {"handoff": {"queue": "general", "reason": "user_request"}}}],
    "相談員と話したい": [{"text": "相談員におつなぎします。"},
                      {"custom": {"handoff": {"queue": "counseling", "reason": "counseling"}}}],
}


class StandInEngine:
    """Answers like Rasa's REST channel: echoes the text, with buttons when asked for a menu."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "ok"  # ok | error | hang | garbage
        self.delay = 0.0  # seconds every answer takes (a conversation waiting for a lock, a slow engine)
        self.received: List[Dict[str, Any]] = []
        self.balancing_keys: List[str] = []  # the X-Conversation-Id header of each turn (HAProxy hashes it)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _status(self, request: web.Request) -> web.Response:
        if self.mode != "ok":
            return web.json_response({"error": "not ready"}, status=503)
        return web.json_response({"model_id": "stand-in", "model_file": "stand-in.tar.gz"})

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        self.balancing_keys.append(request.headers.get("X-Conversation-Id", ""))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode == "error":
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "hang":  # until the test switches the mode back (at most 60 s)
            for _ in range(600):
                if self.mode != "hang":
                    break
                await asyncio.sleep(0.1)
        if self.mode == "garbage":
            return web.Response(text="<html>not json</html>")
        if body["message"] in HANDOFF_REPLIES:  # what action_handoff sends
            return web.json_response(HANDOFF_REPLIES[body["message"]])
        reply: Dict[str, Any] = {"recipient_id": body["sender"], "text": f"echo:{body['message']}"}
        if body["message"] == "menu":
            reply["buttons"] = [{"title": "ごみの出し方", "payload": "/menu_garbage"}]
        return web.json_response([reply])

    def start(self) -> "StandInEngine":
        app = web.Application()
        app.router.add_get("/status", self._status)
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        runner = web.AppRunner(app)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(runner.setup(), self._loop).result()
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        asyncio.run_coroutine_threadsafe(site.start(), self._loop).result()
        self._runner = runner
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture(scope="session")
def engine():
    stand_in = StandInEngine().start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(autouse=True)
def _reset_engine(engine):
    engine.mode = "ok"
    engine.delay = 0.0
    engine.received.clear()


class GatewayProcess:
    """A real gateway process on a free port. ``start_timeout``: seconds to wait for it to answer (the triage
    classifier trains at start: ~5 s idle, over a minute on a 2-core machine busy with other processes)."""

    def __init__(self, engine_url: str, tmp: Path, start_timeout: float = 120, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "gateway.log"
        self.data_dir, self.env = tmp, env
        environment = dict(os.environ) | {
            "HOST": "127.0.0.1", "PORT": str(self.port), "ENGINE_URL": engine_url,
            "DATA_DIR": str(tmp), "ENGINE_TIMEOUT": "2", "PYTHONUNBUFFERED": "1",
            # counseling answers around the clock unless a test is about the hours
            "COUNSELING_HOURS_FILE": str(ROOT / "tests" / "gateway" / "hours_always_open.yml"),
            # the tests run hundreds of chats from one address; tests/gateway/test_limits.py turns them on
            "REST_API_TOKEN": REST_TOKEN, "RATE_LIMITS": "off",
            # the action server's database (bookings, unanswered log) of this gateway alone, never the project's var/
            "ASSISTANT_DB_URL": f"sqlite:///{tmp / 'assistant.db'}",
            # one BLAS/OpenMP thread: on 2 cores the test's own processes and the gateway's start share them
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        } | env
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=environment,
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.proc.kill()  # a gateway that did not come up is not left running behind the failed test
        self.proc.wait()
        raise TimeoutError(self.log())

    @property
    def db_url(self) -> str:
        """The gateway's database (SQLite in DATA_DIR unless GATEWAY_DB_URL was given)."""
        return self.env.get("GATEWAY_DB_URL") or f"sqlite:///{self.data_dir / 'gateway.db'}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def gateway(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("gateway"))
    yield process
    process.stop()


# --- staff users and sessions through the real CLI and the real login form ---

class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request) -> bool:
        return False

    def return_ok(self, cookie, request) -> bool:
        return False


# One client for the staff tests (a new httpx client costs ~50 ms); it keeps no cookies, so every
# request carries exactly the cookies the test gives it.
HTTP = httpx.Client(cookies=http.cookiejar.CookieJar(policy=_NoCookies()), headers=REST_AUTH, timeout=10)


def create_staff_user(gateway: GatewayProcess, username: str, role: str, password: str) -> subprocess.CompletedProcess:
    """``python -m gateway.staff.admin create-user`` on the gateway's database."""
    result = subprocess.run([sys.executable, "-m", "gateway.staff.admin", "create-user", username, "--role", role,
                             "--password-stdin", "--db", gateway.db_url], cwd=ROOT, input=password + "\n",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def set_cookies(response: httpx.Response) -> Dict[str, Dict[str, Any]]:
    """Set-Cookie headers as {name: {"value": …, attribute (lower case): value or True}}.

    Parsed by hand, so tests see every attribute and send cookies explicitly (no cookie jar policy).
    """
    cookies: Dict[str, Dict[str, Any]] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = first.partition("=")
        cookie: Dict[str, Any] = {"value": value}
        for attribute in attributes:
            key, eq, attr_value = attribute.partition("=")
            cookie[key.lower()] = attr_value if eq else True
        cookies[name] = cookie
    return cookies


def login_form(base_url: str) -> tuple:
    """(form token, login CSRF cookie) from ``GET /staff/login``."""
    page = HTTP.get(f"{base_url}/staff/login")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return token, set_cookies(page)["staff_login_csrf"]["value"]


def post_login(base_url: str, username: str, password: str) -> httpx.Response:
    """Submit the real login form (with its CSRF token and cookie), as the browser does."""
    token, cookie = login_form(base_url)
    return HTTP.post(f"{base_url}/staff/login", data={"csrf_token": token, "username": username, "password": password},
                      headers={"Cookie": f"staff_login_csrf={cookie}"})


class StaffSession:
    """A logged-in staff browser: the session cookie and, for changes, the session's CSRF token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.cookie = {"Cookie": f"staff_session={token}"}
        me = self.get("/staff/api/me")
        assert me.status_code == 200, me.text
        self.username, self.role, self.csrf = me.json()["username"], me.json()["role"], me.json()["csrf_token"]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return HTTP.get(self.base_url + path, headers=self.cookie, **kwargs)

    def _headers(self, csrf: Optional[str]) -> Dict[str, str]:
        token = self.csrf if csrf is None else csrf
        return self.cookie | ({"X-CSRF-Token": token} if token else {})

    def post(self, path: str, json: Any = None, csrf: Optional[str] = None) -> httpx.Response:
        """POST with the session's CSRF token (``csrf=""``: none, any other string: that one)."""
        return HTTP.post(self.base_url + path, json=json, headers=self._headers(csrf))

    def delete(self, path: str, csrf: Optional[str] = None) -> httpx.Response:
        return HTTP.delete(self.base_url + path, headers=self._headers(csrf))

    def put(self, path: str, json: Any = None, csrf: Optional[str] = None) -> httpx.Response:
        return HTTP.put(self.base_url + path, json=json, headers=self._headers(csrf))

    # the console's API, by conversation id
    def queue(self) -> Dict[str, List[Dict[str, Any]]]:
        answer = self.get("/staff/api/queue")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def conversation(self, conversation_id: str) -> httpx.Response:
        return self.get(f"/staff/api/conversations/{quote(conversation_id, safe='')}")

    def act(self, conversation_id: str, action: str, json: Any = None, csrf: Optional[str] = None) -> httpx.Response:
        return self.post(f"/staff/api/conversations/{quote(conversation_id, safe='')}/{action}", json, csrf)


def staff_login(gateway: GatewayProcess, username: str, password: str) -> StaffSession:
    answer = post_login(gateway.url, username, password)
    assert answer.status_code == 303, answer.text
    return StaffSession(gateway.url, set_cookies(answer)["staff_session"]["value"])


def staff_user(gateway: GatewayProcess, username: str, role: str, password: Optional[str] = None) -> StaffSession:
    """Create a user with the CLI and log in through the login form."""
    password = password or f"pw-{username}-0123456789"
    create_staff_user(gateway, username, role, password)
    return staff_login(gateway, username, password)
