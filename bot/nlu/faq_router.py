"""FaqRouter: a confident FAQ match wins over an intent that would not answer the question.

DIET knows a dozen intents and none per FAQ topic, so a municipal question often lands on the nearest
one: 「札幌で起業したいのですが相談窓口はありますか」 → menu_counseling, 「大型ごみ処理券はどこで買えますか」 →
menu_bulky_booking, 「耳が聞こえないのですが、救急車を呼ぶときは」 → ask_capabilities. Measured on the FAQ
held-out sets, about 4 in 10 questions went to such an intent (README "FAQ"). Placed last in the NLU
pipeline, this component asks the FAQ retrieval (bot/knowledge/faq_retriever.py) and, when it is confident, turns
the intent into ``menu_faq`` with the entity ``faq_id`` (action_faq answers that topic); when DIET was
unsure (< UNSURE) and the FAQ has candidates, into ``menu_faq`` alone (action_faq offers もしかして). A question about
another municipality becomes ``out_of_scope`` (action_fallback says where to ask).

Behind the gateway, counseling is settled before the engine sees a message: the gateway triages every
message (gateway/counseling/) and forwards only those it found no risk in, saying so in the message's
metadata (``"triage": "none"``). For those, DIET's ``menu_counseling`` on typed text is a mistake (it says so
for 「相続の相談窓口はありますか」「既読無視してごめん」), and its answer — the emergency numbers and
「相談員と話す」 — a false alarm: the message gets the FAQ answer, もしかして, or the honest fallback instead.
The 「相談したい」 button (a payload) still opens the counseling menu.

Without that metadata (``rasa shell``, ``rasa test``) it only overrides the intents in OVERRIDABLE (menus, small
talk, not understood), and never:
* ``menu_counseling`` when the message has a word of distress (いじめ, つらい, 死にたい, 叩かれた … see
  DISTRESS) or the FAQ topic is the counseling one — a child asking for help must reach the counseling
  flow. DIET also says menu_counseling for 「除雪について相談したい」 or 「起業の相談窓口」: those, with a
  confident FAQ match and no such word, get the FAQ answer;
* ``ask_garbage_category`` — the garbage dictionary answers items, and tries the FAQ itself;
* ``inform_address`` — an address is the answer to a form's question (「中央区南27条西10丁目」 would
  otherwise look like the FAQ about where the ward offices are);
* the intent of the flow that takes over from the matched topic (T11 → ask_collection_day asks for the
  address, T07 → menu_bulky_booking) — the flow does more than the FAQ answer;
* button payloads (「/menu_faq{...}」): they are not parsed by the NLU pipeline.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.knowledge.faq_retriever import current_retriever
from bot.nlu.normalize import normalize_text

logger = logging.getLogger(__name__)

# Only intents that would not answer a municipal question may be replaced: menus, small talk, and what
# the NLU did not understand. A booking, a stop, a request for a person, an address … are never touched.
OVERRIDABLE = {"nlu_fallback", "out_of_scope", "menu_faq", "ask_capabilities", "greet", "goodbye", "thank",
               "menu_garbage", "menu_bulky_booking", "menu_counseling", "ask_collection_day"}
# Words that keep a message in the counseling flow whatever the FAQ says (matched in the normalised text).
DISTRESS = ("いじめ", "虐め", "苛め", "つらい", "辛い", "しんどい", "死", "消えたい", "殺", "叩", "殴", "蹴", "暴力",
            "虐待", "怖い", "こわい", "助けて", "たすけて", "悩", "なやみ", "無視", "学校", "先生", "親", "家に帰りたくない",
            "眠れない", "リスカ", "自傷", "被害", "痛い", "嫌がらせ", "ひとりぼっち", "寂しい", "さみしい")
HANDOVER_INTENTS = {"bulky_booking": "menu_bulky_booking", "collection_day": "ask_collection_day",
                    "counseling": "menu_counseling"}
FAQ_INTENT = "menu_faq"
UNSURE = 0.7  # below this DIET confidence, FAQ candidates win over a menu intent
FAQ_ENTITY = "faq_id"


# DIET also takes municipal questions for a request for a person (「としょかん かしだし」 → request_human) or
# for managing a booking (「里塚斎場 予約 空き状況」 → manage_booking). A confident FAQ answer wins there too,
# unless the words really ask for that: a person, or a 大型ごみ booking.
GUARDED = {
    "request_human": re.compile(r"人と|人に|人間|担当|職員|オペレーター|スタッフ|係の|有人|人がいい|人につな"),
    "manage_booking": re.compile(r"大型|粗大|おおがた|そだい|受付番号|収集"),
    "edit_booking": None,
}


def routed_intent(intent: str, text: str, confidence: float = 1.0, triaged: bool = False) -> Dict[str, Any]:
    """What the router decides for a message DIET gave ``intent``: {} (keep it), or the new intent with
    its confidence and, for an FAQ answer, the topic id. ``triaged``: the gateway found no risk in it."""
    if not text.strip() or text.startswith("/"):
        return {}
    if triaged and intent == "menu_counseling":
        return _not_counseling(text, confidence)
    if intent in GUARDED:
        guard = GUARDED[intent]
        if guard is not None and guard.search(normalize_text(text)):
            return {}
        result = current_retriever().retrieve(text)
        if result.status == "answer":
            return {"intent": FAQ_INTENT, "confidence": round(result.score, 4), "faq_id": result.topics[0].id}
        return {}
    if intent not in OVERRIDABLE:
        return {}
    if intent == "menu_counseling" and any(word in normalize_text(text) for word in DISTRESS):
        return {}
    result = current_retriever().retrieve(text)
    if result.status == "elsewhere" and intent != "out_of_scope":
        return {"intent": "out_of_scope", "confidence": 1.0}
    if result.status == "candidates" and confidence < UNSURE and intent not in ("nlu_fallback", "out_of_scope",
                                                                                 "ask_collection_day"):
        # DIET barely chose a menu (「証明書がほしい」 → menu_counseling 0.55): the FAQ's もしかして fits better.
        return {"intent": FAQ_INTENT, "confidence": round(result.score, 4)}
    if result.status != "answer":
        return {}
    topic = result.topics[0]
    if HANDOVER_INTENTS.get(topic.handover or "") == intent:
        return {}
    return {"intent": FAQ_INTENT, "confidence": round(result.score, 4), "faq_id": topic.id}


def _not_counseling(text: str, confidence: float) -> Dict[str, Any]:
    """Typed text the gateway found no risk in and DIET took for the counseling menu."""
    result = current_retriever().retrieve(text)
    if result.status == "answer":
        return {"intent": FAQ_INTENT, "confidence": round(result.score, 4), "faq_id": result.topics[0].id}
    if result.status == "elsewhere":
        return {"intent": "out_of_scope", "confidence": 1.0}
    # action_fallback tries the FAQ's もしかして and the garbage dictionary before it says it did not understand.
    return {"intent": "nlu_fallback", "confidence": round(confidence, 4)}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class FaqRouter(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "FaqRouter":
        current_retriever()  # train the FAQ classifier (≈ 3 s) while the model loads, not on a question
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get("name") or ""
            metadata = message.get(METADATA) or {}
            decision = routed_intent(intent, message.get(TEXT) or "",
                                     float((message.get(INTENT) or {}).get("confidence") or 0.0),
                                     triaged=isinstance(metadata, dict) and metadata.get("triage") == "none")
            if not decision:
                continue
            new_intent = {"name": decision["intent"], "confidence": decision["confidence"]}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != new_intent["name"]]
            message.set(INTENT, new_intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [new_intent, *ranking], add_to_output=True)
            if "faq_id" in decision:
                entity = {"entity": FAQ_ENTITY, "value": decision["faq_id"], "start": 0,
                          "end": len(message.get(TEXT) or ""), "extractor": "FaqRouter"}
                message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
