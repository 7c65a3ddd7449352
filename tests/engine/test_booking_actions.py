"""The booking dialogue's actions with rasa_sdk's Tracker and CollectingDispatcher, on the official data
and a real SQLite booking store: answers checked one by one, a question in the middle, the receipt made
once however often 「はい」 arrives, and cancelling from the same chat."""

import asyncio
import itertools
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.official_data import OFFICIAL_TODAY

TODAY = OFFICIAL_TODAY
ROOT = Path(__file__).resolve().parents[2]
DOMAIN = {"slots": {}, "forms": {}}


@pytest.fixture(scope="module", autouse=True)
def official_data(official_city_data):
    return official_city_data


def tracker(text, slots=None, intent="nlu_fallback", entities=None, events=None, sender="web:booking-user"):
    return Tracker(sender, dict(slots or {}),
                   {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
                    "metadata": {"channel": "web"}},
                   events or [], False, None, {"name": "bulky_booking_form"}, "action_listen")


def validate(slot, text, slots=None):
    from actions.booking import ValidateBulkyBookingForm
    dispatcher = CollectingDispatcher()
    t = tracker(text, {**(slots or {}), "requested_slot": slot})
    result = getattr(ValidateBulkyBookingForm(), f"validate_{slot}")(text, dispatcher, t, DOMAIN)
    return result, [m.get("text") or m.get("response") for m in dispatcher.messages]


def run(action, t):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, t, DOMAIN))
    return dispatcher.messages, events


def test_items_with_quantities_get_fees_and_a_total():
    result, said = validate("bb_items", "ソファーといす2脚")
    names = {i["name"]: i["quantity"] for i in result["bb_item_list"]}
    assert names["ソファー"] == 1 and list(names.values()).count(2) == 1
    assert "合計" in said[0]


def test_items_the_city_does_not_collect_are_refused():
    result, said = validate("bb_items", "洗濯機")
    assert result["bb_items"] is None and "市では収集していません" in said[0]


def test_a_question_in_the_middle_is_answered_and_asked_again():
    result, said = validate("bb_items", "ソファーは何ごみですか？")
    assert result == {"bb_items": None}
    assert any("大型ごみ" in (s or "") for s in said)


def test_address_needs_ward_town_and_house_number():
    from actions.booking import ActionAskBbAddress
    result, said = validate("bb_address", "中央区南27条西")
    assert result["bb_address"] is None and result["bb_house_asked"]["ward"] == "中央区"
    asked, _ = run(ActionAskBbAddress(), tracker("", {"bb_house_asked": result["bb_house_asked"]}))
    assert "番地" in asked[0]["text"] and "中央区南27条西" in asked[0]["text"]
    result, _ = validate("bb_address", "中央区南27条西10丁目1-5")
    assert result["bb_ward"] == "中央区" and result["bb_town"].startswith("南27条西")


@pytest.mark.parametrize("text, ok", [("090-1234-5678", True), ("０１１－２２２－４８９４", True), ("12345", False),
                                      ("0120-123-456", False)])
def test_phone_numbers(text, ok):
    result, said = validate("bb_phone", text)
    assert (result["bb_phone"] is not None) == ok
    if not ok:
        assert "電話番号" in said[0]


def test_impossible_and_past_dates_are_explained():
    for text in ("2月30日", "2025年1月1日"):
        result, said = validate("bb_date", text, {"bb_ward": "中央区"})
        assert result["bb_date"] is None and said[0]


PHONES = itertools.count(1)


def booked_slots(day):
    """A filled-in form, each with another citizen's phone number (at most 3 open bookings per number:
    tests/engine/test_booking_limits.py)."""
    return {"bb_items": "ソファー", "bb_item_list": [{"name": "ソファー", "quantity": 1, "fee": 1000}],
            "bb_address": "中央区南27条西10丁目1-5", "bb_ward": "中央区", "bb_town": "南27条西", "bb_area": "-",
            "bb_phone": f"0901000{next(PHONES):04d}", "bb_name": "-", "bb_date": day, "bb_confirm": "yes"}


