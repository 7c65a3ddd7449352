"""Pull a postcode, a 区, a 町名 and a collection category out of a citizen's sentence, as citizens type them.

"白石区本通の燃えるゴミの日" → ward 白石区, town 本通, category 燃やせるごみ;
"〒064-0959 のびんの日" → postcode 0640959, category びん・缶・ペットボトル.

Town names are never guessed from the sentence's shape: they are looked up among the towns the city's postcode
file knows (``TownIndex``), the longest name found in the text winning ("宮の森4条" beats "宮の森"). Before the
lookup, the text and the official names are brought to one form (``canonical``):

* widths, hiragana/katakana and ヶ/ケ/が before 丘・原 are folded (「宮ヶ丘」 = 宮ケ丘, 「美しヶ丘」 = 美しが丘);
* 〒, 郵便番号, 北海道 and 札幌市 are dropped, and so are spaces;
* kanji numerals of 条 and 丁目 become digits (「南三条西五丁目」, 「十二条」, the file's own 「八軒八条東」);
* typos and readings of 条 and 丁目 are read as such (「3ジョウ」「3条目」「5丈」「3状」「3上」, 「5丁」「5ちょうめ」「5町目」);
* Sapporo's shorthand: 「南3西5」「北24西5」 = 南3条西5丁目, 北24条西5丁目; 「大通西5」 = 大通西5丁目;
  「菊水5-2」 = 菊水5条2丁目 where the town is numbered by 条;
* wards and towns typed in kana are read by their readings (「しろいしく ほんどおり」, 「はっさむ5じょう」): UniDic's
  reading of each official name (computed once), or data/address/town_readings.yml where UniDic reads it otherwise;
* a long town name one or two characters off (「しものっぽろてくのぱあく」) is corrected when exactly one town is that
  close (rapidfuzz, ratio ≥ 88 on names of 5 characters or more); short names are never corrected.

A 条 number the file does not have is not read as the town without it ("宮の森5条" is not 宮の森), and a name inside a
longer word is not a town ("新琴似3条" holds no 琴似3条, "中央図書館" no 中央). 番地/号 after the address are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import jaconv
import yaml

from bot.nlu.normalize import normalize_text

ROOT = Path(__file__).resolve().parents[2]
READINGS_FILE = ROOT / "data" / "address" / "town_readings.yml"
WARDS = ("中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区")
WARD_READINGS = {"中央区": "チュウオウク", "北区": "キタク", "東区": "ヒガシク", "白石区": "シロイシク", "厚別区": "アツベツク",
                 "豊平区": "トヨヒラク", "清田区": "キヨタク", "南区": "ミナミク", "西区": "ニシク", "手稲区": "テイネク"}
FUZZY_MIN_SCORE = 88  # rapidfuzz ratio: one character off in 9 or more, two in 17 or more
FUZZY_MIN_LENGTH = 5

_DASHES = "\\-‐‑‒–—―−ーｰ─━"
_POSTCODE = re.compile(rf"(?<!\d)(\d{{3}})[{_DASHES}]?(\d{{4}})(?!\d)")
_PARENTHESIS = re.compile(r"[（(][^（）()]*[）)]")
_QUALIFIER = re.compile(r"\(([^()]*)\)$")
_KE = re.compile(r"[ヶヵケガ](?=[丘原])")
_DROPPED = re.compile(r"〒|郵便番号|北海道|札幌市")
_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KNUM = "〇零一二三四五六七八九十百"
_KANJI_NUMBER = re.compile(rf"[{_KNUM}]+(?=条|條|丁|番|号|ジョ|チョ|丈|状|[西東](?![区町])|-)|(?<=[条西東-])[{_KNUM}]+(?![{_KNUM}])")
_DIGIT_DASH = re.compile(rf"(?<=\d)\s*[{_DASHES}ノ]\s*(?=\d)")
_JO = re.compile(r"(\d)\s*(?:ジョウ|ジョー|ジョ|条目|條|丈|状|城|乗|条|上(?!野幌|篠路|町))")
_CHOME = re.compile(r"(\d)\s*(?:丁目|丁メ|町目|チョウメ|チョーメ|チョメ|丁|チョウ|チョー)")
_DIRECTION_KANA = re.compile(r"(?<![ァ-ヺー])(ミナミ|キタ)(?=\s*\d)")
_SIDE_KANA = re.compile(r"条\s*(ニシ|ヒガシ)")
_NS_SHORTHAND = re.compile(r"([南北])\s*(\d+)\s*条?\s*([西東])\s*(\d+)(?:丁目)?")
_NS_SHORT_TOWN = re.compile(r"([南北])\s*(\d+)\s*([西東])(?!\s*\d|区|町)")
_SIDE_CHOME = re.compile(r"((?:\d条|大通)\s*[西東])\s*(\d+)(?![\d条丁])")
_KANA = re.compile(r"[ァ-ヺー]")
_KANJI = re.compile(r"[\u3400-\u9fff々]")
_PARTICLES = set("ノハニヲガモトデヘワッダナカヨネ")  # kana that may touch a name typed in kana
_BEFORE_NAME_KANJI = set("所市区道")  # 「住所宮の森」「札幌市宮の森」
_AFTER_NAME_KANJI = set("燃不生缶瓶紙雑資枝大粗家収回何在住付近周辺方地")  # 「石山燃えるごみ」「宮の森在住」
_SEPARATOR = "|"


@dataclass(frozen=True)
class AddressText:
    postcode: Optional[str] = None
    ward: Optional[str] = None
    category: Optional[str] = None


@lru_cache(maxsize=1)
def category_words() -> Dict[str, str]:
    """word (normalised, kana folded to katakana) → category, longest words first."""
    data = yaml.safe_load((ROOT / "data" / "garbage" / "collection_words.yml").read_text(encoding="utf-8"))
    words = {_kana_folded(w): category for category, ws in data.items() for w in ws}
    return dict(sorted(words.items(), key=lambda kv: -len(kv[0])))


def _kana_folded(text: str) -> str:
    return jaconv.hira2kata(normalize_text(text or ""))


def find_category(text: str) -> Optional[str]:
    """The collection category named in ``text``, in kanji, hiragana, katakana or a mix (「もえないゴミ」)."""
    norm = _kana_folded(text)
    for word, category in category_words().items():
        if word in norm:
            return category
    return None


def find_postcode(text: str) -> Optional[str]:
    """"〒064-0959", "０６４−０９５９", "0640959" → "0640959"."""
    match = _POSTCODE.search(normalize_text(text or ""))
    return match.group(1) + match.group(2) if match else None


def parse(text: str) -> AddressText:
    norm = normalize_text(text or "")
    _, wards = _wards_in(canonical(norm))
    return AddressText(postcode=find_postcode(norm), ward=wards[0] if wards else None, category=find_category(norm))


_PLACE_MARK = re.compile(r"\d+条|\d+丁目")


def names_a_place(text: str) -> bool:
    """A postcode, a ward (in kanji or kana) or a 条/丁目 as citizens type them (「3ジョウ」「5丁」「南3西5」「十二条」):
    what marks a message as giving an address, without the city's data (for the front door; 「バスタオル3枚」 has
    none of it)."""
    norm = normalize_text(text or "")
    if find_postcode(norm):
        return True
    folded, wards = _wards_in(canonical(norm))
    return bool(wards or _PLACE_MARK.search(folded))


def names_a_street(text: str) -> bool:
    """A postcode or a 条/丁目 (「南3西5」「にしく はっさむ5じょう」): an address, not a ward named in a question
    (「北区役所への行き方」)."""
    norm = normalize_text(text or "")
    return bool(find_postcode(norm) or _PLACE_MARK.search(_wards_in(canonical(norm))[0]))


def town_key(town: str) -> str:
    """"本通（北）" → "本通": the part of an official town name people actually type."""
    return normalize_text(_PARENTHESIS.sub("", town)).strip()


# ---- one form for the text and the official names ----

def kanji_number(text: str) -> int:
    """"十二" → 12, "二十四" → 24, "三" → 3, "一〇" → 10."""
    if not any(c in "十百" for c in text):
        return int("".join(str(_KANJI_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c == "百":
            total, current = total + (current or 1) * 100, 0
        elif c == "十":
            total, current = total + (current or 1) * 10, 0
        else:
            current = _KANJI_DIGITS[c]
    return total + current


def fold(text: str) -> str:
    """Width, case, kana and ヶ folded: "宮ヶ丘" → "宮ケ丘", "あいのさと" → "アイノサト", "美しが丘" → "美シケ丘"."""
    return _KE.sub("ケ", jaconv.hira2kata(normalize_text(text or "")))


def canonical(text: str) -> str:
    """The text in the form the town names are compared in (see the module docstring); spaces are dropped."""
    t = fold(text)
    t = _DROPPED.sub(" ", t)
    t = _KANJI_NUMBER.sub(lambda m: str(kanji_number(m.group(0))), t)
    t = _DIGIT_DASH.sub("-", t)
    t = _JO.sub(r"\1条", t)
    t = _CHOME.sub(r"\1丁目", t)
    t = _DIRECTION_KANA.sub(lambda m: "南" if m.group(1) == "ミナミ" else "北", t)
    t = _SIDE_KANA.sub(lambda m: "条西" if m.group(1) == "ニシ" else "条東", t)
    t = _NS_SHORTHAND.sub(r"\1\2条\3\4丁目", t)
    t = _NS_SHORT_TOWN.sub(r"\1\2条\3", t)
    t = _SIDE_CHOME.sub(r"\1\2丁目", t)
    return re.sub(r"[〜~～]", "〜", t)


def _wards_in(text: str) -> Tuple[str, List[str]]:
    """(the canonical text with every ward written in kanji, the wards in the order they appear).

    A ward in kana counts only where it does not continue a kana word (「いきたくない」 names no 北区)."""
    for ward, reading in WARD_READINGS.items():
        tail = "(?!ナ)" if ward == "北区" else ""
        text = re.sub(rf"(?<![ァ-ヺー]){reading}{tail}", ward, text)
    found = sorted((text.find(w), w) for w in WARDS if w in text)
    # 「北区」 inside 「東北区」 cannot happen; 「中央区」 is not inside 「白石区中央1条」.
    return text, [w for _, w in found]


# ---- readings ----

@lru_cache(maxsize=1)
def reading_overrides() -> Dict[str, Tuple[str, ...]]:
    if not READINGS_FILE.exists():
        return {}
    data = yaml.safe_load(READINGS_FILE.read_text(encoding="utf-8")) or {}
    return {normalize_text(k): tuple(fold(r) for r in (v if isinstance(v, list) else [v])) for k, v in data.items()}


@lru_cache(maxsize=4096)
def readings_of(name: str) -> Tuple[str, ...]:
    """Katakana readings of a town name (without its number): the override file's, else UniDic's; () if unknown."""
    name = normalize_text(name)
    if name in reading_overrides():
        return reading_overrides()[name]
    try:
        from bot.nlu.morphology import tagger
        words = list(tagger()(name))
    except Exception:  # no dictionary in this environment: kanji names only
        return ()
    reading = fold("".join((w.feature.kana or w.surface) if hasattr(w.feature, "kana") else w.surface
                           for w in words))
    return (reading,) if reading and all(_KANA.match(c) for c in reading) else ()


# ---- the towns of the postcode file ----

@dataclass(frozen=True)
class Town:
    """One row of the postcode file, in comparable form."""

    ward: str
    name: str  # as published: "南3条西（１〜１８丁目）"
    payload: Any  # what the caller attached (the store's Address)
    key: str  # canonical, without its （…）: "南3条西"
    qualifier: Optional[str]  # canonical （…）: "1〜18丁目", "北"
    readings: Tuple[str, ...]  # keys typed in kana: "ミヤノモリ3条"
    base: Optional[str]  # for a town numbered by 条: the name before the number ("宮ノ森"), else None
    base_readings: Tuple[str, ...]
    display: str  # as published without its （…）: "南3条西"
    display_base: str  # the published name before its number: "宮の森", "八軒"


_NUMBERED = re.compile(rf"\d|[{_KNUM}]+条")


def town_entry(ward: str, name: str, payload: Any = None) -> Town:
    display = _PARENTHESIS.sub("", normalize_text(name)).strip()
    full = canonical(name)
    qualifier = _QUALIFIER.search(full)
    key = _QUALIFIER.sub("", full)
    numbered = _NUMBERED.search(display)
    display_base = display[:numbered.start()] if numbered else display
    prefix = re.split(r"\d", key)[0]
    rest = key[len(prefix):]
    readings = tuple(r + rest for r in readings_of(display_base) if len(display_base) > 1 and r + rest != key)
    jo = re.match(r"^(.+?)\d+条", key)
    base = jo.group(1) if jo else None
    base_readings = tuple(r for r in readings_of(display_base) if base and len(display_base) > 1)
    return Town(ward, name, payload, key, qualifier.group(1) if qualifier else None, readings, base, base_readings,
                display, display_base)


@dataclass(frozen=True)
class TownReading:
    """What ``TownIndex.read`` found in a text."""

    postcode: Optional[str] = None
    ward: Optional[str] = None  # the ward typed (or given as context)
    towns: Tuple[Town, ...] = ()  # the rows matched (of every ward that has them when no ward is known)
    town: Optional[str] = None  # the name matched, as published without （…）: "南3条西", "あいの里"
    chome: Optional[int] = None
    fuzzy: bool = False  # found after correcting a typo in the town name

    @property
    def wards(self) -> Tuple[str, ...]:
        present = {t.ward for t in self.towns}
        return tuple([w for w in WARDS if w in present] + sorted(present - set(WARDS)))


@dataclass(frozen=True)
class _Hit:
    length: int
    full: bool  # a whole town name, not only the name before its 条 number
    start: int
    end: int
    town: Town


class TownIndex:
    """The towns of the postcode file (or of one ward), searched in a citizen's text."""

    def __init__(self, rows: Iterable[Tuple[str, str, Any]]):
        self.towns: List[Town] = [town_entry(ward, name, payload) for ward, name, payload in rows]
        self._bases = sorted({b for t in self.towns if t.base for b in (t.base, *t.base_readings) if len(b) > 1},
                             key=len, reverse=True)

    def read(self, text: str, ward: Optional[str] = None, fuzzy: bool = True) -> TownReading:
        """Ward, town rows and 丁目 in ``text``; ``ward`` is the ward already known (one typed in the text wins).

        Without a ward, the towns of every ward that has the name are returned (the caller asks which)."""
        norm = normalize_text(text or "")
        postcode = find_postcode(norm)
        t = _POSTCODE.sub(_SEPARATOR, norm) if postcode else norm
        t, named = _wards_in(canonical(t))
        ward = named[0] if named else (ward or None)
        for w in WARDS:
            t = t.replace(w, _SEPARATOR)
        t = re.sub(r"\s+", "", t)
        towns = [x for x in self.towns if not ward or x.ward in (ward, "")]
        found = self._find(t, towns)
        corrected = False
        if not found and fuzzy:
            fixed = self._correct(t, towns)
            if fixed is not None:
                t, corrected = fixed, True
                found = self._find(t, towns)
        if not found:
            return TownReading(postcode=postcode, ward=ward)
        hits, after = found
        rows = tuple(h.town for h in hits)
        qualifier = re.match(r"\(([^()]*)\)", after)
        if qualifier:
            rows = tuple(r for r in rows if r.qualifier == qualifier.group(1)) or rows
        first = hits[0]
        chome = re.match(r"(\d+)丁目", after) or (re.match(r"(\d+)-\d", after) if first.town.key.endswith("条") else None)
        name = first.town.display if first.full else first.town.display_base
        return TownReading(postcode=postcode, ward=ward, towns=rows, town=name,
                           chome=int(chome.group(1)) if chome else None, fuzzy=corrected)

    # ---- matching ----

    def _expand(self, text: str) -> str:
        """「菊水5-2」 → 菊水5条2丁目 where 菊水 is numbered by 条 (番地 after the 丁目 are left as they are)."""
        for base in self._bases:
            if base in text:
                text = re.sub(rf"{re.escape(base)}(\d+)-(\d+)", rf"{base}\1条\2丁目", text)
        return text

    def _find(self, text: str, towns: Sequence[Town]) -> Optional[Tuple[List[_Hit], str]]:
        text = self._expand(text)
        hits: List[_Hit] = []
        bases = {b for x in towns if x.base for b in (x.base, *x.base_readings)}
        for town in towns:
            for key in (town.key, *town.readings):
                for start in _occurrences(text, key):
                    end = start + len(key)
                    if _starts_word(text, start, key) and _ends_name(text, end, key, key in bases):
                        hits.append(_Hit(len(key), True, start, end, town))
            if town.base:
                for key in (town.base, *town.base_readings):
                    if len(key) < 2:
                        continue
                    for start in _occurrences(text, key):
                        end = start + len(key)
                        if _starts_word(text, start, key) and _ends_name(text, end, key, True):
                            hits.append(_Hit(len(key), False, start, end, town))
        if not hits:
            return None
        best = max((h.length, h.full) for h in hits)
        chosen = [h for h in hits if (h.length, h.full) == best]
        first = min(chosen, key=lambda h: h.start)
        unique: Dict[int, _Hit] = {}
        for h in sorted(chosen, key=lambda h: h.start):  # two places named in one message: both kept (asked)
            unique.setdefault(id(h.town), h)
        return list(unique.values()), text[first.end:]

    def _correct(self, text: str, towns: Sequence[Town]) -> Optional[str]:
        """The text with one long town name's typo corrected, when exactly one name is that close; else None."""
        try:
            from rapidfuzz import fuzz
        except ImportError:  # pragma: no cover - rapidfuzz is a dependency of the engine
            return None
        names = {re.split(r"\d", k)[0] for x in towns for k in (x.key, *x.readings)}
        names = {n for n in names if len(n) >= FUZZY_MIN_LENGTH}
        scored: List[Tuple[float, str, int, int]] = []
        for name in names:
            best = None
            for size in (len(name) - 1, len(name), len(name) + 1):
                for i in range(0, max(0, len(text) - size) + 1):
                    window = text[i:i + size]
                    if _SEPARATOR in window or re.search(r"\d", window):
                        continue
                    score = fuzz.ratio(name, window)
                    if best is None or score > best[0]:
                        best = (score, name, i, size)
            if best and best[0] >= FUZZY_MIN_SCORE:
                scored.append(best)
        if not scored:
            return None
        scored.sort(reverse=True)
        top = scored[0]
        if any(s[0] >= top[0] - 3 and s[1] != top[1] for s in scored[1:]):
            return None  # two names about as close: not a typo of one of them
        _, name, i, size = top
        return text[:i] + name + text[i + size:]


