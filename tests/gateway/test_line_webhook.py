"""LINE webhook against the real gateway process, the stand-in engine and the fake LINE API (tests/gateway/line_fake.py):
signatures, fast ack, every event type of ../shared/fixtures/line/webhook_v3.json, order per user, de-duplication
(also across a restart), disabled without credentials."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from gateway import texts
from gateway.storage.db import utcnow
from gateway.storage.line_events import webhook_events
from gateway.handoff.router import conversation_ref
from tests.gateway.conftest import GatewayProcess, staff_user
from tests.gateway.line_fake import (Line, fixture_events, line, line_api, line_engine, line_env, line_gateway,  # noqa: F401
                                     message_event, new_user, post_webhook, postback_event, sign, text_event)

VECTOR_BODY = b"bodybodybodybody"
VECTOR_SIGNATURE = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="


def assert_clean_log(log: str, *secrets: str) -> None:
    """No error and no message text or user id in the gateway's log."""
    assert " ERROR " not in log and "Traceback" not in log, log
    for secret in secrets:
        assert secret not in log, secret


# ====================================================================== signatures and bodies

def test_shared_signature_vector_is_accepted_and_invalid_signature_rejected(line: Line):
    accepted = post_webhook(line.gateway.url, [], body=VECTOR_BODY, signature=VECTOR_SIGNATURE)
    rejected = post_webhook(line.gateway.url, [], body=VECTOR_BODY, signature="invalid_signature")
    # Both 400, for different reasons: the vector's body is signed correctly but is not JSON.
    assert accepted.status_code == 400 and rejected.status_code == 400
    log = line.gateway.log()
    assert "rejected signed webhook (not a JSON object with events)" in log
    assert "rejected webhook (wrong signature)" in log
    # LINE's "Verify" button sends a signed body without events: 200.
    assert post_webhook(line.gateway.url, []).status_code == 200


def test_missing_or_wrong_signature_processes_nothing(line: Line):
    user = new_user()
    sent = text_event(user, "menu")
    for signature in ("", "invalid_signature", sign(b"another body")):
        answer = post_webhook(line.gateway.url, [sent], signature=signature)
        assert answer.status_code == 400 and answer.json() == {"error": "invalid signature"}
    wrong_secret = post_webhook(line.gateway.url, [sent], secret="not-the-secret")
    assert wrong_secret.status_code == 400
    time.sleep(0.5)
    assert line.engine.received == [] and line.api.requests == []
    line.post(sent)  # the same event, signed: processed once (nothing was claimed before)
    assert line.reply_to(sent)["json"]["messages"][0]["text"] == "echo:menu"
    assert "rejected webhook (missing signature)" in line.gateway.log()


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"events": 3}', b'{"destination": "U1"}', b'"text"', b"\xff\xfe",
                                  "{\"events\": [\"日本語\"".encode()])
def test_malformed_body_with_valid_signature_is_400_not_500(line: Line, body: bytes):
    answer = post_webhook(line.gateway.url, [], body=body)
    assert answer.status_code == 400, answer.text
    assert line.gateway.alive()


def test_events_that_are_not_objects_are_skipped(line: Line):
    user = new_user()
    sent = text_event(user, "こんにちは")
    answer = post_webhook(line.gateway.url, [], body=json.dumps({"events": [1, "x", None, sent]}).encode())
    assert answer.status_code == 200
    assert line.reply_to(sent)["json"]["messages"][0]["text"] == "echo:こんにちは"


# ====================================================================== ack and order

def test_ack_does_not_wait_for_a_busy_engine(line: Line):
    line.engine.delay = 1.5
    user = new_user()
    sent = text_event(user, "忙しいときの質問")
    started = time.perf_counter()
    line.post(sent)
    acked = time.perf_counter() - started
    assert acked < 0.5, acked
    loading = line.api.wait_calls("loading", 1)[0]
    assert loading["json"] == {"chatId": user, "loadingSeconds": 5}  # ENGINE_TIMEOUT=2 → 5 s, LINE's minimum
    reply = line.reply_to(sent)
    assert reply["at"] - loading["at"] > 1.0  # the animation ran while the engine worked
    assert reply["json"]["messages"][0]["text"] == "echo:忙しいときの質問"


def test_messages_of_one_user_are_answered_in_order(line: Line):
    user, other = new_user(), new_user()
    first, second = text_event(user, "slow:一通目"), text_event(user, "二通目")
    line.post(first)
    line.post(second)
    line.say(other, "別の人")  # another user is not held up behind the slow turn
    replies = line.api.wait_calls("reply", 3)
    tokens = [r["json"]["replyToken"] for r in replies]
    assert tokens.index(first["replyToken"]) < tokens.index(second["replyToken"])
    assert tokens[0] != first["replyToken"]  # the other user's answer came first
    assert [t for t in line.engine_texts() if t != "別の人"] == ["slow:一通目", "二通目"]


