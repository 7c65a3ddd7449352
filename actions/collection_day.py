"""Collection days by address (「燃やせるごみの日はいつ？」, 「064-0959 のびんの日」): the collection_day_form finds the
calendar area, ActionCollectionDay answers from the city's calendar.

The address is read as citizens type it (bot/nlu/address_text.py: kana, kanji numerals, 「3ジョウ」「5丁」, 「南3西5」, a
town without its 区 when only one ward has it). When it fits several places the form asks itself, offering only
those (the wards that have the town, or the town's rows split by 丁目 or 番地); what the postcode file does not have
is asked again, never guessed.

When the loaded calendar does not cover today, no date is guessed: the answer says so, and adds what the
calendar showed as the area's usual days (bot/knowledge/citydata/patterns.py), marked as the previous
calendar's, with the city's page and the call center for the current one.
"""

from __future__ import annotations

import logging
from datetime import date
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CALL_CENTER, button
from actions.garbage import city_data_required
from bot.knowledge.citydata.models import Address, Area
from bot.knowledge.citydata.patterns import UsualPattern
from bot.knowledge.citydata.store import WARD_ORDER, CityDataStore, UnknownArea
from bot.knowledge.garbage_knowledge import store
from bot.nlu.address_text import find_postcode, parse, town_key
from common.clock import today
from common.formats import format_date

logger = logging.getLogger(__name__)

CITY_TOP = "https://www.city.sapporo.jp/"
PATTERN_MONTHS = 3  # the usual days are read from the last three months of the calendar
SAMPLE_NOTE = "※開発用のサンプルデータです。実際の収集日は札幌市のごみ収集日カレンダーでご確認ください。"
CHECK_CURRENT = f"最新のカレンダーでご確認ください：札幌市公式ホームページ（{CITY_TOP}）のごみ収集日カレンダー、または{CALL_CENTER}。"


def jp_date(day: date) -> str:
    return format_date(day)


@dataclass
class Question:
    """What the form asks itself when the address fits several places (only those places are offered)."""

    text: str
    buttons: List[Dict[str, str]]

    def ask(self, dispatcher: CollectingDispatcher) -> None:
        dispatcher.utter_message(text=self.text, buttons=self.buttons)


def _found(first, label: str) -> Dict[str, Any]:
    return {"gc_ward": first.ward, "gc_town": first.town, "gc_area": first.area.name, "gc_address": f"{first.ward}{label}"}


def _place(reading) -> str:
    """「南3条西5丁目」: the town as published (without its （…）) and the 丁目 typed."""
    return f"{reading.town}{reading.chome}丁目" if reading.chome is not None else reading.town


def _town_buttons(data: CityDataStore, ward: str, rows: Sequence[Address]) -> List[Dict[str, str]]:
    """One button per town row; its payload is the town's name when that alone finds its area, else its postcode
    (「南1条西」 beside 「南1条西（１〜１９丁目）」, the two rows called 川沿1条)."""
    names = [a.town for a in rows]
    buttons = []
    for a in rows:
        payload = f"{ward}{a.town}"
        again = [t.payload for t in data.read_address(payload, ward, fuzzy=False).towns if t.payload.area]
        if {x.area.name for x in again} != {a.area.name}:
            payload = f"{a.postcode[:3]}-{a.postcode[3:]}"
        title = a.town if names.count(a.town) == 1 else f"{a.town}（〒{a.postcode[:3]}-{a.postcode[3:]}）"
        buttons.append(button(title, payload))
    return buttons


def read_address(text: str, ward: Optional[str] = None) -> Tuple[Dict[str, Any], Optional[Question]]:
    """Slots for the address in ``text`` (a postcode, or 区 and 町名 as citizens type them, see
    bot/nlu/address_text.py) and, when it fits several places, the question that offers only those.

    ``ward`` is the ward already known. A town without its 区 is taken when only one ward has it; else the wards that
    have it are asked, and the place typed waits in gc_town (gc_area empty) for the answer. Nothing is guessed: what
    the postcode file does not have gives no area. {} when the text holds no address at all."""
    data = store()
    postcode = find_postcode(text)
    if postcode:
        found = data.addresses_for_postcode(postcode)
        areas = {a.area.name for a in found if a.area}
        if len(areas) == 1:
            first = next(a for a in found if a.area)
            return _found(first, town_key(first.town)), None
        if found:
            return {"gc_ward": found[0].ward, "gc_town": None, "gc_area": None}, None
    reading = data.read_address(text, ward)
    rows = [t.payload for t in reading.towns if t.payload.area]
    if not rows:
        return ({"gc_ward": reading.ward, "gc_town": None, "gc_area": None} if reading.ward else {}), None
    areas = {a.area.name for a in rows}
    wards = list(dict.fromkeys(w for w in WARD_ORDER if any(a.ward == w for a in rows)))
    if len(areas) == 1:
        return _found(rows[0], _place(reading)), None
    place = _place(reading)
    if len(wards) > 1:
        return ({"gc_ward": None, "gc_town": place, "gc_area": None},
                Question(f"「{place}」は{'と'.join(wards)}にあります。どちらの区ですか？",
                         [button(w, f"{w}{place}") for w in wards]))
    rows = sorted({id(a): a for a in rows}.values(), key=lambda a: a.postcode)[:10]
    return ({"gc_ward": wards[0], "gc_town": place, "gc_area": None},
            Question(f"{wards[0]}の「{place}」は収集日の地区が分かれています。どちらですか？（郵便番号でも調べられます）",
                     _town_buttons(data, wards[0], rows)))


