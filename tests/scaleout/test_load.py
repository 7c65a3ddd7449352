"""Steady load through HAProxy on the 2×2×2 topology: every turn answered, both engines used, a conversation on
one engine only, each sender's events in order and once in the tracker store, every LINE event answered once."""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict

from tests.scaleout.checks import line_problems, order_problems
from tests.scaleout.load import Load

LOAD_SECONDS = 40


def engine_of_each_conversation(topo) -> dict:
    """From HAProxy's log (the X-Conversation-Id header is captured): conversation → set of engines used."""
    used = defaultdict(set)
    for line in (topo.run_dir / "logs" / "haproxy.log").read_text(errors="replace").splitlines():
        match = re.search(r" engines engines/(\S+) .* \{([^}]*)\} \"POST /webhooks/rest/webhook", line)
        if match:
            used[match.group(2)].add(match.group(1))
    return used


def test_steady_load_every_turn_answered_on_both_engines(topology, line_api):
    before = topology.requests_per_server("engines")
    started = time.monotonic()
    load = asyncio.run(Load(topology.url, line_api).run(LOAD_SECONDS))
    load.collect_line(timeout=60)
    elapsed = time.monotonic() - started
    after = topology.requests_per_server("engines")
    print(f"\nload {elapsed:.0f}s: {load.summary()}; engine requests {({k: after[k] - before.get(k, 0) for k in after})}")

    failed = [(t.kind, t.who, t.text, t.error or t.answer) for t in load.turns if not t.ok]
    assert not failed, f"turns not answered: {failed}"
    kinds = {t.kind for t in load.turns}
    assert kinds == {"websocket", "polling", "line"}, kinds
    assert len(load.turns) >= 60, load.summary()

    # both engines used, and each conversation on one engine only (consistent hashing of X-Conversation-Id)
    assert all(after[name] - before.get(name, 0) > 0 for name in ("engine1", "engine2")), (before, after)
    senders = {t.who for t in load.turns}
    routes = engine_of_each_conversation(topology)
    assert senders <= set(routes), f"conversations without the header in HAProxy's log: {senders - set(routes)}"
    split = {who: engines for who, engines in routes.items() if who in senders and len(engines) > 1}
    assert not split, f"conversations answered by both engines: {split}"

    assert not order_problems(topology, load)
    assert not line_problems(topology, load)
