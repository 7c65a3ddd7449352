"""Typed answers at every question of the booking flow that shows buttons (issue #12, "the front door").

On LINE the quick replies vanish after the next message and people type; on the web they type too. Each
button question of actions/booking.py is listed in BUTTON_QUESTIONS below with the typed equivalents a citizen
uses (tests/frontdoor/booking_a.yml), and each is answered here through the real action server code: the form
validator (its extract_/validate_ methods, run the way Rasa runs it after a user message) or
action_manage_booking with the tracker Rasa would send — the previous bot message with its buttons, then the
typed message. Every typed answer is tried with what DIET made of it and with intents it gets wrong
(「ううん」 as affirm, 「キャンセルする」 as stop, 「3日」 as ask_collection_day): the words decide, not the guess.

The handoff flow's button questions are the gateway's (tests/gateway/test_typed_answers.py); the whole
conversation, typed only, runs through the real stack in tests/e2e/test_typed_booking.py.
"""

import asyncio
import itertools
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.official_data import OFFICIAL_TODAY

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
TODAY = date.fromisoformat(OFFICIAL_TODAY)  # Wednesday 2025-01-15; 中央区's 大型ごみ days are Mondays and Thursdays
NEXT_MONDAY = date(2025, 1, 20)
NEXT_THURSDAY = date(2025, 1, 23)

# Every question of the booking flow that shows buttons, and where its typed answers are read.
BUTTON_QUESTIONS = {
    "bb_name": "お名前（任意）: 「なし」 — validate_bb_name",
    "bb_date": "収集日を選んでください: the next dates — extract_bb_date / validate_bb_date",
    "remind_offer": "前日にLINEでお知らせしましょうか？ (LINE, after the receipt): はい / いいえ — reminder_answer in "
                    "ActionManageBooking",
    "bb_confirm": "この内容で申し込みますか？: はい / いいえ（やめる） / 品目・住所・日付を直す — extract_bb_confirm",
    "which_booking": "どの申し込みですか？: one button per booking — ActionManageBooking.typed_booking",
    "manage_menu": "the booking shown: 収集日を変える / 品目を変える / キャンセルする — typed_choice",
    "cancel": "この申し込みをキャンセルしますか？: キャンセルする / やめない — read_yes_no(kind='cancel')",
    "change_date": "新しい収集日を選んでください: the next dates — ActionManageBooking.typed_date",
    "open_limit": "the chat's open bookings at the limit (issue #13): one button per booking; typed, the manage "
                  "flow's words the text names (「予約を確認したい」 → which booking) — tests/engine/test_booking_limits.py",
}


@pytest.fixture(scope="module", autouse=True)
def official_data(official_city_data):
    return official_city_data


def test_every_button_question_of_the_booking_flow_is_listed():
    """A new question with buttons in actions/booking.py or the booking part of domain.yml must join the list
    (and get its typed answers tested) — the count of places that show buttons is checked."""
    source = (ROOT / "actions" / "booking.py").read_text(encoding="utf-8")
    in_actions = len(re.findall(r"buttons=", source))
    # ActionAskBbDate, ActionAskBbConfirm, the reminder offered with the receipt (LINE), which booking, the booking
    # shown (its menu), cancel, change date, the open bookings at the limit, and three that repeat a question's own
    # buttons (cancel and the menu asked again, a new date that cannot be).
    assert in_actions == 11, f"buttons shown in {in_actions} places of actions/booking.py: list the new question"
    in_domain = sorted(name for name, variants in DOMAIN["responses"].items()
                       if name.startswith("utter_ask_b") and any(v.get("buttons") for v in variants))
    assert in_domain == ["utter_ask_bb_name"]
    assert {"bb_name", "bb_date", "remind_offer", "bb_confirm"} <= set(BUTTON_QUESTIONS)


# ------------------------------------------------------------------ the booking form, as Rasa runs it
def user_event(text, intent, entities=()):
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9},
                                                          "entities": list(entities)}}


