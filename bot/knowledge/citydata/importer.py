"""Import Sapporo's open-data files into the knowledge store.

``load_directory(directory, url)`` reads the five files a city publishes (see FILES) plus
data/garbage/categories.yml, checks them, and replaces the whole store in ONE transaction: readers
see either the previous data or the new data, never a mixture, and a file with an error changes
nothing (every file is read and checked before the database is touched).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import yaml
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, make_url

from bot.knowledge.citydata import schema
from common.formats import WEEKDAYS
from bot.knowledge.citydata.models import Area, GarbageItem, SortingRule
from bot.knowledge.citydata.readers import (CalendarTable, CityDataFormatError, PostcodeRow, check_columns, read_calendar,
                                  read_collection_codes, read_garbage_dictionary, read_postcodes,
                                  read_sorting_rules)
from bot.knowledge.citydata.store import ROOT, WARD_ORDER, default_url

CityDataError = CityDataFormatError  # every problem with the input, with a message that says where

DICTIONARY, RULES, CALENDAR, CODES, POSTCODES = (
    "gomi_dict.csv", "gomi_sep.csv", "gomi_calendar.csv", "gomitypenumber.csv", "sapporo_ken.csv")
FILES = (DICTIONARY, RULES, CALENDAR, CODES, POSTCODES)
SAMPLE_MARKER = "SAMPLE"  # a file of this name marks a directory as sample data (metadata is_sample)
DEFAULT_CATEGORIES = ROOT / "data" / "garbage" / "categories.yml"
NO_COLLECTION = 0

_CATEGORY_KEYS = {"label", "rules_from", "rule_titles", "calendar_codes", "collected_by_city", "who_takes_it",
                  "how", "in_dictionary"}


@dataclass(frozen=True)
class CategoryConfig:
    """One entry of data/garbage/categories.yml."""

    name: str
    label: str
    rules_from: Tuple[str, ...]
    rule_titles: Tuple[str, ...]  # empty = every row of rules_from
    calendar_codes: Tuple[int, ...]
    collected_by_city: bool
    who_takes_it: Optional[str] = None
    how: Optional[str] = None
    in_dictionary: bool = True


@dataclass(frozen=True)
class AreaMapping:
    """A postcode-list part that had no calendar column of the same number (e.g. 清田区 part 1 → 清田区5)."""

    ward: str
    part: int
    area: str


@dataclass
class ImportReport:
    directory: str
    url: str  # password hidden
    categories_file: str
    counts: Dict[str, int]  # rows read per file
    calendar_range: Tuple[date, date]
    calendar_entries: int  # days × areas
    areas: List[str]  # calendar columns
    wards: Dict[str, Dict[int, Optional[str]]]  # ward → part → calendar area (None = no area)
    remapped: List[AreaMapping]
    warnings: List[str]
    is_sample: bool
    loaded_at: str
    seconds: float = 0.0

    def summary(self) -> str:
        """Human-readable report (printed by ``python -m bot.knowledge.citydata load``)."""
        first, last = self.calendar_range
        lines = [f"Loaded {self.directory}{'  (SAMPLE data)' if self.is_sample else ''}",
                 f"  into {self.url} in {self.seconds:.2f} s (loaded_at {self.loaded_at})",
                 f"  categories: {self.categories_file}"]
        lines += [f"  {name:<20} {count:>6} rows" for name, count in self.counts.items()]
        lines.append(f"  calendar: {first} .. {last}, {len(self.areas)} areas, {self.calendar_entries} entries")
        for ward, parts in self.wards.items():
            mapped = ", ".join(f"{part}→{area or '-'}" for part, area in sorted(parts.items()))
            lines.append(f"  {ward}: {mapped}")
        for m in self.remapped:
            lines.append(f"  note: {m.ward} part {m.part} has no column {m.ward}{m.part}; mapped to {m.area}")
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass
class _Dataset:
    """Everything read and checked, ready to be written (rows per table)."""

    rows: Dict[str, List[Dict[str, Any]]]
    report: ImportReport


def read_categories(path: Path) -> List[CategoryConfig]:
    """Parse categories.yml; unknown keys and wrong types are errors (a typo must not go unnoticed)."""
    if not path.is_file():
        raise CityDataError(f"categories file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CityDataError(f"{path}: not valid YAML: {exc}") from None
    entries = data.get("categories") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not entries:
        raise CityDataError(f"{path}: expected a mapping 'categories:' with one entry per category")

    def strings(name: str, key: str, value: Any) -> Tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise CityDataError(f"{path}: {name}: '{key}' must be a list of texts")
        return tuple(v.strip() for v in value)

    result = []
    for name, entry in entries.items():
        where = f"{path.name}: {name}"
        if not isinstance(entry, dict):
            raise CityDataError(f"{where}: expected a mapping of settings")
        unknown = set(entry) - _CATEGORY_KEYS
        if unknown:
            raise CityDataError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))} "
                                f"(allowed: {', '.join(sorted(_CATEGORY_KEYS))})")
        for key in ("rules_from", "calendar_codes", "collected_by_city"):
            if key not in entry:
                raise CityDataError(f"{where}: '{key}' is required")
        codes = entry["calendar_codes"] or []
        if not isinstance(codes, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            raise CityDataError(f"{where}: 'calendar_codes' must be a list of numbers, e.g. [1]")
        for key in ("collected_by_city", "in_dictionary"):
            if key in entry and not isinstance(entry[key], bool):
                raise CityDataError(f"{where}: '{key}' must be true or false")
        texts = {}
        for key in ("label", "who_takes_it", "how"):
            value = entry.get(key)
            if value is not None and not (isinstance(value, str) and value.strip()):
                raise CityDataError(f"{where}: '{key}' must be a text")
            texts[key] = value.strip() if value else None
        if not entry["collected_by_city"] and codes:
            raise CityDataError(f"{where}: collected_by_city is false but calendar_codes is not empty")
        result.append(CategoryConfig(
            name=str(name).strip(), label=texts["label"] or str(name).strip(),
            rules_from=strings(str(name), "rules_from", entry["rules_from"]),
            rule_titles=strings(str(name), "rule_titles", entry.get("rule_titles")),
            calendar_codes=tuple(codes), collected_by_city=entry["collected_by_city"],
            who_takes_it=texts["who_takes_it"], how=texts["how"], in_dictionary=entry.get("in_dictionary", True)))
    return result


def _check_files(directory: Path) -> None:
    if not directory.is_dir():
        raise CityDataError(f"not a directory: {directory}")
    missing = [name for name in FILES if not (directory / name).is_file()]
    if missing:
        raise CityDataError(f"{directory}: missing file(s) {', '.join(missing)} "
                            f"(a city-data directory holds {', '.join(FILES)})")


def _check_categories(items: Sequence[GarbageItem], configs: Sequence[CategoryConfig], rules: Sequence[SortingRule],
                      codes: Mapping[int, str], categories_path: Path, warnings: List[str]) -> Dict[str, List[int]]:
    """Validate categories.yml against the files; return category → indexes of its rules."""
    configured = {c.name for c in configs}
    used = Counter(item.category for item in items)
    unknown = [name for name in used if name not in configured]
    if unknown:
        listed = ", ".join(f"{name} ({used[name]} items)" for name in unknown)
        raise CityDataError(f"{DICTIONARY} uses categor{'y' if len(unknown) == 1 else 'ies'} without an entry in "
                            f"{categories_path}: {listed}. Add an entry for each (rules_from, calendar_codes, "
                            f"collected_by_city).")
    for config in configs:
        bad = [c for c in config.calendar_codes if c not in codes or c == NO_COLLECTION]
        if bad:
            raise CityDataError(f"{categories_path.name}: {config.name}: calendar code(s) "
                                f"{', '.join(map(str, bad))} not in {CODES} (codes: {', '.join(map(str, codes))})")
        if config.in_dictionary and config.name not in used:
            warnings.append(f"{categories_path.name}: {config.name} has no items in {DICTIONARY}")

    by_type: Dict[str, List[int]] = defaultdict(list)
    for index, rule in enumerate(rules):
        by_type[rule.category].append(index)
    links: Dict[str, List[int]] = {}
    referenced = set()
    for config in configs:
        chosen: List[int] = []
        for source in config.rules_from:
            referenced.add(source)
            if source not in by_type:
                warnings.append(f"{categories_path.name}: {config.name}: no rows with gomi_type {source} in {RULES}")
            chosen.extend(by_type.get(source, []))
        if config.rule_titles:
            titles = {rules[i].title for i in chosen}
            for title in config.rule_titles:
                if title not in titles:
                    warnings.append(f"{categories_path.name}: {config.name}: no rule titled {title} in {RULES}")
            chosen = [i for i in chosen if rules[i].title in config.rule_titles]
        links[config.name] = sorted(set(chosen))
    for source in by_type:
        if source not in referenced:
            warnings.append(f"{RULES}: rules of gomi_type {source} ({len(by_type[source])} rows) are not used by "
                            f"any category in {categories_path.name}")
    duplicates = [name for name, n in Counter(item.name for item in items).items() if n > 1]
    if duplicates:
        warnings.append(f"{DICTIONARY}: item(s) listed more than once: {', '.join(duplicates)}")
    return links


def _check_calendar(table: CalendarTable, codes: Mapping[int, str], warnings: List[str]) -> None:
    if not table.days:
        raise CityDataError(f"{CALENDAR}: no days")
    unknown: Dict[int, Tuple[int, str, int]] = {}
    for row in table.days:
        for area, code in zip(table.areas, row.codes):
            if code not in codes and code != NO_COLLECTION:
                first = unknown.get(code)
                unknown[code] = (first[0], first[1], first[2] + 1) if first else (row.line, area.name, 1)
    if unknown:
        detail = "; ".join(f"code {code} ({n}×, first at line {line}, column {column})"
                           for code, (line, column, n) in sorted(unknown.items()))
        raise CityDataError(f"{CALENDAR}: unknown calendar code(s): {detail}. "
                            f"Known codes ({CODES}): {', '.join(map(str, sorted(codes)))}")
    seen: Dict[date, int] = {}
    for row in table.days:
        if row.day in seen:
            raise CityDataError(f"{CALENDAR} line {row.line}: date {row.day} already at line {seen[row.day]}")
        seen[row.day] = row.line
    days = sorted(seen)
    missing = (days[-1] - days[0]).days + 1 - len(days)
    if missing:
        warnings.append(f"{CALENDAR}: {missing} day(s) between {days[0]} and {days[-1]} are missing "
                        f"(treated as unknown, not as 'no collection')")
    wrong = [row for row in table.days if row.weekday and row.weekday != WEEKDAYS[row.day.weekday()]]
    if wrong:
        warnings.append(f"{CALENDAR}: 曜 does not match the date on {len(wrong)} line(s), first at line {wrong[0].line} "
                        f"({wrong[0].day} {wrong[0].weekday}); the date is used")
    if table.ignored_columns:
        warnings.append(f"{CALENDAR}: ignored column(s) that are not calendar areas: "
                        f"{', '.join(table.ignored_columns)}")


def map_parts(postcodes: Sequence[PostcodeRow], areas: Sequence[Area], warnings: List[str]
              ) -> Tuple[Dict[Tuple[str, int], Optional[Area]], List[AreaMapping]]:
    """Resolve each (ward, part) of the postcode list to a calendar area.

    The calendar numbers some wards together (豊平区1–4 + 清田区5–6, 西区1–4 + 手稲区5–7) while the
    postcode list numbers every ward from 1. When the column "<ward><part>" does not exist, part p is
    the p-th column of that ward sorted by number; each such case is reported.
    """
    numbers: Dict[str, List[int]] = defaultdict(list)
    for area in areas:
        numbers[area.ward].append(area.number)
    mapping: Dict[Tuple[str, int], Optional[Area]] = {}
    remapped: List[AreaMapping] = []
    unmatched: List[str] = []
    for ward, part in sorted({(row.ward, row.part) for row in postcodes}):
        if part == 0:
            mapping[(ward, part)] = None  # "以下に掲載がない場合": the ward's other addresses, no area
        elif part in numbers.get(ward, []):
            mapping[(ward, part)] = Area(ward, part)
        elif part <= len(numbers.get(ward, [])):
            area = Area(ward, sorted(numbers[ward])[part - 1])
            mapping[(ward, part)] = area
            remapped.append(AreaMapping(ward, part, area.name))
        else:
            mapping[(ward, part)] = None
            unmatched.append(f"{ward} part {part}")
    if unmatched:
        warnings.append(f"{POSTCODES}: no calendar column for {', '.join(unmatched)}; those addresses have no area")
    mixed = sorted({m.ward for m in remapped} & {w for (w, p), a in mapping.items() if a and a.number == p})
    if mixed:
        warnings.append(f"{POSTCODES}: {', '.join(mixed)} mixes parts that match a column number with parts "
                        f"mapped by position; check the mapping in this report")
    return mapping, remapped


def _check_postcodes(postcodes: Sequence[PostcodeRow], warnings: List[str]) -> None:
    padded = [row for row in postcodes if row.padded]
    if padded:
        warnings.append(f"{POSTCODES}: {len(padded)} postcode(s) had 6 digits (leading 0 lost?), e.g. line "
                        f"{padded[0].line}; read as {padded[0].postcode}")
    towns = Counter((row.ward, row.town) for row in postcodes if row.part)
    repeated = [f"{ward}{town}" for (ward, town), n in towns.items() if n > 1]
    if repeated:
        warnings.append(f"{POSTCODES}: {len(repeated)} town name(s) appear under more than one postcode "
                        f"(a transcription error such as 10条 → 1条?): {', '.join(repeated)}")


def read_directory(directory: Union[str, Path], categories_path: Optional[Union[str, Path]] = None) -> _Dataset:
    """Read and check every file; raise CityDataError before anything is written."""
    directory = Path(directory).resolve()
    categories_path = Path(categories_path or DEFAULT_CATEGORIES).resolve()
    _check_files(directory)
    warnings: List[str] = []

    check_columns(directory / DICTIONARY, ["index", "gomi_name", "gomi_type"])
    items = read_garbage_dictionary(directory / DICTIONARY)
    if not items:
        raise CityDataError(f"{DICTIONARY}: no items")
    rules = read_sorting_rules(directory / RULES)
    codes = read_collection_codes(directory / CODES)
    codes.setdefault(NO_COLLECTION, "収集なし")
    table = read_calendar(directory / CALENDAR)
    postcodes = read_postcodes(directory / POSTCODES)
    configs = read_categories(categories_path)

    links = _check_categories(items, configs, rules, codes, categories_path, warnings)
    _check_calendar(table, codes, warnings)
    _check_postcodes(postcodes, warnings)
    mapping, remapped = map_parts(postcodes, table.areas, warnings)

    wards: Dict[str, Dict[int, Optional[str]]] = {}
    order = {ward: i for i, ward in enumerate(WARD_ORDER)}
    for (ward, part), area in sorted(mapping.items(), key=lambda kv: (order.get(kv[0][0], len(order)), kv[0])):
        wards.setdefault(ward, {})[part] = area.name if area else None
    days = sorted(row.day for row in table.days)
    is_sample = (directory / SAMPLE_MARKER).exists()
    loaded_at = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    counts = {DICTIONARY: len(items), RULES: len(rules), CALENDAR: len(table.days), CODES: len(codes),
              POSTCODES: len(postcodes)}
    report = ImportReport(
        directory=str(directory), url="", categories_file=str(categories_path), counts=counts,
        calendar_range=(days[0], days[-1]), calendar_entries=len(table.days) * len(table.areas),
        areas=[a.name for a in table.areas], wards=wards, remapped=remapped, warnings=warnings,
        is_sample=is_sample, loaded_at=loaded_at)

    area_of = {key: (area.name if area else None) for key, area in mapping.items()}
    rows: Dict[str, List[Dict[str, Any]]] = {
        schema.categories.name: [
            {"name": c.name, "label": c.label, "position": i, "collected_by_city": c.collected_by_city,
             "who_takes_it": c.who_takes_it, "how": c.how, "calendar_codes": json.dumps(list(c.calendar_codes)),
             "in_dictionary": c.in_dictionary} for i, c in enumerate(configs)],
        schema.items.name: [
            {"id": i, "name": it.name, "category": it.category, "base_name": it.base_name, "variant": it.variant,
             "alternatives": json.dumps(list(it.alternatives), ensure_ascii=False), "kana_index": it.kana_index}
            for i, it in enumerate(items, start=1)],
        schema.rules.name: [
            {"id": i, "source_type": r.category, "frequency_fee": r.frequency_fee, "title": r.title,
             "examples": r.examples, "how": r.how, "remark": r.remark} for i, r in enumerate(rules, start=1)],
        schema.category_rules.name: [
            {"category": name, "rule_id": index + 1, "position": pos}
            for name, indexes in links.items() for pos, index in enumerate(indexes)],
        schema.collection_codes.name: [{"code": code, "label": label} for code, label in sorted(codes.items())],
        schema.areas.name: [{"name": a.name, "ward": a.ward, "number": a.number, "position": i}
                            for i, a in enumerate(table.areas)],
        schema.calendar.name: [{"area": area.name, "day": row.day, "code": code}
                               for row in table.days for area, code in zip(table.areas, row.codes)],
        schema.addresses.name: [
            {"id": i, "postcode": p.postcode, "ward": p.ward, "town": p.town, "part": p.part,
             "area": area_of[(p.ward, p.part)]}
            for i, p in enumerate(postcodes, start=1)],
    }
    meta = {"source_directory": str(directory), "categories_file": str(categories_path), "loaded_at": loaded_at,
            "load_id": uuid.uuid4().hex, "calendar_first": days[0].isoformat(), "calendar_last": days[-1].isoformat(),
            "is_sample": is_sample, "counts": counts, "warnings": warnings,
            "remapped_parts": [[m.ward, m.part, m.area] for m in remapped]}
    rows[schema.store_metadata.name] = [{"key": k, "value": json.dumps(v, ensure_ascii=False)} for k, v in meta.items()]
    return _Dataset(rows, report)


def _insert(conn: Connection, table, rows: List[Dict[str, Any]]) -> None:
    if rows:
        conn.execute(table.insert(), rows)


def _replace_all(conn: Connection, rows: Mapping[str, List[Dict[str, Any]]]) -> None:
    """Drop and re-create every table, then insert the new rows (parents first).

    Re-creating (rather than deleting rows) means a store written by an older version of this code
    never blocks a load: the store holds nothing that is not rebuilt from the files.
    """
    schema.metadata.drop_all(conn, checkfirst=True)
    schema.metadata.create_all(conn)
    for table in schema.ALL_TABLES:
        _insert(conn, table, rows.get(table.name, []))


def _engine(url: str):
    parsed = make_url(url)
    engine = create_engine(url, future=True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # pysqlite starts transactions only before INSERT/UPDATE/DELETE, so DROP/CREATE would be
        # committed at once. Let SQLAlchemy emit BEGIN itself, which makes the DDL part of the
        # transaction as it is on PostgreSQL (SQLAlchemy's documented recipe for pysqlite).
        @event.listens_for(engine, "connect")
        def _no_implicit_transactions(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    return engine


def load_directory(directory: Union[str, Path], url: Optional[str] = None,
                   categories_path: Optional[Union[str, Path]] = None) -> ImportReport:
    """Import the city's files from ``directory`` into the store at ``url`` (default: see store.default_url)."""
    started = time.perf_counter()
    url = url or default_url()
    dataset = read_directory(directory, categories_path)
    engine = _engine(url)
    try:
        with engine.begin() as conn:  # one transaction: all or nothing
            _replace_all(conn, dataset.rows)
    finally:
        engine.dispose()
    report = dataset.report
    report.url = make_url(url).render_as_string(hide_password=True)
    report.seconds = time.perf_counter() - started
    return report
