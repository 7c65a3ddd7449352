"""What the load and fault tests check after a run: the tracker store's order, LINE's exactly-once answers."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Dict, List

from tests.scaleout.load import Load, Turn
from tools.scaleout import Topology


def tracker_user_texts(topo: Topology, senders: List[str]) -> Dict[str, List[str]]:
    """Each sender's user messages as stored in the engines' tracker store (PostgreSQL), in stored order.

    A conversation handed back to the bot continues under ``<id>#<n>`` (common/conversation_id.py): those
    count as the same sender."""
    if not senders:
        return {}
    rows = topo.pg.query("rasa", "SELECT sender_id, data FROM events WHERE type_name = 'user' ORDER BY id")
    wanted = set(senders)
    texts: Dict[str, List[str]] = defaultdict(list)
    for sender, data in rows:
        base = sender.split("#")[0]
        if base in wanted:
            texts[base].append(json.loads(data).get("text"))
    return texts


def order_problems(topo: Topology, load: Load) -> List[str]:
    """Per sender: the stored texts must be the sent ones, in order, each at most once; every answered turn's
    text must be there."""
    sent: Dict[str, List[Turn]] = defaultdict(list)
    for turn in load.turns:
        sent[turn.who].append(turn)
    stored = tracker_user_texts(topo, list(sent))
    problems = []
    for who, turns in sent.items():
        texts = stored.get(who, [])
        if len(texts) != len(set(texts)):
            problems.append(f"{who}: a message stored twice: {texts}")
        order = [t.text for t in turns]
        if [t for t in order if t in texts] != texts:
            problems.append(f"{who}: stored out of order or unknown: sent {order}, stored {texts}")
        missing = [t.text for t in turns if t.ok and t.text not in texts]
        if missing:
            problems.append(f"{who}: answered but not in the tracker store: {missing}")
    return problems


def line_problems(topo: Topology, load: Load) -> List[str]:
    """Every LINE event answered exactly once: one accepted reply per reply token, never a second attempt."""
    problems = []
    attempts: Dict[str, int] = defaultdict(int)
    for request in load.line_api.calls("reply"):
        token = (request["json"] or {}).get("replyToken")
        attempts[token] += 1
    for token, entry in load.line_events.items():
        replies = entry.get("answers", [])
        if len(replies) != 1 and not load.pushes_to(entry["user"]):
            problems.append(f"LINE event {entry['text']!r} of {entry['user']}: {len(replies)} replies, no push")
        if len(replies) > 1 or attempts[token] > 1:
            problems.append(f"LINE event {entry['text']!r} of {entry['user']}: answered twice "
                            f"({len(replies)} replies, {attempts[token]} reply calls)")
    return problems
