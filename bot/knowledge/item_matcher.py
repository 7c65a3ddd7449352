"""Which item of the city's garbage dictionary (ごみ分け辞典) is a citizen's question about?

    matcher = ItemMatcher(items, synonyms)            # once: about 0.5 s for the 986 items
    matcher.match("古いレンジを処分したいんですが")      # → found: 電子レンジ
    matcher.match("ハンガーは何ごみ？")                  # → ambiguous: ハンガー（金属製） / ハンガー（木製・プラ製）

How it works:

1. ``extract_item_phrase`` cuts the question down to the item ("ソファは何ごみ？" → "ソファ") with the
   patterns of data/garbage/question_patterns.yml.
2. Every dictionary name, the parts of a combined name (こたつ・こたつ板 → こたつ, こたつ板), a name in
   parentheses (スキーキャリア（スキーハンガー）) and every synonym of data/garbage/synonyms.yml is a *key*.
   Keys and phrases are analysed by fugashi into a *loose* surface and a loose katakana reading, where
   hiragana/katakana, long vowels and small kana are folded: ソファ = ソファー = そふぁ, れいぞうこ = 冷蔵庫.
3. The phrase is scored against the keys: same spelling (1.0), same reading (0.97), coverage of the
   phrase's words by the key and of the key by the phrase (partial names, extra words: アイスの棒 →
   アイスキャンデーの棒, 日傘 → 傘), and rapidfuzz similarity of the readings (typos). An item's score
   is its best key's.
4. A material in the phrase ("金属のハンガー") favours the variants made of it.
5. One item clearly best → "found"; several close → "ambiguous" (the caller asks); nothing good →
   "unknown", with the nearest names as low-scored suggestions ("もしかして…").

Precision over recall: a confident wrong category is worse than asking. So a key that lacks the
phrase's main word (its last noun: ペットボトル for "ペットボトルのキャップ"), a key whose own main word
the phrase lacks (灯油タンク for "灯油"), and a key with other words than the phrase (ラグマット for
"ヨガマット") are all marked down, and "found" needs a clear margin over the next item.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.knowledge.citydata.models import GarbageItem
from bot.knowledge.citydata.readers import read_garbage_dictionary
from bot.nlu.kana import KANA, loose
from bot.nlu.morphology import Morpheme, analyze
from bot.nlu.normalize import normalize_text

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SYNONYMS_FILE = ROOT / "data" / "garbage" / "synonyms.yml"
PATTERNS_FILE = ROOT / "data" / "garbage" / "question_patterns.yml"

# Scores. Exact spellings score 1.0; everything partial stays at or below COVERAGE_MAX.
EXACT = 1.0
EXACT_READING = 0.97  # same reading, other spelling; a homophone never beats the exact spelling
ALIAS_WEIGHT = 0.9  # a name in parentheses ranks below the item that bears that name itself
COVERAGE_MAX = 0.9
HEAD_PENALTY = 0.75  # main word missing on either side, or different words on both sides
MATERIAL_MISMATCH = 0.85  # "金属のハンガー" scored as "ハンガー", for the variants not made of 金属
MATERIAL_PENALTY = 0.1  # for the variants made of something else
# Typos: similarity of the loose readings = mean of rapidfuzz's Indel ratio and normalised Levenshtein
# similarity, so that a missing character (せんぷき) counts less than a wrong one (センヌキ).
FUZZY_CUTOFF = 0.75
FUZZY_MIN_LENGTH = 4
# Decision.
FOUND_MIN = 0.7
FOUND_MARGIN = 0.08
UNKNOWN_BELOW = 0.6
WINDOW = 0.15  # candidates this close to the best are offered
MAX_CANDIDATES = 5
MAX_SUGGESTIONS = 3
SUGGESTION_MIN = 0.3  # a weak match, or readings at least 60 % alike; suggestions are scored half of it

# UniDic parts of speech that carry no item of their own ("古い", "捨て", "の", "た").
_FUNCTION_POS = {"助詞", "助動詞", "補助記号", "記号", "空白", "動詞", "形容詞", "副詞", "連体詞", "感動詞", "接続詞"}
_KANA = KANA
# A parenthesised variant that is another name of the item (米びつ（ハイザー）), not a description.
_DESCRIPTIVE = re.compile(r"製|用|式|など|含|除|以外|もの|付|状態|済|入り|一体|のみ|不明|の|使い捨て|[・、,]")
_HIRAGANA = re.compile(r"[ぁ-ゖー]+")
_SEPARATOR = re.compile(r"[\s・･、,.]+")
_SENTENCE_END = re.compile(r"[。!?\n]+")
@dataclass(frozen=True)
class Candidate:
    item: GarbageItem
    score: float


@dataclass(frozen=True)
class MatchResult:
    """``status``: "found" (candidates[0] is the item; the others are close runners-up), "ambiguous"
    (ask which of the candidates, at most 5; a single one is a weak match to confirm) or "unknown"
    (candidates are up to 3 low-scored suggestions, maybe none). ``phrase``: the item phrase."""

    status: str
    candidates: List[Candidate]
    phrase: str


@dataclass(frozen=True)
class _Part:
    """A content word of an analysed text, with where it starts in the text's loose surface/reading."""

    surface: str
    reading: str
    at_surface: int
    at_reading: int
    kana: bool  # typed in kana, so it may be found in a reading
    generic: bool  # "板", "本体": does not change which item it is


