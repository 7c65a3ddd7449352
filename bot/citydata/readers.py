"""Readers for the city's open-data files, in the formats Sapporo publishes (see README "City data").

Each reader takes a path and returns plain records; the importer writes them to the store.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import List, Optional, Tuple

from bot.citydata.models import GarbageItem

# A trailing parenthesised variant, full- or half-width: "ハンガー（金属製）", "タイヤチェーン(金属製)".
_VARIANT = re.compile(r"^(?P<base>.+?)\s*[（(](?P<variant>[^（）()]+)[）)]\s*$")


def _open_csv(path: Path):
    # utf-8-sig tolerates the BOM that spreadsheet exports often add.
    return open(path, newline="", encoding="utf-8-sig")


def split_name(name: str) -> Tuple[str, Optional[str], Tuple[str, ...]]:
    """"こたつ・こたつ板" → ("こたつ・こたつ板", None, ("こたつ", "こたつ板")); "ハンガー（金属製）" → ("ハンガー", "金属製", ())."""
    name = name.strip()
    match = _VARIANT.match(name)
    base, variant = (match.group("base").strip(), match.group("variant").strip()) if match else (name, None)
    parts = tuple(p.strip() for p in base.split("・") if p.strip())
    alternatives = parts if len(parts) > 1 else ()
    return base, variant, alternatives


def read_garbage_dictionary(path: Path) -> List[GarbageItem]:
    """gomi_dict.csv: index (kana row), gomi_name (item), gomi_type (category)."""
    items: List[GarbageItem] = []
    with _open_csv(path) as handle:
        for row in csv.DictReader(handle):
            name = (row.get("gomi_name") or "").strip()
            category = (row.get("gomi_type") or "").strip()
            if not name or not category:
                continue
            base, variant, alternatives = split_name(name)
            items.append(GarbageItem(name=name, category=category, base_name=base, variant=variant,
                                     alternatives=alternatives, kana_index=(row.get("index") or "").strip()))
    return items