def _elsewhere(text: str, ward: str) -> Optional[Question]:
    """A town typed at the 町名 question that is not in the ward but in exactly one other: offered, not taken."""
    reading = store().read_address(text, None)
    rows = [t.payload for t in reading.towns if t.payload.area and t.ward != ward]
    wards = {a.ward for a in rows}
    if reading.ward or len(wards) != 1 or len({a.area.name for a in rows}) != 1:
        return None
    other, place = rows[0].ward, _place(reading)
    return Question(f"{ward}には「{place}」が見つかりませんでした。{other}の{place}ですか？", [button(f"{other}{place}", f"{other}{place}")])


ANSWER_INTENTS = ("inform_address", "nlu_fallback", "out_of_scope")  # as the gc_ward / gc_town mappings (domain.yml)


class ValidateCollectionDayForm(FormValidationAction):
    """Finds the calendar area from what the user wrote; asks 区 then 町名 only for what is missing, and asks itself
    (with only the fitting wards or towns as buttons) when the address fits several places."""

    def name(self) -> Text:
        return "validate_collection_day_form"

    @city_data_required
    async def run(self, dispatcher, tracker, domain):
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        # gc_area and its label gc_address are filled together with gc_town (never asked on their own);
        # listing them lets extract_gc_area read a whole sentence such as 「白石区本通の燃えるゴミ」 and
        # keeps the SDK from dropping them (it returns only required slots). A place waiting in gc_town without an
        # area means the form has asked its own question (which 区, which town): gc_area comes first then, and
        # nothing else is asked (there is no utter_ask_gc_area).
        if tracker.get_slot("gc_town") and not tracker.get_slot("gc_area"):
            return ["gc_area", "gc_ward", "gc_town", "gc_address"]
        return ["gc_ward", "gc_town", "gc_area", "gc_address"]

    async def extract_gc_area(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        requested = tracker.get_slot("requested_slot")
        if requested in ("gc_ward", "gc_town"):
            return {}  # an answer to our question: validated below
        text = tracker.latest_message.get("text") or ""
        pending = tracker.get_slot("gc_town") if not tracker.get_slot("gc_area") else None
        if requested == "gc_area" and pending:
            return self._answer_to_own_question(dispatcher, tracker, text, pending)
        slots, question = read_address(text, None)
        if question:
            question.ask(dispatcher)
        elif pending and not slots:
            slots = {"gc_town": None}  # a question left unanswered in an earlier request
        return slots

    def _answer_to_own_question(self, dispatcher, tracker, text: str, pending: str) -> Dict[Text, Any]:
        """The answer to 「どちらの区ですか？」/「どちらですか？」: a button, a ward alone (「北区」), a 丁目 alone, or a new
        address. Anything else that is no address answer (a garbage question, …) is left to the rest of the bot."""
        ward = tracker.get_slot("gc_ward")
        slots, question = read_address(text, ward)
        if not slots.get("gc_area"):
            combined, again = read_address(f"{pending} {text}", ward)
            if combined.get("gc_area"):
                slots, question = combined, again
        if slots.get("gc_area"):
            return slots
        if (tracker.latest_message.get("intent") or {}).get("name") not in ANSWER_INTENTS and not slots:
            return {}
        if question:
            question.ask(dispatcher)
            return slots
        dispatcher.utter_message(text=f"「{text}」では場所が分かりませんでした。下のボタンから選ぶか、郵便番号を送ってください。")
        _, question = read_address(pending, ward)
        if question:
            question.ask(dispatcher)
            return {"gc_town": pending, "gc_area": None}
        return {"gc_town": None, "gc_area": None}

    async def extract_gc_address(self, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return {}  # set together with gc_area by extract_gc_area / validate_gc_town

    def validate_gc_area(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return {"gc_area": value}

    def validate_gc_address(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        return {"gc_address": value}

    def validate_gc_ward(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not value or tracker.get_slot("requested_slot") != "gc_ward":
            return {"gc_ward": value or None}  # set with the rest of the address by extract_gc_area
        slots, question = read_address(str(value or ""), None)
        if question:
            question.ask(dispatcher)
            return slots
        if slots.get("gc_ward"):
            return slots
        dispatcher.utter_message(text="区の名前が分かりませんでした。下のボタンから選ぶか、郵便番号を送ってください。")
        return {"gc_ward": None}

    def validate_gc_town(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        if not value or tracker.get_slot("requested_slot") != "gc_town":
            return {"gc_town": value or None}  # set with the rest of the address by extract_gc_area
        text = str(value or "")
        ward = tracker.get_slot("gc_ward")
        slots, question = read_address(text, ward)
        if slots.get("gc_area"):
            return slots
        if question:
            question.ask(dispatcher)
            return slots
        if slots.get("gc_ward") and slots["gc_ward"] != ward:
            return slots  # another ward typed: its town is asked next
        elsewhere = _elsewhere(text, ward) if ward else None
        towns = [a for a in store().addresses_for_town(ward, text) if a.area] if ward and text.strip() else []
        if elsewhere:
            elsewhere.ask(dispatcher)
        elif towns:
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


def _month_span(window: Tuple[date, date]) -> str:
    """「2025年7月〜9月」, 「2024年11月〜2025年1月」, 「2025年9月」."""
    (a, b) = window
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.year}年{a.month}月"
    return f"{a.year}年{a.month}月〜{'' if a.year == b.year else f'{b.year}年'}{b.month}月"


def _pattern_phrase(pattern: UsualPattern, past: bool) -> Optional[str]:
    """「毎週月・木曜日」 with, for what is not weekly, the last day in the calendar (a real date) and the months
    without any collection; None when the calendar shows no steady pattern."""
    text = pattern.text()
    if not text:
        return None
    notes = []
    if not pattern.weekly and pattern.last_day and past:
        notes.append(f"カレンダーの最後の収集日は{format_date(pattern.last_day, year=True)}")
    if pattern.months_without:
        notes.append(f"{pattern.months_without_text()}は収集なし")
    return text + (f"（{'、'.join(notes)}）" if notes else "")


def not_covered_answer(data: CityDataStore, area: Area, address: str, category: Optional[str],
                       covered: Optional[Tuple[date, date]], day: date) -> str:
    """Today is outside the loaded calendar: say so, and what that calendar showed as the usual days."""
    if not covered:
        return (f"申し訳ありません。収集日カレンダーが登録されていないため、収集日をご案内できません。"
                f"札幌市公式ホームページ（{CITY_TOP}）のごみ収集日カレンダーか、{CALL_CENTER}でご確認ください。")
    first, last = covered
    past = day > last
    lines = [f"申し訳ありません。登録されている収集日カレンダー（{first.year}年{first.month}月{first.day}日〜"
             f"{last.year}年{last.month}月{last.day}日）に今日の日付が含まれていません。"
             f"今後の収集日はご案内できません。"]
    which = "前回のカレンダーの最後" if past else "登録されているカレンダーの最初"
    tense = "でした" if past else "です"
    if category:
        info = data.category(category)
        pattern = data.usual_pattern(area, info.name, months=PATTERN_MONTHS, today=day)
        phrase = _pattern_phrase(pattern, past) if pattern else None
        if pattern is None or not pattern.collections:
            lines.append(f"{'前回の' if past else '登録されている'}カレンダーには、{address}の【{info.name}】の収集日がありませんでした。")
        elif phrase:
            lines.append(f"参考までに、{which}の{PATTERN_MONTHS}か月（{_month_span(pattern.window)}）では、"
                         f"{address}の【{info.name}】は通常、{phrase}{tense}。")
        else:
            lines.append(f"{which}の{PATTERN_MONTHS}か月（{_month_span(pattern.window)}）の{address}の【{info.name}】の"
                         "収集日には、決まった曜日のパターンが見られませんでした。")
    else:
        codes = sorted({code for _d, code, _l in data.collections(area, first, (last - first).days + 1)})
        rows, window = [], None
        for code in codes:
            pattern = data.usual_pattern(area, codes=(code,), months=PATTERN_MONTHS, today=day)
            if pattern is None or not pattern.collections:
                continue
            window = window or pattern.window
            phrase = _pattern_phrase(pattern, past) or "決まった曜日のパターンなし（カレンダーでご確認ください）"
            rows.append(f"・{data.code_label(code)}：{phrase}")
        if rows:
            lines.append(f"参考までに、{which}の{PATTERN_MONTHS}か月（{_month_span(window)}）では、"
                         f"{address}の収集は通常、次のとおり{tense}。")
            lines.extend(rows)
    lines.append(CHECK_CURRENT)
    return "\n".join(lines)


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
        info = data.category(category) if category else None
        if info is not None and not info.calendar_codes:  # no calendar needed to say so
            if info.name == "大型ごみ":
                dispatcher.utter_message(text=f"大型ごみは申込制です。{info.how}",
                                         buttons=[button("大型ごみを申し込む", "/menu_bulky_booking")])
            else:
                dispatcher.utter_message(text=f"【{info.name}】は決まった収集日がありません。{info.who_takes_it or info.how}")
            return []
        day = today()
        covered = data.calendar_range()
        lines: List[str] = []
        if not covered or not covered[0] <= day <= covered[1]:
            lines.append(not_covered_answer(data, area, address, category, covered, day))
        elif info is not None:
            dates = data.next_collection_dates(area, info.name, day, limit=3)
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
            lines.append(SAMPLE_NOTE)
        dispatcher.utter_message(text="\n".join(lines))
        return []
