"""Plain records shared by the importer, the store and the item matcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple


@dataclass(frozen=True)
class GarbageItem:
    """One row of the city's garbage dictionary (gomi_dict.csv)."""

    name: str  # as published, e.g. "ハンガー（金属製）"
    category: str  # as published, e.g. "燃やせないごみ" or "市で収集しないもの（家電4品目）"
    base_name: str  # name without the parenthesised variant, e.g. "ハンガー"
    variant: Optional[str] = None  # the parenthesised part, e.g. "金属製"
    alternatives: Tuple[str, ...] = field(default_factory=tuple)  # "こたつ・こたつ板" → ("こたつ", "こたつ板")
    kana_index: str = ""  # the dictionary's kana row (あ, か, …)


@dataclass(frozen=True)
class SortingRule:
    """One row of the sorting rules (gomi_sep.csv), attached to a dictionary category."""

    category: str  # dictionary category it applies to
    frequency_fee: str  # e.g. "週2回・有料"
    title: str
    examples: str
    how: str  # how and by when to put it out
    remark: str = ""


@dataclass(frozen=True)
class Area:
    """A collection-calendar area, e.g. ward "白石区", number 1 → column "白石区1"."""

    ward: str
    number: int

    @property
    def name(self) -> str:
        return f"{self.ward}{self.number}"
