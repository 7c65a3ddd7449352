"""Municipal FAQ answers from data/faq/faq.yml (retrieval: bot/knowledge/faq_retriever.py)."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import button, channel_of, is_counseling
from common import unanswered
from bot.knowledge.faq_retriever import Retrieval, Topic, current_retriever

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
    """A confident answer, or (``candidates``) "もしかして" quick replies; False when the FAQ has nothing.
    A question about another municipality (「横浜市の児童手当」) is told where to ask instead."""
    if faq.status == "elsewhere":
        unanswered.record(text, channel_of(tracker), "other_service" if faq.provider else "other_municipality",
                          faq.place, None, conversation_id=tracker.sender_id, counseling=is_counseling(tracker, text))
        if faq.provider:  # 「自動車税の納付書なくした」: another office's matter (data/faq/other_services.yml)
            dispatcher.utter_message(response="utter_other_service", service=faq.place, provider=faq.provider)
        else:
            dispatcher.utter_message(response="utter_other_municipality", place=faq.place)
        return True
    if faq.status == "answer":
        answer_topic(dispatcher, faq.topics[0])
        return True
    if candidates and faq.status == "candidates":
        unanswered.record(text, channel_of(tracker), "faq_candidates", faq.topics[0].id, faq.score,
                          conversation_id=tracker.sender_id, counseling=is_counseling(tracker, text))
        dispatcher.utter_message(text="もしかして、次のどれかですか？",
                                 buttons=[button(t.question, topic_payload(t)) for t in faq.topics])
        return True
    return False


class ActionFaq(Action):
    """「よくある質問」 menu, the answer to a topic chosen from "もしかして" quick replies, or the answer to
    a question the NLU took for the menu."""

    def name(self) -> Text:
        return "action_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        retriever = current_retriever()
        chosen = next(tracker.get_latest_entity_values("faq_id"), None)
        topic = retriever.topics.get(chosen or "")
        if topic:
            if (tracker.latest_message.get("text") or "").startswith("/"):
                unanswered.resolve(tracker.sender_id, topic.id)  # a "もしかして" button chosen
            answer_topic(dispatcher, topic)
            return []
        # 「住民票の取り方を聞きたい」 reads like the menu ("I have a question") but is already the question.
        text = tracker.latest_message.get("text") or ""
        if not text.startswith("/") and reply_from_faq(dispatcher, tracker, text, retriever.retrieve(text)):
            return []
        dispatcher.utter_message(response="utter_menu_faq")
        return []


# Train the retriever when the action server loads this module (≈ 3 s), not on a citizen's first question.
current_retriever()
