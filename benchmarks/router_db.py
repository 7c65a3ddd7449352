"""The gateway's own time per turn on its database, in-process: SQLite against PostgreSQL, side by side (issue #15).

    .venv/gateway/bin/python benchmarks/router_db.py [--turns 200] [--runs 5]
    .venv/gateway/bin/python benchmarks/router_db.py --gateway      # round trips of a real gateway process

A widget turn as connectors/webchat.py makes it (``widget_turn``: the router's turn, then the channel's read of
the counseling flag when the router does not give it), one client, against an instant stand-in engine (tests/gateway/conftest.py), on a SQLite file
and on a throwaway PostgreSQL (tools/pg.py). Prints
  - the round trips to PostgreSQL per turn, counted on the wire (tests/gateway/pg_wire.py), for an ordinary turn
    and for a chat's first turn, with the statements sent (deterministic: the primary figure);
  - "router ms" per turn (the router's turn minus the engine's round trip, as the gateway's /metrics give it),
    p50/p95 of each run and the median over the runs (time figures are noisy on a shared machine), and "widget ms":
    the same plus the channel's own read of the counseling flag when it makes one (outside the router's figure).
With ``--gateway``: the round trips of a real gateway process (tests/gateway/conftest.py's GatewayProcess) per widget
turn (Socket.IO) and per LINE turn (signed webhook → reply, the fake LINE platform, until the inbox row is done and
the chat's lock let go), each turn counted alone (the wire quiet before and after), with the gateway's periodic
jobs off (``QUIET_JOBS``): deterministic, as tests/gateway/test_db_round_trips.py holds them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Tuple

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from common.conversation_id import ConversationId  # noqa: E402
from connectors.webchat import CHANNEL  # noqa: E402
from gateway.counseling.crypto import TranscriptCipher  # noqa: E402
from gateway.counseling.classifier import default_triage  # noqa: E402
from gateway.handoff.engine_client import EngineClient  # noqa: E402
from gateway.handoff.router import Router  # noqa: E402
from gateway.storage.conversations import HandoffStore  # noqa: E402
from gateway.storage.db import connect, run_db  # noqa: E402
from tests.gateway.conftest import StandInEngine  # noqa: E402
from tests.gateway.pg_wire import WireCounter  # noqa: E402
from tools.pg import temporary_postgres  # noqa: E402

TURNS = ["こんにちは", "ごみの出し方を知りたい", "menu", "ありがとう", "住民票はどこで取れますか"]  # a new chat every 5


async def widget_turn(router: Router, session_id: str, text: str) -> Tuple[float, float]:
    """One widget turn as connectors/webchat.py ``_user_uttered`` makes it (no rate limits); returns router seconds
    (the router's turn minus the engine's round trip) and widget seconds (that and the channel's read)."""
    engine_seconds: List[float] = []
    send = router.engine.send

    async def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await send(*args, **kwargs)
        finally:
            engine_seconds.append(time.perf_counter() - started)

    router.engine.send = timed
    try:
        started = time.perf_counter()
        turn = await router.handle_turn(session_id, CHANNEL, text)
        took = time.perf_counter() - started - sum(engine_seconds)
    finally:
        del router.engine.send
    assert turn.replies and turn.replies[0].get("text"), turn.replies
    read = time.perf_counter()
    if turn.counseling is None:  # the channel reads the counseling flag itself
        await run_db(router.store.get, str(ConversationId(CHANNEL, session_id)))
    return took, took + time.perf_counter() - read


def make_router(url: str, engine_url: str) -> Router:
    from cryptography.fernet import Fernet
    store = HandoffStore(connect(url), TranscriptCipher([Fernet.generate_key().decode()]))
    return Router(EngineClient(engine_url), store)


async def count_round_trips(router: Router, wire: WireCounter, turns: int = 10) -> Dict[str, Tuple[int, List[str]]]:
    """Round trips (and statements) of a chat's first turn and of the ordinary turns after it (the most any of them
    took). Warmed first: no connection is opened, and psycopg has prepared every statement (it prepares one on its
    fifth run, a round trip more once) before a counted turn."""
    for _ in range(6):
        session = uuid.uuid4().hex
        for text in TURNS:
            await widget_turn(router, session, text)
    session = uuid.uuid4().hex
    wire.reset()
    await widget_turn(router, session, TURNS[0])
    first = (wire.round_trips, list(wire.statements))
    counts = []
    for i in range(turns):
        wire.reset()
        await widget_turn(router, session, TURNS[1 + i % (len(TURNS) - 1)])
        counts.append((wire.round_trips, list(wire.statements)))
    return {"first": first, "ordinary": max(counts, key=lambda c: c[0])}


async def router_ms(router: Router, turns: int) -> Tuple[List[float], List[float]]:
    """Router ms and widget ms of each turn."""
    took, widget, session = [], [], uuid.uuid4().hex
    for i in range(turns):
        if i % len(TURNS) == 0:
            session = uuid.uuid4().hex
        router_s, widget_s = await widget_turn(router, session, TURNS[i % len(TURNS)])
        took.append(router_s * 1000)
        widget.append(widget_s * 1000)
    return took, widget


def short(sql: str) -> str:
    """A statement as the listing shows it: ping, BEGIN, COMMIT, or what it does to which tables."""
    sql = " ".join(sql.split())
    if sql in ("", ";"):
        return "ping"
    if sql.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK"):
        return sql.split()[0]
    writes = re.findall(r"\b(INSERT INTO|UPDATE|DELETE FROM) (\w+)", sql)
    if writes:
        return " + ".join(f"{verb.split()[0]} {table}" for verb, table in writes)
    found = re.search(r"\bFROM (\w+)", sql)
    return f"SELECT {found.group(1)}" if found else sql[:30]


def percentile(values: List[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# The gateway's periodic jobs off (counseling upkeep, reminders, retention; the LINE sweep once an hour): the wire
# then carries only the turns.
QUIET_JOBS = {"COUNSELING_SWEEP_SECONDS": "0", "REMINDER_INTERVAL": "0", "RETENTION_INTERVAL": "0",
              "LINE_INBOX_SWEEP_SECONDS": "3600"}


async def settled(wire: WireCounter, quiet: float = 0.3, limit: float = 10.0) -> None:
    """Until nothing crossed the wire for ``quiet`` seconds (a LINE turn's last writes follow its reply)."""
    deadline, last, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = wire.round_trips
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the wire did not settle: {wire.round_trips} round trips")


async def gateway_turns(url: str, wire: WireCounter, fake, turns: int, warm: int = 8) -> Dict[str, List[Tuple[int, List[str]]]]:
    """Each turn's round trips and statements of the real gateway at ``url`` (PostgreSQL behind ``wire``), widget and
    LINE (one user each, warmed first: chats made, connections open, statements prepared)."""
    from tests.gateway.line_fake import new_user, post_webhook, text_event
    from tests.socketio_client import WidgetClient

    widget = WidgetClient(url)
    await widget.connect()
    user = new_user()

    async def widget_turn_() -> None:
        await widget.ask("ごみの出し方を知りたい")

    async def line_turn() -> None:
        sent = text_event(user, "ごみの出し方を知りたい")
        assert post_webhook(url, [sent]).status_code == 200
        await asyncio.to_thread(fake.wait_for, lambda: any((r["json"] or {}).get("replyToken") == sent["replyToken"]
                                                           for r in fake.calls("reply")))

    found: Dict[str, List[Tuple[int, List[str]]]] = {}
    try:
        for name, turn in (("widget", widget_turn_), ("LINE", line_turn)):
            for _ in range(warm):
                await turn()
            found[name] = []
            for _ in range(turns):
                await settled(wire)
                wire.reset()
                await turn()
                await settled(wire)
                found[name].append((wire.round_trips, list(wire.statements)))
    finally:
        await widget.close()
    return found


async def gateway_round_trips(turns: int) -> None:
    """Round trips per turn of a real gateway process on PostgreSQL, widget and LINE (see the module's docstring)."""
    from collections import Counter
    from tests.gateway.conftest import GatewayProcess
    from tests.gateway.line_fake import FakeLineApi, LineStandInEngine, line_env

    fake, engine = FakeLineApi().start(), LineStandInEngine().start()
    try:
        with temporary_postgres() as server:
            server = sa.engine.make_url(server).set(drivername="postgresql+psycopg")
            with WireCounter(server.host, server.port) as wire:
                url = server.set(host=wire.host, port=wire.port).render_as_string(hide_password=False)
                gateway = GatewayProcess(engine.url, Path(tempfile.mkdtemp(prefix="bench-router-db-")),
                                         GATEWAY_DB_URL=url, **line_env(fake), **QUIET_JOBS)
                try:
                    found = await gateway_turns(gateway.url, wire, fake, turns)
                finally:
                    gateway.stop()
    finally:
        engine.stop()
        fake.stop()
    for name, counted in found.items():
        counts = [count for count, _ in counted]
        listed = Counter(short(s) for _, statements in counted for s in statements)
        print(f"  {name:6s} {statistics.mean(counts):5.1f} round trips per turn (min {min(counts)}, max {max(counts)}, "
              f"{turns} turns); statements per turn: "
              + ", ".join(f"{k} ×{v / turns:.1f}" for k, v in listed.most_common()))


async def run(args: argparse.Namespace) -> int:
    if args.gateway:
        print("Round trips to PostgreSQL per turn, a real gateway process (on the wire):")
        await gateway_round_trips(args.turns)
        return 0
    default_triage().triage("起動確認")  # the rules and the classifier load once, outside the figures
    engine = StandInEngine().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-router-db-"))
    try:
        with temporary_postgres() as server:
            server = sa.engine.make_url(server).set(drivername="postgresql+psycopg")
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.exec_driver_sql("CREATE DATABASE gateway")
            admin.dispose()
            pg_url = server.set(database="gateway").render_as_string(hide_password=False)
            with WireCounter(server.host, server.port) as wire:
                counted = make_router(str(sa.engine.make_url(pg_url).set(host=wire.host, port=wire.port)
                                          .render_as_string(hide_password=False)), engine.url)
                trips = await count_round_trips(counted, wire)
                counted.store.engine.dispose()
                await counted.engine.close()
            print("Round trips to PostgreSQL per widget turn (on the wire):")
            for name, (count, statements) in trips.items():
                print(f"  {name:9s} {count:3d}   " + ", ".join(short(s) for s in statements))
            routers = {"sqlite": make_router(f"sqlite:///{tmp / 'gateway.db'}", engine.url),
                       "postgresql": make_router(pg_url, engine.url)}
            for router in routers.values():
                await router_ms(router, 20)  # warm-up: pools, statement caches
            runs: Dict[str, List[Tuple[float, float, float]]] = {name: [] for name in routers}
            for _ in range(args.runs):
                for name, router in routers.items():
                    took, widget = await router_ms(router, args.turns)
                    runs[name].append((statistics.median(took), percentile(took, 95), statistics.median(widget)))
        print(f"\nRouter ms per widget turn, 1 client, instant engine ({args.runs} runs × {args.turns} turns; "
              "median over the runs of each run's p50 / p95):")
        for name, figures in runs.items():
            p50s = [f[0] for f in figures]
            print(f"  {name:10s} p50 {statistics.median(p50s):5.2f} ms  p95 {statistics.median(f[1] for f in figures):5.2f}"
                  f" ms   (runs' p50: {', '.join(f'{v:.2f}' for v in p50s)});  widget ms p50 "
                  f"{statistics.median(f[2] for f in figures):5.2f}")
        for router in routers.values():
            await router.engine.close()
            router.store.engine.dispose()
    finally:
        engine.stop()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200, help="turns per run and database")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gateway", action="store_true", help="round trips of a real gateway process, widget and LINE")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
