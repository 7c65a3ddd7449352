"""Handing a conversation to a person: the engine asks, the gateway decides (gateway/handoff/router.py).

The request is a custom JSON message ``{"handoff": {"queue": …, "reason": …}}``; the gateway takes it
out of what the user sees, puts the chat in the queue and tells the user their place in it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

FALLBACK_ACTION = "action_fallback"


def request_handoff(dispatcher: CollectingDispatcher, queue: str, reason: str, text: Optional[str] = None) -> None:
    if text:
        dispatcher.utter_message(text=text)
    dispatcher.utter_message(json_message={"handoff": {"queue": queue, "reason": reason}})


def previous_turn_failed(tracker: Tracker) -> bool:
    """Whether the bot already fell back on the user's previous message (this is the second miss)."""
    user_turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            user_turns += 1
            if user_turns == 2:
                return False
        elif user_turns == 1 and event.get("event") == "action" and event.get("name") == FALLBACK_ACTION:
            return True
    return False


class ActionHandoff(Action):
    """「人と話したい」: ask the gateway for a person (general queue)."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        request_handoff(dispatcher, "general", "user_request")
        return []