@dataclass(frozen=True)
class _Form:
    surface: str
    reading: str
    parts: Tuple[_Part, ...]
    head: Optional[_Part]  # the main word: last non-generic content word (before any parenthesis)
    base_length: int  # reading length of the content words before any parenthesis
    parenthesis: Tuple[int, int]  # where a parenthesis starts in surface and reading (else their lengths)
    word_ends: Tuple[FrozenSet[int], FrozenSet[int]]  # where content words end in surface and reading
    reading_starts: FrozenSet[int]  # where content words start in the reading


@dataclass(frozen=True)
class _Span:
    """Where a word of the phrase was found in a key."""

    kind: str  # "surface" or "reading"
    start: int
    end: int
    share: float  # how much of the phrase's word it is (日傘 found as 傘: 2/3 of its reading)


@dataclass(frozen=True)
class _Key:
    form: _Form
    item: int
    weight: float


@dataclass(frozen=True)
class QuestionPatterns:
    """data/garbage/question_patterns.yml, compiled."""

    markers: re.Pattern
    leading: re.Pattern
    trailing: re.Pattern
    modifiers: re.Pattern
    counters: re.Pattern
    no_item: FrozenSet[str]
    generic_heads: FrozenSet[str]
    materials: Dict[str, str]  # word (normalised) → material as the dictionary writes it


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def load_question_patterns(path: Path = PATTERNS_FILE) -> QuestionPatterns:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    materials = {normalize_text(word): material
                 for material, words in data["materials"].items() for word in [material, *words]}
    return QuestionPatterns(
        markers=re.compile(_alternation(data["question_markers"])),
        leading=re.compile(f"^(?:{_alternation(data['leading'])})"),
        trailing=re.compile(f"(?:{_alternation(data['trailing'])})$"),
        modifiers=re.compile(f"^(?:{_alternation(data['modifiers'])})"),
        counters=re.compile(f"(?:{_alternation(data['counters'])})$"),
        no_item=frozenset(normalize_text(w) for w in data["no_item"]),
        generic_heads=frozenset(normalize_text(w) for w in data["generic_heads"]),
        materials=materials,
    )


def load_synonyms(path: Path = SYNONYMS_FILE) -> Dict[str, List[str]]:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


