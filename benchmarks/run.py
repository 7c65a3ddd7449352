"""Benchmarks of the running stack, side by side in one run.

    make bench            (or: .venv/gateway/bin/python benchmarks/run.py [--turns 200] [--concurrency 8])

Starts the real stack on free ports, then measures the same turns
  1. straight at the engine (Rasa REST webhook),
  2. through the gateway's HTTP endpoint,
  3. through the gateway's Socket.IO endpoint (what the widget uses),
and prints p50/p95 latency, throughput, the gateway's overhead as a ratio, start-up time and memory;
then FAQ questions one at a time at the engine and through the gateway, and the garbage item lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Awaitable, Callable, Dict, List

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from connectors.webchat_session import SessionSigner  # noqa: E402
from tests.socketio_client import WidgetClient  # noqa: E402
from tools.model import ENGINE_BIN, engine_env  # noqa: E402
from tools.stack import Stack, free_port  # noqa: E402

BENCH_TOKEN = "bench-rest-token"  # POST /api/messages needs REST_API_TOKEN (README "Security and reliability")
TURNS = ["こんにちは", "何ができますか", "ごみの出し方を知りたい", "ありがとう", "asdfgh", "/menu_faq"]
ITEM_QUESTIONS = ["ソファは何ごみ？", "チャリ捨てたい", "れいぞうこ", "ハンガーの捨て方", "電子レンジを処分したい",
                  "スノボの板", "アイスの棒は何ごみ", "ぺぺろんちーの", "古いパソコン", "フライパンの出し方"]
# FAQ questions (paraphrases, not training texts), an other-city question and an unrelated one.
FAQ_QUESTIONS = ["住民票ってコンビニで出せますか", "マイナンバーカードを受け取りに行きたい", "児童手当の申請をしたいです",
                 "近所の避難所を調べたい", "区役所は何時まで開いてる？", "図書館の本をネットで予約したい",
                 "犬を飼い始めたら登録はいるの", "子どもの予防接種の案内がほしい", "横浜市の住民票", "明日の天気は？"]
OFFICIAL_DATA = ROOT.parent / "shared" / "data" / "sapporo"


def action_call(text: str) -> Dict:
    """What the engine sends the action server to run action_garbage_category for ``text``."""
    return {"next_action": "action_garbage_category", "sender_id": "bench", "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": "bench", "slots": {}, "events": [], "paused": False, "followup_action": None,
                        "active_loop": {}, "latest_action_name": "action_listen",
                        "latest_message": {"text": text, "intent": {"name": "ask_garbage_category"}, "entities": []}}}


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (from /proc)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far, in seconds (from /proc)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def metric_sums(text: str) -> Dict[str, float]:
    """The gateway's /metrics: total seconds and count of its turns and of its engine round trips."""
    sums: Dict[str, float] = {}
    for line in text.splitlines():
        for name in ("gateway_turn_seconds_sum", "gateway_turn_seconds_count", "gateway_engine_seconds_sum",
                     "gateway_engine_seconds_count"):
            if line.startswith(name + "{") or line.startswith(name + " "):
                sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return sums


def router_ms(before: Dict[str, float], after: Dict[str, float]) -> float:
    """The router's own time per turn between two ``metric_sums``: the whole turn minus the engine's round trip.
    Exact per turn, unlike a difference of two p50s of turns whose engine time varies by ±50 ms."""
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    seen = delta.get("gateway_turn_seconds_count", 0.0)
    spent = delta.get("gateway_turn_seconds_sum", 0.0) - delta.get("gateway_engine_seconds_sum", 0.0)
    return spent * 1000 / seen if seen else 0.0


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def measure(name: str, turns: int, concurrency: int, one_turn: Callable[[str, str], Awaitable[None]]) -> Dict:
    """Run ``turns`` turns over ``concurrency`` workers; each conversation is one pass over TURNS
    (a new conversation id per pass, so trackers stay as short as real conversations)."""
    latencies: List[float] = []
    counter = iter(range(turns))

    async def worker(worker_id: int) -> None:
        for i in counter:
            started = time.perf_counter()
            await one_turn(f"{worker_id}-{i // len(TURNS)}", TURNS[i % len(TURNS)])
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"name": name, "p50": statistics.median(latencies), "p95": percentile(latencies, 95),
            "throughput": len(latencies) / elapsed, "n": len(latencies)}


async def measure_texts(name: str, turns: int, one_call, texts: List[str]) -> Dict:
    latencies: List[float] = []
    for i in range(turns):
        started = time.perf_counter()
        await one_call("", texts[i % len(texts)])
        latencies.append((time.perf_counter() - started) * 1000)
    return {"name": name, "p50": statistics.median(latencies), "p95": percentile(latencies, 95), "n": turns}


