"""Two gateway processes on one real PostgreSQL (issue #15): what was per process is shared.

- LINE: one user's events, posted alternately to gateway 1 and 2, reach the engine one at a time (the stand-in
  engine records each sender's overlap), in arrival order, and are answered once each, in order;
- a long-wait alert of a waiting chat is sent once although both gateways run the counseling upkeep;
- wrong staff passwords on gateway 1 count on gateway 2 (the login limiter in the database);
- kill -9 of the gateway in the middle of a user's turn: the other gateway takes the user's remaining events up
  (the interrupted one gets the apology, never a second engine call) and answers them in order.

Everything starts once for the module (PostgreSQL, the fake LINE platform, the engine, two gateways); the kill
test comes last.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from typing import Any, Dict, List

import pytest
import sqlalchemy as sa
from aiohttp import web
from cryptography.fernet import Fernet

from gateway import texts
from tests.gateway.conftest import GatewayProcess, create_staff_user, post_login
from tests.gateway.line_fake import (FakeLineApi, LineStandInEngine, line_api, line_env, new_user,  # noqa: F401
                                     post_webhook, text_event)


class RecordingEngine(LineStandInEngine):
    """The LINE stand-in that records, per sender, the order of the texts and how many turns ran at once; a text
    in ``hold`` waits until it is taken out and is not counted among the turns at once: it is the kill test's
    orphan, whose gateway is dead when it ends (its overlap with the next turn is Rasa's ticket lock's to order,
    not a gateway's; that nothing moves while its gateway lives is checked by the order)."""

    def __init__(self) -> None:
        super().__init__()
        self.active: Dict[str, int] = defaultdict(int)
        self.most: Dict[str, int] = defaultdict(int)
        self.order: Dict[str, List[str]] = defaultdict(list)
        self.hold: set = set()

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, text = str(body.get("sender")), str(body.get("message"))
        self.order[sender].append(text)
        counted = text not in self.hold
        if counted:
            self.active[sender] += 1
            self.most[sender] = max(self.most[sender], self.active[sender])
        try:
            for _ in range(600):
                if text not in self.hold:
                    break
                await asyncio.sleep(0.05)
            return await super()._webhook(request)
        finally:
            if counted:
                self.active[sender] -= 1


def patient_gateway(engine_url: str, tmp, **env: str) -> GatewayProcess:
    """A gateway given up to 5 minutes to start (two of them start while others run on 2 cores)."""
    return GatewayProcess(engine_url, tmp, start_timeout=300, **env)


@pytest.fixture(scope="module")
def shared_db(postgres_url):
    """A database of its own on the session's PostgreSQL."""
    name = "shared_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield postgres_url.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="module")
def recording_engine():
    stand_in = RecordingEngine().start()
    stand_in.delay = 0.15  # every turn takes a while: two at once would overlap
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def gateways(shared_db, line_api, recording_engine, tmp_path_factory):
    env = line_env(line_api, GATEWAY_DB_URL=shared_db, COUNSELING_KEYS=Fernet.generate_key().decode(),
                   WEBCHAT_SESSION_SECRET="shared-test-secret-0123456789-abcdefghij", ENGINE_TIMEOUT="30",
                   LINE_INBOX_SWEEP_SECONDS="0.5", COUNSELING_SWEEP_SECONDS="0.3", STAFF_LONG_WAIT_SECONDS="1",
                   COUNSELING_REALERT_MINUTES="60")
    started: List[GatewayProcess] = []
    try:
        for n in (1, 2):  # one after the other: the first creates the tables
            started.append(patient_gateway(recording_engine.url, tmp_path_factory.mktemp(f"shared-gw{n}"), **env))
        yield started
    finally:
        for process in started:
            if process.alive():
                process.stop()


def delivered_texts(api: FakeLineApi, user: str, events: List[Dict[str, Any]]) -> List[str]:
    """Every text that reached the user, in delivery order (replies by their tokens, pushes by the user id)."""
    tokens = {e["replyToken"] for e in events}
    return [m.get("text") for d in list(api.delivered)
            if (d["via"] == "reply" and d["to"] in tokens) or (d["via"] == "push" and d["to"] == user)
            for m in d["messages"]]


def test_one_users_events_on_both_gateways_run_one_at_a_time_in_order(gateways, line_api, recording_engine):
    line_api.reset()
    recording_engine.delay = 0.6  # each turn outlasts the posting of the next events: without the lock they overlap
    first, second = gateways
    users = [new_user(), new_user()]
    sent: Dict[str, List[Dict[str, Any]]] = {u: [] for u in users}
    for i in range(6):
        for n, user in enumerate(users):
            event = text_event(user, f"順番{i}")
            sent[user].append(event)
            target = (first, second)[(i + n) % 2]  # alternately, and the two users on different gateways
            assert post_webhook(target.url, [event]).status_code == 200
    expected = [f"echo:順番{i}" for i in range(6)]
    try:
        for user in users:
            line_api.wait_for(lambda: len(delivered_texts(line_api, user, sent[user])) >= 6, timeout=40)
        line_api.quiet(0.7)
    finally:
        recording_engine.delay = 0.15
    for user in users:
        sender = "line:" + user
        assert recording_engine.order[sender] == [f"順番{i}" for i in range(6)]  # in order, each once
        assert recording_engine.most[sender] == 1  # never two turns of one user at once
        assert delivered_texts(line_api, user, sent[user]) == expected  # answered once each, in order
    assert {r["status"] for r in line_api.calls("reply")} == {200}
    for process in gateways:
        assert "Traceback" not in process.log()


def test_a_long_wait_is_alerted_once_with_two_gateways(gateways, line_api, recording_engine):
    """Both gateways sweep every 0.3 s; a chat waiting longer than STAFF_LONG_WAIT_SECONDS gets one alert (the
    next only after COUNSELING_REALERT_MINUTES)."""
    line_api.reset()
    user = new_user()
    ask = text_event(user, "人と話したい")
    assert post_webhook(gateways[0].url, [ask]).status_code == 200
    line_api.wait_for(lambda: delivered_texts(line_api, user, [ask]), timeout=10)
    time.sleep(3.0)  # ten sweeps of each gateway after the wait became long

    def realerted(process: GatewayProcess) -> int:
        return sum(int(part.split("=")[1]) for line in process.log().splitlines() if "counseling upkeep" in line
                   for part in line.split() if part.startswith("realerted="))
    assert [realerted(p) for p in gateways].count(1) == 1 and sum(realerted(p) for p in gateways) == 1
    leaders = [p for p in gateways if "job counseling_upkeep: this gateway runs it" in p.log()]
    assert len(leaders) == 1


def test_wrong_passwords_on_one_gateway_count_on_the_other(gateways):
    first, second = gateways
    password = "pw-shared-limit-0123456789"
    create_staff_user(first, "shared-limit", "staff", password)
    for _ in range(3):
        assert post_login(first.url, "shared-limit", "wrong-password-123").status_code == 401
    for _ in range(2):
        assert post_login(second.url, "shared-limit", "wrong-password-123").status_code == 401
    # five failures in all: the right password is refused on both (before any hash)
    assert post_login(second.url, "shared-limit", password).status_code == 429
    assert post_login(first.url, "shared-limit", password).status_code == 429


def test_kill_9_mid_turn_the_other_gateway_finishes_the_users_events(gateways, line_api, recording_engine):
    """The engine holds the user's first text (on gateway 1); the second arrives on gateway 2, the third on
    gateway 1: both wait (gateway 1 holds the chat). kill -9 gateway 1: gateway 2's sweep takes the chat up; the
    first text is never sent again (the apology with 「担当者と話す」), the two others are answered in order."""
    line_api.reset()
    first, second = gateways
    user = new_user()
    sender = "line:" + user
    recording_engine.hold.add("止まる質問")
    events = [text_event(user, t) for t in ("止まる質問", "二番目の質問", "三番目の質問")]
    try:
        assert post_webhook(first.url, [events[0]]).status_code == 200
        line_api.wait_for(lambda: recording_engine.order[sender] == ["止まる質問"], timeout=10)
        assert post_webhook(second.url, [events[1]]).status_code == 200
        assert post_webhook(first.url, [events[2]]).status_code == 200
        time.sleep(1.5)  # three sweeps of gateway 2: the chat is held, nothing moves
        assert recording_engine.order[sender] == ["止まる質問"]
        first.proc.kill()  # SIGKILL mid-turn
        first.proc.wait(10)
    finally:
        recording_engine.hold.discard("止まる質問")  # the held request ends, its answer goes nowhere
    line_api.wait_for(lambda: len(delivered_texts(line_api, user, events)) >= 3, timeout=30)
    line_api.quiet(0.7)
    assert recording_engine.order[sender] == ["止まる質問", "二番目の質問", "三番目の質問"]
    assert recording_engine.most[sender] == 1
    assert delivered_texts(line_api, user, events) == [texts.LINE_INTERRUPTED, "echo:二番目の質問", "echo:三番目の質問"]
    db = sa.create_engine(second.db_url)
    try:
        with db.connect() as c:
            left = c.execute(sa.text("SELECT count(*) FROM line_inbox WHERE chat = :chat"), {"chat": sender}).scalar()
    finally:
        db.dispose()
    assert left == 0
    log = second.log()
    assert "Traceback" not in log and user not in log and "止まる" not in log


# --- the parts alone, on the same PostgreSQL (no gateway needed) ---

def test_one_leader_at_a_time_and_the_next_takes_over(shared_db):
    from gateway.jobs.leader import Leader

    engines = [sa.create_engine(shared_db), sa.create_engine(shared_db)]
    try:
        one, two = Leader(engines[0], "test-job"), Leader(engines[1], "test-job")
        assert one.held_sync() and not two.held_sync()
        assert one.held_sync() and not two.held_sync()  # asked again: still the same one
        assert Leader(engines[1], "other-job").held_sync()  # another job has its own leader
        one.close()  # the leader goes (a killed gateway's session ends the same way)
        # the server frees the lock when it has ended the closed session, a moment later on a busy machine
        deadline = time.monotonic() + 10
        while not two.held_sync() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert two.held_sync() and not one.held_sync()
        two.close()
        one.close()
    finally:
        for engine in engines:
            engine.dispose()


class Ticks:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_the_shared_login_limiter_behaves_like_the_in_memory_one(shared_db):
    """tests/gateway/test_staff_auth.py's limiter cases, on two limiters (two gateways) sharing the database."""
    from gateway.staff import auth as staff_auth

    db = sa.create_engine(shared_db)
    try:
        staff_auth.login_failures.create(db, checkfirst=True)
        with db.begin() as c:
            c.execute(staff_auth.login_failures.delete())
        ticks = Ticks()
        one, two = (staff_auth.SharedLoginRateLimiter(db, clock=ticks) for _ in range(2))
        for i in range(5):
            assert (one, two)[i % 2].allowed("10.0.0.1", f"user{i}")
            (one, two)[i % 2].failed("10.0.0.1", f"user{i}")
        assert not one.allowed("10.0.0.1", "someone-else") and not two.allowed("10.0.0.1", "someone-else")
        assert two.allowed("10.0.0.2", "someone-else")
        ticks.t += 299
        assert not two.allowed("10.0.0.1", "someone-else")
        ticks.t += 2  # the window has passed
        assert two.allowed("10.0.0.1", "someone-else")

        for i in range(5):
            (one, two)[i % 2].failed(f"10.1.0.{i}", "alice")
        assert not two.allowed("192.168.1.1", "ALICE")  # the name is blocked from every address, any case
        # attempt: counted before the hash, None over the limit; a success takes its own try back
        at = one.attempt("192.168.9.9", "bob")
        assert at is not None
        two.succeeded("192.168.9.9", "bob", at)
        for _ in range(5):
            assert two.attempt("192.168.9.9", "carol") is not None
        assert one.attempt("192.168.9.9", "dave") is None  # the address has five tries (bob's was taken back)
        one.succeeded("192.168.1.1", "alice")
        assert two.allowed("192.168.1.9", "alice")
    finally:
        db.dispose()