def test_confirming_twice_books_once_then_the_same_chat_cancels():
    from actions.booking import ActionAskBbDate, ActionManageBooking, ActionSubmitBooking
    from common import booking

    messages, _ = run(ActionAskBbDate(), tracker("", {"bb_ward": "中央区"}))
    first_day = messages[0]["buttons"][0]["payload"].split('"')[3]
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": 1736900000.0}]
    receipts, slots = [], booked_slots(first_day)
    for _ in range(2):  # a double tap on 「はい」
        messages, events = run(ActionSubmitBooking(), tracker("/affirm", slots, "affirm", events=form_start))
        receipts.append(next(e["value"] for e in events if e.get("name") == "bm_receipt"))
    assert receipts[0] == receipts[1]
    assert "8時30分" in messages[0]["text"] and receipts[0] in messages[0]["text"]
    mine = booking.store().active_for_owner(booking.owner_ref("web:booking-user"))
    assert [b.receipt_no for b in mine] == [receipts[0]]

    ask, _ = run(ActionManageBooking(), tracker("予約をキャンセルしたい", intent="manage_booking",
                                                entities=[{"entity": "bm_action", "value": "cancel"}]))
    assert receipts[0] in ask[0]["text"] and "キャンセルしますか" in ask[0]["text"]
    done, _ = run(ActionManageBooking(), tracker("/manage_booking", intent="manage_booking", entities=[
        {"entity": "bm_action", "value": "cancel_confirmed"}, {"entity": "receipt", "value": receipts[0]}]))
    assert "キャンセルしました" in done[0]["text"]
    assert booking.store().get(receipts[0]).status == "cancelled"


def test_another_chat_needs_the_receipt_number_and_phone():
    from actions.booking import ActionManageBooking
    _, events = run(ActionManageBooking(), tracker("予約を確認したい", intent="manage_booking", sender="web:stranger",
                                                   entities=[{"entity": "bm_action", "value": "check"}]))
    assert {"event": "followup", "name": "booking_lookup_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]


def test_changing_the_items_of_a_booking():
    from actions.booking import ActionAskBbDate, ActionManageBooking, ActionSubmitBooking
    from common import booking

    messages, _ = run(ActionAskBbDate(), tracker("", {"bb_ward": "中央区"}, sender="web:items-user"))
    day = messages[0]["buttons"][0]["payload"].split('"')[3]
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": 1736900100.0}]
    _, events = run(ActionSubmitBooking(), tracker("/affirm", booked_slots(day), "affirm", events=form_start,
                                                   sender="web:items-user"))
    receipt = next(e["value"] for e in events if e.get("name") == "bm_receipt")
    # 「品目を変えたい」 asks for the new items (a small form), then applies them.
    _, events = run(ActionManageBooking(), tracker("品目を変えたい", intent="manage_booking", sender="web:items-user"))
    assert {"event": "followup", "name": "booking_items_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events]
    done, _ = run(ActionManageBooking(), tracker("自転車2台", {"bm_items": "自転車2台", "bm_action": "change_items",
                                                               "bm_receipt": receipt}, sender="web:items-user"))
    assert "品目を変更しました" in done[0]["text"] and "自転車 ×2" in done[0]["text"]
    assert [i.name for i in booking.store().get(receipt).items] == ["自転車"]


# ------------------------------------------------------------------ typed answers in the citizens' order (issue #12)
# Citizens answer what, where, when, who, then the phone, often several answers in one message, change their mind
# and ask questions in between (tests/frontdoor/booking_a.yml). The form reads every field a message gives at any
# question, the way Rasa runs the validator after a typed message (the requested slot mapped from the text).
# 2025-01-15 is a Wednesday: 中央区 collects on Mondays and Thursdays, 北区 on Tuesdays and Fridays (sample schedule).
SOFA = [{"name": "ソファー", "quantity": 1, "fee": 1000}]
WITH_ITEMS = {"bb_items": "ソファー", "bb_item_list": SOFA}
WITH_ADDRESS = {**WITH_ITEMS, "bb_address": "中央区南27条西10丁目1-5", "bb_ward": "中央区", "bb_town": "南27条西",
                "bb_area": "-"}


def turn(slot, text, slots=None, intent="nlu_fallback"):
    """One typed message while the form asks for ``slot`` (None: the message that starts the form); returns the
    slots after it (with requested_slot: the next question) and what the bot said."""
    from actions.booking import ValidateBulkyBookingForm
    mapped = {slot: text} if slot and slot != "bb_confirm" else {}
    events = [{"event": "action", "name": "action_listen"},
              {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent}, "entities": []}},
              *[{"event": "slot", "name": k, "value": v} for k, v in mapped.items()],
              {"event": "action", "name": "bulky_booking_form"}]
    current = {**(slots or {}), **mapped, "requested_slot": slot}
    t = Tracker("web:order-user", current, {"text": text, "intent": {"name": intent, "confidence": 0.9},
                                            "entities": [], "metadata": {"channel": "web"}},
                events, False, None, {"name": "bulky_booking_form"} if slot else {}, "bulky_booking_form")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateBulkyBookingForm().run(dispatcher, t, DOMAIN_WITH_FORM))
    after = {**(slots or {}), "requested_slot": slot}
    for event in result:
        if event.get("event") == "slot":
            after[event["name"]] = event["value"]
    return after, [m.get("text") or m.get("response") or "" for m in dispatcher.messages]


