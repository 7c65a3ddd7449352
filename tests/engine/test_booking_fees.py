"""The 大型ごみ fee table (data/bulky/fees.yml) and the booking limits."""

import csv

import pytest

from common.booking.config import FEES_FILE, SCHEDULE_FILE
from common.booking.fees import FeeTable, Limits, loose_fallback
from common.booking.items import ItemRequest, validate_limits
from common.booking.store import BookedItem
from bot.nlu.kana import loose
from tests.official_data import OFFICIAL_DATA


@pytest.fixture(scope="module")
def table():
    return FeeTable.load()


def official_dictionary():
    with open(OFFICIAL_DATA / "gomi_dict.csv", encoding="utf-8-sig") as handle:
        return {row["gomi_name"]: row["gomi_type"] for row in csv.DictReader(handle)}


def test_shipped_table_is_marked_sample_with_a_review_note(table):
    for path in (FEES_FILE, SCHEDULE_FILE):
        head = path.read_text(encoding="utf-8").split("\n\n")[0]
        assert head.startswith("#") and "SAMPLE" in head and "REVIEW" in head and "大型ごみ担当" in head
    assert table.sample is True
    assert table.tiers == (200, 500, 1000, 2000)
    assert table.limits == Limits(max_items_per_booking=10, max_same_item=5)
    assert len(table.items) >= 50


def test_every_item_is_large_garbage_in_the_official_dictionary(table):
    dictionary = official_dictionary()
    for item in table.items:
        assert dictionary.get(item.name) == "大型ごみ", item.name
        assert item.fee in table.tiers
    assert "掃除機" not in {i.name for i in table.items}  # 燃やせないごみ in Sapporo's dictionary
    assert "炊飯器" not in {i.name for i in table.items}


def test_fee_by_name_alias_and_loose_spelling(table):
    assert table.fee_for("ソファー") == 1000
    assert table.fee_for("ソファ") == 1000  # long vowel
    assert table.fee_for("そふぁー") == 1000  # hiragana
    assert table.fee_for("いす（座いす・ベビーチェアーを含む）") == 200
    assert table.fee_for("椅子") == 200  # alias
    assert table.fee_for("ガスコンロ") == table.fee_for("ガスこんろ") == 200
    assert table.item_for("スキー板").name == "スキー用具一式（板、ストック）"


def test_no_fee_is_never_invented(table):
    assert table.fee_for("石臼") is None  # 大型ごみ in the dictionary, not in the table
    assert table.fee_for("掃除機") is None
    assert table.fee_for("") is None


def test_fallback_folding_matches_bot_kana(table):
    words = [w for item in table.items for w in (item.name, *item.aliases)] + ["そふぁー", "ｿﾌｧｰ", "ゔぁいおりん"]
    for word in words:
        assert loose_fallback(word) == loose(word), word


def test_malformed_tables_are_refused():
    with pytest.raises(ValueError, match="tiers"):
        FeeTable.from_dict({"tiers": [200, 500], "items": [{"name": "ソファー", "fee": 300}]})
    with pytest.raises(ValueError, match="both"):
        FeeTable.from_dict({"tiers": [200], "items": [{"name": "机", "fee": 200, "aliases": ["デスク"]},
                                                      {"name": "文机", "fee": 200, "aliases": ["デスク"]}]})


def test_edited_table_is_reloaded(tmp_path):
    path = tmp_path / "fees.yml"
    path.write_text("sample: false\ntiers: [200]\nitems:\n  - {name: 机, fee: 200}\n", encoding="utf-8")
    assert FeeTable.load(path).fee_for("机") == 200 and FeeTable.load(path).sample is False
    path.write_text("tiers: [500]\nitems:\n  - {name: 机, fee: 500}\n", encoding="utf-8")
    import os
    os.utime(path, (1, 1))  # a different mtime even within the file system's time resolution
    assert FeeTable.load(path).fee_for("机") == 500


def item(name, quantity):
    return ItemRequest(name, quantity, "ok", name, "大型ごみ", 200)


def test_limits():
    limits = Limits(max_items_per_booking=10, max_same_item=5)
    assert validate_limits([item("いす", 5), item("机", 5)], limits) is None
    message = validate_limits([item("いす", 5), item("机", 5), item("本棚", 1)], limits)
    assert "合計10点まで" in message and "11点" in message
    message = validate_limits([item("いす", 2), item("いす", 4)], limits)  # the same item in two phrases
    assert "いすは1回のお申し込みで5点まで" in message and "6点" in message
    assert "1以上" in validate_limits([item("いす", 0)], limits)
    assert validate_limits([BookedItem("いす", 3, 200)], limits) is None
    pans = ItemRequest("フライパン", 8, "not_large", "フライパン", "燃やせないごみ")  # not booked: not counted
    assert validate_limits([item("いす", 5), pans], limits) is None
    assert "5点まで" in validate_limits([BookedItem("いす", 6, 200)], limits)
