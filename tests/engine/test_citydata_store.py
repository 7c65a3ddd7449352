"""Read API of the city-data store, on the official files (../shared/data/sapporo) loaded into a temporary
SQLite file. Expected dates and codes are computed from the CSV files with the csv module."""

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.knowledge.citydata.importer import load_directory
from bot.knowledge.citydata.models import Area
from bot.knowledge.citydata.store import CityDataNotLoaded, CityDataStore, UnknownArea, UnknownCategory

ROOT = Path(__file__).resolve().parents[2]
OFFICIAL = ROOT.parent / "shared" / "data" / "sapporo"
SAMPLE = ROOT / "data" / "city_sample"
WARDS = ["中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区"]


def rows(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def csv_calendar(path=OFFICIAL / "gomi_calendar.csv"):
    """area → {day: code}, read independently of the importer."""
    table = {}
    for r in rows(path):
        y, m, d = (int(p) for p in r["日付"].split("-"))
        for column, value in r.items():
            if column not in ("日付", "曜"):
                table.setdefault(column, {})[date(y, m, d)] = int(value)
    return table


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('citydata') / 'store.db'}"
    load_directory(OFFICIAL, url)
    return CityDataStore(url)


@pytest.fixture(scope="module")
def calendar():
    return csv_calendar()


# ---- dictionary and categories ----

def test_items_are_the_dictionary_in_file_order(store):
    items = store.items()
    assert [i.name for i in items] == [r["gomi_name"] for r in rows(OFFICIAL / "gomi_dict.csv")]
    kotatsu = next(i for i in items if i.name == "こたつ・こたつ板")
    assert kotatsu.alternatives == ("こたつ", "こたつ板") and kotatsu.category == "大型ごみ"
    hanger = next(i for i in items if i.name == "ハンガー（金属製）")
    assert (hanger.base_name, hanger.variant, hanger.kana_index) == ("ハンガー", "金属製", "は")


def test_every_item_category_resolves(store):
    for name in {i.category for i in store.items()}:
        info = store.category(name)
        assert info.name == name and info.label
        assert info.collected_by_city == (not name.startswith("市で収集しないもの") and name != "集団資源回収など")
    with pytest.raises(UnknownCategory):
        store.category("宇宙ごみ")


def test_category_rules_and_calendar_codes(store):
    sep = rows(OFFICIAL / "gomi_sep.csv")
    burnable = store.category("燃やせるごみ")
    assert burnable.calendar_codes == (1,)
    assert [r.title for r in burnable.rules] == [r["title"] for r in sep if r["gomi_type"] == "燃やせるごみ"]
    assert all(r.remark != "0" for r in burnable.rules)  # "0" in the file means no remark
    assert store.category("スプレー缶・カセットボンベ").calendar_codes == (1,)
    assert store.category("ライター").calendar_codes == (2,)
    assert store.category("枝・葉・草").rules[0].frequency_fee == "4週に1回・無料"
    appliances = store.category("市で収集しないもの（家電4品目）")
    assert not appliances.collected_by_city and appliances.calendar_codes == ()
    assert "家電リサイクル法" in appliances.who_takes_it
    assert {r.title for r in appliances.rules} == {"テレビ（ブラウン管式・液晶式・有機EL式・プラズマ式）", "冷蔵庫・冷凍庫",
                                                   "洗濯機・衣類乾燥機", "エアコン"}
    assert "PCリサイクル" in store.category("市で収集しないもの（パソコン）").who_takes_it
    bulky = store.category("大型ごみ")
    assert bulky.rules == () and bulky.calendar_codes == () and "大型ごみ処理券" in bulky.how
    assert "集団資源回収" in store.category("集団資源回収など").how


# ---- wards and addresses ----

def test_wards_in_natural_order(store):
    assert store.wards() == WARDS


@pytest.mark.parametrize("postcode", ["064-0959", "0640959", "０６４０９５９", "〒064-0959", "〒０６４－０９５９", " 064 0959 "])
def test_postcode_forms(store, postcode):
    [address] = store.addresses_for_postcode(postcode)
    assert (address.ward, address.town, address.area) == ("中央区", "宮ケ丘", Area("中央区", 5))
    assert address.postcode_display == "064-0959"