DOMAIN_WITH_FORM = {"slots": {}, "forms": {"bulky_booking_form": {"required_slots": []}}}


def test_the_form_asks_in_the_citizens_order_items_address_date_name_phone():
    after, _ = turn("bb_address", "中央区南27条西10丁目1-5", WITH_ITEMS)
    assert after["bb_ward"] == "中央区" and after["requested_slot"] == "bb_date"
    after, _ = turn("bb_date", "1月20日", after)
    assert after["bb_date"] == "2025-01-20" and after["requested_slot"] == "bb_name"
    after, _ = turn("bb_name", "佐藤花子", after)
    assert after["bb_name"] == "佐藤花子" and after["requested_slot"] == "bb_phone"
    after, _ = turn("bb_phone", "090-1111-2222", after)
    assert after["bb_phone"] == "09011112222" and after["requested_slot"] == "bb_confirm"


def test_several_answers_in_one_message_fill_them_all():
    after, said = turn("bb_items", "たんす1つ、北区屯田5条3丁目2-10、1月24日", {})
    assert [i["name"] for i in after["bb_item_list"]] == ["たんす"]
    assert after["bb_ward"] == "北区" and after["bb_address"] == "北区屯田5条3丁目2-10"
    assert after["bb_date"] == "2025-01-24" and after["requested_slot"] == "bb_name"


def test_the_message_that_starts_the_form_is_read_too():
    after, _ = turn(None, "大型ごみの予約です。ソファー1つ、住所は中央区南3条西5丁目1-1、1月20日希望です", {},
                    intent="menu_bulky_booking")
    assert after["bb_item_list"][0]["name"] == "ソファー" and after["bb_ward"] == "中央区"
    assert after["bb_date"] == "2025-01-20" and after["requested_slot"] == "bb_name"
    after, said = turn(None, "大型ごみの予約をお願いします", {}, intent="menu_bulky_booking")
    assert after.get("bb_items") is None and after["requested_slot"] == "bb_items" and not said


@pytest.mark.parametrize("slot, text, field, value", [
    ("bb_date", "090-1111-2222", "bb_phone", "09011112222"),
    ("bb_name", "1月20日", "bb_date", "2025-01-20"),
    ("bb_phone", "来週の月曜", "bb_date", "2025-01-20"),
    ("bb_name", "やっぱり日にち1月23日にして", "bb_date", "2025-01-23")])
