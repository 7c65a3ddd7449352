"""Japanese text normalisation that remembers where every character came from.

Citizens type the same word in many widths and cases (``ＣＤ``, ``CD``, ``ｃｄ``, ``ｶﾞｽ``).
NFKC folds widths and compatibility forms, lower-casing folds Latin case. NFKC can change the
length of the text (``ｶﾞ`` → ``ガ``, ``㍻`` → ``平成``), so the normaliser also returns, for each
normalised character, the span of the original text it came from. The tokenizer works on the
normalised text and reports offsets in the original, which keeps Rasa's entity offsets valid.

Pure standard library: the gateway and the engine both import it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import List, Tuple

# Half-width voiced / semi-voiced sound marks combine with the preceding half-width kana.
_HALF_WIDTH_MARKS = {"\uff9e", "\uff9f"}


def _joins_previous(ch: str) -> bool:
    """True for characters that NFKC may merge into the character before them."""
    return ch in _HALF_WIDTH_MARKS or unicodedata.combining(ch) != 0 or ch in {"\u3099", "\u309a"}


def _clusters(text: str) -> List[Tuple[int, int]]:
    """Split ``text`` into spans that normalise independently (base char + combining marks)."""
    spans: List[Tuple[int, int]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or not _joins_previous(text[i]):
            spans.append((start, i))
            start = i
    return spans if text else []


# 「へビーカー」「ぺットボトル」: へ べ ぺ look the same in hiragana and katakana, and a phone's keyboard offers
# either; one typed in hiragana right before a katakana word, and not after a word in kanji or katakana (where it is
# the particle へ: 「部屋へ」「ロッカーへ」), is that word's first letter.
_LOOKALIKE_KANA = re.compile(r"(?<![\u3400-\u9fff々ァ-ヺーa-z0-9])[へべぺ](?=[ァ-ヺ][ァ-ヺー])")


def _fold_lookalike_kana(text: str) -> str:
    """Same length as ``text``: the alignment of :func:`normalize` holds."""
    return _LOOKALIKE_KANA.sub(lambda m: chr(ord(m.group()) + 0x60), text)  # a hiragana letter + 0x60: its katakana


def normalize_char_cluster(cluster: str) -> str:
    """Normalise one cluster: NFKC, then Latin lower case."""
    return unicodedata.normalize("NFKC", cluster).lower()


@dataclass(frozen=True)
class NormalizedText:
    """Normalised text plus, for each of its characters, the original span ``[start, end)``."""

    original: str
    text: str
    starts: Tuple[int, ...]
    ends: Tuple[int, ...]

    def original_span(self, start: int, end: int) -> Tuple[int, int]:
        """Map a span of the normalised text back to the original text."""
        if start >= end:
            pos = self.starts[start] if start < len(self.starts) else len(self.original)
            return pos, pos
        return self.starts[start], self.ends[end - 1]


def normalize(text: str) -> NormalizedText:
    """Normalise ``text`` (NFKC + lower case) and keep the character alignment."""
    out: List[str] = []
    starts: List[int] = []
    ends: List[int] = []
    for start, end in _clusters(text):
        piece = normalize_char_cluster(text[start:end])
        out.append(piece)
        starts.extend([start] * len(piece))
        ends.extend([end] * len(piece))
    return NormalizedText(text, _fold_lookalike_kana("".join(out)), tuple(starts), tuple(ends))


def normalize_text(text: str) -> str:
    """The normalised string only (for lookups where offsets do not matter)."""
    return _fold_lookalike_kana("".join(normalize_char_cluster(text[s:e]) for s, e in _clusters(text)))
