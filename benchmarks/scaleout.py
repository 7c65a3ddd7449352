"""Scale-out benchmark: 1×1×1 against 2×2×2 (engines × action servers × gateways), side by side in one run.

    .venv/gateway/bin/python benchmarks/scaleout.py [--turns 240] [--concurrency 8]

Both topologies run the same way (tools/scaleout.py: PostgreSQL tracker store, Redis lock store, HAProxy in front;
1×1×1 puts its one server in both of HAProxy's slots), with the same model and the same turns
(benchmarks/run.py's TURNS, one conversation per pass). For each it measures
  - raw Rasa: the engine's REST webhook through HAProxy's engine frontend (no gateway),
  - the gateway: Socket.IO (what the widget uses) through HAProxy's public frontend,
at one client and at ``--concurrency`` clients, and prints p50/p95 latency, throughput, the gateway's overhead
over raw Rasa (p50 difference and ratio, throughput ratio), and how much 2×2×2 gains over 1×1×1.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path
from typing import Dict, List

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import TURNS, measure, metric_sums, router_ms  # noqa: E402
from connectors.webchat_session import SessionSigner  # noqa: E402
from tests.socketio_client import WidgetClient  # noqa: E402
from tools.scaleout import CITY_SAMPLE, Topology  # noqa: E402


async def bench(topo: Topology, turns: int, concurrency: int, secret: str) -> List[Dict]:
    signer, sessions = SessionSigner(secret), {}
    tag = secrets.token_hex(3)
    async with httpx.AsyncClient(timeout=60) as http:
        async def engine_turn(conversation: str, text: str) -> None:
            sender = f"bench-{tag}-e{conversation}"
            for attempt in (1, 2):
                try:
                    r = await http.post(f"{topo.engine_url}/webhooks/rest/webhook",
                                        headers={"X-Conversation-Id": sender}, json={"sender": sender, "message": text})
                    r.raise_for_status()
                    return
                except httpx.RemoteProtocolError:  # a keep-alive connection HAProxy closed just then: send again
                    if attempt == 2:
                        raise

        clients = [WidgetClient(topo.url) for _ in range(concurrency)]
        for client in clients:
            await client.connect()

        async def socketio_turn(conversation: str, text: str) -> None:
            client = clients[int(conversation.split("-")[0])]
            client.token = sessions.setdefault(conversation, signer.new())
            while not client.messages.empty():
                client.messages.get_nowait()
            await client.ask(text, timeout=60)

        async def gateway_sums() -> Dict[str, float]:
            """All gateways' /metrics summed: their turns' time and their engine round trips' (benchmarks/run.py)."""
            total: Dict[str, float] = {}
            for gateway in topo.of("gateway"):
                for key, value in metric_sums((await http.get(f"{gateway.url}/metrics")).text).items():
                    total[key] = total.get(key, 0.0) + value
            return total

        async def through_gateway(name: str, concurrent: int) -> Dict:
            before = await gateway_sums()
            row = await measure(name, turns, concurrent, socketio_turn)
            row["router"] = router_ms(before, await gateway_sums())  # the engine's round trip goes through HAProxy
            return row

        await measure("warm-up", len(TURNS) * 4, concurrency, engine_turn)
        rows = []
        for concurrent in sorted({1, concurrency}):
            rows.append(await measure(f"raw Rasa (REST)    c={concurrent}", turns, concurrent, engine_turn))
            rows.append(await through_gateway(f"gateway Socket.IO  c={concurrent}", concurrent))
        for client in clients:
            await client.close()
    return rows


def run_one(shape: int, turns: int, concurrency: int, city_data: Path) -> Dict:
    secret = secrets.token_urlsafe(48)
    topo = Topology(engines=shape, actions=shape, gateways=shape, city_data=city_data,
                    engine_threads=1 if shape > 1 else None,
                    gateway_env={"RATE_LIMITS": "off", "WEBCHAT_SESSION_SECRET": secret})
    print(f"starting {shape}×{shape}×{shape} in {topo.run_dir} ...", flush=True)
    started = time.monotonic()
    with topo:
        startup = time.monotonic() - started
        print(f"  up in {startup:.0f}s", flush=True)
        rows = asyncio.run(bench(topo, turns, concurrency, secret))
        engines = topo.requests_per_server("engines")
    return {"shape": f"{shape}×{shape}×{shape}", "startup": startup, "rows": rows, "engines": engines}


def report(results: List[Dict]) -> None:
    print(f"\n{'topology':<8} {'path':<26} {'p50 ms':>8} {'p95 ms':>8} {'turns/s':>8} {'router ms':>10}")
    for result in results:
        for row in result["rows"]:
            router = f"{row['router']:>10.1f}" if "router" in row else f"{'–':>10}"
            print(f"{result['shape']:<8} {row['name']:<26} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['throughput']:>8.1f} "
                  f"{router}")
    print("router ms: the gateways' turn minus their engine round trip (through HAProxy), mean per turn (/metrics)")
    print("\ngateway overhead over raw Rasa (same topology, same turns):")
    for result in results:
        rows = {r["name"].split()[0] + r["name"].split("c=")[1]: r for r in result["rows"]}
        for concurrent in sorted({r["name"].split("c=")[1] for r in result["rows"]}, key=int):
            raw, gw = rows["raw" + concurrent], rows["gateway" + concurrent]
            print(f"  {result['shape']} c={concurrent:<3} p50 +{gw['p50'] - raw['p50']:.1f} ms ({gw['p50'] / raw['p50']:.2f}×), "
                  f"throughput {gw['throughput'] / raw['throughput']:.2f}×")
    if len(results) == 2:
        one, two = results
        print(f"\n{two['shape']} vs {one['shape']}:")
        for a, b in zip(one["rows"], two["rows"]):
            print(f"  {a['name']:<26} throughput {b['throughput'] / a['throughput']:.2f}×, p50 {b['p50'] / a['p50']:.2f}×")
    for result in results:
        print(f"{result['shape']}: start {result['startup']:.0f}s; engine requests (HAProxy) {result['engines']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=240)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--city-data", type=Path, default=CITY_SAMPLE)
    parser.add_argument("--shapes", default="1,2", help="topologies to compare (1: 1×1×1, 2: 2×2×2)")
    args = parser.parse_args()
    results = [run_one(int(s), args.turns, args.concurrency, args.city_data) for s in args.shapes.split(",")]
    report(results)
