"""The normaliser folds widths and case, and maps every character back to the original text."""

import pytest

from bot.nlu.normalize import normalize, normalize_text


@pytest.mark.parametrize("variant", ["ＣＤ", "CD", "ｃｄ", "Cd", "ｃＤ"])
def test_width_and_case_variants_are_one_word(variant):
    assert normalize_text(variant) == "cd"


def test_half_width_katakana_with_voiced_mark_merges():
    norm = normalize("ｶﾞｽ缶")
    assert norm.text == "ガス缶"
    # ガ came from two original characters (ｶ + ﾞ)
    assert norm.original_span(0, 1) == (0, 2)
    assert norm.original_span(1, 3) == (2, 4)


def test_expanding_characters_map_back_to_their_source():
    norm = normalize("㍻元年")
    assert norm.text == "平成元年"
    assert norm.original_span(0, 2) == (0, 1)
    assert norm.original_span(2, 4) == (1, 3)


@pytest.mark.parametrize("text", ["", " ", "ごみ", "😀👍🏻", "ﾃｽﾄ　ＡＢＣ１２３", "e\u0301t\u00e9", "㈱札幌"])
def test_every_normalised_span_is_inside_the_original(text):
    norm = normalize(text)
    assert len(norm.starts) == len(norm.text) == len(norm.ends)
    for i in range(len(norm.text)):
        start, end = norm.original_span(i, i + 1)
        assert 0 <= start < end <= len(text)
    assert normalize_text(text) == norm.text


def test_full_width_space_and_digits():
    assert normalize_text("０６４－０９５９") == "064-0959"
    assert normalize_text("白石区　本通") == "白石区 本通"


@pytest.mark.parametrize("typed, read", [
    ("へビーカー", "ヘビーカー"), ("ぺットボトル", "ペットボトル"), ("娘がもうべランダの", "娘がもうベランダの"),
    ("部屋へベッド", "部屋へベッド"), ("ロッカーへカバン", "ロッカーへカバン"),  # the particle へ stays
    ("へや", "へや"), ("たべる", "たべる"),
])
def test_a_lookalike_kana_before_a_katakana_word_is_its_first_letter(typed, read):
    assert normalize_text(typed) == read == normalize(typed).text
