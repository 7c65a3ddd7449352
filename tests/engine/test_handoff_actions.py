"""The engine's side of the handoff: 「人と話したい」 and the second miss in a row ask the gateway for a person."""

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback
from actions.handoff import ActionHandoff, previous_turn_failed


@pytest.fixture(autouse=True)
def databases(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DB_URL", f"sqlite:///{tmp_path / 'assistant.db'}")
    monkeypatch.setenv("CITYDATA_DB_URL", f"sqlite:///{tmp_path / 'empty-citydata.db'}")
    from bot.knowledge import garbage_knowledge
    garbage_knowledge._state.clear()
    yield
    garbage_knowledge._state.clear()


def user(text, intent="nlu_fallback"):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def action(name):
    return {"event": "action", "name": name}


def tracker(events, text="ぴよぴよ", intent="nlu_fallback"):
    return Tracker("u", {}, {"text": text, "intent": {"name": intent, "confidence": 0.3}, "entities": [],
                             "intent_ranking": [{"name": intent, "confidence": 0.3}], "metadata": {"channel": "web"}},
                   events, False, None, {}, "action_listen")


def run(action_, t):
    dispatcher = CollectingDispatcher()
    asyncio.run(action_.run(dispatcher, t, {}))
    return dispatcher.messages


def handoffs(messages):
    return [m["custom"]["handoff"] for m in messages if (m.get("custom") or {}).get("handoff")]


def test_asking_for_a_person_sends_the_request_to_the_gateway():
    assert handoffs(run(ActionHandoff(), tracker([], "人と話したい", "request_human"))) == [
        {"queue": "general", "reason": "user_request"}]


def test_the_first_miss_offers_a_person_the_second_hands_over():
    first = [user("ぴよ"), action("action_fallback"), action("action_listen"), user("ぴよぴよ")]
    assert previous_turn_failed(tracker(first))
    messages = run(ActionFallback(), tracker(first))
    assert handoffs(messages) == [{"queue": "general", "reason": "bot_failed"}]

    only_one = [user("こんにちは", "greet"), action("utter_greet"), action("action_listen"), user("ぴよぴよ")]
    assert not previous_turn_failed(tracker(only_one))
    messages = run(ActionFallback(), tracker(only_one))
    assert not handoffs(messages) and messages[0]["response"] == "utter_fallback"


def test_out_of_scope_twice_is_declined_not_handed_over():
    events = [user("株価は？", "out_of_scope"), action("action_fallback"), action("action_listen"), user("天気は？")]
    messages = run(ActionFallback(), tracker(events, "天気は？", "out_of_scope"))
    assert not handoffs(messages) and messages[0]["response"] == "utter_out_of_scope"
