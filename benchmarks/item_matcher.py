"""How fast the item matcher reads a message, with and without the phrases it remembers.

    .venv/engine/bin/python benchmarks/item_matcher.py        (the engine venv has fugashi; `make bench` runs it)

The official dictionary (../shared/data/sapporo/gomi_dict.csv, 986 items) and the questions of the sorting sets
that were tuned on (tests/frontdoor/sorting_*.yml but the blind b, e, s, y, z; every third question). Three
rounds, the modes taking turns (this machine's speed wanders by a fifth from minute to minute); throughput is each
mode's median round. Side by side:

- **none**: no memory at all (``_match_phrase`` is ``_read_phrase``): every retry of a phrase read again, as before
  2026-12-05's thirtieth session;
- **cold**: the matcher's phrase memory emptied before every message, so a message pays for every phrase it reads
  (its routes and retries still share the phrases within the message);
- **warm**: the memory kept, as in the running engine, where citizens ask about the same things again and again
  (ペットボトル, 電池) — here every question is asked once, so warm gains only from phrases shared between questions.

Prints messages per second, p50/p95 per message, the memory the process holds, and the ratio.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path
from typing import List

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bot.knowledge.item_matcher import ItemMatcher  # noqa: E402

DICTIONARY = ROOT.parent / "shared" / "data" / "sapporo" / "gomi_dict.csv"
SETS = tuple("acdfghijklmnopqrtuvwx")  # (b, e, s, y, z are blind)


def questions() -> List[str]:
    texts: List[str] = []
    for name in SETS:
        texts += [q["q"] for q in yaml.safe_load((ROOT / f"tests/frontdoor/sorting_{name}.yml").read_text())["questions"]]
    return texts[::3]  # every third: three minutes for the whole run


def run(matcher: ItemMatcher, texts: List[str], cold: bool) -> List[float]:
    matcher._phrases_read.clear()
    took = []
    for text in texts:
        if cold:
            matcher._phrases_read.clear()
        started = time.perf_counter()
        matcher.match(text)
        took.append((time.perf_counter() - started) * 1000)
    return took


def main() -> None:
    started = time.perf_counter()
    matcher = ItemMatcher.from_files(DICTIONARY)
    built = time.perf_counter() - started
    texts = questions()
    run(matcher, texts, cold=True)  # fugashi, the regexes and the module's text caches warmed for every mode alike
    rounds = {mode: [] for mode in ("none", "cold", "warm")}
    for _ in range(3):
        for mode in rounds:
            if mode == "none":
                matcher._match_phrase = matcher._read_phrase  # (the instance's attribute hides the method)
            rounds[mode].append(run(matcher, texts, cold=mode == "cold"))
            if mode == "none":
                del matcher._match_phrase
    figures = {}
    for mode, took in rounds.items():
        pooled = [t for one in took for t in one]
        figures[mode] = (statistics.median(len(one) / (sum(one) / 1000) for one in took), statistics.median(pooled),
                         statistics.quantiles(pooled, n=20)[18])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"item matcher: {len(texts)} questions, index built in {built:.1f} s, peak memory {rss:.0f} MB")
    print(f"{'':6} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for mode, (rate, p50, p95) in figures.items():
        print(f"{mode:6} {rate:8.1f} {p50:8.2f} {p95:8.2f}")
    print(f"throughput cold/none {figures['cold'][0] / figures['none'][0]:.2f}x, "
          f"warm/none {figures['warm'][0] / figures['none'][0]:.2f}x")


if __name__ == "__main__":
    main()
