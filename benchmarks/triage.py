"""Benchmark of the rule triage (gateway/counseling/triage.py) in one process, no services.

    make bench   (or: .venv/gateway/bin/python benchmarks/triage.py [--calls 5000])

Measures, in this order:
  1. memory before anything of the triage is imported (the interpreter and the standard library),
  2. cold start: importing the module, then the first ``triage()`` call, which reads and compiles
     data/counseling/triage.yml and loads the UniDic tagger,
  3. memory after loading,
  4. warm latency per message and throughput over every message of tests/triage/set1.yml and
     set2_blind.yml, repeated until at least ``--calls`` calls,
  5. the worst case the gateway can be sent: 100 000 characters (triage reads the first 4 000).
Memory is resource.getrusage's peak RSS (ru_maxrss) and, on Linux, the current RSS from /proc split into
anonymous memory and file-backed pages: the UniDic dictionary is memory-mapped, so its pages count as
RSS only once messages have touched them (after the first pass, not right after loading); those pages
are shared between processes and can be reclaimed by the kernel.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLD_MESSAGE = "眠れなくて、ずっと死ぬことばかり考えてる"


def maxrss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> Dict[str, float]:
    """Current RSS, anonymous and file-backed, in MB (Linux /proc; empty elsewhere)."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file"}
    found: Dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in fields:
                found[fields[key]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return found


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _memory(now: Dict[str, float], peak: float) -> str:
    current = (f"{now['rss']:.1f} MB (anon {now.get('anon', 0):.1f}, file-backed {now.get('file', 0):.1f}), "
               if "rss" in now else "")
    return f"{current}peak {peak:.1f} MB"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="rule triage latency, throughput, cold start and memory")
    parser.add_argument("--calls", type=int, default=5000, help="warm calls at least (default 5000)")
    args = parser.parse_args(argv)

    rss_before, peak_before = current_rss_mb(), maxrss_mb()

    t0 = time.perf_counter()
    from gateway.counseling import triage as triage_module  # noqa: E402  (measured: import time)
    t1 = time.perf_counter()
    first = triage_module.triage(COLD_MESSAGE)  # rules file + tagger
    t2 = time.perf_counter()
    rss_loaded, peak_loaded = current_rss_mb(), maxrss_mb()

    from tools.eval_triage import SETS  # noqa: E402

    texts = [m["text"] for name in SETS for m in triage_module.load_set(SETS[name])]  # all three sets
    repeats = -(-args.calls // len(texts))
    triage = triage_module.triage
    latencies: List[float] = []
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(repeats):
        for text in texts:
            t = clock()
            triage(text)
            latencies.append(clock() - t)
    wall = (clock() - start) / 1e9
    rss_warm, peak_warm = current_rss_mb(), maxrss_mb()
    latencies_us = [ns / 1000 for ns in latencies]

    long_text = "あ" * 100_000
    long_us = []
    for _ in range(20):
        t = clock()
        triage(long_text)
        long_us.append((clock() - t) / 1000)
    rss_after, peak_after = current_rss_mb(), maxrss_mb()

    # What the gateway runs: the rules with the classifier as second opinion (trained at start).
    t3 = time.perf_counter()
    from gateway.counseling.classifier import default_triage  # noqa: E402

    system = default_triage()
    t4 = time.perf_counter()
    combined_ns: List[float] = []
    start = clock()
    for _ in range(repeats):
        for text in texts:
            t = clock()
            system.triage(text)
            combined_ns.append(clock() - t)
    combined_wall = (clock() - start) / 1e9
    combined_us = [ns / 1000 for ns in combined_ns]
    rss_combined, peak_combined = current_rss_mb(), maxrss_mb()

    rows = [
        ("messages", f"{len(texts)} distinct (sets 1–3) × {repeats} = {len(latencies)} calls"),
        ("throughput", f"{len(latencies) / wall:,.0f} messages/s (one thread)"),
        ("latency p50", f"{percentile(latencies_us, 50):,.0f} µs"),
        ("latency p95", f"{percentile(latencies_us, 95):,.0f} µs"),
        ("latency p99", f"{percentile(latencies_us, 99):,.0f} µs"),
        ("latency max", f"{max(latencies_us):,.0f} µs"),
        ("100 000 chars p50", f"{percentile(long_us, 50):,.0f} µs (first 4 000 read; 20 calls)"),
        ("cold: import", f"{(t1 - t0) * 1000:,.1f} ms"),
        ("cold: first call", f"{(t2 - t1) * 1000:,.1f} ms (rules file + tagger; level {first.level})"),
        ("cold: total", f"{(t2 - t0) * 1000:,.1f} ms"),
        ("RSS before loading", _memory(rss_before, peak_before)),
        ("RSS after loading", _memory(rss_loaded, peak_loaded) + f"; +{peak_loaded - peak_before:.1f} MB"),
        ("RSS after warm calls", _memory(rss_warm, peak_warm) + f"; +{peak_warm - peak_before:.1f} MB"),
        ("RSS at the end", _memory(rss_after, peak_after)),
        ("+classifier: training", f"{(t4 - t3) * 1000:,.0f} ms at gateway start"),
        ("+classifier: throughput", f"{len(combined_ns) / combined_wall:,.0f} messages/s "
                                    f"({(len(latencies) / wall) / (len(combined_ns) / combined_wall):.2f}× slower)"),
        ("+classifier: p50 / p95", f"{percentile(combined_us, 50):,.0f} / {percentile(combined_us, 95):,.0f} µs "
                                   f"(rules alone {percentile(latencies_us, 50):,.0f} / "
                                   f"{percentile(latencies_us, 95):,.0f} µs)"),
        ("+classifier: RSS", _memory(rss_combined, peak_combined) + f"; +{peak_combined - peak_after:.1f} MB"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"== rule triage ({len(triage_module.default_rules().rules)} rules), Python "
          f"{sys.version.split()[0]} ==")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
