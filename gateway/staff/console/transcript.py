"""A transcript as the console shows it: what the citizen saw and pressed, in order.

The store keeps a pressed button as its payload (``/choose_date{"date": "2026-12-03"}``) and a bot message's
buttons as the 「［ボタン：…］」 line of its text, plus (since this module) their titles and payloads in
``messages.buttons``. Here each citizen message that is a payload gets ``pressed``: the title of the button
that offered it in the last bot or system message before it, else a readable label of the payload (older
messages kept only the titles); each bot or system message gets ``buttons`` (titles, payloads when known); each system line gets ``event`` (queued, position, joined,
handed_back, closed, cancelled, media, info) for its look. Protected messages hidden from the reader are
left as they are (their placeholder; no button of theirs is matched).
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Dict, List, Optional

from common.formats import format_date
from gateway import texts

_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z0-9_.\-]+)(?P<entities>\{.*\})?$", re.S)
_BUTTONS_LINE = re.compile(r"\n［ボタン：(?P<titles>.*)］$", re.S)
_JOINED = (texts.STAFF_JOINED, texts.COUNSELOR_JOINED)
_CLOSED = (texts.CLOSED, texts.IDLE_CLOSED)


def payload_label(payload: str) -> Optional[str]:
    """A readable label for a known payload (「はい」, 「12月3日（木）」), None when it is not a payload."""
    match = _PAYLOAD.match((payload or "").strip())
    if not match:
        return None
    intent = match.group("intent")
    try:
        entities = json.loads(match.group("entities")) if match.group("entities") else {}
    except ValueError:
        entities = {}
    entities = entities if isinstance(entities, dict) else {}
    day = entities.get("date")
    if isinstance(day, str):
        try:
            return format_date(date.fromisoformat(day[:10]))
        except ValueError:
            pass
    if intent == "edit_booking" and entities.get("bb_field") in texts.STAFF_EDIT_FIELD_LABELS:
        return texts.STAFF_EDIT_FIELD_LABELS[entities["bb_field"]]
    return texts.STAFF_PAYLOAD_LABELS.get(intent) or texts.STAFF_PRESSED_OTHER.format(intent=intent)


def system_event(message: Dict) -> str:
    """What kind of line the gateway wrote (for the console's look and label)."""
    text = message.get("text") or ""
    if message.get("kind") == "media":
        return "media"
    if text in _JOINED:
        return "joined"
    if text == texts.HANDED_BACK:
        return "handed_back"
    if text in _CLOSED:
        return "closed"
    if text == texts.HANDOFF_CANCELLED:
        return "cancelled"
    if "におつなぎするまでお待ちください" in text:
        return "position"
    if "におつなぎします" in text or text.startswith("ここからは相談員"):
        return "queued"
    return "info"


def _offered(message: Dict) -> Optional[List[Dict]]:
    """The buttons a bot or system message showed (its text keeps the 「［ボタン：…］」 line as stored; the
    console leaves that line out when it shows the buttons)."""
    found = _BUTTONS_LINE.search(message.get("text") or "")
    if message.get("buttons"):
        return message["buttons"]
    if found:
        return [{"title": t.strip(), "payload": None} for t in found.group("titles").split(" / ")]
    return None


def shown(messages: List[Dict]) -> List[Dict]:
    """The messages (oldest first, as HandoffStore.transcript gives them) with ``pressed``, ``buttons`` and
    ``event`` filled in; changes the dicts in place and returns the list."""
    offered: List[Dict] = []
    for message in messages:
        sender, hidden = message.get("sender"), message.get("text") == _hidden()
        if sender in ("bot", "system") and message.get("kind") == "text":
            message["buttons"] = None if hidden else _offered(message)
            offered = message["buttons"] or []
        elif sender == "user" and not hidden:
            text = (message.get("text") or "").strip()
            button = next((b for b in offered if b.get("payload") and b["payload"] == text), None)
            if button is None and not text.startswith("/"):
                # a non-intent payload (LINE sends a message action's text; a desk option is its title)
                button = next((b for b in offered if b.get("payload") is None and b.get("title") == text), None)
            label = button["title"] if button else payload_label(text)
            if button is None and label:  # older messages: the offered button with that title
                button = next((b for b in offered if b.get("title") == label), None)
            if button is not None:
                button["chosen"] = True
            if label:
                message["pressed"] = label
            offered = []
        if sender == "system":
            message["event"] = system_event(message)
    return messages


def _hidden() -> str:
    from gateway.storage.conversations import HIDDEN  # the placeholder of protected text
    return HIDDEN


PREVIEW_CHARS = 80


def add_previews(store, rows: List[Dict], counseling_reader: bool) -> List[Dict]:
    """The queue rows (Conversation.as_dict) with ``preview``: the chat's latest message, its sender and time, as
    the transcript shows it (a pressed button by its label, no buttons line), cut to PREVIEW_CHARS. Counseling
    text only for ``counseling_reader``s: anyone else gets the latest message that is not protected, and for a
    counseling chat (a supervisor's live list shows them to admins) no text at all, ``{"text": None,
    "protected": True}`` (blocking: call through run_db)."""
    latest = store.last_messages([r["id"] for r in rows], show_protected=counseling_reader)
    for row in rows:
        if not counseling_reader and (row.get("counseling") or row.get("queue") == "counseling"):
            row["preview"] = {"sender": None, "text": None, "protected": True, "at": None}
            continue
        message = latest.get(row["id"])
        if not message:
            row["preview"] = None
            continue
        text = message["text"]
        if text is not None:
            text = _BUTTONS_LINE.sub("", text)
            if message["sender"] == "user":
                text = payload_label(text.strip()) or text
            text = " ".join(text.split())
            text = text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1] + "…"
        row["preview"] = {"sender": message["sender"], "text": text, "protected": message["protected"],
                          "at": message["at"]}
    return rows
