"""The short subset (make test-scaleout-short, ≤ 4 min): PostgreSQL, Redis, HAProxy and 2 real gateways, with 2
stand-in engines behind HAProxy instead of Rasa (no model to load). What it proves of the gateway tier: HAProxy's
routing (consistent hashing by X-Conversation-Id, sticky long-polling), WebSocket + polling + LINE load, LINE events
answered exactly once and in order per sender, the cross-gateway staff reply and queue update, and SIGKILL of a
gateway, restarts of PostgreSQL and Redis mid-load. The engine-side proof (Rasa's tracker store on PostgreSQL,
SIGKILL of an engine) is in the full run (test_load.py, test_faults.py)."""

from __future__ import annotations

import asyncio
import signal
from collections import defaultdict
from typing import List

import pytest

from tests.scaleout.checks import line_problems
from tests.scaleout.load import Load
from tests.scaleout.test_cross_gateway import queue_change_crosses_gateways, staff_reply_crosses_gateways
from tests.scaleout.test_faults import judge, run_with_fault


def stand_in_order(stand_ins):
    """Like checks.order_problems, from what the stand-in engines received (each sender on one engine only)."""
    def problems(topology, load: Load) -> List[str]:
        found = []
        per_engine = [engine.texts_by_sender() for engine in stand_ins]
        sent = defaultdict(list)
        for turn in load.turns:
            sent[turn.who].append(turn)
        for who, turns in sent.items():
            where = [i for i, texts in enumerate(per_engine) if who in texts]
            if len(where) > 1:
                found.append(f"{who} reached both engines")
                continue
            texts = per_engine[where[0]][who] if where else []
            order = [t.text for t in turns]
            if len(texts) != len(set(texts)) or [t for t in order if t in texts] != texts:
                found.append(f"{who}: sent {order}, engine got {texts}")
            missing = [t.text for t in turns if t.ok and t.text not in texts]
            if missing:
                found.append(f"{who}: answered but never reached an engine: {missing}")
        return found
    return problems


@pytest.fixture(autouse=True)
def _whole(light_topology):
    light_topology.wait_balanced(120)


def test_short_load_both_engines_one_engine_per_conversation(light_topology, line_api, stand_ins):
    for engine in stand_ins:
        engine.received.clear()
    load = asyncio.run(Load(light_topology.url, line_api).run(20))
    load.collect_line(timeout=30)
    print(f"\nshort load: {load.summary()}")
    assert not [(t.kind, t.who, t.text, t.error or t.answer) for t in load.turns if not t.ok]
    assert {t.kind for t in load.turns} == {"websocket", "polling", "line"}
    assert all(engine.received for engine in stand_ins), "both engines used"
    assert not stand_in_order(stand_ins)(light_topology, load)
    assert not line_problems(light_topology, load)


def test_short_staff_reply_crosses_gateways(light_topology):
    staff_reply_crosses_gateways(light_topology)


def test_short_queue_change_crosses_gateways(light_topology):
    queue_change_crosses_gateways(light_topology)


def test_short_gateway_sigkill_mid_load(light_topology, line_api, stand_ins):
    gateway = light_topology.services["gateway2"]
    load, begun, ended = run_with_fault(light_topology, line_api, lambda: gateway.kill(signal.SIGKILL), 20, 6)
    judge(light_topology, load, "gateway", begun, ended, order=stand_in_order(stand_ins))


def test_short_postgres_restart_mid_load(light_topology, line_api, stand_ins):
    load, begun, ended = run_with_fault(light_topology, line_api, light_topology.pg.restart, 20, 6)
    judge(light_topology, load, "postgres", begun, ended, order=stand_in_order(stand_ins))


def test_short_redis_restart_mid_load(light_topology, line_api, stand_ins):
    load, begun, ended = run_with_fault(light_topology, line_api, light_topology.redis.restart, 20, 6)
    judge(light_topology, load, "redis", begun, ended, order=stand_in_order(stand_ins))