def form_turn(slot, text, intent="nlu_fallback", mapped=None, slots=None, channel="web", entities=()):
    """One user message while the form asks for ``slot``: the events Rasa sends to validate_bulky_booking_form
    (the question with its buttons, the message, the slots its domain mappings filled, the form's own run).
    Returns (every slot the validator set, what it said)."""
    from actions.booking import ValidateBulkyBookingForm
    mapped = dict(mapped or {})
    events = [{"event": "action", "name": "bulky_booking_form"},
              {"event": "active_loop", "name": "bulky_booking_form"},
              {"event": "bot", "text": "（質問）", "data": {"buttons": []}},
              {"event": "action", "name": "action_listen"},
              user_event(text, intent, entities),
              *[{"event": "slot", "name": k, "value": v} for k, v in mapped.items()],
              {"event": "slot", "name": "requested_slot", "value": slot},
              {"event": "action", "name": "bulky_booking_form"},
              *[{"event": "slot", "name": k, "value": v} for k, v in mapped.items()]]
    current = {**(slots or {}), **mapped, "requested_slot": slot}
    tracker = Tracker("web:typed-form", current,
                      {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": list(entities),
                       "metadata": {"channel": channel}},
                      events, False, None, {"name": "bulky_booking_form"}, "bulky_booking_form")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateBulkyBookingForm().run(dispatcher, tracker, DOMAIN))
    values = {}
    for event in result:
        if event.get("event") == "slot":
            values[event["name"]] = event["value"]
    return values, [m.get("text") or m.get("response") or "" for m in dispatcher.messages]


FILLED = {"bb_items": "ソファー", "bb_item_list": [{"name": "ソファー", "quantity": 1, "fee": 1000}],
          "bb_address": "中央区南27条西10丁目1-5", "bb_ward": "中央区", "bb_town": "南27条西", "bb_area": "-",
          "bb_phone": "09012345678", "bb_name": "-", "bb_date": NEXT_MONDAY.isoformat()}

YES_AT_CONFIRM = ["はい", "うん", "お願いします", "それで", "OK", "ＯＫ", "おけ", "大丈夫です", "そうです",
                  "はい、お願いします", "ええ、お願いします", "はい、それでお願いします", "それでお願いします",
                  "いいよ", "了解", "オッケー", "はい！", "この内容で大丈夫です", "申し込みます"]
NO_AT_CONFIRM = ["いいえ", "いや", "ううん", "やめる", "やめます", "キャンセル", "結構です", "だめ", "ちがう",
                 "いいえ、やめておきます", "いや、やっぱりいいです", "申し込みません", "いらないです"]


@pytest.mark.parametrize("text", YES_AT_CONFIRM)
@pytest.mark.parametrize("diet", ["affirm", "nlu_fallback", "deny", "greet", "stop"])
def test_confirmation_typed_yes_books_whatever_diet_said(text, diet):
    mapped = {"affirm": {"bb_confirm": "yes"}, "deny": {"bb_confirm": "no"}}.get(diet)
    values, _ = form_turn("bb_confirm", text, diet, mapped, FILLED)
    assert values["bb_confirm"] == "yes"


@pytest.mark.parametrize("text", NO_AT_CONFIRM)
@pytest.mark.parametrize("diet", ["deny", "affirm", "nlu_fallback", "stop"])
def test_confirmation_typed_no_never_books(text, diet):
    mapped = {"affirm": {"bb_confirm": "yes"}, "deny": {"bb_confirm": "no"}}.get(diet)
    values, _ = form_turn("bb_confirm", text, diet, mapped, FILLED)
    assert values["bb_confirm"] == "no"


@pytest.mark.parametrize("text", ["うんこ", "ちょっと考えます", "いいです"])
def test_confirmation_is_asked_again_when_the_words_are_no_yes_or_no_even_if_diet_says_affirm(text):
    values, said = form_turn("bb_confirm", text, "affirm", {"bb_confirm": "yes"}, FILLED)
    assert values["bb_confirm"] is None
    assert any("「はい」" in s for s in said)


@pytest.mark.parametrize("text, field, cleared", [
    ("品目を直す", "items", "bb_items"), ("住所を直す", "address", "bb_address"), ("日付を直す", "date", "bb_date"),
    ("住所が間違っています", "address", "bb_address"), ("電話番号を直したい", "phone", "bb_phone"),
    ("日にちを変えたい", "date", "bb_date")])
@pytest.mark.parametrize("diet", ["edit_booking", "menu_faq", "nlu_fallback"])
def test_confirmation_typed_edit_asks_that_part_again(text, field, cleared, diet):
    values, _ = form_turn("bb_confirm", text, diet, slots=FILLED)
    assert values["bb_confirm"] is None and values[cleared] is None


