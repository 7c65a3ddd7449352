"""FrontDoorRouter: each typed message goes where the evidence in it is strongest, not only where DIET guessed.

DIET knows a dozen intents from a few hundred examples; the parts behind them know much more — the city's
garbage dictionary (986 items), the FAQ retrieval, the booking words. Measured through the running stack
(README "The front door"), 4 in 10 sorting questions and many FAQ questions reached the wrong flow:
「ペットボトルは何ごみですか」 → the collection-day form, 「CDを捨てたい」 → managing a booking, 「空き缶の捨て方」 →
the FAQ answer about personal computers. Placed last in the NLU pipeline, this component reads the evidence
and, where it is clear, replaces DIET's intent:

1. **Kept as DIET said**: button payloads, answers to a form's question (affirm, deny, a date, stop,
   editing a booking unless it names an item: 「電話帳」), an address (except a question such as 「豊平区役所ってどこ」), and a 大型ごみ booking
   or a booking to manage when the message says so (booking words: BOOKING, a receipt number).
2. **The assistant itself** (「あなたは人間ですか」「誰が作ったの」) → ``ask_about_assistant``: an honest answer.
3. **A collection-day question** (収集日, 何曜日, ごみの日 …, COLLECTION_DAY) → ``ask_collection_day``.
4. **A sorting question** (``sorting_question``): a dictionary item with a disposal word (捨て方, 何ごみ,
   分別, 出し方, 処分, 捨てたい …), or a message that is only an item's name (「あきかん」) →
   ``ask_garbage_category``. An unknown item with a garbage word (「乾電池の捨て方」) goes there too: the
   dictionary says honestly that it does not know it.
5. **Managing a booking or a person** without the words for it (「車検の予約をしたい」, 「児童手当 いくらもらえる」
   → request_human): the FAQ answer, もしかして, or the honest fallback.
6. **The FAQ** (``faq_decision``): a confident FAQ match wins over a menu or small-talk intent; a question
   about another municipality becomes ``out_of_scope``.

Counseling is settled before the engine sees a message: the gateway triages every message
(gateway/counseling/) and forwards only those it found no risk in, saying so in the metadata
(``"triage": "none"``). For those, DIET's ``menu_counseling`` on typed text is a mistake (「相続の相談窓口は？」),
and its answer — the emergency numbers and 「相談員と話す」 — a false alarm. Without that metadata
(``rasa shell``, ``rasa test``) a message with a word of distress (DISTRESS) stays in the counseling flow
and is never routed to garbage or the FAQ.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, METADATA, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.knowledge.faq_retriever import current_retriever, other_municipality
from bot.nlu.address_text import names_a_street
from bot.nlu.evidence import (BOOKING_ACT, BULKY_WISH, EDITING, IF_NEEDED, MANAGING, PERSON, about_assistant,
                              booking_request, category_guess, category_how_question, collection_day_question,
                              day_of_a_thing, dictionary_loaded, distress, looks_like_address, may_put_out, question,
                              sorting_question)
from bot.nlu.normalize import normalize_text
from bot.nlu.yes_no import is_yes_or_no

logger = logging.getLogger(__name__)

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"
FAQ_INTENT = "menu_faq"
FAQ_ENTITY = "faq_id"
SORTING_INTENT = "ask_garbage_category"
COLLECTION_INTENT = "ask_collection_day"
ABOUT_INTENT = "ask_about_assistant"
UNSURE = 0.7  # below this DIET confidence, FAQ candidates win over a menu intent
# A menu or small talk (「マイナ保険証の使い方は？」 → ask_capabilities 0.94) gives way to FAQ candidates the
# retrieval is this sure of: the words name a topic, not the menu.
SHORT_ANSWER = 4  # 「うん」「ええ」「OK」: short enough to be an answer whatever DIET says
MENUS = {"ask_capabilities", FAQ_INTENT, "greet", "goodbye", "thank"}
MENU_YIELDS = 0.5

# Answers to a form's question and requests that the words themselves make clear: never replaced.
KEPT = {"choose_date", "stop"}
# Intents that would not answer a municipal question: menus, small talk, what the NLU did not understand.
OVERRIDABLE = {"nlu_fallback", "out_of_scope", FAQ_INTENT, "ask_capabilities", "greet", "goodbye", "thank",
               "menu_garbage", "menu_bulky_booking", "menu_counseling", COLLECTION_INTENT, SORTING_INTENT}
GARBAGE_TOPICS = "ごみ"  # the FAQ category (data/faq/faq.yml) of the garbage topics
HANDOVER_INTENTS = {"bulky_booking": "menu_bulky_booking", "collection_day": COLLECTION_INTENT,
                    "counseling": "menu_counseling"}

# ------------------------------------------------------------------------------------------ the decision
PLACE_SUFFIXES = "市区町村都道府県"


def route(intent: str, text: str, confidence: float = 1.0, triaged: bool = False) -> Dict[str, Any]:
    """What the front door decides for a message DIET gave ``intent``: {} (keep it), or the new intent with
    its confidence and, for an FAQ answer, the topic id. ``triaged``: the gateway found no risk in it."""
    if intent == "choose_date" and not text.startswith("/") and not typed_date(text):
        intent = "nlu_fallback"  # 「単3電池が20本くらいあります」: DIET's date, but no date in the words
    if not text.strip() or text.startswith("/") or intent in KEPT:
        return {}
    said = intent
    is_sorting = lru_cache(maxsize=1)(lambda: sorting_question(text))  # asks the dictionary once, if at all
    chosen = typed_menu_choice(text)
    if chosen:
        return {} if chosen == intent else _to(chosen)
    if intent in ("affirm", "deny"):
        # 「はい」「いいえ」 answer a question; 「ほいく園 入所 もうしこみ」 (DIET: affirm) is a question of its own.
        return {} if is_yes_or_no(text) or len(text) <= SHORT_ANSWER else faq_decision("nlu_fallback", text, 0.0) \
            or {"intent": "nlu_fallback", "confidence": round(confidence, 4)}
    if not triaged and distress(text):
        return {}  # rasa shell / rasa test: a child's words stay with the counseling flow
    if intent in (SORTING_INTENT, "menu_garbage") and not dictionary_loaded():
        return {}  # no dictionary to ask: DIET's garbage guess stands (the action apologises)
    if about_assistant(text):
        return _to(ABOUT_INTENT)
    place = other_municipality(text)
    bare_name = bool(place) and place[-1] not in PLACE_SUFFIXES
    if place and not (bare_name and is_sorting()):
        # 「小樽市のごみの収集日」「東京都の粗大ごみ」: another city's matter (action_fallback says where to ask);
        # a bare name before an item (「ケンタッキーの骨は何ごみ」「ハワイのお土産の箱」) says what the thing is
        return {} if intent == "out_of_scope" else _to("out_of_scope")
    if booking_request(text) and IF_NEEDED.search(normalize_text(text)) and not MANAGING.search(normalize_text(text)) \
            and is_sorting():
        return {} if intent == SORTING_INTENT else _to(SORTING_INTENT)  # 「〇〇を処分したい。大型ごみの申込は必要？」
    if intent == "manage_booking" and booking_request(text) and MANAGING.search(normalize_text(text)):
        return {}
    if intent in ("menu_bulky_booking", "manage_booking") and booking_request(text) \
            and (BOOKING_ACT.search(normalize_text(text)) or not is_sorting()):
        # 「大型ごみの予約をしたい」 stays; 「大型ごみ処理券はどこで買えますか」 is the FAQ's (T08), and
        # 「たんすは粗大ゴミ？」 a sorting question (its answer offers the booking).
        return faq_decision("menu_bulky_booking", text, confidence, answers_only=True)
    if intent not in ("menu_bulky_booking", "manage_booking") and booking_request(text) \
            and (BOOKING_ACT.search(normalize_text(text)) or BULKY_WISH.search(normalize_text(text))) \
            and not MANAGING.search(normalize_text(text)):
        # 「ソファーを捨てたいので予約したい」「ごみの回収を予約したい」「大型ごみを出したいです。ソファー1つです」:
        # a 大型ごみ booking, whatever DIET said
        return faq_decision("menu_bulky_booking", text, confidence, answers_only=True) or _to("menu_bulky_booking")
    if intent == "request_human" and PERSON.search(normalize_text(text)):
        return {}
    if intent == "edit_booking" and EDITING.search(normalize_text(text)):
        return {}  # 「電話番号を直したい」 at the booking's confirmation
    if intent == ABOUT_INTENT:
        intent = "nlu_fallback"  # DIET's guess without the words for it (「無料Wi-Fiスポットある？」)
    if collection_day_question(text):
        if (category_guess(text) or may_put_out(text) or day_of_a_thing(text)) and is_sorting():
            # 「ピーラーって燃えないごみの日？」「今日燃えないごみの日だけどドライヤーも一緒に出していい？」
            # 「一升びんは何曜日に出せばいい？」
            return {} if intent == SORTING_INTENT else _to(SORTING_INTENT)
        return {} if intent == COLLECTION_INTENT else _to(COLLECTION_INTENT)
    if names_a_street(text) and not question(text):
        # 「南3西5」「にしく はっさむ5じょう」「〒003-0833」: an address given, whatever DIET made of it
        return {} if intent == "inform_address" else _to("inform_address")
    if intent == "inform_address" and is_sorting():
        return _to(SORTING_INTENT)  # 「わごむ」「バスタオル3枚」: an item's name, not an address
    if intent == "inform_address":
        # An address answers a form's question; 「豊平区役所ってどこ」 is a question, 「中央バス 遅延」 no address.
        if question(text):
            return faq_decision(intent, text, 0.0)
        return {} if looks_like_address(text) else faq_decision(intent, text, 0.0, answers_only=True)
    if intent == COLLECTION_INTENT:
        intent = "nlu_fallback"  # no day asked (「土曜日も区役所やってる？」): what the FAQ says, or not understood
    if is_sorting() or category_how_question(text):  # 「燃えないごみの出し方」: the kind's rule is the answer
        return {} if intent == SORTING_INTENT else _to(SORTING_INTENT)
    if intent in ("manage_booking", "request_human", "edit_booking"):
        # 「車検の予約をしたい」, 「児童手当 いくらもらえる」: not what these flows are for.
        return faq_decision(intent, text, confidence) or {"intent": "nlu_fallback", "confidence": round(confidence, 4)}
    if intent == SORTING_INTENT:
        # DIET says garbage, but no item and no disposal word (「新しい冷蔵庫を買いたい」).
        return faq_decision(intent, text, confidence) or {"intent": "nlu_fallback", "confidence": round(confidence, 4)}
    if triaged and intent == "menu_counseling":
        return faq_decision("nlu_fallback", text, confidence) or {"intent": "nlu_fallback", "confidence": round(confidence, 4)}
    if intent not in OVERRIDABLE:
        return {}
    decision = faq_decision(intent, text, confidence)
    if not decision and intent != said:
        return {"intent": intent, "confidence": round(confidence, 4)}  # DIET's guess had no ground
    return decision


def typed_date(text: str) -> bool:
    """The message holds a day as the booking reads it (「12月10日」「あさって」), or one it can tell is impossible."""
    from common.booking.dates import NOT_UNDERSTOOD, parse_date
    from common.clock import today

    return parse_date(text, today()).error != NOT_UNDERSTOOD


@lru_cache(maxsize=1)
def _menu_titles() -> Dict[str, str]:
    """The main menu's button titles (domain.yml ``utter_menu``) → the intent of their payload."""
    responses = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))["responses"]
    return {_folded(b["title"]): b["payload"].lstrip("/").split("{")[0]
            for r in responses.get("utter_menu", []) for b in r.get("buttons", [])}


