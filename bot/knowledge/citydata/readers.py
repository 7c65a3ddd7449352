"""Readers for the city's open-data files, in the formats Sapporo publishes (see README "City data").

Each reader takes a path and returns plain records; the importer writes them to the store.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from bot.knowledge.citydata.models import Area, GarbageItem, SortingRule

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


# ---- the other four files (sorting rules, calendar codes, calendar, postcodes) ----
# These readers check the format strictly and say where a file is wrong: the city replaces the
# files every year, and a silently misread calendar would give citizens wrong collection days.

class CityDataFormatError(ValueError):
    """A file does not have the published format; the message names the file (and line, column)."""


# Calendar area columns: "中央区1", "清田区5" (digits may come full-width from a spreadsheet).
_AREA_COLUMN = re.compile(r"^(?P<ward>\S+?区)(?P<number>\d+)$")
_DATE = re.compile(r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})$")


@dataclass(frozen=True)
class CalendarDay:
    day: date
    weekday: str  # 曜 as published (月, 火, …)
    codes: Tuple[int, ...]  # one code per area column
    line: int  # line in the file, for error messages


@dataclass(frozen=True)
class CalendarTable:
    """gomi_calendar.csv: area columns in file order and one row per day."""

    areas: Tuple[Area, ...]
    days: Tuple[CalendarDay, ...]
    ignored_columns: Tuple[str, ...] = ()  # columns that are not "<区><number>"


@dataclass(frozen=True)
class PostcodeRow:
    postcode: str  # seven digits
    ward: str
    town: str
    part: int  # calendar area number within the ward as published (0 = none)
    line: int
    padded: bool = False  # the file had six digits (leading zero lost in a spreadsheet)


def _reader(handle, path: Path, required: Sequence[str]) -> csv.DictReader:
    reader = csv.DictReader(handle)
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise CityDataFormatError(f"{path.name}: missing column(s) {', '.join(missing)} "
                                  f"(found: {', '.join(header) or 'no header'})")
    return reader


def check_columns(path: Path, required: Sequence[str]) -> None:
    """Raise CityDataFormatError when the header of ``path`` lacks one of ``required``."""
    with _open_csv(path) as handle:
        _reader(handle, path, required)


def parse_date(text: str) -> date:
    """"2024-10-01", "2025-9-30" and "2025/9/30" (the official calendar mixes padded and unpadded)."""
    match = _DATE.match(unicodedata.normalize("NFKC", text).strip())
    if not match:
        raise ValueError(f"not a date: {text!r}")
    return date(int(match.group("y")), int(match.group("m")), int(match.group("d")))


def parse_area_column(name: str) -> Optional[Area]:
    """"中央区1" → Area("中央区", 1); None for anything else."""
    match = _AREA_COLUMN.match(unicodedata.normalize("NFKC", name).strip())
    return Area(match.group("ward"), int(match.group("number"))) if match else None


def read_sorting_rules(path: Path) -> List[SortingRule]:
    """gomi_sep.csv. ``category`` is the file's own gomi_type (e.g. "市が収集しないごみ"), which is
    not always a dictionary category: data/garbage/categories.yml maps one onto the other.
    A remark of "0" means "no remark"."""
    rules: List[SortingRule] = []
    with _open_csv(path) as handle:
        reader = _reader(handle, path, ["gomi_type", "free", "title", "category", "出し方", "remark"])
        for line, row in enumerate(reader, start=2):
            values = {k: (row.get(k) or "").strip() for k in reader.fieldnames}
            if not any(values.values()):
                continue
            if not values["gomi_type"]:
                raise CityDataFormatError(f"{path.name} line {line}: empty gomi_type")
            remark = values["remark"]
            rules.append(SortingRule(category=values["gomi_type"], frequency_fee=values["free"], title=values["title"],
                                     examples=values["category"], how=values["出し方"],
                                     remark="" if remark == "0" else remark))
    return rules


def _int(text: str, where: str) -> int:
    try:
        return int(unicodedata.normalize("NFKC", text).strip())
    except ValueError:
        raise CityDataFormatError(f"{where}: {text!r} is not a number") from None


def read_collection_codes(path: Path) -> Dict[int, str]:
    """gomitypenumber.csv: 記号 (code) → ごみ種 (label shown for that day; 0 = no collection)."""
    codes: Dict[int, str] = {}
    with _open_csv(path) as handle:
        reader = _reader(handle, path, ["記号", "ごみ種"])
        for line, row in enumerate(reader, start=2):
            raw, label = (row.get("記号") or "").strip(), (row.get("ごみ種") or "").strip()
            if not raw and not label:
                continue
            code = _int(raw, f"{path.name} line {line}, column 記号")
            if code in codes:
                raise CityDataFormatError(f"{path.name} line {line}: code {code} is listed twice")
            codes[code] = label
    return codes


def read_calendar(path: Path) -> CalendarTable:
    """gomi_calendar.csv: 日付, 曜, then one column per calendar area holding a code."""
    with _open_csv(path) as handle:
        reader = _reader(handle, path, ["日付", "曜"])
        columns = [c for c in reader.fieldnames if c not in ("日付", "曜")]
        areas, area_columns, ignored = [], [], []
        for column in columns:
            area = parse_area_column(column)
            if area is None:
                ignored.append(column)
            elif area in areas:
                raise CityDataFormatError(f"{path.name}: area column {column} appears twice")
            else:
                areas.append(area)
                area_columns.append(column)
        if not areas:
            raise CityDataFormatError(f"{path.name}: no area columns like 中央区1 (found: {', '.join(columns)})")
        days: List[CalendarDay] = []
        for line, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            try:
                day = parse_date(row.get("日付") or "")
            except ValueError:
                raise CityDataFormatError(f"{path.name} line {line}: 日付 {row.get('日付')!r} is not a date "
                                          f"(expected e.g. 2024-10-01)") from None
            codes = []
            for column in area_columns:
                value = (row.get(column) or "").strip()
                if not value:
                    raise CityDataFormatError(f"{path.name} line {line}, column {column}: "
                                              f"empty code (0 = no collection)")
                codes.append(_int(value, f"{path.name} line {line}, column {column}"))
            days.append(CalendarDay(day, (row.get("曜") or "").strip(), tuple(codes), line))
    return CalendarTable(tuple(areas), tuple(days), tuple(ignored))


def read_postcodes(path: Path) -> List[PostcodeRow]:
    """sapporo_ken.csv: post_code, kanji_state, kanji_city, kanji_district (区), kanji_chome (町名), part."""
    rows: List[PostcodeRow] = []
    with _open_csv(path) as handle:
        reader = _reader(handle, path, ["post_code", "kanji_district", "kanji_chome", "part"])
        for line, row in enumerate(reader, start=2):
            raw = unicodedata.normalize("NFKC", row.get("post_code") or "").strip()
            ward, town = (row.get("kanji_district") or "").strip(), (row.get("kanji_chome") or "").strip()
            if not raw and not ward and not town:
                continue
            digits = raw.replace("-", "").replace("〒", "")
            padded = len(digits) == 6 and digits.isdigit()
            if padded:
                digits = "0" + digits
            if len(digits) != 7 or not digits.isdigit():
                raise CityDataFormatError(f"{path.name} line {line}: post_code {raw!r} is not a 7-digit postcode")
            if not ward or not town:
                raise CityDataFormatError(f"{path.name} line {line}: empty kanji_district or kanji_chome")
            part = _int(row.get("part") or "", f"{path.name} line {line}, column part")
            if part < 0:
                raise CityDataFormatError(f"{path.name} line {line}: negative part {part}")
            rows.append(PostcodeRow(digits, ward, town, part, line, padded))
    return rows