def test_confirmation_typed_new_date_changes_it_and_shows_the_summary_again():
    values, _ = form_turn("bb_confirm", "日にちを来週の木曜に変えたい", "manage_booking", slots=FILLED)
    assert values["bb_date"] == NEXT_THURSDAY.isoformat() and values["bb_confirm"] is None


def test_confirmation_leaves_a_request_for_a_person_to_its_rule():
    values, _ = form_turn("bb_confirm", "人と話したい", "request_human", slots=FILLED)
    assert "bb_confirm" not in values  # nothing extracted: the form is rejected and the handoff rule runs


def test_no_reminder_question_before_the_summary_on_line():
    """On LINE the 「はい」 after the phone number is the summary's: the reminder is offered after the receipt."""
    values, _ = form_turn("bb_phone", "090-1234-5678", "nlu_fallback", {"bb_phone": "090-1234-5678"},
                          {k: v for k, v in FILLED.items() if k != "bb_phone"}, "line")
    assert values["requested_slot"] == "bb_confirm"
    assert "bb_remind" not in DOMAIN["slots"] and "bb_remind" not in DOMAIN["forms"]["bulky_booking_form"]["required_slots"]


def date_answers():
    d = NEXT_MONDAY
    return [f"{d.month}月{d.day}日", f"{d.day}日", f"{d.month}/{d.day}", "来週の月曜", "来週の月曜日でお願いします",
            "1月20日（月）"]  # the last is the button's title, typed


@pytest.mark.parametrize("text", date_answers())
@pytest.mark.parametrize("diet", ["choose_date", "ask_collection_day", "nlu_fallback"])
def test_date_question_typed_date(text, diet):
    # choose_date without the date entity maps nothing in domain.yml; the other intents map the text.
    mapped = None if diet == "choose_date" else {"bb_date": text}
    values, _ = form_turn("bb_date", text, diet, mapped, {k: v for k, v in FILLED.items() if k != "bb_date"})
    assert values["bb_date"] == NEXT_MONDAY.isoformat()


def test_confirmation_yes_but_more_items_changes_them_and_asks_again():
    values, said = form_turn("bb_confirm", "うん、でもソファーも追加したい", "affirm", {"bb_confirm": "yes"}, FILLED)
    assert values["bb_confirm"] is None and values["bb_item_list"] == [{"name": "ソファー", "quantity": 2, "fee": 1000}]


def test_date_question_typed_relative_day_is_read_and_checked():
    # あさって is Friday 1月17日, not a collection day of 中央区: said so, and the nearest day it has is taken
    # (the summary shows both; nothing is booked before 「はい」).
    values, said = form_turn("bb_date", "あさって", "nlu_fallback", None, {**FILLED, "bb_date": None})
    assert "1月17日" in said[0] and "収集日ではありません" in said[0] and "1月20日" in said[0]
    assert values["bb_date"] == NEXT_MONDAY.isoformat() and values["bb_date_asked"] == "2025-01-17"


@pytest.mark.parametrize("slot, text", [("bb_items", "はい"), ("bb_items", "いいえ"), ("bb_items", "うん"),
                                        ("bb_address", "はい"), ("bb_address", "いいえ"), ("bb_date", "はい")])
def test_a_yes_or_no_is_never_an_item_an_address_or_a_date(slot, text):
    values, said = form_turn(slot, text, "affirm", {slot: text}, {} if slot == "bb_items" else FILLED)
    assert values[slot] is None and values.get("bb_item_list") is None
    assert said and "ハイザー" not in " ".join(said)  # asked again, with what is needed


def test_a_typed_stop_word_at_the_items_question_ends_the_form():
    values, _ = form_turn("bb_items", "やめておきます", "deny", {"bb_items": "やめておきます"})
    assert values["requested_slot"] is None and values["bb_confirm"] == "no"


@pytest.mark.parametrize("text, expected", [("なし", "-"), ("いいえ", "-"), ("佐藤", "佐藤"), ("はい", None)])
def test_name_question(text, expected):
    values, _ = form_turn("bb_name", text, "nlu_fallback", {"bb_name": text}, FILLED)
    assert values["bb_name"] == expected


