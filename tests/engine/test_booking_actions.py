"""The booking dialogue's actions with rasa_sdk's Tracker and CollectingDispatcher, on the official data
and a real SQLite booking store: answers checked one by one, a question in the middle, the receipt made
once however often 「はい」 arrives, and cancelling from the same chat."""

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from tests.official_data import OFFICIAL_TODAY

TODAY = OFFICIAL_TODAY
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
    result, said = validate("bb_address", "中央区南27条西")
    assert result["bb_address"] is None and "番地" in said[0]
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


def booked_slots(day):
    return {"bb_items": "ソファー", "bb_item_list": [{"name": "ソファー", "quantity": 1, "fee": 1000}],
            "bb_address": "中央区南27条西10丁目1-5", "bb_ward": "中央区", "bb_town": "南27条西", "bb_area": "-",
            "bb_phone": "09012345678", "bb_name": "-", "bb_date": day, "bb_confirm": "yes"}


def test_confirming_twice_books_once_then_the_same_chat_cancels():
    from actions.booking import ActionAskBbDate, ActionManageBooking, ActionSubmitBooking
    from common import booking

    messages, _ = run(ActionAskBbDate(), tracker("", {"bb_ward": "中央区"}))
    first_day = messages[0]["buttons"][0]["payload"].split('"')[3]
    form_start = [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": 1736900000.0}]
    receipts = []
    for _ in range(2):  # a double tap on 「はい」
        messages, events = run(ActionSubmitBooking(), tracker("/affirm", booked_slots(first_day), "affirm",
                                                              events=form_start))
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