def _folded(text: str) -> str:
    return re.sub(r"[\s、。,.!?！？「」]", "", normalize_text(text))


def typed_menu_choice(text: str) -> Optional[str]:
    """「ごみの出し方」 typed (LINE users type the menu's titles): the intent of that button."""
    return _menu_titles().get(_folded(text))


def faq_decision(intent: str, text: str, confidence: float, answers_only: bool = False) -> Dict[str, Any]:
    """The FAQ's say: a confident answer (menu_faq + faq_id), もしかして when DIET was unsure of a menu,
    out_of_scope for another municipality; {} when the FAQ has nothing better."""
    result = current_retriever().retrieve(text)
    if result.status == "elsewhere":
        return {} if intent == "out_of_scope" else _to("out_of_scope")
    if result.status == "answer":
        topic = result.topics[0]
        if HANDOVER_INTENTS.get(topic.handover or "") == intent:
            return {}  # the flow does more than the FAQ answer (T07 → booking, T11 → collection days)
        if intent == "menu_garbage" and topic.category == GARBAGE_TOPICS:
            return {}  # 「ゴミの出し方を教えて」: the garbage menu asks for the item, better than one garbage topic
        return {"intent": FAQ_INTENT, "confidence": round(result.score, 4), FAQ_ENTITY: topic.id}
    if answers_only:
        return {}
    if result.status == "candidates" and (confidence < UNSURE or intent in ("manage_booking", "request_human",
                                                                           SORTING_INTENT)
                                          or (intent in MENUS and result.score >= MENU_YIELDS)) \
            and intent not in ("nlu_fallback", "out_of_scope", COLLECTION_INTENT):
        # DIET barely chose a menu (「証明書がほしい」 → menu_counseling 0.55): the FAQ's もしかして fits better.
        return {"intent": FAQ_INTENT, "confidence": round(result.score, 4)}
    return {}


