"""Helpers shared by the action modules."""

from __future__ import annotations

from typing import Dict

from rasa_sdk import Tracker

from common.formats import CALL_CENTER  # noqa: F401  (used by the action modules)
MAX_BUTTON_TITLE = 20  # LINE quick-reply label limit


def button(title: str, payload: str) -> Dict[str, str]:
    return {"title": title if len(title) <= MAX_BUTTON_TITLE else title[: MAX_BUTTON_TITLE - 1] + "…", "payload": payload}


def is_counseling(tracker: Tracker, text: str = "") -> bool:
    """Never log a youth's words: the gateway keeps counseling text from the engine (gateway/counseling),
    and what still arrives here with a counseling intent or words of distress stays out of the
    unanswered-question log too."""
    from bot.nlu.faq_router import DISTRESS
    from bot.nlu.normalize import normalize_text

    intent = (tracker.latest_message.get("intent") or {}).get("name")
    folded = normalize_text(text or tracker.latest_message.get("text") or "")
    return intent == "menu_counseling" or any(word in folded for word in DISTRESS)


def channel_of(tracker: Tracker) -> str:
    return (tracker.latest_message.get("metadata") or {}).get("channel") or tracker.get_latest_input_channel() or "unknown"
