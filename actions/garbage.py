"""Garbage questions: "X は何ごみ？" from the city's dictionary; the address → calendar-area lookup that collection
days (actions/collection_day.py) and bookings use."""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CALL_CENTER, button, channel_of, is_counseling
from actions.faq import reply_from_faq
from common import unanswered
from bot.nlu.address_text import find_town, parse, town_key
from bot.nlu.morphology import analyze
from bot.nlu.evidence import DISPOSAL_STRONG, category_how_question, guessed_categories, named_category
from bot.nlu.normalize import normalize_text
from bot.knowledge.citydata.store import CityDataNotLoaded
from bot.knowledge.item_matcher import EXACT_READING, FOUND_MARGIN, FOUND_MIN, MAIN_WORD, SHORT_TYPO, without_notes
from bot.knowledge.faq_retriever import current_retriever
from bot.knowledge.garbage_knowledge import (guide_example_read, guide_matcher, guide_named, guide_names_whole,
                                             guide_rule, guide_word_in, matcher, store)

logger = logging.getLogger(__name__)

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


def item_payload(name: str) -> str:
    return '/ask_garbage_category{"item_name": "%s"}' % name.replace('"', "")


def matching_rule(rules, item):
    """(rule, named): the sorting rule that names the item (its remark then applies), else the first rule."""
    for rule in rules:
        if item.base_name in f"{rule.title}{rule.examples}":
            return rule, True
    return (rules[0] if rules else None), False


def answer_item(dispatcher: CollectingDispatcher, item, read_as: str = "", also: Sequence = ()) -> None:
    """The category of one dictionary item, how to put it out, and what to do next. ``read_as``: the words
    the citizen wrote, when the item is only the closest match (「ペットボルト」), said so in the answer.
    ``also``: other items of the same category the citizen named with it (「臼と杵」), answered together."""
    info = store().category(item.category)
    names = "".join(f"「{i.name}」" for i in (item, *also))
    lines = [f"「{read_as}」を「{item.name}」としてお答えします。" if read_as else "",
             f"{names}は【{info.name}】です。"]
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


def answer_from_guide(dispatcher: CollectingDispatcher, phrase: str) -> bool:
    """What the dictionary lacks but the city's sorting guide names (「卵の殻」「レシート」): its category and
    how to put it out, from the guide's rule. False when the guide does not name it either."""
    if not phrase:
        return False
    named = guide_named(phrase, MAIN_WORD)  # 「トマト缶」 is no トマト with a typo: the guide's word must be named
    if named is None:
        return False
    answer_rule(dispatcher, phrase, guide_matcher()[1][named])
    return True


def answer_rule(dispatcher: CollectingDispatcher, phrase: str, rule) -> None:
    """「卵の殻」は【燃やせるごみ】です（ごみの分け方「台所のごみ」）, with the rule's day pattern, fee and how."""
    info = store().category(rule.category)
    lines = [f"「{phrase}」は【{info.name}】です（ごみの分け方「{rule.title}」）。",
             f"収集：{rule.frequency_fee}" if rule.frequency_fee else "", rule.how, rule.remark]
    buttons = [button("収集日を調べる", '/ask_collection_day{"garbage_category": "%s"}' % info.name)] \
        if info.calendar_codes else None
    dispatcher.utter_message(text="\n".join(l for l in lines if l and l != "0"), buttons=buttons)