def _to(intent: str) -> Dict[str, Any]:
    return {"intent": intent, "confidence": 1.0}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class FrontDoorRouter(GraphComponent):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "FrontDoorRouter":
        current_retriever()  # train the FAQ classifier (≈ 3 s) while the model loads, not on a question
        _warm_matcher()
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            metadata = message.get(METADATA) or {}
            decision = route(intent.get("name") or "", message.get(TEXT) or "", float(intent.get("confidence") or 0.0),
                             triaged=isinstance(metadata, dict) and metadata.get("triage") == "none")
            if decision:
                _apply(message, decision)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def _apply(message: Message, decision: Dict[str, Any]) -> None:
    new_intent = {"name": decision["intent"], "confidence": decision["confidence"]}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != new_intent["name"]]
    message.set(INTENT, new_intent, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [new_intent, *ranking], add_to_output=True)
    if FAQ_ENTITY in decision:
        entity = {"entity": FAQ_ENTITY, "value": decision[FAQ_ENTITY], "start": 0,
                  "end": len(message.get(TEXT) or ""), "extractor": "FrontDoorRouter"}
        message.set(ENTITIES, [*(message.get(ENTITIES) or []), entity], add_to_output=True)


def _warm_matcher() -> Optional[bool]:
    """Build the item matcher (≈ 0.5 s) at load; without city data the router just has no garbage evidence."""
    from bot.knowledge.citydata.store import CityDataNotLoaded
    from bot.knowledge.garbage_knowledge import matcher

    try:
        matcher()
        return True
    except (CityDataNotLoaded, Exception) as error:  # noqa: BLE001 - a missing database must not stop the engine
        logger.warning("front door without the garbage dictionary: %s", error)
        return None
