"""Receipt numbers: format, alphabet without look-alikes, uniqueness, typed forms."""

import re

from common.booking.receipts import ALPHABET, new_receipt_number, normalize_receipt


def test_format_and_alphabet():
    assert not set("01ILO") & set(ALPHABET) and len(ALPHABET) == 31
    for _ in range(1000):
        number = new_receipt_number()
        assert re.fullmatch(f"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", number)


def test_ten_thousand_are_unique_and_not_sequential():
    numbers = [new_receipt_number() for _ in range(10_000)]
    assert len(set(numbers)) == 10_000
    assert numbers != sorted(numbers)
    # every character of the alphabet is used in every position: drawn, not counted up
    for position in (0, 3, 5, 8):
        assert {n[position] for n in numbers} == set(ALPHABET)


def test_typed_forms_are_normalized():
    assert normalize_receipt("K7QH-3MXA") == "K7QH-3MXA"
    assert normalize_receipt("k7qh3mxa") == "K7QH-3MXA"
    assert normalize_receipt("ｋ７ｑｈ－３ｍｘａ") == "K7QH-3MXA"  # full-width, with a full-width hyphen
    assert normalize_receipt(" K7QH 3MXA ") == "K7QH-3MXA"
    assert normalize_receipt("K7QHー3MXA") == "K7QH-3MXA"  # 長音符 typed as the hyphen


def test_not_a_receipt_number():
    for text in ("", None, "K7QH-3MX", "K7QH-3MXAB", "K0QH-3MXA", "K1QH-3MXA", "ソファ", "1234-5678"):
        assert normalize_receipt(text) is None, text
