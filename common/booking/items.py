"""What a citizen wants collected: 「ソファと電子レンジ2台、いす３脚」 → items with quantities, categories and fees.

Each phrase goes through the garbage dictionary matcher (bot.knowledge.item_matcher, engine environment), so a
booking understands the same words as the sorting questions. Where to cut: 「、」「,」 always; 「と」「や」
「・」 and spaces only where that gives better matches, since they also occur inside names (ふとん,
こたつ・こたつ板): every way of cutting is scored by how well its phrases match (an exact name is worth as
much as any cutting of it, a phrase the matcher does not know costs), and the best one wins.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional, Sequence, Tuple

from common.booking.fees import FeeTable, Limits
from common.booking.store import BookedItem

OK, NO_FEE, NOT_COLLECTED, NOT_LARGE, AMBIGUOUS, UNKNOWN, BAD_QUANTITY = (
    "ok", "no_fee", "not_collected", "not_large", "ambiguous", "unknown", "bad_quantity")
LARGE = "大型ごみ"  # the dictionary's category name
NOT_COLLECTED_PREFIX = "市で収集しないもの"  # also 市で収集しないもの（家電4品目） / （パソコン）


@dataclass(frozen=True)
class ItemRequest:
    """One item of the request. ``status``:

    ok             大型ごみ with a fee (``fee`` per piece)
    no_fee         大型ごみ, but the fee table has no fee for it: say so, never guess one
    not_collected  the city does not collect it (``category``: 市で収集しないもの, …（家電4品目）, …（パソコン）)
    not_large      another category (``category``): put it out as that
    ambiguous      which one? ``candidates`` (dictionary names; one name = a weak match to confirm)
    unknown        not in the dictionary; ``candidates`` are suggestions, maybe none
    bad_quantity   0 or more than the limit: ``error`` says so
    """

    phrase: str
    quantity: int
    status: str
    item_name: Optional[str] = None
    category: Optional[str] = None
    fee: Optional[int] = None
    candidates: Tuple[str, ...] = ()
    error: Optional[str] = None

    @property
    def subtotal(self) -> Optional[int]:
        return None if self.fee is None else self.fee * self.quantity

    def booked(self) -> BookedItem:
        """For BookingRequest.items (status ok only)."""
        if self.status != OK or self.item_name is None or self.fee is None:
            raise ValueError(f"{self.phrase}: not bookable ({self.status})")
        return BookedItem(self.item_name, self.quantity, self.fee)


# ---- quantities ----

COUNTERS = "台分|台|個|脚|枚|点|本|つ|組|セット|箱|着|基|張|棹|竿|丁|口|袋"
_KANJI = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
_NATIVE = {"ひとつ": 1, "ふたつ": 2, "みっつ": 3, "よっつ": 4, "いつつ": 5, "むっつ": 6, "ななつ": 7,
           "やっつ": 8, "ここのつ": 9, "とお": 10}
_NUMBER = rf"\d+|[{''.join(_KANJI)}]|{'|'.join(_NATIVE)}"
_QTY_END = re.compile(rf"(?:を|が|は|も)?\s*(?P<x>[x×*]\s*)?(?P<n>{_NUMBER})\s*(?P<c>{COUNTERS})?"
                      r"\s*(?:くらい|ぐらい|ほど|ずつ)?\s*$")
_QTY_START = re.compile(rf"^\s*(?P<n>\d+|[{''.join(_KANJI)}])\s*(?P<c>{COUNTERS})\s*の?\s*(?=\S)")


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _KANJI.get(text) or _NATIVE[text]


def split_quantity(phrase: str) -> Tuple[str, int]:
    """"電子レンジ2台" → ("電子レンジ", 2); "いす三脚" → ("いす", 3); "2台のソファ" → ("ソファ", 2);
    "三脚" (an item) → ("三脚", 1). A number written in kanji needs a counter or "×"."""
    match = _QTY_END.search(phrase)
    if match:
        rest = phrase[:match.start()].strip()
        kanji_alone = not match.group("n").isdigit() and match.group("n") not in _NATIVE \
            and not (match.group("c") or match.group("x"))
        if rest and not rest.endswith("の") and not kanji_alone:
            return rest, _number(match.group("n"))
    match = _QTY_START.match(phrase)
    if match:
        return phrase[match.end():].strip(), _number(match.group("n"))
    return phrase.strip(), 1


# ---- cutting the text ----

_HARD = re.compile(r"[、,;\n]|\s+and\s+|および|及び|それと|それから")
_SOFT = re.compile(r"[とや・]|\s+")
_AFTER_COUNT = re.compile(rf"(?:\d+|[{''.join(_KANJI)}])\s*(?:{COUNTERS})(?=[^\sとや・の、,)])")  # "ソファ1台|机2台"
_LEADING = re.compile(r"^\s*(?:大型|粗大|おおがた|そだい)\s*(?:ごみ|ゴミ)\s*(?:で|を|は|に|として|の)?[、,\s]*")
_REQUEST_END = re.compile(
    r"(?:(?:を|が|は)?\s*(?:(?:出し|だし|捨て|すて|処分し|回収して(?:もらい|ほし)|引き取ってほし|予約し|申し込み|申込み)"
    r"(?:たい|ます)(?:です|んです|のですが|んですが)?|お願い(?:します|いたします|したいです)?|おねがい(?:します)?"
    r"|ください|です)|[。.!?\s])+$")
_MAX_SOFT_CUTS = 12
UNKNOWN_COST = -0.3  # a phrase the matcher does not know: cutting there was probably wrong


def _top_level(text: str) -> List[bool]:
    """For each character: is it outside parentheses? ("スキー用具一式(板、ストック)" is one name)."""
    depth, flags = 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        flags.append(depth == 0)
        if ch == ")" and depth:
            depth -= 1
    return flags


def _cuts(pattern: re.Pattern, text: str) -> List[Tuple[int, int]]:
    top = _top_level(text)
    return [(m.start(), m.end()) for m in pattern.finditer(text) if m.start() >= len(text) or top[m.start()]]


def _soft_cuts(text: str) -> List[Tuple[int, int]]:
    top = _top_level(text)
    counted = [(m.end(), m.end()) for m in _AFTER_COUNT.finditer(text) if top[m.end()]]
    return sorted(_cuts(_SOFT, text) + counted)


def _pieces(text: str, cuts: Sequence[Tuple[int, int]]) -> List[str]:
    bounds = [0] + [x for cut in cuts for x in cut] + [len(text)]
    return [text[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2)]


# ---- matching ----

@dataclass(frozen=True)
class _Scored:
    request: Optional[ItemRequest]  # None: the phrase names no item ("お願いします")
    quality: float
    exact: bool


class _Parser:
    def __init__(self, matcher, fees: FeeTable) -> None:
        self.matcher = matcher
        self.fees = fees
        self._cache: Dict[str, _Scored] = {}

    def score(self, segment: str) -> _Scored:
        if segment not in self._cache:
            self._cache[segment] = self._score(segment)
        return self._cache[segment]

    def _score(self, segment: str) -> _Scored:
        text = _REQUEST_END.sub("", _LEADING.sub("", segment)).strip()
        phrase, quantity = split_quantity(text)
        if not phrase or not self.matcher.extract_item_phrase(phrase):
            return _Scored(None, 0.0, False)
        request, quality, exact = self.request(phrase, quantity)
        return _Scored(request, quality, exact)

    def request(self, phrase: str, quantity: int) -> Tuple[ItemRequest, float, bool]:
        """The ItemRequest for one phrase, with how well it matched and whether it matched exactly."""
        result = self.matcher.match(phrase)
        candidates = tuple(c.item.name for c in result.candidates)
        if result.status == "found":
            item = result.candidates[0].item
            score = result.candidates[0].score
            return self._classified(phrase, quantity, item.name, item.category), score, score >= 0.97
        listed = self.fees.item_for(phrase)  # a word the city put in the fee table (always 大型ごみ)
        if listed is not None:
            return self._classified(phrase, quantity, listed.name, LARGE), 1.0, True
        if result.status == "ambiguous":
            request = ItemRequest(phrase, quantity, AMBIGUOUS, candidates=candidates)
            return self._checked(request), 0.5 * result.candidates[0].score, False
        return self._checked(ItemRequest(phrase, quantity, UNKNOWN, candidates=candidates)), UNKNOWN_COST, False

    def _classified(self, phrase: str, quantity: int, name: str, category: str) -> ItemRequest:
        if category == LARGE:
            fee = self.fees.fee_for(name)
            status = NO_FEE if fee is None else OK
        else:
            fee = None
            status = NOT_COLLECTED if category.startswith(NOT_COLLECTED_PREFIX) else NOT_LARGE
        return self._checked(ItemRequest(phrase, quantity, status, name, category, fee))

    def _checked(self, request: ItemRequest) -> ItemRequest:
        """Only a quantity that can be booked; for items that cannot be booked anyway it does not matter."""
        if request.status not in (OK, NO_FEE, AMBIGUOUS):
            return request
        error = quantity_error(request.item_name or request.phrase, request.quantity, self.fees.limits)
        if error is None:
            return request
        return ItemRequest(request.phrase, request.quantity, BAD_QUANTITY, request.item_name, request.category,
                           request.fee, request.candidates, error)

    def parse(self, text: str) -> List[ItemRequest]:
        text = _LEADING.sub("", unicodedata.normalize("NFKC", text or "")).strip()
        found: List[ItemRequest] = []
        for part in _pieces(text, _cuts(_HARD, text)):
            for segment in self._best_cutting(part.strip()):
                scored = self.score(segment)
                if scored.request is not None:
                    found.append(scored.request)
        return found

    def _best_cutting(self, text: str) -> List[str]:
        if not text:
            return []
        cuts = _soft_cuts(text)
        if len(cuts) > _MAX_SOFT_CUTS:  # very long lists: cut everywhere rather than try them all
            return [p for p in _pieces(text, cuts) if p.strip()]
        bounds = [(0, 0)] + cuts + [(len(text), len(text))]  # segment i..j: text[bounds[i][1]:bounds[j][0]]
        best: List[Optional[Tuple[float, int, List[str]]]] = [None] * len(bounds)
        best[0] = (0.0, 0, [])
        for j in range(1, len(bounds)):
            for i in range(j):
                if best[i] is None:
                    continue
                segment = text[bounds[i][1]:bounds[j][0]].strip()
                value = self._segment_value(segment, j - i - 1)
                if value is None:
                    continue
                total, count, segments = best[i]
                candidate = (round(total + value, 6), count + 1, segments + [segment])
                if best[j] is None or (candidate[0], -candidate[1]) > (best[j][0], -best[j][1]):
                    best[j] = candidate
        return best[-1][2] if best[-1] else [text]

    def _segment_value(self, segment: str, inner_cuts: int) -> Optional[float]:
        if not segment:
            return None
        if len(segment) == 1 and re.fullmatch(r"[ぁ-ゖァ-ヺー]", segment):  # "ふ|と|ん"
            return None
        scored = self.score(segment)
        if scored.request is None:
            return 0.0
        # An exact name is worth as much as any cutting of it ("こたつ・こたつ板" stays one item).
        return scored.quality * (1 + inner_cuts) if scored.exact else scored.quality


@lru_cache(maxsize=1)
def _default_matcher_module():
    from bot.knowledge import garbage_knowledge  # engine environment (fugashi)

    return garbage_knowledge


def _parser(matcher=None, fees: Optional[FeeTable] = None) -> _Parser:
    return _Parser(matcher or _default_matcher_module().matcher(), fees or FeeTable.load())


def parse_items(text: str, matcher=None, fees: Optional[FeeTable] = None) -> List[ItemRequest]:
    """The items of ``text`` in order. ``matcher``: an ItemMatcher (default: the one for the loaded city
    data, bot.knowledge.garbage_knowledge); ``fees``: default data/bulky/fees.yml."""
    return _parser(matcher, fees).parse(text)


def resolve_item(name: str, quantity: int = 1, matcher=None, fees: Optional[FeeTable] = None) -> ItemRequest:
    """One item as chosen from ``candidates`` (a dictionary name), without cutting it anywhere."""
    request, _, _ = _parser(matcher, fees).request(unicodedata.normalize("NFKC", name).strip(), quantity)
    return request


# ---- limits ----

def quantity_error(name: str, quantity: int, limits: Limits) -> Optional[str]:
    if quantity < 1:
        return f"{name}の数が{quantity}になっています。1以上の数を入力してください。"
    if quantity > limits.max_same_item:
        return (f"{name}は1回のお申し込みで{limits.max_same_item}点までです（{quantity}点のご希望です）。"
                "数を減らすか、分けてお申し込みください。")
    return None


def validate_limits(items: Sequence, limits: Limits) -> Optional[str]:
    """None, or a Japanese message when the items are over the limits: pieces per booking, pieces of one
    item (counted over all phrases: 「いす2脚といす4脚」 is 6 いす). ``items``: ItemRequest or BookedItem;
    ItemRequests that cannot be booked anyway (not_large, not_collected, ambiguous, unknown) do not count."""
    per_item: Dict[str, int] = {}
    for item in items:
        if getattr(item, "status", OK) in (NOT_LARGE, NOT_COLLECTED, AMBIGUOUS, UNKNOWN):
            continue
        name = getattr(item, "item_name", None) or getattr(item, "name", None) or getattr(item, "phrase", "")
        error = quantity_error(name, item.quantity, limits) if item.quantity < 1 else None
        if error:
            return error
        per_item[name] = per_item.get(name, 0) + item.quantity
    for name, quantity in per_item.items():
        error = quantity_error(name, quantity, limits)
        if error:
            return error
    pieces = sum(per_item.values())
    if pieces > limits.max_items_per_booking:
        return (f"1回のお申し込みは合計{limits.max_items_per_booking}点までです（{pieces}点のご希望です）。"
                "分けてお申し込みください。")
    return None


# ---- items chosen by name (staff on a citizen's behalf) ----

class ItemsRefused(ValueError):
    """Why the chosen items cannot be booked (Japanese, one sentence or more)."""


def price_items(wanted: Sequence[Tuple[str, object]], fees: Optional[FeeTable] = None) -> List[BookedItem]:
    """Items chosen by name from the fee table (``[(name, quantity)]``, e.g. the staff page's list) as
    BookedItems with the table's names and fees: the fee is always the table's, never the caller's. The same
    item twice is one line. Refused (ItemsRefused): no items, a name the table does not have (no guessed fee,
    as in the chat), a quantity that is no whole number of at least 1, the limits (validate_limits)."""
    fees = fees or FeeTable.load()
    if not wanted:
        raise ItemsRefused("品目を1つ以上選んでください。")
    merged: Dict[str, BookedItem] = {}
    for name, quantity in wanted:
        item = fees.item_for(str(name or ""))
        if item is None:
            raise ItemsRefused(f"「{name}」は大型ごみの手数料表にありません。一覧から選んでください。")
        if isinstance(quantity, bool) or not isinstance(quantity, (int, str)) or not str(quantity).strip().isdigit():
            raise ItemsRefused(f"{item.name}の数は1以上の整数で入力してください。")
        count = int(str(quantity).strip())
        error = quantity_error(item.name, count, fees.limits) if count < 1 else None
        if error:
            raise ItemsRefused(error)
        before = merged.get(item.name)
        merged[item.name] = BookedItem(item.name, count + (before.quantity if before else 0), item.fee)
    problem = validate_limits(list(merged.values()), fees.limits)
    if problem:
        raise ItemsRefused(problem)
    return list(merged.values())
