"""Collection-day actions (actions/collection_day.py) with rasa_sdk's Tracker and CollectingDispatcher, on the
full official data: the form finds the area, the answer matches the calendar, and when the calendar has ended
the answer says so and gives the calendar's usual days, never a date after it."""

import csv
import re
from datetime import date

import pytest
from tests.engine import trackers
from tests.engine.trackers import run

from tests.official_data import OFFICIAL_DATA, OFFICIAL_TODAY, calendar_day, collection_dates

OFFICIAL = OFFICIAL_DATA
TODAY = OFFICIAL_TODAY
EXPIRED = "2026-11-30"  # after the official calendar (2024-10-01..2025-09-30)


@pytest.fixture(scope="module", autouse=True)
def official_data(official_city_data):
    return official_city_data


def tracker(text, slots=None, entities=None, intent="ask_collection_day", requested_slot=None, active_loop=None):
    return trackers.tracker(text, slots, entities, intent, requested_slot, active_loop)


def official_dates(area, code):
    return collection_dates(area, code, TODAY)


def test_form_resolves_ward_and_town_from_one_sentence():
    from actions.collection_day import ValidateCollectionDayForm
    t = tracker("白石区本通の燃えるゴミの日", intent="ask_collection_day", active_loop="collection_day_form")
    _, events = run(ValidateCollectionDayForm(), t, {"forms": {"collection_day_form": {"required_slots": ["gc_ward", "gc_town"]}}, "slots": {}})
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["gc_area"] == "白石区1" and slots["gc_ward"] == "白石区"
    assert slots.get("requested_slot") is None


def test_collection_day_answer_matches_the_calendar():
    from actions.collection_day import ActionCollectionDay
    t = tracker("燃やせるごみの日はいつ？", slots={"gc_area": "白石区1", "gc_address": "白石区本通"}, intent="ask_collection_day")
    messages, _ = run(ActionCollectionDay(), t)
    for day in official_dates("白石区1", "1"):
        assert day in messages[0]["text"]


def test_next_seven_days_for_all_categories():
    from actions.collection_day import ActionCollectionDay
    t = tracker("ごみの日を教えて", slots={"gc_area": "中央区5", "gc_address": "中央区宮ケ丘"}, intent="ask_collection_day")
    messages, _ = run(ActionCollectionDay(), t)
    assert "7日間" in messages[0]["text"]
    assert "1月15日（水）" in messages[0]["text"] or "収集はありません" in messages[0]["text"]


def official_column(area):
    """(day, code) of one calendar column, straight from the CSV."""
    with open(OFFICIAL / "gomi_calendar.csv", encoding="utf-8-sig") as handle:
        return [(calendar_day(row["日付"]), int(row[area])) for row in csv.DictReader(handle)]


def weekdays_seen(area, code, start=date(2025, 7, 1), end=date(2025, 9, 30)):
    return "・".join("月火水木金土日"[w] for w in sorted({d.weekday() for d, c in official_column(area)
                                                       if c == code and start <= d <= end}))