def test_an_answer_to_another_question_fills_that_field(slot, text, field, value):
    slots = {**WITH_ADDRESS, **({} if slot == "bb_date" else {"bb_date": "2025-01-27"})}
    after, _ = turn(slot, text, slots)
    assert after[field] == value
    assert after.get(slot) is None or slot == field  # never taken as the name or the phone


def test_a_phone_number_at_the_name_question_means_no_name():
    after, _ = turn("bb_name", "080-2222-3333", {**WITH_ADDRESS, "bb_date": "2025-01-20"})
    assert after["bb_phone"] == "08022223333" and after["bb_name"] == "-" and after["requested_slot"] == "bb_confirm"


def test_a_changed_address_or_items_replace_the_old_ones():
    after, _ = turn("bb_date", "あ、住所まちがえました。中央区南3条西5丁目1-1です", WITH_ADDRESS)
    assert after["bb_address"] == "中央区南3条西5丁目1-1" and after["requested_slot"] == "bb_date"
    after, said = turn("bb_address", "やっぱりソファーじゃなくてベッドにします", WITH_ITEMS)
    assert [i["name"] for i in after["bb_item_list"]] == ["ベッド"] and "品目を変更しました" in said[0]
    assert after["requested_slot"] == "bb_address"


@pytest.mark.parametrize("text, change", [
    ("テレビ台だけでいいです", ("replace", "テレビ台")),
    ("古いタンス捨てたいんだけど電話で予約するの？", None),  # だけど is "but": a first message, not a change
    ("ベッドだけど", None),
])
def test_only_these_items_is_a_change_but_dakedo_is_not(text, change):
    from actions.booking import items_change
    assert items_change(text) == change


def test_an_address_without_house_number_is_asked_for_it_once():
    from actions.booking import ActionAskBbAddress
    after, _ = turn("bb_address", "中央区南6条西8丁目", WITH_ITEMS)
    assert after["bb_address"] is None and after["requested_slot"] == "bb_address"
    asked, _ = run(ActionAskBbAddress(), tracker("", after))
    assert "番地" in asked[0]["text"] and "番地なし" in asked[0]["text"]
    # the 番地 alone completes it; 「番地なし」 or any other answer takes the address as given (never a loop)
    asked, said = turn("bb_address", "料金はいくら？", after)  # a question is no answer: the 番地 asked again
    assert asked["bb_address"] is None and asked["bb_house_asked"] and "1,000円" in said[0]
    done, _ = turn("bb_address", "3-5", after)
    assert done["bb_address"] == "中央区南6条西8丁目3-5" and done["requested_slot"] == "bb_date"
    done, said = turn("bb_address", "番地なし", after)
    assert done["bb_address"] == "中央区南6条西8丁目" and done["bb_ward"] == "中央区"
    assert "お電話" in said[0] and done["requested_slot"] == "bb_date"
    done, _ = turn("bb_address", "来週の月曜", after)
    assert done["bb_address"] == "中央区南6条西8丁目" and done["bb_date"] == "2025-01-20"
    assert done["requested_slot"] == "bb_name"


@pytest.mark.parametrize("text, expected", [("料金はいくら？", "011-222-4894"), ("何時までに出せばいいの", "8時30分")])
def test_a_question_in_the_middle_is_answered_then_the_question_repeated(text, expected):
    after, said = turn("bb_address", text, WITH_ITEMS)
    assert after["bb_address"] is None and after["requested_slot"] == "bb_address"
    assert any(expected in s for s in said)
    if "料金" in text:  # the fee of the items given, from the same table, never a guessed amount
        assert any("1,000円" in s for s in said)


def test_a_date_the_ward_cannot_have_gives_the_nearest_and_the_summary_says_so():
    from actions.booking import summary
    after, said = turn("bb_date", "1月17日", WITH_ADDRESS)  # a Friday; 中央区 collects on Mondays and Thursdays
    assert "収集日ではありません" in said[0] and "1月20日" in said[0]  # 1月16日 is too soon (2 days ahead at least)
    assert after["bb_date"] == "2025-01-20" and after["bb_date_asked"] == "2025-01-17"
    shown = summary({**after, "bb_phone": "09011112222"})
    assert "ご希望の1月17日" in shown