def answer_category_how(dispatcher: CollectingDispatcher, text: str) -> bool:
    """「燃えないごみの出し方」「生ごみの捨て方」: how a kind of garbage is put out, from the sorting guide (the
    rule's day pattern, fee and how); False when the message names no one kind."""
    word = guide_word_in(normalize_text(text))
    rule = guide_rule(word) if word else None
    if rule:
        answer_rule(dispatcher, word, rule)
        return True
    name = named_category(text)
    if not name:
        return False
    info = store().category(name)
    usual = lambda values: Counter(v for v in values if v).most_common(1)[0][0] if any(values) else ""  # noqa: E731
    lines = [f"【{info.name}】の出し方です。"]
    if not info.collected_by_city:
        lines += ["市では収集しておらず、ごみステーションには出せません。", info.who_takes_it or info.how or ""]
    else:
        fee = usual([r.frequency_fee for r in info.rules])
        lines += [f"収集：{fee}" if fee else "", usual([r.how for r in info.rules]) or info.how or ""]
        titles = [r.title for r in info.rules][:5]
        if titles:
            lines.append(f"主なもの：{'、'.join(titles)}など")
        lines.append("物ごとの分け方は、物の名前を送ってください。（例：「フライパンは何ごみ？」）")
    buttons = [button("収集日を調べる", '/ask_collection_day{"garbage_category": "%s"}' % info.name)] \
        if info.calendar_codes else None
    dispatcher.utter_message(text="\n".join(l for l in lines if l), buttons=buttons)
    return True


# Broken into pieces, chipped or cracked: said of glass and pottery.
BROKE_LIKE_GLASS = re.compile(r"割れ|割っ|われ(た|ちゃ|て)|わっちゃ|わった|欠け|かけちゃ|ひび")
FRAGILE = ("ガラス", "陶磁器", "陶器", "磁器", "せともの", "瀬戸物")


def one_category(candidates) -> bool:
    """Several close candidates that the citizen puts out the same way: same category (the dictionary has no
    fee per item; 大型ごみ fees are told at booking), so asking which one would change nothing."""
    return len(candidates) > 1 and len({c.item.category for c in candidates}) == 1


def leaders(candidates) -> List[Any]:
    """The candidates as sure as the best, within the margin that makes one candidate "found" (「缶コーヒーの缶」:
    アルミ缶 and スチール缶 at 0.9, both びん・缶・ペットボトル, カセットボンベ far below at 0.79); none when the best is
    not sure enough to be answered at all."""
    best = candidates[0].score if candidates else 0.0
    return [c for c in candidates if c.score >= best - FOUND_MARGIN] if best >= FOUND_MIN else []


def _narrowed(text: str, result):
    """The one candidate to answer when what the citizen said besides the name leaves candidates of one category
    only, fewer than all; else None:
    * their own guess after the name (「くつの箱は資源？」: 靴の空き箱 (雑がみ), not げた箱 (大型ごみ)), only between
      different things: between variants of one name (「茶筒…燃えるでいい？」「お茶碗は燃えないごみ？」: 金属製 or
      木製・プラ製) the guess says nothing of which one the citizen has, and a wrong guess would be confirmed: asked;
    * it broke into pieces (「お皿割っちゃった」): the glass or pottery variant (食器（ガラス製・陶磁器・金属製）), not the
      wooden or plastic one; a material typed (「プラのコップ割れた」) was already read by the matcher;
    * it says what the dictionary's note on one variant says (「芝生はがした 土ついたまま」: 芝(土のついているもの)), or
      that it is not so (「芝（土はついてない）」: not that one);
    * a word said after the name is in the candidate's name (「デロンギのヒーター（オイルのやつ）」: オイルヒーター)."""
    after = _after(text, result.phrase)
    variants = len({without_notes(normalize_text(c.item.name)) for c in result.candidates}) == 1
    guessed = frozenset() if variants else guessed_categories(after)
    broke = BROKE_LIKE_GLASS.search(normalize_text(text))
    # a word that guesses a category (「アイスのカップってプラ？」「雑がみ？プラ？」) names no variant: it is asked
    said, denied = _said_or_denied(after, {w for c in result.candidates for w in _note_words(c.item.name)
                                           if not guessed_categories(w)})
    named = [m.text for m in analyze(after) if m.pos == "名詞" and len(m.text) >= 2 and m.text not in _NOTE_FILLERS
             and not guessed_categories(m.text)]
    for keep in (lambda c: c.item.category in guessed, lambda c: broke and any(w in c.item.name for w in FRAGILE),
                 lambda c: any(w in said for w in _note_words(c.item.name)),
                 lambda c: denied and not any(w in denied for w in _note_words(c.item.name)),
                 # 「デロンギのヒーター（オイルのやつ）」: a word said after the name is in one candidate's name
                 lambda c: any(w in c.item.name for w in named)):
        fitting = [c for c in result.candidates if keep(c)]
        if fitting and len({c.item.category for c in fitting}) == 1 and len(fitting) < len(result.candidates):
            return fitting[0]
    return None


