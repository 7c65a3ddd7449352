"""The fallback: what the NLU did not understand (or called out of scope) may still be an FAQ or a
garbage item; only when neither fits does the assistant say honestly that it did not understand."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import channel_of, is_counseling
from actions.faq import reply_from_faq
from actions.garbage import reply_to_item_question
from actions.handoff import previous_turn_failed, request_handoff
from common import unanswered
from bot.knowledge.citydata.store import CityDataNotLoaded
from bot.knowledge.faq_retriever import current_retriever
from bot.nlu.evidence import booking_request, sorting_question
from bot.nlu.yes_no import is_plain_stop


class ActionFallback(Action):
    """nlu_fallback and out_of_scope: a confident FAQ answer, a garbage item (「れいぞうこ」), "もしかして"
    FAQ candidates, or the honest fallback — and what was not answered goes to the unanswered log. The
    second miss in a row asks the gateway for a person."""

    def name(self) -> Text:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        text = tracker.latest_message.get("text") or ""
        faq = current_retriever().retrieve(text)
        if reply_from_faq(dispatcher, tracker, text, faq, candidates=False):
            return []
        try:
            # Only what reads as a question about an item (bot/nlu/front_door.py): 「新しい冷蔵庫を買いたい」
            # names an item but is not about throwing it away.
            if text and sorting_question(text) and reply_to_item_question(dispatcher, tracker, text, from_fallback=True):
                return []
        except CityDataNotLoaded:
            pass  # no dictionary to try: the answers below still come
        if reply_from_faq(dispatcher, tracker, text, faq):
            return []
        channel = channel_of(tracker)
        ranking = tracker.latest_message.get("intent_ranking") or [{}]
        guess = ranking[1] if len(ranking) > 1 and ranking[0].get("name") == "nlu_fallback" else ranking[0]
        unanswered.record(text, channel, "fallback", guess.get("name"), guess.get("confidence"),
                          conversation_id=tracker.sender_id, counseling=is_counseling(tracker, text))
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent != "out_of_scope" and previous_turn_failed(tracker):  # second miss in a row: a person
            request_handoff(dispatcher, "general", "bot_failed", "うまくお答えできず、申し訳ありません。")
            return []
        dispatcher.utter_message(response="utter_out_of_scope" if intent == "out_of_scope" else "utter_fallback")
        return []


class ActionStop(Action):
    """「やめる」 outside a form: there is nothing to stop, so 「中止しました」 answers only a plain stop word (or the
    button). A message that merely contains one (「こくみんけんこうほけん やめる」: leaving the health insurance) is a
    question, answered as the fallback answers it; one about a 大型ごみ booking keeps the plain answer (its
    cancellation is the booking flow's, asked for in its own words)."""

    def name(self) -> Text:
        return "action_stop"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        text = tracker.latest_message.get("text") or ""
        if text.startswith("/") or is_plain_stop(text) or booking_request(text):
            dispatcher.utter_message(response="utter_stopped")
            return []
        return await ActionFallback().run(dispatcher, tracker, domain)
