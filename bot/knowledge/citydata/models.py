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


@dataclass(frozen=True)
class Address:
    """One row of the postcode list (sapporo_ken.csv) with its calendar area resolved.

    ``area`` is None where the city publishes no area: the ward's catch-all row
    (町名 "以下に掲載がない場合", part 0) or a part that has no calendar column.
    """

    postcode: str  # seven digits, no hyphen, e.g. "0640959"
    ward: str  # e.g. "中央区"
    town: str  # 町名 as published, e.g. "宮ケ丘", "本通（北）"
    area: Optional[Area] = None
    part: int = 0  # the area number as published in sapporo_ken.csv (0 = no area)

    @property
    def postcode_display(self) -> str:
        """"0640959" → "064-0959"."""
        return f"{self.postcode[:3]}-{self.postcode[3:]}" if len(self.postcode) == 7 else self.postcode


@dataclass(frozen=True)
class CategoryInfo:
    """A dictionary category with what data/garbage/categories.yml and gomi_sep.csv say about it."""

    name: str  # dictionary category, e.g. "燃やせるごみ"
    label: str  # how to show it to citizens
    collected_by_city: bool
    who_takes_it: Optional[str] = None  # for what the city does not collect
    how: Optional[str] = None  # for categories without rules in gomi_sep.csv (大型ごみ, 集団資源回収など)
    calendar_codes: Tuple[int, ...] = ()  # gomi_calendar.csv codes of the days it is collected; () = no fixed day
    rules: Tuple[SortingRule, ...] = ()  # rows of gomi_sep.csv that apply, in file order
