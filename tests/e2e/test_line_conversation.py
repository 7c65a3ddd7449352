"""LINE end to end: signed webhooks into the real gateway, the real engine and action server (the city's official
data, "today" pinned), and what reaches the fake LINE API (tests/gateway/line_fake.py): the follow greeting, an FAQ
answer, a whole 大型ごみ booking with the date picker, the Flex receipt and the reminder offered after it, and redelivered
events answered once."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa

from common.booking.store import BookingStore, owner_ref
from gateway import texts
from gateway.storage.conversations import messages as transcript
from tests.gateway.line_fake import FakeLineApi, event, new_user, post_webhook, postback_event, text_event

pytestmark = pytest.mark.e2e

TURN_SECONDS = 60  # a turn through the real engine; the first ones also wait for the models to warm up
RECEIPT = re.compile(r"受付番号：([2-9A-Z]{4}-[2-9A-Z]{4})")


class LineUser:
    """One LINE user talking to the stack's gateway; every answer is the reply call made with the event's token."""

    def __init__(self, stack, api: FakeLineApi) -> None:
        self.stack, self.api, self.id = stack, api, new_user()

    def post(self, *events: Dict[str, Any]) -> None:
        response = post_webhook(self.stack.gateway_url, list(events))
        assert response.status_code == 200, response.text

    def replies_to(self, sent: Dict[str, Any]) -> List[Dict[str, Any]]:
        return [r for r in self.api.calls("reply") if (r["json"] or {}).get("replyToken") == sent["replyToken"]]

    def reply_to(self, sent: Dict[str, Any]) -> Dict[str, Any]:
        """The (first) reply call answering ``sent``; its ``json`` is what LINE got."""
        try:
            return self.api.wait_for(lambda: next(iter(self.replies_to(sent)), None), TURN_SECONDS)
        except AssertionError:
            raise AssertionError(f"no reply to {sent.get('message') or sent.get('postback')}; gateway log:\n"
                                 + (self.stack.data_dir / "logs" / "gateway.log").read_text(errors="replace")[-3000:])

    def send(self, sent: Dict[str, Any]) -> List[Dict[str, Any]]:
        """Post one event; the LINE messages of the reply to it."""
        self.post(sent)
        return self.reply_to(sent)["json"]["messages"]

    def say(self, text: str) -> List[Dict[str, Any]]:
        return self.send(text_event(self.id, text))

    def tap(self, data: str, params: Dict[str, str] = None) -> List[Dict[str, Any]]:
        return self.send(postback_event(self.id, data, params))

    def pushes(self) -> List[Dict[str, Any]]:
        return [r for r in self.api.calls("push") if (r["json"] or {}).get("to") == self.id]


@pytest.fixture
def user(stack, line_api) -> LineUser:
    return LineUser(stack, line_api)


def all_text(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def quick_items(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The quick-reply actions (LINE shows those of the last message only, so only it has any)."""
    assert not any("quickReply" in m for m in messages[:-1]), messages
    return [item["action"] for item in messages[-1].get("quickReply", {}).get("items", [])]


# ====================================================================== follow, FAQ

def test_follow_is_greeted_with_welcome_privacy_and_the_menu(user: LineUser):
    followed = event(user.id, "follow")
    user.post(followed)
    reply = user.reply_to(followed)
    user.api.quiet(0.5)
    assert len(user.replies_to(followed)) == 1 and user.pushes() == []
    messages = reply["json"]["messages"]
    assert [m["type"] for m in messages] == ["text", "text"]
    assert messages[0]["text"] == texts.LINE_WELCOME
    assert messages[1]["text"] == texts.LINE_PRIVACY and "個人情報" in messages[1]["text"]
    menu = quick_items(messages)
    assert [(a["type"], a["label"], a["data"]) for a in menu] == [
        ("postback", "よくある質問", "/menu_faq"), ("postback", "ごみの出し方", "/menu_garbage"),
        ("postback", "大型ごみの申込", "/menu_bulky_booking"), ("postback", "相談したい", "/menu_counseling")]


def test_a_whole_faq_question_is_answered_in_one_reply_call_with_the_city_url(user: LineUser):
    asked = text_event(user.id, "住民票をコンビニで取りたい")
    user.post(asked)
    reply = user.reply_to(asked)
    user.api.quiet(0.7)
    assert len(user.replies_to(asked)) == 1 and user.pushes() == []
    answer = all_text(reply["json"]["messages"])
    assert "住民票" in answer and "マルチコピー機" in answer  # T01's answer (data/faq/faq.yml)
    assert "https://www.city.sapporo.jp/" in answer
    # The loading animation was shown to this user while the engine worked.
    assert any((r["json"] or {}).get("chatId") == user.id for r in user.api.calls("loading"))


