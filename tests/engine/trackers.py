"""Running one action server action the way the engine does: a rasa_sdk Tracker for the latest message, and a
CollectingDispatcher that keeps what the action said."""

from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


def tracker(text, slots=None, entities=None, intent="nlu_fallback", requested_slot=None, active_loop=None):
    slots = dict(slots or {})
    if requested_slot:
        slots["requested_slot"] = requested_slot
    return Tracker("test-user", slots,
                   {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
                    "metadata": {"channel": "web"}},
                   [], False, None, {"name": active_loop} if active_loop else {}, "action_listen")


def run(action, t, domain=None):
    """(messages, events) of one run of ``action`` on tracker ``t``."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, domain or {}))
    return dispatcher.messages, events
