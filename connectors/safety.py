"""Words of danger: a message with one of them goes to a counselor at once, at top priority.

Checked by the gateway before anything else (connectors/router.py), so it works when the engine is down
and the text never goes to the NLU. The citizen sees the emergency numbers at once. The list is
deliberately phrases, not single characters (「死亡届」 must not match); city staff and counselors
should review it before going live (REVIEW).
"""

from __future__ import annotations

import unicodedata

EMERGENCY_PHRASES = (
    "死にたい", "しにたい", "死のう", "しのう", "消えたい", "きえたい", "自殺", "じさつ", "殺される", "ころされる",
    "殺したい", "ころしたい", "助けて", "たすけて", "リストカット", "リスカ", "飛び降り", "とびおり",
    "首をつ", "暴力をふるわれ", "暴力を振るわれ", "殴られ", "なぐられ", "虐待", "ぎゃくたい", "襲われ",
    "家に帰れない", "家に帰りたくない", "いえにかえりたくない", "性被害", "さわられ", "触られ",
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace(" ", "").replace("　", "").lower()


def is_emergency(text: str) -> bool:
    folded = _fold(text)
    return any(phrase in folded for phrase in EMERGENCY_PHRASES)
