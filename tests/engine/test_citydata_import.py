"""Importer: the city's official files (../shared/data/sapporo) and the repository's sample, into SQLite
and into a real PostgreSQL (a throwaway server, or TEST_POSTGRES_URL). Expectations are computed from the CSV files here."""

import csv
import json
import os
import shutil
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from bot.knowledge.citydata import importer, schema
from bot.knowledge.citydata.__main__ import main as cli
from bot.knowledge.citydata.importer import CityDataError, load_directory
from bot.knowledge.citydata.store import CityDataStore

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = ROOT.parent / "shared" / "data" / "sapporo"
SAMPLE = ROOT / "data" / "city_sample"
CATEGORIES = ROOT / "data" / "garbage" / "categories.yml"


def rows(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def parse_day(text_):
    y, m, d = (int(p) for p in text_.split("-"))
    return date(y, m, d)


def count(url, table, where=None):
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            query = select(func.count()).select_from(table)
            return conn.execute(query.where(where) if where is not None else query).scalar()
    finally:
        engine.dispose()


def fetch(url, query):
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('citydata') / 'official.db'}"
    return url, load_directory(OFFICIAL, url)


# ---- the official files ----

def test_row_counts_of_the_official_files(official):
    url, report = official
    assert report.counts == {"gomi_dict.csv": 986, "gomi_sep.csv": 58, "gomi_calendar.csv": 365,
                             "gomitypenumber.csv": 7, "sapporo_ken.csv": 814}
    assert count(url, schema.items) == 986
    assert count(url, schema.rules) == 58
    assert count(url, schema.areas) == 46
    assert count(url, schema.calendar) == 365 * 46 == report.calendar_entries
    assert count(url, schema.addresses) == 814
    assert report.calendar_range == (date(2024, 10, 1), date(2025, 9, 30))
    assert not report.is_sample


def test_every_dictionary_category_has_an_entry_and_valid_codes(official):
    url, _ = official
    dictionary_categories = {r["gomi_type"] for r in rows(OFFICIAL / "gomi_dict.csv")}
    assert len(dictionary_categories) == 13
    stored = {row.name: row for row in fetch(url, select(schema.categories))}
    assert dictionary_categories <= set(stored)
    codes = {int(r["記号"]) for r in rows(OFFICIAL / "gomitypenumber.csv")}
    for row in stored.values():
        assert set(json.loads(row.calendar_codes)) <= codes - {0}, row.name
    # items point to categories that exist (also a foreign key)
    orphans = fetch(url, select(schema.items.c.name).where(schema.items.c.category.not_in(list(stored))))
    assert orphans == []


def test_categories_take_their_rules_from_gomi_sep(official):
    url, _ = official
    sep = rows(OFFICIAL / "gomi_sep.csv")
    links = defaultdict(set)
    for link in fetch(url, select(schema.category_rules.c.category, schema.rules.c.title, schema.rules.c.source_type)
                      .join(schema.rules, schema.rules.c.id == schema.category_rules.c.rule_id)):
        links[link.category].add((link.source_type, link.title))
    assert links["燃やせるごみ"] == {(r["gomi_type"], r["title"]) for r in sep if r["gomi_type"] == "燃やせるごみ"}
    assert links["スプレー缶・カセットボンベ"] == {(r["gomi_type"], r["title"]) for r in sep if r["gomi_type"] == "スプレー缶"}
    assert links["市で収集しないもの"] == {(r["gomi_type"], r["title"]) for r in sep
                                           if r["gomi_type"] == "市が収集しないごみ"}
    assert {t for _, t in links["市で収集しないもの（パソコン）"]} == {"パソコン"}
    assert len(links["市で収集しないもの（家電4品目）"]) == 4
    assert "大型ごみ" not in links and "集団資源回収など" not in links
    # every gomi_sep row is used by some category (筒型乾電池 by its own entry)
    used = {pair for pairs in links.values() for pair in pairs}
    assert used == {(r["gomi_type"], r["title"]) for r in sep}


def test_every_calendar_code_resolves_and_days_match_the_csv(official):
    url, _ = official
    calendar = rows(OFFICIAL / "gomi_calendar.csv")
    in_csv = {int(v) for r in calendar for k, v in r.items() if k not in ("日付", "曜")}
    labels = {row.code: row.label for row in fetch(url, select(schema.collection_codes))}
    assert in_csv <= set(labels)
    assert labels[0] == "収集なし"
    # both date formats of the file ("2024-10-01", "2025-9-30") are read as the same calendar days
    assert {r["日付"] for r in calendar if len(r["日付"]) < 10}, "the file mixes unpadded dates"
    stored = {(row.area, row.day): row.code for row in fetch(url, select(schema.calendar))}
    for r in calendar:
        for area in ("中央区1", "清田区6", "手稲区7"):
            assert stored[(area, parse_day(r["日付"]))] == int(r[area])


