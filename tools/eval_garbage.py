"""Evaluate the garbage item matcher (bot/knowledge/item_matcher.py) on the city's full dictionary.

    .venv/engine/bin/python -m tools.eval_garbage [--show-errors]

Two sets of questions:
  (a) tests/garbage/questions.yml, written by hand the way citizens ask (colloquial, hiragana only,
      synonyms, partial names, typos, extra words) plus things that are not in the dictionary;
  (b) questions generated from the dictionary with a fixed seed: published names, base names and parts
      of combined names, hiragana spellings from fugashi readings, partial names ("アイスキャンデーの棒"
      → "アイスの棒") and the synonyms of data/garbage/synonyms.yml, each wrapped in a question template.

Prints category accuracy (the top candidate's category; for "ambiguous", correct when all candidates
share the expected category), the ambiguous rate, unknown detection on the questions about things that
are not in the dictionary, and latency p50/p95 per question. tests/engine/test_garbage_eval.py asserts
the thresholds below.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import jaconv
import yaml

from bot.knowledge.citydata.models import GarbageItem
from bot.knowledge.citydata.readers import read_garbage_dictionary
from bot.knowledge.item_matcher import ItemMatcher, MatchResult, load_synonyms, loose
from bot.nlu.morphology import analyze

ROOT = Path(__file__).resolve().parent.parent
DICTIONARY = ROOT.parent / "shared" / "data" / "sapporo" / "gomi_dict.csv"
QUESTIONS = ROOT / "tests" / "garbage" / "questions.yml"
SEED = 20240601
MIN_CATEGORY_ACCURACY = 0.95
MIN_UNKNOWN_DETECTION = 0.80
MIN_CATEGORY_QUESTIONS = 300

TEMPLATES = [
    "{}は何ごみ？", "{}って何ゴミ", "{}の捨て方を教えてください", "{}を捨てたいです", "{}の出し方",
    "{}はどうやって捨てればいいですか", "{}捨てたい", "{}", "古い{}を処分したいんですが",
    "使わなくなった{}の捨て方", "{}は燃えるごみですか？", "すみません、{}は何曜日に出せますか",
    "壊れた{}ってどうすればいい？", "{}をごみに出したい", "{}は何ゴミですか",
]
KANA_TEMPLATES = ["{}はなにごみ", "{}のすてかた", "{}すてたい", "{}", "{}ってなにごみ？"]


@dataclass(frozen=True)
class Question:
    text: str
    source: str  # "hand" or "generated:<form>"
    category: Optional[str] = None  # expected category
    items: Tuple[str, ...] = ()  # acceptable items (for the item hit rate), or the ones to offer when ambiguous
    expect: str = "category"  # "category", "ambiguous" or "unknown"


def load_hand_written(path: Path, by_name: Dict[str, GarbageItem]) -> List[Question]:
    questions = []
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
        text = entry["q"]
        if entry.get("unknown"):
            questions.append(Question(text, "hand", expect="unknown"))
        elif "ambiguous" in entry:
            questions.append(Question(text, "hand", items=tuple(entry["ambiguous"]), expect="ambiguous"))
        else:
            names = tuple([entry["item"]] if "item" in entry else entry.get("items", []))
            missing = [n for n in names if n not in by_name]
            if missing:
                raise ValueError(f"{path.name}: {text!r} expects {missing}, which the dictionary does not have")
            categories = {by_name[n].category for n in names} | ({entry["category"]} if "category" in entry else set())
            if len(categories) != 1:
                raise ValueError(f"{path.name}: {text!r} must expect exactly one category, not {categories}")
            questions.append(Question(text, "hand", categories.pop(), names))
    return questions


def _reading(text: str) -> Optional[str]:
    """Katakana reading from fugashi, None when a word's reading is unknown (SD, ジョンバ)."""
    parts = []
    for m in analyze(text):
        if m.reading is None:
            return None
        parts.append(m.reading)
    return "".join(parts)


def generate(items: Sequence[GarbageItem], synonyms: Dict[str, List[str]], seed: int = SEED) -> List[Question]:
    """Questions built from the dictionary itself (reproducible: one seed)."""
    rng = random.Random(seed)
    by_name = {i.name: i for i in items}
    # Which categories a spelling may mean: a form shared by items of several categories ("ハンガー")
    # has no single right answer and is not asked.
    meaning: Dict[str, Set[str]] = defaultdict(set)
    for item in items:
        for form in (item.name, item.base_name, *item.alternatives):
            meaning[loose(form)].add(item.category)
            reading = _reading(form)
            if reading:
                meaning[loose(reading)].add(item.category)
    # A variant ("茶の袋（紙製）") asked about without its variant may mean its siblings too
    # (乳酸菌飲料の容器のふた（アルミ製） / 乳酸菌飲料の容器・ふた（プラ製）).
    base_categories: Dict[str, Set[str]] = defaultdict(set)
    for item in items:
        base_categories[_sibling_key(item)].add(item.category)

    def ask(form: str, item: GarbageItem, kind: str, templates: Sequence[str] = TEMPLATES) -> Optional[Question]:
        if meaning.get(loose(form), {item.category}) != {item.category}:
            return None
        return Question(rng.choice(templates).format(form), f"generated:{kind}", item.category, (item.name,))

    questions: List[Optional[Question]] = []
    for item in rng.sample(items, 70):
        questions.append(ask(item.name, item, "name"))
    for item in rng.sample(items, 70):
        questions.append(ask(rng.choice([item.base_name, *item.alternatives]), item, "base"))
    with_reading = [(i, _reading(i.base_name)) for i in items if "・" not in i.base_name]
    with_reading = [(i, r) for i, r in with_reading if r and len(base_categories[_sibling_key(i)]) == 1]
    for item, reading in rng.sample(with_reading, 70):
        hiragana = jaconv.kata2hira(reading)
        if meaning.get(loose(hiragana), {item.category}) == {item.category}:
            questions.append(Question(rng.choice(KANA_TEMPLATES).format(hiragana), "generated:hiragana",
                                      item.category, (item.name,)))
    for item in items:
        partial = _partial_name(item.base_name)
        if partial and loose(partial) not in meaning and len(base_categories[_sibling_key(item)]) == 1:
            questions.append(ask(partial, item, "partial"))
    usable = [(w, ns) for w, ns in synonyms.items() if len({by_name[n].category for n in ns if n in by_name}) == 1]
    for word, names in rng.sample(usable, min(60, len(usable))):
        item = by_name[names[0]]
        questions.append(Question(rng.choice(TEMPLATES).format(word), "generated:synonym", item.category, tuple(names)))
    return [q for q in questions if q is not None]


