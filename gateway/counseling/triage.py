"""Risk triage: every citizen message gets a level before anything else reads it.

Levels (README "Youth counseling"): ``emergency`` (imminent: a plan, means, an act in progress, violence now),
``high`` (suicidal ideation, self-harm, abuse, neglect, sexual exploitation), ``normal`` (a worry a counselor
should hear, or a request for one), ``none``.

The rules are data (``data/counseling/triage.yml``), written so that counselors can extend them: each rule
has patterns and the examples it must catch and must not catch (``tests/gateway/test_triage.py`` checks
them). A message is looked at in two views, each for several spellings of it: as typed after NFKC; with only
the katakana runs the dictionary does not know folded to hiragana (「ロープ買った ｲｷﾙﾉﾂﾗｲ」 keeps ロープ and reads
いきるのつらい); with all katakana folded to hiragana (シニタイ / ｼﾆﾀｲ read as しにたい); with stretched vowels
removed (しにたーい); and a "slang" spelling (:func:`slang_fold`: 死にてぇ / 死にたみ → 死にたい, 4ぬ / 氏ね / タヒ → 死,
しにたいしにたい split into its repetitions so the dictionary can read each one):

* the **lemma view**: UniDic dictionary forms from fugashi, space-separated (「なぐられた」→ ``殴る れる た``,
  「飛び降りようかな」→ ``飛び下りる よう か な``), so one pattern covers kanji, kana and every conjugation;
* the **surface view**: the folded text without spaces, for slang the dictionary does not know (りすか, od).

A match is cancelled when what follows it in the same view negates or quotes it (「死にたいとは思わない」,
「"死にたい"って曲」): the ``cancel_after`` patterns of the rules file; when what precedes it makes it hyperbole
(「恥ずかしすぎて消えたい」, 「笑いすぎて死ぬ」): ``cancel_before``; and when it sits inside 「…」/『…』 brackets
that are introduced as a title (``quote_before``: 「ドラマの「…」」) or followed by one (``cancel_after`` run
from the closing bracket: 「…」って曲). A rule may need several patterns
at once (means + intent: 「ロープ」 + 「もう無理」) and may be cancelled by a pattern anywhere in the message
(``unless``: 「いじめ防止の取組」). The level is the highest of the rules that fire.

A rule of level ``none`` (an *ordinary* rule) names a kind of message that is read as ordinary on purpose
(「このチャットに書いたことって保存されるの」: a question about the service). It never lowers a risk rule:
when it alone fires, the level is ``none`` and the message counts as dismissed on purpose (``vetoed``), so the
classifier may not overrule it.

In a surface pattern (``s:``), a term ``{name}`` stands for its words without spaces and for their readings
in hiragana from the dictionary (子育て → 子育て | こそだて, 除雪 → 除雪 | じょせつ): the dictionary
splits kana spellings of such words into nonsense (こそだて → こそ 伊達), so the lemma view cannot see them.

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

from gateway.counseling import literals

RULES_FILE = Path(__file__).resolve().parents[2] / "data" / "counseling" / "triage.yml"
LEVELS = ("none", "normal", "high", "emergency")
RANK = {level: rank for rank, level in enumerate(LEVELS)}

_INVISIBLE = re.compile(r"[\ud800-\udfff\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufe00-\ufe0f]")
_STRETCH = re.compile(r"(?<=[ぁ-ゖ])[ー〜~ぁぃぅぇぉっ]+(?=[ぁ-ゖ]|$)|ー+")
_KAOMOJI = re.compile(r"\([^()\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fff]{1,15}\)")  # (´・ω・`) (;_;) (´;ω;`): no kana or kanji inside
_SPACES = re.compile(r"\s+")
_KATAKANA_RUN = re.compile(r"[ァ-ヺ][ァ-ヺー]+")
_OPEN, _CLOSE = "「『“\"", "」』”\""
# The slang spelling (slang_fold): each (pattern, replacement) is applied in turn to the hiragana spelling.
_I_STEM = "いきぎしじちぢにひびぴみりえけげせぜてでねへべぺめれ"
_SLANG = [
    # タヒ (死 written as タ+ヒ), 氏ね / 氏にたい, 4ぬ / 4にたい / 4ね: the number 4 and 氏 read し.
    (re.compile(r"たひ(?=[にねぬんの]|る|った|りたい)"), "死"),
    (re.compile(r"死(?:る|りたい)"), lambda m: {"死る": "死ぬ", "死りたい": "死にたい"}[m.group(0)]),
    (re.compile(r"氏(?=に(?:た|そう|ま|て)|ね(?![ぁ-ゖ])|ね[ぇえー]|ぬ|んで|んだ)"), "死"),
    (re.compile(r"(?<![0-9.,:/])4(?=に(?:た|そう|ま|て)|ね(?=$|[^ぁ-ゖ]|よ|って|[ぇえー])|ぬ(?!ま)|んで|んだ)"), "死"),
    (re.compile(r"(?:^|(?<=[^ぁ-ゖ]))しね(?=$|[^ぁ-ゖ]|って|と|しね|よ)"), "死ね"),
    (re.compile(r"ちにた(?=[いくかぃ])"), "しにた"),
    (re.compile(r"(?:^|(?<=[^ぁ-ゖ]))しぬ(?=$|[^ぁ-ゖ]|よ|わ|かも|って|しぬ|ね)"), "死ぬ"),
    (re.compile(r"(から|もう|まじ|ほんと|ほんとに|いっそ|で|は)しぬ(?=$|[^ぁ-ゖ]|よ|わ|かも|って|ね)"), r"\1死ぬ"),
    # 死にてぇ / 消えてー / 帰りてえ → たい, 死にたみ / 消えたみ → たい, しにたぃ → しにたい
    (re.compile(r"(?<=[" + _I_STEM + r"一-龯])て(?:ぇ|え|ー)+(?=$|[^ぁ-ゖ]|よ|な|わ|ん|し)"), "たい"),
    (re.compile(r"(?<=[" + _I_STEM + r"一-龯])たみ"), "たい"),
    (re.compile(r"(?<=[かさたなはまやらわがざだばぱ])ぃ"), "い"),
    # たくねぇ / いみねー / わかんねえ → ない
    (re.compile(r"(?<=[くんら味値])ね[ぇえー]+"), "ない"),
    # しにたいしにたいしにたい → しにたい しにたい しにたい (the dictionary misreads the run)
    (re.compile(r"([^\s]{3,8}?)(?=\1)"), r"\1 "),
]
_TERM = re.compile(r"\{(\w+)\}")


def rank(level: str) -> int:
    return RANK.get(level, 0)


def higher(a: str, b: str) -> str:
    return a if rank(a) >= rank(b) else b


@dataclass(frozen=True)
class Triage:
    level: str
    rules: Tuple[str, ...] = ()
    # The rules saw words of danger and dismissed them on purpose (negation, a quoted title, a garbage
    # question…): the classifier (gateway/counseling/classifier.py) may not overrule that.
    vetoed: bool = False
    source: str = "rules"  # rules | classifier | rules+classifier

    @property
    def rank(self) -> int:
        return RANK[self.level]


@dataclass(frozen=True)
class Views:
    """The strings the patterns run on (two spellings × two views), and what was found in them so far: a rule's
    words are looked for again when no risk rule fired (``vetoed``), and several rules share patterns."""
    lemma: Tuple[str, ...]
    surface: Tuple[str, ...]
    found: Dict[Tuple[int, str, int, bool], bool] = field(default_factory=dict, compare=False, repr=False)
    _joined: Dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def joined(self, view: str) -> str:
        """The view's strings in one, for literals.absent (a word in one of them is in this one)."""
        if view not in self._joined:
            self._joined[view] = "\n".join(self.lemma if view == "lemma" else self.surface)
        return self._joined[view]


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
    # The examples also train the classifier (gateway/counseling/classifier.py) unless the rule says not to: the
    # classifier only speaks where no rule fired, and a few texts more moved knife-edge messages of danger.
    trains_classifier: bool = True
    # The rule counts only beside one of these rules (「今から会う」 is an emergency after sexual_exploitation's words,
    # nothing on its own); its examples must fire one of them too.
    after: Tuple[str, ...] = ()


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
        if not lemma.strip():  # a space the user typed (tagged as "　"): it separates phrases like a comma
            lemma = "、"
        tokens.append(aliases.get(lemma, lemma))
        if (getattr(feature, "cForm", None) or "").startswith("意志推量形"):
            tokens.append("よう")  # 死のう / 飛び降りよう: the intention is in the ending, keep it visible
    return tokens


