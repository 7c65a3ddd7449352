"""History of closed chats through the real gateway: search by date, channel, outcome and text (server side,
paginated), counseling chats and their text only for the counseling roles, every search and opening audited."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from gateway.staff import auth as staff_auth
from gateway.storage.db import connect
from tests.gateway.conftest import HTTP, GatewayProcess, staff_user


def say(process: GatewayProcess, sender: str, text: str) -> None:
    assert HTTP.post(f"{process.url}/api/messages", json={"sender": sender, "message": text}).status_code == 200


def closed_chat(process, session, queue: str, words: str, outcome: str) -> str:
    sender = f"h{queue[0]}-{uuid.uuid4().hex[:8]}"
    say(process, sender, {"general": "人と話したい", "counseling": "相談員と話したい"}[queue])
    conversation_id = f"rest:{sender}"
    assert session.act(conversation_id, "claim").status_code == 200
    say(process, sender, words)
    assert session.act(conversation_id, "close", {"outcome": outcome}).status_code == 200
    return conversation_id


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("history"))
    s = {role: staff_user(process, f"hi-{role}", role) for role in ("staff", "counselor", "supervisor", "admin")}
    general = closed_chat(process, s["staff"], "general", "粗大ごみの出し方を教えて", "resolved")
    counseling = closed_chat(process, s["counselor"], "counseling", "ひみつのなやみがあります", "listened")
    others = [closed_chat(process, s["staff"], "general", f"ページ送りの確認{i}", "other") for i in range(21)]
    yield process, s, general, counseling, others
    process.stop()


def ids(answer) -> list:
    assert answer.status_code == 200, answer.text
    return [r["conversation_id"] for r in answer.json()["results"]]


def test_general_staff_find_general_chats_by_text_never_counseling_ones(setup):
    _, s, general, counseling, _ = setup
    assert ids(s["staff"].get("/staff/api/history?q=出し方")) == [general]
    assert counseling not in ids(s["staff"].get("/staff/api/history?outcome=listened"))
    assert ids(s["staff"].get("/staff/api/history?q=ひみつ")) == []
    everything = [r for p in (1, 2) for r in s["staff"].get(f"/staff/api/history?page={p}").json()["results"]]
    assert counseling not in {r["conversation_id"] for r in everything} and all(not r["counseling"] for r in everything)


def test_counselors_search_counseling_text_and_supervisors_see_both(setup):
    _, s, general, counseling, _ = setup
    assert ids(s["counselor"].get("/staff/api/history?q=ひみつ")) == [counseling]  # encrypted text, read to search
    assert general not in ids(s["counselor"].get("/staff/api/history"))
    assert ids(s["supervisor"].get("/staff/api/history?q=ひみつ")) == [counseling]
    assert ids(s["supervisor"].get("/staff/api/history?q=出し方")) == [general]
    assert ids(s["admin"].get("/staff/api/history?q=ひみつ")) == []
    assert counseling not in ids(s["admin"].get("/staff/api/history"))  # counseling: counselors and supervisors only


def test_filters_and_pages(setup):
    _, s, general, _, others = setup
    first = s["staff"].get("/staff/api/history?outcome=other").json()
    assert first["total"] == 21 and first["pages"] == 2 and len(first["results"]) == 20
    second = s["staff"].get("/staff/api/history?outcome=other&page=2").json()
    assert {r["conversation_id"] for r in first["results"] + second["results"]} == set(others)
    assert ids(s["staff"].get("/staff/api/history?outcome=resolved&channel=rest")) == [general]
    assert ids(s["staff"].get("/staff/api/history?channel=line")) == []
    today = datetime.now(timezone(timedelta(hours=9))).date()
    assert general in ids(s["staff"].get(f"/staff/api/history?from={today}&to={today}&outcome=resolved"))
    assert ids(s["staff"].get(f"/staff/api/history?from={today + timedelta(days=1)}")) == []
    assert ids(s["staff"].get(f"/staff/api/history?to={today - timedelta(days=1)}")) == []


def test_opening_a_result_is_audited_and_counseling_is_hidden_from_staff(setup):
    process, s, general, counseling, _ = setup
    entry = {r["conversation_id"]: r["entry"] for r in s["supervisor"].get("/staff/api/history?page=1").json()["results"]}
    counseling_entry = s["counselor"].get("/staff/api/history").json()["results"][0]["entry"]
    general_entry = s["staff"].get("/staff/api/history?q=出し方").json()["results"][0]["entry"]
    opened = s["staff"].get(f"/staff/api/history/{general_entry}")
    assert opened.status_code == 200 and "粗大ごみの出し方を教えて" in [m["text"] for m in opened.json()["messages"]]
    assert s["staff"].get(f"/staff/api/history/{counseling_entry}").status_code == 404  # not even its existence
    read = s["counselor"].get(f"/staff/api/history/{counseling_entry}").json()
    assert "ひみつのなやみがあります" in [m["text"] for m in read["messages"]]
    admin_view = s["admin"].get(f"/staff/api/history/{counseling_entry}")
    assert admin_view.status_code == 404 and "ひみつのなやみがあります" not in admin_view.text
    assert s["counselor"].get(f"/staff/api/history/{general_entry}").status_code == 404
    assert s["staff"].get("/staff/api/history/999999").status_code == 404
    log = staff_auth.audit_entries(connect(process.db_url), 500)
    assert any(e["action"] == "view_history" and e["username"] == "hi-staff" and e["conversation_id"] == general
               for e in log)
    assert any(e["action"] == "history_search" and e["username"] == "hi-staff" and "q=出し方" in (e["detail"] or "")
               for e in log)
    assert entry  # the supervisor's search answered


@pytest.mark.parametrize("query", ["from=2026-13-01", "to=yesterday", "page=0", "page=x", "channel=fax",
                                   "outcome=won", "q=" + "あ" * 101, "from=2026-02-02&to=2026-02-01"])
def test_bad_searches_are_400(setup, query):
    _, s, *_ = setup
    assert s["staff"].get(f"/staff/api/history?{query}").status_code == 400


def test_no_session_is_401(setup):
    process, *_ = setup
    assert HTTP.get(f"{process.url}/staff/api/history").status_code == 401
    assert HTTP.get(f"{process.url}/staff/api/history/1").status_code == 401


def test_a_counseling_chat_closed_for_inactivity_is_in_the_history(engine, tmp_path):
    """The inactivity close writes no audit entry: its closing line stands for it (counseling roles only)."""
    process = GatewayProcess(engine.url, tmp_path, COUNSELING_SWEEP_SECONDS="0.3",
                             COUNSELING_IDLE_CHECK_MINUTES="0.02", COUNSELING_IDLE_CLOSE_MINUTES="0.02")
    try:
        counselor = staff_user(process, "idle-counselor", "counselor")
        clerk = staff_user(process, "idle-clerk", "staff")
        sender = f"idle-{uuid.uuid4().hex[:8]}"
        say(process, sender, "相談員と話したい")
        assert counselor.act(f"rest:{sender}", "claim").status_code == 200
        say(process, sender, "だれにもいえないこと")
        found = []
        for _ in range(60):
            found = counselor.get("/staff/api/history?outcome=no_response").json()["results"]
            if found:
                break
            time.sleep(0.5)
        assert [(r["conversation_id"], r["automatic"], r["counseling"]) for r in found] == [(f"rest:{sender}", True, True)]
        assert found[0]["entry"] < 0
        assert ids(counselor.get("/staff/api/history?q=だれにも")) == [f"rest:{sender}"]
        opened = counselor.get(f"/staff/api/history/{found[0]['entry']}").json()
        assert "だれにもいえないこと" in [m["text"] for m in opened["messages"]]
        assert clerk.get("/staff/api/history").json()["results"] == []
        assert clerk.get(f"/staff/api/history/{found[0]['entry']}").status_code == 404
    finally:
        process.stop()
