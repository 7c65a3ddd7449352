"""Canned replies through the real gateway: a title and a /keyword, search, editing by supervisors (PUT), the roles
(401, 403, CSRF 403), bad input (400) and the audit log."""

from __future__ import annotations

import pytest

from gateway.staff import auth as staff_auth
from gateway.storage.db import connect
from tests.gateway.conftest import HTTP, GatewayProcess, staff_user


@pytest.fixture(scope="module")
def setup(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("canned"))
    sessions = {role: staff_user(process, f"cn-{role}", role) for role in ("staff", "counselor", "supervisor")}
    yield process, sessions
    process.stop()


def test_supervisor_adds_searches_edits_and_deletes_with_a_keyword(setup):
    process, s = setup
    added = s["supervisor"].post("/staff/api/canned", {"queue": "general", "title": "粗大ごみの案内",
                                                       "keyword": "/sodai", "text": "大型ごみは前日までにお申し込みください。"})
    assert added.status_code == 200, added.text
    reply_id = added.json()["id"]
    found = s["staff"].get("/staff/api/canned?q=SODAI").json()["replies"]  # the keyword, any case, without "/"
    assert [(r["id"], r["keyword"], r["title"]) for r in found] == [(reply_id, "sodai", "粗大ごみの案内")]
    assert s["staff"].get("/staff/api/canned?q=前日まで").json()["replies"][0]["id"] == reply_id  # the text
    assert s["staff"].get("/staff/api/canned?q=存在しない語").json()["replies"] == []
    assert s["staff"].get("/staff/api/canned?q=%25").json()["replies"] == []  # % is a character, not a wildcard
    edited = s["supervisor"].put(f"/staff/api/canned/{reply_id}", {"queue": "general", "title": "大型ごみ",
                                                                  "keyword": "oogata", "text": "新しい本文です。"})
    assert edited.status_code == 200, edited.text
    after = {r["id"]: r for r in s["staff"].get("/staff/api/canned").json()["replies"]}[reply_id]
    assert (after["keyword"], after["title"], after["text"]) == ("oogata", "大型ごみ", "新しい本文です。")
    assert s["supervisor"].delete(f"/staff/api/canned/{reply_id}").status_code == 200
    assert reply_id not in {r["id"] for r in s["staff"].get("/staff/api/canned").json()["replies"]}
    assert s["supervisor"].put(f"/staff/api/canned/{reply_id}", {"queue": "general", "text": "x"}).status_code == 404
    actions = [e["action"] for e in staff_auth.audit_entries(connect(process.db_url), 50) if e["username"] == "cn-supervisor"]
    assert {"canned_add", "canned_edit", "canned_delete"} <= set(actions)


def test_each_role_reads_only_its_queues(setup):
    _, s = setup
    assert {r["queue"] for r in s["counselor"].get("/staff/api/canned").json()["replies"]} == {"counseling"}
    assert s["staff"].get("/staff/api/canned?queue=counseling").status_code == 403
    assert s["staff"].get("/staff/api/canned?queue=nowhere").status_code == 400
    assert {r["queue"] for r in s["supervisor"].get("/staff/api/canned?queue=counseling").json()["replies"]} == {"counseling"}


@pytest.mark.parametrize("body", [
    {"queue": "general", "text": ""}, {"queue": "nowhere", "text": "本文"}, {"queue": "general", "text": 5},
    {"queue": "general", "text": "本文", "keyword": "二 語"}, {"queue": "general", "text": "本文", "keyword": "a/b"},
    {"queue": "general", "text": "本文", "keyword": "k" * 33}, {"queue": "general", "text": "本文", "title": "t" * 81},
    {"queue": "general", "text": "本文", "title": ["x"]}, [1, 2]])
def test_bad_bodies_are_400(setup, body):
    _, s = setup
    reply_id = s["supervisor"].get("/staff/api/canned").json()["replies"][0]["id"]
    assert s["supervisor"].post("/staff/api/canned", body).status_code == 400
    assert s["supervisor"].put(f"/staff/api/canned/{reply_id}", body).status_code == 400


def test_roles_session_and_csrf(setup):
    process, s = setup
    reply_id = s["supervisor"].get("/staff/api/canned").json()["replies"][0]["id"]
    body = {"queue": "general", "text": "侵入者の定型文"}
    assert HTTP.put(f"{process.url}/staff/api/canned/{reply_id}", json=body).status_code == 401
    assert HTTP.get(f"{process.url}/staff/api/canned").status_code == 401
    for role in ("staff", "counselor"):
        assert s[role].put(f"/staff/api/canned/{reply_id}", body).status_code == 403
        assert s[role].post("/staff/api/canned", body).status_code == 403
    assert s["supervisor"].put(f"/staff/api/canned/{reply_id}", body, csrf="").status_code == 403
    assert s["supervisor"].put(f"/staff/api/canned/{reply_id}", body, csrf="wrong").status_code == 403
    assert "侵入者" not in str(s["supervisor"].get("/staff/api/canned").json())