def test_a_stop_at_the_end_of_a_question_ends_the_form():
    after, _ = turn("bb_name", "名前も言わないといけないの？それならやめます", {**WITH_ADDRESS, "bb_date": "2025-01-20"})
    assert after["bb_confirm"] == "no" and after["requested_slot"] is None


def after_booking(text, intent, sender):
    """A message right after the receipt (data/rules/booking.yml sends nlu_fallback / menu_faq / stop /
    out_of_scope there to action_manage_booking)."""
    return tracker(text, intent=intent, sender=sender, events=[
        {"event": "action", "name": "action_submit_booking"}, {"event": "bot", "text": "申し込みを受け付けました。"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": []}}])


@pytest.mark.parametrize("text, intent", [("すみません、さっきの予約をキャンセルしたいです", "nlu_fallback"),
                                          ("ごめんなさい、やっぱりキャンセルで", "stop"), ("今の予約なしにして", "nlu_fallback"),
                                          ("予約を取り消したいです", "menu_faq")])
def test_right_after_a_booking_a_cancellation_is_about_it_whatever_the_nlu_said(text, intent):
    from actions.booking import ActionAskBbDate, ActionManageBooking, ActionSubmitBooking
    sender = f"web:just-booked-{abs(hash(text))}"
    messages, _ = run(ActionAskBbDate(), tracker("", {"bb_ward": "中央区"}, sender=sender))
    day = messages[0]["buttons"][1]["payload"].split('"')[3]
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": abs(hash(sender)) % 10 ** 6}]
    _, events = run(ActionSubmitBooking(), tracker("/affirm", booked_slots(day), "affirm", events=form_start,
                                                   sender=sender))
    receipt = next(e["value"] for e in events if e.get("name") == "bm_receipt")
    ask, _ = run(ActionManageBooking(), after_booking(text, intent, sender))
    assert receipt in ask[0]["text"] and "キャンセルしますか" in ask[0]["text"]


def test_right_after_a_booking_a_bare_stop_is_no_cancellation():
    from actions.booking import ActionManageBooking
    said, _ = run(ActionManageBooking(), after_booking("やめる", "stop", "web:just-booked-stop"))
    assert said[0].get("response") == "utter_stopped"


# ------------------------------------------------------------------ the reminder: offered on LINE after the receipt
# The form used to ask 「前日にお知らせしますか？」 on LINE just before the summary, so a citizen's 「はい」 meant for
# the summary answered it instead (tests/frontdoor/booking_a.yml booked 0 of 25 on LINE). Now the summary comes
# right after the phone number on every channel, and LINE offers the reminder once the booking is made.
def line_turn(slot, text, slots):
    """``turn`` on LINE: the slots after one typed message while the form asks for ``slot``."""
    from actions.booking import ValidateBulkyBookingForm
    mapped = {slot: text}
    events = [{"event": "action", "name": "action_listen"},
              {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": "nlu_fallback"},
                                                             "entities": []}},
              {"event": "slot", "name": slot, "value": text}, {"event": "action", "name": "bulky_booking_form"}]
    t = Tracker("line:Uorder", {**slots, **mapped, "requested_slot": slot},
                {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.9}, "entities": [],
                 "metadata": {"channel": "line"}}, events, False, None, {"name": "bulky_booking_form"},
                "bulky_booking_form")
    result = asyncio.run(ValidateBulkyBookingForm().run(CollectingDispatcher(), t, DOMAIN_WITH_FORM))
    after = dict(slots)
    for event in result:
        if event.get("event") == "slot":
            after[event["name"]] = event["value"]
    return after


def test_on_line_the_summary_comes_right_after_the_phone_number():
    after = line_turn("bb_phone", "090-1111-2222", {**WITH_ADDRESS, "bb_date": "2025-01-20", "bb_name": "-"})
    assert after["bb_phone"] == "09011112222" and after["requested_slot"] == "bb_confirm"


def book_on_line(sender, day_index=2):
    """The summary's 「はい」 on LINE: the receipt, the Flex receipt, then the reminder offer. Returns the receipt
    number, the messages and the events Rasa would then hold (what the next message answers)."""
    from actions.booking import ActionAskBbDate, ActionSubmitBooking
    messages, _ = run(ActionAskBbDate(), tracker("", {"bb_ward": "中央区"}, sender=sender))
    day = messages[0]["buttons"][day_index]["payload"].split('"')[3]
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": abs(hash(sender)) % 10 ** 6}]
    t = Tracker(sender, booked_slots(day), {"text": "はい", "intent": {"name": "affirm"}, "entities": [],
                                            "metadata": {"channel": "line"}}, form_start, False, None, {},
                "action_listen")
    said, events = run(ActionSubmitBooking(), t)
    receipt = next(e["value"] for e in events if e.get("name") == "bm_receipt")
    history = [{"event": "action", "name": "action_submit_booking"},
               *[{"event": "bot", "text": m.get("text"), "data": {"buttons": m.get("buttons") or [],
                                                                 "custom": m.get("custom")}} for m in said]]
    return receipt, said, history


def after_the_offer(sender, history, receipt, text, intent):
    """The citizen's next message on LINE, as data/rules/booking.yml sends it to action_manage_booking."""
    from actions.booking import ActionManageBooking
    t = Tracker(sender, {"bm_receipt": receipt},
                {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
                 "metadata": {"channel": "line"}},
                [*history, {"event": "action", "name": "action_listen"},
                 {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "entities": []}}],
                False, None, {}, "action_listen")
    return run(ActionManageBooking(), t)


