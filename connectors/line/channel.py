"""LINE channel: the Messaging API webhook at ``POST /webhooks/line/webhook`` and the sending side.

Webhook: the ``X-Line-Signature`` (HMAC-SHA256 of the raw body with the channel secret, base64) is checked
before anything else (missing or wrong → 400, nothing processed; then JSON that does not parse → 400). Then
every event is written to the durable inbox (gateway/storage/line_inbox.py) in one transaction with its
``webhookEventId`` claim (``line_webhook_events``, unique key, kept ``LINE_DEDUPE_DAYS``: a redelivery, also
after a restart, has no second effect), and only then is LINE answered 200 (500 when the database refuses:
LINE then redelivers). The events are processed in background tasks, in order per user (one queue per user, so
two quick messages never race; at most 50 events wait per user, more are stored as failed for staff; several
gateways on one PostgreSQL: see below). An event is deleted from the inbox only after its answer went out; at
start the gateway resumes what is not done. A failing event is tried again with backoff
(``LINE_INBOX_RETRY_SECONDS`` × 2^n), after ``LINE_INBOX_ATTEMPTS`` tries it is marked failed, logged (no text)
and listed for staff at ``GET /staff/api/line/failed``. A text that reached the engine is never sent again
(the inbox marks it right before the request, engine_client.BEFORE_SEND): when the gateway stopped before its
answer went out, the user gets an apology with 「担当者と話す」 by push instead.

Several gateways on one PostgreSQL: LINE may deliver a user's webhooks to any of them. Each stores the events and
then tries the chat's advisory lock (gateway/storage/line_inbox.py ``ChatLocks``); the gateway holding it works
the chat's rows one after another, oldest first, reading each from the database, and lets go when none is left
(then it looks once more, so a row stored by another gateway while it held the lock is never left behind). A
gateway that finds the lock taken leaves the rows to the holder. Every ``LINE_INBOX_SWEEP_SECONDS`` each gateway
also takes up chats with rows not done that nobody holds (a gateway killed mid-turn: PostgreSQL freed its locks);
a row in state ``engine`` then gets the apology, as after a restart. The per-user cap counts the chat's rows in the
database. On SQLite (one machine, one gateway) the queues stay in memory.

Events: ``follow`` → welcome, privacy notice and the menu as quick replies (and a pending deletion is cancelled);
``unfollow`` → recorded, so the retention job deletes the user's data after ``LINE_UNFOLLOW_GRACE_DAYS`` unless they
follow again (gateway/jobs/retention.py); text → the router; ``postback`` → its data as the
user's text (a date picked in a datetimepicker is added as an entity: ``/choose_date{"date": "2026-12-03"}``);
``location`` → 「住所: …」 as text; sticker/image/video/audio/file → 「文字で送ってください」, or, while a person
has the chat or it waits for one, a note on the staff console; messages and postbacks in groups and rooms →
a note that the service works one-to-one; everything else is ignored and logged (by type only).

Sending: a bot turn goes in one reply call (at most 5 messages; the rest by push), with the loading animation
shown while the engine works; texts are split at 5,000 UTF-16 units on sentence ends; buttons become quick
replies (postback with the title as display text, or a message action), a ``{"datetimepicker": …}`` custom
payload a date-picker quick reply, a ``{"flex": {"altText", "contents"}}`` custom payload a Flex message.
An expired or refused reply token falls back to push. Staff replies, queue updates and reminders go by push
(the router's ``push``): written to the inbox first (kind ``push``), delivered by the user's queue behind their
events, retried like an event (one ``X-Line-Retry-Key`` per batch), and only then marked delivered.

Logs never contain message texts or LINE user ids (conversations appear as ``conversation_ref``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Deque, Dict, List, Optional, Set

import sqlalchemy as sa

from common.conversation_id import ConversationId
from gateway import texts
from gateway.counseling.crypto import cipher_for
from gateway.handoff.engine_client import BEFORE_SEND
from gateway.storage.db import run_db, utcnow
from gateway.storage.line_events import EventLog
from gateway.storage.line_inbox import (ANSWERED, ENGINE, FAILED, PENDING, PUSH, ChatLocks, Entry, Inbox,
                                        connect_inbox)
from connectors.line.inbox_writer import InboxWriter
from gateway.storage.conversations import BOT
from gateway.handoff.router import BotMessage, conversation_ref
from gateway.settings import Settings

if TYPE_CHECKING:
    from sanic import Request, Sanic
    from sanic.response import HTTPResponse

    from connectors.line.api import LineApi
    from gateway.handoff.router import Router

logger = logging.getLogger(__name__)

CHANNEL = "line"
WEBHOOK_PATH = "/webhooks/line/webhook"
MAX_BODY_BYTES = 1_000_000
MAX_MESSAGES_PER_CALL = 5
MAX_TEXT_UNITS = 5000  # LINE counts UTF-16 code units
MAX_QUICK_REPLIES = 13
MAX_LABEL_CHARS = 20
MAX_ACTION_DATA = 300  # postback data, display text and message-action text
MAX_ALT_TEXT = 1500
SENTENCE_ENDS = "。！？\n!?"
MEDIA_TYPES = ("sticker", "image", "video", "audio", "file")
PICKED_PARAMS = ("date", "time", "datetime")
SHUTDOWN_GRACE_SECONDS = 5.0
MAX_PENDING_EVENTS = 50  # per user: a flood beyond this is stored as failed (logged, listed for staff)
MAX_RETRY_SECONDS = 300.0
FAILED_PATH = "/staff/api/line/failed"
RETRY_KEYS = uuid.UUID("5d7c8a52-1f0e-4b5e-9a63-2f1c0d6e8b47")  # namespace of the inbox's push retry keys


class DeliveryFailed(Exception):
    """LINE did not take a push (after its own retries): the inbox tries the event again later."""

def _conversation(user_id: str) -> str:
    return str(ConversationId(CHANNEL, user_id))


# ---------------------------------------------------------------------- engine messages → LINE messages

def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _chars_within(text: str, units: int) -> int:
    """How many characters of ``text`` fit in ``units`` UTF-16 code units (never half a surrogate pair)."""
    if utf16_units(text[:units]) == min(units, len(text)):  # no astral characters in the window
        return min(units, len(text))
    count = used = 0
    for char in text:
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            break
        count += 1
    return count


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> List[str]:
    """Pieces of at most ``limit`` UTF-16 units, cut after the last sentence end (。！？ or a line break) that
    fits, else at the limit. Joined, the pieces are the text."""
    pieces: List[str] = []
    while utf16_units(text) > limit:
        fits = _chars_within(text, limit)
        end = max(text.rfind(mark, 0, fits) for mark in SENTENCE_ENDS) + 1
        if end <= 0:
            end = fits
        pieces.append(text[:end])
        text = text[end:]
    if text:
        pieces.append(text)
    return [p for p in pieces if p.strip()]


def _label(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= MAX_LABEL_CHARS else title[:MAX_LABEL_CHARS - 1] + "…"


def _button_item(button: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A Rasa button as a quick reply: an intent payload (``/…``) as a postback showing the title, any other
    payload as a message action that sends it as the user's text."""
    title = str(button.get("title") or "").strip()
    payload = str(button.get("payload") or title).strip()
    if not payload or len(payload) > MAX_ACTION_DATA:
        logger.info("line: button dropped (payload empty or over %d characters)", MAX_ACTION_DATA)
        return None
    label = _label(title or payload)
    if payload.startswith("/"):
        action = {"type": "postback", "label": label, "data": payload,
                  "displayText": (title or label)[:MAX_ACTION_DATA]}
    else:
        action = {"type": "message", "label": label, "text": payload}
    return {"type": "action", "action": action}