def slang_fold(text: str) -> str:
    """The slang spelling of an already folded (hiragana) text: 死にてぇ → 死にたい, 4ぬ → 死ぬ, …"""
    for pattern, replacement in _SLANG:
        text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=4096)
def _reading(words: str) -> str:
    """The reading in hiragana of a term's literal words (「子育て 支援」 → こそだてしえん); "" for a regular
    expression or a word the dictionary does not know."""
    if not re.fullmatch(r"[\w ー・]+", words):
        return ""
    kana = []
    for word in _tagger()(words.replace(" ", "")):
        reading = getattr(word.feature, "kana", None)
        if word.is_unk or not reading or reading == "*":
            return ""
        kana.append(reading)
    return jaconv.kata2hira("".join(kana))


@lru_cache(maxsize=4096)
def _known_katakana(run: str) -> bool:
    """Whether a katakana run is one word the dictionary knows (ロープ, オーバードーズ) rather than kana
    spelling of several words (イキルノツライ, シニタイ)."""
    words = list(_tagger()(run))
    return len(words) == 1 and not words[0].is_unk


def _fold_unknown_katakana(text: str) -> str:
    return _KATAKANA_RUN.sub(lambda m: m.group(0) if _known_katakana(m.group(0)) else jaconv.kata2hira(m.group(0)), text)