class _SubstringIndex:
    """The strings that contain a given substring, without scanning them all (character bigrams)."""

    def __init__(self, strings: Sequence[str]) -> None:
        self._strings = strings
        self._grams: Dict[str, Set[int]] = defaultdict(set)
        for i, s in enumerate(strings):
            for gram in set(s) | {s[j:j + 2] for j in range(len(s) - 1)}:
                self._grams[gram].add(i)

    def containing(self, sub: str) -> Set[int]:
        if not sub:
            return set()
        grams = [sub] if len(sub) == 1 else [sub[j:j + 2] for j in range(len(sub) - 1)]
        postings = sorted((self._grams.get(g, set()) for g in grams), key=len)
        found = set(postings[0]).intersection(*postings[1:])
        return {i for i in found if sub in self._strings[i]}


class ItemMatcher:
    def __init__(self, items: Sequence[GarbageItem], synonyms: Mapping[str, Sequence[str]],
                 patterns: Optional[QuestionPatterns] = None) -> None:
        self.items = list(items)
        self.patterns = patterns or load_question_patterns()
        words = sorted(self.patterns.materials, key=len, reverse=True)
        alternation = "|".join(re.escape(w) for w in words)
        # "金属のハンガー", "プラ製ハンガー" / "ハンガー（金属製）", "ハンガー 金属"
        self._material_before = re.compile(rf"^(?P<m>{alternation})(?:製の?|素材の|でできた|の)(?=.)")
        self._material_after = re.compile(rf"(?<=.)(?:[\s、,の(]+(?P<m>{alternation})製?|(?P<n>{alternation})製)\)?$")
        self._variant_materials = [self._materials_of_variant(item.variant) for item in self.items]

        self._keys: List[_Key] = []
        by_name = {item.name: i for i, item in enumerate(self.items)}
        for i, item in enumerate(self.items):
            for text, weight in self._item_keys(item):
                self._add_key(text, i, weight)
        for word, names in synonyms.items():
            for name in names:
                if name in by_name:
                    self._add_key(str(word), by_name[name], 1.0)
                else:
                    logger.warning("synonyms: %s → %s is not in the dictionary", word, name)

        self._by_surface: Dict[str, List[int]] = defaultdict(list)
        self._by_reading: Dict[str, List[int]] = defaultdict(list)
        for k, key in enumerate(self._keys):
            self._by_surface[key.form.surface].append(k)
            self._by_reading[key.form.reading].append(k)
        self._surfaces = _SubstringIndex([k.form.surface for k in self._keys])
        self._readings = _SubstringIndex([k.form.reading for k in self._keys])
        self._reading_choices = list(self._by_reading)

    @classmethod
    def from_files(cls, dictionary: Path, synonyms: Path = SYNONYMS_FILE,
                   patterns: Path = PATTERNS_FILE) -> "ItemMatcher":
        return cls(read_garbage_dictionary(Path(dictionary)), load_synonyms(synonyms), load_question_patterns(patterns))

    # ---- index ----

    def _item_keys(self, item: GarbageItem) -> List[Tuple[str, float]]:
        keys = [(item.name, 1.0), (item.base_name, 1.0)]
        keys += [(alt, 1.0) for alt in _alternatives(item)]
        variant = item.variant
        if variant and not _DESCRIPTIVE.search(variant) and normalize_text(variant) not in self.patterns.materials:
            keys.append((variant, ALIAS_WEIGHT))
        unique: Dict[str, Tuple[str, float]] = {}
        for text, weight in keys:
            unique.setdefault(loose(text), (text, weight))
        return [key for spelling, key in unique.items() if spelling]

    def _add_key(self, text: str, item: int, weight: float) -> None:
        form = self._analyse(text)
        if form.surface:
            self._keys.append(_Key(form, item, weight))

    def _analyse(self, text: str) -> _Form:
        surface, reading = "", ""
        parts: List[_Part] = []
        head: Optional[_Part] = None
        parenthesis: Optional[Tuple[int, int]] = None
        base_length = 0
        for m in _words(text):
            kana = bool(_KANA.fullmatch(m.text))
            s = loose(m.text)
            r = loose(m.text if kana or not m.reading else m.reading)
            if m.text in ("(", "（") and parenthesis is None:
                parenthesis = (len(surface), len(reading))
            if s and r and m.pos not in _FUNCTION_POS and not (kana and len(s) == 1):  # "お"守り, れいぞう"こ"
                part = _Part(s, r, len(surface), len(reading), kana,
                             m.text in self.patterns.generic_heads or m.lemma in self.patterns.generic_heads)
                parts.append(part)
                if parenthesis is None:
                    base_length += len(r)
                    if not part.generic:
                        head = part
            surface += s
            reading += r
        word_ends = (frozenset(p.at_surface + len(p.surface) for p in parts),
                     frozenset(p.at_reading + len(p.reading) for p in parts))
        return _Form(surface, reading, tuple(parts), head, base_length,
                     parenthesis or (len(surface), len(reading)), word_ends, frozenset(p.at_reading for p in parts))

    def _materials_of_variant(self, variant: Optional[str]) -> Tuple[FrozenSet[str], bool]:
        """"金属製" → ({金属}, False); "木製・プラ製以外" → ({木, プラ}, True): made of anything else."""
        if not variant:
            return frozenset(), False
        text = normalize_text(variant)
        negated = "以外" in text
        if negated:
            text = text.split("以外")[0]
        return frozenset(m for w, m in self.patterns.materials.items() if w in text), negated

    # ---- questions ----

    def extract_item_phrase(self, text: str) -> str:
        """The words of ``text`` that name the item, normalised; "" when it names none
        ("ごみの出し方を教えて")."""
        p = self.patterns
        phrase = _strip(normalize_text(text).strip(), p.leading, at_start=True)
        marker = p.markers.search(phrase)
        if marker:
            phrase = phrase[: marker.start()]
        # "お世話になります。古い洗濯機の…": the item is in the last sentence before the question.
        phrase = next((s for s in reversed(_SENTENCE_END.split(phrase)) if s.strip()), "")
        previous = None
        while phrase != previous:
            previous = phrase
            for pattern in (p.trailing, p.counters):
                phrase = _strip(phrase, pattern, at_start=False)
            for pattern in (p.leading, p.modifiers):
                phrase = _strip(phrase, pattern, at_start=True)
        return "" if phrase in p.no_item else phrase

    def match(self, text: str) -> MatchResult:
        phrase = self.extract_item_phrase(text)
        if not phrase:
            return MatchResult("unknown", [], phrase)
        query = self._analyse(phrase)
        scores = self._score(query)
        materials, bare = self._material_words(phrase)
        if materials:
            for item, score in self._score(self._analyse(bare)).items():
                agrees = self._material_agreement(item, materials)
                score *= 1.0 if agrees else MATERIAL_MISMATCH
                scores[item] = max(scores.get(item, 0.0), score) - (MATERIAL_PENALTY if agrees is False else 0.0)
        return self._decide(phrase, query, scores)

    def _material_words(self, phrase: str) -> Tuple[Set[str], str]:
        """Materials named in the phrase, and the phrase without them ("金属のハンガー" → {金属}, "ハンガー")."""
        for pattern in (self._material_before, self._material_after):
            found = pattern.search(phrase)
            if found:
                word = found.group("m") or found.group("n")
                return {self.patterns.materials[word]}, phrase[: found.start()] + phrase[found.end():]
        return set(), phrase

    def _material_agreement(self, item: int, materials: Set[str]) -> Optional[bool]:
        """Is the item's variant made of one of ``materials``? None when the variant names no material."""
        mentioned, negated = self._variant_materials[item]
        if not mentioned:
            return None
        return not (materials & mentioned) if negated else bool(materials & mentioned)

    def _score(self, query: _Form) -> Dict[int, float]:
        """Best score of every item that any key of it gives ``query``."""
        scores: Dict[int, float] = {}

        def offer(key_id: int, score: float) -> None:
            key = self._keys[key_id]
            score *= key.weight
            if score > scores.get(key.item, 0.0):
                scores[key.item] = score

        for k in self._by_surface.get(query.surface, ()):
            offer(k, EXACT)
        for k in self._by_reading.get(query.reading, ()):
            offer(k, EXACT_READING)
        for k in self._containing(query):
            offer(k, _coverage(query, self._keys[k].form))
        if len(query.reading) >= FUZZY_MIN_LENGTH:
            for choice, ratio, _ in process.extract(query.reading, self._reading_choices, scorer=fuzz.ratio,
                                                    score_cutoff=100 * FUZZY_CUTOFF - 5, limit=10):
                similarity = (ratio / 100 + Levenshtein.normalized_similarity(query.reading, choice)) / 2
                if similarity >= FUZZY_CUTOFF:
                    for k in self._by_reading[choice]:
                        offer(k, COVERAGE_MAX - (1 - similarity))
        return scores

    def _containing(self, form: _Form) -> Set[int]:
        keys: Set[int] = set()
        for part in form.parts:
            found = self._surfaces.containing(part.surface)
            if part.kana and len(part.reading) >= 2:
                found |= self._readings.containing(part.reading)
            # A compound no key contains may still end in a key's word ("日傘" → "傘").
            for cut in range(1, len(part.surface)) if not found else ():
                found |= self._surfaces.containing(part.surface[cut:])
            keys |= found
        return keys

    def _decide(self, phrase: str, query: _Form, scores: Dict[int, float]) -> MatchResult:
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked or ranked[0][1] < UNKNOWN_BELOW:
            return MatchResult("unknown", self._suggestions(query, ranked), phrase)
        best = ranked[0][1]
        close = [(i, s) for i, s in ranked if s >= max(UNKNOWN_BELOW, best - WINDOW)][:MAX_CANDIDATES]
        clear = len(ranked) == 1 or ranked[1][1] < best - FOUND_MARGIN
        status = "found" if best >= FOUND_MIN and clear else "ambiguous"
        return MatchResult(status, [Candidate(self.items[i], round(s, 3)) for i, s in close], phrase)

    def _suggestions(self, query: _Form, ranked: List[Tuple[int, float]]) -> List[Candidate]:
        """Up to 3 nearest names for "もしかして…": the weak matches, else the most similar readings."""
        scores = dict(ranked)
        for choice, ratio, _ in process.extract(query.reading, self._reading_choices, scorer=fuzz.ratio,
                                                score_cutoff=50, limit=MAX_SUGGESTIONS * 3):
            for k in self._by_reading[choice]:
                item = self._keys[k].item
                scores[item] = max(scores.get(item, 0.0), ratio / 200)
        best = sorted(((i, s) for i, s in scores.items() if s >= SUGGESTION_MIN), key=lambda kv: (-kv[1], kv[0]))
        return [Candidate(self.items[i], round(s / 2, 3)) for i, s in best[:MAX_SUGGESTIONS]]


