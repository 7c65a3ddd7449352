"""Garbage actions with rasa_sdk's Tracker and CollectingDispatcher, on the full official data."""

import asyncio
import csv
import re
import sqlite3
from datetime import date

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.official_data import OFFICIAL_DATA, OFFICIAL_TODAY, calendar_day, collection_dates

OFFICIAL = OFFICIAL_DATA
TODAY = OFFICIAL_TODAY


@pytest.fixture(scope="module", autouse=True)
def official_data(official_city_data):
    return official_city_data


def tracker(text, slots=None, entities=None, intent="ask_garbage_category", requested_slot=None, active_loop=None):
    slots = dict(slots or {})
    if requested_slot:
        slots["requested_slot"] = requested_slot
    return Tracker("test-user", slots,
                   {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
                    "metadata": {"channel": "web"}},
                   [], False, None, {"name": active_loop} if active_loop else {}, "action_listen")


def run(action, t, domain=None):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, domain or {}))
    return dispatcher.messages, events


def official_dates(area, code):
    return collection_dates(area, code, TODAY)


def test_sorting_answer_with_how_to_put_out():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("フライパンの捨て方"))
    assert "燃やせないごみ" in messages[0]["text"]
    assert "8時30分" in messages[0]["text"]
    assert "収集日を調べる" in [b["title"] for b in messages[0]["buttons"]]


def test_large_item_offers_booking():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("チャリ捨てたい"))
    assert "自転車" in messages[0]["text"] and "大型ごみ" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/menu_bulky_booking"


def test_pc_says_who_takes_it():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ノートパソコンを処分したい"))
    assert "市で収集しないもの" in messages[0]["text"]
    assert "ごみステーションには出せません" in messages[0]["text"]


def test_choice_from_a_quick_reply_answers_that_item():
    from actions.garbage import ActionGarbageCategory
    t = tracker('/ask_garbage_category{"item_name": "ハンガー（木製・プラ製）"}',
                entities=[{"entity": "item_name", "value": "ハンガー（木製・プラ製）"}])
    messages, _ = run(ActionGarbageCategory(), t)
    assert "燃やせるごみ" in messages[0]["text"]


def test_unknown_item_is_logged_and_quick_replies_never_exceed_line_limits(official_data):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ぴかぴかすーぱーましんは何ごみ"))
    assert "見つかりませんでした" in messages[0]["text"]
    for b in messages[0].get("buttons") or []:
        assert len(b["title"]) <= 20
    rows = sqlite3.connect(official_data / "assistant.db").execute(
        "select kind, channel, text from unanswered_questions").fetchall()
    assert ("garbage_item", "web", "ぴかぴかすーぱーましんは何ごみ") in rows


def test_fallback_answers_a_bare_item_name_and_logs_real_nonsense(official_data):
    from actions.fallback import ActionFallback
    messages, _ = run(ActionFallback(), tracker("れいぞうこ", intent="nlu_fallback"))
    assert "家電4品目" in messages[0]["text"]
    messages, _ = run(ActionFallback(), tracker("ふもももも", intent="nlu_fallback"))
    assert messages[0]["response"] == "utter_fallback"


def test_form_resolves_ward_and_town_from_one_sentence():
    from actions.garbage import ValidateCollectionDayForm
    t = tracker("白石区本通の燃えるゴミの日", intent="ask_collection_day", active_loop="collection_day_form")
    _, events = run(ValidateCollectionDayForm(), t, {"forms": {"collection_day_form": {"required_slots": ["gc_ward", "gc_town"]}}, "slots": {}})
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["gc_area"] == "白石区1" and slots["gc_ward"] == "白石区"
    assert slots.get("requested_slot") is None


def test_collection_day_answer_matches_the_calendar():
    from actions.garbage import ActionCollectionDay
    t = tracker("燃やせるごみの日はいつ？", slots={"gc_area": "白石区1", "gc_address": "白石区本通"}, intent="ask_collection_day")
    messages, _ = run(ActionCollectionDay(), t)
    for day in official_dates("白石区1", "1"):
        assert day in messages[0]["text"]


def test_next_seven_days_for_all_categories():
    from actions.garbage import ActionCollectionDay
    t = tracker("ごみの日を教えて", slots={"gc_area": "中央区5", "gc_address": "中央区宮ケ丘"}, intent="ask_collection_day")
    messages, _ = run(ActionCollectionDay(), t)
    assert "7日間" in messages[0]["text"]
    assert "1月15日（水）" in messages[0]["text"] or "収集はありません" in messages[0]["text"]


def test_calendar_not_covering_today_is_said_honestly(monkeypatch):
    from actions.garbage import ActionCollectionDay
    monkeypatch.setenv("ASSISTANT_TODAY", "2026-11-26")
    t = tracker("燃やせるごみの日はいつ？", slots={"gc_area": "白石区1", "gc_address": "白石区本通"}, intent="ask_collection_day")
    messages, _ = run(ActionCollectionDay(), t)
    assert "含まれていない" in messages[0]["text"] and "011-222-4894" in messages[0]["text"]