async def run(turns: int, concurrency: int, city_data: Path) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-"))
    session_secret = secrets.token_urlsafe(48)
    signer, sessions = SessionSigner(session_secret), {}
    citydata_url = f"sqlite:///{data_dir / 'citydata.db'}"
    subprocess.run([str(ENGINE_BIN / "python"), "-m", "bot.knowledge.citydata", "load", str(city_data), "--db", citydata_url],
                   cwd=ROOT, env=engine_env(), check=True, stdout=subprocess.DEVNULL)
    stack = Stack(gateway_port=free_port(), engine_port=free_port(), actions_port=free_port(), data_dir=data_dir,
                  extra_env={"CITYDATA_DB_URL": citydata_url, "ASSISTANT_DB_URL": f"sqlite:///{data_dir / 'a.db'}",
                             # a load test from one address, and POST /api/messages is off without a token
                             "RATE_LIMITS": "off", "REST_API_TOKEN": BENCH_TOKEN,
                             # the benchmark signs its widget sessions itself: a fresh chat per conversation
                             "WEBCHAT_SESSION_SECRET": session_secret})
    print("starting the stack ...", flush=True)
    stack.start()
    try:
        startup = stack.wait_ready()
        async with httpx.AsyncClient(timeout=30) as http:
            async def engine_turn(conversation: str, text: str) -> None:
                r = await http.post(f"{stack.engine_url}/webhooks/rest/webhook",
                                    json={"sender": f"bench-e{conversation}", "message": text})
                r.raise_for_status()

            async def gateway_http_turn(conversation: str, text: str) -> None:
                r = await http.post(f"{stack.gateway_url}/api/messages", headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
                                    json={"sender": f"bench-g{conversation}", "message": text})
                r.raise_for_status()

            clients = [WidgetClient(stack.gateway_url) for _ in range(concurrency)]
            for client in clients:
                await client.connect()

            async def socketio_turn(conversation: str, text: str) -> None:
                client = clients[int(conversation.split("-")[0])]
                client.token = sessions.setdefault(conversation, signer.new())
                await client.ask(text)

            async def item_lookup(conversation: str, text: str) -> None:
                r = await http.post(f"{stack.actions_url}/webhook", json=action_call(text))
                r.raise_for_status()

            await measure("warm-up", len(TURNS) * 2, 1, engine_turn)
            lookup = await measure_texts("action server: item lookup", turns, item_lookup, ITEM_QUESTIONS)
            results = []

            async def with_cpu(name: str, concurrent: int, one_turn) -> Dict:
                """``measure`` plus each process's CPU milliseconds per turn (on 2 cores at 8 clients the CPU is
                the bottleneck: what the gateway spends per turn is what the engine no longer has)."""
                before = {n: cpu_seconds(p.pid) for n, p in stack.processes.items()}
                sums = metric_sums((await http.get(f"{stack.gateway_url}/metrics")).text)
                row = await measure(name, turns, concurrent, one_turn)
                row["cpu"] = {n: (cpu_seconds(p.pid) - before[n]) * 1000 / row["n"] for n, p in stack.processes.items()}
                after = metric_sums((await http.get(f"{stack.gateway_url}/metrics")).text)
                row["inside"] = router_ms(sums, after)
                return row

            for concurrent in sorted({1, concurrency}):
                results.append(await with_cpu(f"engine REST       c={concurrent}", concurrent, engine_turn))
                results.append(await with_cpu(f"gateway HTTP      c={concurrent}", concurrent, gateway_http_turn))
                results.append(await with_cpu(f"gateway Socket.IO c={concurrent}", concurrent, socketio_turn))
            ids = iter(range(10 ** 9))

            async def faq_engine(_: str, text: str) -> None:
                await engine_turn(f"faq-{next(ids)}", text)

            async def faq_socketio(_: str, text: str) -> None:
                clients[0].token = signer.new()
                await clients[0].ask(text)

            faq_rows = [await measure_texts("FAQ question: engine REST", turns, faq_engine, FAQ_QUESTIONS),
                        await measure_texts("FAQ question: gateway Socket.IO", turns, faq_socketio, FAQ_QUESTIONS)]
            for client in clients:
                await client.close()

        print(f"\nstart-up until /healthz is 200: {startup:.1f} s   turns per row: {turns}\n")
        names = list(stack.processes)
        print(f"{'path':<24} {'p50 ms':>8} {'p95 ms':>8} {'turns/s':>8} {'p50 vs engine':>14} {'turns/s vs':>11} "
              f"{'router ms':>10}   " + "  ".join(f"{'cpu ' + n:>12}" for n in names) + "   (CPU ms per turn)")
        baseline = {}
        for row in results:
            concurrent = row["name"].split("c=")[1]
            base = baseline.setdefault(concurrent, row)
            print(f"{row['name']:<24} {row['p50']:>8.1f} {row['p95']:>8.1f} {row['throughput']:>8.1f} "
                  f"{row['p50'] / base['p50']:>13.2f}x {row['throughput'] / base['throughput']:>10.2f}x "
                  f"{row['inside']:>10.1f}   "
                  + "  ".join(f"{row['cpu'][n]:>12.1f}" for n in names))
        print(f"\n{lookup['name']} ({city_data.name}, {lookup['n']} calls): "
              f"p50 {lookup['p50']:.1f} ms, p95 {lookup['p95']:.1f} ms (action_garbage_category over HTTP)")
        print("router ms: the gateway's turn minus the engine's round trip, mean per turn (its /metrics); the rest of "
              "a gateway row's overhead is the channel (HTTP or Socket.IO) and the machine's 2 shared cores")
        print("\nFAQ questions, one at a time (NLU → action_fallback → FAQ retrieval), new conversation each:")
        for row in faq_rows:
            print(f"  {row['name']:<34} p50 {row['p50']:>6.1f} ms   p95 {row['p95']:>6.1f} ms   ({row['n']} questions)")
        print("\nmemory (RSS):")
        for name, proc in stack.processes.items():
            print(f"  {name:<8} {rss_mb(proc.pid):>7.0f} MB")
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--city-data", type=Path, default=OFFICIAL_DATA if OFFICIAL_DATA.exists() else ROOT / "data" / "city_sample",
                        help="directory of city open-data files (default: the official files beside the project)")
    args = parser.parse_args()
    asyncio.run(run(args.turns, args.concurrency, args.city_data))