def _words(text: str) -> List[Morpheme]:
    """fugashi's morphemes; a text typed all in hiragana is cut only at "の" and punctuation instead,
    since fugashi cuts hiragana freely ("ぺっとぼとる" → ぺっ/と/ぼとる, "せんぷうき" → せん/ぷう/き)."""
    morphemes = analyze(text)
    if not all(_HIRAGANA.fullmatch(m.text) or _SEPARATOR.fullmatch(m.text) for m in morphemes):
        return morphemes
    words: List[Morpheme] = []
    run: List[Morpheme] = []
    for m in morphemes + [None]:
        if m is None or _SEPARATOR.fullmatch(m.text) or (m.text == "の" and m.pos == "助詞" and run):
            if run:
                joined = "".join(r.text for r in run)
                words.append(Morpheme(joined, run[0].start, run[-1].end, joined, None, "名詞"))
                run = []
            if m is not None:
                words.append(m)
        else:
            run.append(m)
    return words


def _coverage(query: _Form, key: _Form) -> float:
    """How well the phrase's words and the key's words cover each other (partial names, extra words).

    A missing word of the phrase counts half unless it is the phrase's main word; the key's
    parenthesised variant counts only where the phrase mentions it ("油の一斗缶" ↔ 一斗缶（食用油用））."""
    matched = total = inside = 0.0
    query_head = query.head is None
    key_head = key.head is None
    missing = False
    for part in query.parts:
        size = len(part.reading)
        span = _locate(part, key)
        if span is None:
            if not part.generic:
                total += size if part is query.head else size / 2
                missing = True
            continue
        matched += size * span.share
        total += size
        if span.start >= key.parenthesis[0 if span.kind == "surface" else 1]:
            inside += size * span.share
        query_head = query_head or part is query.head
        key_head = key_head or _overlaps(span, key.head)
    if not matched:
        return 0.0
    key_length = max(key.base_length + inside, 1)
    key_share = min(1.0, matched / key_length)
    score = COVERAGE_MAX * (0.6 * matched / total + 0.4 * key_share)
    if not query_head:
        score *= HEAD_PENALTY
    if not key_head:
        score *= HEAD_PENALTY
    if missing and key_share < 1.0:  # other words on both sides: another kind of thing (ヨガマット ≠ ラグマット)
        score *= HEAD_PENALTY
    return score