def test_kiyota_and_teine_parts_map_to_the_calendars_numbering(official):
    url, report = official
    remapped = {(m.ward, m.part): m.area for m in report.remapped}
    assert remapped == {("清田区", 1): "清田区5", ("清田区", 2): "清田区6",
                        ("手稲区", 1): "手稲区5", ("手稲区", 2): "手稲区6", ("手稲区", 3): "手稲区7"}
    stored = {(row.postcode, row.ward, row.part): row.area for row in fetch(url, select(schema.addresses))}
    for r in rows(OFFICIAL / "sapporo_ken.csv"):
        ward, part = r["kanji_district"], int(r["part"])
        area = stored[(r["post_code"], ward, part)]
        if part == 0:
            assert area is None
        elif (ward, part) in remapped:
            assert area == remapped[(ward, part)]
        else:
            assert area == f"{ward}{part}"


def test_metadata_of_an_official_load(official):
    url, report = official
    meta = {row.key: json.loads(row.value) for row in fetch(url, select(schema.store_metadata))}
    assert meta["is_sample"] is False
    assert meta["source_directory"] == str(OFFICIAL.resolve())
    assert (meta["calendar_first"], meta["calendar_last"]) == ("2024-10-01", "2025-09-30")
    assert meta["loaded_at"] == report.loaded_at


def test_report_names_the_repeated_town_names(official):
    _, report = official
    assert any("北郷1条" in w for w in report.warnings)
    assert "清田区 part 1 has no column 清田区1; mapped to 清田区5" in report.summary()


# ---- the repository's sample ----