def views(text: str, aliases: Optional[Dict[str, str]] = None) -> Views:
    nfkc = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text.replace("\x00", ""))).lower()
    nfkc = _SPACES.sub(" ", nfkc).strip()
    mixed = _fold_unknown_katakana(nfkc)
    hira = jaconv.kata2hira(nfkc)
    hira_plain = _STRETCH.sub("", hira)  # しにたーい / しにたぁい → しにたい
    slang = slang_fold(hira)
    slang_plain = _STRETCH.sub("", slang)
    # Children often put spaces between words (「ぼく し に たい」, 「自 殺」): the same text without them too.
    joined = mixed.replace(" ", "") if " " in mixed else None
    # A face (´・ω・`) glued to the words makes the dictionary misread them (`)しにたい → する ぬ たい): without it too.
    faceless = _KAOMOJI.sub("。", slang_plain) if _KAOMOJI.search(slang_plain) else None
    spellings = list(dict.fromkeys(s for s in [nfkc, mixed, joined, hira, hira_plain, slang, slang_plain, faceless] if s))
    lemma = tuple(dict.fromkeys(" " + " ".join(_lemma_tokens(s.replace(" ", "　"), aliases or {})) + " " for s in spellings))
    surface = tuple(dict.fromkeys(s.replace(" ", "") for s in (hira, hira_plain, slang, slang_plain)))
    return Views(lemma=lemma, surface=surface)


