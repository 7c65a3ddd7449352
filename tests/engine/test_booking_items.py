"""Items of a booking request: cutting, quantities, and the garbage matcher's categories and fees."""

import pytest

from common.booking.fees import FeeTable, Limits
from common.booking.items import parse_items, resolve_item, split_quantity, validate_limits
from common.booking.store import BookedItem
from bot.knowledge.item_matcher import ItemMatcher
from tests.official_data import OFFICIAL_DATA
from tools.model import ROOT


@pytest.fixture(scope="module")
def matcher():
    """The matcher over the city's official dictionary (986 items)."""
    return ItemMatcher.from_files(OFFICIAL_DATA / "gomi_dict.csv")


def parse(text, matcher):
    return [(i.item_name, i.quantity, i.status) for i in parse_items(text, matcher=matcher)]


def test_sofa_and_two_microwaves(matcher):
    items = parse_items("ソファと電子レンジ2台", matcher=matcher)
    assert [(i.phrase, i.item_name, i.quantity, i.status, i.fee) for i in items] == [
        ("ソファ", "ソファー", 1, "ok", 1000), ("電子レンジ", "電子レンジ", 2, "ok", 500)]
    assert [i.subtotal for i in items] == [1000, 1000]
    assert items[1].booked() == BookedItem("電子レンジ", 2, 500)
    assert items[0].category == "大型ごみ"


@pytest.mark.parametrize("text, expected", [
    ("ソファと電子レンジ2台、いす３脚", [("ソファー", 1), ("電子レンジ", 2), ("いす（座いす・ベビーチェアーを含む）", 3)]),
    ("電子レンジ２台", [("電子レンジ", 2)]),  # full-width digits
    ("いす三脚", [("いす（座いす・ベビーチェアーを含む）", 3)]),  # kanji numeral with a counter
    ("机二つ、本棚を一つ", [("机", 2), ("本棚", 1)]),
    ("ソファひとつと机ふたつ", [("ソファー", 1), ("机", 2)]),
    ("2台のソファ", [("ソファー", 2)]),
    ("ソファー×2", [("ソファー", 2)]),
    ("ソファ1台電子レンジ2台", [("ソファー", 1), ("電子レンジ", 2)]),  # no separator but the counter
    ("ベッドやマットレス，自転車", [("ベッド", 1), ("マットレス", 1), ("自転車", 1)]),
    ("sofa and bed", None),  # English is not in the dictionary: no crash, nothing invented
    ("大型ごみで、たんすを2つお願いします", [("たんす", 2)]),
])
def test_cutting_and_quantities(matcher, text, expected):
    items = parse_items(text, matcher=matcher)
    if expected is None:
        assert all(i.status in ("unknown", "ambiguous") for i in items)
    else:
        assert [(i.item_name, i.quantity) for i in items] == expected
        assert all(i.status == "ok" for i in items)


def test_and_inside_names_is_not_a_separator(matcher):
    assert parse("ふとん", matcher) == [("布団", 1, "ok")]  # "と" in ふとん
    assert parse("ふとんとまくら", matcher) == [("布団", 1, "ok"), ("まくら", 1, "not_large")]
    assert parse("こたつ・こたつ板", matcher) == [("こたつ・こたつ板", 1, "ok")]  # "・" in the name
    assert parse("スキー用具一式（板、ストック）2つ", matcher) == [("スキー用具一式（板、ストック）", 2, "ok")]
    assert parse("三脚", matcher) == [("三脚", 1, "no_fee")]  # an item, not "3 脚"


def test_items_the_city_does_not_collect(matcher):
    items = parse_items("洗濯機とノートパソコンとタイヤ", matcher=matcher)
    assert [(i.item_name, i.status, i.category) for i in items] == [
        ("洗濯機", "not_collected", "市で収集しないもの（家電4品目）"),
        ("ノートパソコン", "not_collected", "市で収集しないもの（パソコン）"),
        ("タイヤ", "not_collected", "市で収集しないもの")]
    assert all(i.fee is None for i in items)
    [tv] = parse_items("テレビ", matcher=matcher)
    assert tv.status == "not_collected" and tv.category.endswith("（家電4品目）")


