"""The garbage item matcher on the city's official dictionary: "X は何ごみ？" → dictionary items."""

from pathlib import Path

import pytest
import yaml

from bot.knowledge.citydata.models import GarbageItem
from bot.knowledge.citydata.readers import read_garbage_dictionary, split_name
from bot.knowledge.item_matcher import (MAX_CANDIDATES, MAX_SUGGESTIONS, PATTERNS_FILE, SYNONYMS_FILE, UNKNOWN_BELOW,
                              ItemMatcher, load_synonyms, loose)

ROOT = Path(__file__).resolve().parents[2]
DICTIONARY = ROOT.parent / "shared" / "data" / "sapporo" / "gomi_dict.csv"


@pytest.fixture(scope="module")
def items():
    return read_garbage_dictionary(DICTIONARY)


@pytest.fixture(scope="module")
def matcher(items):
    return ItemMatcher(items, load_synonyms())


def item(name: str, category: str) -> GarbageItem:
    base, variant, alternatives = split_name(name)
    return GarbageItem(name, category, base, variant, alternatives)


@pytest.mark.parametrize("text, name, category", [
    ("ソファは何ごみ？", "ソファー", "大型ごみ"),
    ("チャリ捨てたい", "自転車", "大型ごみ"),
    ("ママさんダンプの捨て方", "スノーダンプ", "大型ごみ"),
    ("れいぞうこ", "冷蔵庫・冷凍庫・冷凍冷蔵庫", "市で収集しないもの（家電4品目）"),
    ("スノボの板", "スノーボード", "大型ごみ"),
    ("スノボの板ってどうやって捨てるの", "スノーボード", "大型ごみ"),
    ("アイスの棒", "アイスキャンデーの棒（木製・プラ製）", "燃やせるごみ"),
    ("古いレンジを処分したいんですが", "電子レンジ", "大型ごみ"),
    ("こたつ", "こたつ・こたつ板", "大型ごみ"),
    ("ガラケーって何ごみ？", "携帯電話", "燃やせないごみ"),
    ("段ボールを捨てたいです", "ダンボール", "集団資源回収など"),
])
def test_examples_are_found(matcher, text, name, category):
    result = matcher.match(text)
    assert result.status == "found", result
    assert (result.candidates[0].item.name, result.candidates[0].item.category) == (name, category)


@pytest.mark.parametrize("text", ["ソファ", "ソファー", "そふぁ", "そふぁー", "ｿﾌｧｰ", "大きいソファーは何ゴミですか？"])
def test_spellings_of_one_word_meet(matcher, text):
    result = matcher.match(text)
    assert result.status == "found" and result.candidates[0].item.name == "ソファー", result


@pytest.mark.parametrize("text, name", [
    ("れいぞうこ", "冷蔵庫・冷凍庫・冷凍冷蔵庫"),  # kana ↔ kanji through the fugashi reading
    ("でんしれんじ", "電子レンジ"),
    ("せんぷき", "扇風機"),  # typo: a character missing
    ("電子レンヂ", "電子レンジ"),
    ("ペットボトール", "ペットボトル"),
    ("使い捨てカイロの捨て方", "カイロ（使い捨て）"),  # 使い捨て is part of the name, not the question
    ("日傘", "傘"),  # a compound found by its last word
])
def test_how_people_type(matcher, text, name):
    result = matcher.match(text)
    assert result.status == "found" and result.candidates[0].item.name == name, result


def test_extra_words_rank_the_closer_item_first(matcher):
    result = matcher.match("子供の自転車は何ごみ？")
    assert result.status != "unknown"
    assert result.candidates[0].item.name == "子供用自転車"


def test_material_variants_are_asked_about(matcher):
    result = matcher.match("ハンガーは何ごみ？")
    assert result.status == "ambiguous"
    names = [c.item.name for c in result.candidates]
    assert set(names) == {"ハンガー（金属製）", "ハンガー（木製・プラ製）"}
    assert len({c.item.category for c in result.candidates}) == 2


@pytest.mark.parametrize("text, name", [
    ("金属のハンガー", "ハンガー（金属製）"),
    ("プラスチックのハンガー", "ハンガー（木製・プラ製）"),
    ("ハンガー（金属製）", "ハンガー（金属製）"),
    ("プラスチックのまな板", "まな板（木製・プラ製）"),
    ("ガラスのコップ", "コップ（ガラス製・金属製）"),
])
def test_a_named_material_picks_the_variant(matcher, text, name):
    result = matcher.match(text)
    assert result.status == "found" and result.candidates[0].item.name == name, result


