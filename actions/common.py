"""Helpers shared by the action modules."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

from common.formats import CALL_CENTER  # noqa: F401  (used by the action modules)
MAX_BUTTON_TITLE = 20  # LINE quick-reply label limit


def button(title: str, payload: str) -> Dict[str, str]:
    return {"title": title if len(title) <= MAX_BUTTON_TITLE else title[: MAX_BUTTON_TITLE - 1] + "…", "payload": payload}


def is_counseling(tracker: Tracker, text: str = "") -> bool:
    """Never log a youth's words: the gateway keeps counseling text from the engine (gateway/counseling),
    and what still arrives here with a counseling intent or words of distress stays out of the
    unanswered-question log too."""
    from bot.nlu.evidence import DISTRESS
    from bot.nlu.normalize import normalize_text

    intent = (tracker.latest_message.get("intent") or {}).get("name")
    folded = normalize_text(text or tracker.latest_message.get("text") or "")
    # a message the triage took for a worry, sent on because the youth said it was a question for the city
    # (gateway/handoff/router.py ``_not_a_worry``): answered, never logged
    flagged = (tracker.latest_message.get("metadata") or {}).get("flagged_by_triage") is True
    return flagged or intent == "menu_counseling" or any(word in folded for word in DISTRESS)


def channel_of(tracker: Tracker) -> str:
    return (tracker.latest_message.get("metadata") or {}).get("channel") or tracker.get_latest_input_channel() or "unknown"


# ------------------------------------------------------------------ typed answers to buttons
# On LINE the quick replies vanish after the next message and people type; on the web they type too. These
# helpers read a typed answer as the button it names (bot/nlu/yes_no.py reads a typed yes or no).
_PUNCTUATION = re.compile(r"[\s、,，。．!！?？・「」『』()（）\[\]【】]+")
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_]+)(?P<entities>\{.*\})?$", re.S)


def fold(text: str) -> str:
    """The text as titles are compared: normalised (NFKC, lower case), without spaces or punctuation."""
    from bot.nlu.normalize import normalize_text

    return _PUNCTUATION.sub("", normalize_text(text or ""))


def offered_buttons(tracker: Tracker) -> List[Dict[str, Any]]:
    """The buttons the bot showed with its last message before the user's latest one (empty when that
    turn had none): what a typed answer answers."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return []
            seen_user = True
        elif kind == "bot" and seen_user:
            buttons = (event.get("data") or {}).get("buttons") or []
            if buttons:
                return [b for b in buttons if isinstance(b, dict)]
    return []


def typed_choice(text: str, buttons: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The button whose title was typed (「キャンセルする」, 「収集日を変える」, 「キャンセル」 for
    「キャンセルする」): the same title, or a part of exactly one title (two characters or more)."""
    typed = fold(text)
    if not typed or text.strip().startswith("/"):
        return None
    titles = [(fold(b.get("title", "")), b) for b in buttons]
    same = [b for title, b in titles if title == typed]
    if len(same) == 1:
        return same[0]
    within = [b for title, b in titles if len(typed) >= 2 and typed in title]
    return within[0] if len(within) == 1 else None


def parse_payload(payload: str) -> Optional[Dict[str, Any]]:
    """``/intent{"entity": "value"}`` as {"intent": …, "entities": {…}}; None for another kind of payload."""
    match = _PAYLOAD.match((payload or "").strip())
    if not match:
        return None
    try:
        entities = json.loads(match.group("entities")) if match.group("entities") else {}
    except ValueError:
        return None
    return {"intent": match.group("intent"), "entities": entities if isinstance(entities, dict) else {}}


def is_fresh_answer(tracker: Tracker) -> bool:
    """Whether this form run comes straight after the user's message (not a return to the form after another
    action answered that message): only then is the message an answer to the form's question."""
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            return True
        if kind == "action" and not (event.get("name") in ("action_listen", "action_extract_slots")
                                     or str(event.get("name", "")).endswith("_form")):
            return False
    return False