def test_sample_loads_and_is_marked_as_sample(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    report = load_directory(SAMPLE, url)
    assert report.is_sample and (SAMPLE / "SAMPLE").exists()
    assert report.warnings == []
    assert report.calendar_range == (date(2026, 10, 1), date(2027, 9, 30))
    assert CityDataStore(url).metadata()["is_sample"] is True


def test_sample_items_are_named_and_sorted_as_in_the_official_dictionary():
    official = {r["gomi_name"]: (r["index"], r["gomi_type"]) for r in rows(OFFICIAL / "gomi_dict.csv")}
    sample = rows(SAMPLE / "gomi_dict.csv")
    assert 90 <= len(sample) <= 130
    for r in sample:
        assert official.get(r["gomi_name"]) == (r["index"], r["gomi_type"]), r["gomi_name"]
    assert {r["gomi_type"] for r in sample} == {t for _, t in official.values()}


def test_sample_postcodes_agree_with_the_official_list():
    official = {tuple(r.values()) for r in rows(OFFICIAL / "sapporo_ken.csv")}
    for r in rows(SAMPLE / "sapporo_ken.csv"):
        assert tuple(r.values()) in official, r


def test_sample_calendar_keeps_the_official_weekdays_and_cycles():
    def pattern(path):
        days = defaultdict(list)
        table = rows(path)
        areas = [k for k in table[0] if k not in ("日付", "曜")]
        for r in table:
            for area in areas:
                if r[area] != "0":
                    days[(area, int(r[area]))].append(parse_day(r["日付"]))
        return areas, days

    sample_areas, sample = pattern(SAMPLE / "gomi_calendar.csv")
    _, official = pattern(OFFICIAL / "gomi_calendar.csv")
    assert set(sample_areas) >= {"中央区5", "白石区1"}
    for (area, code), days in sample.items():
        assert {d.weekday() for d in days} == {d.weekday() for d in official[(area, code)]}, (area, code)
        gaps = {(b - a).days for a, b in zip(days, days[1:])}
        usual = {1: {3, 4}, 8: {7}, 9: {7}, 10: {14}, 2: {28}, 11: {28}}[code]
        assert usual <= gaps and len(gaps - usual) <= 1, (area, code, gaps)  # one break at New Year / winter


# ---- reloads and errors ----

def test_reload_replaces_all_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    load_directory(OFFICIAL, url)
    load_directory(SAMPLE, url)
    assert count(url, schema.items) == len(rows(SAMPLE / "gomi_dict.csv"))
    assert count(url, schema.addresses) == len(rows(SAMPLE / "sapporo_ken.csv"))
    assert count(url, schema.calendar, schema.calendar.c.day < date(2026, 1, 1)) == 0
    assert count(url, schema.areas, schema.areas.c.name == "手稲区5") == 0


def test_a_failing_load_leaves_the_previous_data(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'f.db'}"
    first = load_directory(SAMPLE, url)
    real_insert = importer._insert

    def failing(conn, table, rows_):
        if table is schema.calendar:
            raise RuntimeError("disk full")
        real_insert(conn, table, rows_)

    monkeypatch.setattr(importer, "_insert", failing)
    with pytest.raises(RuntimeError):
        load_directory(OFFICIAL, url)  # items were already replaced inside the transaction
    assert count(url, schema.items) == len(rows(SAMPLE / "gomi_dict.csv"))
    assert CityDataStore(url).metadata()["loaded_at"] == first.loaded_at


@pytest.fixture
def sample_copy(tmp_path):
    target = tmp_path / "city"
    shutil.copytree(SAMPLE, target)
    return target


def replace_in(path, old, new, count_=1):
    content = path.read_text(encoding="utf-8")
    assert old in content
    path.write_text(content.replace(old, new, count_), encoding="utf-8")


def test_missing_file_is_named(sample_copy):
    (sample_copy / "gomi_sep.csv").unlink()
    with pytest.raises(CityDataError, match="missing file.*gomi_sep.csv"):
        load_directory(sample_copy, "sqlite://")


def test_missing_column_is_named(sample_copy):
    replace_in(sample_copy / "gomi_sep.csv", "出し方", "how")
    with pytest.raises(CityDataError, match="gomi_sep.csv: missing column.*出し方"):
        load_directory(sample_copy, "sqlite://")


def test_unknown_calendar_code_is_located(sample_copy):
    replace_in(sample_copy / "gomi_calendar.csv", "2026-10-02,金,1,", "2026-10-02,金,7,")
    with pytest.raises(CityDataError, match=r"unknown calendar code.*code 7 .*line 3, column 中央区5"):
        load_directory(sample_copy, "sqlite://")


def test_unpadded_and_padded_dates_are_the_same_day(sample_copy, tmp_path):
    replace_in(sample_copy / "gomi_calendar.csv", "2027-01-05,", "2027-1-5,")
    url = f"sqlite:///{tmp_path / 'd.db'}"
    report = load_directory(sample_copy, url)
    assert report.warnings == []
    assert count(url, schema.calendar, schema.calendar.c.day == date(2027, 1, 5)) == 6


def test_dictionary_category_without_entry_fails_clearly(sample_copy, tmp_path):
    replace_in(sample_copy / "gomi_dict.csv", "ら,ラップ,容器包装プラスチック", "ら,ラップ,プラスチック類")
    with pytest.raises(CityDataError, match="without an entry in .*categories.yml: プラスチック類 \\(1 items\\)"):
        load_directory(sample_copy, "sqlite://")
    trimmed = tmp_path / "categories.yml"
    lines = CATEGORIES.read_text(encoding="utf-8").split("\n  大型ごみ:")
    trimmed.write_text(lines[0] + "\n  大型ごみ_typo:" + lines[1], encoding="utf-8")
    shutil.copy(SAMPLE / "gomi_dict.csv", sample_copy / "gomi_dict.csv")
    with pytest.raises(CityDataError, match="大型ごみ"):
        load_directory(sample_copy, "sqlite://", categories_path=trimmed)


def test_unknown_code_in_categories_file_fails(sample_copy, tmp_path):
    broken = tmp_path / "categories.yml"
    broken.write_text(CATEGORIES.read_text(encoding="utf-8").replace("calendar_codes: [11]", "calendar_codes: [12]"),
                      encoding="utf-8")
    with pytest.raises(CityDataError, match="枝・葉・草: calendar code\\(s\\) 12"):
        load_directory(sample_copy, "sqlite://", categories_path=broken)


# ---- command line ----

def test_cli_load_and_stats(tmp_path, capsys, sample_copy):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert cli(["load", str(SAMPLE), "--db", url]) == 0
    out = capsys.readouterr().out
    assert "SAMPLE data" in out and "gomi_dict.csv" in out
    assert cli(["stats", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "2026-10-01 .. 2027-09-30" in out and "citydata_items" in out
    (sample_copy / "sapporo_ken.csv").unlink()
    assert cli(["load", str(sample_copy), "--db", url]) == 1
    assert "NOT loaded" in capsys.readouterr().err
    assert cli(["stats", "--db", f"sqlite:///{tmp_path / 'none.db'}"]) == 1


# ---- PostgreSQL (same code, other database) ----

def test_postgresql_load_and_read(postgres_url):
    url = postgres_url
    report = load_directory(OFFICIAL, url)
    assert count(url, schema.calendar) == report.calendar_entries == 365 * 46
    store = CityDataStore(url, refresh_seconds=0)
    assert len(store.items()) == 986
    assert [a.area.name for a in store.addresses_for_postcode("064-0959")] == ["中央区5"]
    load_directory(SAMPLE, url)
    assert store.metadata()["is_sample"] is True
    assert len(store.items()) == len(rows(SAMPLE / "gomi_dict.csv"))