def _locate(part: _Part, key: _Form) -> Optional[_Span]:
    """Where the key contains the phrase's word. Japanese compounds end in their main word, so a word of
    one or two characters must end a word of the key ("棒" is in "アイスキャンデーの棒", "服" in "衣服";
    "雪" is not in "雪かき", "カバ(ー)" not in "カバン"), and a compound may be found by its last word
    ("日傘" → "傘"). A word typed in kana may be found in the reading, as whole words only
    ("れいぞうこ" in 冷蔵庫; "タバコ" not in ゲタバコ = げた箱)."""
    found = _find(key, part.surface, "surface")
    if found is None and part.kana and len(part.reading) >= 2:
        found = _find(key, part.reading, "reading")
    if found is not None:
        return found
    ends = [p for p in key.parts if len(p.surface) < len(part.surface) and part.surface.endswith(p.surface)]
    if not ends:
        return None
    word = max(ends, key=lambda p: len(p.surface))
    return _Span("surface", word.at_surface, word.at_surface + len(word.surface),
                 min(1.0, len(word.reading) / len(part.reading)))


def _find(key: _Form, word: str, kind: str) -> Optional[_Span]:
    if kind == "surface":
        text, ends, starts = key.surface, key.word_ends[0], None
    else:
        text, ends, starts = key.reading, key.word_ends[1], key.reading_starts
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (len(word) > 2 or end in ends) and (starts is None or (start in starts and end in ends)):
            return _Span(kind, start, end, 1.0)
        start = text.find(word, start + 1)
    return None


