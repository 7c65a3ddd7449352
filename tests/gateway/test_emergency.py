"""Words of danger reach a counselor at top priority, with the emergency numbers shown at once, and the
text never goes to the engine (connectors/safety.py, connectors/router.py)."""

import uuid

import httpx
import pytest
import sqlalchemy as sa

from connectors.counseling.triage import rank, triage


def is_emergency(text):
    return rank(triage(text).level) >= rank("high")


@pytest.mark.parametrize("text", ["もう死にたい", "たすけて", "親に殴られた", "自　殺したい", "家に帰りたくない"])
def test_danger_words_are_recognised(text):
    assert is_emergency(text)


@pytest.mark.parametrize("text", ["死亡届の出し方", "助成金について", "ごみの日を教えて", "殺虫剤の捨て方"])
def test_ordinary_questions_are_not_emergencies(text):
    assert not is_emergency(text)


def test_emergency_goes_to_a_counselor_at_top_priority_without_the_engine(gateway, engine):
    sender = uuid.uuid4().hex
    reply = httpx.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": "もう死にたい"}, timeout=10)
    texts = " ".join(m.get("text", "") for m in reply.json()["messages"])
    assert "110" in texts and "119" in texts and "0120-0-78310" in texts
    assert "相談員におつなぎします" in texts
    assert not any(r["message"] == "もう死にたい" for r in engine.received)
    with sa.create_engine(gateway.db_url).connect() as c:
        row = c.execute(sa.text("select owner, queue, priority, reason from conversations where id = :id"),
                        {"id": f"rest:{sender}"}).one()
    assert tuple(row) == ("queued", "counseling", 2, "emergency")


def test_the_counseling_menu_button_queues_for_a_counselor(gateway, engine):
    sender = uuid.uuid4().hex
    reply = httpx.post(f"{gateway.url}/api/messages", json={"sender": sender, "message": "/request_counselor"},
                       timeout=10)
    assert "相談員におつなぎします" in reply.json()["messages"][0]["text"]
    assert not engine.received
