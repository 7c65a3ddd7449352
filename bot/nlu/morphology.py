"""Japanese morphological analysis on fugashi + unidic-lite, on normalised text.

Shared by the Rasa tokenizer and the actions (item matching uses the readings).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Optional

from bot.nlu.normalize import normalize, normalize_text

# UniDic marks loanword lemmas with their origin: "ソファー-sofa". Keep the Japanese part.
_LOANWORD_SUFFIX = re.compile(r"-[A-Za-z][A-Za-z_ ]*$")


@dataclass(frozen=True)
class Morpheme:
    text: str  # normalised surface
    start: int  # offsets in the ORIGINAL text
    end: int
    lemma: str
    reading: Optional[str]  # katakana reading, when the dictionary knows it
    pos: str


@lru_cache(maxsize=1)
def tagger():
    import fugashi  # imported lazily: loading the dictionary takes a moment

    return fugashi.Tagger()


def _lemma(raw: Optional[str], surface: str) -> str:
    if not raw or raw == "*":
        return surface
    return normalize_text(_LOANWORD_SUFFIX.sub("", raw)) or surface


def analyze(text: str) -> List[Morpheme]:
    """Split ``text`` into morphemes; offsets refer to ``text`` itself, not to its normalised form."""
    if not text:
        return []
    norm = normalize(text)
    morphemes: List[Morpheme] = []
    cursor = 0
    for word in tagger()(norm.text):
        surface = word.surface
        if not surface:
            continue
        start = norm.text.find(surface, cursor)
        if start < 0:  # cannot happen with MeCab, but never produce wrong offsets
            continue
        end = start + len(surface)
        cursor = end
        feature = word.feature
        orig_start, orig_end = norm.original_span(start, end)
        morphemes.append(
            Morpheme(
                text=surface,
                start=orig_start,
                end=orig_end,
                lemma=_lemma(getattr(feature, "lemma", None), surface),
                reading=getattr(feature, "kana", None) or None,
                pos=getattr(feature, "pos1", "") or "",
            )
        )
    return morphemes