# ====================================================================== every event of the shared fixture

# index in webhook_v3.json → what reaches the user (None: nothing)
FIXTURE_REPLIES = {
    0: "echo:Hello, world", 1: texts.LINE_ONE_TO_ONE, 2: texts.LINE_SEND_TEXT, 3: texts.LINE_SEND_TEXT,
    4: "echo:住所: Tokyo", 5: texts.LINE_SEND_TEXT, 6: texts.LINE_WELCOME, 10: "echo:action=buyItem&itemId=123123&color=red",
    14: texts.LINE_ONE_TO_ONE, 15: texts.LINE_ONE_TO_ONE, 16: "echo:action=buyItem&itemId=123123&color=red",
    17: "echo:action=buyItem&itemId=123123&color=red", 18: "echo:action=buyItem&itemId=123123&color=red",
    21: texts.LINE_SEND_TEXT, 25: "echo:Hello, world",
}
IGNORED_TYPES = ["unfollow", "join", "leave", "beacon", "accountLink", "memberJoined", "memberLeft", "unsend",
                 "videoPlayComplete", "messageEdited", "undefined"]


def test_every_fixture_event(line: Line):
    events = fixture_events()
    assert len(events) == 28
    user = "U" + uuid.uuid4().hex  # a fresh user, so this test does not depend on the others
    for i, e in enumerate(events):  # the fixture gives every event the same id and token: make them unique
        e["webhookEventId"] = f"01FIXTURE{i:02d}{uuid.uuid4().hex[:12].upper()}"
        if "replyToken" in e:
            e["replyToken"] = f"fixture-token-{i}-{uuid.uuid4().hex}"
        if e["source"].get("userId") == "U206d25c2ea6bd87c17655609a1c37cb8":
            e["source"]["userId"] = user
    answer = post_webhook(line.gateway.url, [], body=json.dumps({"destination": "U123", "events": events}).encode())
    assert answer.status_code == 200
    line.api.wait_calls("reply", len(FIXTURE_REPLIES))
    line.api.quiet(0.7)

    replies = {r["json"]["replyToken"]: r for r in line.api.calls("reply")}
    assert all(r["status"] == 200 for r in replies.values())
    expected_tokens = {events[i]["replyToken"] for i in FIXTURE_REPLIES}
    assert set(replies) == expected_tokens  # none for unfollow, join, leave, beacon, …, the 2nd image of a set
    for i, first_text in FIXTURE_REPLIES.items():
        assert replies[events[i]["replyToken"]]["json"]["messages"][0]["text"] == first_text, i
    welcome = replies[events[6]["replyToken"]]["json"]["messages"]
    assert [m["text"] for m in welcome] == [texts.LINE_WELCOME, texts.LINE_PRIVACY]
    assert [i["action"]["data"] for i in welcome[-1]["quickReply"]["items"]] == \
        ["/menu_faq", "/menu_garbage", "/menu_bulky_booking", "/menu_counseling"]
    assert line.api.calls("push") == []
    # What the engine saw, in the order the user sent it; location as an address.
    assert line.engine_texts() == ["Hello, world", "住所: Tokyo"] + ["action=buyItem&itemId=123123&color=red"] * 4 + \
        ["Hello, world"]
    assert len(line.api.calls("loading")) == 7
    assert all(r["json"]["chatId"] == user for r in line.api.calls("loading"))
    log = line.gateway.log()
    for kind in IGNORED_TYPES:
        assert f"type={kind} ignored" in log or f"{kind} conv=" in log, kind
    assert_clean_log(log, user, "Hello, world", "Tokyo", "Love You", "buyItem", "Ca56f94637cc4347f90a25382909b24b9")


def test_the_fixture_as_it_is_has_one_effect(line: Line):
    """webhook_v3.json gives all 28 events the same webhookEventId: one of them takes effect (the user's first
    event or the room's, which are processed side by side), once."""
    body = json.dumps({"destination": "U123", "events": fixture_events()}).encode()
    for _ in range(2):
        assert post_webhook(line.gateway.url, [], body=body).status_code == 200
    # 56 deliveries of one id: 55 are dropped as duplicates. Which event wins the claim depends on which
    # per-user queue runs first; it may be one that gets no answer at all (a group's join), so at most one
    # reply, and at most one engine call.
    line.api.wait_for(lambda: line.gateway.log().count("line: duplicate event") == 55)
    line.api.quiet(0.7)
    replies = line.api.calls("reply")
    assert len(replies) <= 1
    if replies:
        assert replies[0]["json"]["messages"][0]["text"] in ("echo:Hello, world", texts.LINE_ONE_TO_ONE)
    assert line.engine_texts() in ([], ["Hello, world"])


