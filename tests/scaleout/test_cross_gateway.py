"""Two gateways, one service: what one gateway does reaches the widgets and consoles connected to the other
(python-socketio's AsyncRedisManager and the gateways' event bus on Redis, SOCKETIO_REDIS_URL)."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

import socketio

from gateway import texts
from tests.gateway.conftest import staff_user
from tests.socketio_client import WidgetClient


def gateway(topology, index: int) -> SimpleNamespace:
    """What tests/gateway/conftest.py's staff helpers need of a gateway: its URL and database."""
    return SimpleNamespace(url=topology.services[f"gateway{index}"].url, db_url=topology.db_url("gateway", "psycopg"))


async def _widget_waiting_for_a_person(url: str) -> WidgetClient:
    widget = WidgetClient(url)
    await widget.connect()
    await widget.ask("/request_human")
    return widget


def test_staff_reply_through_gateway_2_reaches_a_widget_on_gateway_1_within_1s(topology):
    staff_reply_crosses_gateways(topology)


def test_queue_change_on_gateway_1_reaches_a_console_on_gateway_2(topology):
    queue_change_crosses_gateways(topology)


def staff_reply_crosses_gateways(topology) -> None:
    clerk = staff_user(gateway(topology, 2), f"clerk-{uuid.uuid4().hex[:6]}", "staff")

    async def main() -> float:
        widget = await _widget_waiting_for_a_person(gateway(topology, 1).url)
        chat = f"web:{widget.session_id}"
        try:
            assert (await asyncio.to_thread(clerk.act, chat, "claim")).status_code == 200
            joined = await widget.next_message(5)
            assert joined == {"text": texts.STAFF_JOINED}, joined
            while not widget.messages.empty():
                widget.messages.get_nowait()
            sent = time.monotonic()
            answer = await asyncio.to_thread(clerk.act, chat, "reply", {"text": "担当の者です。ご用件をどうぞ。"})
            assert answer.status_code == 200, answer.text
            message = await widget.next_message(5)
            took = time.monotonic() - sent
            assert message["text"] == "担当の者です。ご用件をどうぞ。", message
            return took
        finally:
            await widget.close()

    took = asyncio.run(main())
    print(f"\nstaff reply gateway 2 → widget on gateway 1: {took * 1000:.0f} ms (request included)")
    assert took <= 1.0


def queue_change_crosses_gateways(topology) -> None:
    clerk = staff_user(gateway(topology, 2), f"watcher-{uuid.uuid4().hex[:6]}", "staff")

    async def main() -> float:
        heard: "asyncio.Queue" = asyncio.Queue()
        console = socketio.AsyncClient(reconnection=False)
        console.on("queue", heard.put, namespace="/staff")
        await console.connect(gateway(topology, 2).url, namespaces=["/staff"], transports=["websocket"],
                              headers=dict(clerk.cookie), wait_timeout=10)
        widget = None
        try:
            await asyncio.sleep(0.5)
            while not heard.empty():  # the queue as it was when the console connected
                heard.get_nowait()
            asked = time.monotonic()
            widget = await _widget_waiting_for_a_person(gateway(topology, 1).url)
            while True:
                payload = await asyncio.wait_for(heard.get(), 5)
                if widget.session_id in str(payload):
                    return time.monotonic() - asked
        finally:
            await console.disconnect()
            if widget is not None:
                await widget.close()

    took = asyncio.run(main())
    print(f"\nqueue change on gateway 1 → console on gateway 2: {took * 1000:.0f} ms (widget turn included)")
