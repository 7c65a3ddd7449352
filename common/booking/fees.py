"""The 大型ごみ fee table (data/bulky/fees.yml): fee per item, in the city's tiers, and booking limits.

An item that is not in the table has no fee (``fee_for`` → None): the caller says so instead of
guessing one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from common.booking.config import FEES_FILE, load_cached

_FOLD = str.maketrans("ァィゥェォヵヶャュョヮッヴヂヅ", "アイウエオカケヤユヨワツブジズ")
_DROP = re.compile(r"[\s・･ー－\-‐―~〜～、,。.()（）「」『』【】\[\]!?/／'\"]")


def loose_fallback(text: str) -> str:
    """bot.nlu.kana.loose without jaconv (the gateway environment has none): the same folding, by hand."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)
    return _DROP.sub("", text).translate(_FOLD)


try:  # engine environment
    from bot.nlu.kana import loose
except ImportError:
    loose = loose_fallback


@dataclass(frozen=True)
class Limits:
    max_items_per_booking: int = 10  # pieces in one booking (sum of the quantities)
    max_same_item: int = 5


@dataclass(frozen=True)
class FeeItem:
    name: str
    fee: int
    aliases: Tuple[str, ...] = ()


@dataclass(frozen=True)
class FeeTable:
    items: Tuple[FeeItem, ...]
    tiers: Tuple[int, ...]
    limits: Limits = Limits()
    sample: bool = True
    _by_key: Dict[str, FeeItem] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, path: Path = FEES_FILE) -> "FeeTable":
        """The table in ``path`` (cached until the file changes). ValueError for a malformed table."""
        return load_cached(Path(path), cls.from_dict, "fees")

    @classmethod
    def from_dict(cls, data: dict) -> "FeeTable":
        tiers = tuple(int(t) for t in data.get("tiers") or ())
        limits = Limits(**(data.get("limits") or {}))
        items: List[FeeItem] = []
        by_key: Dict[str, FeeItem] = {}
        for row in data.get("items") or ():
            item = FeeItem(str(row["name"]), int(row["fee"]), tuple(str(a) for a in row.get("aliases") or ()))
            if tiers and item.fee not in tiers:
                raise ValueError(f"fees: {item.name}: {item.fee} is not one of the tiers {list(tiers)}")
            items.append(item)
            for word in (item.name, *item.aliases):
                for key in {word, loose(word)}:
                    if key in by_key and by_key[key].name != item.name:
                        raise ValueError(f"fees: {word!r} is given for both {by_key[key].name} and {item.name}")
                    by_key[key] = item
        return cls(tuple(items), tiers, limits, bool(data.get("sample", True)), by_key)

    def item_for(self, name: str) -> Optional[FeeItem]:
        """The table's item for a dictionary name, an alias or a loose spelling of either."""
        name = (name or "").strip()
        return self._by_key.get(name) or self._by_key.get(loose(name)) if name else None

    def fee_for(self, name: str) -> Optional[int]:
        item = self.item_for(name)
        return item.fee if item else None
