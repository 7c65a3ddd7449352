"""Validate the municipal FAQ content and its held-out evaluation set.

    python -m tools.check_faq_content                 # from the repository root
    python -m tools.check_faq_content --faq data/faq/faq.yml --heldout tests/faq/heldout.yml

Checks (each failure is an error; the exit status is 1 when there is any):

* faq.yml: ids unique and T01..T40 present; category known; question present; answer in です・ます
  style, at most 300 characters (line breaks not counted) and 5 lines; at least 8 examples, none
  repeated (within or across topics, after normalisation); `url` (and any URL in the answer) on
  https://www.city.sapporo.jp/; `reviewed` a boolean; `section` present; `handover` one of the
  declared flows (T07 → bulky_booking, T11 → collection_day, T35 → counseling); no phone-number-like
  string other than 011-222-4894, 110, 119, 189, 0120-0-78310 unless the entry lists it in
  `allowed_numbers` with a reason.
* keywords (optional): a list of non-empty strings, unique like the examples.
* heldout.yml (and fresh.yml, with 3 per topic, 20 out-of-scope, 8 follow-ups): every expected id exists; ≥ 4 in-scope queries per topic, ≥ 35 out-of-scope and
  ≥ 10 follow-up queries (expected `none`); no duplicate query; no query equal to a training example
  or canonical question after normalisation (NFKC + lower case via bot.nlu.normalize.normalize_text,
  whitespace removed), nor after also removing punctuation (a trivial modification).

Warnings (printed, not failing): long answer lines, entries already marked reviewed, held-out queries
very similar to a training example of the same topic, allowed numbers that the answer does not use.

Pure Python (PyYAML and the repository's bot.nlu.normalize); fast enough for the unit-test suite.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

from bot.nlu.normalize import normalize_text

ROOT = Path(__file__).resolve().parent.parent
FAQ_PATH = ROOT / "data" / "faq" / "faq.yml"
HELDOUT_PATH = ROOT / "tests" / "faq" / "heldout.yml"
FRESH_PATH = ROOT / "tests" / "faq" / "fresh.yml"

REQUIRED_IDS = [f"T{i:02d}" for i in range(1, 41)]
ID_PATTERN = re.compile(r"^T\d{2,3}$")
CITY_SITE = "https://www.city.sapporo.jp/"
MAX_ANSWER_CHARS = 300
MAX_ANSWER_LINES = 5
LONG_LINE_CHARS = 70
MIN_EXAMPLES = 8
MIN_HELDOUT_PER_TOPIC = 4
MIN_OUT_OF_SCOPE = 35
MIN_FOLLOWUPS = 10
SIMILARITY_WARNING = 0.85
NONE = "none"

# Numbers every answer may contain: the city's call center and nationwide numbers.
GLOBAL_ALLOWED_NUMBERS = {"011-222-4894", "110", "119", "189", "0120-0-78310"}
# Dialogue flows that must take over from these topics.
REQUIRED_HANDOVERS = {"T07": "bulky_booking", "T11": "collection_day", "T35": "counseling"}

_DASHES = "‐‑‒–—―−ー－﹣"
_PHONE_PATTERNS = [
    # 011-222-4894, 0120-0-78310, 050-1234-5678
    re.compile(r"(?<![\d-])0\d{1,4}-\d{1,4}-\d{3,5}(?![\d-])"),
    # (011)222-4894
    re.compile(r"\(0\d{1,4}\)\s?\d{1,4}-\d{3,5}(?![\d-])"),
    # 0112224894, 09012345678
    re.compile(r"(?<![\d-])0\d{9,10}(?!\d)"),
    # 222-4894 (local number without area code); postal codes are written after 〒
    re.compile(r"(?<![\d\-〒])\d{2,4}-\d{4}(?![\d-])"),
    # #7119, #8000
    re.compile(r"#\d{3,4}(?!\d)"),
    # three-digit service numbers: 110, 119, 189 … (not followed by a unit)
    re.compile(r"(?<![A-Za-z0-9.,:/#-])1\d{2}(?![A-Za-z0-9.,:/-]|[年月日時分秒歳円%％号条丁目区件人回個万千名枚本台通週部階])"),
]
_URL_PATTERN = re.compile(r"https?://[^\s）)」』、。]+")
_PUNCTUATION = set("、。，．,.!！?？・「」『』（）()[]【】〜~ー-…:：;；'\"“”‘’/／")


@dataclass
class Report:
    errors: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)
    counts: Dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


# --------------------------------------------------------------------------- helpers

def normalize_query(text: str) -> str:
    """NFKC + lower case (bot.nlu.normalize), whitespace removed: what counts as 'the same query'."""
    return "".join(normalize_text(text).split())


def strip_punctuation(text: str) -> str:
    """The normalised query without punctuation and long-vowel marks (catches trivial edits)."""
    return "".join(ch for ch in normalize_query(text) if ch not in _PUNCTUATION)


def _canonical_number(number: str) -> str:
    """Digits only: 011-222-4894, (011)222-4894 and ０１１２２２４８９４ are the same number."""
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", str(number)))


def find_phone_numbers(text: str) -> List[str]:
    """Phone-number-like strings in `text` (after NFKC and dash folding), in order of appearance."""
    folded = unicodedata.normalize("NFKC", text)
    # Dashes between digits become "-" (ー is also the katakana long-vowel mark, so only there).
    folded = re.sub(rf"(?<=\d)[{_DASHES}](?=\d)", "-", folded)
    found: List[Tuple[int, str]] = []
    taken: List[Tuple[int, int]] = []
    for pattern in _PHONE_PATTERNS:
        for match in pattern.finditer(folded):
            start, end = match.span()
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            taken.append((start, end))
            found.append((start, match.group(0)))
    return [number for _, number in sorted(found)]


def _entry_label(entry: dict, index: int) -> str:
    return str(entry.get("id") or f"topics[{index}]")


def _as_text(value) -> Optional[str]:
    return value if isinstance(value, str) and value.strip() else None


# --------------------------------------------------------------------------- faq.yml

def check_faq(faq: dict, report: Report) -> Dict[str, dict]:
    """Check faq.yml's content; return the entries by id (for the held-out checks)."""
    if not isinstance(faq, dict) or not isinstance(faq.get("topics"), list):
        report.errors.append("faq: top-level `topics` list is missing")
        return {}
    categories = faq.get("categories") or []
    if not isinstance(categories, list) or not categories:
        report.errors.append("faq: top-level `categories` list is missing")
        categories = []
    handovers = faq.get("handovers") or {}
    if not isinstance(handovers, dict):
        report.errors.append("faq: `handovers` must map flow names to descriptions")
        handovers = {}

    by_id: Dict[str, dict] = {}
    example_owner: Dict[str, str] = {}
    for index, entry in enumerate(faq["topics"]):
        if not isinstance(entry, dict):
            report.errors.append(f"faq: topics[{index}] is not a mapping")
            continue
        label = _entry_label(entry, index)
        topic_id = entry.get("id")
        if not isinstance(topic_id, str) or not ID_PATTERN.match(topic_id):
            report.errors.append(f"{label}: id must look like T01")
        elif topic_id in by_id:
            report.errors.append(f"{label}: duplicate id")
        else:
            by_id[topic_id] = entry

        if entry.get("category") not in categories:
            report.errors.append(f"{label}: category {entry.get('category')!r} is not in `categories`")
        if not _as_text(entry.get("question")):
            report.errors.append(f"{label}: question is missing")
        if not _as_text(entry.get("section")):
            report.errors.append(f"{label}: section is missing (write 担当部署（要確認） when unknown)")
        if not isinstance(entry.get("reviewed"), bool):
            report.errors.append(f"{label}: reviewed must be true or false")
        elif entry["reviewed"]:
            report.warnings.append(f"{label}: marked reviewed: true — only the responsible section may set it")

        _check_answer(entry, label, report)
        _check_url(entry, label, report)
        _check_numbers(entry, label, report)
        _check_handover(entry, label, handovers, report)
        _check_examples(entry, label, example_owner, report)

    missing = [topic_id for topic_id in REQUIRED_IDS if topic_id not in by_id]
    if missing:
        report.errors.append(f"faq: missing topics {', '.join(missing)}")
    for topic_id, flow in REQUIRED_HANDOVERS.items():
        if topic_id in by_id and by_id[topic_id].get("handover") != flow:
            report.errors.append(f"{topic_id}: handover must be {flow!r}")
    report.counts["topics"] = len(by_id)
    report.counts["examples"] = sum(len(e.get("examples") or []) for e in by_id.values())
    return by_id


