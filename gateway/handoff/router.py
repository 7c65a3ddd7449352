"""The router and handoff hub: every user turn from every channel passes here.

It checks the input (empty, too long, not text, characters that cannot be stored), records the turn,
and sends it where the conversation's owner says (gateway/storage/conversations.py):

    bot           → the engine; its answers go back to the user. An engine answer carrying
                    ``{"custom": {"handoff": {"queue": …, "reason": …}}}`` (action_handoff) puts the chat in
                    a queue; so does the 「担当者と話す」 button (``/request_human``, handled here, so it
                    works when the engine is down) and an engine failure offers that button.
    queued        → kept for the person who will take it; the user is told their place in the queue.

Every message is triaged before all this (gateway/counseling/triage.py: emergency / high / normal /
none), in every state; anything above ``none`` is handled by the counseling desk
(gateway/counseling/desk.py) and never reaches the engine. 「相談員と話す」 (``/request_counselor``)
queues for a counselor. Both buttons also work typed: their title, or a short yes (「はい」「お願いします」)
when the last message offered only that button (``_typed_button``). A request for 相談 and nothing else
(「相談したい」, triage rule ``asks_for_consultation``) may come from a youth who wants a counselor or from an
adult who wants the city's 市民相談: the router asks which (``WHICH_CONSULTATION``: 「相談員と話す」 or
「市の手続き・サービス」, tapped or typed: 「悩み」「学校のこと」「中学生」 / 「手続きのこと」「大人です」). Asked
again, or answered with a worry, it is a request for a counselor; so is 「相談したい」 in a chat that has already
been on the counseling path (a worry earlier, a counseling session) or right after a counselor's button.
A worry only the classifier saw (「サングラス ふんでわれた」) also offers 「ごみ・市の質問でした」 (``NOT_A_WORRY``, tapped
or typed 「ちがう」): the message held right before goes to the engine after all.
    staff:<name>  → only to that person's console (``notifier``); the engine never sees it and the bot
                    never speaks.

Staff actions (claim, reply, transfer, close, hand back) come from the staff console through the
methods below; what the user must hear is pushed through the channel's ``push`` function.
Logs never contain message texts; conversations appear as a non-reversible hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional

from common.conversation_id import ConversationId
from gateway import metrics, texts
from gateway.counseling.desk import CounselingDesk
from gateway.counseling.hours import CounselingHours
from gateway.counseling.classifier import assess
from gateway.counseling.triage import Triage, rank
from gateway.storage.db import run_db
from gateway.handoff.engine_client import EngineClient, EngineUnavailable
from gateway.input_checks import has_bad_characters
from gateway.storage.conversations import BOT, QUEUED, QUEUES, STAFF_PREFIX, Conversation, HandoffStore

logger = logging.getLogger(__name__)

BotMessage = Dict[str, Any]
# (id in the channel, messages, confirm=False) → delivered? True: a client acknowledged (web), or with ``confirm``
# the channel owns the delivery (LINE: stored in its durable inbox); None: sent or stored, not acknowledged yet
# (the channel calls ``delivered`` later); False: nobody to deliver to, or it failed.
Push = Callable[..., Awaitable[Optional[bool]]]
REQUEST_HUMAN = "/request_human"
REQUEST_COUNSELOR = "/request_counselor"
CANCEL_WORDS = {"キャンセル", "きゃんせる", "やめる", "/cancel_handoff"}
# 「キャンセルします」「取り消してください」 while waiting (the whole message, folded like a button title).
TYPED_CANCEL = re.compile(r"(?:キャンセル|きゃんせる|取り?消し|とりけし)(?:します|する|して|してください|で|でお願いします)?"
                          r"|やめ(?:る|ます)|(?:取り?消|とりけ)(?:す|します|して|してください)")
# Typed equivalents of the buttons whose payloads the gateway answers (「担当者と話す」 after ENGINE_DOWN or the
# engine's fallback, 「相談員と話す」 after a worry or the engine's counseling menu): the title typed, anywhere;
# or a short yes when that button was the only one of the last message (a yes to an offer — but not
# 「大丈夫です」, which to an offer means "no, thank you").
BUTTON_TITLES = {texts.HUMAN_BUTTON["title"]: REQUEST_HUMAN, texts.COUNSELOR_BUTTON["title"]: REQUEST_COUNSELOR}
# 「ごみ・市の質問でした」 (a worry only the classifier saw): the held message goes to the engine after all. Typed: the
# title, or a short 「ちがう」「ごみの質問です」 when the last message offered it.
NOT_A_WORRY = texts.NOT_A_WORRY_BUTTON["payload"]
TYPED_NOT_A_WORRY = re.compile(r"(?:ちがう|ちがいます|違う|違います|ちゃう|そうじゃない|そうじゃないです|"
                               r"(?:ごみ|ゴミ|市|手続き|分別)の(?:質問|こと|話)|質問(?:です|でした|だよ)?)(?:です|でした|だよ|よ|ね)*")
TYPED_YES = re.compile(r"(?:はい|はーい|うん|ええ|おう|お願い(?:します|いたします)?|おねがい(?:します)?|ok|おけ|"
                       r"おっけー|オッケー|よろしく(?:お願いします|おねがいします)?|そうします|"
                       r"話したい|話します|はなしたい|つないで(?:ください)?|つなげて(?:ください)?|相談したい|相談します)+"
                       r"(?:です|ね|よ)?")
_FOLD = re.compile(r"[\s、,，。．.!！?？・「」]+")
# A request for 相談 and nothing else (「相談したい」): which kind? REVIEW: city staff and counselors confirm the
# wording (it belongs with gateway/texts.py).
WHICH_RULE = "asks_for_consultation"
FAQ_BUTTON = {"title": "市の手続き・サービス", "payload": "/menu_faq"}
WHICH_CONSULTATION = ("ご相談ですね。どちらのご相談ですか？\n"
                      "・自分の悩み（学校、家、友だち、からだやこころのことなど）を、相談員（相談を聞く専門のスタッフ）に"
                      "聞いてほしいとき →「相談員と話す」\n"
                      "・市の手続きやサービス、暮らしのこと →「市の手続き・サービス」\n"
                      "どんなことか、文章で送ってもらっても大丈夫です。")
WHICH_BUTTONS = [texts.COUNSELOR_BUTTON, FAQ_BUTTON]
# Typed answers to it (folded, at most 20 letters): the city in general (→ the FAQ's 「知りたいことを送って」), a
# topic of the city (→ the assistant, as typed: 「子育てのこと」 gets its answer), or one's own worry (→ a counselor).
WHICH_CITY_WORDS = ("手続き", "てつづき", "サービス", "さーびす", "市役所", "区役所", "役所", "やくしょ", "市民相談", "暮らし",
                    "くらし", "大人", "おとな", "社会人")
WHICH_TOPIC_WORDS = ("税", "ぜい", "保険", "年金", "子育て", "こそだて", "育児", "保育", "ごみ", "ゴミ", "住民票", "届",
                     "申請", "証明", "除雪", "引っ越し", "引越")
WHICH_COUNSELOR_WORDS = ("相談員", "そうだんいん", "カウンセラー", "悩み", "なやみ", "聞いてほしい", "きいてほしい", "話を聞",
                         "はなしをき", "話したい", "はなしたい", "自分の", "じぶんの", "こころ", "心", "気持ち", "きもち",
                         "学校", "がっこう", "家族", "かぞく", "友だち", "友達", "ともだち", "恋愛", "れんあい", "いじめ",
                         "からだ", "小学", "中学", "高校", "しょうがく", "ちゅうがく", "こうこう")
TYPING_EVERY = 1.0  # seconds between two typing events of a chat passed to the console
_BUTTONS_LINE = re.compile(r"\n［ボタン：(?P<titles>.*)］$", re.S)


def fold(text: str) -> str:
    """A typed message as button titles are compared: NFKC, lower case, no spaces or punctuation."""
    return _FOLD.sub("", unicodedata.normalize("NFKC", text or "").lower())


# Triage takes 1–5 ms (up to ~0.2 s for a 2,000-character message): off the event loop, in one thread of
# its own (a MeCab tagger is not to be shared by threads running at the same time).
_TRIAGE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="triage")


def conversation_ref(conversation_id: str) -> str:
    """A short, stable, non-reversible reference for logs (ids such as LINE user ids are personal)."""
    return hashlib.sha256(conversation_id.encode("utf-8", "replace")).hexdigest()[:12]


class Notifier:
    """What the staff console is told (gateway/staff/console/live.py implements it); silent by default."""

    async def queue_changed(self) -> None: ...

    async def message(self, conversation_id: str, message: Dict) -> None: ...

    async def conversation(self, conversation: Conversation) -> None: ...

    async def alert(self, payload: Dict, roles=(), usernames=()) -> None: ...

    async def escalate(self, payload: Dict) -> None:
        """A chat waited too long (gateway/counseling/jobs.py): the supervisors are told."""

    async def delivered(self, conversation_id: str, marks: List[Dict]) -> None:
        """A client acknowledged these messages ({id, delivered_at})."""

    async def typing(self, conversation: Conversation) -> None:
        """The citizen is typing in a chat a person owns or waits for one (no text)."""

    def available(self, queue: str) -> int:
        """How many people who answer ``queue`` are online (for the wait estimate)."""
        return 0


def _as_transcript(message: BotMessage) -> str:
    text = message.get("text") or ""
    titles = [b.get("title", "") for b in message.get("buttons") or [] if isinstance(b, dict)]
    return text + (f"\n［ボタン：{' / '.join(titles)}］" if titles else "")


def without_buttons(transcript_text: str) -> str:
    """A transcript line's text as the user saw it (the 「［ボタン：…］」 line removed): the widget's history."""
    return _BUTTONS_LINE.sub("", transcript_text)


@dataclass
class Turn:
    """What a user turn gives its channel: the answers, and whether the chat is in a counseling session after the turn
    (the widget marks the answers so), when the router knows it without another read; None: the channel reads it."""
    replies: List[BotMessage]
    counseling: Optional[bool] = None


class Router:
    def __init__(self, engine: EngineClient, store: HandoffStore, max_message_chars: int = 2000,
                 notifier: Optional[Notifier] = None, hours: Optional[CounselingHours] = None):
        self.engine = engine
        self.store = store
        self.max_message_chars = max_message_chars
        self.notifier = notifier or Notifier()
        self.channels: Dict[str, Push] = {}
        self.desk = CounselingDesk(self, hours or CounselingHours.load())
        self._typing: Dict[str, float] = {}  # conversation id → when its last typing event went on (loop time)

    def connect(self, channels: Dict[str, Push], notifier: Optional[Notifier] = None) -> None:
        """How to reach users outside a turn (each channel's push, by channel name) and whom to tell about
        chats (the staff console). Called once, by gateway/app.py, after the channels and the console exist:
        they need the router to hand it their turns."""
        self.channels = dict(channels)
        if notifier is not None:
            self.notifier = notifier

    # ------------------------------------------------------------------ user turns
    async def handle_text(self, conversation_id: str, channel: str, text: Any,
                          metadata: Optional[Dict[str, Any]] = None) -> List[BotMessage]:
        """Route one user turn; returns what the user is told now (nothing while a person owns the chat)."""
        return (await self.handle_turn(conversation_id, channel, text, metadata)).replies

    @metrics.timed_turn  # counted per channel and outcome, timed (gateway/metrics.py)
    async def handle_turn(self, conversation_id: str, channel: str, text: Any,
                          metadata: Optional[Dict[str, Any]] = None,
                          owner_known: Optional[Callable[[str], None]] = None) -> Turn:
        """``handle_text`` with the chat's counseling flag when the turn's path cannot have changed it (see Turn).
        ``owner_known(owner)`` is called as soon as the chat's owner is read (the LINE channel starts its loading
        animation for the bot then: one lookup of the chat per turn, not two); never for a refused message."""
        ref = conversation_ref(conversation_id)
        metrics.outcome("rejected")  # until the checks below are passed
        if not isinstance(text, str):
            logger.info("rejected turn conv=%s channel=%s reason=not-text", ref, channel)
            return Turn([{"text": texts.NOT_TEXT}])
        if not text.strip():
            logger.info("rejected turn conv=%s channel=%s reason=empty", ref, channel)
            return Turn([{"text": texts.EMPTY_MESSAGE}])
        if len(text) > self.max_message_chars:
            logger.info("rejected turn conv=%s channel=%s reason=too-long chars=%d", ref, channel, len(text))
            return Turn([{"text": texts.too_long(self.max_message_chars)}])
        if has_bad_characters(text):  # a lone surrogate cannot be stored, PostgreSQL refuses NUL
            logger.info("rejected turn conv=%s channel=%s reason=bad-characters", ref, channel)
            return Turn([{"text": texts.BAD_CHARACTERS}])
        text = text.strip()
        metrics.outcome("gateway")
        # The triage runs before anything else reads the message, in every state (beside the chat's lookup).
        conversation, found = await asyncio.gather(
            self._lookup(str(ConversationId(channel, conversation_id)), channel, owner_known),
            asyncio.get_running_loop().run_in_executor(_TRIAGE, assess, text))
        message = await run_db(self.store.add_message, conversation.id, "user", text,
                               protected=self._protected(conversation, found))
        if found.level != "none":
            logger.warning("triage conv=%s channel=%s level=%s rules=%s", ref, channel, found.level,
                           ",".join(found.rules))
        # Where the turn queues, cancels or opens a counseling session (the desk, a handoff), the flag is left to the
        # channel (None); a person's chat and the engine's answer without a handoff leave it as read above.
        if conversation.owner.startswith(STAFF_PREFIX):
            metrics.outcome("staff")
            shown = await self.desk.while_with_staff(conversation, found)
            await self.notifier.message(conversation.id, message)
            return Turn(shown, conversation.counseling)  # a person owns the chat: they answer from the console
        if conversation.owner == QUEUED:
            metrics.outcome("queued")
            return Turn(await self._while_queued(conversation, found, text, message))
        if found.level == "none":
            text = await self._typed_button(conversation, text)
        if text == REQUEST_HUMAN and found.level == "none":
            return Turn(await self.request_human(conversation, "general", "user_request"))
        if text == NOT_A_WORRY and found.level == "none":
            return await self._not_a_worry(conversation, channel, metadata)
        if text == REQUEST_COUNSELOR or found.level != "none":
            metrics.outcome("counseling")
            return Turn(await self._counseling(conversation, found, requested=text == REQUEST_COUNSELOR))
        # The engine is told the triage found nothing: its NLU then never answers typed text with the
        # counseling menu (bot/nlu/front_door.py), which was a false alarm for 「相続の相談窓口は？」.
        return await self._to_engine(conversation, text, channel, {**(metadata or {}), "triage": found.level})

    async def _lookup(self, conversation_id: str, channel: str,
                      owner_known: Optional[Callable[[str], None]]) -> Conversation:
        conversation = await run_db(self.store.get_or_create, conversation_id, channel)
        if owner_known is not None:
            owner_known(conversation.owner)
        return conversation

    async def typing(self, conversation_id: str) -> None:
        """The citizen is typing (the web widget says so, without text): the console hears it only while a person
        owns the chat or it waits for one; at most once a second per chat, so a busy keyboard costs nothing. Only
        what was passed on counts for that second: the event typed just before the chat went to a person (while the
        bot still had it) must not swallow the first one a person can see."""
        now = asyncio.get_running_loop().time()
        if now - self._typing.get(conversation_id, -TYPING_EVERY) < TYPING_EVERY:
            return
        conversation = await run_db(self.store.get, conversation_id)
        if conversation and (conversation.owner == QUEUED or conversation.owner.startswith(STAFF_PREFIX)):
            if len(self._typing) > 10000:
                self._typing.clear()
            self._typing[conversation_id] = now
            await self.notifier.typing(conversation)

    async def owner_of(self, conversation_id: str) -> Optional[str]:
        """Who answers the chat now: ``bot``, ``queued`` or ``staff:<name>``; None for a chat not seen yet.
        What a channel may know of the store (the LINE channel shows its loading animation only for the bot)."""
        conversation = await run_db(self.store.get, conversation_id)
        return conversation.owner if conversation else None

    @staticmethod
    def _protected(conversation: Conversation, found: Triage) -> bool:
        """Counseling text: any message of a counseling session, one the bot would have had that triage
        flagged, and words of danger in a general clerk's chat. Encrypted, shown to counselors only."""
        if conversation.counseling:
            return True
        if conversation.owner == BOT:
            return found.level != "none"
        return rank(found.level) >= rank("high")

    async def _typed_button(self, conversation: Conversation, text: str) -> str:
        """The payload of a gateway button the user typed instead of tapping (see BUTTON_TITLES, and the answers
        to WHICH_CONSULTATION); else the text."""
        folded = fold(text)
        if folded in BUTTON_TITLES:
            return BUTTON_TITLES[folded]
        if folded == fold(FAQ_BUTTON["title"]):
            return FAQ_BUTTON["payload"]
        if folded == fold(texts.NOT_A_WORRY_BUTTON["title"]):
            return NOT_A_WORRY
        short = len(folded) <= 20
        not_a_worry = bool(TYPED_NOT_A_WORRY.fullmatch(folded))
        if not TYPED_YES.fullmatch(folded) and not not_a_worry \
                and not (short and any(w in folded for w in WHICH_CITY_WORDS + WHICH_COUNSELOR_WORDS)):
            return text
        titles = await run_db(self._last_buttons, conversation.id)
        if titles == [texts.COUNSELOR_BUTTON["title"], texts.NOT_A_WORRY_BUTTON["title"]]:  # the menu of a worry
            return NOT_A_WORRY if not_a_worry else REQUEST_COUNSELOR if TYPED_YES.fullmatch(folded) else text
        if titles == [b["title"] for b in WHICH_BUTTONS]:
            if not short or any(w in folded for w in WHICH_TOPIC_WORDS):
                return text
            if any(w in folded for w in WHICH_CITY_WORDS):
                return FAQ_BUTTON["payload"]
            return REQUEST_COUNSELOR if any(w in folded for w in WHICH_COUNSELOR_WORDS) else text
        return BUTTON_TITLES.get(titles[0], text) if len(titles) == 1 and TYPED_YES.fullmatch(folded) else text

    async def _not_a_worry(self, conversation: Conversation, channel: str,
                           metadata: Optional[Dict[str, Any]]) -> Turn:
        """The youth said the message only the classifier took for a worry was a question for the city: it goes to
        the engine after all (stored as it was, protected). Without that message right before, they are asked
        to send it again."""
        held = await run_db(self._held_question, conversation.id)
        if held is None:
            return Turn(await self._say(conversation.id, texts.NOT_A_WORRY_LOST), conversation.counseling)
        logger.info("not a worry conv=%s: the held message goes to the engine", conversation_ref(conversation.id))
        # flagged_by_triage: the engine answers it but keeps it out of its unanswered-question log (actions/common.py)
        return await self._to_engine(conversation, held, channel,
                                     {**(metadata or {}), "triage": "none", "flagged_by_triage": True})

    def _held_question(self, conversation_id: str) -> Optional[str]:
        """The user's message the worry's menu with 「ごみ・市の質問でした」 answered, when that menu was the last thing
        shown before the latest message; else None."""
        shown = [m for m in self.store.transcript(conversation_id, show_protected=True)[:-1] if m["kind"] == "text"]
        if len(shown) < 2 or shown[-1]["sender"] not in ("bot", "system") or shown[-2]["sender"] != "user":
            return None
        found = _BUTTONS_LINE.search(shown[-1]["text"] or "")
        if not found or texts.NOT_A_WORRY_BUTTON["title"] not in found.group("titles"):
            return None
        return shown[-2]["text"]

    async def _counseling(self, conversation: Conversation, found: Triage, requested: bool) -> List[BotMessage]:
        """The bot had the chat and the counseling desk takes the message; a request for 相談 and nothing else
        is first asked which kind of 相談 it is (README "Youth counseling")."""
        if found.level == "normal" and not requested:
            bare = found.rules == (WHICH_RULE,)
            last = await run_db(self._last_buttons, conversation.id)
            if last == [b["title"] for b in WHICH_BUTTONS] or (bare and texts.COUNSELOR_BUTTON["title"] in last):
                # the answer to the question is a worry or the request again; or 「相談したい」 is a yes to a
                # counselor's button (the desk's menu for a worry, the engine's counseling menu)
                requested = True
            elif bare:
                if not await run_db(self._counseling_before, conversation.id):
                    return await self._say(conversation.id, WHICH_CONSULTATION, buttons=WHICH_BUTTONS)
                requested = True  # back on the counseling path (「また話したくなったら「相談したい」と」)
        return await self.desk.from_bot(conversation, found, requested=requested)

    def _counseling_before(self, conversation_id: str) -> bool:
        """The chat has been on the counseling path: the desk spoke in it (a worry's menu, the numbers, a
        counseling session; its lines are protected, and kept for the retention period)."""
        return any(m["protected"] and m["sender"] == "system" for m in self.store.transcript(conversation_id))

    def _last_buttons(self, conversation_id: str) -> List[str]:
        """The button titles of the last message the user was shown before their latest one (the transcript
        keeps them as 「［ボタン：…］」, see _as_transcript and _say)."""
        for message in reversed(self.store.transcript(conversation_id, show_protected=True)[:-1]):
            if message["kind"] != "text":
                continue  # a staff note
            if message["sender"] not in ("bot", "system"):
                return []  # the user again, or a person answered
            found = _BUTTONS_LINE.search(message["text"] or "")
            return [t.strip() for t in found.group("titles").split(" / ")] if found else []
        return []

    async def _while_queued(self, conversation: Conversation, found: Triage, text: str,
                            message: Dict) -> List[BotMessage]:
        if text in CANCEL_WORDS or TYPED_CANCEL.fullmatch(fold(text)):
            if await run_db(self.store.hand_back, conversation.id, QUEUED):
                logger.info("handoff cancelled by user conv=%s", conversation_ref(conversation.id))
                await self._queue_moved(conversation.queue)
                return await self._say(conversation.id, texts.HANDOFF_CANCELLED)
        if text == REQUEST_COUNSELOR and conversation.queue != "counseling":
            await self.notifier.message(conversation.id, message)
            return await self.desk.from_bot(conversation, found, requested=True)
        shown = await self.desk.while_waiting(conversation, found, text)
        await self.notifier.message(conversation.id, message)
        if shown is not None:
            return shown
        position = await run_db(self.store.position, conversation)
        if conversation.queue == "counseling":
            return await self._say(conversation.id, texts.counseling_waiting(
                position, self.desk.wait_minutes(position, conversation.queue)))
        return await self._say(conversation.id, texts.still_waiting(position, conversation.queue),
                               [texts.CANCEL_HANDOFF_BUTTON])

    async def _to_engine(self, conversation: Conversation, text: str, channel: str,
                         metadata: Optional[Dict[str, Any]]) -> Turn:
        try:
            replies = await self.engine.send(conversation.engine_sender, text, channel, metadata,
                                             failed_at=conversation.engine_failed_at)
        except EngineUnavailable as exc:
            metrics.engine_error(exc)
            logger.warning("engine unavailable conv=%s channel=%s error=%s", conversation_ref(conversation.id),
                           channel, exc)
            await run_db(self.store.engine_failed, conversation.id)
            return Turn(await self._say(conversation.id, texts.ENGINE_DOWN, buttons=[texts.HUMAN_BUTTON]),
                        conversation.counseling)
        if conversation.engine_failed_at is not None:
            await run_db(self.store.engine_failed, conversation.id, False)
        metrics.outcome("bot")
        handoff = next((m["custom"]["handoff"] for m in replies
                        if isinstance(m.get("custom"), dict) and isinstance(m["custom"].get("handoff"), dict)), None)
        shown = [m for m in replies if not (isinstance(m.get("custom"), dict) and "handoff" in m["custom"])]
        kept = [reply for reply in shown if reply.get("text") or reply.get("buttons")]
        if kept:  # one transaction for the turn's answers
            stored = await run_db(self.store.add_messages, conversation.id, "bot",
                                  [(_as_transcript(reply), reply.get("buttons")) for reply in kept])
            for reply, row in zip(kept, stored):
                reply["message_id"] = row["id"]  # the widget's history and de-duplication
        if handoff:
            queue = handoff.get("queue") if handoff.get("queue") in QUEUES else "general"
            reason = str(handoff.get("reason") or "user_request")[:32]
            return Turn(shown + await self.request_human(conversation, queue, reason))
        return Turn(shown, conversation.counseling)

    async def request_human(self, conversation: Conversation, queue: str, reason: str) -> List[BotMessage]:
        """Put the chat in a queue (the gateway decides: a chat a person owns stays with them)."""
        metrics.outcome("counseling" if queue == "counseling" else "handoff")
        if queue == "counseling":
            return await self.desk.from_bot(conversation, Triage("none"), requested=True)
        priority = 0  # general: first come, first served
        if not await run_db(self.store.enqueue, conversation.id, queue, priority, reason):
            return []
        now = await run_db(self.store.get, conversation.id)
        position = await run_db(self.store.position, now)
        logger.info("handoff requested conv=%s queue=%s priority=%d reason=%s position=%s",
                    conversation_ref(conversation.id), queue, priority, reason, position)
        await self.notifier.queue_changed()
        await self.notifier.conversation(now)
        return await self._say(conversation.id, texts.waiting(position, queue), [texts.CANCEL_HANDOFF_BUTTON])

    async def _say(self, conversation_id: str, text: str, buttons: Optional[List[Dict]] = None,
                   protected: bool = False) -> List[BotMessage]:
        """A message from the gateway itself, recorded in the transcript as a system line; protected when
        the counseling desk says it or inside a counseling session (even a place in the counseling queue
        says that a youth asked for help)."""
        if not protected:
            conversation = await run_db(self.store.get, conversation_id)
            protected = bool(conversation and conversation.counseling)
        titles = f"\n［ボタン：{' / '.join(b['title'] for b in buttons)}］" if buttons else ""
        stored = await run_db(self.store.add_message, conversation_id, "system", text + titles, protected=protected,
                              buttons=buttons)
        return [{"text": text, **({"buttons": buttons} if buttons else {}), "message_id": stored["id"]}]

    # ------------------------------------------------------------------ staff actions
    async def push(self, conversation: Conversation, messages: List[BotMessage], confirm: bool = False) -> bool:
        """Deliver messages to the user outside a turn (a staff reply, the queue moving, a reminder). With
        ``confirm``, wait until the channel has delivered them, or taken them durably (LINE's inbox), and say
        whether it did."""
        return await self.deliver(conversation, messages, confirm) is not False

    async def deliver(self, conversation: Conversation, messages: List[BotMessage],
                      confirm: bool = False) -> Optional[bool]:
        """``push``, with the channel's answer (see Push). Stored messages carry their ``message_id``: they are
        marked delivered when the channel says so now, or when a web client acknowledges them later."""
        target = ConversationId.parse(conversation.id)
        push = self.channels.get(target.channel)
        if push is None:
            logger.info("no push for channel=%s conv=%s (kept in the transcript)", target.channel,
                        conversation_ref(conversation.id))
            return False
        delivered = await push(target.user, messages, confirm=confirm)
        if delivered is True:
            await self.delivered(conversation.id, [m["message_id"] for m in messages if m.get("message_id")])
        return delivered

    async def delivered(self, conversation_id: str, message_ids: List[int]) -> None:
        """Messages a client acknowledged: stored, and shown on the console (once, the first time)."""
        marks = await run_db(self.store.mark_delivered, conversation_id, message_ids) if message_ids else []
        if marks:
            await self.notifier.delivered(conversation_id, marks)

    async def claim(self, conversation_id: str, username: str) -> Optional[Conversation]:
        if not await run_db(self.store.claim, conversation_id, username):
            return None
        conversation = await run_db(self.store.get, conversation_id)
        logger.info("claimed conv=%s by=%s", conversation_ref(conversation_id), username)
        await self._tell(conversation, texts.STAFF_JOINED if conversation.queue != "counseling"
                         else texts.COUNSELOR_JOINED)
        await self._queue_moved(conversation.queue)
        await self.notifier.conversation(conversation)
        return conversation

    async def reply(self, conversation_id: str, username: str, text: str) -> Optional[Dict]:
        conversation = await run_db(self.store.get, conversation_id)
        if not conversation or conversation.owner != STAFF_PREFIX + username:
            return None
        message = await run_db(self.store.add_message, conversation_id, STAFF_PREFIX + username, text,
                               protected=conversation.counseling)
        delivered = await self.deliver(conversation, [{"text": text, "sender": "staff", "message_id": message["id"]}])
        # The console's mark: 「表示済み」 (acknowledged), 「送信済み」 (sent, no ack yet), 「未達」 (nobody online).
        message["delivery"] = "delivered" if delivered is True else "offline" if delivered is False else "sent"
        await self.notifier.message(conversation_id, message)
        return message

    async def note(self, conversation_id: str, username: str, text: str) -> Dict:
        conversation = await run_db(self.store.get, conversation_id)
        message = await run_db(self.store.add_message, conversation_id, STAFF_PREFIX + username, text, "note",
                               protected=bool(conversation and conversation.counseling))
        await self.notifier.message(conversation_id, message)
        return message

    async def transfer(self, conversation_id: str, owner: str, queue: Optional[str] = None,
                       to_user: Optional[str] = None) -> Optional[Conversation]:
        if to_user:
            moved = await run_db(self.store.transfer_to_person, conversation_id, owner, to_user)
        else:
            moved = await run_db(self.store.transfer_to_queue, conversation_id, owner, queue)
        if not moved:
            return None
        conversation = await run_db(self.store.get, conversation_id)
        if conversation.owner == QUEUED:
            position = await run_db(self.store.position, conversation)
            await self._tell(conversation, texts.waiting(position, conversation.queue))
        await self.notifier.queue_changed()
        await self.notifier.conversation(conversation)
        return conversation

    async def hand_back(self, conversation_id: str, owner: str, outcome: Optional[str] = None,
                        told: Optional[str] = None) -> Optional[Conversation]:
        """Close (with an outcome) or give back to the bot; the user is told (``told``, or the usual line),
        the bot starts afresh and a counseling session ends."""
        before = await run_db(self.store.get, conversation_id)
        if not before or not await run_db(self.store.hand_back, conversation_id, owner, outcome):
            return None
        conversation = await run_db(self.store.get, conversation_id)
        logger.info("handed back conv=%s outcome=%s", conversation_ref(conversation_id), outcome or "-")
        await self._tell(conversation, told or (texts.CLOSED if outcome else texts.HANDED_BACK))
        if before.owner == QUEUED:
            await self._queue_moved(before.queue)
        await self.notifier.queue_changed()
        await self.notifier.conversation(conversation)
        return conversation

    async def _tell(self, conversation: Conversation, text: str) -> None:
        message = await run_db(self.store.add_message, conversation.id, "system", text,
                               protected=conversation.counseling)
        await self.push(conversation, [{"text": text, "message_id": message["id"]}])
        await self.notifier.message(conversation.id, message)  # the console shows what the citizen was told

    async def _queue_moved(self, queue: Optional[str]) -> None:
        """Everyone still waiting in ``queue`` hears their new place (kept in each transcript as a system line,
        so the console shows what the citizen was told)."""
        await self.notifier.queue_changed()
        if not queue:
            return
        for position, waiting in enumerate(await run_db(self.store.waiting, [queue]), start=1):
            text = texts.counseling_waiting(position, self.desk.wait_minutes(position, queue)) \
                if queue == "counseling" else texts.still_waiting(position, queue)
            await self._tell(waiting, text)

    async def note_for_staff(self, conversation_id: str, note: str) -> bool:
        """The user sent something the chat cannot carry as text (a LINE sticker or image) while a person owns
        the chat or it waits for one: record ``note`` as a system line and show it on the console. False when
        the bot has the chat (the channel then answers the user itself)."""
        conversation = await run_db(self.store.get, conversation_id)
        if not conversation or not (conversation.owner == QUEUED or conversation.owner.startswith(STAFF_PREFIX)):
            return False
        message = await run_db(self.store.add_message, conversation.id, "system", note, "media")
        logger.info("non-text message noted for staff conv=%s", conversation_ref(conversation.id))
        await self.notifier.message(conversation.id, message)
        return True
