"""Engine failures never leave the citizen without an answer: Rasa's REST channel answers ``200 []`` when the
turn failed inside the engine (lock store, tracker store); the gateway treats that like an engine that is
down (gateway/handoff/engine_client.py): the apology with 「担当者と話す」, on the REST door and on LINE.
The engine here is a real HTTP server on loopback that answers ``[]`` (or, switched, an echo)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List

import httpx
import pytest
from aiohttp import web

from gateway import texts
from tests.gateway.conftest import REST_AUTH, GatewayProcess, free_port
from tests.gateway.line_fake import FakeLineApi, line_api, line_env, new_user, post_webhook, text_event  # noqa: F401


class EmptyEngine:
    """Rasa's REST channel after an internal error: 200 with an empty list (``empty = False``: an echo)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.empty = True
        self.received: List[Dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body)
        return web.json_response([] if self.empty else [{"recipient_id": body["sender"], "text": "echo:" + body["message"]}])

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response({"model_id": "empty-engine"})

    def start(self) -> "EmptyEngine":
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_get("/status", self._status)
        self._runner = web.AppRunner(app)
        asyncio.run_coroutine_threadsafe(self._runner.setup(), self._loop).result()
        asyncio.run_coroutine_threadsafe(web.TCPSite(self._runner, "127.0.0.1", self.port).start(), self._loop).result()
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)


@pytest.fixture(scope="module")
def empty_engine():
    engine = EmptyEngine().start()
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def failing_gateway(empty_engine, line_api, tmp_path_factory):
    process = GatewayProcess(f"http://127.0.0.1:{empty_engine.port}", tmp_path_factory.mktemp("empty-engine"),
                             **line_env(line_api))
    yield process
    process.stop()


@pytest.fixture
def engine(empty_engine, line_api):
    empty_engine.empty = True
    empty_engine.received.clear()
    line_api.reset()
    return empty_engine


def test_an_empty_engine_answer_gets_the_apology_with_a_person_on_rest(failing_gateway, engine):
    answer = httpx.post(f"{failing_gateway.url}/api/messages", json={"sender": "empty-1", "message": "粗大ごみの出し方"},
                        headers=REST_AUTH, timeout=10)
    assert answer.status_code == 200
    [message] = answer.json()["messages"]
    assert message["text"] == texts.ENGINE_DOWN
    assert [b["title"] for b in message["quick_replies"]] == [texts.HUMAN_BUTTON["title"]]
    assert [m["message"] for m in engine.received] == ["粗大ごみの出し方"]
    assert "engine unavailable" in failing_gateway.log() and "error=empty answer" in failing_gateway.log()
    # the offered button works without the engine: the citizen is queued for a person
    queued = httpx.post(f"{failing_gateway.url}/api/messages", json={"sender": "empty-1", "message": "/request_human"},
                        headers=REST_AUTH, timeout=10)
    assert queued.json()["messages"][0]["text"] == texts.waiting(1, "general")
    assert len(engine.received) == 1
    # the same engine answering: the answer passes through (the check is about emptiness, nothing else)
    engine.empty = False
    fine = httpx.post(f"{failing_gateway.url}/api/messages", json={"sender": "empty-2", "message": "こんにちは"},
                      headers=REST_AUTH, timeout=10)
    assert fine.json()["messages"][0]["text"] == "echo:こんにちは"


def test_an_empty_engine_answer_gets_the_apology_on_line(failing_gateway, engine, line_api: FakeLineApi):
    user = new_user()
    sent = text_event(user, "収集日を知りたい")
    assert post_webhook(failing_gateway.url, [sent]).status_code == 200
    reply = line_api.wait_for(lambda: next((r for r in line_api.calls("reply")
                                            if r["json"]["replyToken"] == sent["replyToken"]), None))
    [message] = reply["json"]["messages"]
    assert message["text"] == texts.ENGINE_DOWN
    assert [i["action"]["label"] for i in message["quickReply"]["items"]] == [texts.HUMAN_BUTTON["title"]]
    assert [m["message"] for m in engine.received] == ["収集日を知りたい"]
