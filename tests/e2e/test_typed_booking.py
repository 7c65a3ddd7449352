"""A 大型ごみ booking typed from start to end, never a button — on LINE, where the quick replies vanish after the
next message and people type — then the reminder offered after the receipt (LINE only) answered or ignored, checking,
changing and cancelling the booking, typed too; and on the web widget a
typed 「ううん」 at the summary (which DIET takes for a yes) books nothing. The real gateway, engine and action
server with the city's official data, "today" pinned to 2025-01-15 (a Wednesday; 中央区 collects 大型ごみ on
Mondays and Thursdays)."""

from __future__ import annotations

import re

import pytest

from common.booking.store import BookingStore, owner_ref
from tests.e2e.test_line_conversation import LineUser, all_text, quick_items

pytestmark = pytest.mark.e2e

RECEIPT = re.compile(r"受付番号：([2-9A-Z]{4}-[2-9A-Z]{4})")


@pytest.fixture
def user(stack, line_api) -> LineUser:
    return LineUser(stack, line_api)


def store(stack) -> BookingStore:
    return BookingStore(f"sqlite:///{stack.data_dir / 'assistant.db'}")


def test_a_booking_typed_on_line_then_changed_and_cancelled_typed(user: LineUser, stack):
    assert "出したい物と数" in all_text(user.say("大型ごみを出したい"))

    # A yes where the items are asked is no item (it once became ハイザー): asked again.
    again = all_text(user.say("はい"))
    assert "出したい物と数" in again and "ハイザー" not in again and "承りました" not in again

    # Asked in the order citizens answer: items, address, date, name, phone.
    assert "住所" in all_text(user.say("ソファー"))
    assert "収集日を選んでください" in all_text(user.say("中央区南27条西10丁目1-5"))
    assert "お名前" in all_text(user.say("来週の月曜"))  # 2025-01-20
    assert "電話番号" in all_text(user.say("いいえ"))  # no name: 「なし」 typed otherwise
    # The summary right after the phone number, as on the web (the reminder is offered after the receipt).
    summary = all_text(user.say("090-1234-5678"))
    assert "この内容で申し込みますか" in summary and "収集日：1月20日" in summary and "お名前" not in summary
    assert "お知らせ" not in summary

    # 「住所を直す」 typed: the address is asked again, then the summary shows the new one.
    assert "住所" in all_text(user.say("住所を直す"))
    summary = all_text(user.say("中央区南27条西10丁目1-6"))
    assert "この内容で申し込みますか" in summary and "1-6" in summary

    done = user.say("はい、お願いします")
    receipt = RECEIPT.search(all_text(done)).group(1)
    made = store(stack).get(receipt)
    assert (made.status, made.day.isoformat(), made.remind, made.address) == (
        "booked", "2025-01-20", False, "中央区南27条西10丁目1-6")
    assert made.owner_ref == owner_ref(f"line:{user.id}")

    # Then, LINE only, the reminder is offered; a typed 「うん」 sets it on the booking.
    assert done[-1]["text"] == "前日にLINEでお知らせしましょうか？"
    assert [a["label"] for a in quick_items(done)] == ["はい", "いいえ"]
    reminded = all_text(user.say("うん"))
    assert reminded == "承知しました、1月19日（日）にこのLINEでお知らせします。"
    assert store(stack).get(receipt).remind is True

    # The booking shown with its menu; its titles typed.
    shown = all_text(user.say("大型ごみの予約を確認したい"))
    assert receipt in shown
    assert "新しい収集日" in all_text(user.say("収集日を変える"))
    moved = all_text(user.say("来週の木曜"))
    assert "1月23日" in moved and "に変更しました" in moved
    assert store(stack).get(receipt).day.isoformat() == "2025-01-23"

    # 「キャンセルしますか？」: 「やめない」 keeps it (DIET calls it stop), 「はい」 cancels (it used to show the menu).
    assert "キャンセルしますか" in all_text(user.say("大型ごみの予約をキャンセルしたい"))
    kept = all_text(user.say("やめない"))
    assert "キャンセルはしていません" in kept and store(stack).get(receipt).status == "booked"
    assert "キャンセルしますか" in all_text(user.say("やっぱり予約をキャンセルしたい"))
    cancelled = all_text(user.say("はい"))
    assert f"受付番号 {receipt} の申し込みをキャンセルしました" in cancelled
    assert store(stack).get(receipt).status == "cancelled"


def test_on_line_a_new_question_instead_of_the_reminder_answer_is_answered_and_sets_no_reminder(user: LineUser, stack):
    """The reminder offered after the receipt is no question left waiting: a sorting question is answered as
    anywhere else, and a later 「はい」 is no answer to the offer."""
    user.say("大型ごみの予約をお願いします")
    user.say("たんす1つ、中央区南27条西10丁目1-5、来週の木曜")  # 2025-01-23
    user.say("なし")
    assert "この内容で申し込みますか" in all_text(user.say("090-2222-3333"))
    done = user.say("はい")
    receipt = RECEIPT.search(all_text(done)).group(1)
    assert "お知らせしましょうか" in done[-1]["text"]

    answer = all_text(user.say("ペットボトルは何ごみですか"))
    assert "【" in answer and "お知らせ" not in answer  # the sorting answer, as in any other chat
    later = all_text(user.say("はい"))
    assert "お知らせします" not in later and "お知らせはお送りしません" not in later
    made = store(stack).get(receipt)
    assert (made.status, made.remind) == ("booked", False)


async def until(widget, words, limit=6):
    """The bot's messages up to the first whose text has ``words`` (a turn may send several, and a custom
    payload such as LINE's date picker arrives on the web as a message without text)."""
    seen = []
    for _ in range(limit):
        seen.append(await widget.next_message(30))
        if words in seen[-1].get("text", ""):
            return seen[-1]
    raise AssertionError(f"「{words}」 not in {seen}")


async def test_a_typed_no_at_the_summary_books_nothing_on_the_web(widget, stack):
    await widget.say("大型ごみを申し込みたい")
    await until(widget, "出したい物と数")
    await widget.say("ソファー")
    await until(widget, "住所")
    await widget.say("中央区南27条西10丁目1-5")
    await until(widget, "収集日を選んでください")
    await widget.say("20日")  # DIET: nlu_fallback
    await until(widget, "お名前")
    await widget.say("なし")
    await until(widget, "電話番号")
    await widget.say("090-1234-5678")
    summary = await until(widget, "この内容で申し込みますか")
    assert "1月20日" in summary["text"]
    await widget.say("うーん、どうしようかな")  # no yes, no no: asked again
    await until(widget, "「はい」")
    await until(widget, "この内容で申し込みますか")
    await widget.say("ううん")  # DIET: affirm
    await until(widget, "申し込みを中止しました")
    assert store(stack).active_for_owner(owner_ref(f"web:{widget.session_id}")) == []
