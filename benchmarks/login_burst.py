"""Benchmark of chats during bursts of wrong staff passwords (issue #13, "Login limiter race": 100 concurrent bad
logins must not stall chats; target: chat p95 within 2x of idle).

    .venv/gateway/bin/python benchmarks/login_burst.py [--chats 200] [--logins 100] [--bursts 0] [--addresses 1]

Starts the real gateway (RATE_LIMITS=off for the chats, which all come from this one address; the staff login
limiter is not touched by that setting and runs as shipped: 5 failures per address and per username in 5 minutes,
counted before the hash, and at most HASH_CONCURRENCY argon2 hashes at once) against the stand-in engine of the
tests, creates a staff user with the real CLI, then measures the widget round trip (``user_uttered`` until
``bot_uttered`` reaches the client: gateway, database, stand-in engine) of ``--chats`` chats one after another,
all in one widget session that asks again and again,
  1. idle: nothing else runs;
  2. under bursts: a second process posts ``--logins`` wrong passwords for that user at once through the real
     login form (its CSRF token and cookie), waits for every answer, and starts the next burst at once, from
     before the first chat until the last chat is answered (``--bursts N``: N bursts only, the chats stop
     when they end) — so every chat overlaps a burst;
and prints p50/p95/p99/max of both side by side, the ratio of the p95s, the login statuses (401: its password
was hashed and was wrong; 429: refused by the limiter before any hash), the hashes the gateway logged, the time
a burst took and the gateway's memory.

All the logins come from 127.0.0.1, so the limiter lets the first 5 be hashed and refuses the rest for 5 minutes:
that is the protection under test. ``--addresses K`` (K > 1) measures what the limiter cannot stop, a burst
from many addresses: each burst's logins come from K new addresses (X-Forwarded-For, which the gateway takes
from a proxy on 127.0.0.1, FORWARDED_ALLOW_IPS) and as many new usernames, so nearly all of them are hashed
and only the hash slots (HashGate) stand between the burst and the chats.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import multiprocessing
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.line_ack import cpu_seconds  # noqa: E402
from benchmarks.run import percentile, rss_mb  # noqa: E402
from tests.gateway.conftest import GatewayProcess, StandInEngine, create_staff_user  # noqa: E402
from tests.socketio_client import WidgetClient  # noqa: E402

USER, PASSWORD = "burst-target", "the-right-password-1"
P95_TARGET_RATIO = 2.0
HASHED = re.compile(r"staff login failed: (wrong password|unknown user|inactive user)")
RATE_LIMITED = "staff: login rate-limited"


# ---------------------------------------------------------------------- the bursts (a process of their own)
def burst_process(url: str, logins: int, addresses: int, max_bursts: int, started, finished, stop, results) -> None:
    """Bursts of ``logins`` parallel wrong passwords, back to back until ``stop`` is set (or ``max_bursts``
    were sent): its own process, so the burst's client work does not delay the chat client's event loop."""
    asyncio.run(_bursts(url, logins, addresses, max_bursts, started, finished, stop, results))


async def _bursts(url: str, logins: int, addresses: int, max_bursts: int, started, finished, stop, results) -> None:
    record: List[Dict] = []  # per burst: began, ended (time.monotonic, the same clock in every process), statuses
    limits = httpx.Limits(max_connections=logins, max_keepalive_connections=logins)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def login(burst: int, i: int, token: str, cookie: str, statuses: collections.Counter) -> None:
            headers = {"Cookie": f"staff_login_csrf={cookie}"}
            username = USER
            if addresses > 1:  # a new address and a new name for each slice of the burst
                slot = burst * addresses + i % addresses
                headers["X-Forwarded-For"] = f"10.{slot // 65536 % 256}.{slot // 256 % 256}.{slot % 256}"
                username = f"burst-{slot}"
            try:
                answer = await client.post("/staff/login", headers=headers,
                                           data={"csrf_token": token, "username": username,
                                                 "password": f"guess-{burst}-{i}"})
                statuses[str(answer.status_code)] += 1
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1

        burst = 0
        while not stop.is_set() and (max_bursts <= 0 or burst < max_bursts):
            page = await client.get("/staff/login")  # one form for the burst: the double-submit token and cookie
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            cookie = page.cookies.get("staff_login_csrf")
            client.cookies.clear()  # the cookie goes in by hand, as the tests send it
            statuses: collections.Counter = collections.Counter()
            began = time.monotonic()
            tasks = [asyncio.create_task(login(burst, i, token, cookie, statuses)) for i in range(logins)]
            await asyncio.sleep(0)  # every request of the burst is under way
            started.set()
            await asyncio.gather(*tasks)
            record.append({"began": began, "ended": time.monotonic(), "statuses": dict(statuses)})
            burst += 1
    finished.set()
    results.put(record)


# ---------------------------------------------------------------------- the chats
async def chats(widget: WidgetClient, count: int, label: str, until=None) -> List[float]:
    """Round trips (ms) of up to ``count`` chats one after another in the widget's session (fewer when ``until``,
    an Event, is set first)."""
    latencies: List[float] = []
    for i in range(count):
        if until is not None and until.is_set():
            break
        text = f"ベンチマークの質問 {label} {i}"
        started = time.perf_counter()
        reply = await widget.ask(text)
        latencies.append((time.perf_counter() - started) * 1000)
        assert reply.get("text") == f"echo:{text}", reply
    return latencies


def line(name: str, values: List[float]) -> str:
    return (f"{name:<30} p50 {statistics.median(values):>7.1f}   p95 {percentile(values, 95):>7.1f}   "
            f"p99 {percentile(values, 99):>7.1f}   max {max(values):>7.1f} ms   ({len(values)} chats)")


async def run(args: argparse.Namespace) -> int:
    engine = StandInEngine().start()
    data_dir = Path(tempfile.mkdtemp(prefix="bench-login-"))
    gateway = GatewayProcess(engine.url, data_dir, LOG_LEVEL="INFO")  # RATE_LIMITS=off, as in every gateway test
    context = multiprocessing.get_context("spawn")
    bursts: Optional[multiprocessing.Process] = None
    try:
        create_staff_user(gateway, USER, "staff", PASSWORD)
        widget = WidgetClient(gateway.url)
        await widget.connect()
        await chats(widget, 20, "warm-up")
        idle_rss, cpu = rss_mb(gateway.proc.pid), cpu_seconds(gateway.proc.pid)
        idle = await chats(widget, args.chats, "idle")
        cpu_per_chat = (cpu_seconds(gateway.proc.pid) - cpu) / len(idle)

        log_before = len(gateway.log())
        started, finished, stop = context.Event(), context.Event(), context.Event()
        results = context.Queue()
        bursts = context.Process(target=burst_process, daemon=True,
                                 args=(gateway.url, args.logins, args.addresses, args.bursts,
                                       started, finished, stop, results))
        bursts.start()
        while not started.is_set():  # the first burst is under way before the first chat
            if not bursts.is_alive():
                raise RuntimeError("the burst process ended before its first burst")
            await asyncio.sleep(0.005)
        peak_rss, loaded, chat_starts = rss_mb(gateway.proc.pid), [], []
        began, cpu = time.monotonic(), cpu_seconds(gateway.proc.pid)
        for i in range(args.chats):  # one at a time, the memory read between chats
            if finished.is_set():
                break
            chat_starts.append(time.monotonic())
            loaded += await chats(widget, 1, f"burst {i}")
            peak_rss = max(peak_rss, rss_mb(gateway.proc.pid))
        loaded_for = time.monotonic() - began
        stop.set()
        record = await asyncio.to_thread(results.get, True, 300)
        cpu = cpu_seconds(gateway.proc.pid) - cpu  # chats and logins, until the last burst's last answer
        bursts.join(30)
        await widget.close()
        log = gateway.log()[log_before:]
        hashed, refused = len(HASHED.findall(log)), log.count(RATE_LIMITED)

        statuses: collections.Counter = collections.Counter()
        for burst in record:
            statuses.update(burst["statuses"])
        durations = [(burst["ended"] - burst["began"]) * 1000 for burst in record]
        sent = sum(statuses.values())
        # which chats began while a burst with hashed passwords (401) was under way, which during one refused whole
        hashing = [(b["began"], b["ended"]) for b in record if b["statuses"].get("401")]
        with_hashes = [ms for at, ms in zip(chat_starts, loaded) if any(s <= at < e for s, e in hashing)]
        without = [ms for at, ms in zip(chat_starts, loaded) if not any(s <= at < e for s, e in hashing)]
        source = ("one address (127.0.0.1), one username" if args.addresses <= 1 else
                  f"{args.addresses} new addresses and usernames per burst")
        print(f"\nchats: one widget session asking one question after another (socket.io round trip through the "
              f"gateway, stand-in engine); bursts: {args.logins} parallel wrong passwords, {source}, back to back")
        print(line("idle", idle))
        if not loaded:
            print("under bursts: no chat was measured (the bursts were over first)")
            return 1
        print(line(f"during {len(durations)} burst{'' if len(durations) == 1 else 's'}", loaded))
        ratio = percentile(loaded, 95) / percentile(idle, 95)
        if with_hashes and without:
            print(line("  while passwords were hashed", with_hashes))
            print(line("  during refused-only bursts", without))
        print(f"{'p95 during bursts / idle':<30} {ratio:>7.2f}x   (target ≤ {P95_TARGET_RATIO:.0f}x: "
              f"{'met' if ratio <= P95_TARGET_RATIO else 'NOT met'})")
        print(f"logins: {sent} sent in {len(durations)} bursts over {loaded_for:.1f} s of chats; statuses "
              + ", ".join(f"{code} × {n}" for code, n in sorted(statuses.items()))
              + "   (401: hashed and wrong; 429: refused by the limiter before any hash)")
        print(f"gateway log: {hashed} passwords hashed, {refused} logins rate-limited; gateway CPU per login "
              f"≈ {max(0.0, cpu - cpu_per_chat * len(loaded)) / max(1, sent) * 1000:.1f} ms "
              f"(a chat: {cpu_per_chat * 1000:.1f} ms)")
        print(f"one burst, until its last answer: p50 {statistics.median(durations):.0f} ms, "
              f"max {max(durations):.0f} ms")
        print(f"gateway memory (RSS): {idle_rss:.0f} MB idle, at most {peak_rss:.0f} MB during the bursts; "
              f"load average {Path('/proc/loadavg').read_text().split()[0]} on {os.cpu_count()} CPUs")
        errors = [entry for entry in log.splitlines() if " ERROR " in entry]
        if errors:
            print(f"gateway logged {len(errors)} errors, e.g. {errors[0]}")
        return 1 if errors else 0  # the figures are a report; a missed target does not stop a benchmark run
    finally:
        if bursts is not None and bursts.is_alive():
            bursts.kill()
        gateway.stop()
        engine.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=200, help="chats in each phase, one after another")
    parser.add_argument("--logins", type=int, default=100, help="wrong passwords posted at once in each burst")
    parser.add_argument("--bursts", type=int, default=0,
                        help="bursts to send (0: back to back until the last chat of the second phase is answered)")
    parser.add_argument("--addresses", type=int, default=1,
                        help="addresses (and usernames) per burst; above 1, new ones each burst (X-Forwarded-For)")
    sys.exit(asyncio.run(run(parser.parse_args())))