def _occurrences(text: str, key: str) -> Iterable[int]:
    start = text.find(key)
    while start >= 0:
        yield start
        start = text.find(key, start + 1)


def _starts_word(text: str, start: int, key: str) -> bool:
    """The name is not the end of a longer word: 「新琴似3条」 holds no 琴似3条, 「西宮の沢」 no 宮の沢."""
    if start == 0:
        return True
    before = text[start - 1]
    if _KANJI.match(before):
        return before in _BEFORE_NAME_KANJI
    if _KANA.match(before) and _KANA.match(key[0]):
        return before in _PARTICLES
    return True


def _ends_name(text: str, end: int, key: str, numbered_elsewhere: bool) -> bool:
    """Nothing after the name makes it another place: a 条 number it does not have ("宮の森5条" is not 宮の森), a
    number where the name is numbered by 条 ("平岸9"), the rest of a longer word ("中央図書館", "石山通")."""
    after = text[end:]
    if not after:
        return True
    if re.search(r"\d", key) and (key.endswith("条") or key[-1] in "西東"):
        return not re.match(r"\d+条", after) if key[-1] in "西東" else True
    if re.match(r"\d+条", after):
        return False
    if re.match(r"\d", after):
        return not numbered_elsewhere or bool(re.match(r"\d+(丁目|番)", after))
    nxt = after[0]
    if _KANJI.match(nxt):
        return nxt in _AFTER_NAME_KANJI
    if _KANA.match(nxt) and _KANA.match(key[-1]) and not re.search(r"[\u3400-\u9fff]", key):
        return nxt in _PARTICLES
    return True


@lru_cache(maxsize=32)
def _index_of(towns: Tuple[str, ...]) -> TownIndex:
    return TownIndex(("", town, town) for town in towns)


def find_town(text: str, towns: Iterable[str]) -> Optional[str]:
    """The known town (one of ``towns``, those of one ward) written in ``text``, as citizens type it (see the
    module docstring); the longest name wins. None when none, or when the text names only the part before a 条
    number ("あいの里" for あいの里1条…5条)."""
    found = _index_of(tuple(towns)).read(text)
    if not found.towns or found.town is None:
        return None
    full = [t for t in found.towns if t.display == found.town]
    return full[0].name if full else None
