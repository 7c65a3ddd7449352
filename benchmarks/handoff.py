"""Benchmark of the handoff path: a citizen's message to the staff console, a staff reply to the citizen.

    make bench-handoff   (or: .venv/gateway/bin/python benchmarks/handoff.py [--waiting 100] [--messages 200])

Starts the real gateway alone (the handoff path never calls the engine), puts ``--waiting`` widget
conversations in the general queue (each presses 「担当者と話す」), logs a member of staff in through the
real login form, claims one chat, then measures
  1. citizen → console: a widget message until the owner's console socket receives it,
  2. console → citizen: ``POST …/reply`` until the widget receives the reply,
and prints p50/p95, the time to queue all conversations and the gateway's memory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import httpx
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import percentile, rss_mb  # noqa: E402
from tests.socketio_client import WidgetClient  # noqa: E402
from tools.stack import free_port, http_ok  # noqa: E402

PASSWORD = "benchmark-password"


def start_gateway(data_dir: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ) | {"PORT": str(port), "HOST": "127.0.0.1", "DATA_DIR": str(data_dir),
                              "ENGINE_URL": f"http://127.0.0.1:{free_port()}", "LOG_LEVEL": "WARNING",
                              "RATE_LIMITS": "off"}  # a load test: every citizen comes from this one address
    subprocess.run([sys.executable, "-m", "gateway.staff.admin", "create-user", "bench", "--role", "staff",
                    "--password-stdin", "--db", f"sqlite:///{data_dir / 'gateway.db'}"],
                   input=PASSWORD + "\n", text=True, cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(data_dir / "gateway.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, env=env, stdout=log, stderr=log)
    for _ in range(100):
        if http_ok(f"http://127.0.0.1:{port}/staff/login") is not None or process.poll() is not None:
            break
        time.sleep(0.2)
    return process


async def log_in(url: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=url, timeout=30)
    page = await http.get("/staff/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    await http.post("/staff/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})
    me = (await http.get("/staff/api/me")).json()
    http.headers["X-CSRF-Token"] = me["csrf_token"]
    return http


def summary(name: str, values: List[float]) -> str:
    return (f"{name:<34} p50 {statistics.median(values):>6.1f} ms   p95 {percentile(values, 95):>6.1f} ms"
            f"   ({len(values)} messages)")


async def run(waiting: int, count: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gateway = start_gateway(data_dir, port)
    try:
        citizens = [WidgetClient(url) for _ in range(waiting)]
        started = time.perf_counter()
        for citizen in citizens:
            await citizen.connect()
        await asyncio.gather(*(c.ask("/request_human") for c in citizens))
        queued_in = time.perf_counter() - started

        http = await log_in(url)
        queue = (await http.get("/staff/api/queue")).json()
        assert len(queue["waiting"]) == waiting, queue
        console = socketio.AsyncClient(reconnection=False)
        received: "asyncio.Queue[Dict]" = asyncio.Queue()
        console.on("message", received.put, namespace="/staff")
        await console.connect(url, namespaces=["/staff"], transports=["websocket"],
                              headers={"Cookie": f"staff_session={http.cookies.get('staff_session')}"})
        target = citizens[0]
        conversation = f"web:{target.session_id}"
        claimed = await http.post(f"/staff/api/conversations/{conversation}/claim")
        assert claimed.status_code == 200, claimed.text
        while not target.messages.empty():
            target.messages.get_nowait()

        to_console: List[float] = []
        for i in range(count):
            sent = time.perf_counter()
            await target.say(f"ベンチマークのメッセージ {i}")
            while True:
                event = await asyncio.wait_for(received.get(), 10)
                if event["message"]["text"] == f"ベンチマークのメッセージ {i}":
                    break
            to_console.append((time.perf_counter() - sent) * 1000)

        to_citizen: List[float] = []
        for i in range(count):
            sent = time.perf_counter()
            response = await http.post(f"/staff/api/conversations/{conversation}/reply", json={"text": f"返信 {i}"})
            response.raise_for_status()
            while (await target.next_message(10)).get("text") != f"返信 {i}":
                pass
            to_citizen.append((time.perf_counter() - sent) * 1000)

        print(f"\n{waiting} conversations queued in {queued_in:.1f} s (connect + 「担当者と話す」)")
        print(summary("citizen → staff console", to_console))
        print(summary("staff reply → citizen", to_citizen))
        print(f"gateway memory (RSS): {rss_mb(gateway.pid):.0f} MB with {waiting} widget connections")
        await console.disconnect()
        await http.aclose()
        for citizen in citizens:
            await citizen.close()
    finally:
        gateway.terminate()
        gateway.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiting", type=int, default=100)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.waiting, args.messages))