def _note_words(name: str) -> List[str]:
    """The nouns of the note in brackets of a dictionary name (「芝(土のついているもの)」 → [土]), less the words
    that tell nothing apart (もの, 製, 用)."""
    note = _NAME_NOTE.search(normalize_text(name))
    if not note:
        return []
    return [m.text for m in analyze(note.group(1)) if m.pos == "名詞" and m.text not in _NOTE_FILLERS]


def _said_or_denied(after: str, words: set) -> tuple:
    """Which of ``words`` the citizen said of the thing, and which they said it has not (「土はついてない」「段はない」)."""
    said, denied = set(), set()
    for word in words:
        for found in re.finditer(re.escape(word), after):
            (denied if _DENIED.match(after, found.end()) else said).add(word)
    return said, denied


_DENIED = re.compile(r"[^、。,.!?！？\s]{0,8}?(ない|なし|無し|ません|ナシ)")
_NAME_NOTE = re.compile(r"\(([^()]+)\)")
_NOTE_FILLERS = {"もの", "物", "製", "用", "等", "など", "類", "以外", "含む", "こと", "場合"}


def _after(text: str, phrase: str) -> str:
    """What the citizen wrote after the item's phrase (「くつの箱は資源？」 → 「は資源？」); "" when not found."""
    norm = normalize_text(text)
    at = norm.find(phrase) if phrase else -1
    return norm[at + len(phrase):] if at >= 0 else ""


