"""Long waits with a fixed clock (gateway/counseling/jobs.py, STAFF_LONG_WAIT_SECONDS): a chat of any queue
waiting longer than the configured time alerts those who answer its queue and the supervisors, is escalated to
the supervisors once, and again only after COUNSELING_REALERT_MINUTES; without the setting, the counseling
re-alert time applies as before. The real router, store and job on SQLite; the notifier records what the
console would be told (the live path to a supervisor's browser: tests/e2e/test_staff_console_view_browser.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Dict, List

import pytest
from cryptography.fernet import Fernet

from gateway.counseling import jobs
from gateway.counseling.crypto import TranscriptCipher
from gateway.counseling.hours import CounselingHours
from gateway.handoff.router import Notifier, Router
from gateway.settings import Settings
from gateway.storage.conversations import HandoffStore
from gateway.storage.db import connect, utcnow
from tests.gateway.conftest import ROOT

ALWAYS_OPEN = str(ROOT / "tests" / "gateway" / "hours_always_open.yml")


class Recorder(Notifier):
    def __init__(self) -> None:
        self.alerts: List[Dict] = []
        self.escalations: List[Dict] = []

    async def alert(self, payload: Dict, roles=(), usernames=()) -> None:
        self.alerts.append(payload | {"roles": tuple(roles)})

    async def escalate(self, payload: Dict) -> None:
        self.escalations.append(payload)


@pytest.fixture
def router(tmp_path):
    store = HandoffStore(connect(f"sqlite:///{tmp_path / 'gateway.db'}"),
                         TranscriptCipher([Fernet.generate_key().decode()]))
    routed = Router(None, store, hours=CounselingHours.load(ALWAYS_OPEN))  # type: ignore[arg-type]

    async def push(channel_id, sent, confirm=False):
        return True

    routed.connect(channels={"rest": push}, notifier=Recorder())
    return routed


async def test_a_long_wait_is_alerted_and_escalated_after_the_configured_seconds(router):
    settings = jobs.UpkeepSettings(realert_minutes=5, long_wait_seconds=90)
    await router.handle_text("waiting-citizen", "rest", "/request_human")
    start = router.store.get("rest:waiting-citizen").waiting_since
    assert (await jobs.sweep(router, settings, start + timedelta(seconds=80)))["realerted"] == 0
    assert router.notifier.escalations == []
    assert (await jobs.sweep(router, settings, start + timedelta(seconds=95)))["realerted"] == 1
    alert, escalation = router.notifier.alerts[-1], router.notifier.escalations[-1]
    assert alert["kind"] == "long_wait" and alert["roles"] == ("staff", "supervisor") and "1分" in alert["text"]
    assert escalation["conversation_id"] == "rest:waiting-citizen" and escalation["queue"] == "general"
    assert escalation["minutes"] == 1 and escalation["escalated"] is True
    assert "text" in escalation and "/request_human" not in str(escalation)  # what happened, not what was said
    # Not again at every sweep: after the re-alert time only.
    assert (await jobs.sweep(router, settings, start + timedelta(minutes=4)))["realerted"] == 0
    assert (await jobs.sweep(router, settings, start + timedelta(seconds=95, minutes=5)))["realerted"] == 1
    assert len(router.notifier.escalations) == 2
    # Claimed: no more alerts.
    assert await router.claim("rest:waiting-citizen", "hanako")
    assert (await jobs.sweep(router, settings, start + timedelta(minutes=30)))["realerted"] == 0


async def test_a_counseling_wait_goes_to_counselors_and_supervisors(router):
    settings = jobs.UpkeepSettings(realert_minutes=5, long_wait_seconds=30)
    await router.handle_text("youth", "rest", "/request_counselor")
    start = router.store.get("rest:youth").waiting_since
    assert (await jobs.sweep(router, settings, start + timedelta(seconds=31)))["realerted"] == 1
    assert router.notifier.alerts[-1]["roles"] == ("counselor", "supervisor")
    assert router.notifier.escalations[-1]["queue"] == "counseling"


async def test_without_the_setting_the_counseling_re_alert_time_applies(router):
    settings = jobs.UpkeepSettings(realert_minutes=5)
    await router.handle_text("patient", "rest", "/request_human")
    start = utcnow()
    assert (await jobs.sweep(router, settings, start + timedelta(minutes=4)))["realerted"] == 0
    assert (await jobs.sweep(router, settings, start + timedelta(minutes=6)))["realerted"] == 1


def test_the_setting_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("STAFF_LONG_WAIT_SECONDS", "120")
    assert Settings.from_env().staff_long_wait_seconds == 120
    monkeypatch.delenv("STAFF_LONG_WAIT_SECONDS")
    assert Settings.from_env().staff_long_wait_seconds == 0
