"""Helpers shared by the action modules."""

from __future__ import annotations

from typing import Dict

from rasa_sdk import Tracker

CALL_CENTER = "札幌市コールセンター（011-222-4894）"
MAX_BUTTON_TITLE = 20  # LINE quick-reply label limit


def button(title: str, payload: str) -> Dict[str, str]:
    return {"title": title if len(title) <= MAX_BUTTON_TITLE else title[: MAX_BUTTON_TITLE - 1] + "…", "payload": payload}


def channel_of(tracker: Tracker) -> str:
    return (tracker.latest_message.get("metadata") or {}).get("channel") or tracker.get_latest_input_channel() or "unknown"
