"""Loose kana forms: how spellings are compared when citizens type in kana, with long vowels or typos.

"そふぁー", "ソファ" and "ｿﾌｧｰ" all become "ソフア"; a word written in kanji is compared through its
UniDic reading (冷蔵庫 → レイゾウコ = れいぞうこ). Shared by the garbage item matcher and the FAQ.
"""

from __future__ import annotations

import re

import jaconv

from bot.nlu.morphology import Morpheme
from bot.nlu.normalize import normalize_text

KANA = re.compile(r"[ぁ-ゖァ-ヺー]+")
_FOLD = str.maketrans("ァィゥェォヵヶャュョヮッヴヂヅ", "アイウエオカケヤユヨワツブジズ")
_DROP = re.compile(r"[\s・･ー－\-‐―~〜～、,。.()（）「」『』【】\[\]!?/／'\"]")


def loose(text: str) -> str:
    """The form in which spellings are compared: normalised, katakana, without long vowels, small kana
    and punctuation ("そふぁー" → "ソフア", "ソファ" → "ソフア")."""
    return _DROP.sub("", jaconv.hira2kata(normalize_text(text))).translate(_FOLD)


def loose_reading(morpheme: Morpheme) -> str:
    """The loose reading of a word: as typed when typed in kana, else its dictionary reading."""
    typed_in_kana = bool(KANA.fullmatch(morpheme.text))
    return loose(morpheme.text if typed_in_kana or not morpheme.reading else morpheme.reading)


_VOWEL_ROWS = {
    "a": "アカサタナハマヤラワガザダバパ", "i": "イキシチニヒミリギジビピ", "u": "ウクスツヌフムユルグズブプ",
    "e": "エケセテネヘメレゲゼデベペ", "o": "オコソトノホモヨロヲゴゾドボポ",
}
_VOWEL = {kana: vowel for vowel, row in _VOWEL_ROWS.items() for kana in row}


def fold_long_vowels(loose_text: str) -> str:
    """Long vowels written as a vowel kana fold away, like ー does in loose():
    ジユウミンヒヨウ (住民票's reading) and ジユミンヒヨ (「じゅーみんひょー」) become the same."""
    out = []
    for ch in loose_text:
        previous = _VOWEL.get(out[-1]) if out else None
        if (ch == "ウ" and previous in ("o", "u")) or (ch == "イ" and previous == "e") or (ch == "オ" and previous == "o"):
            continue
        out.append(ch)
    return "".join(out)
