"""What the gateway does with a message once triage has given it a level (README "Youth counseling").

    emergency  numbers at once + 「すぐに相談員につなぎます。ここで待っていてね」, the chat at the top of the
               counseling queue, an alert (sound + banner) to every online counselor and supervisor.
    high       numbers, counseling queue ahead of normal, counselors alerted.
    normal     the counseling menu (「相談員と話す」); a direct request (「相談員さんと話したい」) queues at once.
               Where only the classifier saw a worry, also 「ごみ・市の質問でした」: the message then goes to the
               assistant after all (the youth said it was no worry).

In every state: a chat a general clerk owns → the clerk and the supervisors are alerted and offered a
transfer to counseling (the youth sees the numbers on emergency); a chat a counselor owns → its risk rises
and the counselors are alerted; a waiting chat moves to the counseling queue and up.

A counseling chat starts with the intake message (who answers, anonymous, confidential but for danger,
hours, wait) and two optional questions (年代, 相談したいこと) answered by button or typed. Outside the
hours (gateway/counseling/hours.py) the youth is told when counselors answer, the 24-hour lines, and
whether the message is kept for the next shift.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from typing import TYPE_CHECKING, Dict, List, Optional

from gateway import texts
from gateway.counseling.hours import CounselingHours, now_jst
from gateway.counseling.triage import Triage, rank
from gateway.storage.db import run_db
from gateway.storage.conversations import QUEUED, RISKS, Conversation

if TYPE_CHECKING:
    from gateway.handoff.router import BotMessage, Router

logger = logging.getLogger(__name__)

COUNSELING = "counseling"
ALERT_ROLES = ("counselor", "supervisor")
LEVEL_LABELS = {"none": "なし", "normal": "通常", "high": "高", "emergency": "緊急"}
# Typed answers to the intake questions: the first option whose words appear in the answer (kanji or kana), or
# an age in years (「15歳」「じゅうよんさい」 is left to the counselor).
AGE_WORDS = {"小学生": ("小学", "しょうがく", "小"), "中学生": ("中学", "ちゅうがく", "中"),
             "高校生": ("高校", "こうこう", "高"), "19歳以上": ("19歳以上", "大学", "だいがく", "社会人", "大人", "おとな", "20", "19")}
TOPIC_WORDS = {"いじめ": ("いじめ", "イジメ", "虐め"),
               "家族のこと": ("家族", "かぞく", "親", "家", "母", "父", "きょうだい", "兄", "姉", "弟", "妹",
                          "おかあさん", "おとうさん", "ママ", "パパ"),
               "学校のこと": ("学校", "がっこう", "先生", "せんせい", "勉強", "べんきょう", "部活", "ぶかつ", "受験",
                          "じゅけん", "クラス", "成績"),
               "友だち・恋愛": ("友", "とも", "恋", "れんあい", "彼氏", "かれし", "彼女", "かのじょ", "好きな人",
                           "すきなひと"),
               "からだ・こころ": ("からだ", "こころ", "体", "心", "気持ち", "きもち", "病気", "びょうき"),
               "その他": ("その他", "そのた", "ほか", "他")}
SKIP_WORDS = ("答えない", "こたえない", "とばす", "とばして", "飛ばす", "スキップ", "パス", "いいたくない", "言いたくない",
              "言わない", "いわない", "教えない", "おしえない", "ひみつ", "秘密", "ないしょ", "内緒", "なし")
# A plain no to 「よければ教えてください」 is a skip too (the whole answer, as in bot/nlu/yes_no.py).
SKIP_ANSWERS = {"いいえ", "いや", "いやです", "ううん", "やだ", "だめ", "やめとく", "いいです", "結構です", "けっこうです"}
AGE_YEARS = re.compile(r"(\d{1,2})\s*(?:歳|さい|才)")


def _buttons(options: List[str]) -> List[Dict[str, str]]:
    return [{"title": option, "payload": option} for option in options]


def _pick(text: str, options: Dict[str, tuple]) -> Optional[str]:
    folded = unicodedata.normalize("NFKC", text).strip()
    if len(folded) > 20:  # a long message is something to tell the counselor, not an intake answer
        return None
    if folded in options:
        return folded
    return next((option for option, words in options.items() if any(w in folded for w in words)), None)


def _age(text: str) -> Optional[str]:
    """「中2」「高校生です」「15歳」 → the age option; None when the answer names none."""
    folded = unicodedata.normalize("NFKC", text).strip()
    years = AGE_YEARS.search(folded) if len(folded) <= 20 else None
    if years:
        age = int(years.group(1))
        return "小学生" if age <= 12 else "中学生" if age <= 15 else "高校生" if age <= 18 else "19歳以上"
    return _pick(text, AGE_WORDS)


def _skips(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text).strip().rstrip("。.!！")
    return (any(word in folded for word in SKIP_WORDS) and len(folded) <= 20) or folded in SKIP_ANSWERS


class CounselingDesk:
    def __init__(self, router: "Router", hours: CounselingHours, clock=now_jst):
        self.router = router
        self.store = router.store
        self.hours = hours
        self.clock = clock

    # ------------------------------------------------------------------ entry points (gateway/handoff/router.py)
    async def from_bot(self, conversation: Conversation, found: Triage, requested: bool) -> List["BotMessage"]:
        """The bot had the chat: a counselor was asked for, or triage found something."""
        rose = await self._raise(conversation, found)
        level = rank(found.level)
        if level >= rank("high"):
            intro = [texts.EMERGENCY_NUMBERS, texts.EMERGENCY_STAY] if found.level == "emergency" \
                else [texts.HIGH_RISK, texts.EMERGENCY_NUMBERS]
            shown = [m for line in intro for m in await self._say(conversation.id, line)]
            return shown + await self._open(conversation, found.level, rose, intake=found.level != "emergency")
        if requested or "asks_for_counselor" in found.rules:
            return await self._open(conversation, found.level if level else "normal", rose, intake=True)
        # A worry (normal): the counseling menu, the text never goes to the engine — unless the youth says it was
        # a question for the city, where only the classifier saw a worry (gateway/handoff/router.py NOT_A_WORRY).
        only_classifier = found.rules == ("classifier",)
        return await self._say(conversation.id, texts.NORMAL_RISK,
                               buttons=[texts.COUNSELOR_BUTTON, *([texts.NOT_A_WORRY_BUTTON] if only_classifier else [])])

    async def while_waiting(self, conversation: Conversation, found: Triage, text: str) -> Optional[List["BotMessage"]]:
        """A message while the chat waits for a person; None when nothing special applies."""
        rose = await self._raise(conversation, found)
        if rank(found.level) >= rank("high") and (rose or conversation.queue != COUNSELING):
            shown = await self._say(conversation.id, texts.EMERGENCY_NUMBERS)
            return shown + await self._open(conversation, found.level, rose, intake=False)
        if conversation.queue == COUNSELING and conversation.intake_step in (1, 2):
            return await self._intake_answer(conversation, text)
        if found.level == "normal" and conversation.queue != COUNSELING:
            return await self._say(conversation.id, texts.NORMAL_RISK, buttons=[texts.COUNSELOR_BUTTON])
        return None

    async def while_with_staff(self, conversation: Conversation, found: Triage) -> List["BotMessage"]:
        """A message in a chat a person owns: alert, never an automatic answer except the numbers for a
        youth in danger in a general clerk's chat."""
        rose = await self._raise(conversation, found)
        if rank(found.level) < rank("high") or not rose:
            return []
        if conversation.queue == COUNSELING:  # a counselor has it: they and the supervisors see the level rise
            await self._alert(conversation, found.level, "risk",
                              f"{LEVEL_LABELS[found.level]}：対応中の相談のリスクが上がりました")
            return []
        await self._alert(conversation, found.level, "clerk_chat",
                          f"{LEVEL_LABELS[found.level]}：担当中のチャットに危険を示す言葉があります。相談員への引き継ぎを検討してください",
                          clerk=conversation.staff, offer_transfer=True)
        if found.level == "emergency":
            return await self._say(conversation.id, texts.EMERGENCY_NUMBERS)
        return []

    def wait_minutes(self, position: Optional[int], queue: Optional[str]) -> Optional[int]:
        """Estimated wait: the chats ahead × minutes per chat, shared by the counselors online."""
        if not position or queue != COUNSELING:
            return None
        available = max(1, self.router.notifier.available(COUNSELING))
        return max(1, math.ceil((position - 1) * self.hours.minutes_per_chat / available)) if position > 1 else 1

    # ------------------------------------------------------------------ inside
    async def _say(self, conversation_id: str, text: str, buttons=None) -> List["BotMessage"]:
        """Everything the desk says is counseling text: protected like the youth's words."""
        return await self.router._say(conversation_id, text, buttons=buttons, protected=True)

    async def _raise(self, conversation: Conversation, found: Triage) -> bool:
        if found.level == "none":
            return False
        return await run_db(self.store.raise_risk, conversation.id, found.level, found.rules) is not None

    async def _open(self, conversation: Conversation, level: str, rose: bool, intake: bool) -> List["BotMessage"]:
        """Queue for a counselor (or say when they answer), with the intake message."""
        now = self.clock()
        is_open = self.hours.is_open(now)
        shown: List["BotMessage"] = []
        if not is_open:
            nxt = self.hours.next_open(now)
            shown += await self._say(conversation.id, texts.off_hours(
                self.hours.describe(), CounselingHours.when(nxt) if nxt else None, self.hours.keep_messages_off_hours))
            if not self.hours.keep_messages_off_hours:
                if rank(level) >= rank("high"):
                    await self._alert(conversation, level, "risk", f"{LEVEL_LABELS[level]}：受付時間外の相談です")
                return shown
        await run_db(self.store.raise_risk, conversation.id, level)  # a request for a counselor is at least normal
        priority = max(1, RISKS.index(level))
        reason = level if rank(level) >= rank("high") else COUNSELING
        if not await run_db(self.store.enqueue, conversation.id, COUNSELING, priority, reason):
            return shown
        now_conv = await run_db(self.store.get, conversation.id)
        position = await run_db(self.store.position, now_conv)
        logger.info("counseling queued conv=%s level=%s position=%s open=%s", _ref(conversation.id), level, position,
                    is_open)
        await self.router.notifier.queue_changed()
        await self.router.notifier.conversation(now_conv)
        if rank(level) >= rank("high") and (rose or conversation.queue != COUNSELING or conversation.owner != QUEUED):
            await self._alert(now_conv, level, "risk", f"{LEVEL_LABELS[level]}：相談が入りました")
        if not is_open:
            return shown
        minutes = self.wait_minutes(position, COUNSELING)
        if not intake or now_conv.intake_step:
            return shown + await self._say(conversation.id, texts.counseling_waiting(position, minutes))
        shown += await self._say(conversation.id, texts.intake(self.hours.describe(), position, minutes))
        await run_db(self.store.set_intake, conversation.id, 1)
        return shown + await self._say(conversation.id, texts.INTAKE_AGE_QUESTION,
                                              buttons=_buttons(texts.INTAKE_AGE_OPTIONS))

    async def _intake_answer(self, conversation: Conversation, text: str) -> Optional[List["BotMessage"]]:
        skip = _skips(text)
        if conversation.intake_step == 1:
            age = None if skip else _age(text)
            if age is None and not skip:
                await run_db(self.store.set_intake, conversation.id, 3)  # not an answer: a message for the counselor
                return None
            await run_db(self.store.set_intake, conversation.id, 2, intake_age=age)
            await self._refresh(conversation.id)
            return await self._say(conversation.id, texts.INTAKE_TOPIC_QUESTION,
                                          buttons=_buttons(texts.INTAKE_TOPIC_OPTIONS))
        topic = None if skip else _pick(text, TOPIC_WORDS)
        await run_db(self.store.set_intake, conversation.id, 3, **({"intake_topic": topic} if topic else {}))
        await self._refresh(conversation.id)
        if topic is None and not skip:
            return None
        return await self._say(conversation.id, texts.INTAKE_DONE)

    async def _refresh(self, conversation_id: str) -> None:
        await self.router.notifier.conversation(await run_db(self.store.get, conversation_id))
        await self.router.notifier.queue_changed()

    async def _alert(self, conversation: Conversation, level: str, kind: str, text: str,
                     clerk: Optional[str] = None, offer_transfer: bool = False) -> None:
        logger.warning("counseling alert conv=%s level=%s kind=%s", _ref(conversation.id), level, kind)
        await self.router.notifier.alert({"conversation_id": conversation.id, "level": level, "kind": kind,
                                          "text": text, "offer_transfer": offer_transfer},
                                         roles=("supervisor",) if clerk else ALERT_ROLES,
                                         usernames=(clerk,) if clerk else ())


def _ref(conversation_id: str) -> str:
    from gateway.handoff.router import conversation_ref

    return conversation_ref(conversation_id)

