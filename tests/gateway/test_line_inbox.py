"""The durable LINE inbox (connectors/line/channel.py, gateway/storage/line_inbox.py) against real gateway
processes, the stand-in engine and the fake LINE API: an event acknowledged to LINE survives a SIGKILL of the
gateway, reaches the engine exactly once and gets an answer by push; redeliveries have no effect; the user's
order holds across the restart; an event that keeps failing is given up after N tries and listed for staff; a
staff reply that LINE did not take yet survives a SIGKILL too."""

from __future__ import annotations

import json
import time

import httpx
import sqlalchemy as sa

from gateway import texts
from gateway.handoff.router import conversation_ref
from gateway.storage.line_inbox import inbox
from tests.gateway.conftest import GatewayProcess, staff_login, staff_user
from tests.gateway.line_fake import (FakeLineApi, LineStandInEngine, line_api, line_engine, line_env,  # noqa: F401
                                     new_user, post_webhook, postback_event, text_event)


def texts_pushed(api: FakeLineApi, user: str):
    return [m["text"] for r in api.calls("push") if (r["json"] or {}).get("to") == user and r["status"] == 200
            for m in r["json"]["messages"]]


def inbox_url(gateway: GatewayProcess) -> str:
    """On SQLite the inbox has a file of its own beside gateway.db."""
    return gateway.db_url.replace("gateway.db", "line_inbox.db")


def inbox_rows(gateway: GatewayProcess):
    db = sa.create_engine(inbox_url(gateway))
    try:
        with db.connect() as c:
            return [dict(r._mapping) for r in c.execute(sa.select(inbox).order_by(inbox.c.id))]
    finally:
        db.dispose()


def test_sigkill_while_the_engine_hangs_loses_nothing(line_api: FakeLineApi, line_engine: LineStandInEngine,
                                                      tmp_path):
    """The engine hangs on the user's first message; two more wait behind it. SIGKILL, restart: the first is
    never sent again (the user gets the apology with 「担当者と話す」 by push), the two others reach the engine
    once each, in order, and are answered by push; LINE's redeliveries change nothing."""
    line_api.reset()
    line_engine.received.clear()
    line_engine.mode = "hang"
    user = new_user()
    first, second, third = (text_event(user, t) for t in ("止まる質問", "二番目の質問", "三番目の質問"))
    env = line_env(line_api, ENGINE_TIMEOUT="60", LINE_REPLY_TOKEN_SECONDS="1")
    gateway = GatewayProcess(line_engine.url, tmp_path, **env)
    try:
        for sent in (first, second, third):
            started = time.perf_counter()
            assert post_webhook(gateway.url, [sent]).status_code == 200
            assert time.perf_counter() - started < 1.0
        line_api.wait_for(lambda: [m["message"] for m in line_engine.received] == ["止まる質問"])
        assert [r["state"] for r in inbox_rows(gateway)] == ["engine", "pending", "pending"]
        gateway.proc.kill()  # SIGKILL: no clean-up, no drain
        gateway.proc.wait(10)
    finally:
        if gateway.alive():
            gateway.proc.kill()
        line_engine.mode = "ok"  # the hung request ends, its answer goes nowhere
    assert line_api.calls("reply") == [] and line_api.calls("push") == []

    restarted = GatewayProcess(line_engine.url, tmp_path, **env)
    try:
        line_api.wait_for(lambda: len(texts_pushed(line_api, user)) >= 3, timeout=20)
        redelivered = [json.loads(json.dumps(e)) for e in (first, second, third)]
        for e in redelivered:
            e["deliveryContext"]["isRedelivery"] = True
        assert post_webhook(restarted.url, redelivered).status_code == 200
        line_api.quiet(0.7)
        assert [m["message"] for m in line_engine.received] == ["止まる質問", "二番目の質問", "三番目の質問"]
        assert texts_pushed(line_api, user) == [texts.LINE_INTERRUPTED, "echo:二番目の質問", "echo:三番目の質問"]
        apology = next(r for r in line_api.calls("push") if r["json"]["messages"][0]["text"] == texts.LINE_INTERRUPTED)
        assert [i["action"]["label"] for i in apology["json"]["messages"][0]["quickReply"]["items"]] == ["担当者と話す"]
        assert line_api.calls("reply") == []  # the reply tokens were too old
        assert inbox_rows(restarted) == []  # done: nothing left to resume
        log = restarted.log()
        assert "line inbox: resuming 3 events not done before the last stop" in log
        assert log.count("line: duplicate event") == 3
        for secret in (user, "止まる", "二番目", "三番目"):
            assert secret not in log and secret not in gateway.log()
    finally:
        restarted.stop()