def _sibling_key(item: GarbageItem) -> str:
    return re.sub("[の・]", "", item.base_name)


def _partial_name(base: str) -> Optional[str]:
    """"アイスキャンデーの棒" → "アイスの棒": keep only the first word in front of "の"."""
    if "の" not in base or "・" in base:
        return None
    front, back = base.split("の", 1)
    words = [m.text for m in analyze(front)]
    if len(words) < 2 or len(words[0]) < 2 or not back:
        return None
    return f"{words[0]}の{back}"


def judge(question: Question, result: MatchResult) -> bool:
    if question.expect == "unknown":
        return result.status == "unknown"
    names = {c.item.name for c in result.candidates}
    if question.expect == "ambiguous":
        return result.status == "ambiguous" and set(question.items) <= names
    if result.status == "found":
        return result.candidates[0].item.category == question.category
    if result.status == "ambiguous":
        return all(c.item.category == question.category for c in result.candidates)
    return False


def evaluate() -> Dict:
    """Run both sets; returns the figures (and the failures)."""
    items = read_garbage_dictionary(DICTIONARY)
    synonyms = load_synonyms()
    started = time.perf_counter()
    matcher = ItemMatcher(items, synonyms)
    build_seconds = time.perf_counter() - started
    by_name = {i.name: i for i in items}
    questions = load_hand_written(QUESTIONS, by_name) + generate(items, synonyms)

    latencies: List[float] = []
    counts: Dict[str, int] = defaultdict(int)
    failures = []
    for question in questions:
        started = time.perf_counter()
        result = matcher.match(question.text)
        latencies.append((time.perf_counter() - started) * 1000)
        ok = judge(question, result)
        group = question.expect
        counts[f"{group}_total"] += 1
        counts[f"{group}_correct"] += ok
        if group == "category":
            counts[f"{question.source}_total"] += 1
            counts[f"{question.source}_correct"] += ok
            counts["ambiguous_answers"] += result.status == "ambiguous"
        if not ok:
            failures.append((question, result))
    latencies.sort()
    category_total = counts["category_total"]
    report = {
        "questions": len(questions),
        "category_questions": category_total,
        "hand_written": counts["hand_total"] + counts["unknown_total"] + counts["ambiguous_total"],
        "generated": sum(v for k, v in counts.items() if k.startswith("generated:") and k.endswith("_total")),
        "category_accuracy": counts["category_correct"] / category_total,
        "hand_written_accuracy": counts["hand_correct"] / max(counts["hand_total"], 1),
        "generated_accuracy": {k[len("generated:"):-len("_total")]: counts[k[:-len("_total")] + "_correct"] / v
                               for k, v in sorted(counts.items()) if k.startswith("generated:") and k.endswith("_total")},
        "ambiguous_rate": counts["ambiguous_answers"] / category_total,
        "clarification_accuracy": counts["ambiguous_correct"] / max(counts["ambiguous_total"], 1),
        "unknown_questions": counts["unknown_total"],
        "unknown_detection": counts["unknown_correct"] / max(counts["unknown_total"], 1),
        "latency_ms_p50": statistics.median(latencies),
        "latency_ms_p95": latencies[int(0.95 * (len(latencies) - 1))],
        "build_seconds": build_seconds,
        "failures": failures,
    }
    return report


def summary(report: Dict, show_errors: bool = False) -> str:
    lines = [
        f"questions            {report['questions']} ({report['hand_written']} hand-written, "
        f"{report['generated']} generated)",
        f"category accuracy    {report['category_accuracy']:.3f}  on {report['category_questions']} questions "
        f"(hand-written {report['hand_written_accuracy']:.3f})",
        "  generated by form  " + ", ".join(f"{k} {v:.3f}" for k, v in report["generated_accuracy"].items()),
        f"ambiguous rate       {report['ambiguous_rate']:.3f}  (answered with a question)",
        f"clarifications       {report['clarification_accuracy']:.3f}  (questions that must be asked back)",
        f"unknown detection    {report['unknown_detection']:.3f}  on {report['unknown_questions']} questions",
        f"latency              p50 {report['latency_ms_p50']:.2f} ms, p95 {report['latency_ms_p95']:.2f} ms",
        f"index build          {report['build_seconds']:.2f} s",
    ]
    if show_errors:
        lines.append("failures:")
        for question, result in report["failures"]:
            got = ", ".join(f"{c.item.name}[{c.item.category}] {c.score}" for c in result.candidates)
            lines.append(f"  {question.text!r} ({question.source}, expected {question.expect} "
                         f"{question.category or question.items}) → [{result.phrase}] {result.status}: {got}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true", help="list every question answered wrongly")
    args = parser.parse_args()
    print(summary(evaluate(), show_errors=args.show_errors))