class RuleSet:
    """The rules file, compiled. ``RuleSet.load()`` reads data/counseling/triage.yml."""

    shortcuts = True  # skip rules and patterns whose words are not in the message (literals.py); False: the test's reference

    def __init__(self, data: Dict):
        self.aliases: Dict[str, str] = {str(k): str(v) for k, v in (data.get("lemma_aliases") or {}).items()}
        raw_terms = {name: [str(v) for v in values] for name, values in (data.get("terms") or {}).items()}
        terms: Dict[str, str] = {}
        for name, values in raw_terms.items():  # a term may use the terms defined above it
            terms[name] = "(?:" + "|".join(_TERM.sub(lambda m: terms[m.group(1)], v) for v in values) + ")"
        surface_terms: Dict[str, str] = {}

        def surface_term(name: str) -> str:
            # the words as written without spaces, and their readings (see the module's docstring)
            if name not in surface_terms:
                forms = [w for v in raw_terms[name] for w in (v.replace(" ", ""), _reading(v)) if w]
                surface_terms[name] = "(?:" + "|".join(sorted(set(forms), key=lambda w: (-len(w), w))) + ")"
            return surface_terms[name]

        def compile_pattern(spec: str) -> Tuple[str, "re.Pattern[str]"]:
            view, pattern = ("surface", spec[2:]) if spec.startswith("s:") else ("lemma", spec)
            expanded = _TERM.sub(lambda m: (surface_term if view == "surface" else terms.__getitem__)(m.group(1)),
                                 pattern)
            return view, re.compile(expanded)

        def expand(p: str) -> str:
            return _TERM.sub(lambda m: terms[m.group(1)], p)

        cancel = data.get("cancel_after") or {}
        self.cancel_after = {
            "lemma": [re.compile("^" + expand(p)) for p in cancel.get("lemma", [])],
            "surface": [re.compile("^" + expand(p)) for p in cancel.get("surface", [])],
        }
        before = data.get("cancel_before") or {}

        def compile_before(p) -> Tuple["re.Pattern[str]", Optional["re.Pattern[str]"]]:
            # a plain pattern, or {before: …, word: …}: the cancel holds only when the word that follows the
            # cut (the match, or its last word) is one of `word` (手が + 死んでる, not 手が + 震える)
            if isinstance(p, dict):
                return re.compile("(?:" + expand(p["before"]) + ")$"), re.compile(" ?(?:" + expand(p["word"]) + ")(?= )")
            return re.compile("(?:" + expand(p) + ")$"), None

        self.cancel_before = {
            "lemma": [compile_before(p) for p in before.get("lemma", [])],
            "surface": [compile_before(p) for p in before.get("surface", [])],
        }
        undone = data.get("negation_undone") or {}
        self.negation_undone = {view: [re.compile("^" + expand(p)) for p in undone.get(view, [])]
                                for view in ("lemma", "surface")}
        quote_before = data.get("quote_before") or []
        self.quote_before = {
            "lemma": [re.compile("(?:" + expand(p) + ")$") for p in quote_before],
            # the same words on the surface view: no spaces, katakana as hiragana (ドラマの「 → どらまの「)
            "surface": [re.compile("(?:" + jaconv.kata2hira(expand(p).replace(" ", "")) + ")$") for p in quote_before],
        }
        self.rules: List[Rule] = []
        self._gates: Dict[int, literals.Gate] = {}  # per rule (by id()), made on first use
        # "triage_rules", not "rules": every YAML file under data/ is read by `rasa data validate` / `rasa train`,
        # and a top-level "rules" key would be taken for Rasa dialogue rules.
        for item in data.get("triage_rules") or data.get("rules") or []:
            if item["level"] not in LEVELS:
                raise ValueError(f"rule {item['id']}: unknown level {item['level']!r}")
            alternatives = [[compile_pattern(part.strip()) for part in alt.split(" + ")] for alt in item["match"]]
            self.rules.append(Rule(
                id=item["id"], level=item["level"], alternatives=alternatives,
                unless=[compile_pattern(p) for p in item.get("unless") or []],
                cancellable=item.get("cancellable", True),
                examples=list(item.get("examples") or []), not_examples=list(item.get("not_examples") or []),
                trains_classifier=item.get("trains_classifier", True), after=tuple(item.get("after") or ())))

        known = {r.id for r in self.rules}
        for rule in self.rules:
            if set(rule.after) - known:
                raise ValueError(f"rule {rule.id}: after names unknown rules {sorted(set(rule.after) - known)}")

    @classmethod
    def load(cls, path: Path = RULES_FILE) -> "RuleSet":
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    # ------------------------------------------------------------------ matching
    @staticmethod
    def _before_nth_open(string: str, n: int) -> str:
        """The text before the n-th opening bracket (1-based) of a string."""
        seen = 0
        for i, ch in enumerate(string):
            if ch in _OPEN[:2]:
                seen += 1
                if seen == n:
                    return string[:i]
        return ""

    def _cancelled(self, view: str, string: str, start: int, end: int, ref: str = "") -> bool:
        rest = string[end:]
        # 「死にたくないわけじゃない」: a negation negated again cancels nothing
        if not any(p.match(rest) for p in self.negation_undone[view]) \
                and any(p.match(rest) for p in self.cancel_after[view]):
            return True
        head = string[:start]
        # hyperbole is read before the match and before its last word (今日 … 寒すぎて 死ぬ)
        last = string.rfind(" ", start, max(start, end - 1)) + 1 if view == "lemma" else start
        for cut in {start, last}:
            if any(p.search(string[:cut]) and (word is None or word.match(string, cut))
                   for p, word in self.cancel_before[view]):
                return True
        # Inside 「…」 / 『…』: a title or a quoted line when introduced as one (ドラマの「…」) or followed by one
        # (「…」って曲). A quotation of someone in distress (息子が「死にたい」と言う) stays.
        opened = max(head.rfind(c) for c in _OPEN[:2])
        if opened >= 0 and opened > max(head.rfind(c) for c in _CLOSE[:2]):
            closing = [i for i in (string.find(c, end) for c in _CLOSE[:2]) if i >= 0]
            # the words before the bracket, read in this spelling and in the first one (kana folding can
            # misread them: ドラマ → どら まー)
            n = sum(head.count(c) for c in _OPEN[:2])
            befores = {head[:opened], self._before_nth_open(ref, n)} if ref else {head[:opened]}
            if any(p.search(b) for p in self.quote_before[view] for b in befores):
                return True
            if closing and any(p.match(string[min(closing):]) for p in self.cancel_after[view]):
                return True
        return False

    def _found(self, v: Views, view: str, pattern: "re.Pattern[str]", cancellable: bool) -> bool:
        """The pattern is found and not cancelled. The spelling as typed decides when it matches there:
        folding kana garbles loanwords around the match (ドラマ → どら まー), which would hide a
        negation or a title; the other spellings count only where the typed one has no match."""
        key = (id(self), view, id(pattern), cancellable)
        known = v.found.get(key)
        if known is None:
            known = v.found[key] = self._search(v, view, pattern, cancellable)
        return known

    def _search(self, v: Views, view: str, pattern: "re.Pattern[str]", cancellable: bool) -> bool:
        strings = v.lemma if view == "lemma" else v.surface
        if not strings:  # nothing left once invisible characters are gone (NUL, zero-width, bidi marks)
            return False
        if self.shortcuts and literals.absent(pattern, v.joined(view)):  # most patterns, in most messages: a few substring tests
            return False
        first = list(pattern.finditer(strings[0]))
        if first:
            return any(not cancellable or not self._cancelled(view, strings[0], m.start(), m.end(), strings[0])
                       for m in first)
        for string in strings[1:]:
            for m in pattern.finditer(string):
                if not cancellable or not self._cancelled(view, string, m.start(), m.end(), strings[0]):
                    return True
        return False

    def _possible(self, rule: Rule, v: Views) -> bool:
        """Some alternative of the rule may match: False when none of the words its alternatives cannot match
        without is in the message (gateway/counseling/literals.py)."""
        if not self.shortcuts:
            return True
        if id(rule) not in self._gates:
            self._gates[id(rule)] = literals.gate(rule.alternatives)
        rule_gate = self._gates[id(rule)]
        return rule_gate is None or literals.may_match(rule_gate, {view: v.joined(view) for view in rule_gate})

    def fires(self, rule: Rule, v: Views) -> bool:
        if not self._possible(rule, v):
            return False
        if any(self._found(v, view, p, False) for view, p in rule.unless):
            return False
        return any(all(self._found(v, view, p, rule.cancellable) for view, p in alt) for alt in rule.alternatives)

    def _words_present(self, rule: Rule, v: Views) -> bool:
        """The rule's patterns match, before ``unless`` and the cancels."""
        if not self._possible(rule, v):
            return False
        return any(all(self._found(v, view, p, False) for view, p in alt) for alt in rule.alternatives)

    def vetoes(self, rule: Rule, v: Views) -> bool:
        """The rule's words are there, but its ``unless`` or a negation / quotation stopped it."""
        return self._words_present(rule, v) and not self.fires(rule, v)

    def triage(self, text: str) -> Triage:
        if not isinstance(text, str) or not text.strip():
            return Triage("none")
        v = views(text[:4000], self.aliases)
        risks = [r for r in self.rules if r.level != "none"]
        fired = [r for r in risks if not r.after and self.fires(r, v)]
        fired_ids = {r.id for r in fired}
        fired += [r for r in risks if r.after and fired_ids.intersection(r.after) and self.fires(r, v)]
        if not fired:
            # No risk rule fired: a message an ordinary rule recognises, or in which a risk rule's words are
            # present but were stopped, was read as ordinary on purpose.
            ordinary = tuple(r.id for r in self.rules if r.level == "none" and self.fires(r, v))
            # (a rule that counts only `after` others says nothing on its own: 「今」 vetoes nothing)
            return Triage("none", ordinary, vetoed=bool(ordinary) or any(self._words_present(r, v) for r in risks
                                                                          if not r.after))
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
    """``python -m gateway.counseling.triage "text" …`` prints the level, the rules and the views."""
    import json
    import sys

    args = list(argv if argv is not None else sys.argv[1:])
    rules = RuleSet.load()
    for text in args:
        print(json.dumps({"text": text, **rules.explain(text)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
