"""A staff session ends everywhere at once: the console's open Socket.IO connections (namespace ``/staff``)
end with it — logout, deactivation and a password change (both with the admin CLI, another process),
expiry — within 2 s; after that no event reaches the socket, the cookie cannot reconnect and ``watch`` is
refused. Real gateway process, users made with the real CLI, logins through the real form.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from typing import Any, List, Tuple

import pytest
import socketio

from gateway.staff import auth as staff_auth
from gateway.storage.db import connect, utcnow
from tests.gateway.conftest import HTTP, ROOT, GatewayProcess, StaffSession, staff_login, staff_user

NAMESPACE = "/staff"
EVENTS = ("queue", "message", "conversation", "alert")
ENDS_WITHIN = 2.0


class StaffSocket:
    """The console's live connection: every event it gets, with the time, and when it was disconnected."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: List[Tuple[float, str]] = []
        self.disconnected = asyncio.Event()
        self.disconnected_at = 0.0
        for name in EVENTS:
            self.client.on(name, self._recorder(name), namespace=NAMESPACE)
        self.client.on("disconnect", self._on_disconnect, namespace=NAMESPACE)

    def _recorder(self, name: str):
        def record(*_: Any) -> None:
            self.events.append((time.monotonic(), name))
        return record

    def _on_disconnect(self, *_: Any) -> None:
        self.disconnected_at = time.monotonic()
        self.disconnected.set()

    @classmethod
    async def open(cls, gateway: GatewayProcess, session: StaffSession) -> "StaffSocket":
        socket = cls()
        # A copy: python-engineio deletes the Cookie entry from the dict it is given.
        await socket.client.connect(gateway.url, namespaces=[NAMESPACE], transports=["websocket"],
                                    headers=dict(session.cookie), wait_timeout=10)
        for _ in range(50):  # the queue is sent on connect
            if socket.events:
                break
            await asyncio.sleep(0.1)
        assert socket.events, "no queue on connect"
        return socket

    async def ended_within(self, seconds: float, since: float) -> float:
        try:
            await asyncio.wait_for(self.disconnected.wait(), seconds)
        except asyncio.TimeoutError:
            raise AssertionError(f"the socket was still open {seconds}s after its session ended") from None
        return self.disconnected_at - since

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