def test_postcode_catch_all_and_unknown(store):
    [other] = store.addresses_for_postcode("003-0000")
    assert other.ward == "白石区" and other.area is None
    assert store.addresses_for_postcode("064-095") == []
    assert store.addresses_for_postcode("999-9999") == []
    assert store.addresses_for_postcode("") == []


def test_every_postcode_row_can_be_found(store):
    for r in rows(OFFICIAL / "sapporo_ken.csv"):
        found = store.addresses_for_postcode(r["post_code"])
        assert [(a.ward, a.town) for a in found] == [(r["kanji_district"], r["kanji_chome"])]


def test_town_with_suffixes(store):
    found = store.addresses_for_town("白石区", "本通")
    assert sorted(a.town for a in found) == ["本通（北）", "本通（南）"]
    assert {a.area.name for a in found} == {"白石区1"}
    assert [a.town for a in store.addresses_for_town("白石区", "本通（南）")] == ["本通（南）"]
    assert [a.town for a in store.addresses_for_town("白石区", "本通(南)")] == ["本通（南）"]
    assert store.addresses_for_town("中央区", "本通") == []


def test_town_text_is_normalised(store):
    assert [a.town for a in store.addresses_for_town("中央区", "宮ヶ丘")] == ["宮ケ丘"]
    assert [a.town for a in store.addresses_for_town("", "札幌市中央区　宮ケ丘")] == ["宮ケ丘"]
    assert [a.town for a in store.addresses_for_town("中央区", "宮の森３条")] == ["宮の森3条"]


def test_town_prefix_containment_and_chome(store):
    assert sorted(a.town for a in store.addresses_for_town("北区", "あいの里")) == [
        f"あいの里{n}条" for n in range(1, 6)]
    assert [a.town for a in store.addresses_for_town("中央区", "宮の森3条西5丁目")] == ["宮の森3条"]
    [west] = store.addresses_for_town("中央区", "南1条西10丁目")
    assert west.town == "南1条西（１〜１９丁目）" and west.area.name == "中央区6"
    [far_west] = store.addresses_for_town("中央区", "南1条西22丁目")
    assert far_west.area.name == "中央区5"
    assert store.addresses_for_town("白石区", "以下に掲載がない場合") == []


def test_kiyota_towns_get_the_calendars_area(store):
    for r in rows(OFFICIAL / "sapporo_ken.csv"):
        if r["kanji_district"] == "清田区":
            areas = {a.area.name for a in store.addresses_for_postcode(r["post_code"])}
            assert areas == {f"清田区{4 + int(r['part'])}"}
    assert [a.name for a in store.areas("手稲区")] == ["手稲区5", "手稲区6", "手稲区7"]
    assert "東米里" in store.towns("白石区") and "以下に掲載がない場合" not in store.towns("白石区")


# ---- calendar ----

def test_calendar_range(store, calendar):
    days = sorted(calendar["中央区1"])
    assert store.calendar_range() == (days[0], days[-1]) == (date(2024, 10, 1), date(2025, 9, 30))


@pytest.mark.parametrize("area_name", ["中央区5", "白石区1", "清田区5", "手稲区7"])
@pytest.mark.parametrize("today", [date(2024, 12, 27), date(2025, 5, 1)])
def test_next_burnable_dates_are_the_days_with_code_1(store, calendar, area_name, today):
    expected = [d for d, code in sorted(calendar[area_name].items()) if d >= today and code == 1][:3]
    assert len(expected) == 3
    assert store.next_collection_dates(store.area(area_name), "燃やせるごみ", today) == expected


