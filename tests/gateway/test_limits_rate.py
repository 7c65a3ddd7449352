"""Rate limits on the citizen doors (gateway/rate_limits.py): where each sits, and that real citizens get through.

Real gateway processes; other client addresses are real too (loopback has all of 127.0.0.0/8: a client bound to
127.0.0.2 is another address to the gateway). The Redis test runs a real redis-server when one is installed.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, List, Optional

import aiohttp
import httpx
import pytest
import sqlalchemy as sa

from tests.gateway.conftest import REST_AUTH, GatewayProcess
from tests.socketio_client import WidgetClient
from tools.redis_server import RedisServer, installed

POLITE = "少し時間をおいてから"


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), headers=REST_AUTH, timeout=20)


def post(client: httpx.Client, gateway: GatewayProcess, sender: str, text: str) -> httpx.Response:
    return client.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": text})


class WidgetFrom(WidgetClient):
    """A website visitor whose connection comes from ``address``."""

    def __init__(self, url: str, address: str) -> None:
        super().__init__(url)
        self.address = address

    async def connect(self, session_id: Optional[str] = None) -> str:
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(self.address, 0)))
        self.sio.eio.http, self.sio.eio.external_http = self.http, True
        return await super().connect(session_id)

    async def close(self) -> None:
        await super().close()
        await self.http.close()


async def replies(widget: WidgetClient, quiet: float = 1.0) -> List[Dict[str, Any]]:
    shown = [await widget.next_message(10)]
    while True:
        try:
            shown.append(await widget.next_message(quiet))
        except asyncio.TimeoutError:
            return shown


def rows(gateway: GatewayProcess, query: str) -> List[tuple]:
    engine = sa.create_engine(gateway.db_url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(query))]
    finally:
        engine.dispose()


# ---------------------------------------------------------------- the defaults, against a flood


@pytest.fixture(scope="module")
def defaults(engine, tmp_path_factory):
    """A gateway with the limits as shipped (the test fixtures switch them off by default)."""
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("limits"), RATE_LIMITS="on")
    yield process
    process.stop()


def test_a_flood_of_new_senders_does_not_fill_the_counseling_queue(defaults, engine):
    flooder = client_from("127.0.0.1")
    statuses: Dict[int, int] = {}
    for _ in range(500):
        answer = post(flooder, defaults, f"flood-{uuid.uuid4().hex}", "死にたい")
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        if answer.status_code == 429:
            text = answer.json()["messages"][0]["text"]
            assert POLITE in text and "110" in text and "0120-0-78310" in text, text
            assert int(answer.headers["retry-after"]) > 0
    assert statuses == {200: 30, 429: 470}, statuses  # RATE_LIMIT_NEW_CONVERSATIONS: 30 per hour
    queued = rows(defaults, "select count(*) from conversations where queue = 'counseling'")[0][0]
    stored = rows(defaults, "select count(*) from conversations")[0][0]
    assert queued <= 30 and stored == 30, (queued, stored)  # a refused message is neither stored nor queued
    assert engine.received == []  # and 死にたい never reached the engine

    # a child at another address is not affected: the desk answers and queues them
    child = post(client_from("127.0.0.2"), defaults, "child-elsewhere", "死にたい")
    assert child.status_code == 200
    assert any("0120-0-78310" in m["text"] for m in child.json()["messages"])
    assert rows(defaults, "select owner, queue from conversations where id = 'rest:child-elsewhere'") == \
        [("queued", "counseling")]

    async def widgets() -> None:
        # the widget meets the same limit from the flooded address, and not from another one
        flooded, other = WidgetFrom(defaults.url, "127.0.0.1"), WidgetFrom(defaults.url, "127.0.0.3")
        await flooded.connect()
        await other.connect()
        try:
            await flooded.say("死にたい")
            refused = await replies(flooded)
            assert len(refused) == 1 and POLITE in refused[0]["text"] and "110" in refused[0]["text"]
            assert (await flooded.errors.get())["error"] == "rate_limited"
            await other.say("死にたい")
            assert any("0120-0-78310" in m["text"] for m in await replies(other))
        finally:
            await flooded.close()
            await other.close()
        assert not rows(defaults, f"select id from conversations where id = 'web:{flooded.session_id}'")
        assert rows(defaults, f"select queue from conversations where id = 'web:{other.session_id}'") == \
            [("counseling",)]

    asyncio.run(widgets())
    # a conversation that got in goes on: its next message is answered
    first = rows(defaults, "select id from conversations where id like 'rest:flood-%' limit 1")[0][0]
    again = post(flooder, defaults, first.split(":", 1)[1], "まだいます")
    assert again.status_code == 200 and again.json()["messages"]
    assert defaults.alive()


# ---------------------------------------------------------------- each limit, small


@pytest.fixture(scope="module")
def small(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("small"), RATE_LIMITS="on",
                             RATE_LIMIT_NEW_CONVERSATIONS="4 per hour", RATE_LIMIT_ADDRESS_MESSAGES="10 per minute",
                             RATE_LIMIT_CONVERSATION_MESSAGES="5 per minute")
    yield process
    process.stop()


def test_messages_per_conversation_and_per_address(small, engine):
    async def run() -> None:
        widget = WidgetFrom(small.url, "127.0.0.4")
        await widget.connect()
        try:
            await widget.say("こんにちは")  # a new conversation: the new-conversation limit only
            assert (await replies(widget, 0.3))[0]["text"] == "echo:こんにちは"
            for n in range(5):  # 5 per minute in a known conversation
                await widget.say(f"質問{n}")
                assert (await replies(widget, 0.3))[0]["text"] == f"echo:質問{n}"
            await widget.say("質問5")
            refused = await replies(widget, 0.3)
            assert POLITE in refused[0]["text"]
            error = await widget.errors.get()
            assert error["error"] == "rate_limited" and error["limit"] == "conversation" and error["retry_after"] > 0
        finally:
            await widget.close()

    asyncio.run(run())
    assert "echo:質問5" not in str(engine.received)
    # per address: the address's chats with the bot share 10 messages a minute
    client = client_from("127.0.0.5")
    chats = ["a", "b", "c"]
    for chat in chats:
        assert post(client, small, f"addr-{chat}", "こんにちは").status_code == 200  # new conversations: not counted
    answered = [post(client, small, f"addr-{chats[n % 3]}", f"続き{n}").status_code for n in range(12)]
    assert answered == [200] * 10 + [429] * 2, answered
    other = client_from("127.0.0.6")
    assert post(other, small, "elsewhere", "こんにちは").status_code == 200
    assert post(other, small, "elsewhere", "続き").status_code == 200


def test_a_chat_with_a_person_is_not_cut_off_by_a_busy_address(small):
    client = client_from("127.0.0.7")
    assert post(client, small, "waiting", "人と話したい").status_code == 200  # queued for a person
    for chat in ("busy-a", "busy-b", "busy-c"):
        assert post(client, small, chat, "こんにちは").status_code == 200
    for n in range(10):
        assert post(client, small, f"busy-{'ab'[n % 2]}", f"続き{n}").status_code == 200
    assert post(client, small, "busy-c", "もう一つ").status_code == 429  # the address's bot chats are at the limit
    waiting = post(client, small, "waiting", "まだですか")  # a queued chat: per-conversation limit only
    assert waiting.status_code == 200 and "お待ちください" in waiting.json()["messages"][0]["text"]


def test_new_conversations_per_address(small):
    client = client_from("127.0.0.8")
    statuses = [post(client, small, f"new-{n}", "こんにちは").status_code for n in range(6)]
    assert statuses == [200] * 4 + [429] * 2
    assert post(client, small, "new-0", "続き").status_code == 200  # a known conversation goes on


def test_the_address_behind_a_trusted_proxy(small):
    """uvicorn believes X-Forwarded-For only from FORWARDED_ALLOW_IPS (default 127.0.0.1, a proxy on this machine)."""
    proxy, stranger = client_from("127.0.0.1"), client_from("127.0.0.10")

    def new_chat(client: httpx.Client, forwarded: str) -> int:
        return client.post(f"{small.url}/api/messages", headers={"X-Forwarded-For": forwarded},
                           json={"sender": f"xff-{uuid.uuid4().hex}", "message": "こんにちは"}).status_code

    assert [new_chat(proxy, "203.0.113.7") for _ in range(5)] == [200] * 4 + [429]
    assert new_chat(proxy, "203.0.113.8") == 200  # another citizen behind the proxy
    # a client that is no trusted proxy cannot choose its address
    assert [new_chat(stranger, f"203.0.113.{n}") for n in range(20, 25)] == [200] * 4 + [429]


def test_the_evaluations_stop_with_advice_instead_of_scoring_refusals(small):
    from tests.socketio_client import RATE_LIMITED_ADVICE, one_chat
    from tools.eval_e2e import WidgetChat

    client = client_from("127.0.0.1")  # the evaluations' address
    for n in range(4):
        post(client, small, f"eval-{n}", "こんにちは")

    async def run() -> None:
        with pytest.raises(SystemExit, match="RATE_LIMITS=off"):
            await one_chat(small.url, "こんにちは", 0.3)  # tools/eval_triage_stack.py
        chat = WidgetChat(small.url, 0.3)  # tools/eval_e2e.py
        await chat.start()
        try:
            with pytest.raises(SystemExit) as stopped:
                await chat.say("こんにちは")
            assert str(stopped.value) == RATE_LIMITED_ADVICE
        finally:
            await chat.close()

    asyncio.run(run())


def test_switched_off_nothing_is_refused(gateway):
    client = client_from("127.0.0.1")  # the shared test gateway: RATE_LIMITS=off (tests/gateway/conftest.py)
    assert {post(client, gateway, f"off-{n}", "こんにちは").status_code for n in range(60)} == {200}


# ---------------------------------------------------------------- several gateways share the counters


@pytest.fixture
def redis_url():
    if not installed():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer().start()
    yield server.url(), server
    server.stop()


def test_two_gateways_share_the_limits_through_redis(engine, tmp_path, redis_url):
    url, server = redis_url
    env = {"RATE_LIMITS": "on", "RATE_LIMIT_STORAGE_URL": url, "RATE_LIMIT_NEW_CONVERSATIONS": "3 per hour"}
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = GatewayProcess(engine.url, tmp_path / "one", **env)
    second = GatewayProcess(engine.url, tmp_path / "two", **env)
    try:
        client = client_from("127.0.0.9")
        statuses = [post(client, gw, f"shared-{n}", "こんにちは").status_code
                    for n, gw in enumerate([first, second, first, second])]
        assert statuses == [200, 200, 200, 429], statuses
        # Redis gone: citizens are let through, and the failure is logged
        server.stop()
        assert post(client, first, "shared-after", "こんにちは").status_code == 200
        assert "rate limit storage failed" in first.log()
    finally:
        first.stop()
        second.stop()
