"""LINE connector, without a server: engine messages → LINE messages, text splitting, postbacks, the signature
test vector, the event log (de-duplication with expiry)."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

from gateway import texts
from gateway.storage.db import connect, utcnow
from connectors.line.channel import check_flex, postback_text, split_text, to_line_messages, utf16_units
from gateway.storage.line_events import EventLog, webhook_events
from gateway.settings import Settings
from linebot.v3.messaging import Message, PostbackAction, QuickReply, QuickReplyItem, Sender, TextMessage
from linebot.v3.webhook import SignatureValidator
from tests.gateway.line_fake import FIXTURES, LONG_SENTENCE, _check_messages


def test_signature_vector_from_the_shared_fixtures():
    readme = (FIXTURES.parent.parent / "README.md").read_text()
    assert "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=" in readme  # the vector used here is the documented one
    validator = SignatureValidator("channel_secret")
    assert validator.validate("bodybodybodybody", "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=")
    assert not validator.validate("bodybodybodybody", "invalid_signature")


def test_split_text_at_sentence_ends_in_utf16_units():
    text = (LONG_SENTENCE * 300)[:12_000]
    pieces = split_text(text)
    assert "".join(pieces) == text
    assert all(utf16_units(p) <= 5000 for p in pieces) and len(pieces) == 3
    assert all(p.endswith("。") for p in pieces[:-1])
    assert utf16_units(text) > len(text)  # the emoji count twice: a character count would overflow


def test_split_text_without_sentence_end_and_with_emoji_at_the_limit():
    assert split_text("短い。") == ["短い。"]
    plain = "あ" * 12_001
    assert [len(p) for p in split_text(plain)] == [5000, 5000, 2001]
    emoji = "🍙" * 3000  # 6000 units: the cut must not fall inside a surrogate pair
    pieces = split_text(emoji)
    assert [utf16_units(p) for p in pieces] == [5000, 1000] and "".join(pieces) == emoji
    assert split_text("一行目\n" + "x" * 4999) == ["一行目\n", "x" * 4999]


def test_buttons_become_quick_replies_on_the_last_message():
    out = to_line_messages([
        {"text": "どれですか？", "buttons": [{"title": "ごみの出し方", "payload": "/menu_garbage"},
                                        {"title": "はい", "payload": "はい"}]},
        {"text": "二つ目のメッセージ"},
    ])
    assert [m["text"] for m in out] == ["どれですか？", "二つ目のメッセージ"]
    assert "quickReply" not in out[0]
    items = out[1]["quickReply"]["items"]
    assert items[0] == {"type": "action", "action": {"type": "postback", "label": "ごみの出し方", "data": "/menu_garbage",
                                                     "displayText": "ごみの出し方"}}
    assert items[1]["action"] == {"type": "message", "label": "はい", "text": "はい"}
    assert _check_messages(out) == []


def test_quick_reply_limits_and_link_buttons():
    buttons = [{"title": f"とても長い選択肢のタイトルでラベルには入らないもの{i}", "payload": f"/choose{{\"n\": {i}}}"} for i in range(20)]
    buttons.append({"title": "市のページ", "url": "https://www.city.sapporo.jp/"})
    out = to_line_messages([{"text": "選んでください", "buttons": buttons}])
    items = out[-1]["quickReply"]["items"]
    assert len(items) == 13
    assert all(len(i["action"]["label"]) <= 20 for i in items) and items[0]["action"]["label"].endswith("…")
    assert items[0]["action"]["displayText"] == buttons[0]["title"]  # the whole title is what the user "says"
    assert out[0]["text"] == "選んでください\n市のページ https://www.city.sapporo.jp/"
    assert _check_messages(out) == []


def test_datetimepicker_flex_image_and_buttons_without_text():
    out = to_line_messages([
        {"buttons": [{"title": "はい", "payload": "/affirm"}]},
        {"custom": {"datetimepicker": {"label": "日付を選ぶ", "data": "/choose_date", "min": "2026-12-01",
                                       "max": "2027-01-31"}}},
        {"custom": {"flex": {"altText": "申込内容", "contents": {"type": "bubble", "body": {
            "type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "ソファー"}]}}}}},
        {"image": "https://example.org/map.png"},
    ])
    assert [m["type"] for m in out] == ["flex", "image"]
    assert out[0]["altText"] == "申込内容" and out[0]["contents"]["type"] == "bubble"
    items = out[-1]["quickReply"]["items"]
    assert items[0]["action"] == {"type": "datetimepicker", "label": "日付を選ぶ", "data": "/choose_date", "mode": "date",
                                  "min": "2026-12-01", "max": "2027-01-31"}
    assert items[1]["action"]["data"] == "/affirm"
    only_buttons = to_line_messages([{"buttons": [{"title": "はい", "payload": "/affirm"}]}])
    assert only_buttons[0]["text"] == texts.LINE_CHOOSE and only_buttons[0]["quickReply"]
    assert _check_messages(out) == [] and _check_messages(only_buttons) == []


async def test_invalid_flex_falls_back_to_its_alt_text_and_unknown_custom_is_dropped():
    out = to_line_messages([{"custom": {"flex": {"altText": "申込内容", "contents": {"type": "nonsense"}}}},
                            {"custom": {"something": 1}}, {"image": "http://insecure.example/x.png"}])
    assert out == [{"type": "text", "text": "申込内容"}]
    assert to_line_messages([{"custom": {"flex": {"contents": {}}}}]) == []
    # A bubble whose box lacks its layout passes the quick check; the SDK's models catch it.
    bad = {"text": "内容です。", "custom": {"flex": {"altText": "申込内容", "contents": {"type": "bubble", "body": {
        "type": "box", "contents": []}}}}}
    good = {"custom": {"flex": {"altText": "申込内容", "contents": {"type": "bubble", "body": {
        "type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "ソファー"}]}}}}}
    assert to_line_messages(await check_flex([bad, good])) == [
        {"type": "text", "text": "内容です。\n申込内容"}, {"type": "flex", **good["custom"]["flex"]}]


def test_messages_match_the_sdk_models():
    """What the connector builds by hand is what line-bot-sdk's models build and accept."""
    out = to_line_messages([{"text": "こんにちは", "sender": "staff", "buttons": [{"title": "はい", "payload": "/affirm"}]}])
    sdk = TextMessage(text="こんにちは", sender=Sender(name=texts.LINE_STAFF_SENDER), quick_reply=QuickReply(items=[
        QuickReplyItem(action=PostbackAction(label="はい", data="/affirm", display_text="はい"))])).to_dict()
    assert out == [sdk]
    every_kind = to_line_messages([
        {"text": "a", "buttons": [{"title": "b", "payload": "c"}]}, {"image": "https://example.org/a.png"},
        {"custom": {"datetimepicker": {"label": "日付", "data": "/d", "initial": "2026-12-01"},
                    "flex": {"altText": "x", "contents": {"type": "carousel", "contents": []}}}}])
    for message in every_kind:
        parsed = Message.from_dict(message)
        assert parsed.to_dict() == message, message