# ------------------------------------------------------------------ after booking: action_manage_booking
def run_action(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, events


def manage_tracker(sender, text, intent, entities=(), slots=None, history=()):
    return Tracker(sender, dict(slots or {}),
                   {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": list(entities),
                    "metadata": {"channel": "line"}},
                   [*history, {"event": "action", "name": "action_listen"}, user_event(text, intent, entities)],
                   False, None, {}, "action_listen")


def slots_after(events, slots):
    now = dict(slots)
    for event in events:
        if event.get("event") == "slot":
            now[event["name"]] = event["value"]
    return now


class Chat:
    """One citizen's chat with action_manage_booking: each turn sends the tracker Rasa would send (the last
    bot messages with their buttons, then the message), like the rules route it (data/rules/booking.yml)."""

    def __init__(self, sender):
        self.sender, self.slots, self.history = sender, {}, []

    def say(self, text, intent="nlu_fallback", entities=()):
        from actions.booking import ActionManageBooking
        tracker = manage_tracker(self.sender, text, intent, entities, self.slots, self.history)
        messages, events = run_action(ActionManageBooking(), tracker)
        self.slots = slots_after(events, self.slots)
        self.history = [*tracker.events, {"event": "action", "name": "action_manage_booking"},
                        *[{"event": "bot", "text": m.get("text"), "data": {"buttons": m.get("buttons") or []}}
                          for m in messages]]
        return messages, events


def _spare_days():
    """Bookable days other than the two the tests type (each day takes 30 bookings per ward)."""
    from common import booking
    days = [d for d in booking.available_dates("中央区", TODAY, count=20) if d not in (NEXT_MONDAY, NEXT_THURSDAY)]
    while True:
        yield from days


SPARE_DAYS = _spare_days()


PHONES = itertools.count(1)  # each booking another citizen's number: at most 3 open bookings per number (issue #13)


def book(sender, day=None):
    from actions.booking import ActionSubmitBooking
    day = day or next(SPARE_DAYS)
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": hash(sender) % 10 ** 6}]
    slots = {**FILLED, "bb_date": day.isoformat(), "bb_confirm": "yes", "bb_phone": f"0902000{next(PHONES):04d}"}
    tracker = Tracker(sender, slots, {"text": "はい", "intent": {"name": "affirm"}, "entities": [],
                                      "metadata": {"channel": "line"}}, form_start, False, None, {}, "action_listen")
    _, events = run_action(ActionSubmitBooking(), tracker)
    return next(e["value"] for e in events if e.get("name") == "bm_receipt")


def status(receipt):
    from common import booking
    return booking.store().get(receipt)


CANCEL_YES = ["はい", "うん", "お願いします", "キャンセルする", "キャンセル", "はい、キャンセルで", "キャンセルお願いします",
              "取り消してください", "OK"]
CANCEL_NO = ["やめない", "いいえ", "やっぱりキャンセルしないです", "そのままで", "ううん", "やめておきます"]


@pytest.mark.parametrize("text", CANCEL_YES)
@pytest.mark.parametrize("diet", ["affirm", "stop", "nlu_fallback", "greet"])
def test_cancel_question_typed_yes_cancels(text, diet):
    sender = f"line:cancel-yes-{abs(hash((text, diet)))}"
    receipt = book(sender)
    chat = Chat(sender)
    ask, _ = chat.say("大型ごみの予約をキャンセルしたい", "manage_booking", [{"entity": "bm_action", "value": "cancel"}])
    assert "キャンセルしますか" in ask[0]["text"]
    done, _ = chat.say(text, diet)
    assert "キャンセルしました" in done[0]["text"] and status(receipt).status == "cancelled"


@pytest.mark.parametrize("text", CANCEL_NO + ["/deny"])
@pytest.mark.parametrize("diet", ["deny", "stop", "affirm", "nlu_fallback"])
def test_cancel_question_typed_no_keeps_the_booking(text, diet):
    sender = f"line:cancel-no-{abs(hash((text, diet)))}"
    receipt = book(sender)
    chat = Chat(sender)
    chat.say("予約を取り消したい", "manage_booking")
    kept, _ = chat.say(text, diet)
    assert "キャンセルはしていません" in kept[0]["text"] and status(receipt).status == "booked"


def test_cancel_question_asks_again_when_the_answer_could_be_either():
    sender = "line:cancel-either"
    receipt = book(sender)
    chat = Chat(sender)
    chat.say("予約を取り消したい", "manage_booking")
    again, _ = chat.say("やめる", "stop")
    assert "「やめない」" in again[0]["text"] and [b["title"] for b in again[0]["buttons"]] == ["キャンセルする", "やめない"]
    assert status(receipt).status == "booked"
    done, _ = chat.say("キャンセルで", "stop")
    assert "キャンセルしました" in done[0]["text"] and status(receipt).status == "cancelled"


@pytest.mark.parametrize("text, diet, expected", [
    ("収集日を変える", "manage_booking", "新しい収集日"), ("収集日を変える", "ask_collection_day", "新しい収集日"),
    ("品目を変える", "manage_booking", "followup"), ("品目を変える", "nlu_fallback", "followup"),
    ("キャンセルする", "stop", "キャンセルしますか"), ("キャンセル", "stop", "キャンセルしますか"),
    ("いいえ", "deny", "ほかにご用件"), ("はい", "affirm", "「収集日を変える」")])
def test_menu_of_the_booking_shown_typed_titles(text, diet, expected):
    sender = f"line:menu-{abs(hash((text, diet)))}"
    book(sender)
    chat = Chat(sender)
    shown, _ = chat.say("大型ごみの予約を確認したい", "manage_booking", [{"entity": "bm_action", "value": "check"}])
    assert [b["title"] for b in shown[0]["buttons"]] == ["収集日を変える", "品目を変える", "キャンセルする"]
    said, events = chat.say(text, diet)
    if expected == "followup":
        assert {"event": "followup", "name": "booking_items_form"} in [
            {k: e.get(k) for k in ("event", "name")} for e in events]
    else:
        assert expected in said[0]["text"]


@pytest.mark.parametrize("text", ["来週の木曜", f"{NEXT_THURSDAY.day}日", f"{NEXT_THURSDAY.month}月{NEXT_THURSDAY.day}日",
                                  "1月23日（木）", "1/23", "23日でお願いします"])
@pytest.mark.parametrize("diet", ["choose_date", "ask_collection_day", "nlu_fallback"])
def test_change_date_question_typed_date(text, diet):
    sender = f"line:date-{abs(hash((text, diet)))}"
    receipt = book(sender)
    chat = Chat(sender)
    ask, _ = chat.say("収集日を変更したい", "manage_booking", [{"entity": "bm_action", "value": "change_date"}])
    assert "新しい収集日" in ask[0]["text"] and ask[0]["buttons"]
    moved, _ = chat.say(text, diet)
    assert "に変更しました" in moved[0]["text"] and status(receipt).day == NEXT_THURSDAY


def test_change_date_question_typed_day_that_cannot_be_says_why_and_offers_the_dates_again():
    sender = "line:date-wrong"
    receipt = book(sender)
    chat = Chat(sender)
    chat.say("収集日を変更したい", "manage_booking", [{"entity": "bm_action", "value": "change_date"}])
    said, _ = chat.say("あさって", "nlu_fallback")
    assert "収集日ではありません" in said[0]["text"] and said[-1]["buttons"]
    moved, _ = chat.say("来週の木曜日", "ask_collection_day")
    assert "に変更しました" in moved[0]["text"] and status(receipt).day == NEXT_THURSDAY


@pytest.mark.parametrize("text, diet", [("変えない", "manage_booking"), ("いいえ", "deny"), ("やめます", "stop"),
                                        ("そのままで", "nlu_fallback")])
def test_change_date_question_typed_no_keeps_the_date(text, diet):
    sender = f"line:date-keep-{abs(hash((text, diet)))}"
    receipt = book(sender)
    chat = Chat(sender)
    chat.say("収集日を変更したい", "manage_booking", [{"entity": "bm_action", "value": "change_date"}])
    before = status(receipt).day
    kept, _ = chat.say(text, diet)
    assert "変更していません" in kept[0]["text"] and status(receipt).day == before


@pytest.mark.parametrize("pick", ["receipt", "receipt_lower", "date"])
def test_which_booking_question_typed_receipt_or_date(pick):
    sender = f"line:which-{pick}"
    first = book(sender, NEXT_MONDAY)
    book(sender + "-x", NEXT_MONDAY)  # someone else's: never offered
    from actions.booking import ActionSubmitBooking
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": 42.0}]
    slots = {**FILLED, "bb_date": NEXT_THURSDAY.isoformat(), "bb_confirm": "yes"}
    t = Tracker(sender, slots, {"text": "はい", "intent": {"name": "affirm"}, "entities": [], "metadata": {}},
                form_start, False, None, {}, "action_listen")
    _, events = run_action(ActionSubmitBooking(), t)
    second = next(e["value"] for e in events if e.get("name") == "bm_receipt")
    chat = Chat(sender)
    ask, _ = chat.say("予約をキャンセルしたい", "manage_booking", [{"entity": "bm_action", "value": "cancel"}])
    assert ask[0]["text"] == "どの申し込みですか？" and len(ask[0]["buttons"]) == 2
    typed = {"receipt": second, "receipt_lower": second.replace("-", "").lower(), "date": "1月23日"}[pick]
    said, _ = chat.say(typed, "nlu_fallback")
    assert second in said[0]["text"] and "キャンセルしますか" in said[0]["text"] and first not in said[0]["text"]


def test_right_after_a_booking_a_request_about_it_is_about_it_whatever_the_nlu_said():
    sender = "line:again"
    receipt = book(sender)
    chat = Chat(sender)
    chat.say("大型ごみの予約をキャンセルしたい", "manage_booking", [{"entity": "bm_action", "value": "cancel"}])
    chat.say("やめない", "stop")
    ask, _ = chat.say("やっぱり予約をキャンセルしたい", "nlu_fallback")
    assert "キャンセルしますか" in ask[0]["text"] and receipt in ask[0]["text"]


@pytest.mark.parametrize("text, diet, expected", [
    ("ありがとう", "thank", "utter_thank"), ("こんにちは", "greet", "utter_greet"), ("はい", "affirm", "utter_menu"),
    ("やめる", "stop", "utter_stopped")])
def test_after_the_booking_flow_other_messages_get_their_usual_answer(text, diet, expected):
    sender = f"line:after-{abs(hash((text, diet)))}"
    receipt = book(sender)
    chat = Chat(sender)
    chat.say("予約をキャンセルしたい", "manage_booking", [{"entity": "bm_action", "value": "cancel"}])
    chat.say("はい", "affirm")
    assert status(receipt).status == "cancelled"
    said, _ = chat.say(text, diet)
    assert said[0].get("response") == expected


# ------------------------------------------------------------------ the reminder offered with the receipt (LINE)
def booked_on_line(sender):
    """A booking just made on LINE: a Chat whose next message answers 「前日にLINEでお知らせしましょうか？」
    (data/rules/booking.yml sends affirm, deny, nlu_fallback, stop … there to action_manage_booking)."""
    from actions.booking import ActionSubmitBooking
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": hash(sender) % 10 ** 6}]
    slots = {**FILLED, "bb_date": next(SPARE_DAYS).isoformat(), "bb_confirm": "yes",
             "bb_phone": f"0902000{next(PHONES):04d}"}
    tracker = Tracker(sender, slots, {"text": "はい", "intent": {"name": "affirm"}, "entities": [],
                                      "metadata": {"channel": "line"}}, form_start, False, None, {}, "action_listen")
    messages, events = run_action(ActionSubmitBooking(), tracker)
    assert messages[-1]["text"] == "前日にLINEでお知らせしましょうか？" and len(messages[-1]["buttons"]) == 2
    chat = Chat(sender)
    chat.slots = slots_after(events, {})
    chat.history = [{"event": "action", "name": "action_submit_booking"},
                    *[{"event": "bot", "text": m.get("text"), "data": {"buttons": m.get("buttons") or []}}
                      for m in messages]]
    return chat, chat.slots["bm_receipt"]


@pytest.mark.parametrize("text, expected", [("はい", True), ("お願いします", True), ("うん", True), ("OK", True),
                                            ("はい、お願いします", True), ("ぜひ", True), ("いいえ", False),
                                            ("いらない", False), ("不要です", False), ("ううん", False),
                                            ("結構です", False), ("いりません", False)])
@pytest.mark.parametrize("diet", ["affirm", "deny", "nlu_fallback"])
def test_reminder_offer_typed(text, expected, diet):
    chat, receipt = booked_on_line(f"line:remind-{abs(hash((text, diet)))}")
    said, _ = chat.say(text, diet)
    assert status(receipt).remind is expected and status(receipt).status == "booked"
    assert len(said) == 1 and ("お知らせします" if expected else "お送りしません") in said[0]["text"]


@pytest.mark.parametrize("text, diet", [("大丈夫です", "affirm"), ("大丈夫です", "nlu_fallback")])
def test_reminder_offer_words_that_are_no_answer_are_not_asked_again(text, diet):
    chat, receipt = booked_on_line(f"line:remind-neither-{abs(hash((text, diet)))}")
    said, _ = chat.say(text, diet)
    assert status(receipt).remind is False
    assert not any("お知らせしましょうか" in (m.get("text") or "") for m in said)  # never a stuck question
