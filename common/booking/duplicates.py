"""Obvious duplicate bookings: booked collections with the same address, phone number and collection day (a
double booking from two channels, or a citizen who booked again instead of changing). Only flagged, never
merged or cancelled: staff decide.

Addresses are compared after the project's normalisation (bot.nlu.normalize: NFKC, Latin lower case), jaconv
(half-width digits and Latin, full-width kana), without spaces, with every dash and 番地 / 番 / 号 / の between
numbers read as "-": 「北区北７条西　２－８」「北区北7条西2ー8」「北区北7条西2番8号」 are one address.
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Tuple

import jaconv

from bot.nlu.normalize import normalize_text  # pure standard library: both environments import it

_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"[‐‑‒–—―ー－−ｰ~〜～]")
_NUMBER_JOINS = re.compile(r"(?<=\d)(?:丁目|番地の?|番の?|号|の)(?=\d)")
_TRAILING = re.compile(r"(?<=\d)(?:番地|番|号)$")


def normalize_address(text: str) -> str:
    """The form in which two addresses are compared ("北区北７条西　２－８" → "北区北7条西2-8")."""
    text = jaconv.h2z(jaconv.z2h(normalize_text(text or ""), kana=False, ascii=True, digit=True),
                      kana=True, ascii=False, digit=False)
    text = _SPACES.sub("", text)
    text = _DASHES.sub("-", text)
    text = _NUMBER_JOINS.sub("-", text)
    text = _TRAILING.sub("", text)
    return re.sub(r"-+", "-", text).strip("-")


def address_key(ward: str, town: str, address: str) -> str:
    """The whole address: the stored address (the chat stores it whole, 「中央区南6条西8丁目3-5」), with the ward
    and the 町名 put in front where it does not start with them."""
    full, ward, town = normalize_address(address), normalize_address(ward), normalize_address(town)
    if ward and full.startswith(ward):
        return full
    if town and not full.startswith(town):
        full = town + full
    return ward + full


def duplicate_key(booking) -> Tuple[str, str, str]:
    """(address, phone digits, ISO day) of a Booking."""
    phone = re.sub(r"\D", "", normalize_text(booking.phone or ""))
    return address_key(booking.ward, booking.town, booking.address), phone, booking.day.isoformat()


def find_duplicates(bookings: Iterable, others: Iterable = ()) -> Dict[str, List[str]]:
    """For each booked booking of ``bookings``: the receipt numbers of the other booked ones (of both
    ``bookings`` and ``others``) with the same duplicate_key; bookings without any are left out. Cancelled
    bookings are never duplicates."""
    listed = [b for b in bookings if b.status == "booked"]
    groups: Dict[Tuple[str, str, str], List[str]] = {}
    seen = set()
    for b in [*listed, *others]:
        if b.status != "booked" or b.receipt_no in seen:
            continue
        seen.add(b.receipt_no)
        groups.setdefault(duplicate_key(b), []).append(b.receipt_no)
    found: Dict[str, List[str]] = {}
    for b in listed:
        peers = [r for r in groups.get(duplicate_key(b), []) if r != b.receipt_no]
        if peers:
            found[b.receipt_no] = peers
    return found