def test_every_collection_word_names_a_known_category():
    from bot.nlu.address_text import category_words
    from bot.knowledge.garbage_knowledge import store
    known = set(store().category_names())
    assert set(category_words().values()) <= known


def test_a_new_postcode_replaces_the_remembered_area_and_its_label():
    from actions.garbage import ValidateCollectionDayForm
    remembered = {"gc_area": "白石区1", "gc_address": "白石区本通", "gc_ward": "白石区", "gc_town": "本通（北）"}
    t = tracker("064-0959 のびんの日", slots=remembered, intent="ask_collection_day", active_loop="collection_day_form")
    _, events = run(ValidateCollectionDayForm(), t, {"forms": {}, "slots": {}})
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["gc_area"] == "中央区5" and slots["gc_address"] == "中央区宮ケ丘"


def test_category_asked_before_the_address_questions_is_used():
    from actions.garbage import ActionCollectionDay
    history = [
        {"event": "user", "text": "燃やせるごみの日はいつ？", "parse_data": {"intent": {"name": "ask_collection_day"}}},
        {"event": "user", "text": "白石区", "parse_data": {"intent": {"name": "inform_address"}}},
        {"event": "user", "text": "本通", "parse_data": {"intent": {"name": "inform_address"}}},
    ]
    t = tracker("本通", slots={"gc_area": "白石区1", "gc_address": "白石区本通"}, intent="inform_address")
    t.events = history
    messages, _ = run(ActionCollectionDay(), t)
    assert "【燃やせるごみ】" in messages[0]["text"]
    for day in official_dates("白石区1", "1"):
        assert day in messages[0]["text"]


def test_without_city_data_the_user_gets_an_apology_not_silence(monkeypatch, tmp_path):
    from actions.fallback import ActionFallback
    from actions.garbage import ActionCollectionDay, ActionGarbageCategory
    from bot.knowledge import garbage_knowledge
    monkeypatch.setenv("CITYDATA_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    garbage_knowledge._state.clear()
    try:
        messages, _ = run(ActionGarbageCategory(), tracker("ソファは何ごみ？"))
        assert "011-222-4894" in messages[0]["text"]
        messages, _ = run(ActionCollectionDay(), tracker("ごみの日", slots={"gc_area": "白石区1"}))
        assert "011-222-4894" in messages[0]["text"]
        messages, _ = run(ActionFallback(), tracker("ふもも", intent="nlu_fallback"))
        assert messages[0]["response"] == "utter_fallback"
    finally:
        garbage_knowledge._state.clear()


def test_collection_day_answers_match_the_calendar_for_60_postcode_category_date_cases(monkeypatch):
    """Postcode → area → dates, computed here from the CSV files alone, against the actions' answers."""
    import random
    from actions.garbage import ActionCollectionDay, ValidateCollectionDayForm

    codes = {"燃やせるごみ": "1", "燃やせないごみ": "2", "びん・缶・ペットボトル": "8",
             "容器包装プラスチック": "9", "雑がみ": "10", "枝・葉・草": "11"}
    with open(OFFICIAL / "gomi_calendar.csv", encoding="utf-8-sig") as handle:
        calendar = list(csv.DictReader(handle))
    columns = [c for c in calendar[0] if c not in ("日付", "曜")]
    with open(OFFICIAL / "sapporo_ken.csv", encoding="utf-8-sig") as handle:
        postcodes = [r for r in csv.DictReader(handle) if r["part"] != "0"]

    def column(ward, part):  # the calendar numbers 清田区 5-6 and 手稲区 5-7: take the part-th column of the ward
        own = sorted((c for c in columns if c.startswith(ward) and c[len(ward):].isdigit()), key=lambda c: int(c[len(ward):]))
        return f"{ward}{part}" if f"{ward}{part}" in own else own[int(part) - 1]

    def day_of(row):
        return calendar_day(row["日付"])

    rng = random.Random(20261126)
    checked = 0
    for _ in range(60):
        row = rng.choice(postcodes)
        category = rng.choice(list(codes))
        today = day_of(rng.choice(calendar[:300]))
        area = column(row["kanji_district"], row["part"])
        expected = [day_of(r) for r in calendar if day_of(r) >= today and r[area] == codes[category]][:3]
        monkeypatch.setenv("ASSISTANT_TODAY", today.isoformat())
        pc = f"{row['post_code'][:3]}-{row['post_code'][3:]}"
        text = f"{pc}の{category}の日"
        _, events = run(ValidateCollectionDayForm(), tracker(text, intent="ask_collection_day",
                                                             active_loop="collection_day_form"), {"forms": {}, "slots": {}})
        slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
        assert slots.get("gc_area") == area, (pc, slots)
        messages, _ = run(ActionCollectionDay(), tracker(text, slots=slots, intent="ask_collection_day"))
        answer = messages[0]["text"]
        if expected:
            without_weekdays = re.sub(r"（.）", "", answer)
            assert "、".join(f"{d.month}月{d.day}日" for d in expected) in without_weekdays, (text, today, answer)
        else:
            assert "期間内にありません" in answer
        checked += 1
    assert checked == 60