def _overlaps(span: _Span, head: Optional[_Part]) -> bool:
    if head is None:
        return False
    head_start, head_end = ((head.at_surface, head.at_surface + len(head.surface)) if span.kind == "surface"
                            else (head.at_reading, head.at_reading + len(head.reading)))
    return span.start < head_end and head_start < span.end


def _strip(text: str, pattern: re.Pattern, at_start: bool) -> str:
    """Remove ``pattern`` from the start (or the end) of ``text`` again and again."""
    while text:
        found = pattern.search(text)
        if not found or found.start() == found.end():
            return text
        text = (text[found.end():] if at_start else text[: found.start()]).strip()
    return text


def _alternatives(item: GarbageItem) -> List[str]:
    """The parts of a combined name as names of their own. "アイスクリームのカップ・ふた" is
    アイスクリームのカップ and アイスクリームのふた, not just "ふた"; parts cut inside a parenthesis
    ("薬（錠剤", "カプセル）の包装シート") are no names."""
    parts = [a for a in item.alternatives if a.count("（") + a.count("(") == a.count("）") + a.count(")")]
    if not parts or "の" not in parts[0]:
        return parts
    owner = parts[0][: parts[0].rindex("の") + 1]
    return [parts[0]] + [p if "の" in p else owner + p for p in parts[1:]]