def test_not_large_item_carries_its_category(matcher):
    [pan] = parse_items("フライパン", matcher=matcher)
    assert (pan.status, pan.category, pan.fee) == ("not_large", "燃やせないごみ", None)
    [vacuum] = parse_items("掃除機", matcher=matcher)  # 燃やせないごみ in Sapporo, not 大型ごみ
    assert vacuum.status == "not_large"


def test_large_item_without_a_fee(matcher):
    [item] = parse_items("石臼", matcher=matcher)
    assert (item.status, item.item_name, item.category, item.fee, item.subtotal) == (
        "no_fee", "石臼", "大型ごみ", None, None)
    with pytest.raises(ValueError):
        item.booked()


def test_unknown_and_ambiguous(matcher):
    items = parse_items("ベッドとかたつむり", matcher=matcher)
    assert [(i.phrase, i.status) for i in items] == [("ベッド", "ok"), ("かたつむり", "unknown")]
    [hanger] = parse_items("ハンガー", matcher=matcher)
    assert hanger.status == "ambiguous"
    assert set(hanger.candidates) == {"ハンガー（金属製）", "ハンガー（木製・プラ製）"}
    assert hanger.item_name is None and hanger.fee is None


def test_chosen_candidate_is_resolved_without_cutting(matcher):
    item = resolve_item("ストーブ（石油・石炭・まきストーブ）", 2, matcher=matcher)
    assert (item.status, item.item_name, item.quantity, item.fee) == ("ok", "ストーブ（石油・石炭・まきストーブ）", 2, 500)


def test_bad_quantities(matcher):
    [zero] = parse_items("ソファ0台", matcher=matcher)
    assert zero.status == "bad_quantity" and "1以上" in zero.error and zero.item_name == "ソファー"
    [many] = parse_items("いす6脚", matcher=matcher)
    assert many.status == "bad_quantity" and "5点まで" in many.error
    small = FeeTable.from_dict({"tiers": [200], "limits": {"max_same_item": 2}, "items": [{"name": "机", "fee": 200}]})
    [desk] = parse_items("机3台", matcher=matcher, fees=small)
    assert desk.status == "bad_quantity" and "2点まで" in desk.error


def test_split_quantity():
    assert split_quantity("電子レンジ2台") == ("電子レンジ", 2)
    assert split_quantity("ソファを3台") == ("ソファ", 3)
    assert split_quantity("カメラの三脚") == ("カメラの三脚", 1)
    assert split_quantity("テレビ台") == ("テレビ台", 1)
    assert split_quantity("ソファ十台") == ("ソファ", 10)


def test_many_items_over_the_limit(matcher):
    items = parse_items("いす5脚、机3台、本棚3つ", matcher=matcher)
    assert all(i.status == "ok" for i in items)
    assert "合計10点まで" in validate_limits(items, Limits())


def test_default_matcher_is_the_loaded_city_data(tmp_path, monkeypatch):
    """Without a matcher argument: the store's data (here the repository's sample data), as the actions."""
    from bot.knowledge import garbage_knowledge
    from bot.knowledge.citydata.importer import load_directory

    url = f"sqlite:///{tmp_path / 'citydata.db'}"
    load_directory(ROOT / "data" / "city_sample", url)
    monkeypatch.setenv("CITYDATA_DB_URL", url)
    garbage_knowledge._state.clear()
    try:
        items = parse_items("ソファーとたんす2つ、洗濯機")
    finally:
        garbage_knowledge._state.clear()
    assert [(i.item_name, i.quantity, i.status) for i in items] == [
        ("ソファー", 1, "ok"), ("たんす", 2, "ok"), ("洗濯機", 1, "not_collected")]
