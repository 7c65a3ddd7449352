"""Two gateway processes on one PostgreSQL and one Redis (SOCKETIO_REDIS_URL): the widget's pushes and the staff
console's live events reach the sockets on the OTHER gateway, with the same rules as on one — a chat moved away
stops reaching a watcher there, counseling text never reaches general staff there, a logout ends the sockets
there. Real redis-server and PostgreSQL on loopback, the stand-in engine; the gateways start once for the module.
The last test stops Redis: each gateway still serves its own sockets; once Redis is back, so do the others.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from typing import Any, Dict, List, Tuple

import pytest
import socketio
import sqlalchemy as sa
from cryptography.fernet import Fernet

from gateway.bus import RedisBus
from tests.gateway.conftest import HTTP, GatewayProcess, StaffSession, staff_login, staff_user
from tests.socketio_client import WidgetClient
from tools.redis_server import RedisServer, installed

NAMESPACE = "/staff"
ARRIVES = 1.0  # a staff reply through gateway 2 on the widget of gateway 1 (issue #15)
EVENT_WITHIN = 3.0  # a console event on the other gateway (a DB read on each side, a loaded 2-core machine)
QUIET = 1.0  # how long a socket is watched for what must not come
MINUTES_PER_CHAT = 20  # tests/gateway/hours_always_open.yml


@pytest.fixture(scope="module")
def redis_server():
    if not installed():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_db(postgres_url):
    """A fresh database on the throwaway PostgreSQL, its tables made before the gateways start together."""
    server = sa.engine.make_url(postgres_url).set(drivername="postgresql+psycopg")
    name = "live_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = server.set(database=name).render_as_string(hide_password=False)
    from gateway.storage.db import connect
    connect(url).dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="module")
def gateways(engine, tmp_path_factory, redis_server, shared_db):
    """Gateway 1 and gateway 2: one database, one Redis, the same secrets (sessions, counseling keys)."""
    env = {"GATEWAY_DB_URL": shared_db, "SOCKETIO_REDIS_URL": redis_server.url(),
           "WEBCHAT_SESSION_SECRET": "live-test-" + uuid.uuid4().hex, "COUNSELING_KEYS": Fernet.generate_key().decode()}
    pair = [GatewayProcess(engine.url, tmp_path_factory.mktemp("gateway1"), **env)]
    try:  # one after the other: two starting at once on a busy 2-core machine can each take a minute
        pair.append(GatewayProcess(engine.url, tmp_path_factory.mktemp("gateway2"), **env))
    except BaseException:
        pair[0].stop()
        raise
    yield pair
    for process in pair:
        process.stop()


@pytest.fixture(scope="module")
def people(gateways) -> Dict[str, StaffSession]:
    """Staff made once with the CLI (one database); each logs in on the gateway the test names."""
    first, _ = gateways
    made = {}
    for role in ("staff", "staff2", "counselor", "counselor2", "supervisor", "admin"):
        made[role] = staff_user(first, f"live-{role}", role.rstrip("2"))
    return made


def on(gateway: GatewayProcess, person: StaffSession) -> StaffSession:
    """The same person logged in on ``gateway`` (a new session there)."""
    return staff_login(gateway, person.username, f"pw-{person.username}-0123456789")


class Console:
    """A staff console's live connection: every event with its payload and arrival time."""

    EVENTS = ("queue", "message", "conversation", "alert", "typing", "delivery", "escalation")

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: List[Tuple[float, str, Any]] = []
        self.disconnected = asyncio.Event()
        for name in self.EVENTS:
            self.client.on(name, self._recorder(name), namespace=NAMESPACE)
        self.client.on("disconnect", lambda *_: self.disconnected.set(), namespace=NAMESPACE)

    def _recorder(self, name: str):
        def record(data: Any = None) -> None:
            self.events.append((time.monotonic(), name, data))
        return record

    @classmethod
    async def open(cls, gateway: GatewayProcess, session: StaffSession) -> "Console":
        console = cls()
        await console.client.connect(gateway.url, namespaces=[NAMESPACE], transports=["websocket"],
                                     headers=dict(session.cookie), wait_timeout=10)
        await console.wait_for(lambda name, data: name == "queue", 10)  # sent on connect
        return console

    async def watch(self, conversation_id: str) -> Dict:
        return await self.client.call("watch", {"conversation_id": conversation_id}, namespace=NAMESPACE, timeout=10)

    async def wait_for(self, match, seconds: float, since: float = 0.0) -> Tuple[float, str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for event in self.events:
                if event[0] >= since and match(event[1], event[2]):
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching event within {seconds}s; got {[e[1] for e in self.events if e[0] >= since]}")

    def texts_after(self, since: float, conversation_id: str) -> List[str]:
        return [str(data["message"].get("text")) for at, name, data in self.events
                if at >= since and name == "message" and data.get("conversation_id") == conversation_id]

    async def close(self) -> None:
        if self.client.connected:
            await self.client.disconnect()


def citizen_says(gateway: GatewayProcess, sender: str, text: str) -> Dict[str, Any]:
    answer = HTTP.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text
    return answer.json()


def waiting_chat(gateway: GatewayProcess, request: str = "/request_human") -> str:
    sender = f"live-{uuid.uuid4().hex[:8]}"
    citizen_says(gateway, sender, request)
    return f"rest:{sender}"


def in_queue(data: Any, conversation_id: str) -> bool:
    return conversation_id in str(data)


# ---------------------------------------------------------------------------------------------------------- tests

async def test_a_staff_reply_through_gateway_2_reaches_a_widget_on_gateway_1_within_a_second(gateways, people):
    first, second = gateways
    clerk = on(second, people["staff"])
    console = await Console.open(second, clerk)
    widget = WidgetClient(first.url, keep_ids=True)
    await widget.connect()
    conversation = f"web:{widget.session_id}"
    try:
        await widget.ask("人と話したい")
        while "番目" not in str((await widget.next_message(10)).get("text")):
            pass
        assert clerk.act(conversation, "claim").status_code == 200
        while not str((await widget.next_message(10)).get("text", "")).startswith("担当"):
            pass  # 「担当者が…」 (pushed from gateway 2 already)
        sent = time.monotonic()
        answer = clerk.act(conversation, "reply", {"text": "ゲートウェイ2からの返信です"})
        assert answer.status_code == 200, answer.text
        # a tab is connected (on the other gateway): "sent", not "offline" (「未達」)
        assert answer.json()["message"]["delivery"] in ("sent", "delivered"), answer.json()
        reply = await widget.next_message(ARRIVES)
        took = time.monotonic() - sent
        assert reply["text"] == "ゲートウェイ2からの返信です" and reply["sender"] == "staff", reply
        print(f"staff reply through gateway 2 on the widget of gateway 1 after {took * 1000:.0f} ms")
        # the widget's acknowledgement (on gateway 1) is recorded and shown on the console of gateway 2
        message_id = answer.json()["message"]["id"]
        await console.wait_for(lambda name, data: name == "delivery" and message_id in
                               [m["id"] for m in data["messages"]], EVENT_WITHIN, sent)
        # the citizen typing on gateway 1 is shown to the owner on gateway 2
        before = time.monotonic()
        await widget.sio.emit("user_typing", {"session_id": widget.token})
        await console.wait_for(lambda name, data: name == "typing" and data == {"conversation_id": conversation},
                               EVENT_WITHIN, before)
    finally:
        await widget.close()
        await console.close()


async def test_a_widget_on_no_gateway_is_offline_for_a_reply_from_either(gateways, people):
    first, second = gateways
    widget = WidgetClient(first.url)
    await widget.connect()
    conversation = f"web:{widget.session_id}"
    await widget.ask("人と話したい")
    await widget.close()
    clerk = on(second, people["staff2"])
    assert clerk.act(conversation, "claim").status_code == 200
    await asyncio.sleep(0.3)  # the disconnect's unmark
    answer = clerk.act(conversation, "reply", {"text": "届かない返信"})
    assert answer.status_code == 200 and answer.json()["message"]["delivery"] == "offline", answer.text


async def test_a_queue_change_on_gateway_1_reaches_a_console_on_gateway_2(gateways, people):
    first, second = gateways
    console = await Console.open(second, on(second, people["staff"]))
    try:
        before = time.monotonic()
        conversation = waiting_chat(first)
        at, _, _ = await console.wait_for(lambda name, data: name == "queue" and in_queue(data, conversation),
                                          EVENT_WITHIN, before)
        print(f"queue change on gateway 1 seen on gateway 2 after {(at - before) * 1000:.0f} ms")
    finally:
        await console.close()


async def test_a_chat_moved_away_on_gateway_1_stops_reaching_a_watcher_on_gateway_2(gateways, people):
    first, second = gateways
    watcher = await Console.open(second, on(second, people["staff"]))  # general staff: may watch a waiting chat
    witness = await Console.open(second, on(second, people["supervisor"]))  # sees every live chat
    try:
        conversation = waiting_chat(first)
        assert await watcher.watch(conversation) == {"ok": True}
        assert await witness.watch(conversation) == {"ok": True}
        owner = on(first, people["staff2"])
        sender = conversation.split(":", 1)[1]
        # on gateway 1: claimed by another clerk (the watcher may no longer see it), then sent to the counselors
        for step, move in (("claimed", lambda: owner.act(conversation, "claim")),
                           ("transferred", lambda: owner.act(conversation, "transfer", {"queue": "counseling"}))):
            since = time.monotonic()
            assert move().status_code == 200, step
            await witness.wait_for(lambda name, data: name == "conversation"
                                   and data["conversation"]["id"] == conversation,
                                   EVENT_WITHIN, since)  # gateway 2 has heard of the move
            citizen_says(first, sender, f"{step}: この後のメッセージです")
            await witness.wait_for(lambda name, data: name == "message" and step in str(data), EVENT_WITHIN, since)
            await asyncio.sleep(QUIET)
            assert watcher.texts_after(since, conversation) == [], f"{step}: a pruned watcher on gateway 2 got the chat"
    finally:
        await watcher.close()
        await witness.close()


async def test_counseling_text_never_reaches_general_staff_on_the_other_gateway(gateways, people):
    first, second = gateways
    youth = f"live-{uuid.uuid4().hex[:8]}"
    citizen_says(first, youth, "/request_counselor")
    counseling = f"rest:{youth}"
    clerk_chat = waiting_chat(first)
    clerk = on(second, people["staff"])
    assert clerk.act(clerk_chat, "claim").status_code == 200  # a general chat the clerk owns, on gateway 2
    consoles = {name: await Console.open(second, on(second, people[name]))
                for name in ("staff", "counselor", "supervisor", "admin")}
    try:
        assert await consoles["staff"].watch(counseling) == {"ok": False}
        for name in ("counselor", "supervisor", "admin"):
            assert await consoles[name].watch(counseling) == {"ok": True}, name
        assert await consoles["supervisor"].watch(clerk_chat) == {"ok": True}
        since = time.monotonic()
        secret = "live-secret-" + uuid.uuid4().hex[:6]
        citizen_says(first, youth, f"学校のことで悩んでいます {secret}")
        citizen_says(first, clerk_chat.split(":", 1)[1], f"今から死ぬ {secret}")  # danger in a clerk's chat
        for name in ("counselor", "supervisor"):
            await consoles[name].wait_for(lambda n, data: n == "message" and secret in str(data), EVENT_WITHIN, since)
        await consoles["supervisor"].wait_for(lambda n, data: n == "message" and data["conversation_id"] == clerk_chat
                                              and secret in str(data), EVENT_WITHIN, since)
        await asyncio.sleep(QUIET)
        for name in ("staff", "admin"):
            leaked = [e for e in consoles[name].events if e[0] >= since and secret in str(e[2])]
            assert leaked == [], f"counseling text reached {name} on the other gateway: {leaked}"
    finally:
        for console in consoles.values():
            await console.close()


async def test_logout_on_gateway_1_ends_the_sessions_sockets_on_gateway_2(gateways, people):
    first, second = gateways
    session = on(first, people["counselor"])
    other = on(first, people["counselor"])  # another browser of the same person lives on
    ending, living = await Console.open(second, session), await Console.open(second, other)
    try:
        started = time.monotonic()
        assert session.post("/staff/logout").status_code == 200
        await asyncio.wait_for(ending.disconnected.wait(), 2.0)
        print(f"logout on gateway 1 ended the socket on gateway 2 after {(time.monotonic() - started) * 1000:.0f} ms")
        await asyncio.sleep(0.3)
        assert living.client.connected and not living.disconnected.is_set()
    finally:
        await ending.close()
        await living.close()


async def test_the_wait_estimate_counts_the_counselors_online_on_every_gateway(gateways, people):
    """A youth on gateway 1 is told the wait shared by the counselors online: one on gateway 1, one on gateway 2."""
    first, second = gateways
    waiting_chat(first, "/request_counselor")  # someone ahead: the estimate is not the minimum
    consoles = [await Console.open(first, on(first, people["counselor"])),
                await Console.open(second, on(second, people["counselor2"]))]
    try:
        await asyncio.sleep(2.5)  # the sweep (every second) reads the other gateway's marks
        answer = citizen_says(first, f"live-{uuid.uuid4().hex[:8]}", "/request_counselor")
        text = " ".join(str(m.get("text", "")) for m in answer["messages"])
        found = re.search(r"(\d+)番目です（待ち時間の目安：約(\d+)分）", text)
        assert found, text
        ahead = int(found.group(1)) - 1
        assert ahead >= 1 and int(found.group(2)) == math.ceil(ahead * MINUTES_PER_CHAT / 2), text
    finally:
        for console in consoles:
            await console.close()


async def test_the_bus_marks_are_seen_by_other_gateways_and_expire(redis_server):
    """gateway/bus.py itself, two buses in this process on the test's Redis: an event is handled once on each
    gateway, a mark is seen by the other until it is removed, and one left by a killed gateway expires."""
    one, two = RedisBus(redis_server.url(), mark_ttl=1.0, mark_refresh=0.3), RedisBus(redis_server.url())
    heard: Dict[str, List[Any]] = {"one": [], "two": []}

    async def hear_one(data):
        heard["one"].append(data)

    async def hear_two(data):
        heard["two"].append(data)

    one.on("t", hear_one)
    two.on("t", hear_two)
    await one.start()
    await two.start()
    try:
        await asyncio.sleep(0.5)  # both subscribed
        await one.publish("t", {"n": 1})
        for _ in range(50):
            if heard["two"]:
                break
            await asyncio.sleep(0.02)
        assert heard == {"one": [{"n": 1}], "two": [{"n": 1}]}
        key = "test:" + uuid.uuid4().hex
        await one.mark(key, "sid-1")
        assert await two.present(key) and await two.members(key) == ["sid-1"]
        await asyncio.sleep(1.5)  # refreshed while held
        assert await two.present(key)
        await one.unmark(key, "sid-1")
        assert not await two.present(key)
        await one.mark(key, "sid-2")
        one._tasks[1].cancel()  # no refresh any more: as if the gateway had been killed
        await asyncio.sleep(1.3)
        assert not await two.present(key)
    finally:
        await one.stop()
        await two.stop()


async def test_redis_down_each_gateway_serves_its_own_sockets_and_recovers(gateways, people, redis_server):
    """Without Redis a gateway is one gateway: its own console and widgets work, the other gateway's miss its
    events (documented). When Redis is back the two find each other again (listeners reconnect within seconds)."""
    first, second = gateways
    here = await Console.open(first, on(first, people["staff"]))
    there = await Console.open(second, on(second, people["staff2"]))
    widget = WidgetClient(first.url)
    await widget.connect()
    redis_server.stop()
    try:
        before = time.monotonic()
        conversation = waiting_chat(first)
        await here.wait_for(lambda name, data: name == "queue" and in_queue(data, conversation), EVENT_WITHIN, before)
        assert not [e for e in there.events if e[0] >= before and in_queue(e[2], conversation)]
        chat = f"web:{widget.session_id}"
        await widget.ask("人と話したい")
        clerk = on(first, people["staff"])
        assert clerk.act(chat, "claim").status_code == 200
        answer = clerk.act(chat, "reply", {"text": "Redisなしでも届きます"})
        assert answer.status_code == 200 and answer.json()["message"]["delivery"] != "offline", answer.text
        while (await widget.next_message(5)).get("text") != "Redisなしでも届きます":
            pass
        assert first.alive() and second.alive()
        redis_server.start()
        deadline, seen = time.monotonic() + 20, None
        while seen is None and time.monotonic() < deadline:
            before = time.monotonic()
            conversation = waiting_chat(first)
            try:
                seen = await there.wait_for(lambda name, data: name == "queue" and in_queue(data, conversation),
                                            1.0, before)
            except AssertionError:
                pass
        assert seen, "gateway 2 never heard from gateway 1 again after Redis came back"
    finally:
        await widget.close()
        await here.close()
        await there.close()
