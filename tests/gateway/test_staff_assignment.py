"""Automatic assignment through real gateway processes (STAFF_AUTO_ASSIGN=1): the oldest waiting chat goes to an
online member of the queue's role under the per-person limit; away, offline, other roles and supervisors get none;
a closed chat frees a place; two gateways on one database never give one chat twice."""

from __future__ import annotations

import time
import uuid

import pytest

from gateway.staff import auth as staff_auth
from gateway.storage.db import connect
from tests.gateway.conftest import HTTP, GatewayProcess, staff_user

AUTO = {"STAFF_AUTO_ASSIGN": "1", "STAFF_MAX_CHATS": "2", "STAFF_SWEEP_SECONDS": "0.3"}


def queue_chat(process: GatewayProcess, queue: str = "general") -> str:
    sender = f"as-{uuid.uuid4().hex[:8]}"
    message = {"general": "人と話したい", "counseling": "相談員と話したい"}[queue]
    assert HTTP.post(f"{process.url}/api/messages", json={"sender": sender, "message": message}).status_code == 200
    return f"rest:{sender}"


def owners(session, ids) -> dict:
    return {i: session.conversation(i).json()["conversation"]["owner"] for i in ids}


def wait_for(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    return check()


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("assign"), **AUTO)
    s = {name: staff_user(process, f"as-{name}", role) for name, role in
         (("a", "staff"), ("b", "staff"), ("away", "staff"), ("counselor", "counselor"), ("boss", "supervisor"))}
    for name in ("away", "counselor", "boss"):
        s[name].post("/staff/api/presence", {"status": "away" if name == "away" else "online"})
    yield process, s
    process.stop()


def test_oldest_first_to_online_members_under_the_limit(setup):
    process, s = setup
    s["a"].post("/staff/api/presence", {"status": "online"})
    s["b"].post("/staff/api/presence", {"status": "online"})
    chats = [queue_chat(process) for _ in range(5)]
    boss = s["boss"]
    wait_for(lambda: sum(o.startswith("staff:") for o in owners(boss, chats).values()) == 4)
    owned = owners(boss, chats)
    assert sorted(owned.values()) == ["queued", "staff:as-a", "staff:as-a", "staff:as-b", "staff:as-b"]
    assert owned[chats[-1]] == "queued"  # the newest waits: both are at the limit of 2
    log = staff_auth.audit_entries(connect(process.db_url), 200)
    assert {e["conversation_id"] for e in log if e["action"] == "auto_assign"} == set(chats[:4])
    # a closed chat frees a place: the waiting one goes to that person
    closer = s["a"] if owned[chats[0]] == "staff:as-a" else s["b"]
    assert closer.act(chats[0], "close", {"outcome": "resolved"}).status_code == 200
    assert wait_for(lambda: owners(boss, [chats[-1]])[chats[-1]] == "staff:" + closer.username)
    for chat in chats[1:]:
        owner = owners(boss, [chat])[chat]
        who = s["a"] if owner == "staff:as-a" else s["b"]
        who.act(chat, "close", {"outcome": "resolved"})


def test_away_offline_other_roles_and_supervisors_get_nothing(setup):
    process, s = setup
    for name in ("a", "b"):
        assert s[name].post("/staff/api/presence", {"status": "offline"}).status_code == 200
    chat = queue_chat(process)
    time.sleep(1.5)  # several sweeps
    assert owners(s["boss"], [chat])[chat] == "queued"
    counseling = queue_chat(process, "counseling")
    assert wait_for(lambda: owners(s["boss"], [counseling])[counseling] == "staff:as-counselor")
    s["a"].post("/staff/api/presence", {"status": "online"})  # online again: the general chat goes to a
    assert wait_for(lambda: owners(s["boss"], [chat])[chat] == "staff:as-a")


def test_two_gateways_never_assign_one_chat_twice(engine, tmp_path_factory):
    directory = tmp_path_factory.mktemp("assign-two")
    busy = AUTO | {"STAFF_MAX_CHATS": "20", "STAFF_SWEEP_SECONDS": "0.2"}
    first = GatewayProcess(engine.url, directory, **busy)  # makes the database and the keys the second one reads
    second = GatewayProcess(engine.url, directory, **busy)
    try:
        people = [staff_user(first, f"two-{i}", "staff") for i in range(2)]
        for person, gateway in zip(people, (first, second)):
            assert HTTP.post(f"{gateway.url}/staff/api/presence", json={"status": "online"},
                             headers=person.cookie | {"X-CSRF-Token": person.csrf}).status_code == 200
        chats = [queue_chat(process) for process in (first, second) * 6]
        wait_for(lambda: not HTTP.get(f"{first.url}/staff/api/queue", headers=people[0].cookie).json()["waiting"], 15)
        log = staff_auth.audit_entries(connect(first.db_url), 500)
        assigned = [e["conversation_id"] for e in log if e["action"] == "auto_assign"]
        assert sorted(assigned) == sorted(chats)  # each once
        assert "Traceback" not in first.log() + second.log()
    finally:
        first.stop()
        second.stop()
