"""この方の履歴 through the real gateway: the same citizen's earlier chats with a person (a counseling one never even
listed for general staff; counselors see it, not the general ones) and their 大型ごみ bookings across hand-backs
(roles that handle bookings only), roles (401/403/404), every opening audited. Real gateway process, real booking
store (an SQLite file shared with the gateway, as with the action server)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from common.booking import schedule
from common.booking.dates import available_dates
from common.booking.store import BookedItem, BookingRequest, BookingStore, owner_ref
from gateway.staff import auth as staff_auth
from gateway.storage.db import connect
from tests.gateway.conftest import HTTP, GatewayProcess, staff_user

TODAY = date(2025, 1, 15)
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=timezone(timedelta(hours=9)))
SECRET = "ひみつのなやみがあります"


def say(process: GatewayProcess, sender: str, text: str) -> None:
    assert HTTP.post(f"{process.url}/api/messages", json={"sender": sender, "message": text}).status_code == 200


def ask(process: GatewayProcess, sender: str, queue: str) -> None:
    say(process, sender, {"general": "人と話したい", "counseling": "相談員と話したい"}[queue])


def book(store: BookingStore, sender: str, item: str, ward: str = "中央区"):
    day = available_dates(schedule(), ward, TODAY, 1)[0]
    return store.book(BookingRequest(items=[BookedItem(item, 1, 1000)], ward=ward, area=None, town="南1条西",
                                     address="1-1", name=None, phone="09012345678", day=day,
                                     owner_ref=owner_ref(sender), channel="rest"), f"key-{sender}-{item}", now=NOW)


def path(conversation_id: str) -> str:
    return f"/staff/api/conversations/{conversation_id.replace(':', '%3A')}/context"


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    """Citizen ``conv``: a counseling chat (closed by a counselor), a general one (closed by a clerk), a counseling
    one again (waiting: the counselor's view) — then, in ``general_now``, the citizen waits for a clerk."""
    directory = tmp_path_factory.mktemp("context")
    url = f"sqlite:///{directory / 'assistant.db'}"
    store = BookingStore(url)
    process = GatewayProcess(engine.url, directory, ASSISTANT_DB_URL=url, ASSISTANT_TODAY=TODAY.isoformat())
    s = {role: staff_user(process, f"cx-{role}", role) for role in ("staff", "counselor", "supervisor", "admin")}
    sender = f"cx-{uuid.uuid4().hex[:8]}"
    conv = f"rest:{sender}"
    ask(process, sender, "counseling")
    assert s["counselor"].act(conv, "claim").status_code == 200
    say(process, sender, SECRET)
    assert s["counselor"].act(conv, "close", {"outcome": "listened"}).status_code == 200
    ask(process, sender, "general")
    assert s["staff"].act(conv, "claim").status_code == 200
    say(process, sender, "粗大ごみの予約について")
    assert s["staff"].act(conv, "close", {"outcome": "resolved"}).status_code == 200
    ask(process, sender, "counseling")  # waiting for a counselor now (engine session #2)
    made = {"base": book(store, conv, "ソファー"), "after_handback": book(store, f"{conv}#1", "たんす"),
            "other": book(store, "rest:someone-else", "自転車")}
    yield process, s, conv, sender, made
    process.stop()


def test_counselor_sees_the_earlier_counseling_chat_and_no_bookings(setup):
    _, s, conv, _, _ = setup
    answer = s["counselor"].get(path(conv))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(c["outcome"], c["staff"], c["channel"], c["counseling"]) for c in body["chats"]] == [
        ("listened", "cx-counselor", "rest", True)]  # the general chat is not a counselor's
    assert body["bookings"] is None and body["total"] == 1


def test_supervisor_sees_both_chats_newest_first_and_the_bookings_across_hand_backs(setup):
    _, s, conv, _, made = setup
    body = s["supervisor"].get(path(conv)).json()
    assert [c["outcome"] for c in body["chats"]] == ["resolved", "listened"]
    assert all(c["closed_at"] and c["entry"] for c in body["chats"])
    receipts = {b["receipt_no"] for b in body["bookings"]}
    assert receipts == {made["base"].receipt_no, made["after_handback"].receipt_no}  # not someone else's
    row = next(b for b in body["bookings"] if b["receipt_no"] == made["after_handback"].receipt_no)
    assert row["items"] == "たんす×1" and row["total"] == 1000 and row["status"] == "booked" and row["ward"] == "中央区"
    assert row["day"] == made["after_handback"].day.isoformat()
    assert "phone" not in row and "address" not in row


def test_staff_cannot_open_a_counseling_chats_context(setup):
    _, s, conv, _, _ = setup
    assert s["staff"].get(path(conv)).status_code == 403


def test_general_clerk_never_sees_the_counseling_chat_of_the_same_citizen(setup):
    process, s, conv, sender, made = setup
    assert s["counselor"].act(conv, "claim").status_code == 200
    assert s["counselor"].act(conv, "release").status_code == 200  # handed back by the counselor: counseling too
    ask(process, sender, "general")  # the same citizen now waits for a clerk
    answer = s["staff"].get(path(conv))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(c["outcome"], c["staff"], c["counseling"]) for c in body["chats"]] == [("resolved", "cx-staff", False)]
    assert body["total"] == 1  # not even a count betrays the counseling chats
    assert "listened" not in answer.text and "cx-counselor" not in answer.text and SECRET not in answer.text
    assert {b["receipt_no"] for b in body["bookings"]} == {made["base"].receipt_no, made["after_handback"].receipt_no}
    # a general chat's context is not a counselor's: the same rule as its transcript
    assert s["counselor"].get(path(conv)).status_code == 403
    # admins list counseling chats in the history, but do not read counseling: not here either
    assert [c["outcome"] for c in s["admin"].get(path(conv)).json()["chats"]] == ["resolved"]


def test_opening_the_context_is_audited(setup):
    process, s, conv, _, _ = setup
    assert s["supervisor"].get(path(conv)).status_code == 200
    log = staff_auth.audit_entries(connect(process.db_url), 500, conv)
    assert any(e["action"] == "view_context" and e["username"] == "cx-supervisor" and e["conversation_id"] == conv
               for e in log)


def test_no_session_is_401_and_an_unknown_chat_is_404(setup):
    process, s, conv, _, _ = setup
    assert HTTP.get(process.url + path(conv)).status_code == 401
    assert HTTP.get(process.url + path(conv), headers={"Cookie": "staff_session=forged"}).status_code == 401
    assert s["supervisor"].get(path("rest:no-such-chat")).status_code == 404


def test_bookings_unreadable_still_shows_the_chats(engine, tmp_path):
    """The action server's database cannot be opened: the chats show, the bookings say so (no 500)."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    process = GatewayProcess(engine.url, tmp_path, ASSISTANT_DB_URL=f"sqlite:///{blocker / 'assistant.db'}")
    try:
        clerk = staff_user(process, "cx-lone-clerk", "staff")
        sender = f"cx-{uuid.uuid4().hex[:8]}"
        ask(process, sender, "general")
        answer = clerk.get(path(f"rest:{sender}"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["chats"] == [] and answer.json()["bookings"] is None and answer.json()["bookings_error"]
    finally:
        process.stop()