def test_on_line_the_receipt_offers_the_reminder_with_yes_and_no_and_the_web_is_unchanged():
    from actions.booking import ActionAskBbDate, ActionSubmitBooking
    from common import booking
    receipt, said, _ = book_on_line("line:Uoffer")
    assert "受付番号" in said[0]["text"] and said[1].get("custom", {}).get("flex")
    assert said[-1]["text"] == "前日にLINEでお知らせしましょうか？"
    assert [(b["title"], b["payload"]) for b in said[-1]["buttons"]] == [("はい", "/affirm"), ("いいえ", "/deny")]
    assert booking.store().get(receipt).remind is False  # nothing set before the citizen answers
    # The web widget cannot push a reminder: its receipt is all there is.
    messages, _ = run(ActionAskBbDate(), tracker("", {"bb_ward": "中央区"}, sender="web:no-offer"))
    day = messages[0]["buttons"][2]["payload"].split('"')[3]
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": 1736900200.0}]
    said, _ = run(ActionSubmitBooking(), tracker("/affirm", booked_slots(day), "affirm", events=form_start,
                                                 sender="web:no-offer"))
    assert len(said) == 1 and not said[0].get("buttons") and "お知らせ" not in said[0]["text"]


@pytest.mark.parametrize("text, intent", [("はい", "affirm"), ("うん", "affirm"), ("お願いします", "affirm"),
                                          ("/affirm", "affirm"), ("ええ、お願いします", "nlu_fallback")])
def test_a_yes_to_the_reminder_sets_it_on_the_booking(text, intent):
    from common import booking
    sender = f"line:Uremind-yes-{abs(hash((text, intent)))}"
    receipt, _, history = book_on_line(sender)
    said, _ = after_the_offer(sender, history, receipt, text, intent)
    made = booking.store().get(receipt)
    assert made.remind is True and made.status == "booked"
    day_before = made.day - timedelta(days=1)
    assert len(said) == 1 and not said[0].get("buttons")  # one short sentence, no question left open
    assert said[0]["text"].startswith(f"承知しました、{day_before.month}月{day_before.day}日（")
    assert said[0]["text"].endswith("にこのLINEでお知らせします。")
    # What the gateway's reminder job (gateway/jobs/reminders.py) asks for at 10:30 the day before.
    from datetime import datetime
    from common.booking.dates import JST
    due = booking.store().due_reminders(datetime.combine(day_before, datetime.min.time(), JST).replace(hour=10, minute=30))
    assert receipt in [b.receipt_no for b in due]


