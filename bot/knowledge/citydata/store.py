"""Read access to the city-data knowledge store, for the Rasa actions.

The whole store is small (about 1,000 dictionary items, 17,000 calendar entries, 800 postcodes),
so the first call reads everything into memory and later calls are answered from there. Every
``refresh_seconds`` at most, one query compares the store's ``load_id`` with the one in memory;
after ``python -m bot.knowledge.citydata load`` a running action server therefore serves the new data
within that time, without a restart.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.knowledge.citydata import schema
from bot.knowledge.citydata.models import Address, Area, CategoryInfo, GarbageItem, SortingRule
from bot.knowledge.citydata.patterns import UsualPattern, derive
from bot.nlu.address_text import TownIndex, TownReading
from bot.nlu.address_text import canonical as text_canonical
from bot.nlu.normalize import normalize_text

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[3]
ENV_URL = "CITYDATA_DB_URL"
WARD_ORDER = ("中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区")
CATCH_ALL_PART = 0  # sapporo_ken.csv: 町名 "以下に掲載がない場合" (the ward's other addresses)


def default_url() -> str:
    """``$CITYDATA_DB_URL``, else SQLite at <repo>/var/citydata.db."""
    return os.environ.get(ENV_URL) or f"sqlite:///{ROOT / 'var' / 'citydata.db'}"


class CityDataNotLoaded(RuntimeError):
    """The store is empty: run ``python -m bot.knowledge.citydata load DIR`` first."""


class UnknownCategory(KeyError):
    pass


class UnknownArea(KeyError):
    pass


# ---- address text ----

_CHOME_RANGE = re.compile(r"[（(](\d+)[〜～~\-－ー](\d+)丁目[）)]$")


def town_key(text: str) -> str:
    """Width/case-folded town text for comparisons: "宮ヶ丘" = "宮ケ丘", "本通（北）" = "本通(北)"."""
    text = normalize_text(text)
    text = text.replace("ヶ", "ケ").replace("ヵ", "カ")
    return "".join(text.split())


def _chome_range(key: str) -> Optional[Tuple[int, int]]:
    match = _CHOME_RANGE.search(key)
    return (int(match.group(1)), int(match.group(2))) if match else None


def postcode_digits(text: str) -> Optional[str]:
    """"〒064-0959", "0640959", "０６４－０９５９" → "0640959"; None when it is not a 7-digit postcode."""
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", text or ""))
    return digits if len(digits) == 7 else None


@dataclass
class _Snapshot:
    """Everything in the store, read at once (see module docstring)."""

    load_id: str
    metadata: Dict[str, object]
    items: List[GarbageItem]
    categories: Dict[str, CategoryInfo]
    code_labels: Dict[int, str]
    areas: Dict[str, Area]
    calendar: Dict[str, Tuple[List[date], List[int]]]  # area → (sorted days, codes), code 0 included
    addresses: List[Address]
    by_postcode: Dict[str, List[Address]]


class CityDataStore:
    """The city's garbage knowledge, read from the store written by ``bot.knowledge.citydata.importer``."""

    def __init__(self, url: Optional[str] = None, refresh_seconds: float = 30.0):
        self.url = url or default_url()
        self.refresh_seconds = refresh_seconds
        self._engine = None
        self._snapshot: Optional[_Snapshot] = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    # ---- loading and reload detection ----

    def _get_engine(self):
        if self._engine is None:
            parsed = make_url(self.url)
            if (parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")
                    and not Path(parsed.database).exists()):
                # Do not let SQLite create an empty file where the data is expected.
                raise CityDataNotLoaded(f"no city data at {parsed.database}: run `python -m bot.knowledge.citydata load DIR`")
            self._engine = create_engine(self.url, future=True)
        return self._engine

    def _current_load_id(self) -> Optional[str]:
        """The load_id of the data in the database; None when there is none or it cannot be read."""
        try:
            with self._get_engine().connect() as conn:
                value = conn.execute(select(schema.store_metadata.c.value)
                                     .where(schema.store_metadata.c.key == "load_id")).scalar()
        except (OperationalError, ProgrammingError):  # no tables yet, locked, server away
            return None
        return json.loads(value) if value else None

    def _data(self) -> _Snapshot:
        with self._lock:
            now = time.monotonic()
            if self._snapshot is not None and now - self._checked_at < self.refresh_seconds:
                return self._snapshot
            load_id = self._current_load_id()
            self._checked_at = now
            if load_id is None and self._snapshot is not None:
                # A locked or unreachable database for a moment: keep answering from memory.
                logger.warning("city-data store at %s not readable; serving the data loaded at %s",
                               self._safe_url(), self._snapshot.metadata.get("loaded_at"))
                return self._snapshot
            if load_id is None:
                raise CityDataNotLoaded(f"the city-data store at {self._safe_url()} is empty: "
                                        f"run `python -m bot.knowledge.citydata load DIR`")
            if self._snapshot is None or self._snapshot.load_id != load_id:
                self._snapshot = self._read_all()
            return self._snapshot

    def _read_all(self) -> _Snapshot:
        """Read every table; if a reload committed meanwhile, read again so the snapshot is consistent."""
        for _ in range(5):
            with self._get_engine().connect() as conn:
                snapshot = _read_snapshot(conn)
            if self._current_load_id() == snapshot.load_id:
                break
        return snapshot

    def _safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def refresh(self) -> None:
        """Check for newly loaded data at the next call, whatever refresh_seconds says."""
        with self._lock:
            self._checked_at = float("-inf")

    def is_loaded(self) -> bool:
        try:
            self._data()
        except CityDataNotLoaded:
            return False
        return True

    # ---- garbage dictionary and categories ----

    def items(self) -> List[GarbageItem]:
        """The whole garbage dictionary, in file order."""
        return list(self._data().items)

    def category_names(self) -> List[str]:
        """Category names in the order of categories.yml."""
        return list(self._data().categories)

    def category(self, name: str) -> CategoryInfo:
        """One category (a dictionary category or an extra one such as 筒型乾電池); UnknownCategory if none."""
        try:
            return self._data().categories[name]
        except KeyError:
            raise UnknownCategory(name) from None

    def code_label(self, code: int) -> str:
        """What a calendar code means, e.g. 1 → "燃やせるごみ（有料）/スプレー缶類（別袋無料）"."""
        return self._data().code_labels.get(code, "")

    # ---- wards, areas, addresses ----

    def wards(self) -> List[str]:
        """Wards in the data, in Sapporo's usual order (中央区, 北区, 東区, …, 手稲区)."""
        data = self._data()
        present = {a.ward for a in data.areas.values()} | {a.ward for a in data.addresses}
        known = [w for w in WARD_ORDER if w in present]
        return known + sorted(present - set(WARD_ORDER))

    def areas(self, ward: Optional[str] = None) -> List[Area]:
        """Calendar areas (columns of gomi_calendar.csv), optionally of one ward."""
        return [a for a in self._data().areas.values() if ward is None or a.ward == ward]

    def area(self, name: str) -> Area:
        """The calendar area called ``name`` ("白石区1"); UnknownArea if there is none."""
        try:
            return self._data().areas[name]
        except KeyError:
            raise UnknownArea(name) from None

    def towns(self, ward: str) -> List[str]:
        """Town names (町名 as published) of a ward, without the catch-all row, in file order."""
        seen: Dict[str, None] = {}
        for a in self._data().addresses:
            if a.ward == ward and a.part != CATCH_ALL_PART:
                seen.setdefault(a.town)
        return list(seen)

    def addresses_for_postcode(self, postcode: str) -> List[Address]:
        """Addresses of a postcode ("064-0959", "0640959", "〒０６４－０９５９"); [] if unknown or malformed."""
        digits = postcode_digits(postcode)
        return list(self._data().by_postcode.get(digits, [])) if digits else []

    def addresses_for_town(self, ward: Optional[str], town_text: str) -> List[Address]:
        """Addresses whose town matches ``town_text`` in ``ward`` (all wards when ward is empty).

        The town is read as citizens type it (bot/nlu/address_text.py: kana, kanji numerals, 「3ジョウ」「5丁」,
        「南3西5」, 「菊水5-2」): the longest known name in the text ("宮の森3条西5丁目" → 宮の森3条), a bare name with
        its suffixed rows ("本通" → 本通（北）, 本通（南）; "本通（南）" → that row), a name before its 条 number with
        all its 条 ("あいの里" → あいの里1条 …), else towns starting with the text ("もみじ" → もみじ台北 …). "N丁目"
        picks the row whose range contains N ("南1条西10丁目" → 南1条西（１〜１９丁目）). A 条 the file does not
        have is not its bare town ("宮の森5条" → []). No typo is corrected here (see read_address). The catch-all
        rows are never returned.
        """
        ward = (ward or "").strip() or None
        found = self.read_address(town_text, ward, fuzzy=False)
        if ward and found.ward and found.ward != ward:
            return []
        if found.towns:
            return [t.payload for t in found.towns]
        return self._towns_starting_with(found.ward, town_text)

    def read_address(self, text: str, ward: Optional[str] = None, fuzzy: bool = True) -> TownReading:
        """The 区, the town rows and the 丁目 in a citizen's ``text`` (see bot/nlu/address_text.py); ``ward``
        is the ward already known (one typed in the text wins). Without a ward, the rows of every ward that has
        the town are returned; the 丁目 then picks within each ward ("北11条西3丁目": 中央区 and 北区 stay)."""
        found = self.town_index().read(text, ward, fuzzy=fuzzy)
        if found.chome is None or len(found.towns) < 2:
            return found
        picked: List = []
        for each in dict.fromkeys(t.ward for t in found.towns):
            own = [t for t in found.towns if t.ward == each]
            chosen = {id(a) for a in _pick_chome([t.payload for t in own], found.chome)}
            picked.extend(t for t in own if id(t.payload) in chosen)
        return replace(found, towns=tuple(picked))

    def town_index(self) -> TownIndex:
        """Every town of the postcode file (without the catch-all rows), ready to be searched; rebuilt after a
        reload. The readings of the names are computed here, once per load."""
        data = self._data()
        cached = getattr(self, "_town_index", None)
        if cached is None or cached[0] != data.load_id:
            cached = (data.load_id, TownIndex((a.ward, a.town, a) for a in data.addresses if a.part != CATCH_ALL_PART))
            self._town_index = cached
        return cached[1]

    def _towns_starting_with(self, ward: Optional[str], text: str) -> List[Address]:
        query = text_canonical(text)
        for known in self.wards():
            query = query.replace(known, "")
        query = re.sub(r"\s+", "", query)
        if len(query) < 2 or re.search(r"\d", query):
            return []
        return [t.payload for t in self.town_index().towns if (not ward or t.ward == ward)
                and any(k.startswith(query) for k in (t.key, *t.readings))]

    # ---- calendar ----

    def calendar_range(self) -> Optional[Tuple[date, date]]:
        """First and last day of the loaded calendar; None when there is none."""
        try:
            meta = self._data().metadata
        except CityDataNotLoaded:
            return None
        if not meta.get("calendar_first"):
            return None
        return date.fromisoformat(str(meta["calendar_first"])), date.fromisoformat(str(meta["calendar_last"]))

    def collections(self, area: Area, start: date, days: int) -> List[Tuple[date, int, str]]:
        """(day, code, label) for the days from ``start`` on (``days`` days) with a collection.

        Days outside the calendar are simply absent: check calendar_range() to tell them from 0.
        """
        data = self._data()
        dates, codes = self._calendar_of(data, area)
        end = start + timedelta(days=days)
        lo, hi = bisect.bisect_left(dates, start), bisect.bisect_left(dates, end)
        return [(dates[i], codes[i], data.code_labels.get(codes[i], "")) for i in range(lo, hi) if codes[i] != 0]

    def next_collection_dates(self, area: Area, category: str, today: date, limit: int = 3) -> List[date]:
        """The next ``limit`` days (from ``today`` inclusive) on which ``category`` is collected in ``area``.

        [] for categories without a fixed day (大型ごみ, 市で収集しないもの …) or after the calendar ends.
        """
        data = self._data()
        wanted = set(self.category(category).calendar_codes)
        if not wanted or limit <= 0:
            return []
        dates, codes = self._calendar_of(data, area)
        found: List[date] = []
        for i in range(bisect.bisect_left(dates, today), len(dates)):
            if codes[i] in wanted:
                found.append(dates[i])
                if len(found) == limit:
                    break
        return found

    def usual_pattern(self, area: Area, category: Optional[str] = None, codes: Sequence[int] = (),
                      months: int = 3, today: Optional[date] = None) -> Optional[UsualPattern]:
        """What the calendar showed as the usual days of ``category`` (or of the calendar ``codes``) in
        ``area``: read from its last ``months`` months, or its first ones when ``today`` is before it
        (see patterns.py). None for categories without a fixed day, or when no calendar is loaded."""
        wanted = tuple(codes) or (self.category(category).calendar_codes if category else ())
        covered = self.calendar_range()
        if not wanted or not covered:
            return None
        first, last = covered
        days = [(d, code) for d, code, _label in self.collections(area, first, (last - first).days + 1)]
        name = area.name if isinstance(area, Area) else str(area)
        return derive(name, wanted, days, first, last, months, at_end=not (today and today < first))

    @staticmethod
    def _calendar_of(data: _Snapshot, area: Area) -> Tuple[List[date], List[int]]:
        name = area.name if isinstance(area, Area) else str(area)
        if name not in data.calendar:
            raise UnknownArea(name)
        return data.calendar[name]

    def metadata(self) -> Dict[str, object]:
        """What the importer recorded: source_directory, loaded_at, load_id, calendar_first/last,
        is_sample (bool), counts, warnings, remapped_parts; {} when nothing is loaded."""
        try:
            return dict(self._data().metadata)
        except CityDataNotLoaded:
            return {}


