"""LINE sending against the real gateway process, the stand-in engine and the fake LINE API: one reply call per turn
with quick replies, more than five messages, long texts, date pickers and Flex, reply-token fallback to push,
staff replies and queue updates by push, push retries with one retry key."""

from __future__ import annotations

import re
from typing import Dict, List

import pytest

from gateway import texts
from gateway.handoff.router import conversation_ref
from tests.gateway.conftest import GatewayProcess, StaffSession, staff_user
from tests.gateway.line_fake import (LONG_SENTENCE, UUID_RE, Line, line, line_api, line_engine, line_env,  # noqa: F401
                                     message_event, new_user, postback_event, utf16_units)


@pytest.fixture(scope="module")
def line_gateway(line_api, line_engine, tmp_path_factory):
    """As line_fake's, with reply tokens given up after 1.5 s (to test the expired-token path quickly) and the
    inbox giving up after two tries 0.2 s apart (each try is LINE_PUSH_ATTEMPTS=4 calls)."""
    process = GatewayProcess(line_engine.url, tmp_path_factory.mktemp("line-sending"),
                             **line_env(line_api, LINE_REPLY_TOKEN_SECONDS="1.5", LINE_INBOX_ATTEMPTS="2",
                                        LINE_INBOX_RETRY_SECONDS="0.2"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def staff(line_gateway) -> StaffSession:
    return staff_user(line_gateway, "line-staff", "staff")


def texts_of(call: Dict) -> List[str]:
    return [m.get("text") for m in call["json"]["messages"]]


# ====================================================================== bot turns

def test_a_text_turn_is_one_reply_call_with_quick_replies(line: Line):
    user = new_user()
    sent = line.say(user, "menu")
    reply = line.reply_to(sent)
    line.api.quiet(0.5)
    assert reply["json"] == {"replyToken": sent["replyToken"], "messages": [{
        "type": "text", "text": "echo:menu",
        "quickReply": {"items": [{"type": "action", "action": {
            "type": "postback", "label": "ごみの出し方", "data": "/menu_garbage", "displayText": "ごみの出し方"}}]}}]}
    assert [r["endpoint"] for r in line.api.requests] == ["loading", "reply"]  # the animation first
    assert reply["headers"]["authorization"] == "Bearer test-channel-access-token"
    assert line.engine.received == [{"sender": f"line:{user}", "message": "menu", "input_channel": "line",
                                     "metadata": {"channel": "line", "line_event": "text", "triage": "none"}}]


def test_a_postback_from_a_quick_reply(line: Line):
    user = new_user()
    chosen = postback_event(user, "/menu_garbage")
    line.post(chosen)
    assert texts_of(line.reply_to(chosen)) == ["echo:/menu_garbage"]
    assert line.engine_texts() == ["/menu_garbage"]


def test_six_messages_five_in_the_reply_the_rest_by_push(line: Line):
    user = new_user()
    sent = line.say(user, "six")
    assert texts_of(line.reply_to(sent)) == [f"six:{i}" for i in range(1, 6)]
    [push] = line.api.wait_calls("push", 1)
    assert push["json"]["to"] == user and texts_of(push) == ["six:6"]
    assert UUID_RE.match(push["headers"]["x-line-retry-key"])
    line.api.quiet(0.3)
    assert len(line.api.calls("reply")) == 1 and len(line.api.calls("push")) == 1


def test_long_text_is_split_at_sentence_ends(line: Line):
    user = new_user()
    sent = line.say(user, "long")
    pieces = texts_of(line.reply_to(sent))
    assert len(pieces) == 3 and all(utf16_units(p) <= 5000 for p in pieces)
    assert all(p.endswith("。") for p in pieces)
    assert len("".join(pieces)) == 12_000 and "".join(pieces).startswith(LONG_SENTENCE)


def test_flex_message_and_many_buttons(line: Line):
    user = new_user()
    flex = line.say(user, "flex")
    messages = line.reply_to(flex)["json"]["messages"]
    assert [m["type"] for m in messages] == ["text", "flex"]
    assert messages[1]["altText"] == "大型ごみ申込の内容" and messages[1]["contents"]["type"] == "bubble"
    many = line.say(user, "many buttons")
    items = line.reply_to(many)["json"]["messages"][-1]["quickReply"]["items"]
    assert len(items) == 13 and all(len(i["action"]["label"]) <= 20 for i in items)
    assert items[0]["action"]["label"].endswith("…") and items[0]["action"]["data"] == '/choose{"n": 0}'
    only = line.say(user, "buttons only")
    [message] = line.reply_to(only)["json"]["messages"]
    assert message["text"] == texts.LINE_CHOOSE and len(message["quickReply"]["items"]) == 2


def test_refused_reply_token_falls_back_to_push(line: Line):
    user = new_user()
    line.api.fail("reply", 400)
    sent = line.say(user, "menu")
    [push] = line.api.wait_calls("push", 1)
    assert push["json"]["to"] == user and texts_of(push) == ["echo:menu"]
    assert push["json"]["messages"][0]["quickReply"]["items"][0]["action"]["data"] == "/menu_garbage"
    assert line.api.calls("reply")[0]["status"] == 400
    assert re.search(rf"reply failed \(400\) conv={conversation_ref('line:' + user)}, sending by push",
                     line.gateway.log())


def test_expired_reply_token_goes_by_push(line: Line):
    line.engine.delay = 1.7  # longer than LINE_REPLY_TOKEN_SECONDS=1.5 in this module
    user = new_user()
    line.say(user, "遅い返事")
    [push] = line.api.wait_calls("push", 1)
    assert texts_of(push) == ["echo:遅い返事"] and line.api.calls("reply") == []
    assert f"reply token expired conv={conversation_ref('line:' + user)}" in line.gateway.log()


# ====================================================================== staff and queue by push

def ask_for_a_person(line: Line) -> str:
    user = new_user()
    ask = postback_event(user, "/request_human")
    line.post(ask)
    assert texts_of(line.reply_to(ask))[0].startswith("担当者におつなぎします。")
    return user


def claimed_chat(line: Line, staff: StaffSession) -> str:
    """A LINE user who asked for a person, claimed by ``staff``; the fake is quiet afterwards."""
    user = ask_for_a_person(line)
    answer = staff.act(f"line:{user}", "claim")
    assert answer.status_code == 200, answer.text
    line.api.wait_for(lambda: any(texts_of(p) == [texts.STAFF_JOINED] for p in line.pushes_to(user)))
    line.api.quiet(0.3)
    return user


def tries_of(line: Line, user: str, text: str, count: int) -> List[Dict]:
    """The push calls carrying ``text`` to ``user``, once there are ``count`` of them."""
    def found():
        calls = [p for p in line.pushes_to(user) if texts_of(p) == [text]]
        return calls if len(calls) >= count else None
    return line.api.wait_for(found)


def delivered(line: Line, user: str, text: str) -> int:
    return len([d for d in line.api.delivered if d["to"] == user and d["messages"][0].get("text") == text])


def close(line: Line, staff: StaffSession, user: str) -> None:
    assert staff.act(f"line:{user}", "close", {"outcome": "resolved"}).status_code == 200
    line.api.wait_for(lambda: any(texts_of(p) == [texts.CLOSED] for p in line.pushes_to(user)))


def test_staff_reply_arrives_by_push(line: Line, staff: StaffSession):
    user = claimed_chat(line, staff)
    conversation = f"line:{user}"
    before = len(line.api.requests)
    # The citizen writes: it goes to the console only (no engine, no reply, no loading animation).
    line.say(user, "粗大ごみのことで相談です")
    sticker = message_event(user, {"type": "sticker", "packageId": "1", "stickerId": "2"})
    line.post(sticker)
    line.api.wait_for(lambda: texts.LINE_MEDIA_NOTES["sticker"] in
                      [m["text"] for m in staff.conversation(conversation).json()["messages"]])
    line.api.quiet(0.5)
    assert line.api.requests[before:] == []  # no reply, no loading animation, no push
    assert "粗大ごみのことで相談です" not in line.engine_texts()
    transcript = staff.conversation(conversation).json()["messages"]
    assert [m["text"] for m in transcript[-2:]] == ["粗大ごみのことで相談です", texts.LINE_MEDIA_NOTES["sticker"]]
    assert transcript[-2]["sender"] == "user" and transcript[-1]["sender"] == "system"

    answer = staff.act(conversation, "reply", {"text": "担当の者です。ご用件をどうぞ。"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"]["delivery"] == "sent"  # stored in the inbox; 「配信済み」 once LINE took it
    push = line.api.wait_for(lambda: next((p for p in line.pushes_to(user)
                                           if texts_of(p) == ["担当の者です。ご用件をどうぞ。"]), None))
    assert push["json"]["messages"] == [{"type": "text", "text": "担当の者です。ご用件をどうぞ。",
                                         "sender": {"name": texts.LINE_STAFF_SENDER}}]
    assert UUID_RE.match(push["headers"]["x-line-retry-key"])
    assert line.api.wait_for(lambda: stored(staff, conversation, answer.json()["message"]["id"])["delivered_at"])
    close(line, staff, user)
    log = line.gateway.log()
    assert user not in log and "担当の者です" not in log and "粗大ごみのことで相談です" not in log


def test_queue_updates_and_media_while_waiting(line: Line, staff: StaffSession):
    first, second = ask_for_a_person(line), ask_for_a_person(line)
    image = message_event(second, {"type": "image", "contentProvider": {"type": "line"}})
    line.post(image)
    line.api.quiet(0.4)
    assert line.api.calls("reply")[-1]["json"]["replyToken"] != image["replyToken"]  # no 「文字で」 while waiting
    transcript = staff.conversation(f"line:{second}").json()["messages"]
    assert transcript[-1]["text"] == texts.LINE_MEDIA_NOTES["image"]
    assert staff.act(f"line:{first}", "claim").status_code == 200
    # The one still waiting hears the queue move (by push: there is no reply token outside a turn).
    update = line.api.wait_for(lambda: next((p for p in line.pushes_to(second)
                                             if "お待ちください" in texts_of(p)[0]), None))
    assert "現在1番目です" in texts_of(update)[0]
    cancel = line.say(second, "キャンセル")
    assert texts_of(line.reply_to(cancel)) == [texts.HANDOFF_CANCELLED]
    close(line, staff, first)


@pytest.mark.parametrize("status", [500, 429])
def test_push_is_retried_with_the_same_retry_key(line: Line, staff: StaffSession, status: int):
    user = claimed_chat(line, staff)
    line.api.fail("push", status, times=2)
    text = f"再送テスト {status}"
    assert staff.act(f"line:{user}", "reply", {"text": text}).status_code == 200
    tries = tries_of(line, user, text, 3)
    assert [t["status"] for t in tries] == [status, status, 200]
    assert len({t["headers"]["x-line-retry-key"] for t in tries}) == 1
    assert tries[2]["at"] - tries[0]["at"] >= 0.05 + 0.1  # backoff: 0.05 s, then 0.1 s
    assert delivered(line, user, text) == 1
    close(line, staff, user)


def test_a_retried_push_that_was_already_accepted_is_delivered_once(line: Line, staff: StaffSession):
    user = claimed_chat(line, staff)
    line.api.fail("push", 500, times=1, accept=True)  # LINE took it, but its answer was lost
    text = "受付済みの再送"
    assert staff.act(f"line:{user}", "reply", {"text": text}).status_code == 200
    tries = tries_of(line, user, text, 2)
    assert [t["status"] for t in tries] == [500, 409]
    assert tries[0]["headers"]["x-line-retry-key"] == tries[1]["headers"]["x-line-retry-key"]
    assert delivered(line, user, text) == 1
    assert "push already accepted" in line.gateway.log()
    close(line, staff, user)


def stored(staff: StaffSession, conversation: str, message_id: int) -> Dict:
    """One message of the transcript, as the console reads it."""
    return next(m for m in staff.conversation(conversation).json()["messages"] if m["id"] == message_id)


def test_a_push_that_fails_is_tried_again_by_the_inbox(line: Line, staff: StaffSession):
    """LINE refuses every call of the first try (LINE_PUSH_ATTEMPTS=4): the inbox tries the stored push again
    with the same retry key, LINE takes it, and only then is the reply marked delivered."""
    user = claimed_chat(line, staff)
    line.api.fail("push", 503, times=4)
    text = "二度目で届く返信"
    answer = staff.act(f"line:{user}", "reply", {"text": text})
    assert answer.status_code == 200 and answer.json()["message"]["delivery"] == "sent"
    tries = tries_of(line, user, text, 5)
    assert [t["status"] for t in tries] == [503] * 4 + [200]
    assert len({t["headers"]["x-line-retry-key"] for t in tries}) == 1
    assert line.api.wait_for(lambda: stored(staff, f"line:{user}", answer.json()["message"]["id"])["delivered_at"])
    assert delivered(line, user, text) == 1
    close(line, staff, user)


def test_push_gives_up_after_the_last_try(line: Line, staff: StaffSession):
    user = claimed_chat(line, staff)
    line.api.fail("push", 503, times=8)  # two inbox tries (LINE_INBOX_ATTEMPTS=2) of 4 calls each
    text = "届かない返信"
    answer = staff.act(f"line:{user}", "reply", {"text": text})
    assert answer.status_code == 200
    ref = conversation_ref(f"line:{user}")
    line.api.wait_for(lambda: re.search(rf"event \d+ given up after 2 tries \(DeliveryFailed\) conv={ref} type=push",
                                        line.gateway.log()))
    line.api.quiet(0.3)
    assert len(tries_of(line, user, text, 8)) == 8 and delivered(line, user, text) == 0
    assert line.gateway.log().count(f"push gave up conv={ref} after 4 tries, last status 503") == 2
    assert stored(staff, f"line:{user}", answer.json()["message"]["id"])["delivered_at"] is None  # the console: 「未達」
    failed = staff.get("/staff/api/line/failed").json()["failed"]
    assert any(f["conversation_id"] == f"line:{user}" and f["kind"] == "push" and f["answered"] for f in failed)
    assert text not in line.gateway.log() and user not in line.gateway.log()
    close(line, staff, user)  # the next push goes through again


# ====================================================================== youth counseling over LINE

def test_a_youth_in_danger_on_line_gets_the_numbers_in_the_reply_and_a_counselor(line: Line, line_gateway):
    """Triage runs on LINE too: the numbers come in the reply to that very message, the engine never sees it."""
    user = new_user()
    sent = line.say(user, "今から死ぬ")
    shown = " ".join(texts_of(line.reply_to(sent)))
    for number in ("110", "119", "0120-0-78310", "189"):
        assert number in shown
    assert "相談員" in shown and "番目" in shown
    assert "今から死ぬ" not in line.engine_texts()
    assert "今から死ぬ" not in line_gateway.log()