def _check_answer(entry: dict, label: str, report: Report) -> None:
    answer = _as_text(entry.get("answer"))
    if answer is None:
        report.errors.append(f"{label}: answer is missing")
        return
    lines = [line.strip() for line in answer.strip().split("\n")]
    if any(not line for line in lines):
        report.errors.append(f"{label}: answer has an empty line")
    length = len("".join(lines))
    if length > MAX_ANSWER_CHARS:
        report.errors.append(f"{label}: answer has {length} characters (max {MAX_ANSWER_CHARS})")
    if len(lines) > MAX_ANSWER_LINES:
        report.errors.append(f"{label}: answer has {len(lines)} lines (max {MAX_ANSWER_LINES})")
    for line in lines:
        if line and not line.endswith("。"):
            report.errors.append(f"{label}: answer line does not end with 「。」: {line}")
        if len(line) > LONG_LINE_CHARS:
            report.warnings.append(f"{label}: answer line of {len(line)} characters (phone screens: keep ≤ "
                                   f"{LONG_LINE_CHARS})")
    if not re.search(r"(です|ます|ください)。", answer):
        report.errors.append(f"{label}: answer is not in です・ます style")


def _check_url(entry: dict, label: str, report: Report) -> None:
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(CITY_SITE):
        report.errors.append(f"{label}: url must start with {CITY_SITE} (got {url!r})")
    for text_key in ("answer", "question"):
        for found in _URL_PATTERN.findall(str(entry.get(text_key) or "")):
            if not found.startswith(CITY_SITE):
                report.errors.append(f"{label}: {text_key} contains a URL outside the city's site: {found}")


