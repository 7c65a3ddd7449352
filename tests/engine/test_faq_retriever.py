"""Pieces of the FAQ retrieval: kana folding, other municipalities, fragments, staff edits."""

import pytest

from bot.knowledge.faq_retriever import FaqRetriever, current_retriever, kana_text, load_topics, other_municipality
from bot.nlu.kana import fold_long_vowels, loose


def test_long_vowels_and_hiragana_fold_to_the_reading_of_the_kanji():
    assert fold_long_vowels(loose("じゅーみんひょー")) == fold_long_vowels(loose("ジュウミンヒョウ"))
    assert kana_text("じゅうみんひょう") == kana_text("住民票")
    assert fold_long_vowels("カウ") == "カウ"  # 買う keeps its ウ


@pytest.mark.parametrize("text, place", [
    ("横浜市で児童手当を申請したい", "横浜市"), ("東京都の住民票の取り方", "東京都"), ("千歳市のごみの日", "千歳市"),
    ("石狩市から引っ越してきました", None), ("札幌市の相談ダイヤル", None), ("手稲の斎場を予約したい", None),
    ("東京から札幌に越してきた", None),
    ("世田谷区の児童手当の振込日", "世田谷区"), ("江別の子育てサロンってどこ", "江別"), ("旭川でごみの日", "旭川"),
    ("横浜市に引っ越すので転出届を出したい", None), ("東京の大学に行くので引っ越します", None),
    ("白石区の区役所", None), ("すすきのの交番", None), ("北海道の最低賃金", None), ("大通公園のイベント", None),
])
def test_questions_about_another_municipality(text, place):
    assert other_municipality(text) == place


def test_hiragana_only_questions_are_understood():
    result = current_retriever().retrieve("じゅーみんひょー こんびにでとれる？")
    assert result.status == "answer" and result.topics[0].id == "T01"


def test_one_word_alone_gets_candidates_never_an_answer():
    for fragment in ("証明書", "オンラインでも？", "電話番号は？", "児童手当"):
        assert current_retriever().retrieve(fragment).status != "answer", fragment


def test_unrelated_questions_are_not_answered():
    for text in ("明日の天気は？", "おすすめのラーメン屋", "株価を教えて", "パンダ"):
        assert current_retriever().retrieve(text).status == "none", text


def test_staff_edits_apply_without_restart(tmp_path):
    path = tmp_path / "faq.yml"
    path.write_text((current_retriever.__globals__["FAQ_FILE"]).read_text(encoding="utf-8"), encoding="utf-8")
    before = current_retriever(path)
    assert before.retrieve("雪まつりの会場を知りたい").status != "answer"
    text = path.read_text(encoding="utf-8").replace(
        "  - id: T40\n", "  - id: T41\n    category: 観光\n    question: さっぽろ雪まつりの会場はどこですか？\n"
        "    answer: 会場は公式ページでご確認ください。\n    url: https://www.city.sapporo.jp/\n    section: 担当部署（要確認）\n"
        "    reviewed: false\n    examples: [雪まつりの会場, 雪まつり どこでやってる, ゆきまつりの場所, 雪祭り会場を教えて]\n\n"
        "  - id: T40\n", 1)
    path.write_text(text, encoding="utf-8")
    after = current_retriever(path)
    assert after is not before
    result = after.retrieve("雪まつりの会場を知りたい")
    assert result.status in ("answer", "candidates") and result.topics[0].id == "T41"


def test_training_texts_include_keywords():
    entries = load_topics()
    assert sum(len(e.get("keywords", [])) for e in entries) > 200
    assert len(FaqRetriever(entries).topics) == len(entries)


@pytest.mark.parametrize("text, service", [
    ("自動車税の納付書なくしちゃった", "自動車税"),  # the 道's tax, not the city's 市民税 topic
    ("失業保険の手続きってどこでするの", "雇用保険（失業手当）"),
    ("ゆうパックって何時までに出せば明日つく？", "郵便や宅配便"),
])
def test_another_office_s_matter_is_no_city_answer(text, service):
    result = current_retriever().retrieve(text)
    assert result.status == "elsewhere" and result.place == service and result.provider


@pytest.mark.parametrize("text", [
    "転職して社会保険に入ったので国保を抜けたい",  # the 国保 topic itself speaks of 社会保険
    "会社の健康保険をやめたので国保に入りたい",  # the city's 国保, though the company's insurance is named
    "失業保険をもらう間の国保の減免",
    "軽自動車税の納付",  # the city's tax
    "市民税の納付期限",
])
def test_the_city_s_own_matter_sharing_a_word_stays(text):
    assert current_retriever().retrieve(text).status != "elsewhere"


@pytest.mark.parametrize("text", ["大通公園のイルミネーションっていつから", "札幌ドームのイベント", "大通公園のビアガーデンいつから？"])
def test_a_thing_the_faq_never_names_gets_no_confident_answer(text):
    """What the question is about — its first noun, or the head of its first noun phrase — is a katakana word no topic
    uses: the Wi-Fi topic shares 大通公園, not イルミネーション."""
    from bot.knowledge.faq_retriever import current_retriever
    assert current_retriever().retrieve(text).status != "answer"
