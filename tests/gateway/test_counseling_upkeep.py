"""The counseling upkeep job with a fixed clock (gateway/counseling/jobs.py), encryption at rest and key
rotation (gateway/counseling/crypto.py), and an older database gaining the counseling columns.

The router, store and job are the real ones on a real SQLite file; the channel is a recorder (what the
youth would receive) and the notifier records what the staff console would be told."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Dict, List

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from gateway import texts
from gateway.counseling import jobs
from gateway.counseling.crypto import TranscriptCipher, load_keys
from gateway.counseling.hours import CounselingHours
from gateway.storage.db import connect, utcnow
from gateway.storage.conversations import HandoffStore, messages
from gateway.handoff.router import Notifier, Router
from tests.gateway.conftest import ROOT

ALWAYS_OPEN = str(ROOT / "tests" / "gateway" / "hours_always_open.yml")
SETTINGS = jobs.UpkeepSettings(idle_check_minutes=15, idle_close_minutes=10, realert_minutes=5, retention_days=90)


class Recorder(Notifier):
    def __init__(self) -> None:
        self.alerts: List[Dict] = []

    async def alert(self, payload: Dict, roles=(), usernames=()) -> None:
        self.alerts.append(payload | {"roles": tuple(roles)})


@pytest.fixture
def desk(tmp_path):
    """A router on a fresh database, a recording web channel and notifier."""
    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'gateway.db'}"),
                         TranscriptCipher([Fernet.generate_key().decode()]))
    router = Router(None, store, hours=CounselingHours.load(ALWAYS_OPEN))  # type: ignore[arg-type]
    pushed: List[str] = []

    async def push(channel_id, sent, confirm=False):
        pushed.extend(m.get("text", "") for m in sent)
        return True

    router.connect(channels={"web": push}, notifier=Recorder())
    return router, pushed


async def counseling_chat_with(router: Router, sender: str, counselor: str = "kaori") -> str:
    await router.handle_text(sender, "web", "相談員さんと話したい")
    conversation_id = f"web:{sender}"
    assert await router.claim(conversation_id, counselor)
    return conversation_id


async def test_inactivity_check_then_auto_close_with_how_to_come_back(desk):
    router, pushed = desk
    conversation_id = await counseling_chat_with(router, "quiet-youth")
    start = utcnow()
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=14)))["checked"] == 0
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=16)))["checked"] == 1
    assert pushed[-1] == texts.IDLE_CHECK
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=20)))["closed"] == 0
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=27)))["closed"] == 1
    assert pushed[-1] == texts.IDLE_CLOSED and "相談したい" in pushed[-1]
    conversation = router.store.get(conversation_id)
    assert (conversation.owner, conversation.outcome, conversation.counseling) == ("bot", "no_response", False)


async def test_an_answer_after_the_check_keeps_the_chat_open(desk):
    router, pushed = desk
    conversation_id = await counseling_chat_with(router, "slow-youth")
    start = utcnow()
    await jobs.sweep(router, SETTINGS, start + timedelta(minutes=16))
    await router.handle_text("slow-youth", "web", "まだいます")
    done = await jobs.sweep(router, SETTINGS, start + timedelta(minutes=27))
    assert done["closed"] == 0 and router.store.get(conversation_id).owner == "staff:kaori"


async def test_a_waiting_chat_is_re_alerted_after_the_configured_wait(desk):
    router, _ = desk
    await router.handle_text("waiting-youth", "web", "相談員さんと話したい")
    start = utcnow()
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=3)))["realerted"] == 0
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=6)))["realerted"] == 1
    alert = router.notifier.alerts[-1]
    assert alert["kind"] == "long_wait" and "counselor" in alert["roles"] and "6分" in alert["text"]
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=8)))["realerted"] == 0
    assert (await jobs.sweep(router, SETTINGS, start + timedelta(minutes=12)))["realerted"] == 1


async def test_purge_deletes_old_counseling_messages_and_nothing_else(desk):
    router, _ = desk
    store = router.store
    await router.handle_text("old-youth", "web", "相談員さんと話したい")
    await router.handle_text("citizen", "web", "/request_human")
    old = utcnow() - timedelta(days=91)
    with store.engine.begin() as c:  # back-date the counseling chat and one ordinary message
        c.execute(messages.update().where(messages.c.conversation_id == "web:old-youth").values(at=old))
        c.execute(messages.update().where(messages.c.conversation_id == "web:citizen").values(at=old))
    store.add_message("web:old-youth", "user", "きょうのこと", protected=True)  # recent: stays
    before = {cid: len(store.transcript(cid, True)) for cid in ("web:old-youth", "web:citizen")}
    done = await jobs.sweep(router, SETTINGS, utcnow())
    assert done["purged"] == before["web:old-youth"] - 1
    assert [m["text"] for m in store.transcript("web:old-youth", True)] == ["きょうのこと"]
    assert len(store.transcript("web:citizen", True)) == before["web:citizen"]  # ordinary messages stay


def test_key_rotation_re_encrypts_with_the_newest_key(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    store = HandoffStore(connect(url), TranscriptCipher([old_key]))
    store.get_or_create("web:youth", "web")
    store.add_message("web:youth", "user", "ひみつの話", protected=True)
    env = dict(os.environ, COUNSELING_KEYS=f"{new_key},{old_key}", DATA_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "gateway.counseling.crypto", "rotate", "--db", url], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "1" in result.stdout, result.stderr
    only_new = HandoffStore(connect(url), TranscriptCipher([new_key]))
    assert [m["text"] for m in only_new.transcript("web:youth", True)] == ["ひみつの話"]


def test_a_key_is_created_once_with_owner_only_permissions(tmp_path):
    first = load_keys(str(tmp_path), env_value="")
    assert load_keys(str(tmp_path), env_value="") == first
    assert oct((tmp_path / "counseling.key").stat().st_mode & 0o777) == "0o600"
    assert load_keys(str(tmp_path), env_value=" a , b ") == ["a", "b"]


def test_a_wrong_key_reads_as_a_notice_not_a_crash(tmp_path):
    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'g.db'}"), TranscriptCipher([Fernet.generate_key().decode()]))
    store.get_or_create("web:y", "web")
    store.add_message("web:y", "user", "内容", protected=True)
    other = HandoffStore(store.engine, TranscriptCipher([Fernet.generate_key().decode()]))
    assert "読めません" in other.transcript("web:y", True)[0]["text"]


def test_an_older_database_gains_the_counseling_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = sa.create_engine(url)
    with old.begin() as c:  # the schema before counseling (conversations and messages as they were)
        c.execute(sa.text("create table conversations (id varchar(200) primary key, channel varchar(16) not null, "
                          "owner varchar(80) not null, queue varchar(32), priority integer not null, reason varchar(32), "
                          "waiting_since datetime, claimed_at datetime, updated_at datetime not null, "
                          "outcome varchar(32), engine_session integer not null)"))
        c.execute(sa.text("create table messages (id integer primary key autoincrement, conversation_id varchar(200) "
                          "not null, at datetime not null, sender varchar(80) not null, kind varchar(8) not null, "
                          "text text not null)"))
        c.execute(sa.text("insert into conversations values ('web:a','web','bot',null,0,null,null,null,"
                          "'2026-01-01 00:00:00',null,0)"))
        c.execute(sa.text("insert into messages (conversation_id, at, sender, kind, text) values "
                          "('web:a','2026-01-01 00:00:00','user','text','こんにちは')"))
    store = HandoffStore(connect(url), TranscriptCipher([Fernet.generate_key().decode()]))
    conversation = store.get("web:a")
    assert (conversation.risk, conversation.intake_step, conversation.counseling) == ("none", 0, False)
    assert store.transcript("web:a") == [{**store.transcript("web:a")[0], "text": "こんにちは", "protected": False}]
