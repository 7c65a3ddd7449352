"""Steady load through HAProxy: widget clients (WebSocket and long-polling) and signed LINE webhooks.

Every turn is recorded (who, what, when it started and ended, what came back), so the tests can say which
turns failed and whether they were in flight when a fault was injected. Widget clients that lose their
connection (a gateway killed under them) reconnect with their session token, as rasa-webchat does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import aiohttp
import httpx

from gateway import texts
from tests.gateway.line_fake import FakeLineApi, post_webhook, text_event
from tests.socketio_client import WidgetClient

# Distinct texts: the order check in the tracker store reads them back (a sender's turns are these, in order).
TURNS = ["こんにちは", "何ができますか", "ごみの出し方を知りたい", "ありがとう", "ソファは何ごみ？", "asdfgh",
         "住民票ってコンビニで出せますか", "ハンガーの捨て方", "れいぞうこ", "区役所は何時まで開いてる？"]
# The gateway's ENGINE_TIMEOUT is 20 s, plus up to TICKET_LOCK_LIFETIME (30 s) for the turn after one that failed
# (gateway/handoff/engine_client.py): an answer (or the apology) comes before this
TURN_TIMEOUT = 55.0


@dataclass
class Turn:
    kind: str  # websocket | polling | line
    who: str
    text: str
    started: float
    ended: float = 0.0
    answer: Optional[str] = None  # the first text that came back
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.answer is not None and not self.apology

    @property
    def apology(self) -> bool:
        """The engine's apology, or the gateway's own when it could not handle the turn (its database restarting)."""
        return self.answer in (texts.ENGINE_DOWN, texts.TURN_FAILED)


def cookie_session() -> aiohttp.ClientSession:
    """aiohttp refuses cookies from IP addresses by default; HAProxy's stickiness cookie must be kept (as a
    browser does) for long-polling to reach the same gateway on every request."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def widget(url: str, transport: str) -> WidgetClient:
    client = WidgetClient(url, transports=[transport])
    client.sio.eio.http_factory = cookie_session
    return client


@dataclass
class Load:
    url: str  # the public URL (HAProxy)
    line_api: FakeLineApi
    websockets: int = 3
    pollings: int = 2
    line_users: int = 3
    interval: float = 1.5  # seconds between two turns of one sender (each sender: a steady rate)
    turns: List[Turn] = field(default_factory=list)
    line_events: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # reply token → {user, text, id}
    line_user_ids: List[str] = field(default_factory=list)
    widget_sessions: List[str] = field(default_factory=list)
    reconnects: int = 0

    async def run(self, seconds: float) -> "Load":
        deadline = time.monotonic() + seconds
        senders = ([self._widget("websocket", i, deadline) for i in range(self.websockets)]
                   + [self._widget("polling", i, deadline) for i in range(self.pollings)]
                   + [self._line(i, deadline) for i in range(self.line_users)])
        await asyncio.gather(*senders)
        return self

    async def _widget(self, transport: str, index: int, deadline: float) -> None:
        await asyncio.sleep(index * self.interval / max(1, self.websockets + self.pollings))  # spread the starts
        client = widget(self.url, transport)
        await client.connect()
        self.widget_sessions.append(client.session_id)
        who = f"web:{client.session_id}"
        i = 0
        try:
            while time.monotonic() < deadline and i < len(TURNS):
                if not client.sio.connected:  # the widget reconnects before it sends (its gateway went away)
                    client = await self._reconnect(client, transport, deadline)
                    if client is None:
                        return
                turn = Turn(transport, who, TURNS[i], time.monotonic())
                self.turns.append(turn)
                i += 1
                while not client.messages.empty():  # the rest of the last turn's messages (buttons, a 2nd line)
                    client.messages.get_nowait()
                try:
                    await client.say(turn.text)
                    message = await client.next_message(TURN_TIMEOUT)
                    turn.answer = message.get("text") or str(message)
                except Exception as exc:  # noqa: BLE001 - a lost connection or no answer: this turn failed
                    turn.error = type(exc).__name__
                turn.ended = time.monotonic()
                if turn.error:
                    client = await self._reconnect(client, transport, deadline)
                    if client is None:
                        return
                await asyncio.sleep(max(0.0, self.interval - (turn.ended - turn.started)))
        finally:
            if client is not None:
                await client.close()

    async def _reconnect(self, old: WidgetClient, transport: str, deadline: float) -> Optional[WidgetClient]:
        """Reconnect with the same session token (rasa-webchat does), retrying until the deadline."""
        try:
            await old.close()
        except Exception:  # noqa: BLE001 - already gone
            pass
        while time.monotonic() < deadline:
            client = widget(self.url, transport)
            try:
                await client.connect(old.token)
                self.reconnects += 1
                return client
            except Exception:  # noqa: BLE001 - the balancer has not noticed the dead gateway yet
                await asyncio.sleep(0.5)
        return None

    async def _line(self, index: int, deadline: float) -> None:
        await asyncio.sleep(index * self.interval / max(1, self.line_users))
        user = "U" + uuid.uuid4().hex
        self.line_user_ids.append(user)
        i = 0
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline and i < len(TURNS):
                event = text_event(user, TURNS[i])
                i += 1
                turn = Turn("line", f"line:{user}", event["message"]["text"], time.monotonic())
                self.turns.append(turn)
                self.line_events[event["replyToken"]] = {"user": user, "text": turn.text, "turn": turn}
                # LINE redelivers a webhook that was not answered 200 (the gateway's inbox keeps one copy)
                while True:
                    try:
                        response = await asyncio.to_thread(post_webhook, self.url, [event])
                        if response.status_code == 200:
                            break
                        turn.error = f"webhook HTTP {response.status_code}"
                    except httpx.HTTPError as exc:
                        turn.error = f"webhook {type(exc).__name__}"
                    if time.monotonic() > deadline + 30:
                        return
                    await asyncio.sleep(1.0)
                    event["deliveryContext"] = {"isRedelivery": True}
                turn.error = ""
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - turn.started)))

    # ---------------------------------------------------------------- LINE results (from the fake platform)
    def collect_line(self, timeout: float = 60.0) -> None:
        """Wait until every LINE event was answered (by reply or, once its token expired, push) or ``timeout``;
        fill in the LINE turns' answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._line_answers(token) for token in self.line_events):
                break
            time.sleep(0.2)
        replied_at = {(r["json"] or {}).get("replyToken"): r["at"] for r in self.line_api.calls("reply")}
        for token, entry in self.line_events.items():
            answers = self._line_answers(token)
            entry["answers"] = answers
            turn: Turn = entry["turn"]
            turn.ended = replied_at.get(token) or time.monotonic()  # the fake's clock is time.monotonic() too
            if answers:
                first = answers[0]["messages"][0]
                turn.answer = first.get("text") or first.get("altText") or str(first)

    def _line_answers(self, token: str) -> List[Dict[str, Any]]:
        return [d for d in self.line_api.delivered if d["via"] == "reply" and d["to"] == token]

    def pushes_to(self, user: str) -> List[Dict[str, Any]]:
        return [d for d in self.line_api.delivered if d["via"] == "push" and d["to"] == user]

    def summary(self) -> str:
        by_kind: Dict[str, List[Turn]] = {}
        for turn in self.turns:
            by_kind.setdefault(turn.kind, []).append(turn)
        parts = [f"{kind}: {sum(t.ok for t in ts)}/{len(ts)} ok" for kind, ts in sorted(by_kind.items())]
        return ", ".join(parts) + f"; reconnects {self.reconnects}"