def test_next_dates_for_other_categories(store, calendar):
    area, today = store.area("北区1"), date(2025, 3, 10)
    for category, code in (("燃やせないごみ", 2), ("ライター", 2), ("雑がみ", 10), ("びん・缶・ペットボトル", 8)):
        expected = [d for d, c in sorted(calendar["北区1"].items()) if d >= today and c == code][:5]
        assert store.next_collection_dates(area, category, today, limit=5) == expected
    assert store.next_collection_dates(area, "大型ごみ", today) == []
    assert store.next_collection_dates(area, "市で収集しないもの", today) == []
    last = store.next_collection_dates(area, "燃やせるごみ", date(2025, 9, 29), limit=10)
    assert 0 < len(last) < 10 and all(d <= date(2025, 9, 30) for d in last)


def test_collections_skip_days_without_collection(store, calendar):
    labels = {int(r["記号"]): r["ごみ種"] for r in rows(OFFICIAL / "gomitypenumber.csv")}
    area, start = Area("白石区", 2), date(2024, 12, 25)
    expected = [(d, c, labels[c]) for d, c in sorted(calendar["白石区2"].items())
                if start <= d < start + timedelta(days=21) and c != 0]
    got = store.collections(area, start, 21)
    assert got == expected and all(code != 0 for _, code, _ in got)
    assert all(code == 0 for code in (calendar[a][date(2025, 1, 1)] for a in calendar))
    assert store.collections(area, date(2025, 1, 1), 3) == []  # New Year: code 0 everywhere
    assert store.collections(area, date(2030, 1, 1), 7) == []  # outside the calendar
    with pytest.raises(UnknownArea):
        store.collections(Area("白石区", 9), start, 7)


# ---- reloads and an empty store ----

def test_store_picks_up_a_reload(tmp_path):
    url = f"sqlite:///{tmp_path / 'reload.db'}"
    load_directory(OFFICIAL, url)
    fresh = CityDataStore(url, refresh_seconds=0)
    lazy = CityDataStore(url, refresh_seconds=3600)
    assert len(fresh.items()) == len(lazy.items()) == 986
    assert fresh.metadata()["is_sample"] is False
    load_directory(SAMPLE, url)
    assert len(fresh.items()) == len(rows(SAMPLE / "gomi_dict.csv"))
    assert fresh.metadata()["is_sample"] is True
    assert fresh.calendar_range() == (date(2026, 10, 1), date(2027, 9, 30))
    assert fresh.wards() == ["中央区", "北区", "白石区"]
    assert len(lazy.items()) == 986  # not checked again yet …
    lazy.refresh()
    assert len(lazy.items()) == len(rows(SAMPLE / "gomi_dict.csv"))  # … until asked to


def test_sample_store_answers_the_same_questions(tmp_path):
    url = f"sqlite:///{tmp_path / 'sample.db'}"
    load_directory(SAMPLE, url)
    sample = CityDataStore(url)
    [address] = sample.addresses_for_postcode("064-0959")
    assert address.area == Area("中央区", 5)
    assert {a.area.name for a in sample.addresses_for_town("白石区", "本通")} == {"白石区1"}
    expected = [d for d, c in sorted(csv_calendar(SAMPLE / "gomi_calendar.csv")["中央区5"].items())
                if d >= date(2026, 11, 26) and c == 1][:3]
    assert sample.next_collection_dates(address.area, "燃やせるごみ", date(2026, 11, 26)) == expected


def test_empty_store(tmp_path):
    path = tmp_path / "missing.db"
    empty = CityDataStore(f"sqlite:///{path}")
    assert not empty.is_loaded()
    assert empty.metadata() == {} and empty.calendar_range() is None
    with pytest.raises(CityDataNotLoaded, match="python -m bot.knowledge.citydata load"):
        empty.items()
    assert not path.exists()  # reading never creates an empty database file


def test_a_store_keeps_answering_when_the_database_goes_away(tmp_path):
    path = tmp_path / "gone.db"
    load_directory(SAMPLE, f"sqlite:///{path}")
    kept = CityDataStore(f"sqlite:///{path}", refresh_seconds=0)
    count = len(kept.items())
    path.unlink()
    path.write_bytes(b"")  # an empty file: no tables
    assert len(kept.items()) == count
    assert not CityDataStore(f"sqlite:///{path}").is_loaded()
