"""Risk triage: every citizen message gets a level before anything else reads it.

Levels (README "Youth counseling"): ``emergency`` (imminent: a plan, means, an act in progress, violence now),
``high`` (suicidal ideation, self-harm, abuse, neglect, sexual exploitation), ``normal`` (a worry a counselor
should hear, or a request for one), ``none``.

The rules are data (``data/counseling/triage.yml``), written so that counselors can extend them: each rule
has patterns and the examples it must catch and must not catch (``tests/gateway/test_triage.py`` checks
them). A message is looked at in two views, each for two spellings of it (as typed after NFKC, and with
katakana folded to hiragana so that シニタイ / ｼﾆﾀｲ read as しにたい):

* the **lemma view**: UniDic dictionary forms from fugashi, space-separated (「なぐられた」→ ``殴る れる た``,
  「飛び降りようかな」→ ``飛び下りる よう か な``), so one pattern covers kanji, kana and every conjugation;
* the **surface view**: the folded text without spaces, for slang the dictionary does not know (りすか, od).

A match is cancelled when what follows it in the same view negates or quotes it (「死にたいとは思わない」,
「"死にたい"って曲」): the ``cancel_after`` patterns of the rules file. A rule may need several patterns
at once (means + intent: 「ロープ」 + 「もう無理」) and may be cancelled by a pattern anywhere in the message
(``unless``: 「いじめ防止の取組」). The level is the highest of the rules that fire.

Pure Python (fugashi, jaconv, PyYAML): the gateway runs it with the engine down, and the message
never has to reach the NLU to be triaged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import jaconv
import yaml

RULES_FILE = Path(__file__).resolve().parents[2] / "data" / "counseling" / "triage.yml"
LEVELS = ("none", "normal", "high", "emergency")
RANK = {level: rank for rank, level in enumerate(LEVELS)}

_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufe00-\ufe0f]")
_STRETCH = re.compile(r"(?<=[ぁ-ゖ])[ー〜~ぁぃぅぇぉっ]+(?=[ぁ-ゖ]|$)|ー+")
_SPACES = re.compile(r"\s+")
_TERM = re.compile(r"\{(\w+)\}")


def rank(level: str) -> int:
    return RANK.get(level, 0)


def higher(a: str, b: str) -> str:
    return a if rank(a) >= rank(b) else b


@dataclass(frozen=True)
class Triage:
    level: str
    rules: Tuple[str, ...] = ()

    @property
    def rank(self) -> int:
        return RANK[self.level]


@dataclass(frozen=True)
class Views:
    """The strings the patterns run on (two spellings × two views)."""
    lemma: Tuple[str, ...]
    surface: Tuple[str, ...]


@dataclass
class Rule:
    id: str
    level: str
    # Each alternative is a list of (view, compiled pattern) that must ALL match somewhere in the message.
    alternatives: List[List[Tuple[str, "re.Pattern[str]"]]]
    unless: List[Tuple[str, "re.Pattern[str]"]] = field(default_factory=list)
    cancellable: bool = True
    examples: List[str] = field(default_factory=list)
    not_examples: List[str] = field(default_factory=list)


def fold(text: str) -> str:
    """NFKC, lower case, invisible characters removed, katakana as hiragana."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text.replace("\x00", ""))).lower()
    return jaconv.kata2hira(text)


@lru_cache(maxsize=1)
def _tagger():
    import fugashi

    return fugashi.Tagger()


def _lemma_tokens(text: str, aliases: Dict[str, str]) -> List[str]:
    tokens: List[str] = []
    for word in _tagger()(text):
        feature = word.feature
        lemma = getattr(feature, "lemma", None) or word.surface
        lemma = lemma.split("-")[0] if lemma and not lemma.startswith("-") else word.surface
        tokens.append(aliases.get(lemma, lemma))
        if (getattr(feature, "cForm", None) or "").startswith("意志推量形"):
            tokens.append("よう")  # 死のう / 飛び降りよう: the intention is in the ending, keep it visible
    return tokens


def views(text: str, aliases: Optional[Dict[str, str]] = None) -> Views:
    nfkc = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text.replace("\x00", ""))).lower()
    nfkc = _SPACES.sub(" ", nfkc).strip()
    hira = jaconv.kata2hira(nfkc)
    hira_plain = _STRETCH.sub("", hira)  # しにたーい / しにたぁい → しにたい
    spellings = list(dict.fromkeys([nfkc, hira, hira_plain]))
    lemma = tuple(dict.fromkeys(" " + " ".join(_lemma_tokens(s.replace(" ", "　"), aliases or {})) + " " for s in spellings))
    surface = tuple(dict.fromkeys(s.replace(" ", "") for s in (hira, hira_plain)))
    return Views(lemma=lemma, surface=surface)