def test_an_event_that_keeps_failing_is_given_up_and_shown_to_staff(line_api, line_engine, tmp_path):
    """LINE refuses the reply and every push: the delivery (not the turn: the engine sees the text once) is
    tried LINE_INBOX_ATTEMPTS times with backoff, then marked failed, logged without the text and listed for
    staff; the user's next message is answered as usual."""
    line_api.reset()
    line_engine.received.clear()
    user = new_user()
    sent = text_event(user, "届かない答えの質問")
    sent["replyToken"] = "expired-" + sent["replyToken"]  # the fake refuses it: the answer goes by push
    env = line_env(line_api, LINE_PUSH_ATTEMPTS="1", LINE_INBOX_ATTEMPTS="3", LINE_INBOX_RETRY_SECONDS="0.2")
    gateway = GatewayProcess(line_engine.url, tmp_path, **env)
    try:
        line_api.fail("push", 500, times=3)
        assert post_webhook(gateway.url, [sent]).status_code == 200
        ref = conversation_ref("line:" + user)
        line_api.wait_for(lambda: "given up after 3 tries" in gateway.log(), timeout=20)
        assert [m["message"] for m in line_engine.received] == ["届かない答えの質問"]
        assert len(line_api.calls("push")) == 3
        keys = {r["headers"]["x-line-retry-key"] for r in line_api.calls("push")}
        assert len(keys) == 1  # the same retry key each time: LINE would deliver it once
        log = gateway.log()
        assert f"given up after 3 tries (DeliveryFailed) conv={ref} type=message" in log
        assert log.count(f"failed (DeliveryFailed) conv={ref}, try") == 2
        assert "届かない" not in log and user not in log
        [row] = inbox_rows(gateway)
        assert row["state"] == "failed" and row["attempts"] == 3
        assert "届かない" not in row["payload"] and "届かない" not in row["outgoing"]  # encrypted at rest
        staff = staff_user(gateway, "inbox-clerk", "staff")
        [failed] = staff.get("/staff/api/line/failed").json()["failed"]
        assert failed["conversation_id"] == "line:" + user
        assert (failed["kind"], failed["attempts"], failed["error"], failed["answered"]) == \
            ("message", 3, "DeliveryFailed", True)
        assert "届かない" not in json.dumps(failed, ensure_ascii=False)
        assert staff.get("/staff/api/line/failed").status_code == 200
        assert httpx.get(gateway.url + "/staff/api/line/failed").status_code == 401  # staff only
        after = text_event(user, "次の質問")
        assert post_webhook(gateway.url, [after]).status_code == 200
        line_api.wait_for(lambda: any(r["json"]["replyToken"] == after["replyToken"] and r["status"] == 200
                                      for r in line_api.calls("reply")), timeout=10)
        assert [m["message"] for m in line_engine.received] == ["届かない答えの質問", "次の質問"]
    finally:
        gateway.stop()


def test_a_staff_reply_waiting_for_line_survives_a_sigkill(line_api, line_engine, tmp_path):
    """LINE is down when a clerk replies: the reply is stored in the inbox (encrypted) and shown 「送信済み」,
    not delivered. SIGKILL the gateway; LINE comes back; the restarted gateway delivers it exactly once, with
    the retry key of the first tries, and only then is it marked delivered."""
    line_api.reset()
    user = new_user()
    chat = "line:" + user
    env = line_env(line_api, LINE_PUSH_ATTEMPTS="1", LINE_INBOX_ATTEMPTS="100", LINE_INBOX_RETRY_SECONDS="0.3")
    gateway = GatewayProcess(line_engine.url, tmp_path, **env)
    text = "再起動をまたぐ返信です"
    try:
        ask = postback_event(user, "/request_human")
        assert post_webhook(gateway.url, [ask]).status_code == 200
        line_api.wait_for(lambda: any(r["json"]["replyToken"] == ask["replyToken"] for r in line_api.calls("reply")))
        clerk = staff_user(gateway, "outage-clerk", "staff", "pw-outage-clerk-0123456789")
        assert clerk.act(chat, "claim").status_code == 200
        line_api.wait_for(lambda: texts.STAFF_JOINED in texts_pushed(line_api, user))
        line_api.fail("push", 503, times=10_000)  # LINE is down
        answer = clerk.act(chat, "reply", {"text": text})
        assert answer.status_code == 200 and answer.json()["message"]["delivery"] == "sent"
        reply_id = answer.json()["message"]["id"]
        tried = line_api.wait_for(lambda: [r for r in line_api.calls("push")
                                           if r["json"]["messages"][0]["text"] == text] or None)
        key = tried[0]["headers"]["x-line-retry-key"]
        [row] = inbox_rows(gateway)
        assert (row["kind"], row["state"]) == ("push", "answered")
        assert text not in row["payload"] and text not in row["outgoing"]  # encrypted at rest
        gateway.proc.kill()  # SIGKILL: no clean-up, no drain
        gateway.proc.wait(10)
    finally:
        if gateway.alive():
            gateway.proc.kill()
    line_api.reset()  # LINE is back

    restarted = GatewayProcess(line_engine.url, tmp_path, **env)
    try:
        line_api.wait_for(lambda: text in texts_pushed(line_api, user), timeout=20)
        line_api.quiet(1.0)
        assert texts_pushed(line_api, user) == [text]  # once
        assert {r["headers"]["x-line-retry-key"] for r in line_api.calls("push")} == {key}
        clerk = staff_login(restarted, "outage-clerk", "pw-outage-clerk-0123456789")
        line_api.wait_for(lambda: next(m for m in clerk.conversation(chat).json()["messages"]
                                       if m["id"] == reply_id)["delivered_at"])
        assert inbox_rows(restarted) == []
        log = restarted.log() + gateway.log()
        assert "line inbox: resuming 1 events not done before the last stop" in restarted.log()
        assert text not in log and user not in log
    finally:
        restarted.stop()