def _check_numbers(entry: dict, label: str, report: Report) -> None:
    allowed = {_canonical_number(number) for number in GLOBAL_ALLOWED_NUMBERS}
    entry_numbers = entry.get("allowed_numbers") or []
    if not isinstance(entry_numbers, list):
        report.errors.append(f"{label}: allowed_numbers must be a list of {{number, why}}")
        entry_numbers = []
    own: List[str] = []
    for item in entry_numbers:
        if not isinstance(item, dict) or not _as_text(str(item.get("number") or "")) \
                or not _as_text(item.get("why")):
            report.errors.append(f"{label}: each allowed_numbers item needs `number` and `why` (the reason "
                                 f"and where the number was confirmed)")
            continue
        own.append(_canonical_number(item["number"]))
    allowed.update(own)
    used = set()
    for text_key in ("answer", "question"):
        for number in find_phone_numbers(str(entry.get(text_key) or "")):
            used.add(_canonical_number(number))
            if _canonical_number(number) not in allowed:
                report.errors.append(f"{label}: {text_key} contains the number {number!r}, which is not allowed "
                                     f"(list it in allowed_numbers with the reason, or remove it)")
    for number in own:
        if number not in used:
            report.warnings.append(f"{label}: allowed number {number} is not used in the answer")


def _check_handover(entry: dict, label: str, handovers: dict, report: Report) -> None:
    flow = entry.get("handover")
    if flow is not None and flow not in handovers:
        report.errors.append(f"{label}: handover {flow!r} is not declared in `handovers`")


