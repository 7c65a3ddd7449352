"""Garbage questions: "X は何ごみ？" from the city's dictionary, and collection days by address."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CALL_CENTER, button, channel_of, is_counseling
from actions.faq import reply_from_faq
from common import unanswered
from bot.nlu.address_text import find_town, parse, town_key
from bot.knowledge.citydata.store import CityDataNotLoaded, UnknownArea
from common.clock import today
from common.formats import format_date
from bot.knowledge.faq_retriever import current_retriever
from bot.knowledge.garbage_knowledge import matcher, store

logger = logging.getLogger(__name__)

CITY_TOP = "https://www.city.sapporo.jp/"
GARBAGE_WORDS = ("ごみ", "ゴミ", "捨て", "すて", "処分", "出し方", "なげ")


NOT_LOADED = ("申し訳ありません。ただいま、ごみの情報をご案内できません。"
              f"{CALL_CENTER}へお問い合わせください。")


def city_data_required(run):
    """Without loaded city data the user gets an apology with the call center, not silence."""

    async def guarded(self, dispatcher, tracker, domain):
        try:
            return await run(self, dispatcher, tracker, domain)
        except CityDataNotLoaded:
            logger.error("city data not loaded: run `make load-city-data DIR=...` (or make run for the sample)")
            dispatcher.utter_message(text=NOT_LOADED)
            return []

    return guarded


def jp_date(day: date) -> str:
    return format_date(day)


def item_payload(name: str) -> str:
    return '/ask_garbage_category{"item_name": "%s"}' % name.replace('"', "")


def matching_rule(rules, item):
    """(rule, named): the sorting rule that names the item (its remark then applies), else the first rule."""
    for rule in rules:
        if item.base_name in f"{rule.title}{rule.examples}":
            return rule, True
    return (rules[0] if rules else None), False


def answer_item(dispatcher: CollectingDispatcher, item) -> None:
    """The category of one dictionary item, how to put it out, and what to do next."""
    info = store().category(item.category)
    lines = [f"「{item.name}」は【{info.name}】です。"]
    buttons: List[Dict[str, str]] = []
    if not info.collected_by_city:
        lines.append("市では収集しておらず、ごみステーションには出せません。")
        lines.append(info.who_takes_it or info.how)
    elif info.name == "大型ごみ":
        lines.append(info.how)
        buttons.append(button("大型ごみを申し込む", "/menu_bulky_booking"))
    else:
        rule, named = matching_rule(info.rules, item)
        if rule and rule.frequency_fee:
            lines.append(f"収集：{rule.frequency_fee}")
        lines.append(rule.how if rule else info.how)
        if named and rule.remark:
            lines.append(rule.remark)
        if info.calendar_codes:
            buttons.append(button("収集日を調べる", '/ask_collection_day{"garbage_category": "%s"}' % info.name))
    dispatcher.utter_message(text="\n".join(l for l in lines if l), buttons=buttons or None)


def reply_to_item_question(dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                           from_fallback: bool = False) -> bool:
    """Answer from the dictionary; False when nothing plausible was found (the caller decides what to say)."""
    result = matcher().match(text)
    if result.status == "found":
        answer_item(dispatcher, result.candidates[0].item)
        return True
    if result.status == "ambiguous":
        phrase = result.phrase or text
        question = (f"「{result.candidates[0].item.name}」のことですか？" if len(result.candidates) == 1
                    else f"「{phrase}」はいくつかに分かれます。どれに近いですか？")
        dispatcher.utter_message(
            text=question,
            buttons=[button(c.item.name, item_payload(c.item.name)) for c in result.candidates[:5]],
        )
        return True
    if from_fallback:
        return False
    # Not an item: the NLU may have mistaken a municipal question for a garbage one. A question that
    # says ごみ/捨てる is about an item, so it gets FAQ candidates only if it is not one.
    about_an_item = any(word in text for word in GARBAGE_WORDS)
    if reply_from_faq(dispatcher, tracker, text, current_retriever().retrieve(text), candidates=not about_an_item):
        return True
    best = result.candidates[0] if result.candidates else None
    unanswered.record(text, channel_of(tracker), "garbage_item", best.item.name if best else None,
                      best.score if best else None, conversation_id=tracker.sender_id, counseling=is_counseling(tracker, text))
    message = f"申し訳ありません、「{result.phrase or text}」はごみ分け辞典で見つかりませんでした。"
    if result.candidates:
        message += "もしかして、次のどれかですか？"
    else:
        message += f"別の言い方でお試しいただくか、{CALL_CENTER}へお問い合わせください。"
    dispatcher.utter_message(
        text=message, buttons=[button(c.item.name, item_payload(c.item.name)) for c in result.candidates[:3]] or None
    )
    return True


class ActionGarbageCategory(Action):
    def name(self) -> Text:
        return "action_garbage_category"

    @city_data_required
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        chosen = next(tracker.get_latest_entity_values("item_name"), None)
        if chosen:
            item = next((i for i in store().items() if i.name == chosen), None)
            if item:
                answer_item(dispatcher, item)
                return [SlotSet("item_name", None)]
        text = chosen or tracker.latest_message.get("text") or ""
        if not matcher().extract_item_phrase(text):
            dispatcher.utter_message(response="utter_menu_garbage")
            return []
        reply_to_item_question(dispatcher, tracker, text)
        return [SlotSet("item_name", None)]


def resolve_address(text: str, ward: Optional[str]) -> Dict[str, Any]:
    """Slots for an address found in ``text`` (postcode, or 区 + 町名); {} when there is none."""
    parsed = parse(text)
    data = store()
    if parsed.postcode:
        found = data.addresses_for_postcode(parsed.postcode)
        areas = {a.area.name for a in found if a.area}
        if len(areas) == 1:
            first = next(a for a in found if a.area)
            return {"gc_ward": first.ward, "gc_town": first.town, "gc_area": first.area.name,
                    "gc_address": f"{first.ward}{town_key(first.town)}"}
        if found:
            return {"gc_ward": found[0].ward, "gc_town": None, "gc_area": None}
    ward = parsed.ward or ward
    if not ward:
        return {}
    town = find_town(text, data.towns(ward))
    if not town:
        return {"gc_ward": ward, "gc_town": None, "gc_area": None} if parsed.ward else {}
    return slots_for_town(ward, town_key(town)) or {"gc_ward": ward, "gc_town": None, "gc_area": None}


def slots_for_town(ward: str, town_text: str) -> Dict[str, Any]:
    found = [a for a in store().addresses_for_town(ward, town_text) if a.area]
    areas = {a.area.name for a in found}
    if len(areas) != 1:
        return {}
    first = found[0]
    label = town_key(first.town) if len({town_key(a.town) for a in found}) == 1 else town_text
    return {"gc_ward": ward, "gc_town": first.town, "gc_area": first.area.name, "gc_address": f"{ward}{label}"}


class ValidateCollectionDayForm(FormValidationAction):
    """Finds the calendar area from what the user wrote; asks 区 then 町名 only for what is missing."""

    def name(self) -> Text:
        return "validate_collection_day_form"

    @city_data_required
    async def run(self, dispatcher, tracker, domain):
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        # gc_area and its label gc_address are filled together with gc_town (never asked on their own);
        # listing them lets extract_gc_area read a whole sentence such as 「白石区本通の燃えるゴミ」 and
        # keeps the SDK from dropping them (it returns only required slots).
        return ["gc_ward", "gc_town", "gc_area", "gc_address"]

    async def extract_gc_area(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") in ("gc_ward", "gc_town"):
            return {}  # an answer to our question: validated below
        text = tracker.latest_message.get("text") or ""
        return resolve_address(text, None)

    async def extract_gc_address(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return {}  # set together with gc_area by extract_gc_area / validate_gc_town

    def validate_gc_area(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return {"gc_area": value}

    def validate_gc_address(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return {"gc_address": value}

    def validate_gc_ward(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not value or (tracker.get_slot("gc_area") and tracker.get_slot("requested_slot") != "gc_ward"):
            return {"gc_ward": value or None}
        slots = resolve_address(str(value or ""), None)
        if slots.get("gc_ward"):
            return slots
        dispatcher.utter_message(text="区の名前が分かりませんでした。下のボタンから選ぶか、郵便番号を送ってください。")
        return {"gc_ward": None}

    def validate_gc_town(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not value or (tracker.get_slot("gc_area") and tracker.get_slot("requested_slot") != "gc_town"):
            return {"gc_town": value or None}
        text = str(value or "")
        ward = tracker.get_slot("gc_ward")
        slots = resolve_address(text, ward)
        if slots.get("gc_area"):
            return slots
        towns = [a for a in store().addresses_for_town(ward, text) if a.area] if ward and text.strip() else []
        if towns:
            names = sorted({a.town for a in towns})[:10]
            dispatcher.utter_message(text="どちらの町名ですか？",
                                     buttons=[button(n, f"{ward}{n}") for n in names])
        else:
            dispatcher.utter_message(text=f"{ward or ''}で「{text}」という町名が見つかりませんでした。"
                                          "町名（例：本通）か郵便番号を送ってください。")
        return {"gc_town": None, "gc_area": None}


def requested_category(tracker: Tracker) -> Optional[str]:
    """The category asked for in this request: from a button, or from the user's words since the
    question that started it (「燃やせるごみの日は？」 → 区 → 町名: the category was in the first message)."""
    chosen = next(tracker.get_latest_entity_values("garbage_category"), None)
    if chosen:
        return chosen
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        category = parse(event.get("text") or "").category
        if category:
            return category
        if ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "ask_collection_day":
            return None
    return parse(tracker.latest_message.get("text") or "").category


class ActionCollectionDay(Action):
    """The next collection dates for the remembered area: one category, or everything in the next 7 days."""

    def name(self) -> Text:
        return "action_collection_day"

    @city_data_required
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict]:
        area_name, address = tracker.get_slot("gc_area"), tracker.get_slot("gc_address") or ""
        if not area_name:
            dispatcher.utter_message(text=f"住所が分からず、収集日を調べられませんでした。{CALL_CENTER}でもご案内しています。")
            return []
        data = store()
        try:
            area = data.area(area_name)
        except UnknownArea:  # the remembered area is gone (other city data loaded since)
            dispatcher.utter_message(text="もう一度、住所（区と町名、または郵便番号）を教えてください。")
            return [SlotSet("gc_area", None), SlotSet("gc_ward", None), SlotSet("gc_town", None)]
        category = requested_category(tracker)
        day = today()
        covered = data.calendar_range()
        if not covered or not covered[0] <= day <= covered[1]:
            period = f"（{jp_date(covered[0])}〜{covered[1].year}年{jp_date(covered[1])}）" if covered else ""
            dispatcher.utter_message(
                text=f"申し訳ありません。登録されている収集日カレンダー{period}に今日の日付が含まれていないため、"
                     f"収集日をご案内できません。札幌市公式ホームページ（{CITY_TOP}）のごみ収集日カレンダーか、"
                     f"{CALL_CENTER}でご確認ください。")
            return []
        lines: List[str] = []
        if category:
            info = data.category(category)
            if not info.calendar_codes:
                if info.name == "大型ごみ":
                    dispatcher.utter_message(text=f"大型ごみは申込制です。{info.how}",
                                             buttons=[button("大型ごみを申し込む", "/menu_bulky_booking")])
                else:
                    dispatcher.utter_message(text=f"【{info.name}】は決まった収集日がありません。{info.who_takes_it or info.how}")
                return []
            dates = data.next_collection_dates(area, category, day, limit=3)
            if not dates:
                lines.append(f"{address}の【{info.name}】の収集日は、登録されているカレンダーの期間内にありません。")
            else:
                lines.append(f"{address}の【{info.name}】の次の収集日は、{'、'.join(jp_date(d) for d in dates)}です。")
                lines.append("当日の朝8時30分までに出してください。")
        else:
            days = data.collections(area, day, 7)
            lines.append(f"{address}の今日から7日間の収集です。")
            lines.extend(f"・{jp_date(d)} {label}" for d, _code, label in days)
            if not days:
                lines.append("この期間の収集はありません。")
            lines.append("朝8時30分までに出してください。")
        if data.metadata().get("is_sample"):
            lines.append("※開発用のサンプルデータです。実際の収集日は札幌市のごみ収集日カレンダーでご確認ください。")
        dispatcher.utter_message(text="\n".join(lines))
        return []
