"""Evaluate an FAQ retriever on the held-out set tests/faq/heldout.yml.

    .venv/engine/bin/python -m tools.eval_faq                      # bot/knowledge/faq_retriever.py on tests/faq/heldout.yml
    .venv/engine/bin/python -m tools.eval_faq --set fresh          # the second, blind batch tests/faq/fresh.yml
    .venv/engine/bin/python -m tools.eval_faq --retriever bm25     # the BM25 baseline (benchmarks/faq_bm25.py)
    .venv/engine/bin/python -m tools.eval_faq --through-nlu        # what the dialogue does: trained NLU first

Prints top-1 accuracy (the first topic the citizen is shown, as the answer or as the first "もしかして"
candidate, is the right one), how often a confident answer is right, the "もしかして" rate (candidates offered
instead of an answer) and whether the right topic was among them, the wrong-answer rate, the
out-of-scope and follow-up false-answer rates, ranking top-1/top-3, latency, and the per-topic confusions.
A retriever is anything with ``retrieve(text) -> Retrieval`` (status answer | candidates | none, topics).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict

import yaml

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "tests" / "faq" / "heldout.yml"
SETS = {"heldout": HELDOUT, "fresh": ROOT / "tests" / "faq" / "fresh.yml"}


def evaluate(retriever, heldout: Path = HELDOUT) -> Dict:
    data = yaml.safe_load(heldout.read_text(encoding="utf-8"))
    counts: Counter = Counter()
    confusions: Counter = Counter()
    per_topic: Dict[str, Counter] = defaultdict(Counter)
    latencies = []
    ranked_at: Counter = Counter()
    for query in data["in_scope"]:
        if hasattr(retriever, "ranking"):
            ranking = retriever.ranking(query["q"], 3)
            ranked_at["top1"] += ranking[:1] == [query["expect"]]
            ranked_at["top3"] += query["expect"] in ranking
        started = time.perf_counter()
        result = retriever.retrieve(query["q"])
        latencies.append((time.perf_counter() - started) * 1000)
        ids = [t.id for t in result.topics]
        expected = query["expect"]
        per_topic[expected]["n"] += 1
        counts["shown_first"] += ids[:1] == [expected]
        if result.status == "answer" and ids[0] == expected:
            counts["correct"] += 1
            per_topic[expected]["correct"] += 1
        elif result.status == "answer":
            counts["wrong"] += 1
            confusions[(expected, ids[0])] += 1
        elif result.status == "candidates":
            counts["candidates"] += 1
            counts["candidates_hit"] += expected in ids
        else:
            counts["none"] += 1
    false_answers = {}
    for key in ("out_of_scope", "followups"):
        statuses = {q["q"]: retriever.retrieve(q["q"]).status for q in data.get(key, [])}
        answered = [q for q, status in statuses.items() if status == "answer"]
        false_answers[key] = (len(answered), len(statuses), answered)
        counts[f"{key}_candidates"] = sum(status == "candidates" for status in statuses.values())
    n = len(data["in_scope"])
    return {
        "n": n,
        "top1": counts["shown_first"] / n,
        "answered_right": counts["correct"] / n,
        "candidates_rate": counts["candidates"] / n,
        "candidates_hit": counts["candidates_hit"] / max(1, counts["candidates"]),
        "wrong": counts["wrong"] / n,
        "none": counts["none"] / n,
        "false_answers": false_answers,
        "oos_candidates": counts["out_of_scope_candidates"],
        "confusions": confusions.most_common(10),
        "weak_topics": sorted((t, c["correct"], c["n"]) for t, c in per_topic.items() if c["correct"] < c["n"] / 2),
        "ranking_top1": ranked_at["top1"] / n if ranked_at else None,
        "ranking_top3": ranked_at["top3"] / n if ranked_at else None,
        "p50_ms": statistics.median(latencies),
        "p95_ms": sorted(latencies)[int(0.95 * (len(latencies) - 1))],
    }


def report(r: Dict) -> str:
    oos, oos_n, _ = r["false_answers"]["out_of_scope"]
    fu, fu_n, _ = r["false_answers"]["followups"]
    lines = [
        f"in-scope queries        {r['n']}",
        f"top-1                   {r['top1']:.3f}  (the first topic shown — the answer or the first もしかして — is right)",
        f"answered right          {r['answered_right']:.3f}  (a confident answer, right topic)",
        f"もしかして rate          {r['candidates_rate']:.3f}  (right topic among them {r['candidates_hit']:.3f})",
        f"wrong answer            {r['wrong']:.3f}",
        f"no answer               {r['none']:.3f}",
        f"out-of-scope answered   {oos}/{oos_n} = {oos / max(1, oos_n):.3f}  (given もしかして instead: {r['oos_candidates']}/{oos_n})",
        *([f"ranking                 top-1 {r['ranking_top1']:.3f}, top-3 {r['ranking_top3']:.3f}  (best topic, whatever the confidence)"]
          if r.get("ranking_top1") is not None else []),
        f"follow-ups answered     {fu}/{fu_n}",
        f"latency                 p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms",
        "most frequent confusions (expected → answered): "
        + ", ".join(f"{a}→{b}×{k}" for (a, b), k in r["confusions"]),
        "topics right less than half the time: " + ", ".join(f"{t} {c}/{n}" for t, c, n in r["weak_topics"]),
    ]
    return "\n".join(lines)


# The flow that takes over a topic (faq.yml `handover`) and the garbage dictionary answer these topics too.
FLOW_INTENTS = {"T07": {"menu_bulky_booking", "ask_garbage_category"}, "T11": {"ask_collection_day"},
                "T35": {"menu_counseling"}, "T08": {"ask_garbage_category"}, "T09": {"ask_garbage_category"},
                "T10": {"ask_garbage_category"}}
FALLBACK_INTENTS = {"nlu_fallback", "out_of_scope", "menu_faq"}


def outcome_through_nlu(parse: Dict, retriever) -> tuple:
    """What the dialogue does with a parsed message: ("answer"|"candidates"|"none"|"intent", topic or intent)."""
    intent = parse["intent"]["name"]
    faq_id = next((e["value"] for e in parse.get("entities", []) if e["entity"] == "faq_id"), None)
    if intent == "menu_faq" and faq_id:
        return "answer", faq_id
    if intent in FALLBACK_INTENTS:  # action_fallback / action_faq ask the retriever
        result = retriever.retrieve(parse["text"])
        return result.status, result.topics[0].id if result.topics else None
    if intent == "ask_garbage_category":  # actions/garbage.py: the dictionary first, then the FAQ
        from actions.garbage import GARBAGE_WORDS
        from bot.knowledge.garbage_knowledge import matcher
        if matcher().match(parse["text"]).status in ("found", "ambiguous"):
            return "intent", intent
        result = retriever.retrieve(parse["text"])
        if result.status == "candidates" and any(word in parse["text"] for word in GARBAGE_WORDS):
            return "none", None
        return result.status, result.topics[0].id if result.topics else None
    return "intent", intent


def evaluate_through_nlu(retriever, heldout: Path) -> str:
    """Parse every held-out query with the trained model (FaqRouter included) and count what the citizen
    gets: the right FAQ answer, the flow that handles the topic (counted right), もしかして, or another intent."""
    import asyncio
    import logging

    from rasa.core.agent import Agent

    from tools.model import model_path

    logging.disable(logging.WARNING)
    data = yaml.safe_load(heldout.read_text(encoding="utf-8"))
    agent = Agent.load(str(model_path()))

    async def parse_all(queries):
        return [await agent.parse_message(q["q"]) for q in queries]

    lines = []
    for key in ("in_scope", "out_of_scope", "followups"):
        queries = data.get(key, [])
        parses = asyncio.run(parse_all(queries))
        counts: Counter = Counter()
        other: Counter = Counter()
        for query, parse in zip(queries, parses):
            status, what = outcome_through_nlu(parse, retriever)
            expected = query["expect"]
            if status == "intent" and what in FLOW_INTENTS.get(expected, ()):
                counts["flow"] += 1
            elif status == "intent":
                counts["other_intent"] += 1
                other[what] += 1
            elif status == "answer":
                counts["right" if what == expected else "wrong"] += 1
            else:
                counts[status] += 1
                counts["candidates_right_first"] += status == "candidates" and what == expected
        n = max(1, len(queries))
        if key == "in_scope":
            top1 = (counts["right"] + counts["flow"] + counts["candidates_right_first"]) / n
            lines.append(f"through the NLU ({len(queries)} in-scope): top-1 {top1:.3f} (right answer, the topic's flow, "
                         f"or the right first もしかして)")
            lines.append(f"  right answer {counts['right'] / n:.3f}, "
                         f"handled by the topic's flow {counts['flow'] / n:.3f}, もしかして {counts['candidates'] / n:.3f}, "
                         f"wrong answer {counts['wrong'] / n:.3f}, nothing {(counts['none'] + counts['elsewhere']) / n:.3f}, "
                         f"another intent {counts['other_intent'] / n:.3f} {dict(other.most_common(5))}")
        else:
            lines.append(f"through the NLU ({len(queries)} {key}): FAQ answered {counts['right'] + counts['wrong']}, "
                         f"another intent {counts['other_intent'] + counts['flow']} {dict(other.most_common(5))}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=sorted(SETS), default="heldout", help="which held-out set")
    parser.add_argument("--retriever", choices=["classifier", "bm25"], default="classifier")
    parser.add_argument("--through-nlu", action="store_true",
                        help="also parse every query with the trained model first (as the dialogue does)")
    args = parser.parse_args()
    if args.retriever == "bm25":
        from benchmarks.faq_bm25 import FaqRetriever
    else:
        from bot.knowledge.faq_retriever import FaqRetriever
    started = time.perf_counter()
    retriever = FaqRetriever.from_file()
    print(f"retriever               {args.retriever}, trained in {time.perf_counter() - started:.1f} s; set {args.set}")
    print(report(evaluate(retriever, SETS[args.set])))
    if args.through_nlu:
        print(evaluate_through_nlu(retriever, SETS[args.set]))


if __name__ == "__main__":
    main()