# ====================================================================== postbacks, location, media

def test_postbacks_and_date_picker(line: Line):
    user = new_user()
    faq = postback_event(user, '/menu_faq{"faq_id": "T01"}')
    picked = postback_event(user, "/choose_date", {"date": "2026-12-03"})
    line.post(faq, picked)
    assert line.reply_to(faq)["json"]["messages"][0]["text"] == 'echo:/menu_faq{"faq_id": "T01"}'
    assert line.reply_to(picked)["json"]["messages"][0]["text"] == 'echo:/choose_date{"date": "2026-12-03"}'
    assert line.engine_texts() == ['/menu_faq{"faq_id": "T01"}', '/choose_date{"date": "2026-12-03"}']
    assert line.engine.received[0]["metadata"] == {"channel": "line", "line_event": "postback", "triage": "none"}
    assert line.engine.received[0]["sender"] == f"line:{user}"


def test_date_picker_round_trip(line: Line):
    """The engine offers a date picker; the user's choice comes back as an entity."""
    user = new_user()
    asked = line.say(user, "picker")
    item = line.reply_to(asked)["json"]["messages"][-1]["quickReply"]["items"][0]
    assert item["action"] == {"type": "datetimepicker", "label": "日付を選ぶ", "data": "/choose_date", "mode": "date",
                              "min": "2026-12-01", "max": "2027-01-31"}
    chosen = postback_event(user, item["action"]["data"], {"date": "2026-12-10"})
    line.post(chosen)
    line.reply_to(chosen)
    assert line.engine_texts()[-1] == '/choose_date{"date": "2026-12-10"}'


def test_location_without_address(line: Line):
    user = new_user()
    sent = message_event(user, {"type": "location", "latitude": 43.0621, "longitude": 141.3544})
    line.post(sent)
    assert line.reply_to(sent)["json"]["messages"][0]["text"] == "echo:緯度 43.0621 経度 141.3544"
    assert line.engine.received[0]["metadata"]["location"] == {"latitude": 43.0621, "longitude": 141.3544}


def test_sticker_is_answered_politely_without_the_engine(line: Line):
    user = new_user()
    sent = message_event(user, {"type": "sticker", "packageId": "1", "stickerId": "1"})
    line.post(sent)
    assert line.reply_to(sent)["json"]["messages"] == [{"type": "text", "text": texts.LINE_SEND_TEXT}]
    assert line.engine.received == [] and line.api.calls("loading") == []


def test_follow_and_unfollow(line: Line):
    user = new_user()
    follow = {**text_event(user, "x"), "type": "follow", "follow": {"isUnblocked": False}}
    follow.pop("message")
    unfollow = {**text_event(user, "x"), "type": "unfollow"}
    unfollow.pop("message"), unfollow.pop("replyToken")
    line.post(follow)
    messages = line.reply_to(follow)["json"]["messages"]
    assert messages[0]["text"] == texts.LINE_WELCOME and "秘密" in messages[1]["text"]
    assert [i["action"]["label"] for i in messages[1]["quickReply"]["items"]] == \
        ["よくある質問", "ごみの出し方", "大型ごみの申込", "相談したい"]
    line.post(unfollow)
    line.api.quiet(0.5)
    assert len(line.api.requests) == 1 and line.engine.received == []
    assert f"unfollow conv={conversation_ref('line:' + user)}" in line.gateway.log()


# ====================================================================== redelivery

def test_redelivered_event_three_times_has_one_effect(line: Line):
    user = new_user()
    sent = text_event(user, "再送される質問")
    line.post(sent)
    again = json.loads(json.dumps(sent))
    again["deliveryContext"]["isRedelivery"] = True
    line.post(again, again)  # twice in one webhook
    line.post(again)
    line.api.quiet(0.7)
    assert line.engine_texts() == ["再送される質問"]
    assert len(line.api.calls("reply")) == 1 and len(line.api.calls("loading")) == 1


