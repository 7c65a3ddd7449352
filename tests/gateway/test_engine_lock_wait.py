"""An engine killed mid-turn leaves the conversation locked (Rasa's ticket lock in Redis, TICKET_LOCK_LIFETIME):
the other engine answers that conversation's next turn only when the lock expires. The gateway gives that next
turn the rest of the lock's lifetime on top of ENGINE_TIMEOUT, so it is answered late instead of failing too
(issue #15: only turns in flight may fail). The stand-in engine plays both parts: a failed turn, then a slow one.

The test gateway: ENGINE_TIMEOUT=2 s, TICKET_LOCK_LIFETIME=8 s; the slow turns take 3.5 s.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway import texts
from tests.gateway.conftest import REST_AUTH, GatewayProcess

SLOW = 3.5


@pytest.fixture(scope="module")
def lock_gateway(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("lockwait"), TICKET_LOCK_LIFETIME="8")
    yield process
    process.stop()


def say(gateway: GatewayProcess, sender: str, text: str) -> str:
    r = httpx.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": text}, headers=REST_AUTH,
                   timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["messages"][0]["text"]


def test_the_turn_after_a_failed_one_waits_for_the_lock_and_is_answered(lock_gateway, engine):
    sender = "lock-" + uuid.uuid4().hex[:8]
    engine.mode = "error"  # the engine died with this turn (HAProxy answers 502)
    assert say(lock_gateway, sender, "一回目") == texts.ENGINE_DOWN
    engine.mode, engine.delay = "ok", SLOW  # the other engine waits for the dead one's lock
    assert say(lock_gateway, sender, "二回目") == "echo:二回目"
    # answered: the conversation's timeout is ENGINE_TIMEOUT again
    assert say(lock_gateway, sender, "三回目") == texts.ENGINE_DOWN


def test_other_conversations_keep_the_normal_timeout(lock_gateway, engine):
    engine.delay = SLOW
    assert say(lock_gateway, "calm-" + uuid.uuid4().hex[:8], "こんにちは") == texts.ENGINE_DOWN


def test_the_wait_ends_with_the_locks_lifetime(lock_gateway, engine):
    sender = "late-" + uuid.uuid4().hex[:8]
    engine.mode = "error"
    assert say(lock_gateway, sender, "一回目") == texts.ENGINE_DOWN
    engine.mode, engine.delay = "ok", 11.0  # longer than the lock's lifetime + ENGINE_TIMEOUT (10 s): hung
    assert say(lock_gateway, sender, "二回目") == texts.ENGINE_DOWN
