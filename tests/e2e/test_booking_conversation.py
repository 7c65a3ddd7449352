"""大型ごみ booking through the gateway's Socket.IO endpoint, from 「大型ごみを出したい」 to the receipt
number, then the cancellation — with the real engine, action server and the city's official data."""

import re

import pytest

pytestmark = pytest.mark.e2e

RECEIPT = re.compile(r"受付番号：([2-9A-Z]{4}-[2-9A-Z]{4})")


async def texts_until(widget, predicate, limit=6):
    """The bot's messages of one turn, up to the one the test waits for."""
    seen = []
    for _ in range(limit):
        message = await widget.next_message(30)
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"not found in {seen}")


async def test_book_then_cancel(widget):
    reply = await widget.ask("大型ごみを出したい")
    assert "出したい物と数" in reply["text"]

    await widget.say("ソファーといす2脚")
    seen = await texts_until(widget, lambda m: "住所" in m.get("text", ""))
    accepted = " ".join(m.get("text", "") for m in seen)
    assert "ソファー" in accepted and "合計" in accepted

    await widget.say("中央区南27条西10丁目1-5")
    dates = await widget.next_message()
    assert "収集日を選んでください" in dates["text"] and dates["quick_replies"]
    await widget.say(dates["quick_replies"][0]["payload"])
    await texts_until(widget, lambda m: "お名前" in m.get("text", ""))  # after the date picker (no text)
    await widget.say("なし")
    assert "電話番号" in (await widget.next_message())["text"]
    await widget.say("090-1234-5678")
    summary = await texts_until(widget, lambda m: "申し込みますか" in m.get("text", ""))
    assert "手数料の合計" in summary[-1]["text"] and "南27条西" in summary[-1]["text"]

    await widget.say("/affirm")
    done = await texts_until(widget, lambda m: "受付番号" in m.get("text", ""))
    receipt = RECEIPT.search(done[-1]["text"]).group(1)
    assert "8時30分" in done[-1]["text"] and "処理券" in done[-1]["text"]

    # The same chat user changes the date (the booking is found without typing the number) …
    change = await widget.ask("大型ごみの収集日を変更したい")
    assert "新しい収集日を選んでください" in change["text"] and change["quick_replies"]
    moved = await widget.ask(change["quick_replies"][0]["payload"])
    assert "に変更しました" in moved["text"] and receipt in moved["text"]

    # … and cancels it.
    ask = await widget.ask("大型ごみの予約をキャンセルしたい")
    assert receipt in ask["text"] and "キャンセルしますか" in ask["text"]
    confirm = next(q for q in ask["quick_replies"] if q["title"] == "キャンセルする")
    cancelled = await widget.ask(confirm["payload"])
    assert f"受付番号 {receipt} の申し込みをキャンセルしました" in cancelled["text"]


async def test_items_the_city_does_not_collect_are_refused_with_where_to_go(widget):
    await widget.ask("大型ごみを申し込みたい")
    reply = await widget.ask("洗濯機")
    assert "市では収集していません" in reply["text"]


async def test_stop_cancels_the_form(widget):
    await widget.ask("大型ごみを申し込みたい")
    reply = await widget.ask("やめる")
    assert "中止しました" in reply["text"]


async def test_a_booking_typed_in_the_citizens_order_with_changes_and_a_question(widget):
    """As citizens type it (tests/frontdoor/booking_a.yml): several answers in one message, an address without
    番地, a question in the middle, a change of mind, a date the ward does not collect on — then booked.
    "Today" is 2025-01-15 (Wednesday); 中央区 collects on Mondays and Thursdays."""
    await widget.say("大型ごみを出したいです。ソファー1つです")
    seen = await texts_until(widget, lambda m: "住所" in m.get("text", ""))
    assert "ソファー" in " ".join(m.get("text", "") for m in seen)

    await widget.say("中央区南6条西8丁目")  # no 番地: asked for it once
    assert "番地" in (await texts_until(widget, lambda m: "番地" in m.get("text", "")))[-1]["text"]
    await widget.say("料金はいくら？")  # answered, then the 番地 question again
    seen = await texts_until(widget, lambda m: "番地" in m.get("text", ""))
    assert "1,000円" in " ".join(m.get("text", "") for m in seen)
    # Another answer than a 番地: the address is taken as it is (asked once, never a loop), the items changed.
    await widget.say("やっぱりソファーじゃなくてベッドにします")
    seen = await texts_until(widget, lambda m: "収集日を選んでください" in m.get("text", ""))
    said = " ".join(m.get("text", "") for m in seen)
    assert "お電話することがあります" in said and "品目を変更しました" in said

    await widget.say("1月24日")  # a Friday: the nearest day of 中央区
    seen = await texts_until(widget, lambda m: "お名前" in m.get("text", ""))
    assert "1月23日" in " ".join(m.get("text", "") for m in seen)
    await widget.say("佐藤花子")
    assert "電話番号" in (await widget.next_message())["text"]
    await widget.say("090-1111-2222")
    summary = (await texts_until(widget, lambda m: "申し込みますか" in m.get("text", "")))[-1]["text"]
    assert "ベッド" in summary and "中央区南6条西8丁目" in summary and "収集日：1月23日" in summary
    assert "ご希望の1月24日" in summary and "お名前：佐藤花子" in summary

    await widget.say("はい")
    done = await texts_until(widget, lambda m: "受付番号" in m.get("text", ""))
    assert RECEIPT.search(done[-1]["text"])