def reply_to_item_question(dispatcher: CollectingDispatcher, tracker: Tracker, text: str,
                           from_fallback: bool = False) -> bool:
    """Answer from the dictionary; False when nothing plausible was found (the caller decides what to say)."""
    result = matcher().match(text)
    if result.listed:
        # 「臼と杵を捨てたい」: each item named is answered, those of one category together.
        by_category: Dict[str, List[Any]] = {}
        for candidate in result.candidates:
            by_category.setdefault(candidate.item.category, []).append(candidate.item)
        for first, *others in by_category.values():
            answer_item(dispatcher, first, also=others)
        return True
    guide_whole = guide_names_whole(result.phrase) if result.phrase else None
    rule = guide_matcher()[1][guide_whole] if guide_whole else None
    if rule and not (result.candidates and (result.candidates[0].score >= EXACT_READING
                                            or any(c.item.category == store().category(rule.category).name
                                                   for c in result.candidates))):
        # 「シュレッダーくず」「シュレッダーの紙」: the guide names the whole phrase (shredded paper, 雑がみ), the dictionary
        # only a part of it (the machine, 燃やせないごみ); where both say the same category, the dictionary's item
        # is the closer answer (「化粧品のガラスびん」 → 化粧品のびん), and where one of the dictionary's variants has the
        # guide's category the variants are asked (「まないた ふるい」: まな板 of wood is 燃やせるごみ, of other stuff not)
        answer_rule(dispatcher, result.phrase, rule)
        return True
    if result.status == "found" or (result.status == "ambiguous" and (one_category(result.candidates)
                                                                      or one_category(leaders(result.candidates)))):
        # 「子どもの自転車」 → 自転車 / 子供用自転車: both 大型ごみ, so nothing to ask.
        answer_item(dispatcher, result.candidates[0].item)
        return True
    norm = normalize_text(text)
    guide_read = guide_example_read(result.phrase) if result.status == "ambiguous" else None
    if guide_read and guide_read[1] >= FOUND_MIN and guide_read[1] >= result.candidates[0].score + FOUND_MARGIN:
        # 「たん3 の でんち」: the guide reads it (単1～単5電池, 0.79) surer than the dictionary's only likeness (ゲーム機, 0.66)
        answer_rule(dispatcher, result.phrase, guide_matcher()[1][guide_read[0]])
        return True
    if result.status == "ambiguous" and len(result.candidates) == 1 and (
            result.candidates[0].score > SHORT_TYPO or DISPOSAL_STRONG.search(norm) or result.phrase == norm.strip()):
        # One close match (「ペットボルト」 → ペットボトル): answered, saying what it was read as; the
        # answer names the item, so a wrong reading shows at once. A short word one kana off a name (「テレピ」)
        # is answered so when it is the whole message or the message says it is garbage (「テレピの処分」); inside
        # a sentence about something else it may be any word, and gets the もしかして below.
        answer_item(dispatcher, result.candidates[0].item, read_as=result.phrase or text)
        return True
    narrowed = _narrowed(text, result) if result.status == "ambiguous" else None
    if narrowed:
        answer_item(dispatcher, narrowed.item)  # the answer names the item, so a wrong pick shows at once
        return True
    # Kinds of one thing are asked; names only alike in reading (「ルーター」: カード類, コーヒーがら及びフィルター, all
    # below FOUND_MIN) are no kinds of it and are offered below as もしかして
    if result.status == "ambiguous" and len(result.candidates) > 1 and result.candidates[0].score >= FOUND_MIN:
        phrase = result.phrase or text
        dispatcher.utter_message(
            text=f"「{phrase}」はいくつかに分かれます。どれに近いですか？",
            buttons=[button(c.item.name, item_payload(c.item.name)) for c in result.candidates[:5]],
        )
        return True
    if answer_from_guide(dispatcher, result.phrase):
        return True
    if from_fallback:
        return False
    # Not an item: the NLU may have mistaken a municipal question for a garbage one. A question that
    # says ごみ/捨てる is about an item the dictionary does not know: an FAQ answer there would be a guess
    # (「灯油の捨て方」 got the answer about personal computers), so the citizen is told so instead.
    about_an_item = any(word in text for word in GARBAGE_WORDS)
    if not about_an_item and reply_from_faq(dispatcher, tracker, text, current_retriever().retrieve(text)):
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
        if not chosen and category_how_question(text) and answer_category_how(dispatcher, text):
            return [SlotSet("item_name", None)]
        if not matcher().match(text).phrase:  # 「燃えないごみでいい？ ノートパソコン」: the item may follow the question
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
    key = town_key(town)
    chome = chome_after(text, key)  # 「大通西22丁目」: the town's rows are split by 丁目 range (中央区5 / 中央区6)
    slots = slots_for_town(ward, f"{key}{chome}丁目", label=f"{key}{chome}丁目") if chome else {}
    return slots or slots_for_town(ward, key) or {"gc_ward": ward, "gc_town": None, "gc_area": None}


def chome_after(text: str, town: str) -> Optional[int]:
    """The 丁目 written right after the town in ``text`` (「南3条西5丁目の…」, town 南3条西 → 5), else None."""
    import re

    from bot.nlu.normalize import normalize_text

    folded, key = normalize_text(text or ""), normalize_text(town)
    at = folded.find(key)
    found = re.compile(r"\s*(\d+)\s*丁目").match(folded, at + len(key)) if at >= 0 and key else None
    return int(found.group(1)) if found else None


def slots_for_town(ward: str, town_text: str, label: Optional[str] = None) -> Dict[str, Any]:
    found = [a for a in store().addresses_for_town(ward, town_text) if a.area]
    areas = {a.area.name for a in found}
    if len(areas) != 1:
        return {}
    first = found[0]
    label = label or (town_key(first.town) if len({town_key(a.town) for a in found}) == 1 else town_text)
    return {"gc_ward": ward, "gc_town": first.town, "gc_area": first.area.name, "gc_address": f"{ward}{label}"}
