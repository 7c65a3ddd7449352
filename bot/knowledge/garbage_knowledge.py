"""One store and one item matcher per process, rebuilt when new city data is loaded.

``guide_matcher`` matches the words of the city's sorting guide (gomi_sep.csv: 「卵の殻」「レシート」
「ペットボトルのふた・ラベル」), which the dictionary does not list as items: a question about them gets the
guide's category instead of 「見つかりませんでした」.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from bot.knowledge.citydata.models import GarbageItem, SortingRule
from bot.knowledge.citydata.store import CityDataStore
from bot.knowledge.item_matcher import EXACT_READING, ItemMatcher, load_synonyms

GUIDE_SYNONYMS = Path(__file__).resolve().parents[2] / "data" / "garbage" / "guide_synonyms.yml"
_lock = threading.Lock()
_state: Dict[str, object] = {}


def store() -> CityDataStore:
    with _lock:
        if "store" not in _state:
            _state["store"] = CityDataStore()
        return _state["store"]  # type: ignore[return-value]


def matcher() -> ItemMatcher:
    """The matcher for the data currently loaded (rebuilt after `make load-city-data`)."""
    current = store()
    version = current.metadata().get("loaded_at")
    with _lock:
        cached: Tuple[object, ItemMatcher] = _state.get("matcher")  # type: ignore[assignment]
        if cached is None or cached[0] != version:
            cached = (version, ItemMatcher(current.items(), load_synonyms()))
            _state["matcher"] = cached
        return cached[1]


_EXAMPLE_SEPARATORS = re.compile(r"[、,]|など$")


def guide_entries() -> List[Tuple[GarbageItem, SortingRule]]:
    """Each example word of the sorting guide (「卵の殻」 in 台所のごみ) as a pseudo-item of its rule's category."""
    current = store()
    entries = []
    for name in current.category_names():
        for rule in current.category(name).rules:
            for word in _EXAMPLE_SEPARATORS.split(rule.examples or ""):
                word = re.sub(r"など$", "", word.strip())
                if 2 <= len(word) <= 40 and "（" not in word:
                    parts = _listed_names(word)
                    item = GarbageItem(name=word, category=name, base_name=word,
                                       alternatives=parts if len(parts) > 1 else ())
                    entries.append((item, rule))
    return entries


def _listed_names(word: str) -> Tuple[str, ...]:
    """「電池・電球」 → 電池, 電球; 「みかん・たまねぎなどのネット」 → みかんのネット, たまねぎのネット: the words before
    a shared 「の＋thing」 describe that thing and are no names of their own (「みかんの皮」 is no ネット)."""
    parts = [p for p in word.split("・") if len(p) >= 2]
    if len(parts) < 2:
        return ()
    last = re.sub(r"など(?=の)", "", parts[-1])
    if "の" in last:
        owner, head = last.rsplit("の", 1)
        parts = [f"{p}の{head}" for p in parts[:-1]] + [f"{owner}の{head}"]
    return tuple(parts)


def guide_matcher() -> Tuple[ItemMatcher, Dict[str, SortingRule]]:
    """A matcher over the guide's example words, and the rule each word belongs to."""
    version = store().metadata().get("loaded_at")
    with _lock:
        cached = _state.get("guide")
    if cached is None or cached[0] != version:
        entries = guide_entries()
        names = {item.name for item, _ in entries}
        words = {word: [n for n in targets if n in names] for word, targets in load_synonyms(GUIDE_SYNONYMS).items()}
        cached = (version, ItemMatcher([item for item, _ in entries], {w: t for w, t in words.items() if t}),
                  {item.name: rule for item, rule in entries})
        with _lock:
            _state["guide"] = cached
    return cached[1], cached[2]  # type: ignore[index]


def guide_named(phrase: str, at_least: float) -> Optional[str]:
    """The guide's example the phrase names (its item name), read at ``at_least``; else the longest end of the phrase
    from a word on, named exactly: the words before say whose or which one (「プレゼントの包装紙」 → 包装紙・紙袋,
    「ばんごはんの食べのこし」 → 残飯, 「ゆでたまごのから」 → 卵の殻); else None."""
    return _guide_example(phrase, at_least) or next(
        (named for named in map(guide_names_whole, _word_ends(phrase)) if named), None)


def guide_names_whole(phrase: str) -> Optional[str]:
    """The guide's example the whole phrase names, read exactly (its words or guide_synonyms.yml: 「シュレッダーくず」
    → シュレッダーにより裁断した紙), else None; no end of the phrase alone (see guide_named)."""
    return _guide_example(phrase, EXACT_READING)


def _guide_example(phrase: str, at_least: float) -> Optional[str]:
    found = guide_example_read(phrase)
    return found[0] if found and found[1] >= at_least else None


def guide_example_read(phrase: str) -> Optional[Tuple[str, float]]:
    """The guide's example the phrase is read as, and how sure (「たん3 の でんち」 → 単1～単5電池, 0.79), or None."""
    found = guide_matcher()[0].match(phrase) if phrase else None
    if found and found.status == "found":
        return found.candidates[0].item.name, found.candidates[0].score
    return None


def _word_ends(phrase: str) -> List[str]:
    """The ends of ``phrase`` that begin at a word (not at a particle), longest first, of two characters or more,
    with no space inside: a space parts what was said of the thing (「セロテープ使い切った 芯」 is no 台所の芯)."""
    from bot.nlu.morphology import analyze

    ends, at = [], 0
    for word in analyze(phrase):
        at = phrase.find(word.text, at)
        if at < 0:
            break
        if at > 0 and word.pos != "助詞" and len(phrase) - at >= 2 and not any(c.isspace() for c in phrase[at:]):
            ends.append(phrase[at:])
        at += len(word.text)
    return ends


def guide_word_in(norm: str) -> str:
    """The longest word of guide_synonyms.yml in ``norm`` (「生ごみ」 in 「生ごみの出し方」), or "": the words the
    item phrase cuts away as garbage in general (生ごみ) still name a rule of the sorting guide."""
    words = sorted((w for w in load_synonyms(GUIDE_SYNONYMS) if len(w) >= 2), key=len, reverse=True)
    folded = norm.replace("ゴミ", "ごみ")
    return next((w for w in words if w in folded), "")


def guide_rule(word: str) -> Optional[SortingRule]:
    """The rule of the sorting guide a word of guide_synonyms.yml stands for (「生ごみ」 → 台所のごみ), or None."""
    _, rules = guide_matcher()
    return next((rules[t] for t in load_synonyms(GUIDE_SYNONYMS).get(word, []) if t in rules), None)
