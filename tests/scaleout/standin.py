"""Stand-in engines for the short subset: tests/gateway/conftest.py's StandInEngine (answers like Rasa's REST
channel), plus what HAProxy's checks ask (GET / for an engine, GET /health for an action server's slot) and a
small delay per turn, so that turns are in flight when a fault comes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Dict, List

from aiohttp import web

from tests.gateway.conftest import StandInEngine


class BalancedStandIn(StandInEngine):
    def __init__(self, delay: float = 0.05) -> None:
        super().__init__()
        self.delay = delay

    async def _hello(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from the stand-in")

    async def _webhook(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        return await super()._webhook(request)

    def start(self) -> "BalancedStandIn":
        app = web.Application()
        app.router.add_get("/", self._hello)
        app.router.add_get("/health", self._hello)
        app.router.add_get("/status", self._status)
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        runner = web.AppRunner(app)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(runner.setup(), self._loop).result()
        asyncio.run_coroutine_threadsafe(web.TCPSite(runner, "127.0.0.1", self.port).start(), self._loop).result()
        self._runner = runner
        return self

    def texts_by_sender(self) -> Dict[str, List[str]]:
        by_sender: Dict[str, List[str]] = defaultdict(list)
        for body in list(self.received):
            by_sender[body["sender"].split("#")[0]].append(body["message"])
        return by_sender