def test_staff_messages_carry_the_sender_name():
    out = to_line_messages([{"text": "担当の山田です。", "sender": "staff"}])
    assert out == [{"type": "text", "text": "担当の山田です。", "sender": {"name": texts.LINE_STAFF_SENDER}}]


def test_postback_text_with_picked_dates():
    assert postback_text("/menu_faq", None) == "/menu_faq"
    assert postback_text('/menu_faq{"faq_id": "T01"}', {}) == '/menu_faq{"faq_id": "T01"}'
    assert postback_text("/choose_date", {"date": "2026-12-03"}) == '/choose_date{"date": "2026-12-03"}'
    assert json.loads(postback_text('/choose_date{"slot": "am"}', {"date": "2026-12-03"})[len("/choose_date"):]) == \
        {"slot": "am", "date": "2026-12-03"}
    assert postback_text("/choose_time", {"time": "10:00"}) == '/choose_time{"time": "10:00"}'
    assert postback_text("action=buyItem&itemId=1", {"date": "2013-04-01"}) == "action=buyItem&itemId=1"
    assert postback_text("/broken{", {"date": "2013-04-01"}) == "/broken{"


def test_event_log_claims_once_and_forgets_after_expiry(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    log = EventLog(db, timedelta(days=7))
    assert log.claim("01ABC") and not log.claim("01ABC") and not log.claim("01ABC")
    long_id = "x" * 200
    assert log.claim(long_id) and not log.claim(long_id)
    with db.begin() as c:
        c.execute(webhook_events.update().where(webhook_events.c.event_id == "01ABC")
                  .values(received_at=utcnow() - timedelta(days=8)))
    assert log.prune() == 1
    with db.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(webhook_events)).scalar() == 1
    assert log.claim("01ABC")  # expired: LINE never redelivers that late


def test_settings_read_line_variables(monkeypatch):
    monkeypatch.setenv("LINE_CHANNEL_SECRET", " s ")
    monkeypatch.setenv("LINE_API_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("LINE_PUSH_ATTEMPTS", "0")
    settings = Settings.from_env()
    assert settings.line_channel_secret == "s" and settings.line_api_base_url == "http://127.0.0.1:9"
    assert settings.line_push_attempts == 1 and settings.line_api_data_base_url == "https://api-data.line.me"
