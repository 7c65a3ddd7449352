"""The staff console's defences, probed from outside through the real gateway process.

Sessions (401), roles (403), CSRF on every change and on the login form (403), the login rate limit
(429), the Socket.IO namespace ``/staff``, the audit log, no password or session token in logs or in
the database, security headers and cookie flags. Users are made with the real CLI and log in through
the real login form (tests/gateway/conftest.py).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

import httpx
import pytest
import socketio

from gateway.staff.console import SECURITY_HEADERS
from tests.gateway.conftest import (HTTP, ROOT, GatewayProcess, StaffSession, create_staff_user, login_form, post_login,
                                    set_cookies, staff_login, staff_user)

# Every route of gateway/staff/console/ ({conv}: a conversation id, {reply_id}: a canned reply id).
API = [
    ("GET", "/staff/api/me"),
    ("GET", "/staff/api/queue"),
    ("GET", "/staff/api/conversations/{conv}"),
    ("POST", "/staff/api/conversations/{conv}/claim"),
    ("POST", "/staff/api/conversations/{conv}/reply"),
    ("POST", "/staff/api/conversations/{conv}/note"),
    ("POST", "/staff/api/conversations/{conv}/transfer"),
    ("POST", "/staff/api/conversations/{conv}/close"),
    ("POST", "/staff/api/conversations/{conv}/release"),
    ("POST", "/staff/api/conversations/{conv}/risk"),
    ("GET", "/staff/api/conversations/{conv}/context"),
    ("GET", "/staff/api/canned"),
    ("POST", "/staff/api/canned"),
    ("PUT", "/staff/api/canned/{reply_id}"),
    ("DELETE", "/staff/api/canned/{reply_id}"),
    ("GET", "/staff/api/presence"),
    ("POST", "/staff/api/presence"),
    ("GET", "/staff/api/history"),
    ("GET", "/staff/api/history/1"),
    ("GET", "/staff/api/users"),
    ("POST", "/staff/api/users"),
    ("GET", "/staff/api/audit"),
    ("GET", "/staff/api/unanswered.csv"),
    ("GET", "/staff/api/bookings"),
    ("POST", "/staff/api/bookings/ABCD-EFGH/cancel"),
    ("GET", "/staff/api/bookings.csv"),
    ("GET", "/staff/api/bookings/ABCD-EFGH"),
    ("POST", "/staff/api/bookings/ABCD-EFGH/change"),
    ("GET", "/staff/api/booking-items"),
    ("GET", "/staff/api/dashboard"),
    ("GET", "/staff/api/dashboard.csv"),
    ("POST", "/staff/logout"),
]
PAGES = [("GET", "/staff"), ("GET", "/staff/login"), ("POST", "/staff/login"), ("GET", "/staff/bookings"),
         ("GET", "/staff/dashboard")]
CHANGES = [(method, path) for method, path in API if method != "GET"]
# Bodies that would succeed if the check under test were missing.
BODIES = {
    "/reply": {"text": "侵入者の返信"},
    "/note": {"text": "侵入者のメモ"},
    "/transfer": {"queue": "counseling"},
    "/close": {"outcome": "resolved"},
    "/risk": {"level": "emergency"},
    "/staff/api/canned": {"queue": "general", "text": "侵入者の定型文"},
    "/staff/api/presence": {"status": "online"},
    "{reply_id}": {"queue": "general", "text": "侵入者の定型文"},
    "/staff/api/users": {"username": "intruder", "password": "intruder-password-1", "role": "admin"},
}
PASSWORD = {role: f"{role}-Pa55word-{uuid.uuid4().hex[:6]}" for role in ("admin", "supervisor", "staff", "counselor")}


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def body_for(path: str) -> Any:
    return next((body for suffix, body in BODIES.items() if path.endswith(suffix)), None)


@pytest.fixture(scope="module")
def gateway(engine, tmp_path_factory):
    """This module's own gateway: its login rate limit and log are not shared with other modules."""
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("staff-security"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sessions(gateway) -> Dict[str, StaffSession]:
    """One logged-in user per role (sec-admin, sec-supervisor, sec-staff, sec-counselor)."""
    with ThreadPoolExecutor(len(PASSWORD)) as pool:  # each is a CLI run and a login: side by side
        made = pool.map(lambda role: staff_user(gateway, f"sec-{role}", role, PASSWORD[role]), PASSWORD)
        return dict(zip(PASSWORD, made))


def chat_waiting_in(gateway: GatewayProcess, queue: str) -> str:
    """A citizen who asked for a person (the stand-in engine hands over to ``queue``); its conversation id."""
    sender = f"{queue}-{uuid.uuid4().hex[:8]}"
    message = {"general": "人と話したい", "counseling": "相談員と話したい"}[queue]
    answer = HTTP.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": message})
    assert answer.status_code == 200 and any("番目" in m["text"] for m in answer.json()["messages"])
    return f"rest:{sender}"


@pytest.fixture(scope="module")
def chats(gateway) -> Dict[str, str]:
    """Conversations waiting in each queue; no test here may take them out of it."""
    return {queue: chat_waiting_in(gateway, queue) for queue in ("general", "counseling")}


@pytest.fixture(scope="module")
def reply_id(sessions) -> int:
    return sessions["admin"].get("/staff/api/canned").json()["replies"][0]["id"]


def fill(path: str, chats: Dict[str, str], reply_id: int, conv: str = "general") -> str:
    return path.format(conv=chats[conv].replace(":", "%3A"), reply_id=reply_id)


def request(gateway: GatewayProcess, method: str, path: str, headers: Dict[str, str] = None,
            body: Any = None) -> httpx.Response:
    return HTTP.request(method, gateway.url + path, headers=headers or {}, json=body)


def assert_nothing_changed(admin: StaffSession, chats: Dict[str, str], canned_before: List[Dict]) -> None:
    """The waiting chats are still waiting and untouched, no user was added, the canned replies are as before."""
    waiting = {c["id"]: c for c in admin.queue()["waiting"]}
    assert waiting[chats["general"]]["queue"] == "general" and waiting[chats["counseling"]]["queue"] == "counseling"
    for chat in chats.values():
        texts = [m["text"] for m in admin.conversation(chat).json()["messages"]]
        assert not any("侵入者" in text for text in texts)
    assert "intruder" not in {u["username"] for u in admin.get("/staff/api/users").json()["users"]}
    assert admin.get("/staff/api/canned").json()["replies"] == canned_before


def test_route_table_covers_every_staff_route():
    source = "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "gateway" / "staff" / "console").glob("*.py")))
    routes = {(method.upper(), "/staff" + re.sub(r"<conversation_id:str>", "{conv}",
                                                 re.sub(r"<reply_id:int>", "{reply_id}",
                                                        path.replace("<receipt_no:str>", "ABCD-EFGH").replace("<entry:int>", "1"))).rstrip("/"))
              for method, path in re.findall(r'@bp\.(get|post|put|delete)\("([^"]*)"\)', source)}
    assert routes == set(API) | set(PAGES)


# ---------------------------------------------------------------- no session → 401

@pytest.mark.parametrize("method, path", API)
@pytest.mark.parametrize("cookie", [None, "staff_session=forged-token", "staff_session="], ids=["none", "forged",
                                                                                                "empty"])
def test_api_without_a_session_is_401(gateway, chats, reply_id, method, path, cookie):
    answer = request(gateway, method, fill(path, chats, reply_id), {"Cookie": cookie} if cookie else {},
                     body_for(path))
    assert answer.status_code == 401
    assert answer.json()["error"]
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value


def test_console_page_without_a_session_redirects_to_login(gateway, sessions):
    answer = HTTP.get(f"{gateway.url}/staff")
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/login"
    forged = HTTP.get(f"{gateway.url}/staff", headers={"Cookie": "staff_session=forged-token"})
    assert forged.status_code == 303 and forged.headers["location"] == "/staff/login"
    page = sessions["staff"].get("/staff")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_logout_ends_the_session(gateway, sessions):
    session = staff_login(gateway, "sec-staff", PASSWORD["staff"])
    assert session.post("/staff/logout", csrf="").status_code == 403  # logging out is a change too
    out = session.post("/staff/logout")
    assert out.status_code == 200
    assert set_cookies(out)["staff_session"]["value"] in ("", '""')  # the browser drops it
    assert session.get("/staff/api/me").status_code == 401
    assert session.get("/staff").status_code == 303
    assert sessions["staff"].get("/staff/api/me").status_code == 200  # other sessions live on


# ---------------------------------------------------------------- wrong role → 403

SUPERVISOR_ONLY = [("GET", "/staff/api/users"), ("POST", "/staff/api/users"), ("GET", "/staff/api/audit"),
                   ("GET", "/staff/api/unanswered.csv"), ("POST", "/staff/api/canned"),
                   ("PUT", "/staff/api/canned/{reply_id}"), ("DELETE", "/staff/api/canned/{reply_id}")]
FORBIDDEN = [
    *[(role, method, path) for role in ("staff", "counselor") for method, path in SUPERVISOR_ONLY],
    # Users and the audit log: admins only.
    ("supervisor", "GET", "/staff/api/users"),
    ("supervisor", "POST", "/staff/api/users"),
    ("supervisor", "GET", "/staff/api/audit"),
    # A counselor cannot open, take or annotate a general-queue chat; staff cannot touch a counseling one.
    ("counselor", "GET", "/staff/api/conversations/{conv}"),
    ("counselor", "POST", "/staff/api/conversations/{conv}/claim"),
    ("counselor", "POST", "/staff/api/conversations/{conv}/note"),
    ("staff", "GET", "/staff/api/conversations/{counseling}"),
    ("staff", "POST", "/staff/api/conversations/{counseling}/claim"),
    ("staff", "POST", "/staff/api/conversations/{counseling}/note"),
    # この方の履歴: the same rule as the transcript.
    ("counselor", "GET", "/staff/api/conversations/{conv}/context"),
    ("staff", "GET", "/staff/api/conversations/{counseling}/context"),
    # The risk level of a counseling chat is a counselor's judgment.
    ("staff", "POST", "/staff/api/conversations/{counseling}/risk"),
    ("staff", "POST", "/staff/api/conversations/{conv}/risk"),
    # 大型ごみ bookings: city staff, supervisors and admins; not counselors.
    ("counselor", "GET", "/staff/api/bookings"),
    ("counselor", "POST", "/staff/api/bookings/ABCD-EFGH/cancel"),
    ("counselor", "GET", "/staff/api/bookings.csv"),
    ("counselor", "GET", "/staff/api/bookings/ABCD-EFGH"),
    ("counselor", "POST", "/staff/api/bookings/ABCD-EFGH/change"),
    ("counselor", "GET", "/staff/api/booking-items"),
    # The dashboard: supervisors and admins only.
    ("staff", "GET", "/staff/api/dashboard"),
    ("staff", "GET", "/staff/api/dashboard.csv"),
    ("counselor", "GET", "/staff/api/dashboard"),
    ("counselor", "GET", "/staff/api/dashboard.csv"),
]


@pytest.mark.parametrize("role, method, path", FORBIDDEN)
def test_wrong_role_is_403(gateway, sessions, chats, reply_id, role, method, path):
    admin = sessions["admin"]
    canned_before = admin.get("/staff/api/canned").json()["replies"]
    conv = "counseling" if "{counseling}" in path else "general"
    url = fill(path.replace("{counseling}", "{conv}"), chats, reply_id, conv)
    session = sessions[role]
    if method == "GET":
        answer = session.get(url)
    elif method == "DELETE":
        answer = session.delete(url)
    elif method == "PUT":
        answer = session.put(url, body_for(path))
    else:
        answer = session.post(url, body_for(path))  # with the session's own valid CSRF token
    assert answer.status_code == 403, answer.text
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert_nothing_changed(admin, chats, canned_before)


def test_allowed_roles_get_through(sessions, chats):
    """The other side of the 403s: each role reaches what it is meant to."""
    assert sessions["staff"].conversation(chats["general"]).status_code == 200
    assert sessions["counselor"].conversation(chats["counseling"]).status_code == 200
    context = "/staff/api/conversations/{}/context"
    assert sessions["staff"].get(context.format(chats["general"].replace(":", "%3A"))).status_code == 200
    assert sessions["counselor"].get(context.format(chats["counseling"].replace(":", "%3A"))).status_code == 200
    assert sessions["supervisor"].conversation(chats["counseling"]).status_code == 200
    assert sessions["supervisor"].get("/staff/api/unanswered.csv").status_code == 200
    assert sessions["admin"].get("/staff/api/users").status_code == 200
    assert sessions["admin"].get("/staff/api/audit").status_code == 200
    added = sessions["supervisor"].post("/staff/api/canned", {"queue": "general", "text": "一時的な定型文"})
    assert added.status_code == 200
    assert sessions["supervisor"].delete(f"/staff/api/canned/{added.json()['id']}").status_code == 200
    assert {r["queue"] for r in sessions["counselor"].get("/staff/api/canned").json()["replies"]} == {"counseling"}
    assert [c["id"] for c in sessions["counselor"].queue()["waiting"]] == [chats["counseling"]]
    assert chats["counseling"] not in {c["id"] for c in sessions["staff"].queue()["waiting"]}


# ---------------------------------------------------------------- CSRF

@pytest.mark.parametrize("method, path", CHANGES)
@pytest.mark.parametrize("token", ["", "wrong-token", "other-session"])
def test_change_without_the_session_csrf_token_is_403(gateway, sessions, chats, reply_id, method, path, token):
    admin = sessions["admin"]  # allowed everything: only the token can make it fail
    canned_before = admin.get("/staff/api/canned").json()["replies"]
    csrf = sessions["supervisor"].csrf if token == "other-session" else token
    url = fill(path, chats, reply_id)
    send = {"DELETE": lambda: admin.delete(url, csrf=csrf), "PUT": lambda: admin.put(url, body_for(path), csrf=csrf)}
    answer = send.get(method, lambda: admin.post(url, body_for(path), csrf=csrf))()
    assert answer.status_code == 403, answer.text
    assert "CSRF" in answer.json()["error"]
    assert admin.get("/staff/api/me").status_code == 200  # not logged out either
    assert_nothing_changed(admin, chats, canned_before)


def test_login_without_the_matching_csrf_cookie_is_403(gateway, sessions):
    token, cookie = login_form(gateway.url)
    other_token, _ = login_form(gateway.url)
    form = {"username": "sec-staff", "password": PASSWORD["staff"]}
    attempts = [
        ({"csrf_token": token} | form, {}),  # no cookie
        ({"csrf_token": token} | form, {"Cookie": "staff_login_csrf="}),  # empty cookie
        (form, {"Cookie": f"staff_login_csrf={cookie}"}),  # no form token
        ({"csrf_token": other_token} | form, {"Cookie": f"staff_login_csrf={cookie}"}),  # another form's token
        ({"csrf_token": token} | form, {"Cookie": f"staff_login_csrf={other_token}x"}),
    ]
    for data, headers in attempts:
        answer = HTTP.post(f"{gateway.url}/staff/login", data=data, headers=headers)
        assert answer.status_code == 403, (data, headers)
        assert "staff_session" not in set_cookies(answer)
    # The same right password with the matching pair logs in.
    assert post_login(gateway.url, "sec-staff", PASSWORD["staff"]).status_code == 303


def test_login_with_a_non_ascii_csrf_token_is_403(gateway):
    _, cookie = login_form(gateway.url)
    answer = HTTP.post(f"{gateway.url}/staff/login", headers={"Cookie": f"staff_login_csrf={cookie}"},
                        data={"csrf_token": "日本語", "username": "sec-staff", "password": PASSWORD["staff"]})
    assert answer.status_code == 403


# ---------------------------------------------------------------- login rate limit

def test_six_wrong_passwords_lock_out_even_the_right_one(engine, tmp_path):
    process = GatewayProcess(engine.url, tmp_path)  # its own: the limit counts per IP, and tests share 127.0.0.1
    try:
        create_staff_user(process, "target", "staff", "the-right-password")
        statuses = [post_login(process.url, "target", f"guess-{i}").status_code for i in range(6)]
        assert statuses == [401] * 5 + [429]
        blocked = post_login(process.url, "target", "the-right-password")
        assert blocked.status_code == 429
        assert "staff_session" not in set_cookies(blocked)
        assert "しばらくしてから" in blocked.text
    finally:
        process.stop()


# ---------------------------------------------------------------- Socket.IO /staff

async def connect_staff_socket(gateway: GatewayProcess, headers: Dict[str, str]) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    # A copy: python-engineio deletes the Cookie entry from the dict it is given.
    await client.connect(gateway.url, namespaces=["/staff"], transports=["websocket"], headers=dict(headers),
                         wait_timeout=10)
    return client


@pytest.mark.parametrize("headers", [{}, {"Cookie": "staff_session=forged-token"}, {"Cookie": "other=1"}],
                         ids=["no-cookie", "forged", "other-cookie"])
async def test_staff_socket_refuses_a_connection_without_a_session(gateway, headers):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect_staff_socket(gateway, headers)


async def test_staff_socket_accepts_the_session_cookie_and_checks_roles(gateway, sessions, chats):
    for role, allowed in (("staff", True), ("counselor", False)):
        client = await connect_staff_socket(gateway, sessions[role].cookie)
        try:
            assert "/staff" in client.namespaces
            answer = await client.call("watch", {"conversation_id": chats["general"]}, namespace="/staff", timeout=10)
            assert answer == {"ok": allowed}
        finally:
            await client.disconnect()


async def test_watcher_stops_getting_a_chat_it_may_no_longer_see(gateway, sessions):
    chat = chat_waiting_in(gateway, "general")
    watcher = await connect_staff_socket(gateway, sessions["staff"].cookie)
    counselor = await connect_staff_socket(gateway, sessions["counselor"].cookie)
    seen: Dict[str, List[str]] = {"watcher": [], "counselor": []}
    watcher.on("message", lambda data: seen["watcher"].append(data["message"]["text"]), namespace="/staff")
    counselor.on("message", lambda data: seen["counselor"].append(data["message"]["text"]), namespace="/staff")
    try:
        assert await watcher.call("watch", {"conversation_id": chat}, namespace="/staff", timeout=10) == {"ok": True}
        assert sessions["supervisor"].act(chat, "claim").status_code == 200
        assert sessions["supervisor"].act(chat, "transfer", {"queue": "counseling"}).status_code == 200
        assert sessions["counselor"].act(chat, "claim").status_code == 200
        assert sessions["staff"].conversation(chat).status_code == 403  # the rule: staff may not see it now
        HTTP.post(f"{gateway.url}/api/messages", json={"sender": chat.split(":", 1)[1], "message": "実はつらくて"})
        for _ in range(50):  # the owner gets it live …
            if "実はつらくて" in seen["counselor"]:
                break
            await asyncio.sleep(0.1)
        assert "実はつらくて" in seen["counselor"]
        await asyncio.sleep(0.3)
        assert seen["watcher"] == []  # … and nobody who may not see the chat
    finally:
        await watcher.disconnect()
        await counselor.disconnect()
        sessions["counselor"].act(chat, "close", {"outcome": "other"})


# ---------------------------------------------------------------- audit

def test_opening_a_transcript_is_audited(gateway, sessions, chats):
    started = utcnow() - timedelta(seconds=2)
    assert sessions["staff"].conversation(chats["general"]).status_code == 200
    assert sessions["counselor"].conversation(chats["general"]).status_code == 403
    entries = sessions["admin"].get("/staff/api/audit").json()["entries"]
    views = [e for e in entries if e["action"] == "view_transcript" and e["conversation_id"] == chats["general"]]
    newest = views[0]
    assert newest["username"] == "sec-staff"
    assert started <= datetime.fromisoformat(newest["at"].rstrip("Z")) <= utcnow() + timedelta(seconds=2)
    assert "sec-counselor" not in {e["username"] for e in views}  # refused, so nothing was seen
    assert {"login"} <= {e["action"] for e in entries if e["username"] == "sec-staff"}


# ---------------------------------------------------------------- secrets never stored or logged

def test_passwords_and_session_tokens_never_in_logs_or_database(gateway, sessions):
    cli_password, api_password = "cli-Secret-pw-7781", "api-Secret-pw-4412"
    wrong_password, unknown_password = "wrong-Secret-pw-1199", "unknown-Secret-pw-5530"
    created = create_staff_user(gateway, "sec-logcheck", "staff", cli_password)
    assert cli_password not in created.stdout + created.stderr
    assert sessions["admin"].post("/staff/api/users", {"username": "sec-apiuser", "password": api_password,
                                                      "role": "counselor"}).status_code == 200
    assert post_login(gateway.url, "sec-logcheck", wrong_password).status_code == 401
    assert post_login(gateway.url, "nobody-here", unknown_password).status_code == 401
    logged_in = [staff_login(gateway, "sec-logcheck", cli_password), staff_login(gateway, "sec-apiuser", api_password)]
    tokens = [s.token for s in logged_in] + [s.token for s in sessions.values()]
    passwords = [cli_password, api_password, wrong_password, unknown_password, *PASSWORD.values()]

    log = gateway.log()
    assert "sec-logcheck" in log and "login failed" in log  # it is the right log, and it has the events
    database = b"".join(path.read_bytes() for path in gateway.data_dir.glob("gateway.db*"))  # with WAL
    assert b"sec-logcheck" in database and b"$argon2id$" in database
    for secret in passwords + tokens:
        assert secret not in log
        assert secret.encode() not in database


# ---------------------------------------------------------------- headers and cookies

@pytest.mark.parametrize("role, method, path", [
    (None, "GET", "/staff/login"),
    (None, "GET", "/staff"),
    ("staff", "GET", "/staff"),
    (None, "GET", "/staff/api/queue"),
    ("staff", "GET", "/staff/api/me"),
    ("staff", "GET", "/staff/api/queue"),
    ("staff", "GET", "/staff/api/conversations/{conv}"),
    ("staff", "GET", "/staff/api/users"),
    ("staff", "GET", "/staff/api/conversations/rest%3Ano-such-chat"),
    ("supervisor", "GET", "/staff/api/unanswered.csv"),
    ("admin", "GET", "/staff/api/audit"),
    ("staff", "POST", "/staff/api/conversations/{conv}/note"),
])
def test_security_headers(gateway, sessions, chats, reply_id, role, method, path):
    headers = sessions[role].cookie if role else {}
    if method == "POST":
        headers = headers | {"X-CSRF-Token": "wrong"}
    answer = request(gateway, method, fill(path, chats, reply_id), headers, body_for(path))
    assert answer.status_code < 500
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_login_sets_httponly_samesite_strict_cookies(gateway, sessions):
    form = HTTP.get(f"{gateway.url}/staff/login")
    answer = post_login(gateway.url, "sec-supervisor", PASSWORD["supervisor"])
    assert answer.status_code == 303 and answer.headers["location"] == "/staff"
    for cookie in (set_cookies(form)["staff_login_csrf"], set_cookies(answer)["staff_session"]):
        assert cookie.get("httponly") is True
        assert cookie.get("samesite", "").lower() == "strict"
        assert cookie.get("path") == "/"
        assert len(cookie["value"]) >= 43
    # Secure ("auto") follows the gateway's configured address (PUBLIC_URL, here http://127.0.0.1:…), never
    # the Host header a client sends (tests/gateway/test_staff_origins.py: an https address, a forged Host).
    forged = HTTP.get(f"{gateway.url}/staff/login", headers={"Host": "chat.city.sapporo.example"})
    assert set_cookies(forged)["staff_login_csrf"].get("secure") is None


def test_no_stray_location_header_after_a_redirect(gateway, sessions):
    assert post_login(gateway.url, "sec-staff", PASSWORD["staff"]).headers["location"] == "/staff"
    assert HTTP.get(f"{gateway.url}/staff").headers["location"] == "/staff/login"
    for answer in (sessions["staff"].get("/staff/api/me"), HTTP.get(f"{gateway.url}/staff/api/me"),
                   HTTP.get(f"{gateway.url}/staff/login"), sessions["staff"].get("/staff")):
        assert answer.status_code in (200, 401)
        assert "location" not in answer.headers, (answer.request.url, answer.headers["location"])
