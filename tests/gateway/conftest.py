"""Gateway tests run the real gateway process against a stand-in engine.

The stand-in is a real HTTP server on loopback that speaks the two engine endpoints the gateway uses
(Rasa's REST webhook and /status); tests switch it between healthy, failing, hanging and down.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandInEngine:
    """Answers like Rasa's REST channel: echoes the text, with buttons when asked for a menu."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "ok"  # ok | error | hang | garbage
        self.received: List[Dict[str, Any]] = []
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
        if self.mode == "error":
            return web.json_response({"error": "boom"}, status=500)
        if self.mode == "hang":  # until the test switches the mode back (at most 60 s)
            for _ in range(600):
                if self.mode != "hang":
                    break
                await asyncio.sleep(0.1)
        if self.mode == "garbage":
            return web.Response(text="<html>not json</html>")
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
    engine.received.clear()


class GatewayProcess:
    def __init__(self, engine_url: str, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "gateway.log"
        environment = dict(os.environ) | {
            "HOST": "127.0.0.1", "PORT": str(self.port), "ENGINE_URL": engine_url,
            "DATA_DIR": str(tmp), "ENGINE_TIMEOUT": "2", "PYTHONUNBUFFERED": "1",
        } | env
        self.proc = subprocess.Popen([sys.executable, "-m", "connectors"], cwd=ROOT, env=environment,
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError(self.log())

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
