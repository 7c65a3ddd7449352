"""Engine messages (Rasa REST format) → Socket.IO payloads (Rasa socketio format)."""

from gateway.handoff.router import conversation_ref
from connectors.webchat import to_socketio


def test_text_only():
    assert to_socketio({"recipient_id": "x", "text": "こんにちは"}) == [{"text": "こんにちは"}]


def test_text_with_buttons():
    payloads = to_socketio({"text": "選んでください", "buttons": [{"title": "A", "payload": "/a"}]})
    assert payloads == [{"text": "選んでください",
                         "quick_replies": [{"content_type": "text", "title": "A", "payload": "/a"}]}]


def test_image_and_custom():
    payloads = to_socketio({"image": "https://example.org/a.png", "custom": {"type": "handoff"}})
    assert payloads == [{"attachment": {"type": "image", "payload": {"src": "https://example.org/a.png"}}},
                        {"type": "handoff"}]


def test_empty_message_produces_nothing():
    assert to_socketio({"recipient_id": "x"}) == []


def test_conversation_ref_is_stable_and_not_the_id():
    ref = conversation_ref("U4af4980629")
    assert ref == conversation_ref("U4af4980629") and "U4af" not in ref and len(ref) == 12
