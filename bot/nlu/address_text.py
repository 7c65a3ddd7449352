"""Pull a postcode, a 区, a 町名 and a collection category out of a citizen's sentence.

"白石区本通の燃えるゴミの日" → ward 白石区, town 本通, category 燃やせるごみ;
"〒064-0959 のびんの日" → postcode 0640959, category びん・缶・ペットボトル.
Town names are not guessed from the sentence's shape: they are looked up among the towns the city's
postcode file knows (longest name found in the text wins), so "宮の森4条" beats "宮の森".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional

import yaml

from bot.nlu.normalize import normalize_text

ROOT = Path(__file__).resolve().parents[2]
WARDS = ("中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区")
_POSTCODE = re.compile(r"(?<!\d)(\d{3})-?(\d{4})(?!\d)")
_PARENTHESIS = re.compile(r"[（(][^（）()]*[）)]")


@dataclass(frozen=True)
class AddressText:
    postcode: Optional[str] = None
    ward: Optional[str] = None
    category: Optional[str] = None


@lru_cache(maxsize=1)
def category_words() -> Dict[str, str]:
    """word (normalised) → category, longest words first."""
    data = yaml.safe_load((ROOT / "data" / "garbage" / "collection_words.yml").read_text(encoding="utf-8"))
    words = {normalize_text(w): category for category, ws in data.items() for w in ws}
    return dict(sorted(words.items(), key=lambda kv: -len(kv[0])))


def find_category(text: str) -> Optional[str]:
    norm = normalize_text(text or "")
    for word, category in category_words().items():
        if word in norm:
            return category
    return None


def parse(text: str) -> AddressText:
    norm = normalize_text(text or "")
    match = _POSTCODE.search(norm)
    postcode = match.group(1) + match.group(2) if match else None
    ward = next((w for w in WARDS if w in norm), None)
    return AddressText(postcode=postcode, ward=ward, category=find_category(norm))


def town_key(town: str) -> str:
    """"本通（北）" → "本通": the part of an official town name people actually type."""
    return normalize_text(_PARENTHESIS.sub("", town)).strip()


def find_town(text: str, towns: Iterable[str]) -> Optional[str]:
    """The longest known town name (or its key without parentheses) contained in ``text``."""
    norm = normalize_text(text or "")
    best = None
    for town in towns:
        for key in {normalize_text(town), town_key(town)}:
            if key and key in norm and (best is None or len(key) > len(best[1])):
                best = (town, key)
    return best[0] if best else None
