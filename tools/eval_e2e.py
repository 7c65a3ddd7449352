"""The front door measured end to end: what a citizen sees from the running stack, one fresh chat per question.

    make run   (in another terminal), with the city's official files loaded:
    make load-city-data DIR=../shared/data/sapporo   (the repository's sample has a few items only), then
    make eval-e2e                                   # every single-turn set below
    .venv/gateway/bin/python -m tools.eval_e2e --set sorting_a [--errors] [--url http://127.0.0.1:8000]

Each question goes to the gateway the way the website widget sends it (Socket.IO, a new session each time);
the replies are read until the bot is quiet. What counts is what the citizen sees:

* sorting (``tests/frontdoor/sorting_*.yml``, ``tests/garbage/questions.yml``): the category the answer
  states (「…は【燃やせるごみ】です」) against the official dictionary's category for the expected item;
  an ambiguous question must be asked back (quick replies, no category stated); an unknown item must not get a
  category;
* FAQ (``tests/frontdoor/faq_*.yml``, ``tests/faq/heldout.yml``): the expected topic's answer, or the
  expected topic as the first もしかして choice; another topic's answer is a wrong confident answer;
* out of scope (``tests/frontdoor/out_of_scope_*.yml``): any FAQ answer or garbage category is a confident
  answer where there should be none.

Sets whose name ends in ``_b`` are blind: kept unseen while tuning, so ``--errors`` refuses to list their
questions. Multi-turn sets (collection days, bookings) are not scored here yet.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
FRONTDOOR = ROOT / "tests" / "frontdoor"
DICTIONARY = ROOT.parent / "shared" / "data" / "sapporo" / "gomi_dict.csv"
FAQ_FILE = ROOT / "data" / "faq" / "faq.yml"
SETS: Dict[str, Path] = {
    "sorting_a": FRONTDOOR / "sorting_a.yml", "sorting_b": FRONTDOOR / "sorting_b.yml",
    "faq_a": FRONTDOOR / "faq_a.yml", "faq_b": FRONTDOOR / "faq_b.yml",
    "out_of_scope_a": FRONTDOOR / "out_of_scope_a.yml", "out_of_scope_b": FRONTDOOR / "out_of_scope_b.yml",
    "garbage_questions": ROOT / "tests" / "garbage" / "questions.yml",
    "faq_heldout": ROOT / "tests" / "faq" / "heldout.yml",
}
CATEGORY = re.compile(r"【([^】]+)】")


def blind(name: str) -> bool:
    return name.endswith("_b")


# ---------------------------------------------------------------------------------------------- the chats
async def ask_all(url: str, questions: List[str], parallel: int, quiet: float) -> List[List[Dict]]:
    from tests.socketio_client import one_chat

    gate = asyncio.Semaphore(parallel)

    async def run(text: str) -> List[Dict]:
        async with gate:
            try:
                return (await one_chat(url, text, quiet))[1]
            except asyncio.TimeoutError:
                return []  # silence: scored as a miss

    return await asyncio.gather(*(run(q) for q in questions))


def _text(replies: List[Dict]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def _payloads(replies: List[Dict]) -> List[str]:
    return [q.get("payload") or "" for r in replies for q in r.get("quick_replies") or []]


def _titles(replies: List[Dict]) -> List[str]:
    return [q.get("title") or "" for r in replies for q in r.get("quick_replies") or []]


# ---------------------------------------------------------------------------------------------- scoring
def dictionary() -> Dict[str, str]:
    with open(DICTIONARY, encoding="utf-8-sig") as handle:
        return {row["gomi_name"]: row["gomi_type"] for row in csv.DictReader(handle)}


@lru_cache(maxsize=1)
def faq_answers() -> Dict[str, str]:
    topics = yaml.safe_load(FAQ_FILE.read_text(encoding="utf-8"))["topics"]
    return {t["id"]: t["answer"].strip() for t in topics}


def answered_topic(replies: List[Dict], answers: Dict[str, str]) -> Optional[str]:
    text = _text(replies)
    for topic, answer in answers.items():
        if answer[:40] in text:
            return topic
    return None


# Categories citizens see under another name (data/garbage/categories.yml ``label``), and the FAQ topics that
# answer a whole category (T09: the four appliances of the recycling law, T10: personal computers).
LABELS = {"家電4品目（市で収集しないもの）": "市で収集しないもの（家電4品目）",
          "パソコン（市で収集しないもの）": "市で収集しないもの（パソコン）"}
TOPIC_CATEGORIES = {"T09": "市で収集しないもの（家電4品目）", "T10": "市で収集しないもの（パソコン）"}


def stated_categories(replies: List[Dict], types: Dict[str, str]) -> List[str]:
    """The categories an answer states, in order: 【…】 in an item answer, or a category's FAQ answer."""
    known = set(types.values())
    stated = [LABELS.get(c, c) for c in CATEGORY.findall(_text(replies))]
    topic = answered_topic(replies, faq_answers())
    return [c for c in stated if c in known] + ([TOPIC_CATEGORIES[topic]] if topic in TOPIC_CATEGORIES else [])