def test_ambiguous_offers_at_most_five(matcher):
    result = matcher.match("ふた")
    assert result.status == "ambiguous"
    assert 2 <= len(result.candidates) <= MAX_CANDIDATES
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)


def test_made_up_item_is_unknown_with_suggestions(matcher):
    result = matcher.match("スリッパ型ロボットは何ごみ？")
    assert result.status == "unknown"
    assert 1 <= len(result.candidates) <= MAX_SUGGESTIONS
    assert "スリッパ" in [c.item.name for c in result.candidates]
    assert all(c.score < UNKNOWN_BELOW for c in result.candidates)


@pytest.mark.parametrize("text", ["仏壇の処分方法", "ドローンを捨てたい", "灯油の捨て方", "今日の天気は？", "区役所の電話番号を教えて"])
def test_things_not_in_the_dictionary_are_unknown(matcher, text):
    assert matcher.match(text).status == "unknown"


@pytest.mark.parametrize("text, phrase", [
    ("ソファは何ごみ？", "ソファ"),
    ("チャリ捨てたい", "チャリ"),
    ("ママさんダンプの捨て方", "ママさんダンプ"),
    ("スノボの板ってどうやって捨てるの", "スノボの板"),
    ("れいぞうこ", "れいぞうこ"),
    ("古いレンジを処分したいんですが", "レンジ"),
    ("冷蔵庫の出し方を教えて", "冷蔵庫"),
    ("テレビは燃えるごみ？", "テレビ"),
    ("マットレスって何ゴミ", "マットレス"),
    ("毛布を捨てたいです", "毛布"),
    ("すみません、壊れた掃除機はどうやって出せばいいですか？", "掃除機"),
    ("使わなくなった扇風機、なげたいんだけど", "扇風機"),
    ("お世話になります。古くなった洗濯機の処分について教えてください", "洗濯機"),
    ("ソファー2台", "ソファー"),
    ("使い捨てカイロの捨て方", "使い捨てカイロ"),
    ("ぴあの", "ぴあの"),
])
def test_extract_item_phrase(matcher, text, phrase):
    assert matcher.extract_item_phrase(text) == phrase


@pytest.mark.parametrize("text", ["ごみの出し方を教えて", "粗大ごみを出したい", "燃えるごみの日はいつ？", "こんにちは"])
def test_no_item_named(matcher, text):
    assert matcher.extract_item_phrase(text) == ""
    result = matcher.match(text)
    assert result.status == "unknown" and result.candidates == []


def test_loose_folds_spellings():
    assert loose("そふぁー") == loose("ソファ") == loose("ｿﾌｧｰ")
    assert loose("電子レンヂ") == loose("電子レンジ")


def test_synonyms_are_data_and_name_real_items(items):
    synonyms = yaml.safe_load(SYNONYMS_FILE.read_text(encoding="utf-8"))
    assert len(synonyms) >= 40
    names = {i.name for i in items}
    wrong = {word: [n for n in targets if n not in names] for word, targets in synonyms.items()}
    assert not {w: n for w, n in wrong.items() if n}, "synonyms.yml names items the dictionary does not have"


def test_question_patterns_are_data():
    patterns = yaml.safe_load(PATTERNS_FILE.read_text(encoding="utf-8"))
    assert {"question_markers", "leading", "trailing", "modifiers", "no_item", "materials"} <= set(patterns)


def test_works_on_any_dictionary_and_synonyms():
    """Nothing is tied to the official file: a tiny dictionary and its own synonyms."""
    tiny = [item("ソファー", "大型ごみ"), item("ハンガー（金属製）", "燃やせないごみ"),
            item("ハンガー（木製・プラ製）", "燃やせるごみ"), item("こたつ・こたつ板", "大型ごみ")]
    matcher = ItemMatcher(tiny, {"カウチ": ["ソファー"], "ないもの": ["存在しない品目"]})
    assert matcher.match("カウチの捨て方").candidates[0].item.name == "ソファー"
    assert matcher.match("こたついた").candidates[0].item.name == "こたつ・こたつ板"
    assert matcher.match("木のハンガー").candidates[0].item.name == "ハンガー（木製・プラ製）"
    assert matcher.match("ないもの").status == "unknown"  # a synonym of a missing item is ignored
    assert matcher.match("冷蔵庫").status == "unknown"