class RuleSet:
    """The rules file, compiled. ``RuleSet.load()`` reads data/counseling/triage.yml."""

    def __init__(self, data: Dict):
        self.aliases: Dict[str, str] = {str(k): str(v) for k, v in (data.get("lemma_aliases") or {}).items()}
        terms = {name: "(?:" + "|".join(values) + ")" for name, values in (data.get("terms") or {}).items()}

        def compile_pattern(spec: str) -> Tuple[str, "re.Pattern[str]"]:
            view, pattern = ("surface", spec[2:]) if spec.startswith("s:") else ("lemma", spec)
            expanded = _TERM.sub(lambda m: terms[m.group(1)], pattern)
            return view, re.compile(expanded)

        cancel = data.get("cancel_after") or {}
        self.cancel_after = {
            "lemma": [re.compile("^" + _TERM.sub(lambda m: terms[m.group(1)], p)) for p in cancel.get("lemma", [])],
            "surface": [re.compile("^" + _TERM.sub(lambda m: terms[m.group(1)], p)) for p in cancel.get("surface", [])],
        }
        self.rules: List[Rule] = []
        for item in data.get("rules") or []:
            if item["level"] not in LEVELS[1:]:
                raise ValueError(f"rule {item['id']}: unknown level {item['level']!r}")
            alternatives = [[compile_pattern(part.strip()) for part in alt.split(" + ")] for alt in item["match"]]
            self.rules.append(Rule(
                id=item["id"], level=item["level"], alternatives=alternatives,
                unless=[compile_pattern(p) for p in item.get("unless") or []],
                cancellable=item.get("cancellable", True),
                examples=list(item.get("examples") or []), not_examples=list(item.get("not_examples") or [])))

    @classmethod
    def load(cls, path: Path = RULES_FILE) -> "RuleSet":
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    # ------------------------------------------------------------------ matching
    def _cancelled(self, view: str, string: str, end: int) -> bool:
        rest = string[end:]
        return any(p.match(rest) for p in self.cancel_after[view])

    def _found(self, v: Views, view: str, pattern: "re.Pattern[str]", cancellable: bool) -> bool:
        for string in (v.lemma if view == "lemma" else v.surface):
            for m in pattern.finditer(string):
                if not cancellable or not self._cancelled(view, string, m.end()):
                    return True
        return False

    def fires(self, rule: Rule, v: Views) -> bool:
        if any(self._found(v, view, p, False) for view, p in rule.unless):
            return False
        return any(all(self._found(v, view, p, rule.cancellable) for view, p in alt) for alt in rule.alternatives)

    def triage(self, text: str) -> Triage:
        if not isinstance(text, str) or not text.strip():
            return Triage("none")
        v = views(text[:4000], self.aliases)
        fired = [r for r in self.rules if self.fires(r, v)]
        if not fired:
            return Triage("none")
        level = max((r.level for r in fired), key=rank)
        return Triage(level, tuple(r.id for r in fired))

    def explain(self, text: str) -> Dict:
        v = views(text, self.aliases)
        result = self.triage(text)
        return {"level": result.level, "rules": list(result.rules), "lemma": list(v.lemma),
                "surface": list(v.surface)}


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    return RuleSet.load()


def triage(text: str) -> Triage:
    """The level of one message, with the ids of the rules that fired."""
    return default_rules().triage(text)


def evaluate(rules: RuleSet, messages: Iterable[Dict]) -> Dict[str, Dict[str, float]]:
    """Per-level precision and recall of ``rules`` on labelled messages ({text, level})."""
    pairs = [(m["level"], rules.triage(m["text"]).level) for m in messages]
    report: Dict[str, Dict[str, float]] = {}
    for level in LEVELS:
        tp = sum(1 for gold, got in pairs if gold == level and got == level)
        gold_n = sum(1 for gold, _ in pairs if gold == level)
        got_n = sum(1 for _, got in pairs if got == level)
        report[level] = {"n": gold_n, "precision": tp / got_n if got_n else 1.0,
                         "recall": tp / gold_n if gold_n else 1.0}
    return report


def load_set(path: Path) -> List[Dict]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))["messages"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m connectors.counseling.triage "text" …`` prints the level, the rules and the views."""
    import json
    import sys

    args = list(argv if argv is not None else sys.argv[1:])
    rules = RuleSet.load()
    for text in args:
        print(json.dumps({"text": text, **rules.explain(text)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