def score_sorting(entry: Dict, replies: List[Dict], types: Dict[str, str]) -> str:
    """right | wrong | asked (asked back where an answer was due) | silent."""
    if not replies:
        return "silent"
    stated = stated_categories(replies, types)
    if entry.get("unknown"):
        return "wrong" if stated else "right"
    if entry.get("ambiguous"):
        return "right" if not stated and _payloads(replies) else "wrong"
    expected = {types.get(entry["item"])} if entry.get("item") else \
        {types.get(i) for i in entry.get("items") or []} if entry.get("items") else {entry.get("category")}
    if not stated:
        return "asked" if _payloads(replies) else "wrong"
    return "right" if stated[0] in expected else "wrong"


def score_faq(entry: Dict, replies: List[Dict], answers: Dict[str, str]) -> str:
    """right | candidates_right (the expected topic is the first もしかして) | wrong (another topic's answer) |
    other (no answer: candidates without the topic first, a flow, the fallback)."""
    topic = answered_topic(replies, answers)
    if topic:
        return "right" if topic == entry["expect"] else "wrong"
    first = next((p for p in _payloads(replies) if p.startswith("/menu_faq{")), "")
    return "candidates_right" if f'"{entry["expect"]}"' in first else "other"


def score_out_of_scope(replies: List[Dict], answers: Dict[str, str], types: Dict[str, str]) -> str:
    """answered (a confident FAQ answer or garbage category) | declined."""
    if answered_topic(replies, answers) or stated_categories(replies, types):
        return "answered"
    return "declined"


def entries(name: str) -> List[Dict]:
    data = yaml.safe_load(SETS[name].read_text(encoding="utf-8"))
    if name.startswith("sorting") or name == "garbage_questions":
        return [e for e in data["questions"] if isinstance(e, dict)]
    if name.startswith("out_of_scope"):
        return data["out_of_scope"]
    if name == "faq_heldout":
        return data["in_scope"]
    return data["in_scope"]


def kind_of(name: str) -> str:
    if name.startswith("sorting") or name == "garbage_questions":
        return "sorting"
    return "out_of_scope" if name.startswith("out_of_scope") else "faq"


def report(name: str, found: List[str], items: List[Dict], errors: bool) -> str:
    n = max(1, len(found))
    counts = {k: found.count(k) for k in sorted(set(found))}
    kind = kind_of(name)
    lines = [f"== {name}: {len(found)} fresh chats ({'blind' if blind(name) else 'seen while tuning'}) =="]
    if kind == "sorting":
        lines.append(f"  category right                         {counts.get('right', 0) / n:6.1%}  target ≥ 95 %")
        lines.append(f"  asked back where an answer was due     {counts.get('asked', 0) / n:6.1%}")
        lines.append(f"  wrong category or no answer           {(counts.get('wrong', 0) + counts.get('silent', 0)) / n:6.1%}")
    elif kind == "faq":
        right = counts.get("right", 0) + counts.get("candidates_right", 0)
        lines.append(f"  right answer or right first もしかして   {right / n:6.1%}  target ≥ 92 %"
                     f"  (answer {counts.get('right', 0) / n:.1%})")
        lines.append(f"  wrong confident answer                 {counts.get('wrong', 0) / n:6.1%}  target ≤ 3 %")
    else:
        lines.append(f"  confidently answered                   {counts.get('answered', 0) / n:6.1%}  target ≤ 5 %")
    if errors:
        bad = {"sorting": ("wrong", "asked", "silent"), "faq": ("wrong", "other"), "out_of_scope": ("answered",)}[kind]
        for entry, outcome in zip(items, found):
            if outcome in bad:
                lines.append(f"    {outcome:<8} {entry.get('q')}  (expected {entry.get('item') or entry.get('items') or entry.get('expect') or entry.get('category') or entry.get('ambiguous') or 'unknown'})")
    return "\n".join(lines)


def official_data_loaded(url: str = "sqlite:///" + str(ROOT / "var" / "citydata.db")) -> bool:
    """Whether the running stack's city data is the official dictionary (986 items), not the small sample."""
    import sqlalchemy as sa

    try:
        with sa.create_engine(url).connect() as c:
            return c.execute(sa.text("select count(*) from citydata_items")).scalar() >= 900
    except sa.exc.SQLAlchemyError:
        return False


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--set", action="append", choices=list(SETS), help="repeatable; default: every set present")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--quiet", type=float, default=1.5, help="seconds of silence that end a turn")
    parser.add_argument("--errors", action="store_true", help="list the misses (refused for blind sets)")
    args = parser.parse_args(argv)
    names = args.set or [n for n, p in SETS.items() if p.exists()]
    if args.errors and any(blind(n) for n in names):
        parser.error("the _b sets are kept blind: their questions are never listed")
    types, answers = dictionary(), faq_answers()
    if not official_data_loaded():
        print("WARNING: var/citydata.db does not hold the official dictionary: sorting figures will be low "
              "(make load-city-data DIR=../shared/data/sapporo)", flush=True)
    for name in names:
        items = entries(name)
        chats = asyncio.run(ask_all(args.url, [str(e["q"]) for e in items], args.parallel, args.quiet))
        kind = kind_of(name)
        if kind == "sorting":
            found = [score_sorting(e, r, types) for e, r in zip(items, chats)]
        elif kind == "faq":
            found = [score_faq(e, r, answers) for e, r in zip(items, chats)]
        else:
            found = [score_out_of_scope(r, answers, types) for r in chats]
        print(report(name, found, items, args.errors), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
