"""Youth counseling through the real gateway process (README "Youth counseling"): what each risk level does in
every state, the counseling queue's order, intake, hours, protected and encrypted transcripts, alerts to the
staff console, risk set by a counselor, and the engine never seeing counseling text."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Dict, List

import pytest
import socketio
import sqlalchemy as sa
import yaml

from tests.gateway.conftest import HTTP, ROOT, GatewayProcess, staff_user

EMERGENCY = "今から死ぬ"  # these come from the rules' own examples (data/counseling/triage.yml)
HIGH = "死にたい"
WORRY = "学校でいじめられてる"
ASKS = "相談員さんと話したい"
SHARED_HOTLINES = ROOT.parent / "shared" / "data" / "hotlines" / "hotlines.yml"


@pytest.fixture(scope="module")
def gw(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("counseling"), COUNSELING_SWEEP_SECONDS="0")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def people(gw) -> Dict:
    return {role: staff_user(gw, f"{role}-{uuid.uuid4().hex[:6]}", role)
            for role in ("staff", "counselor", "supervisor", "admin")}


def say(gw: GatewayProcess, sender: str, text: str) -> List[Dict]:
    answer = HTTP.post(f"{gw.url}/api/messages", json={"sender": sender, "message": text})
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"]


def joined(messages: List[Dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def row(gw: GatewayProcess, conversation_id: str) -> Dict:
    with sa.create_engine(gw.db_url).connect() as c:
        found = c.execute(sa.text("select * from conversations where id = :id"), {"id": conversation_id}).one()
    return dict(found._mapping)


def stored_texts(gw: GatewayProcess, conversation_id: str) -> List[tuple]:
    with sa.create_engine(gw.db_url).connect() as c:
        return [tuple(r) for r in c.execute(sa.text("select sender, text, protected from messages "
                                                    "where conversation_id = :id order by id"), {"id": conversation_id})]


def new_sender() -> str:
    return uuid.uuid4().hex


# ------------------------------------------------------------------ each level, bot state

def test_emergency_numbers_at_once_top_of_counseling_queue_never_the_engine(gw, engine):
    sender = new_sender()
    shown = joined(say(gw, sender, EMERGENCY))
    for number in ("110", "119", "0120-0-78310", "189", "011-231-4343"):
        assert number in shown
    assert "ここで待っていて" in shown
    assert not any(r["message"] == EMERGENCY for r in engine.received)
    found = row(gw, f"rest:{sender}")
    assert (found["owner"], found["queue"], found["priority"], found["risk"]) == ("queued", "counseling", 3, "emergency")
    assert found["counseling_since"] is not None


def test_counseling_text_is_encrypted_at_rest_and_never_logged(gw):
    sender = new_sender()
    secret = f"{HIGH} {uuid.uuid4().hex[:6]}"
    say(gw, sender, secret)
    stored = stored_texts(gw, f"rest:{sender}")
    user_rows = [r for r in stored if r[0] == "user"]
    assert user_rows and all(r[2] for r in user_rows)  # protected
    assert all(secret not in r[1] for r in stored)  # not in clear text in the database
    assert user_rows[0][1].startswith("gAAAA")  # a Fernet token
    assert secret not in gw.log() and HIGH not in gw.log()


def test_high_risk_shows_numbers_and_the_intake(gw):
    sender = new_sender()
    shown = say(gw, sender, HIGH)
    text = joined(shown)
    assert "110" in text and "0120-0-78310" in text
    assert "相談員" in text and "秘密" in text and "受付時間" in text and "番目" in text
    age_question = shown[-1]
    assert [b["title"] for b in age_question["quick_replies"]][:3] == ["小学生", "中学生", "高校生"]
    assert row(gw, f"rest:{sender}")["priority"] == 2


def test_a_worry_gets_the_counseling_menu_without_the_engine_then_a_tap_queues(gw, engine):
    sender = new_sender()
    shown = say(gw, sender, WORRY)
    assert shown[-1]["quick_replies"][0]["payload"] == "/request_counselor"
    assert row(gw, f"rest:{sender}")["owner"] == "bot"
    assert not any(r["message"] == WORRY for r in engine.received)
    queued = say(gw, sender, "/request_counselor")
    assert "番目" in joined(queued)
    found = row(gw, f"rest:{sender}")
    assert (found["owner"], found["queue"], found["priority"], found["risk"]) == ("queued", "counseling", 1, "normal")


def test_a_direct_request_for_a_counselor_never_goes_to_the_general_queue(gw, engine):
    sender = new_sender()
    say(gw, sender, ASKS)
    assert row(gw, f"rest:{sender}")["queue"] == "counseling"
    assert not engine.received


def test_intake_answers_typed_or_tapped_are_kept_for_the_counselor(gw, people):
    sender = new_sender()
    say(gw, sender, "/request_counselor")
    topic_question = say(gw, sender, "中学2年です")  # typed, not tapped
    assert "どんなこと" in joined(topic_question)
    done = say(gw, sender, "いじめ")
    assert "ありがとうございます" in joined(done)
    found = row(gw, f"rest:{sender}")
    assert (found["intake_age"], found["intake_topic"]) == ("中学生", "いじめ")
    waiting = {c["id"]: c for c in people["counselor"].queue()["waiting"]}
    assert waiting[f"rest:{sender}"]["intake"] == {"age": "中学生", "topic": "いじめ"}
    assert waiting[f"rest:{sender}"]["wait_minutes"] >= 1


def test_intake_can_be_skipped_and_a_real_message_ends_it(gw):
    sender = new_sender()
    say(gw, sender, "/request_counselor")
    shown = say(gw, sender, "クラスの子に毎日悪口を言われていて、先生にも言えなくて困っています")
    assert "どんなこと" not in joined(shown) and "お待ちください" in joined(shown)
    assert row(gw, f"rest:{sender}")["intake_step"] == 3


def test_queue_order_is_emergency_then_high_then_normal_then_waiting_time(gw, people):
    normal, high, emergency = new_sender(), new_sender(), new_sender()
    say(gw, normal, ASKS)
    say(gw, high, HIGH)
    say(gw, emergency, EMERGENCY)
    order = [c["id"] for c in people["counselor"].queue()["waiting"]]
    places = [order.index(f"rest:{s}") for s in (emergency, high, normal)]
    assert places == sorted(places)
    risks = [c["risk"] for c in people["counselor"].queue()["waiting"]]
    ranks = [["none", "normal", "high", "emergency"].index(r) for r in risks]
    assert ranks == sorted(ranks, reverse=True)


def test_risk_only_rises_and_waiting_moves_up(gw):
    sender = new_sender()
    say(gw, sender, ASKS)
    assert row(gw, f"rest:{sender}")["priority"] == 1
    say(gw, sender, HIGH)
    assert (row(gw, f"rest:{sender}")["risk"], row(gw, f"rest:{sender}")["priority"]) == ("high", 2)
    say(gw, sender, "ありがとう")
    say(gw, sender, WORRY)
    assert row(gw, f"rest:{sender}")["risk"] == "high"


def test_danger_while_waiting_for_a_clerk_moves_the_chat_to_counseling(gw, engine):
    sender = new_sender()
    say(gw, sender, "人と話したい")  # the stand-in engine hands over to the general queue
    assert row(gw, f"rest:{sender}")["queue"] == "general"
    shown = joined(say(gw, sender, EMERGENCY))
    assert "110" in shown
    found = row(gw, f"rest:{sender}")
    assert (found["queue"], found["priority"], found["risk"]) == ("counseling", 3, "emergency")


# ------------------------------------------------------------------ staff side

async def _socket(gw: GatewayProcess, session) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(gw.url, namespaces=["/staff"], transports=["websocket"], headers=dict(session.cookie),
                         wait_timeout=10)
    return client


async def test_emergency_alerts_every_online_counselor_and_supervisor_but_not_general_staff(gw, people):
    alerts: Dict[str, list] = {role: [] for role in people}
    clients = []
    for role, session in people.items():
        client = await _socket(gw, session)
        client.on("alert", (lambda r: lambda data: alerts[r].append(data))(role), namespace="/staff")
        clients.append(client)
    try:
        sender = new_sender()
        await asyncio.to_thread(say, gw, sender, EMERGENCY)
        for _ in range(50):
            if alerts["counselor"] and alerts["supervisor"]:
                break
            await asyncio.sleep(0.1)
        for role in ("counselor", "supervisor"):
            mine = [a for a in alerts[role] if a["conversation_id"] == f"rest:{sender}"]
            assert mine and mine[0]["level"] == "emergency" and mine[0]["kind"] == "risk", role
        assert not [a for a in alerts["staff"] if a["conversation_id"] == f"rest:{sender}"]
    finally:
        for client in clients:
            await client.disconnect()


async def test_chats_queued_at_once_are_all_in_the_last_lists_the_console_gets(gw, people):
    """Many chats queue at the same moment; each change refreshes the consoles' lists. The lists the console
    gets last must hold every one of them (refreshes side by side once sent older lists last)."""
    lists: List[Dict] = []
    client = await _socket(gw, people["counselor"])
    client.on("queue", lists.append, namespace="/staff")
    senders = [new_sender() for _ in range(12)]
    try:
        await asyncio.gather(*(asyncio.to_thread(say, gw, sender, ASKS) for sender in senders))
        wanted = {f"rest:{sender}" for sender in senders}
        for _ in range(50):
            if lists and wanted <= {c["id"] for c in lists[-1]["waiting"]}:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # nothing older may come after
        assert wanted <= {c["id"] for c in lists[-1]["waiting"]}
    finally:
        await client.disconnect()


async def test_danger_in_a_clerks_chat_alerts_the_clerk_with_a_transfer_offer(gw, people):
    clerk = staff_user(gw, f"clerk-{uuid.uuid4().hex[:6]}", "staff")
    sender = new_sender()
    say(gw, sender, "人と話したい")
    assert clerk.act(f"rest:{sender}", "claim").status_code == 200
    alerts: List[Dict] = []
    client = await _socket(gw, clerk)
    client.on("alert", alerts.append, namespace="/staff")
    try:
        shown = await asyncio.to_thread(say, gw, sender, EMERGENCY)
        assert "110" in joined(shown)  # the youth sees the numbers even though a person owns the chat
        for _ in range(50):
            if alerts:
                break
            await asyncio.sleep(0.1)
        assert alerts and alerts[0]["kind"] == "clerk_chat" and alerts[0]["offer_transfer"] is True
    finally:
        await client.disconnect()
    # The clerk does not read the words of danger; the transfer to counseling starts a counseling session.
    texts = [m["text"] for m in clerk.conversation(f"rest:{sender}").json()["messages"]]
    assert EMERGENCY not in texts
    moved = clerk.act(f"rest:{sender}", "transfer", {"queue": "counseling"})
    assert moved.status_code == 200, moved.text
    found = row(gw, f"rest:{sender}")
    assert (found["queue"], found["priority"]) == ("counseling", 3) and found["counseling_since"] is not None


def test_general_staff_never_see_an_earlier_counseling_session(gw, people):
    counselor, clerk, supervisor = people["counselor"], staff_user(gw, f"c2-{uuid.uuid4().hex[:6]}", "staff"), \
        people["supervisor"]
    sender = new_sender()
    conversation = f"rest:{sender}"
    secret = f"{WORRY} {uuid.uuid4().hex[:6]}"
    say(gw, sender, secret)
    say(gw, sender, "/request_counselor")
    assert counselor.act(conversation, "claim").status_code == 200
    assert counselor.act(conversation, "reply", {"text": "話してくれてありがとう"}).status_code == 200
    closed = counselor.act(conversation, "close", {"outcome": "listened"})
    assert closed.status_code == 200, closed.text
    # Later the same citizen asks a clerk about garbage.
    say(gw, sender, "人と話したい")
    assert clerk.act(conversation, "claim").status_code == 200
    seen = clerk.conversation(conversation).json()["messages"]
    assert not any(m.get("protected") for m in seen)
    assert all(secret not in m["text"] and "話してくれてありがとう" not in m["text"] for m in seen)
    # The counselor no longer owns it and the chat is a general one now (403); the supervisor reads it all.
    assert counselor.conversation(conversation).status_code == 403
    texts = [m["text"] for m in supervisor.conversation(conversation).json()["messages"]]
    assert secret in texts and "話してくれてありがとう" in texts


def test_a_general_outcome_cannot_close_a_counseling_chat(gw, people):
    sender = new_sender()
    say(gw, sender, ASKS)
    counselor = people["counselor"]
    assert counselor.act(f"rest:{sender}", "claim").status_code == 200
    assert counselor.act(f"rest:{sender}", "close", {"outcome": "resolved"}).status_code == 400
    assert counselor.act(f"rest:{sender}", "close", {"outcome": "child_guidance"}).status_code == 200


def test_a_counselor_sets_the_risk_and_it_is_audited(gw, people):
    sender = new_sender()
    say(gw, sender, ASKS)
    answer = people["counselor"].act(f"rest:{sender}", "risk", {"level": "emergency"})
    assert answer.status_code == 200 and answer.json()["conversation"]["risk"] == "emergency"
    assert row(gw, f"rest:{sender}")["priority"] == 3
    lower = people["counselor"].act(f"rest:{sender}", "risk", {"level": "normal"})
    assert lower.json()["conversation"]["risk"] == "normal"
    assert people["counselor"].act(f"rest:{sender}", "risk", {"level": "extreme"}).status_code == 400
    audit = people["admin"].get("/staff/api/audit").json()["entries"]
    assert any(e["action"] == "set_risk" and e["conversation_id"] == f"rest:{sender}" for e in audit)


def test_the_console_is_told_levels_and_outcomes(gw, people):
    me = people["counselor"].get("/staff/api/me").json()
    assert [r["id"] for r in me["risk_levels"]] == ["none", "normal", "high", "emergency"]
    assert "listened" in [o["id"] for o in me["outcomes"]["counseling"]]


# ------------------------------------------------------------------ without the engine, outside hours

def test_counseling_works_with_the_engine_down(gw, engine):
    engine.mode = "error"
    sender = new_sender()
    shown = joined(say(gw, sender, EMERGENCY))
    assert "110" in shown and row(gw, f"rest:{sender}")["queue"] == "counseling"
    assert "番目" in joined(say(gw, new_sender(), "/request_counselor"))


def test_counseling_works_with_no_engine_process_at_all(tmp_path):
    from tests.gateway.conftest import free_port

    alone = GatewayProcess(f"http://127.0.0.1:{free_port()}", tmp_path, COUNSELING_SWEEP_SECONDS="0")
    try:
        assert HTTP.get(f"{alone.url}/healthz").status_code == 503  # the engine is really not there
        sender = new_sender()
        shown = joined(say(alone, sender, EMERGENCY))
        assert "110" in shown and "0120-0-78310" in shown
        assert row(alone, f"rest:{sender}")["queue"] == "counseling"
        assert "番目" in joined(say(alone, new_sender(), ASKS))
    finally:
        alone.stop()


def test_outside_hours_the_youth_is_told_when_counselors_answer_and_the_24_hour_lines(engine, tmp_path):
    closed = GatewayProcess(engine.url, tmp_path, COUNSELING_SWEEP_SECONDS="0",
                            COUNSELING_HOURS_FILE=str(ROOT / "tests" / "gateway" / "hours_never_open.yml"))
    try:
        sender = new_sender()
        shown = joined(say(closed, sender, "/request_counselor"))
        assert "受付時間" in shown and "0120-0-78310" in shown and "お預かり" in shown
        assert row(closed, f"rest:{sender}")["queue"] == "counseling"  # kept for the next shift (the setting)
        danger = joined(say(closed, new_sender(), EMERGENCY))
        assert "110" in danger and "119" in danger and "受付時間" in danger
    finally:
        closed.stop()


# ------------------------------------------------------------------ content

def test_every_number_the_counseling_texts_show_is_a_known_help_line():
    from gateway import texts

    known = {h["number"] for h in yaml.safe_load(SHARED_HOTLINES.read_text(encoding="utf-8"))}
    shown = " ".join(str(v) for k, v in vars(texts).items() if isinstance(v, str) and k.isupper())
    numbers = set(re.findall(r"\b\d{2,5}(?:-\d{1,5}){1,3}\b", shown)) | set(re.findall(r"(\d{3})番", shown))
    for number in numbers:
        assert number in known, number


def test_the_rules_file_says_it_must_be_reviewed():
    for name in ("triage.yml", "hours.yml"):
        assert "REVIEW" in (ROOT / "data" / "counseling" / name).read_text(encoding="utf-8")
    assert Path(ROOT / "gateway" / "texts.py").read_text(encoding="utf-8").count("REVIEW") >= 1