# ====================================================================== 大型ごみ booking

def test_booking_on_line_with_date_picker_flex_receipt_and_reminder_offer(user: LineUser, stack):
    asked = user.say("大型ごみを出したい")
    assert "出したい物と数" in all_text(asked)

    accepted = user.say("ソファーといす2脚")
    assert "ソファー" in all_text(accepted) and "合計" in all_text(accepted)
    assert "住所" in accepted[-1]["text"]

    dates = user.say("中央区南27条西10丁目1-5")  # asked as citizens answer: items, address, date, name, phone
    assert "収集日を選んでください" in dates[-1]["text"]
    actions = quick_items(dates)
    picker = actions[0]  # the date picker comes first
    assert picker["type"] == "datetimepicker" and picker["mode"] == "date" and picker["data"] == "/choose_date"
    offered = [json.loads(a["data"][len("/choose_date"):])["date"]
               for a in actions if a["type"] == "postback" and a["data"].startswith("/choose_date{")]
    assert len(offered) >= 2, actions
    first = offered[0]
    assert picker["min"] == first and date.fromisoformat(first) > date.fromisoformat("2025-01-15")  # ASSISTANT_TODAY
    assert all(re.fullmatch(r"\d{1,2}月\d{1,2}日（[月火水木金土日]）", a["label"])
               for a in actions if a["type"] == "postback")

    # The date picked in LINE's date picker: data "/choose_date", the date in params.
    name = user.tap("/choose_date", {"date": first})
    assert "お名前" in all_text(name)
    assert {"type": "message", "label": "なし", "text": "なし"} in quick_items(name)
    assert "電話番号" in all_text(user.say("なし"))

    summary = user.say("090-1234-5678")  # the summary right after the phone number, as on the web
    shown = all_text(summary)
    assert "この内容で申し込みますか" in shown
    day = date.fromisoformat(first)
    assert f"収集日：{day.month}月{day.day}日" in shown and "南27条西" in shown and "手数料の合計" in shown
    assert ("postback", "/affirm") in [(a["type"], a["data"]) for a in quick_items(summary)]

    confirmed = postback_event(user.id, "/affirm")
    done = user.send(confirmed)
    receipt_text = next(m["text"] for m in done if m["type"] == "text" and "受付番号" in m["text"])
    receipt = RECEIPT.search(receipt_text).group(1)
    flex = [m for m in done if m["type"] == "flex"]  # in the same reply call as the receipt text
    assert len(flex) == 1, done
    assert receipt in flex[0]["altText"] and flex[0]["contents"]["type"] == "bubble"
    assert receipt in json.dumps(flex[0]["contents"], ensure_ascii=False)
    user.api.quiet(0.7)
    assert len(user.replies_to(confirmed)) == 1 and user.pushes() == []

    # After the receipt (LINE only): the reminder the day before, offered as quick replies and tapped.
    assert "前日にLINEでお知らせしましょうか" in done[-1]["text"]
    assert [(a["type"], a["data"]) for a in quick_items(done)] == [("postback", "/affirm"), ("postback", "/deny")]
    assert "このLINEでお知らせします" in all_text(user.tap("/affirm"))

    # Stored so that the reminder job can find this LINE user the day before.
    made = BookingStore(f"sqlite:///{stack.data_dir / 'assistant.db'}").get(receipt)
    assert made is not None and made.status == "booked"
    assert (made.channel, made.remind, made.day, made.ward) == ("line", True, day, "中央区")
    assert made.owner_ref == owner_ref(f"line:{user.id}")


# ====================================================================== redelivery

def test_a_redelivered_event_is_answered_once(user: LineUser, stack):
    original = text_event(user.id, "こんにちは")
    redelivered = copy.deepcopy(original)
    redelivered["deliveryContext"]["isRedelivery"] = True
    user.post(original)
    for _ in range(3):
        user.post(redelivered)
    user.reply_to(original)
    user.api.quiet(1.0)
    assert len(user.replies_to(original)) == 1  # a second use of the token would also have failed (400)
    assert user.pushes() == []  # … and then been pushed
    # The turn reached the router (and the engine) once.
    engine = sa.create_engine(f"sqlite:///{stack.data_dir / 'gateway.db'}")
    try:
        with engine.connect() as c:
            said = c.execute(sa.select(transcript.c.text).where(
                transcript.c.conversation_id == f"line:{user.id}", transcript.c.sender == "user")).scalars().all()
    finally:
        engine.dispose()
    assert said == ["こんにちは"]
