"""Receipt numbers: short enough to write on a fee sticker, not guessable, no look-alike characters.

8 characters from 31 (no 0/O, 1/I/L): 31**8 ≈ 8.5 × 10**11 numbers, drawn with ``secrets``, so
knowing one booking's number says nothing about another's. Shown and stored as ``XXXX-XXXX``.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Optional

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―ー−_]")
_VALID = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")


def _display(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:]}"


def new_receipt_number() -> str:
    """A fresh random receipt number, e.g. "K7QH-3MXA"."""
    return _display("".join(secrets.choice(ALPHABET) for _ in range(LENGTH)))


def normalize_receipt(text: Optional[str]) -> Optional[str]:
    """"k7qh3mxa", "Ｋ７ＱＨ－３ＭＸＡ", "K7QH 3MXA" → "K7QH-3MXA"; None when it cannot be a receipt number."""
    raw = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text or "")).upper()
    return _display(raw) if _VALID.fullmatch(raw) else None