def _check_examples(entry: dict, label: str, owner: Dict[str, str], report: Report) -> None:
    examples = entry.get("examples")
    if not isinstance(examples, list) or not all(_as_text(e) for e in examples):
        report.errors.append(f"{label}: examples must be a list of non-empty strings")
        return
    if len(examples) < MIN_EXAMPLES:
        report.errors.append(f"{label}: {len(examples)} examples (min {MIN_EXAMPLES})")
    keywords = entry.get("keywords", [])
    if not isinstance(keywords, list) or not all(_as_text(k) for k in keywords):
        report.errors.append(f"{label}: keywords must be a list of non-empty strings")
        keywords = []
    for example in [*examples, *keywords]:
        key = normalize_query(example)
        previous = owner.get(key)
        if previous == label:
            report.errors.append(f"{label}: example repeated: {example}")
        elif previous:
            report.errors.append(f"{label}: example also under {previous}: {example}")
        else:
            owner[key] = label


# --------------------------------------------------------------------------- heldout.yml

@dataclass(frozen=True)
class Minimums:
    per_topic: int = MIN_HELDOUT_PER_TOPIC
    out_of_scope: int = MIN_OUT_OF_SCOPE
    followups: int = MIN_FOLLOWUPS


# tests/faq/fresh.yml: the second, blind batch (3 per topic).
FRESH_MINIMUMS = Minimums(per_topic=3, out_of_scope=20, followups=8)


def check_heldout(heldout: dict, topics: Dict[str, dict], report: Report, minimums: Minimums = Minimums()) -> None:
    if not isinstance(heldout, dict):
        report.errors.append("heldout: not a mapping")
        return
    training: Dict[str, Tuple[str, str]] = {}
    training_loose: Dict[str, Tuple[str, str]] = {}
    for topic_id, entry in topics.items():
        texts = list(entry.get("examples") or []) + list(entry.get("keywords") or []) + [entry.get("question") or ""]
        for text in texts:
            if _as_text(text):
                training[normalize_query(text)] = (topic_id, text)
                training_loose[strip_punctuation(text)] = (topic_id, text)

    per_topic: Counter = Counter()
    seen: Dict[str, str] = {}
    sections = {"in_scope": 0, "out_of_scope": 0, "followups": 0}
    for section in sections:
        items = heldout.get(section)
        if not isinstance(items, list):
            report.errors.append(f"heldout: `{section}` list is missing")
            continue
        for index, item in enumerate(items):
            where = f"heldout {section}[{index}]"
            if not isinstance(item, dict) or not _as_text(item.get("q")):
                report.errors.append(f"{where}: needs q and expect")
                continue
            query, expect = item["q"], item.get("expect")
            if section == "in_scope":
                if expect not in topics:
                    report.errors.append(f"{where}: expect {expect!r} is not a topic id ({query})")
                    continue
                per_topic[expect] += 1
            elif expect != NONE:
                report.errors.append(f"{where}: expect must be {NONE!r} ({query})")
                continue
            sections[section] += 1

            key = normalize_query(query)
            if key in seen:
                report.errors.append(f"{where}: duplicate query (also {seen[key]}): {query}")
            seen[key] = where
            if key in training:
                topic_id, text = training[key]
                report.errors.append(f"{where}: equals a training text of {topic_id} ({text}): {query}")
            elif strip_punctuation(query) in training_loose:
                topic_id, text = training_loose[strip_punctuation(query)]
                report.errors.append(f"{where}: only punctuation differs from a training text of {topic_id} "
                                     f"({text}): {query}")
            elif section == "in_scope":
                _warn_if_similar(query, expect, topics[expect], where, report)

    for topic_id in topics:
        if per_topic[topic_id] < minimums.per_topic:
            report.errors.append(f"heldout: {topic_id} has {per_topic[topic_id]} queries "
                                 f"(min {minimums.per_topic})")
    if sections["out_of_scope"] < minimums.out_of_scope:
        report.errors.append(f"heldout: {sections['out_of_scope']} out-of-scope queries (min {minimums.out_of_scope})")
    if sections["followups"] < minimums.followups:
        report.errors.append(f"heldout: {sections['followups']} follow-up queries (min {minimums.followups})")
    report.counts["heldout_in_scope"] = sections["in_scope"]
    report.counts["heldout_out_of_scope"] = sections["out_of_scope"]
    report.counts["heldout_followups"] = sections["followups"]
    report.counts["heldout_per_topic"] = {topic_id: per_topic[topic_id] for topic_id in topics}


