"""The triage sets measured end to end, through a running stack, as the website widget talks.

    make run   (in another terminal), then
    .venv/gateway/bin/python -m tools.eval_triage_stack [--url http://127.0.0.1:8000] [--set set3_blind]

One fresh Socket.IO chat per message. What counts is what the person gets, from the gateway's triage or from
the engine (its own counseling answer shows the numbers and 「相談員と話す」 too), read from the replies and
from the gateway's database (``--db``, default var/gateway.db):

* routed at priority: the chat waits for (or has) a counselor with risk high or emergency;
* offered a counselor: that, or the chat is in the counseling queue, or a reply offers 「相談員と話す」;
* false alarm: a ``none`` message that was offered a counselor or shown the emergency numbers as an alarm (an FAQ
  answer that cites them, because the question asked about the help lines, is an answer: not counted).

Blind sets print figures only, never their texts.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Dict, List, Optional

import sqlalchemy as sa

from gateway.counseling.triage import load_set
from common.conversation_id import ConversationId
from tests.socketio_client import one_chat
from tools.eval_triage import ASSERTED, SETS

COUNSELOR_PAYLOAD = "/request_counselor"


def outcome(session: str, replies: List[Dict], db: sa.engine.Engine) -> Dict[str, bool]:
    with db.connect() as c:
        row = c.execute(sa.text("select queue, risk from conversations where id = :id"),
                        {"id": str(ConversationId("web", session))}).first()
    queue, risk = (row.queue, row.risk) if row else (None, "none")
    # The emergency numbers as an alarm, not an FAQ answer that cites them because the question asked about
    # the help lines (T35 「子どもの悩みを相談できるところは？」 ends with 110番; FAQ answers carry 「詳しくは：」).
    alarms = " ".join(r.get("text") or "" for r in replies if "詳しくは：" not in (r.get("text") or ""))
    offered_button = any(q.get("payload") == COUNSELOR_PAYLOAD for r in replies
                         for q in r.get("quick_replies") or [])
    priority = queue == "counseling" and risk in ("high", "emergency")
    offered = priority or queue == "counseling" or offered_button
    # who raised it: the gateway's triage (the chat has a risk) or the engine's answer to a message without one
    return {"priority": priority, "offered": offered, "numbers": "110番" in alarms, "by_triage": risk != "none"}


async def measure(url: str, messages: List[Dict], db: sa.engine.Engine, parallel: int, quiet: float,
                  errors: bool = False) -> Dict:
    gate = asyncio.Semaphore(parallel)

    async def run(message: Dict) -> Dict:
        async with gate:
            return outcome(*await one_chat(url, message["text"], quiet), db)

    results = await asyncio.gather(*(run(m) for m in messages))
    if errors:
        for m, r in zip(messages, results):
            missed = (m["level"] in ("emergency", "high") and not r["priority"]) or \
                (m["level"] == "normal" and not r["offered"])
            alarm = m["level"] == "none" and (r["offered"] or r["numbers"])
            if missed or alarm:
                print(f"  {'false alarm' if alarm else 'missed':<11} {m['level']:<9} "
                      f"{'triage' if r['by_triage'] else 'engine'}  {m['text']}")
    gold = [m["level"] for m in messages]
    risky = [r for g, r in zip(gold, results) if g in ("emergency", "high")]
    normal = [r for g, r in zip(gold, results) if g == "normal"]
    none = [r for g, r in zip(gold, results) if g == "none"]
    return {
        "priority": (sum(r["priority"] for r in risky), len(risky)),
        "priority_or_numbers": (sum(r["priority"] or r["numbers"] for r in risky), len(risky)),
        "normal_offered": (sum(r["offered"] for r in normal), len(normal)),
        "false_alarms": (sum(r["offered"] or r["numbers"] for r in none), len(none)),
        "false_alarms_by_engine": (sum((r["offered"] or r["numbers"]) and not r["by_triage"] for r in none), len(none)),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--db", default="sqlite:///var/gateway.db", help="the running gateway's database")
    parser.add_argument("--set", choices=list(SETS), default="set3_blind")
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--quiet", type=float, default=0.5,
                        help="seconds of silence that end a turn after the gateway acknowledged it")
    parser.add_argument("--errors", action="store_true", help="list misses and false alarms (not for blind sets)")
    args = parser.parse_args(argv)
    if args.errors and args.set.endswith("_blind") and args.set not in ASSERTED:
        parser.error(f"{args.set} is kept blind: its texts are never printed")
    messages = load_set(SETS[args.set])
    figures = asyncio.run(measure(args.url, messages, sa.create_engine(args.db), args.parallel, args.quiet,
                                  args.errors))
    print(f"== {args.set} through the running stack ({len(messages)} fresh widget chats, {args.url}) ==")
    labels = {"priority": "emergency+high routed to a counselor at priority",
              "priority_or_numbers": "emergency+high routed at priority or shown the numbers",
              "normal_offered": "normal offered a counselor",
              "false_alarms": "none offered a counselor or shown the numbers",
              "false_alarms_by_engine": "  of which the engine's answer (not the triage)"}
    for key, (hits, n) in figures.items():
        print(f"  {labels[key]:<56} {hits / n:6.1%}  {hits}/{n}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