def admin_cli(gateway: GatewayProcess, *args: str, stdin: str = "") -> None:
    """``python -m gateway.staff.admin`` on the gateway's database: another process, as at a terminal."""
    result = subprocess.run([sys.executable, "-m", "gateway.staff.admin", *args, "--db", gateway.db_url], cwd=ROOT,
                            input=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def chat_waiting(gateway: GatewayProcess) -> str:
    """A citizen who asks for a person: a queue event for every online clerk."""
    sender = f"ses-{uuid.uuid4().hex[:8]}"
    answer = HTTP.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": "人と話したい"})
    assert answer.status_code == 200, answer.text
    return f"rest:{sender}"


async def assert_nothing_more(gateway: GatewayProcess, socket: StaffSocket, clerk: StaffSession) -> None:
    """After the end: new waiting chats (queue events for every online clerk) reach an online clerk's socket but
    not this one, and its cookie cannot open a new one."""
    witness = await StaffSocket.open(gateway, clerk)
    try:
        before = len(witness.events)
        chat_waiting(gateway)
        for _ in range(30):
            if len(witness.events) > before:
                break
            await asyncio.sleep(0.1)
        assert len(witness.events) > before, "the witness got no queue event: nothing was tested"
        await asyncio.sleep(0.3)
        late = [name for at, name in socket.events if at > socket.disconnected_at]
        assert late == [], f"events after the session ended: {late}"
    finally:
        await witness.close()


async def assert_cookie_refused(gateway: GatewayProcess, session: StaffSession) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await StaffSocket.open(gateway, session)


@pytest.fixture(scope="module")
def clerk(gateway) -> StaffSession:
    """An online clerk whose socket stays open: it shows the events the ended sockets must not get."""
    return staff_user(gateway, "ses-witness", "staff")


async def test_logout_ends_the_sessions_sockets_at_once_and_only_them(gateway, clerk):
    session = staff_user(gateway, "ses-logout", "staff")
    other = staff_login(gateway, "ses-logout", "pw-ses-logout-0123456789")  # a second browser of the same user
    first, second, elsewhere = [await StaffSocket.open(gateway, s) for s in (session, session, other)]
    try:
        started = time.monotonic()
        assert session.post("/staff/logout").status_code == 200
        for socket in (first, second):
            seconds = await socket.ended_within(ENDS_WITHIN, started)
            print(f"logout: socket closed after {seconds * 1000:.0f} ms")
        assert elsewhere.client.connected and not elsewhere.disconnected.is_set()  # the other session lives on
        await assert_nothing_more(gateway, first, clerk)
        await assert_cookie_refused(gateway, session)
        assert await elsewhere.client.call("watch", {"conversation_id": chat_waiting(gateway)},
                                           namespace=NAMESPACE, timeout=10) == {"ok": True}
    finally:
        for socket in (first, second, elsewhere):
            await socket.close()


@pytest.mark.parametrize("command", ["deactivate", "set-password"])
async def test_deactivation_or_new_password_from_the_cli_ends_open_sockets(gateway, clerk, command):
    username = f"ses-{command}"
    session = staff_user(gateway, username, "staff")
    socket = await StaffSocket.open(gateway, session)
    try:
        admin_cli(gateway, command, username, *(["--password-stdin"] if command == "set-password" else []),
                  stdin="a-brand-new-password-42\n")
        done = time.monotonic()
        seconds = await socket.ended_within(ENDS_WITHIN, done)
        print(f"{command}: socket closed {seconds * 1000:.0f} ms after the CLI returned")
        await assert_nothing_more(gateway, socket, clerk)
        await assert_cookie_refused(gateway, session)
    finally:
        await socket.close()


async def test_an_expired_session_ends_its_socket_and_watch_is_refused(gateway, clerk):
    session = staff_user(gateway, "ses-expiry", "staff")
    chat = chat_waiting(gateway)
    socket = await StaffSocket.open(gateway, session)
    try:
        assert await socket.client.call("watch", {"conversation_id": chat}, namespace=NAMESPACE,
                                        timeout=10) == {"ok": True}
        db = connect(gateway.db_url)
        with db.begin() as conn:  # its 12 hours are over (as if the clock had moved on)
            conn.execute(staff_auth.staff_sessions.update()
                         .where(staff_auth.staff_sessions.c.token_hash == staff_auth.token_hash(session.token))
                         .values(expires_at=utcnow() - timedelta(seconds=1)))
        ended = time.monotonic()
        try:  # at once, before any sweep: the event itself re-checks the session
            answer = await socket.client.call("watch", {"conversation_id": chat}, namespace=NAMESPACE, timeout=5)
        except (socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError):
            answer = None  # already disconnected: refused as well
        assert answer in ({"ok": False}, None)
        await socket.ended_within(ENDS_WITHIN, ended)
        await assert_nothing_more(gateway, socket, clerk)
        await assert_cookie_refused(gateway, session)
    finally:
        await socket.close()


async def test_a_deactivated_user_cannot_watch_even_before_the_sweep(gateway, clerk):
    """The session is read again on every event the socket sends, not only when it connects."""
    session = staff_user(gateway, "ses-watch", "staff")
    chat = chat_waiting(gateway)
    socket = await StaffSocket.open(gateway, session)
    db = connect(gateway.db_url)
    try:
        with db.begin() as conn:  # what deactivation writes, without the CLI's start-up time
            conn.execute(staff_auth.staff_users.update().where(staff_auth.staff_users.c.username == "ses-watch")
                         .values(active=False))
        try:
            answer = await socket.client.call("watch", {"conversation_id": chat}, namespace=NAMESPACE, timeout=5)
        except (socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError):
            answer = None
        assert answer in ({"ok": False}, None)
        await socket.ended_within(ENDS_WITHIN, time.monotonic())
    finally:
        with db.begin() as conn:
            conn.execute(staff_auth.staff_users.update().where(staff_auth.staff_users.c.username == "ses-watch")
                         .values(active=True))
        await socket.close()
