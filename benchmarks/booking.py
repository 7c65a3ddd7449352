"""Benchmark of a whole 大型ごみ booking dialogue through the gateway's Socket.IO endpoint.

    make bench-booking   (or: .venv/gateway/bin/python benchmarks/booking.py [--dialogues 10])

Starts the real stack (engine, action server, gateway; the city's official data when ../shared has it),
then runs ``--dialogues`` bookings one after another — 「大型ごみを出したい」, items, address, phone, name,
the first offered date, 「はい」 — and prints the latency of each kind of turn (p50/p95) and of the whole
dialogue, from the first message to the receipt number.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.run import OFFICIAL_DATA, percentile  # noqa: E402
from tests.socketio_client import WidgetClient  # noqa: E402
from tools.model import ENGINE_BIN, engine_env  # noqa: E402
from tools.stack import Stack, free_port  # noqa: E402

TODAY = "2025-01-15"  # inside the official calendar in ../shared


async def until(client: WidgetClient, words: str) -> Dict:
    while True:
        message = await client.next_message(60)
        if words in message.get("text", ""):
            return message


async def one_booking(url: str, turns: Dict[str, List[float]]) -> float:
    client = WidgetClient(url)
    await client.connect()
    started = time.perf_counter()

    async def turn(name: str, text: str, expect: str) -> Dict:
        sent = time.perf_counter()
        await client.say(text)
        message = await until(client, expect)
        turns[name].append((time.perf_counter() - sent) * 1000)
        return message

    await turn("start", "大型ごみを出したい", "出したい物と数")
    await turn("items", "ソファーといす2脚", "住所")
    await turn("address", "中央区南27条西10丁目1-5", "電話番号")
    await turn("phone", "090-1234-5678", "お名前")
    dates = await turn("name", "なし", "収集日を選んでください")
    await turn("date", dates["quick_replies"][0]["payload"], "申し込みますか")
    await turn("confirm", "/affirm", "受付番号")
    total = time.perf_counter() - started
    await client.close()
    return total


async def run(dialogues: int, city_data: Path) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-booking-"))
    citydata_url = f"sqlite:///{data_dir / 'citydata.db'}"
    subprocess.run([str(ENGINE_BIN / "python"), "-m", "bot.knowledge.citydata", "load", str(city_data), "--db", citydata_url],
                   cwd=ROOT, env=engine_env(), check=True, stdout=subprocess.DEVNULL)
    stack = Stack(gateway_port=free_port(), engine_port=free_port(), actions_port=free_port(), data_dir=data_dir,
                  extra_env={"CITYDATA_DB_URL": citydata_url, "ASSISTANT_DB_URL": f"sqlite:///{data_dir / 'a.db'}",
                             "ASSISTANT_TODAY": TODAY, "RATE_LIMITS": "off"})  # every dialogue from one address
    print("starting the stack ...", flush=True)
    stack.start()
    try:
        stack.wait_ready()
        turns: Dict[str, List[float]] = defaultdict(list)
        await one_booking(stack.gateway_url, defaultdict(list))  # warm-up
        totals = [await one_booking(stack.gateway_url, turns) for _ in range(dialogues)]
        print(f"\n{dialogues} booking dialogues, one after another ({city_data.name}):")
        print(f"{'turn':<10} {'p50 ms':>8} {'p95 ms':>8}")
        for name, values in turns.items():
            print(f"{name:<10} {statistics.median(values):>8.1f} {percentile(values, 95):>8.1f}")
        print(f"whole dialogue (7 turns, no typing time): p50 {statistics.median(totals) * 1000:.0f} ms, "
              f"p95 {percentile(totals, 95) * 1000:.0f} ms")
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=int, default=10)
    parser.add_argument("--city-data", type=Path,
                        default=OFFICIAL_DATA if OFFICIAL_DATA.exists() else ROOT / "data" / "city_sample")
    args = parser.parse_args()
    asyncio.run(run(args.dialogues, args.city_data))
