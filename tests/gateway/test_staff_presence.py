"""Availability through the real gateway (set, list per queue, roles, CSRF, bad input) and the grace period with a
fixed clock on a real SQLite database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gateway.staff import auth as staff_auth
from gateway.storage import presence
from gateway.storage.db import connect
from tests.gateway.conftest import HTTP, GatewayProcess, staff_user


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("presence"))
    s = {role: staff_user(process, f"pr-{role}", role) for role in ("staff", "counselor")}
    yield process, s
    process.stop()


def test_set_and_list_with_the_queue_filter(setup):
    _, s = setup
    assert s["staff"].post("/staff/api/presence", {"status": "away"}).json() == {"status": "away"}
    assert s["counselor"].post("/staff/api/presence", {"status": "online"}).status_code == 200
    mine = s["staff"].get("/staff/api/presence").json()
    assert mine["me"] == {"status": "away", "chosen": "away"} and mine["auto_assign"] is False
    counseling = {m["username"]: m for m in s["staff"].get("/staff/api/presence?queue=counseling").json()["members"]}
    assert set(counseling) == {"pr-counselor"} and counseling["pr-counselor"]["status"] == "online"
    general = {m["username"] for m in s["counselor"].get("/staff/api/presence?queue=general").json()["members"]}
    assert general == {"pr-staff"}
    assert s["staff"].post("/staff/api/presence", {"status": "offline"}).status_code == 200
    assert s["staff"].get("/staff/api/presence").json()["me"]["status"] == "offline"


@pytest.mark.parametrize("body", [{"status": "busy"}, {"status": None}, {}, [1]])
def test_bad_status_is_400(setup, body):
    _, s = setup
    assert s["staff"].post("/staff/api/presence", body).status_code == 400


def test_bad_queue_is_400(setup):
    _, s = setup
    assert s["staff"].get("/staff/api/presence?queue=nowhere").status_code == 400


def test_session_and_csrf(setup):
    process, s = setup
    assert HTTP.get(f"{process.url}/staff/api/presence").status_code == 401
    assert HTTP.post(f"{process.url}/staff/api/presence", json={"status": "online"}).status_code == 401
    assert s["staff"].post("/staff/api/presence", {"status": "online"}, csrf="").status_code == 403
    assert s["staff"].post("/staff/api/presence", {"status": "online"}, csrf="wrong").status_code == 403


def test_not_seen_for_the_grace_period_counts_as_offline(tmp_path):
    db = connect(f"sqlite:///{tmp_path / 'gateway.db'}")
    staff_auth.create_user(db, "grace-a", "correct-horse-1", "staff")
    t0 = datetime(2026, 12, 1, 9, 0)
    presence.set_status(db, "grace-a", "online", now=t0)
    grace = timedelta(seconds=60)
    assert presence.members(db, grace, now=t0 + timedelta(seconds=59))[0]["status"] == "online"
    assert presence.members(db, grace, now=t0 + timedelta(seconds=61))[0]["status"] == "offline"
    presence.seen(db, ["grace-a"], now=t0 + timedelta(seconds=90))  # the console is connected again
    assert presence.members(db, grace, now=t0 + timedelta(seconds=100))[0]["status"] == "online"
    presence.seen(db, ["grace-b"], now=t0)  # seen for the first time: online by default
    with db.connect() as c:
        assert c.execute(presence.staff_presence.select().where(presence.staff_presence.c.username == "grace-b")
                         ).first().status == "online"