def test_redelivery_after_a_gateway_restart_has_no_effect(line_api, line_engine, tmp_path):
    line_api.reset()
    line_engine.received.clear()
    user = new_user()
    sent, later = text_event(user, "再起動前の質問"), text_event(user, "再起動後の質問")
    old = json.loads(json.dumps(sent))
    old["webhookEventId"], old["replyToken"] = "01OLDEVENT" + uuid.uuid4().hex[:16].upper(), uuid.uuid4().hex
    env = line_env(line_api)
    first = GatewayProcess(line_engine.url, tmp_path, **env)
    try:
        assert post_webhook(first.url, [sent, old]).status_code == 200
        line_api.wait_calls("reply", 2)
    finally:
        first.stop()
    db = sa.create_engine(first.db_url.replace("gateway.db", "line_inbox.db"))  # the inbox's own SQLite file
    with db.begin() as c:  # pretend the second event came 8 days ago: it expires at the next start
        c.execute(webhook_events.update().where(webhook_events.c.event_id == old["webhookEventId"])
                  .values(received_at=utcnow() - timedelta(days=8)))
    second = GatewayProcess(line_engine.url, tmp_path, **env)
    try:
        redelivered = json.loads(json.dumps(sent))
        redelivered["deliveryContext"]["isRedelivery"] = True
        assert post_webhook(second.url, [redelivered, later]).status_code == 200
        line_api.wait_calls("reply", 3)
        line_api.quiet(0.5)
        assert [m["message"] for m in line_engine.received] == ["再起動前の質問", "再起動前の質問", "再起動後の質問"]
        assert len(line_api.calls("reply")) == 3
        assert re.search(r"LINE channel enabled at /webhooks/line/webhook .*1 expired event ids pruned", second.log())
        with db.connect() as c:
            ids = {r.event_id for r in c.execute(sa.select(webhook_events.c.event_id))}
        assert sent["webhookEventId"] in ids and later["webhookEventId"] in ids and old["webhookEventId"] not in ids
        assert_clean_log(second.log(), user, "再起動")
    finally:
        second.stop()
        db.dispose()


# ====================================================================== without credentials

def test_without_credentials_the_route_is_disabled(gateway):
    """The conftest gateway has no LINE settings."""
    answer = httpx.post(f"{gateway.url}/webhooks/line/webhook", content=b"{}", headers={"X-Line-Signature": "x"})
    assert answer.status_code == 404
    log = gateway.log()
    assert log.count("LINE channel disabled: LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN not set") == 1


def test_secret_without_token_is_disabled_too(engine, tmp_path):
    process = GatewayProcess(engine.url, tmp_path, LINE_CHANNEL_SECRET="only-the-secret")
    try:
        assert httpx.post(f"{process.url}/webhooks/line/webhook", content=b"{}").status_code == 404
        assert "LINE channel disabled: LINE_CHANNEL_ACCESS_TOKEN not set" in process.log()
        assert "only-the-secret" not in process.log()
    finally:
        process.stop()


def test_a_flood_from_one_user_is_capped(line: Line):
    """At most 50 events wait per user; more in the meantime are refused, logged and listed for staff (never
    dropped silently); others are not held up."""
    user, other = new_user(), new_user()
    flood = [text_event(user, f"連投 {i}") for i in range(60)]
    line.post(*flood, text_event(other, "ふつうの質問"))
    line.api.wait_calls("reply", 51, timeout=30)
    line.api.quiet(0.5)
    assert [t for t in line.engine_texts() if t.startswith("連投")] == [f"連投 {i}" for i in range(50)]
    assert "ふつうの質問" in line.engine_texts()
    assert line.gateway.log().count(f"events waiting for conv={conversation_ref('line:' + user)}, event refused") == 10
    staff = staff_user(line.gateway, "flood-clerk", "staff")
    failed = [f for f in staff.get("/staff/api/line/failed").json()["failed"] if f["conversation_id"] == "line:" + user]
    assert len(failed) == 10 and {(f["kind"], f["error"], f["answered"]) for f in failed} == {("message", "flood", False)}


def test_shutdown_lets_the_turn_in_progress_finish(line_api, line_engine, tmp_path):
    line_api.reset()
    line_engine.received.clear()
    line_engine.delay = 1.0
    process = GatewayProcess(line_engine.url, tmp_path, **line_env(line_api))
    try:
        sent = text_event(new_user(), "終了間際の質問")
        assert post_webhook(process.url, [sent]).status_code == 200
        line_api.wait_calls("loading", 1)
    finally:
        process.stop()  # SIGTERM while the engine is still working on the turn
        line_engine.delay = 0.0
    assert process.proc.returncode is not None
    [reply] = line_api.calls("reply")
    assert reply["json"]["replyToken"] == sent["replyToken"]
    assert "LINE channel stopped: 1 queues finished, 0 cancelled" in process.log()