def _pick_chome(found: Sequence[Address], chome: int) -> List[Address]:
    """Rows whose "（a〜b丁目）" range holds ``chome``; else the rows without a range (the rest of the town)."""
    ranged = [(a, _chome_range(town_key(a.town))) for a in found]
    inside = [a for a, r in ranged if r and r[0] <= chome <= r[1]]
    if inside:
        return inside
    plain = [a for a, r in ranged if r is None]
    return plain or list(found)


def _read_snapshot(conn) -> _Snapshot:
    s = schema
    metadata = {row.key: json.loads(row.value) for row in conn.execute(select(s.store_metadata))}
    load_id = str(metadata.get("load_id", ""))
    rules = {row.id: row for row in conn.execute(select(s.rules))}
    rules_of: Dict[str, List[SortingRule]] = {}
    for link in conn.execute(select(s.category_rules).order_by(s.category_rules.c.category,
                                                               s.category_rules.c.position)):
        r = rules[link.rule_id]
        rules_of.setdefault(link.category, []).append(SortingRule(
            category=link.category, frequency_fee=r.frequency_fee, title=r.title, examples=r.examples, how=r.how,
            remark=r.remark))
    categories = {
        row.name: CategoryInfo(name=row.name, label=row.label, collected_by_city=bool(row.collected_by_city),
                               who_takes_it=row.who_takes_it, how=row.how,
                               calendar_codes=tuple(json.loads(row.calendar_codes)),
                               rules=tuple(rules_of.get(row.name, [])))
        for row in conn.execute(select(s.categories).order_by(s.categories.c.position))}
    items = [GarbageItem(name=row.name, category=row.category, base_name=row.base_name, variant=row.variant,
                         alternatives=tuple(json.loads(row.alternatives)), kana_index=row.kana_index)
             for row in conn.execute(select(s.items).order_by(s.items.c.id))]
    code_labels = {row.code: row.label for row in conn.execute(select(s.collection_codes))}
    areas = {row.name: Area(row.ward, row.number)
             for row in conn.execute(select(s.areas).order_by(s.areas.c.position))}
    calendar: Dict[str, Tuple[List[date], List[int]]] = {name: ([], []) for name in areas}
    for row in conn.execute(select(s.calendar.c.area, s.calendar.c.day, s.calendar.c.code)
                            .order_by(s.calendar.c.area, s.calendar.c.day)):
        dates, codes = calendar[row.area]
        dates.append(row.day)
        codes.append(row.code)
    addresses = [Address(postcode=row.postcode, ward=row.ward, town=row.town,
                         area=areas.get(row.area) if row.area else None, part=row.part)
                 for row in conn.execute(select(s.addresses).order_by(s.addresses.c.id))]
    by_postcode: Dict[str, List[Address]] = {}
    for a in addresses:
        by_postcode.setdefault(a.postcode, []).append(a)
    return _Snapshot(load_id, metadata, items, categories, code_labels, areas, calendar, addresses, by_postcode)