@pytest.mark.parametrize("text, intent", [("いいえ", "deny"), ("いらない", "deny"), ("不要です", "deny"),
                                          ("ううん", "affirm"), ("/deny", "deny")])
def test_a_no_to_the_reminder_keeps_it_off(text, intent):
    from common import booking
    sender = f"line:Uremind-no-{abs(hash((text, intent)))}"
    receipt, _, history = book_on_line(sender)
    said, _ = after_the_offer(sender, history, receipt, text, intent)
    made = booking.store().get(receipt)
    assert made.remind is False and made.status == "booked"
    assert [m["text"] for m in said] == ["承知しました、前日のお知らせはお送りしません。"]


def test_a_new_request_instead_of_an_answer_is_routed_as_usual_and_sets_no_reminder():
    from common import booking
    sender = "line:Uremind-ignored"
    receipt, _, history = book_on_line(sender)
    # 「大丈夫です」 is no plain yes to an offer: what a 「はい」 with no question gets (the menu), never asked again.
    said, _ = after_the_offer(sender, history, receipt, "大丈夫です", "affirm")
    assert said[0].get("response") == "utter_menu" and booking.store().get(receipt).remind is False
    # A cancellation right after booking is about the booking, not 「いいえ」 to the reminder.
    said, _ = after_the_offer(sender, history, receipt, "やっぱりキャンセルで", "stop")
    assert "キャンセルしますか" in said[0]["text"] and booking.store().get(receipt).remind is False
    # Messages the NLU places elsewhere (a sorting question) never reach action_manage_booking: only the
    # intents a yes or no gets are sent there right after the receipt (data/rules/booking.yml).
    rules = yaml.safe_load((ROOT / "data" / "rules" / "booking.yml").read_text(encoding="utf-8"))["rules"]
    after_receipt = {r["steps"][1]["intent"] for r in rules
                     if r["steps"][0] == {"action": "action_submit_booking"}
                     and r["steps"][2] == {"action": "action_manage_booking"}}
    assert {"affirm", "deny"} <= after_receipt and not after_receipt & {"ask_garbage_category", "ask_collection_day",
                                                                         "greet", "thank", "menu_bulky_booking"}
    # … and once something else was answered, a 「はい」 is no answer to the offer any more.
    from actions.booking import ActionManageBooking
    elsewhere = [*history, {"event": "action", "name": "action_listen"},
                 {"event": "user", "text": "ソファーは何ごみ？", "parse_data": {"intent": {"name": "ask_garbage_category"}}},
                 {"event": "action", "name": "action_garbage_category"}, {"event": "bot", "text": "【大型ごみ】です。"}]
    t = Tracker(sender, {"bm_receipt": receipt}, {"text": "はい", "intent": {"name": "affirm"}, "entities": [],
                                                  "metadata": {"channel": "line"}},
                [*elsewhere, {"event": "action", "name": "action_listen"},
                 {"event": "user", "text": "はい", "parse_data": {"intent": {"name": "affirm"}}}],
                False, None, {}, "action_listen")
    said, _ = run(ActionManageBooking(), t)
    assert booking.store().get(receipt).remind is False and not any("お知らせ" in (m.get("text") or "") for m in said)


def test_an_address_typed_in_kana_is_no_date():
    """「ひがしく ふしこ3じょう2ちょうめ5-5」: its 番地 5-5 was read as May 5 and the address asked again without a word;
    now it is read as the address it is."""
    after, said = turn("bb_address", "ひがしく ふしこ3じょう2ちょうめ5-5", WITH_ITEMS)
    assert after.get("bb_date") is None, after
    assert after["bb_ward"] == "東区" and after["bb_town"].startswith("伏古"), (after, said)
