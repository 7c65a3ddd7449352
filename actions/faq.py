"""Municipal FAQ answers from data/faq/faq.yml, and the fallback that tries the FAQ and the garbage
dictionary before saying honestly that the assistant did not understand."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.garbage import button, channel_of, reply_to_item_question
from bot import unanswered
from bot.citydata.store import CityDataNotLoaded
from bot.faq_retriever import Retrieval, Topic, current_retriever

logger = logging.getLogger(__name__)

# Where a dialogue flow takes over after the answer (faq.yml `handover`).
HANDOVER_BUTTONS = {
    "bulky_booking": ("大型ごみを申し込む", "/menu_bulky_booking"),
    "collection_day": ("収集日を調べる", "/ask_collection_day"),
    "counseling": ("相談したい", "/menu_counseling"),
}


def topic_payload(topic: Topic) -> str:
    return '/menu_faq{"faq_id": "%s"}' % topic.id


def answer_topic(dispatcher: CollectingDispatcher, topic: Topic) -> None:
    text = topic.answer + (f"\n詳しくは：{topic.url}" if topic.url else "")
    buttons = [button(*HANDOVER_BUTTONS[topic.handover])] if topic.handover in HANDOVER_BUTTONS else None
    dispatcher.utter_message(text=text, buttons=buttons)


def reply_from_faq(dispatcher: CollectingDispatcher, tracker: Tracker, text: str, faq: Retrieval,
                   candidates: bool = True) -> bool:
    """A confident answer, or (``candidates``) "もしかして" quick replies; False when the FAQ has nothing."""
    if faq.status == "answer":
        answer_topic(dispatcher, faq.topics[0])
        return True
    if candidates and faq.status == "candidates":
        unanswered.record(text, channel_of(tracker), "faq_candidates", faq.topics[0].id, faq.coverage)
        dispatcher.utter_message(text="もしかして、次のどれかですか？",
                                 buttons=[button(t.question, topic_payload(t)) for t in faq.topics])
        return True
    return False


class ActionFaq(Action):
    """「よくある質問」 menu, or the answer to a topic chosen from "もしかして" quick replies."""

    def name(self) -> Text:
        return "action_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        chosen = next(tracker.get_latest_entity_values("faq_id"), None)
        topic = current_retriever().topics.get(chosen or "")
        if topic:
            answer_topic(dispatcher, topic)
            return []
        dispatcher.utter_message(response="utter_menu_faq")
        return []


class ActionFallback(Action):
    """nlu_fallback and out_of_scope: a confident FAQ answer, a garbage item (「れいぞうこ」), "もしかして"
    FAQ candidates, or the honest fallback — and what was not answered goes to the unanswered log."""

    def name(self) -> Text:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        text = tracker.latest_message.get("text") or ""
        faq = current_retriever().retrieve(text)
        if reply_from_faq(dispatcher, tracker, text, faq, candidates=False):
            return []
        try:
            if text and reply_to_item_question(dispatcher, tracker, text, from_fallback=True):
                return []
        except CityDataNotLoaded:
            pass  # no dictionary to try: the answers below still come
        if reply_from_faq(dispatcher, tracker, text, faq):
            return []
        channel = channel_of(tracker)
        ranking = tracker.latest_message.get("intent_ranking") or [{}]
        guess = ranking[1] if len(ranking) > 1 and ranking[0].get("name") == "nlu_fallback" else ranking[0]
        unanswered.record(text, channel, "fallback", guess.get("name"), guess.get("confidence"))
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        dispatcher.utter_message(response="utter_out_of_scope" if intent == "out_of_scope" else "utter_fallback")
        return []