def _picker_item(picker: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """``{"datetimepicker": {"label", "data", "mode"?, "initial"?, "min"?, "max"?}}`` as a quick reply."""
    data = str(picker.get("data") or "").strip()
    if not data or len(data) > MAX_ACTION_DATA:
        logger.info("line: datetimepicker dropped (no data)")
        return None
    mode = picker.get("mode") if picker.get("mode") in ("date", "time", "datetime") else "date"
    limits = {k: str(picker[k]) for k in ("initial", "min", "max") if picker.get(k)}
    return {"type": "action", "action": {"type": "datetimepicker", "label": _label(str(picker.get("label") or "日付を選ぶ")),
                                         "data": data, "mode": mode, **limits}}


def _flex_message(flex: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    alt_text = str(flex.get("altText") or "").strip()[:MAX_ALT_TEXT]
    contents = flex.get("contents")
    if alt_text and isinstance(contents, dict) and contents.get("type") in ("bubble", "carousel"):
        return {"type": "flex", "altText": alt_text, "contents": contents}
    logger.warning("line: invalid flex message, sent as its alt text")
    return {"type": "text", "text": alt_text} if alt_text else None


def valid_flex(contents: Any) -> bool:
    """Whether line-bot-sdk's models accept the Flex contents (call it in a worker thread: the SDK's messaging
    package takes about two seconds to import)."""
    from linebot.v3.messaging import FlexContainer

    try:
        return isinstance(contents, dict) and FlexContainer.from_dict(contents) is not None
    except Exception:  # noqa: BLE001 — the SDK raises ValueError, KeyError, TypeError … on bad contents
        return False


def to_line_messages(messages: List[BotMessage]) -> List[Dict[str, Any]]:
    """Convert the bot messages of one turn (Rasa REST format) into LINE message objects.

    LINE shows the quick replies of the last message only, so the turn's buttons and date pickers
    (at most 13, date pickers first) go on its last message."""
    out: List[Dict[str, Any]] = []
    items: List[Dict[str, Any]] = []
    pickers: List[Dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        sender = {"sender": {"name": texts.LINE_STAFF_SENDER}} if message.get("sender") == "staff" else {}
        text = message.get("text") if isinstance(message.get("text"), str) else ""
        links = []
        for button in message.get("buttons") or []:
            if not isinstance(button, dict):
                continue
            if button.get("url"):  # quick replies cannot open links: the link goes into the text
                links.append(f"{button.get('title') or ''} {button['url']}".strip())
            elif (item := _button_item(button)) is not None:
                items.append(item)
        text = "\n".join([t for t in [text.strip(), *links] if t])
        for piece in split_text(text) if text else []:
            out.append({"type": "text", "text": piece, **sender})
        image = message.get("image")
        if isinstance(image, str) and image.startswith("https://") and len(image) <= 2000:
            out.append({"type": "image", "originalContentUrl": image, "previewImageUrl": image, **sender})
        custom = message.get("custom") if isinstance(message.get("custom"), dict) else {}
        if isinstance(custom.get("datetimepicker"), dict) and (item := _picker_item(custom["datetimepicker"])):
            pickers.append(item)
        if isinstance(custom.get("flex"), dict) and (flex := _flex_message(custom["flex"])):
            out.append({**flex, **sender})
        unknown = sorted(set(custom) - {"datetimepicker", "flex"})
        if unknown:
            logger.info("line: custom payload not shown on LINE keys=%s", ",".join(k[:20] for k in unknown[:5]))
    quick = _unique(pickers + items)
    if quick:
        if len(quick) > MAX_QUICK_REPLIES:
            logger.info("line: %d quick replies, only the first %d shown", len(quick), MAX_QUICK_REPLIES)
        if not out:
            out.append({"type": "text", "text": texts.LINE_CHOOSE})
        out[-1]["quickReply"] = {"items": quick[:MAX_QUICK_REPLIES]}
    return out


def _unique(items: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    seen, unique = set(), []
    for item in items:
        key = json.dumps(item, sort_keys=True, ensure_ascii=False)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


async def check_flex(messages: List[BotMessage]) -> List[BotMessage]:
    """Flex contents the SDK rejects would make LINE refuse the whole call: they become their alt text."""
    checked = []
    for message in messages:
        custom = message.get("custom") if isinstance(message, dict) and isinstance(message.get("custom"), dict) else {}
        flex = custom.get("flex")
        if isinstance(flex, dict) and not await asyncio.to_thread(valid_flex, flex.get("contents")):
            logger.warning("line: flex contents rejected by the SDK's models, sent as the alt text")
            message = {**message, "custom": {k: v for k, v in custom.items() if k != "flex"},
                       "text": "\n".join(t for t in (message.get("text") or "", str(flex.get("altText") or "")) if t)}
        checked.append(message)
    return checked


def postback_text(data: str, params: Any) -> str:
    """The postback as the user's text; a value picked in a datetimepicker joins the payload's entities."""
    picked = {k: params[k] for k in PICKED_PARAMS if isinstance(params, dict) and isinstance(params.get(k), str)}
    if not picked or not data.startswith("/"):
        return data
    intent, brace, rest = data.partition("{")
    entities: Dict[str, Any] = {}
    if brace:
        try:
            entities = json.loads(brace + rest)
        except ValueError:
            return data
        if not isinstance(entities, dict):
            return data
    return intent + json.dumps({**entities, **picked}, ensure_ascii=False)


def _batches(messages: List[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    return [messages[i:i + MAX_MESSAGES_PER_CALL] for i in range(0, len(messages), MAX_MESSAGES_PER_CALL)]


# ---------------------------------------------------------------------- the channel

Job = Callable[[], Awaitable[None]]


class LineChannel:
    def __init__(self, app: Sanic, router: Router, db: sa.engine.Engine, settings: Settings):
        self.router = router
        self.settings = settings
        # line-bot-sdk is imported only when the channel is on (its messaging package alone takes ~2 s to import).
        from linebot.v3.webhook import SignatureValidator

        self.validator = SignatureValidator(settings.line_channel_secret)
        inbox_db = connect_inbox(db)  # SQLite: a file of its own (gateway/storage/line_inbox.py)
        self.events = EventLog(inbox_db, timedelta(days=settings.line_dedupe_days))
        self.inbox = Inbox(inbox_db, cipher_for(settings.data_dir))
        self.writer = InboxWriter(self.inbox)
        self.api: Optional[LineApi] = None
        # The loading animation lasts until the answer or this many seconds (5–60, by 5): the engine timeout.
        self.loading_seconds = min(60, max(5, 5 * math.ceil(settings.engine_timeout / 5)))
        self._queues: Dict[str, Deque[Job]] = {}  # per user (or group/room): jobs run one after another
        self._tasks: Set[asyncio.Task] = set()
        self._warm: Optional[asyncio.Future] = None
        # Several gateways on one PostgreSQL: a chat's rows are drained by the holder of its advisory lock.
        self.shared = self.inbox.shared
        self.locks = ChatLocks(inbox_db, self.inbox) if self.shared else None
        self._lock_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="line-locks") if self.shared else None
        self._drains: Dict[str, bool] = {}  # chat → drained here; True: woken again meanwhile (look once more)
        self._sweeper: Optional[asyncio.Task] = None
        app.add_route(self.webhook, WEBHOOK_PATH, methods=["POST"], name="line_webhook")
        from gateway.staff.console.common import api_guard  # staff sessions and roles, as on the console

        app.add_route(api_guard(db)()(self.failed_events), FAILED_PATH, methods=["GET"], name="line_failed")
        app.register_listener(self.start, "before_server_start")
        app.register_listener(self.drain, "before_server_stop")
        app.register_listener(self.close, "after_server_stop")

    # ------------------------------------------------------------------ lifecycle
    async def start(self, app: Sanic, _loop=None) -> None:
        from connectors.line.api import LineApi

        s = self.settings
        self.api = LineApi(s.line_channel_access_token, s.line_api_base_url, s.line_api_data_base_url,
                           s.line_api_timeout, s.line_retry_base_delay, s.line_push_attempts)
        # Import the SDK's models now, in a worker thread, rather than on the first Flex message (check_flex).
        self._warm = asyncio.get_running_loop().run_in_executor(None, valid_flex, {})
        pruned = await run_db(self.events.prune)
        logger.info("LINE channel enabled at %s (API %s; %d expired event ids pruned)", WEBHOOK_PATH,
                    s.line_api_base_url, pruned)
        if self.shared:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_loop())
            return
        unfinished = await run_db(self.inbox.unfinished)
        for entry_id, key in unfinished:
            self._enqueue(key, partial(self._process, entry_id))
        if unfinished:
            logger.info("line inbox: resuming %d events not done before the last stop", len(unfinished))

    async def drain(self, app: Sanic, _loop=None) -> None:
        """On shutdown, let the events and pushes in progress finish (briefly)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            logger.info("LINE channel stopped: %d queues finished, %d cancelled", len(done), len(pending))

    async def close(self, app: Sanic, _loop=None) -> None:
        if self.api:
            await self.api.close()
        self.writer.close()
        if self.locks is not None:
            self.locks.close()
            self._lock_thread.shutdown(wait=False)

    # ------------------------------------------------------------------ webhook
    async def webhook(self, request: Request) -> HTTPResponse:
        from sanic.response import json as json_response  # already loaded: the gateway runs on Sanic

        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            logger.info("line: rejected webhook body of %d bytes", len(body))
            return json_response({"error": "payload too large"}, 413)
        signature = request.headers.get("x-line-signature", "")
        if not signature or not self._signed(body, signature):
            logger.warning("line: rejected webhook (%s signature)", "wrong" if signature else "missing")
            return json_response({"error": "invalid signature"}, 400)
        try:
            payload = json.loads(body)
            events = payload["events"]
            if not isinstance(events, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            logger.warning("line: rejected signed webhook (not a JSON object with events), %d bytes", len(body))
            return json_response({"error": "invalid body"}, 400)
        rows, keys, waiting = [], [], {}
        for event in events:
            if not isinstance(event, dict):
                logger.info("line: skipped an event that is not an object")
                continue
            key, kind = self._queue_key(event), str(event.get("type"))[:32]
            event_id = event.get("webhookEventId") if isinstance(event.get("webhookEventId"), str) else None
            if not event_id:
                logger.info("line: event without webhookEventId type=%s (not de-duplicated)", kind)
            waiting[key] = waiting.get(key, len(self._queues.get(key, ()))) + 1
            # shared: the cap is counted in the database (store_op), no one gateway's memory knows all rows
            refused = "flood" if waiting[key] > MAX_PENDING_EVENTS and not self.shared else None
            if refused:
                logger.warning("line: %d events waiting for conv=%s, event refused (listed for staff)",
                               MAX_PENDING_EVENTS, conversation_ref(key))
            rows.append((event_id or None, key, kind, event, refused))
            keys.append((key, kind, event))
        if rows:
            try:
                cap = MAX_PENDING_EVENTS if self.shared else None
                if len(rows) == 1:  # the usual webhook: one statement on PostgreSQL, no transaction around it
                    ids = [await self.writer.call(self.inbox.store_one_op, rows[0], cap)]
                else:
                    ids = await self.writer.call(self.inbox.store_op, rows, cap)
            except Exception as exc:  # noqa: BLE001 — not stored: LINE must not get its 200 (it redelivers)
                logger.error("line: webhook not stored (%s), answered 500", type(exc).__name__)
                return json_response({"error": "not stored"}, 500)
            received = utcnow()
            for entry_id, (key, kind, event), row in zip(ids, keys, rows):
                if entry_id is not None and self.shared:
                    self._wake(key)
                elif entry_id is not None:  # processed from memory; a retry or a restart reads the row
                    fresh = Entry(entry_id, key, kind, event, received, PENDING, 0, None)
                    self._enqueue(key, partial(self._process, entry_id, fresh))
                elif row[4] is None:
                    context = event.get("deliveryContext")
                    redelivery = context.get("isRedelivery") if isinstance(context, dict) else None
                    logger.info("line: duplicate event type=%s redelivery=%s (already handled%s)", kind, redelivery,
                                ", or refused by the cap" if self.shared else "")
        return json_response({})

    async def failed_events(self, request: Request, user: Dict[str, Any]) -> HTTPResponse:
        """``GET /staff/api/line/failed``: LINE events given up (which chat, kind, tries, why; no text)."""
        from sanic.response import json as json_response

        return json_response({"failed": await run_db(self.inbox.failed)})

    def _signed(self, body: bytes, signature: str) -> bool:
        try:
            return self.validator.validate(body.decode("utf-8"), signature)
        except (UnicodeError, ValueError, TypeError):
            return False

    @staticmethod
    def _queue_key(event: Dict[str, Any]) -> str:
        """One queue per chat: a user's is named like their conversation (``line:<userId>``)."""
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        for field, prefix in (("groupId", "group:"), ("roomId", "room:")):
            if isinstance(source.get(field), str):
                return prefix + source[field]
        if isinstance(source.get("userId"), str):
            return _conversation(source["userId"])
        return "event:" + str(event.get("webhookEventId") or id(event))

    # ------------------------------------------------------------------ ordered background work
    def _enqueue(self, key: str, job: Job) -> None:
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        queue = self._queues[key] = deque([job])
        task = asyncio.get_running_loop().create_task(self._run_queue(key, queue))
        self._tasks.add(task)  # a task that nothing references may be garbage-collected mid-way
        task.add_done_callback(self._tasks.discard)

    async def _run_queue(self, key: str, queue: Deque[Job]) -> None:
        try:
            while queue:
                try:
                    await queue[0]()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 — one bad event must not stop the user's queue
                    logger.error("line: event processing failed (%s)", type(exc).__name__)
                    logger.debug("line: failure details", exc_info=True)
                queue.popleft()
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]

    # ------------------------------------------------------------------ shared inbox (several gateways, PostgreSQL)
    def _wake(self, chat: str) -> None:
        """The chat has rows to work on: drain them here unless this gateway already does (then it looks again)."""
        if chat in self._drains:
            self._drains[chat] = True
            return
        self._drains[chat] = False
        task = asyncio.get_running_loop().create_task(self._drain(chat))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _locked(self, method: Callable[..., Any], chat: str, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._lock_thread, method, chat, *args)

    async def _drain(self, chat: str) -> None:
        """While this gateway holds the chat's lock: its rows, oldest first, one at a time. Then let go and look
        once more (a row another gateway stored while the lock was held here is taken up, never left behind). A
        row this gateway could not finish (its failure could not be written) is left to the next sweep."""
        tried: Set[int] = set()
        try:
            while True:
                self._drains[chat] = False
                locked, entry = await self._locked(self.locks.lock_next, chat)
                if not locked:
                    return  # another gateway works on the chat: it looks again before it lets go
                held = True
                try:
                    while entry is not None and entry.id not in tried:
                        tried.add(entry.id)
                        await self._process(entry.id, entry)
                        let_go, entry = await self._locked(self.locks.next_or_unlock, chat, set(tried))
                        held = not let_go
                finally:
                    if held:
                        await self._locked(self.locks.unlock, chat)
                if self._drains.get(chat):
                    continue
                entry_id = await run_db(self.inbox.next_unfinished, chat)
                if entry_id is None or entry_id in tried:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — the database: the sweep takes the chat up again
            logger.error("line inbox: chat %s not drained (%s); the sweep tries again", conversation_ref(chat),
                         type(exc).__name__)
        finally:
            self._drains.pop(chat, None)

    async def _sweep_loop(self) -> None:
        """Chats with rows not done that no gateway works on (a gateway stopped or was killed): taken up here."""
        first = True
        while True:
            try:
                chats = await run_db(self.inbox.unfinished_chats)
                if first and chats:
                    logger.info("line inbox: %d events of %d chats not done, taken up where no gateway works on them",
                                sum(n for _, n in chats), len(chats))
                for chat, _ in chats:
                    if chat not in self._drains:
                        self._wake(chat)
            except Exception as exc:  # noqa: BLE001 — a database hiccup: the next sweep
                logger.warning("line inbox: sweep failed (%s)", type(exc).__name__)
            first = False
            await asyncio.sleep(self.settings.line_inbox_sweep_seconds)

    # ------------------------------------------------------------------ the inbox
    async def _process(self, entry_id: int, fresh: Optional[Entry] = None) -> None:
        """One inbox event, tried until its answer went out or the last try failed (the user's queue waits:
        their order holds)."""
        tries = 0
        while True:
            entry = None
            try:
                entry, fresh = fresh or await run_db(self.inbox.get, entry_id), None
                if entry is None or entry.state == FAILED:
                    return
                tries = entry.attempts
                await self._work(entry)
                await self.writer.call(self.inbox.done_op, entry_id)
                await self._pushed(entry)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 — any failure: try again later, never drop silently
                error = type(exc).__name__
                logger.debug("line: inbox failure details", exc_info=True)
            try:
                tries = await self.writer.call(self.inbox.tried_op, entry_id, error)
            except Exception:  # noqa: BLE001 — the database itself: count here, the row stays for the next start
                tries += 1
            ref = conversation_ref(entry.chat) if entry else "-"
            if tries >= self.settings.line_inbox_attempts:
                try:
                    await self.writer.call(self.inbox.give_up_op, entry_id)
                except Exception:  # noqa: BLE001
                    logger.error("line: event %d failed %d times (%s) conv=%s and could not be marked; it is "
                                 "resumed at the next start", entry_id, tries, error, ref)
                    return
                logger.error("line: event %d given up after %d tries (%s) conv=%s type=%s, listed at %s",
                             entry_id, tries, error, ref, entry.kind if entry else "-", FAILED_PATH)
                return
            delay = min(MAX_RETRY_SECONDS, self.settings.line_inbox_retry_seconds * 2 ** (tries - 1))
            logger.warning("line: event %d failed (%s) conv=%s, try %d of %d in %.1f s", entry_id, error, ref,
                           tries + 1, self.settings.line_inbox_attempts, delay)
            await asyncio.sleep(delay)

    async def _work(self, entry: Entry) -> None:
        if entry.state == ANSWERED:  # the turn is over, its answer has not gone out yet
            await self._deliver(entry)
        elif entry.state == ENGINE:  # the text went to the engine, its answer was lost: never send it twice
            logger.warning("line: turn interrupted after the engine call conv=%s, apology sent",
                           conversation_ref(entry.chat))
            await self._send(entry, [{"text": texts.LINE_INTERRUPTED, "buttons": [texts.HUMAN_BUTTON]}])
        else:
            await self._handle(entry)

    # ------------------------------------------------------------------ events
    async def _handle(self, entry: Entry) -> None:
        event = entry.event
        kind = str(event.get("type"))[:32]
        if event.get("mode") == "standby":  # another channel has the chat (module channels)
            logger.info("line: standby event type=%s ignored", kind)
            return
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        if kind in ("message", "postback") and source.get("type") in ("group", "room"):
            logger.info("line: %s in a %s, answered with the one-to-one note", kind, source.get("type"))
            await self._send(entry, [{"text": texts.LINE_ONE_TO_ONE}])
            return
        user_id = source.get("userId") if source.get("type") == "user" else None
        if not isinstance(user_id, str) or not user_id:
            logger.info("line: event type=%s ignored (source %s)", kind, str(source.get("type"))[:16])
            return
        if kind == "message":
            await self._on_message(entry, user_id, event.get("message") or {})
        elif kind == "postback":
            postback = event.get("postback") if isinstance(event.get("postback"), dict) else {}
            data = postback.get("data") if isinstance(postback.get("data"), str) else ""
            await self._turn(entry, user_id, postback_text(data, postback.get("params")), {"line_event": "postback"})
        elif kind == "follow":
            # A follow (also unblocking) cancels the deletion an earlier unfollow had scheduled.
            cancelled = await self.writer.call(self.inbox.followed_op, _conversation(user_id))
            logger.info("line: follow conv=%s%s", self._ref(user_id),
                        " (the deletion after the unfollow is cancelled)" if cancelled else "")
            await self._send(entry, [{"text": texts.LINE_WELCOME},
                                     {"text": texts.LINE_PRIVACY, "buttons": texts.LINE_MENU}])
        elif kind == "unfollow":
            # Recorded: after LINE_UNFOLLOW_GRACE_DAYS without a new follow, the retention job
            # (gateway/jobs/retention.py) deletes the user's conversation, tracker and unanswered-log rows.
            await self.writer.call(self.inbox.unfollowed_op, _conversation(user_id), utcnow())
            grace = self.settings.line_unfollow_grace_days
            logger.info("line: unfollow conv=%s%s", self._ref(user_id),
                        f" (data deleted after {grace:g} days unless the user follows again)" if grace > 0 else "")
        else:
            logger.info("line: event type=%s ignored", kind)

    async def _on_message(self, entry: Entry, user_id: str, message: Dict[str, Any]) -> None:
        kind = str(message.get("type"))[:16]
        if kind == "text":
            await self._turn(entry, user_id, message.get("text"), {"line_event": "text"})
        elif kind == "location":
            address = message.get("address") if isinstance(message.get("address"), str) else ""
            text = texts.line_location(address.strip(), message.get("latitude"), message.get("longitude"))
            location = {k: message.get(k) for k in ("latitude", "longitude") if isinstance(message.get(k), (int, float))}
            await self._turn(entry, user_id, text, {"line_event": "location", "location": location})
        elif kind in MEDIA_TYPES:
            image_set = message.get("imageSet") if isinstance(message.get("imageSet"), dict) else {}
            if isinstance(image_set.get("index"), int) and image_set["index"] > 1:
                logger.info("line: image %d of a set, answered with the first", image_set["index"])
                return
            if await self.router.note_for_staff(_conversation(user_id), texts.LINE_MEDIA_NOTES[kind]):
                return  # a person has the chat (or it waits for one): they see the note
            logger.info("line: %s message conv=%s, asked for text", kind, self._ref(user_id))
            await self._send(entry, [{"text": texts.LINE_SEND_TEXT}])
        else:
            logger.info("line: message type=%s ignored", kind)

    async def _turn(self, entry: Entry, user_id: str, text: Any, metadata: Dict[str, Any]) -> None:
        """One user turn through the router; the loading animation runs while the bot has the chat (started when
        the router has read the chat's owner: one lookup per turn). The inbox row is marked right before the text
        goes to the engine (never sent twice)."""
        loading: Optional[asyncio.Task] = None

        def owner_known(owner: str) -> None:
            nonlocal loading
            if owner == BOT:
                loading = asyncio.get_running_loop().create_task(self.api.show_loading(user_id, self.loading_seconds))

        async def to_engine() -> None:
            await self.writer.call(self.inbox.set_state_op, entry.id, ENGINE)
            entry.state = ENGINE

        marked = BEFORE_SEND.set(to_engine)
        try:
            replies = (await self.router.handle_turn(user_id, CHANNEL, text, metadata, owner_known)).replies
        finally:
            BEFORE_SEND.reset(marked)
            if loading is not None:
                await loading  # it must reach LINE before the answer, which ends it
        await self._send(entry, replies)

    # ------------------------------------------------------------------ sending
    async def _send(self, entry: Entry, messages: List[BotMessage]) -> None:
        """The turn is over: its LINE messages are delivered; when that fails they are stored in the inbox
        row first, so the next try delivers them without running the turn again. (A crash during the first
        delivery leaves the row as it was: a text that reached the engine then gets the apology.)"""
        outgoing = to_line_messages(await check_flex(messages))
        if not outgoing:
            return
        entry.outgoing = outgoing
        try:
            await self._deliver(entry)
        except Exception:
            await self.writer.call(self.inbox.answered_op, entry.id, outgoing)
            raise

    async def _deliver(self, entry: Entry) -> None:
        """One reply call with the first five messages (while the reply token is fresh); the rest, or all when
        the reply fails, by push, each batch with a retry key of its own that stays the same when the event is
        tried again (LINE then delivers it once). Raises DeliveryFailed when a push did not go out."""
        event = entry.event
        source = event.get("source") if isinstance(event.get("source"), dict) else {}
        user_id = source.get("userId") if source.get("type") == "user" and isinstance(source.get("userId"), str) else None
        reply_token = event.get("replyToken") if isinstance(event.get("replyToken"), str) else None
        batches = list(enumerate(_batches(entry.outgoing or [])))
        age = (utcnow() - entry.received_at).total_seconds()
        if reply_token and age < self.settings.line_reply_token_seconds:
            status = await self.api.reply(reply_token, batches[0][1])
            if status == 200:
                batches = batches[1:]
            elif user_id:
                logger.info("line: reply failed (%s) conv=%s, sending by push", status or "unreachable",
                            self._ref(user_id))
        elif user_id and entry.kind != PUSH:
            logger.info("line: reply token %s conv=%s, sending by push", "expired" if reply_token else "missing",
                        self._ref(user_id))
        if not user_id:
            return  # a group or room: the reply was the only way
        for index, batch in batches:
            # Row ids may be reused once a row is deleted (SQLite): the event id or the push's own id makes it unique.
            key = str(uuid.uuid5(RETRY_KEYS, f"{entry.id}:{event.get('webhookEventId') or event.get('push_id')}:{index}"))
            if not await self.api.push(user_id, batch, self._ref(user_id), retry_key=key):
                raise DeliveryFailed()

    async def push(self, user_id: str, messages: List[BotMessage], confirm: bool = False) -> Optional[bool]:
        """The router's way to reach a LINE user outside a turn (a person's reply, the queue moving, a reminder).
        The push is written to the durable inbox first (kind ``push``) and delivered by the user's queue, behind
        their events: it survives a restart, is retried with one ``X-Line-Retry-Key`` per batch and, after the
        last try, listed for staff. The stored messages (``message_id``) are marked delivered once LINE took them.
        Returns None (stored, not delivered yet), True with ``confirm`` (stored: from now on the inbox owns the
        delivery) or False when it could not be stored (the caller may try again; a clerk sees 「未達」)."""
        outgoing = to_line_messages(await check_flex(messages))
        if not outgoing:
            return True
        chat = _conversation(user_id)
        event = {"type": PUSH, "push_id": uuid.uuid4().hex, "source": {"type": "user", "userId": user_id},
                 "message_ids": [m["message_id"] for m in messages if m.get("message_id")]}
        try:
            entry_id = await self.writer.call(self.inbox.push_op, chat, event, outgoing)
        except Exception as exc:  # noqa: BLE001 — the inbox's database refused: say so, never pretend
            logger.error("line: push not stored (%s) conv=%s", type(exc).__name__, self._ref(user_id))
            return False
        if self.shared:
            self._wake(chat)
        else:
            fresh = Entry(entry_id, chat, PUSH, event, utcnow(), ANSWERED, 0, outgoing)
            self._enqueue(chat, partial(self._process, entry_id, fresh))
        return True if confirm else None

    async def _pushed(self, entry: Entry) -> None:
        """A stored push went out: its transcript messages are marked delivered (the console's 「配信済み」)."""
        ids = entry.event.get("message_ids") if entry.kind == PUSH else None
        if not ids:
            return
        try:
            await self.router.delivered(entry.chat, [int(i) for i in ids])
        except Exception as exc:  # noqa: BLE001 — the mark only: the message did go out
            logger.warning("line: delivery not recorded (%s) conv=%s", type(exc).__name__, conversation_ref(entry.chat))

    @staticmethod
    def _ref(user_id: str) -> str:
        return conversation_ref(_conversation(user_id))


def setup_line(app: Sanic, router: Router, db: sa.engine.Engine, settings: Settings) -> Optional[LineChannel]:
    """Register the LINE channel when the channel secret and access token are set; otherwise the route does
    not exist (404) and the log says so once."""
    missing = [name for name, value in (("LINE_CHANNEL_SECRET", settings.line_channel_secret),
                                        ("LINE_CHANNEL_ACCESS_TOKEN", settings.line_channel_access_token)) if not value]
    if missing:
        logger.info("LINE channel disabled: %s not set (%s answers 404)", " and ".join(missing), WEBHOOK_PATH)
        return None
    return LineChannel(app, router, db, settings)