def dates_stated(text):
    """Every 「M月D日」 in the text, with the year written before it (None when there is none)."""
    return [(int(y) if y else None, int(m), int(d)) for y, m, d in re.findall(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日", text)]


def expired_answer(monkeypatch, text, area, address, today=EXPIRED, entities=None):
    from actions.collection_day import ActionCollectionDay
    monkeypatch.setenv("ASSISTANT_TODAY", today)
    messages, _ = run(ActionCollectionDay(), tracker(text, slots={"gc_area": area, "gc_address": address},
                                                     entities=entities))
    assert len(messages) == 1
    return messages[0]["text"]


def assert_no_invented_date(answer, last=date(2025, 9, 30)):
    for year, month, day in dates_stated(answer):
        assert year is not None, answer  # every date is written with its year, so none reads as upcoming
        assert date(year, month, day) <= last, answer


def test_calendar_not_covering_today_is_said_with_the_usual_days_of_the_category(monkeypatch):
    answer = expired_answer(monkeypatch, "燃やせるごみの日はいつ？", "白石区1", "白石区本通")
    assert "（2024年10月1日〜2025年9月30日）に今日の日付が含まれていません" in answer
    assert weekdays_seen("白石区1", 1) == "火・金"
    assert "前回のカレンダーの最後の3か月（2025年7月〜9月）では、白石区本通の【燃やせるごみ】は通常、毎週火・金曜日でした。" in answer
    assert "https://www.city.sapporo.jp/" in answer and "011-222-4894" in answer and "最新のカレンダー" in answer
    assert_no_invented_date(answer)


def test_not_weekly_categories_give_their_cadence_and_the_last_real_day(monkeypatch):
    column = official_column("中央区1")
    last_unburnable = max(d for d, c in column if c == 2)
    answer = expired_answer(monkeypatch, "燃やせないごみはいつ", "中央区1", "中央区大通西10丁目")
    assert weekdays_seen("中央区1", 2) == "水"
    assert f"【燃やせないごみ】は通常、4週に1回の水曜日（カレンダーの最後の収集日は{last_unburnable.year}年" \
           f"{last_unburnable.month}月{last_unburnable.day}日（水））でした。" in answer
    assert_no_invented_date(answer)
    answer = expired_answer(monkeypatch, "雑がみの日", "中央区1", "中央区大通西10丁目")
    assert "【雑がみ】は通常、隔週水曜日（" in answer
    answer = expired_answer(monkeypatch, "枝・葉・草の日", "中央区1", "中央区大通西10丁目")
    assert not any(c == 11 for d, c in column if date(2024, 12, 1) <= d <= date(2025, 4, 30))
    assert "【枝・葉・草】は通常、4週に1回の水曜日（" in answer and "12月〜4月は収集なし）" in answer
    assert_no_invented_date(answer)


def test_without_a_category_every_category_of_the_area_gets_its_usual_days(monkeypatch):
    answer = expired_answer(monkeypatch, "ごみの日を教えて", "中央区6", "中央区南3条西5丁目")
    assert "含まれていません" in answer and "中央区南3条西5丁目の収集は通常、次のとおりでした。" in answer
    lines = answer.splitlines()
    for code, name, cadence in [(1, "燃やせるごみ", "毎週"), (2, "燃やせないごみ", "4週に1回の"), (8, "びん・缶・ペット", "毎週"),
                                (9, "容器プラ", "毎週"), (10, "雑がみ", "隔週"), (11, "枝・葉・草", "4週に1回の")]:
        line = next(l for l in lines if l.startswith(f"・{name}"))
        assert f"：{cadence}{weekdays_seen('中央区6', code)}曜日" in line, line
    assert_no_invented_date(answer)


def test_large_garbage_is_by_booking_whatever_the_calendar(monkeypatch):
    answer = expired_answer(monkeypatch, '/ask_collection_day{"garbage_category": "大型ごみ"}', "白石区1", "白石区本通",
                            entities=[{"entity": "garbage_category", "value": "大型ごみ"}])
    assert "申込制" in answer and "含まれていません" not in answer


def test_before_the_calendar_starts_its_first_months_are_given(monkeypatch):
    answer = expired_answer(monkeypatch, "プラの日", "白石区1", "白石区本通", today="2024-09-15")
    assert "含まれていません" in answer
    assert weekdays_seen("白石区1", 9, date(2024, 10, 1), date(2024, 12, 31)) == "月"
    assert "登録されているカレンダーの最初の3か月（2024年10月〜12月）では、白石区本通の【容器包装プラスチック】は通常、毎週月曜日です。" in answer


def test_every_collection_word_names_a_known_category():
    from bot.nlu.address_text import category_words
    from bot.knowledge.garbage_knowledge import store
    known = set(store().category_names())
    assert set(category_words().values()) <= known


def test_a_new_postcode_replaces_the_remembered_area_and_its_label():
    from actions.collection_day import ValidateCollectionDayForm
    remembered = {"gc_area": "白石区1", "gc_address": "白石区本通", "gc_ward": "白石区", "gc_town": "本通（北）"}
    t = tracker("064-0959 のびんの日", slots=remembered, intent="ask_collection_day", active_loop="collection_day_form")
    _, events = run(ValidateCollectionDayForm(), t, {"forms": {}, "slots": {}})
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["gc_area"] == "中央区5" and slots["gc_address"] == "中央区宮ケ丘"


def test_category_asked_before_the_address_questions_is_used():
    from actions.collection_day import ActionCollectionDay
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


def test_collection_day_answers_match_the_calendar_for_60_postcode_category_date_cases(monkeypatch):
    """Postcode → area → dates, computed here from the CSV files alone, against the actions' answers."""
    import random
    from actions.collection_day import ActionCollectionDay, ValidateCollectionDayForm

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


def test_the_sample_data_keeps_its_note_when_its_calendar_has_ended(monkeypatch, tmp_path):
    import subprocess

    from bot.knowledge import garbage_knowledge
    from tools.model import ENGINE_BIN, ROOT, engine_env
    url = f"sqlite:///{tmp_path / 'sample.db'}"
    subprocess.run([str(ENGINE_BIN / "python"), "-m", "bot.knowledge.citydata", "load", str(ROOT / "data" / "city_sample"),
                    "--db", url], cwd=ROOT, env=engine_env(), check=True, stdout=subprocess.DEVNULL)
    monkeypatch.setenv("CITYDATA_DB_URL", url)
    garbage_knowledge._state.clear()
    try:
        answer = expired_answer(monkeypatch, "燃やせるごみの日", "中央区5", "中央区宮ケ丘", today="2027-11-30")
    finally:
        garbage_knowledge._state.clear()
    assert "（2026年10月1日〜2027年9月30日）に今日の日付が含まれていません" in answer
    assert "【燃やせるごみ】は通常、毎週" in answer and "サンプルデータ" in answer
    assert_no_invented_date(answer, last=date(2027, 9, 30))


def test_the_chome_after_the_town_picks_the_area_of_its_range():
    """中央区's 大通西 and 南3条西 are two areas each, split by 丁目 (sapporo_ken.csv: （１〜１９丁目） / （２０〜２８丁目））."""
    from actions.collection_day import ValidateCollectionDayForm
    for text, area, label in [("中央区南3条西5丁目の燃えるゴミの日っていつ", "中央区6", "中央区南3条西5丁目"),
                              ("中央区大通西22丁目 もえるごみ", "中央区5", "中央区大通西22丁目"),
                              ("中央区大通西１０丁目のびんの日", "中央区6", "中央区大通西10丁目")]:
        _, events = run(ValidateCollectionDayForm(), tracker(text, active_loop="collection_day_form"),
                        {"forms": {}, "slots": {}})
        slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
        assert (slots.get("gc_area"), slots.get("gc_address")) == (area, label), (text, slots)


def _form_slots(text, slots=None, requested_slot=None, intent="inform_address"):
    from actions.collection_day import ValidateCollectionDayForm
    t = tracker(text, slots=slots, intent=intent, requested_slot=requested_slot, active_loop="collection_day_form")
    messages, events = run(ValidateCollectionDayForm(), t, {"forms": {}, "slots": {}})
    return messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def test_a_town_in_two_wards_is_asked_once_with_only_those_wards_then_answered():
    """「北1条東」: 中央区 and 東区 both have one. The form asks itself (no second, generic 区 question: requested_slot is
    gc_area, which has no utter_ask), keeps the place in gc_town, and the ward typed next completes it."""
    messages, slots = _form_slots("北1条東の燃えるごみ")
    assert [len(m.get("buttons") or []) for m in messages] == [2]
    assert slots["requested_slot"] == "gc_area" and slots["gc_town"] == "北1条東" and not slots.get("gc_ward")
    _, done = _form_slots("東区です", slots={"gc_town": "北1条東"}, requested_slot="gc_area")
    assert (done["gc_area"], done["gc_address"], done.get("requested_slot")) == ("東区4", "東区北1条東", None)


def test_a_question_left_unanswered_does_not_silence_the_next_request():
    _, slots = _form_slots("燃えるごみの日はいつ", slots={"gc_town": "北1条東"}, intent="ask_collection_day")
    assert slots.get("gc_town") is None and slots.get("requested_slot") == "gc_ward"


def test_another_question_while_the_form_asks_is_left_to_the_rest_of_the_bot():
    messages, slots = _form_slots("電池は何ごみ？", slots={"gc_town": "北1条東"}, requested_slot="gc_area",
                                  intent="ask_garbage_category")
    assert messages == [] and "gc_area" not in slots


def test_an_unknown_answer_to_the_ward_question_asks_again_politely():
    messages, slots = _form_slots("わからない", slots={"gc_town": "北1条東"}, requested_slot="gc_area",
                                  intent="nlu_fallback")
    assert "分かりませんでした" in messages[0]["text"] and [b["title"] for b in messages[1]["buttons"]] == ["中央区", "東区"]
    assert not slots.get("gc_area")


def test_the_chome_typed_after_the_town_question_completes_it():
    messages, slots = _form_slots("中央区南3条西")
    assert slots["gc_ward"] == "中央区" and slots["gc_town"] == "南3条西" and slots["requested_slot"] == "gc_area"
    assert len(messages[0]["buttons"]) == 2
    _, done = _form_slots("5丁目", slots={"gc_ward": "中央区", "gc_town": "南3条西"}, requested_slot="gc_area")
    assert (done["gc_area"], done["gc_address"]) == ("中央区6", "中央区南3条西5丁目")