def _warn_if_similar(query: str, topic_id: str, entry: dict, where: str, report: Report) -> None:
    key = strip_punctuation(query)
    for text in entry.get("examples") or []:
        ratio = difflib.SequenceMatcher(None, key, strip_punctuation(text)).ratio()
        if ratio >= SIMILARITY_WARNING:
            report.warnings.append(f"{where}: very close to the {topic_id} example 「{text}」 "
                                   f"(similarity {ratio:.2f}): {query}")


# --------------------------------------------------------------------------- entry points

def load_yaml(path: Path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def check(faq: dict, heldout: Optional[dict], minimums: Minimums = Minimums()) -> Report:
    report = Report()
    topics = check_faq(faq, report)
    if heldout is not None:
        check_heldout(heldout, topics, report, minimums)
    return report


def check_files(faq_path: Path = FAQ_PATH, heldout_path: Path = HELDOUT_PATH) -> Report:
    return check(load_yaml(faq_path), load_yaml(heldout_path))


def summary(report: Report, faq: Optional[dict] = None) -> str:
    lines: List[str] = []
    counts = report.counts
    lines.append(f"FAQ topics: {counts.get('topics', 0)}, training examples: {counts.get('examples', 0)}")
    lines.append(f"held-out: {counts.get('heldout_in_scope', 0)} in scope, "
                 f"{counts.get('heldout_out_of_scope', 0)} out of scope, "
                 f"{counts.get('heldout_followups', 0)} follow-ups")
    if faq and isinstance(faq.get("topics"), list):
        per_topic = counts.get("heldout_per_topic") or {}
        lines.append("topic  examples  held-out  category      url")
        for entry in faq["topics"]:
            if not isinstance(entry, dict):
                continue
            topic_id = entry.get("id")
            url = str(entry.get("url") or "")
            url_note = "top page" if url == CITY_SITE else url.replace(CITY_SITE, "…/")
            lines.append(f"{topic_id!s:6} {len(entry.get('examples') or []):8}  {per_topic.get(topic_id, 0):8}  "
                         f"{str(entry.get('category')):12}  {url_note}")
        unreviewed = sum(1 for e in faq["topics"] if isinstance(e, dict) and not e.get("reviewed"))
        lines.append(f"not yet reviewed by the city: {unreviewed}")
    for warning in report.warnings:
        lines.append(f"WARNING {warning}")
    for error in report.errors:
        lines.append(f"ERROR {error}")
    lines.append("OK" if report.ok else f"{len(report.errors)} error(s)")
    return "\n".join(lines)


def main(argv: Optional[Iterable[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faq", type=Path, default=FAQ_PATH)
    parser.add_argument("--heldout", type=Path, default=HELDOUT_PATH)
    args = parser.parse_args(list(argv) if argv is not None else None)
    faq = load_yaml(args.faq)
    report = check(faq, load_yaml(args.heldout))
    print(summary(report, faq))
    if args.heldout == HELDOUT_PATH and FRESH_PATH.exists():
        fresh = check(faq, load_yaml(FRESH_PATH), FRESH_MINIMUMS)
        print(f"{FRESH_PATH.name}: " + ("OK" if fresh.ok else "\n".join(fresh.errors)))
        report.errors.extend(fresh.errors)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
