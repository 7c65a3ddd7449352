"""The words a regular expression cannot match without: a quick, exact "not here" for the triage's patterns.

The triage (triage.py) runs some 600 patterns over up to eleven spellings of every message; nearly all of them
are absent from an ordinary message, and proving that with the regex engine cost ~5 ms of CPU per message.
``required(pattern)`` reads the pattern's syntax tree and returns a set of literal strings of which every match
contains at least one (or None when it cannot tell), so ``absent(pattern, text)`` is a few substring tests, and
``gate(alternatives)`` is one search per view that tells a rule none of its alternatives can match: most rules
are then skipped whole.

It is sound by construction — only what a match must contain is used: literal runs, groups, alternations whose
every branch has a requirement, repeats with a minimum of one or more; never lookarounds, optional parts,
classes, or anything under IGNORECASE — and tests/gateway/test_triage_shortcuts.py checks that the triage's answer
is the same with and without it on every message of the triage's example sets.
"""

from __future__ import annotations

import re
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

try:  # Python 3.11+
    from re import _constants as _c, _parser as _p  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover — Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

Need = Optional[FrozenSet[str]]  # any one of these strings is in every match; None: nothing known
_REPEATS = {_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT)}
_cache: Dict[Tuple[str, int], Need] = {}


def _better(a: Need, b: Need) -> Need:
    """The more selective of two requirements: the longer shortest word, not counting spaces (the lemma view
    separates every word with one: " の " is in nearly every message), then fewer words."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=lambda need: (min(len(w.replace(" ", "")) for w in need), -len(need)))


def _sequence(items: List) -> Need:
    """A sequence: every item's requirement holds, so the best single one does; runs of literals join up."""
    best: Need = None
    run: List[str] = []
    for op, arg in list(items) + [(None, None)]:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            best = _better(best, frozenset({"".join(run)}))
            run = []
        if op is None:
            break
        best = _better(best, _item(op, arg))
    return best


def _item(op, arg) -> Need:
    if op is _c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = arg
        return None if add_flags & re.IGNORECASE else _sequence(sub)
    if getattr(_c, "ATOMIC_GROUP", None) is not None and op is _c.ATOMIC_GROUP:
        return _sequence(arg)
    if op is _c.BRANCH:
        branches = [_sequence(b) for b in arg[1]]
        if any(b is None for b in branches):
            return None  # a branch that needs nothing: the alternation needs nothing
        return frozenset().union(*branches)
    if op in _REPEATS:
        low, _high, sub = arg
        return _sequence(sub) if low >= 1 else None
    return None  # classes, any, anchors, lookarounds, back references: nothing required from them


def required(pattern: "re.Pattern[str]") -> Need:
    """A set of strings of which every match of ``pattern`` contains one; None when nothing is known."""
    key = (pattern.pattern, pattern.flags)
    if key not in _cache:
        need: Need = None
        if isinstance(pattern.pattern, str) and not pattern.flags & re.IGNORECASE:
            try:
                need = _sequence(_p.parse(pattern.pattern, pattern.flags))
            except Exception:  # noqa: BLE001 — a syntax this reader does not know: no shortcut, never wrong
                need = None
            if need is not None and "" in need:
                need = None
        _cache[key] = need
    return _cache[key]


def absent(pattern: "re.Pattern[str]", text: str) -> bool:
    """True only when ``pattern`` certainly cannot match anywhere in ``text``."""
    need = required(pattern)
    return need is not None and not any(word in text for word in need)


Gate = Optional[Dict[str, "re.Pattern[str]"]]  # per view, a search for any word the rule cannot match without


def gate(alternatives: Sequence[Sequence[Tuple[str, "re.Pattern[str]"]]]) -> Gate:
    """For a rule that matches when all (view, pattern) pairs of one alternative match: per view, one regex of
    words of which a match of the rule contains one (each alternative's most selective pattern gives its words).
    None when an alternative needs nothing known (the rule is never skipped)."""
    words: Dict[str, set] = {}
    for alternative in alternatives:
        best: Tuple[Optional[str], Need] = (None, None)
        for view, pattern in alternative:
            need = required(pattern)
            if need is not None and _better(best[1], need) is need:
                best = (view, need)
        if best[1] is None:
            return None
        words.setdefault(best[0], set()).update(best[1])
    return {view: re.compile("|".join(re.escape(w) for w in sorted(ws, key=len, reverse=True)))
            for view, ws in words.items()}


def may_match(rule_gate: Gate, joined: Dict[str, str]) -> bool:
    """False only when no alternative of the gated rule can match (``joined``: the text of each view)."""
    return rule_gate is None or any(search.search(joined[view]) for view, search in rule_gate.items())
