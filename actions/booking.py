"""大型ごみ collection booking in chat: the form's questions and checks, the summary, the receipt, and
checking / changing / cancelling a booking afterwards. The rules (fees, dates, capacity, receipt
numbers, deadlines) live in common/booking/; this module only talks."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Text, Tuple, Union

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (CALL_CENTER, button, channel_of, fold, is_fresh_answer, offered_buttons, parse_payload,
                            typed_choice)
from actions.faq import reply_from_faq
from actions.garbage import city_data_required, reply_to_item_question, resolve_address
from common import booking
from common.conversation_id import ConversationId
from common.booking.dates import NOT_UNDERSTOOD, format_deadline, now_jst
from common.clock import today
from common.formats import format_date
from bot.knowledge.faq_retriever import current_retriever
from bot.nlu.address_text import names_a_street
from bot.nlu.yes_no import is_yes_or_no, read_yes_no

SKIP_NAME = {"なし", "無し", "ない", "不要", "いらない", "スキップ", "-", "ー"}
# Words that make an answer a question to answer first (「ソファは何ごみ？」 in the middle of the form).
QUESTION = re.compile(r"[?？]$|何ごみ|なにごみ|どうやって|どこで|いくら|教えて|ですか$|ますか$|でしょうか|何時|なんじ|いつまで|"
                      r"いいの$|ばいい|の[?？]?$")
HOUSE_NUMBER = re.compile(r"\d+\s*(?:番地?|号|-|ー|－|‐|の)\s*\d*|\d+\s*$")
BOOKING_FIELDS = {"items": "bb_items", "address": "bb_address", "phone": "bb_phone", "date": "bb_date",
                  "name": "bb_name"}
# 「日にちを12月19日に変えたい」 at the summary: which part to change (the first named, in this order).
EDIT_FIELDS = [("phone", re.compile(r"電話|でんわ|番号")), ("address", re.compile(r"住所|じゅうしょ|場所|番地")),
               ("name", re.compile(r"名前|なまえ|氏名")),
               ("items", re.compile(r"品目|品物|出す物|出すもの|だすもの|物|もの|ごみ")),
               ("date", re.compile(r"日付|日にち|ひにち|日程|収集日|曜日|[0-9０-９]+日|日"))]
EDIT_VERB = re.compile(r"直|なお|変|かえ|修正|訂正|違|ちが|間違|まちが")
# The form's own stop command (「途中でやめるときは「やめる」」): left to the stop rule wherever it is typed.
FORM_STOP = re.compile(r"(?:やめ|止め)(?:る|ます)|キャンセル(?:する|します|で)?|中止(?:する|します)?")
# Intents that leave the form instead of answering it (data/rules/booking.yml).
INTERRUPTIONS = {"stop", "request_human", "menu_counseling", "manage_booking"}
CHANGE_DEADLINE_TEXT = "収集日の2日前の17時"


def owner_ref(tracker: Tracker) -> str:
    """The chat user, as the booking store knows them (a hash: LINE user ids are personal). The gateway's
    "#<n>" suffix (a new engine session after a person handed the chat back) is the same user."""
    return booking.owner_ref(ConversationId.parse(tracker.sender_id).conversation)


def day_label(day: date) -> str:
    return format_date(day)


def items_text(items: List[Dict[str, Any]]) -> str:
    return "\n".join(f"・{i['name']} ×{i['quantity']}　{i['fee'] * i['quantity']:,}円" for i in items)


def total_of(items: List[Dict[str, Any]]) -> int:
    return sum(i["fee"] * i["quantity"] for i in items)


def answered_a_question(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> bool:
    """A question in the middle of the form is answered (FAQ, then the garbage dictionary); the form then
    asks its question again. A button of another menu (「/menu_faq」) is no answer either."""
    if text.startswith("/"):
        faq_id = next(tracker.get_latest_entity_values("faq_id"), None)
        topic = current_retriever().topics.get(faq_id or "")
        if topic:
            from actions.faq import answer_topic
            answer_topic(dispatcher, topic)
        return True
    if not QUESTION.search(text.strip()):
        return False
    if answered_about_booking(dispatcher, tracker, text):
        return True
    if reply_from_faq(dispatcher, tracker, text, current_retriever().retrieve(text), candidates=False):
        return True
    if reply_to_item_question(dispatcher, tracker, text, from_fallback=True):
        return True
    dispatcher.utter_message(text=f"そのご質問には、ここではお答えできません。{CALL_CENTER}へお問い合わせください。")
    return True


_PUT_OUT_TIME = re.compile(r"何時|なんじ|いつまでに出|朝")


def answered_about_booking(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> bool:
    """The two questions people ask in the middle of a booking: the fee (from the same table the form uses, never
    a guessed amount) and by when to put the items out."""
    if _FEE_QUESTION.search(text):
        chosen = tracker.get_slot("bb_item_list") or []
        sample = "（見本の表によるもので、市の確認前です）" if booking.fee_table().sample else ""
        if chosen:
            dispatcher.utter_message(text=f"お申し込みの品目の手数料です{sample}。\n{items_text(chosen)}\n"
                                          f"合計 {total_of(chosen):,}円\n正式な金額は札幌市のホームページの大型ごみのページか、"
                                          f"{CALL_CENTER}でご確認ください。")
        else:
            dispatcher.utter_message(text="手数料は品目ごとに決まっています。出したい物を教えていただければ、"
                                          f"品目ごとの金額と合計をお伝えします{sample}。正式な金額は札幌市のホームページの"
                                          f"大型ごみのページか、{CALL_CENTER}でご確認ください。")
        return True
    if _PUT_OUT_TIME.search(text) and re.search(r"出|だ", text):
        dispatcher.utter_message(text="収集日の朝8時30分までに、申し込みの住所の決められた場所に出してください。")
        return True
    return False


def describe_refusals(results) -> List[str]:
    """What cannot be booked and why, one line each."""
    lines = []
    for r in results:
        if r.status == "not_collected":
            lines.append(f"「{r.phrase}」は市では収集していません（{r.category}）。販売店や専門の業者にご相談ください。")
        elif r.status == "not_large":
            lines.append(f"「{r.phrase}」は大型ごみではなく【{r.category}】です。ふだんのごみの日に出せます。")
        elif r.status == "no_fee":
            lines.append(f"「{r.item_name}」はこのチャットでは手数料をご案内できません。{CALL_CENTER}へお問い合わせください。")
        elif r.status == "ambiguous":
            lines.append(f"「{r.phrase}」はどれですか？ 例：{ '、'.join(r.candidates[:3]) }")
        elif r.status == "bad_quantity":
            lines.append(r.error or f"「{r.phrase}」の数が正しくないようです。")
        elif r.status == "unknown":
            lines.append(f"「{r.phrase}」が見つかりませんでした。別の言い方で教えてください。")
    return lines


def yes_or_no_instead(dispatcher: CollectingDispatcher, text: str, slot: str, ask: str) -> Optional[Dict[str, Any]]:
    """A typed はい / いいえ where the form asks for items, an address or a date is never taken as one
    (「はい」 once became the item ハイザー): the form says what it needs and asks again. A typed
    「やめます」 / 「キャンセル」 the NLU did not take for 「やめる」 ends the form like 「やめる」."""
    if not is_yes_or_no(text):
        return None
    if read_yes_no(text) is False and re.search(r"やめ|止め|キャンセル|中止", fold(text)):
        return {slot: None, "bb_confirm": "no"}  # the form ends (next_requested_slot)
    dispatcher.utter_message(text=ask)
    return {slot: None}


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "").strip()


def latest_intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def typed_answer_to(tracker: Tracker, slot: str) -> Optional[str]:
    """The user's typed message when it answers the form's question for ``slot`` now; None for a button
    (its payload is mapped in domain.yml), another question, or a return to the form after an interruption."""
    text = latest_text(tracker)
    if tracker.get_slot("requested_slot") != slot or not text or text.startswith("/") or not is_fresh_answer(tracker):
        return None
    return text


def edit_request(text: str) -> Optional[str]:
    """「住所を直す」「日にちを12月19日に変えたい」「電話番号が違います」 → which part of the booking."""
    folded = fold(text)
    if not EDIT_VERB.search(folded):
        return None
    return next((field for field, words in EDIT_FIELDS if words.search(folded)), None)


# ------------------------------------------------------------------ reading a typed answer, any field at any question
# Citizens answer in their own order (what, where, when, who), several answers in one message, and change their
# mind (「やっぱりソファーじゃなくてベッドにします」「住所まちがえました。…です」「日にちを12月19日に変えたい」).
# A typed message in the form is cut at 、。 and each piece read by one reader per field: a phone number
# (booking.validate_phone), an address (resolve_address: 区 + 町名, or a postcode), a date (booking.parse_date);
# what is left is the answer to the question asked (items, the name) or, with words of changing, new items.
_SEGMENTS = re.compile(r"[、,，。\n]+|(?<=[?？!！])")
_PHONE_SPAN = re.compile(r"(?:\+81|0)[\d\s\-‐ー－()（）]{8,16}\d")
_ITEMS_INSTEAD = re.compile(r"(?:じゃなくて|じゃなく|ではなくて|ではなく|でなくて|でなく|をやめて|はやめて)(?P<new>.+)$")
# 「テレビ台だけでいいです」; 「捨てたいんだけど」 is "but", no だけ
_ITEMS_ONLY = re.compile(r"^(?:じゃあ|では|それなら|やっぱり|やはり)?\s*(?P<new>.+?)(?<!ん)\s*だけ(?!ど|れど)(?:で|に|を|が)?.*$")
_ITEMS_ADD = re.compile(r"^(?:あと|それと|あと、)?\s*(?P<new>.+?)\s*も\s*(?:追加|ついか|出し|だし|お願い|おねがい|一緒|いっしょ).*$")
_ITEMS_CHANGE = re.compile(r"^(?:やっぱり|やはり)?\s*(?:品目|出す物|出すもの)?(?:を|は)?\s*(?P<new>.+?)\s*(?:に(?:変更|変え|かえ)|にします|にして).*$")
_ITEM_TAIL = re.compile(r"\s*(?:にします|にしてください|にして|に変更(?:します|してください|したい)?|に変えます|に変えたい|"
                        r"でお願いします|でお願い|がいいです|がいい|です|でいいです|で)\s*$")
_LEAD_WORDS = re.compile(r"^(?:あ|あっ|えっと|えーと|すみません|すいません|ごめんなさい|やっぱり|やはり|じゃあ|では|住所は|"
                         r"住所|場所は|電話番号は|電話は|番号は|連絡先は|名前は|お名前は|日にちは|日付は|希望日は)\s*")
_ADDRESS_TAIL = re.compile(r"\s*(?:です|でお願いします|でおねがいします|に住んでいます|まで|に来てください|です。)\s*$")
_NAME_TAIL = re.compile(r"\s*(?:です|と申します|といいます|でお願いします)\s*$")
_HOUSE_ONLY = re.compile(r"^\s*(?:番地は)?\s*\d+(?:\s*(?:-|ー|－|‐|の|番地?|号)\s*\d*)*\s*(?:番地|号)?\s*(?:です)?\s*$")
_NO_HOUSE = re.compile(r"番地(?:は)?(?:なし|無し|ない|ありません|わから|分から|不明)|わから|分から|ありません|ない(?:です)?$|"
                       r"そこまで|これで|以上|なし|無し")
_STOP_WORDS = re.compile(r"(?:やめ|止め)(?:る|ます|ておきます|ときます|とく|よう)|中止|いいです$|結構です$")
_FEE_QUESTION = re.compile(r"料金|手数料|いくら|値段|費用|お金|何円|なんえん")
HOUSE_ASK = ("番地（例：1-1、3番5号）まで教えてください。番地がない・分からないときは「番地なし」と送ってください"
             "（そのときは、場所の確認のため担当からお電話することがあります）。")
NO_HOUSE_NOTE = "番地なしで承ります。場所の確認のため、担当からお電話することがあります。"


def _clean(segment: str, tail: re.Pattern = _ADDRESS_TAIL) -> str:
    text = _LEAD_WORDS.sub("", segment.strip())
    return tail.sub("", text).strip()


_KANA_WORDS = [("さらいしゅう", "再来週"), ("らいしゅう", "来週"), ("こんしゅう", "今週"), ("さらいげつ", "再来月"),
               ("らいげつ", "来月"), ("こんげつ", "今月"), ("げつようび", "月曜日"), ("かようび", "火曜日"),
               ("すいようび", "水曜日"), ("もくようび", "木曜日"), ("きんようび", "金曜日"), ("どようび", "土曜日"),
               ("にちようび", "日曜日"), ("げつよう", "月曜"), ("かよう", "火曜"), ("すいよう", "水曜"),
               ("もくよう", "木曜"), ("きんよう", "金曜"), ("どよう", "土曜"), ("にちよう", "日曜")]
_KANA_DATE = re.compile(r"(\d+)\s*がつ\s*(\d+)\s*にち|(\d+)\s*にち")
_KANA_COUNTERS = re.compile(r"(\d+)\s*(きゃく|まい|だい|こ|ほん|つ|こ)(?![ぁ-ん])")
_COUNTER_KANJI = {"きゃく": "脚", "まい": "枚", "だい": "台", "こ": "個", "ほん": "本", "つ": "つ"}


def kana_date(text: str) -> str:
    """「らいしゅうのかようび」「12がつ10にち」 as booking.parse_date reads them (来週の火曜日, 12月10日)."""
    for kana, kanji in _KANA_WORDS:
        text = text.replace(kana, kanji)
    return _KANA_DATE.sub(lambda m: f"{m.group(1)}月{m.group(2)}日" if m.group(1) else f"{m.group(3)}日", text)


def kana_counters(text: str) -> str:
    """「いす2きゃく、ふとん2まい」: the counters in kanji, as the item parser reads quantities."""
    return _KANA_COUNTERS.sub(lambda m: m.group(1) + _COUNTER_KANJI[m.group(2)], text)


class Reading:
    """What one typed message says, field by field (None: not in the message)."""

    def __init__(self, text: str):
        from bot.nlu.normalize import normalize_text
        self.text = text
        self.phone: Optional[str] = None
        self.bad_phone: Optional[str] = None  # looks like a phone number but is none (0120, too short)
        self.address: Optional[str] = None
        self.found: Dict[str, Any] = {}
        self.date_text: Optional[str] = None
        self.date = None  # booking DateResult
        self.rest: List[str] = []
        for raw in _SEGMENTS.split(text or ""):
            segment = raw.strip()
            if not segment:
                continue
            folded = normalize_text(segment)
            span = _PHONE_SPAN.search(folded)
            if span and self.phone is None:
                phone = booking.validate_phone(span.group(0))
                if phone:
                    self.phone = phone
                    left = _clean(folded[:span.start()] + folded[span.end():], _NAME_TAIL)
                    if left and not re.fullmatch(r"(?:電話|でんわ|番号|携帯|けいたい|連絡先|tel|です|は|:|：|\s)*", left):
                        self.rest.append(left)
                    continue
                if re.fullmatch(r"[\d\s\-‐ー－()（）+]+", folded) and not re.search(r"[区条丁目]", folded):
                    self.bad_phone = segment
                    continue
            if self.address is None and (re.search(r"区|〒|\d{3}-?\d{4}", folded)):
                found = resolve_address(segment, None)
                if found.get("gc_ward"):
                    self.address, self.found = _clean(segment), found
                    continue
            if names_a_street(folded):
                self.rest.append(segment)  # 「ひがしく ふしこ3じょう2ちょうめ5-5」: an address (5-5 is its 番地, no May 5)
                continue
            if self.date is None:
                result = booking.parse_date(kana_date(segment), today())
                if result.date is not None or result.error != NOT_UNDERSTOOD:
                    self.date_text, self.date = segment, result
                    continue
            self.rest.append(segment)

    @property
    def rest_text(self) -> str:
        return "、".join(self.rest)

    def has_fields(self) -> bool:
        return bool(self.phone or self.address or self.date is not None)


def items_change(text: str) -> Optional[Tuple[str, str]]:
    """(「replace」 or 「add」, the new items) for 「ソファーじゃなくてベッドにします」「テレビ台だけでいいです」
    「ソファーも追加したい」「品目をベッドに変えたい」; None without words of changing."""
    folded = text.strip()
    for kind, pattern in (("replace", _ITEMS_INSTEAD), ("replace", _ITEMS_ONLY), ("add", _ITEMS_ADD),
                          ("replace", _ITEMS_CHANGE)):
        match = pattern.search(folded)
        if match:
            new = _ITEM_TAIL.sub("", _LEAD_WORDS.sub("", match.group("new").strip())).strip()
            if new:
                return kind, new
    return None


ASK_AGAIN = {"bb_items": "出したい物と数を教えてください。例：ソファと電子レンジ2台（やめるときは「やめる」）",
             "bb_address": "収集に伺う住所を、区・町名・番地まで教えてください。例：中央区北1条西2丁目1-1",
             "bb_date": "収集日をボタンから選ぶか、「12月3日」「来週の月曜」のように入力してください。",
             "bb_phone": "当日連絡のつく電話番号を教えてください。例：090-1234-5678"}
PHONE_HELP = ("電話番号の形が正しくないようです。市外局番から、または携帯電話の11けたで教えてください。"
              "例：011-123-4567、090-1234-5678")
_STOP_AT_END = re.compile(r"(?:やめ|止め)(?:る|ます|ておきます|ときます|とく|にします)$|中止(?:します|して)?$")
OPEN_QUESTIONS = ("bb_items", "bb_address", "bb_date", "bb_name", "bb_phone", "bb_confirm")


def message_to_read(tracker: Tracker) -> Optional[str]:
    """The user's typed message when the form reads it whole (:meth:`ValidateBulkyBookingForm.read_typed`): a
    fresh message (not a return to the form), typed (not a button's payload), while the form asks one of its
    open questions or is being started by this very message (「ソファーを捨てたいので予約したい」); never a
    request to stop, for a person or for counseling, which their rules answer."""
    text = latest_text(tracker)
    requested = tracker.get_slot("requested_slot")
    if not text or text.startswith("/") or not is_fresh_answer(tracker):
        return None
    if requested not in OPEN_QUESTIONS and not (requested is None and latest_intent(tracker) == "menu_bulky_booking"):
        return None
    if latest_intent(tracker) in INTERRUPTIONS - {"manage_booking"}:
        return None
    return text


def take_items(dispatcher: CollectingDispatcher, text: str, quiet: bool = False) -> Optional[Dict[str, Any]]:
    """bb_items / bb_item_list for the items in ``text``, or None (asked again) with what cannot be taken and why.
    ``quiet``: words beside other answers (「大型ごみの予約です。ソファー1つ、…」): nothing is said about words that
    are no item, and nothing changes when no item is found."""
    results = parse_items_typed(text)
    if quiet:
        results = [r for r in results if r.status not in ("unknown", "ambiguous")]
        if not results:
            return None
    accepted = [{"name": r.item_name, "quantity": r.quantity, "fee": r.fee} for r in results if r.status == "ok"]
    problem = booking.validate_limits(results, booking.fee_table().limits) if accepted else None
    lines = describe_refusals([r for r in results if r.status in REFUSED or not accepted or problem])
    if problem:
        lines.append(problem)
    asked = [r for r in results if r.status not in REFUSED and r.status != "ok"]  # unknown, ambiguous, quantity
    if problem or not accepted or asked:
        if accepted and not problem:
            lines.append("申し込める物：" + "、".join(f"{i['name']}×{i['quantity']}" for i in accepted))
        lines.append("出したい物と数を、もう一度まとめて教えてください。")
        dispatcher.utter_message(text="\n".join(lines))
        return {"bb_items": None, "bb_item_list": None}
    # Items that cannot be booked here (家電4品目, not 大型ごみ, no fee in the table) beside ones that can: those are
    # booked, the others told why (「冷蔵庫とソファー」 → the ソファー).
    sample = "（手数料は見本の表によるもので、市の確認前です）" if booking.fee_table().sample else ""
    besides = "\n".join(lines + ["次の物で承ります（ほかに出したい物があれば「〇〇も追加」と送ってください）。"]) if lines else "承りました。"
    dispatcher.utter_message(text=f"{besides}\n{items_text(accepted)}\n合計 {total_of(accepted):,}円{sample}")
    return {"bb_items": text, "bb_item_list": accepted}


REFUSED = ("not_collected", "not_large", "no_fee")
_ITEM_PARTICLES = re.compile(r"(?<=\S)(?:が|を|は)(?=\s*[0-9０-９一二三四五六七八九十])|(?<=[つ個台枚脚本点])\s*と(?=\s*(?:[、,]|$))|"
                             r"\s*(?:です|でお願いします|をお願いします|お願いします)\s*(?=[、,]|$)")


def parse_items_typed(text: str):
    """booking.parse_items on the words as people type them (「本棚が1つと、カラーボックスが3つです」「いす2きゃく」);
    a word that only names part of an item found beside it (「スキー板とストック」: ストック is in スキー用具一式（板、
    ストック）) is not asked about."""
    results = booking.parse_items(_ITEM_PARTICLES.sub("", kana_counters(text)))
    names = [r.item_name for r in results if r.status == "ok" and r.item_name]
    return [r for r in results if not (r.status in ("ambiguous", "unknown")
                                       and any(fold(r.phrase) in fold(n) for n in names))]


def change_items(dispatcher: CollectingDispatcher, change: Tuple[str, str],
                 current: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """「ソファーじゃなくてベッドにします」 (replace) or 「ソファーも追加したい」 (add) at any question: the new items
    when every word is an item that can be booked; otherwise what is wrong, and the items stay as they were."""
    kind, text = change
    results = booking.parse_items(text)
    if not results or any(r.status in ("unknown", "ambiguous") for r in results):
        return {}
    lines = describe_refusals(results)
    new = [{"name": r.item_name, "quantity": r.quantity, "fee": r.fee} for r in results if r.status == "ok"]
    if kind == "add" and current:
        merged = {i["name"]: dict(i) for i in current}
        for item in new:
            if item["name"] in merged:
                merged[item["name"]]["quantity"] += item["quantity"]
            else:
                merged[item["name"]] = item
        new = list(merged.values())
    problem = booking.validate_limits(results, booking.fee_table().limits) if new else None
    if lines or problem or not new:
        kept = "品目は変えていません。" if current else "出したい物と数を教えてください。"
        dispatcher.utter_message(text="\n".join(lines + ([problem] if problem else []) + [kept]))
        return {}
    sample = "（手数料は見本の表によるもので、市の確認前です）" if booking.fee_table().sample else ""
    dispatcher.utter_message(text=f"品目を変更しました。\n{items_text(new)}\n合計 {total_of(new):,}円{sample}")
    return {"bb_items": "、".join(f"{i['name']}{i['quantity']}" for i in new), "bb_item_list": new}


def take_address(dispatcher: CollectingDispatcher, text: str, found: Dict[str, Any],
                 as_given: bool = False) -> Dict[str, Any]:
    """The address slots for ``text`` (区 + 町名 checked against the city's list). Without a 番地 the citizen is
    asked for it once (bb_house_asked keeps the address); after that, or ``as_given``, it is taken as it is."""
    ward, town = found.get("gc_ward"), found.get("gc_town")
    if not ward:
        dispatcher.utter_message(text="区の名前が分かりませんでした。区・町名・番地まで教えてください。例：中央区北1条西2丁目1-1")
        return {"bb_address": None}
    if not town:
        dispatcher.utter_message(text=f"{ward}の町名が分かりませんでした。町名と番地まで教えてください。")
        return {"bb_address": None}
    # bb_area "-" when the town spans several calendar areas: a value, so the form does not ask for it.
    slots = {"bb_address": text, "bb_ward": ward, "bb_town": town, "bb_area": found.get("gc_area") or "-",
             "bb_house_asked": None}
    if HOUSE_NUMBER.search(text.replace(town, "", 1)):
        return slots
    if as_given:
        dispatcher.utter_message(text=NO_HOUSE_NOTE)
        return slots
    return {"bb_address": None, "bb_ward": None, "bb_town": None, "bb_area": None,
            "bb_house_asked": {"address": text, "ward": ward, "town": town, "area": slots["bb_area"]}}


def take_name(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> Dict[str, Any]:
    if not text or text in SKIP_NAME or read_yes_no(text) is False or re.fullmatch(r"(?:いい|結構)です", text):
        return {"bb_name": "-"}  # 「いいえ」「なし」: no name
    if read_yes_no(text):
        dispatcher.utter_message(text="お名前を教えてください（不要なら「なし」）。")
        return {"bb_name": None}
    if len(text) > 40 or answered_a_question(dispatcher, tracker, text):
        if len(text) > 40:
            dispatcher.utter_message(text="お名前は40文字までで教えてください（不要なら「なし」）。")
        return {"bb_name": None}
    return {"bb_name": text}


def settle_date(dispatcher: CollectingDispatcher, ward: str, day: date, asked: Optional[str]) -> Dict[str, Any]:
    """bb_date for ``day`` in ``ward``. A day the ward cannot have (not its collection weekday, a holiday, past the
    deadline, full) is said why, and the nearest day it can have is taken instead (bb_date_asked keeps the day
    asked for: the summary shows both, and nothing is booked before the citizen says はい to it)."""
    reason = booking.is_bookable(ward, day, today())
    if not reason:
        return {"bb_date": day.isoformat(), "bb_date_asked": asked if asked and asked != day.isoformat() else None}
    dates = booking.available_dates(ward, today(), count=40)
    if not dates:
        dispatcher.utter_message(text=f"{reason}\n{ward}で申し込める日が近くにありません。{CALL_CENTER}へお問い合わせください。")
        return {"bb_date": None, "bb_date_asked": None}
    nearest = min(dates, key=lambda d: (abs((d - day).days), d < day))
    reason = re.sub(r"ほかの日をお選びください。|日付をもう一度入力してください。", "", reason)
    dispatcher.utter_message(text=f"{reason}\nいちばん近い{day_label(nearest)}でお受けします"
                                  "（ほかの日がよければ「12月3日」のように送ってください）。")
    return {"bb_date": nearest.isoformat(), "bb_date_asked": day.isoformat()}


CONFIRM_BUTTONS = [button("はい", "/affirm"), button("いいえ（やめる）", "/deny"),
                   button("品目を直す", '/edit_booking{"bb_field": "items"}'),
                   button("住所を直す", '/edit_booking{"bb_field": "address"}'),
                   button("日付を直す", '/edit_booking{"bb_field": "date"}')]
CONFIRM_HELP = "この内容で申し込むときは「はい」、やめるときは「いいえ」、直すときは「日付を直す」のように送ってください。"


# ------------------------------------------------------------------ limits against abuse (issue #13): the texts
# The store counts (common/booking/store.py, settings in common/booking/config.py); every text about the limits
# is here. The form is stopped as soon as a limit is known to be reached — at its start for the chat user, when
# the phone number is given for the number — so nobody types everything in vain; the confirmation is the last check.
LOOKUP_NOT_FOUND = "その受付番号と電話番号の申し込みが見つかりませんでした。"  # never which of the two was wrong


def open_limit_text(exc: booking.TooManyOpenBookings, own_shown: bool) -> str:
    """How many open bookings there are, the limit, how to check or cancel them (``own_shown``: the chat's own
    bookings come as buttons), and the call center."""
    if exc.by == exc.CONVERSATION:
        head = (f"このチャットからのお申し込みで、収集前のものがすでに{exc.count}件あります。"
                f"収集前のお申し込みは、ひとつのチャットから{exc.limit}件までです。")
    else:
        head = (f"この電話番号でのお申し込みで、収集前のものがすでに{exc.count}件あります。"
                f"収集前のお申し込みは、ひとつの電話番号につき{exc.limit}件までです。")
    how = ("今のお申し込みの確認・変更・キャンセルは、下のボタンか、「予約を確認したい」「キャンセルしたい」と送ってください。"
           if own_shown else
           "今のお申し込みの確認・変更・キャンセルは、申し込んだチャットで「予約を確認したい」「キャンセルしたい」と"
           "送るか、このチャットで「予約を確認したい」と送って受付番号と電話番号を入力してください。")
    return (f"{head}そのため、新しいお申し込みはお受けできません。収集が終わるか、お申し込みをキャンセルすると、"
            f"また申し込めます。\n{how}\nご事情があるときは、{CALL_CENTER}へお問い合わせください。")


def lookup_locked_text(exc: booking.LookupLocked) -> str:
    """The look-up is locked: when to try again, or whom to call (after the wrong try that locked it, that too)."""
    first = LOOKUP_NOT_FOUND + "\n" if exc.just_locked else ""
    return (f"{first}受付番号と電話番号での確認が続けて合わなかったため、お申し込みを守るために、この確認をしばらく"
            f"お休みしています。{format_deadline(exc.until)}以降にもう一度お試しいただくか、{CALL_CENTER}へ"
            "お問い合わせください。")


def say_open_limit(dispatcher: CollectingDispatcher, tracker: Tracker, exc: booking.TooManyOpenBookings) -> None:
    mine = booking.store().active_for_owner(owner_ref(tracker))
    dispatcher.utter_message(text=open_limit_text(exc, bool(mine)),
                             buttons=[button(f"{day_label(b.day)} {b.receipt_no}", manage_payload("check", b.receipt_no))
                                      for b in mine[:5]] or None)


def stopped_at_open_limit(dispatcher: CollectingDispatcher, tracker: Tracker,
                          phone: Optional[str] = None) -> Optional[List[Dict]]:
    """None while the chat user (and ``phone``) may book one more; else the limit is said and the events end the
    form there (its slots emptied, then listening: no 「中止しました」 from action_submit_booking)."""
    try:
        booking.store().check_open_limits(phone=phone, owner=owner_ref(tracker), now=now_jst())
    except booking.TooManyOpenBookings as exc:
        say_open_limit(dispatcher, tracker, exc)
        return ([SlotSet(slot, None) for slot in BOOKING_SLOTS]
                + [SlotSet("requested_slot", None), FollowupAction("action_listen")])
    return None


def phone_given(events: List[Dict]) -> Optional[str]:
    """The phone number this message gave the form, if any (the validation sets bb_phone only then)."""
    given = [e.get("value") for e in events if e.get("event") == "slot" and e.get("name") == "bb_phone"]
    return given[-1] if given and given[-1] else None


class ValidateBulkyBookingForm(FormValidationAction):
    """Checks each answer of the booking form; a question in the middle is answered and asked again."""

    def name(self) -> Text:
        return "validate_bulky_booking_form"

    @city_data_required
    async def run(self, dispatcher, tracker, domain):
        if tracker.active_loop_name != self.form_name():  # the form starts (also again after a full day)
            stopped = stopped_at_open_limit(dispatcher, tracker)
            if stopped is not None:
                return stopped
        events = await self.read_answers(dispatcher, tracker, domain)
        phone = phone_given(events)
        stopped = stopped_at_open_limit(dispatcher, tracker, phone) if phone else None
        return events if stopped is None else stopped

    async def read_answers(self, dispatcher, tracker, domain) -> List[Dict]:
        text = message_to_read(tracker)
        if text is not None:
            events = await self.read_typed(dispatcher, tracker, domain, text)
            if events is not None:
                next_slot = await self.next_requested_slot(dispatcher, tracker, domain)
                return events + ([next_slot] if next_slot else [])
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        # The order citizens answer in: what, where, when, who (the name is optional), the phone.
        # The day-before reminder is offered on LINE after the receipt (ActionSubmitBooking), never before the
        # summary: a citizen's 「はい」 after the phone number is meant for the summary.
        return ["bb_items", "bb_item_list", "bb_address", "bb_ward", "bb_town", "bb_area", "bb_date", "bb_name",
                "bb_phone", "bb_confirm"]

    async def next_requested_slot(self, dispatcher, tracker, domain):
        if tracker.slots.get("bb_confirm") == "no":  # 「いいえ」 at the summary, a typed 「やめます」 anywhere: done
            return SlotSet("requested_slot", None)
        return await super().next_requested_slot(dispatcher, tracker, domain)

    # Filled together with the answer they come from, never asked on their own.
    async def extract_bb_item_list(self, dispatcher, tracker, domain):
        return {}

    async def extract_bb_ward(self, dispatcher, tracker, domain):
        return {}

    async def extract_bb_town(self, dispatcher, tracker, domain):
        return {}

    async def extract_bb_area(self, dispatcher, tracker, domain):
        return {}

    def validate_bb_item_list(self, value, dispatcher, tracker, domain):
        return {"bb_item_list": value}

    def validate_bb_ward(self, value, dispatcher, tracker, domain):
        return {"bb_ward": value}

    def validate_bb_town(self, value, dispatcher, tracker, domain):
        return {"bb_town": value}

    def validate_bb_area(self, value, dispatcher, tracker, domain):
        return {"bb_area": value}

    # Typed answers where the buttons would do (「はい」, 「3日」, 「日付を直す」): read here from the words, never
    # from DIET's guess at affirm / deny (it takes 「ううん」 for affirm). Buttons are mapped in domain.yml.
    async def extract_bb_date(self, dispatcher, tracker, domain):
        text = typed_answer_to(tracker, "bb_date")
        if text is None or FORM_STOP.fullmatch(fold(text)):
            return {}
        result = booking.parse_date(text, today())
        # 「3日」「あさって」「来週の水曜日」: a date whatever the NLU called it (choose_date without the entity,
        # ask_collection_day, nlu_fallback); also a date that cannot be, so that validation says why.
        if result.date is not None or result.error != NOT_UNDERSTOOD:
            return {"bb_date": text}
        return {}

    async def extract_bb_confirm(self, dispatcher, tracker, domain):
        text = typed_answer_to(tracker, "bb_confirm")
        if text is None:
            return {}
        chosen = typed_choice(text, CONFIRM_BUTTONS)  # a button's title typed: 「住所を直す」
        if chosen:
            payload = parse_payload(chosen["payload"]) or {}
            field = payload.get("entities", {}).get("bb_field")
            return {"bb_confirm": field or {"affirm": "yes", "deny": "no"}[payload["intent"]]}
        answer = read_yes_no(text, "confirm")
        if answer is not None:
            return {"bb_confirm": "yes" if answer else "no"}
        field = edit_request(text)
        if field == "date":
            day = booking.parse_date(text, today())
            if day.date is not None or day.error != NOT_UNDERSTOOD:  # 「日にちを12月19日に変えたい」
                return {"bb_date": text, "bb_confirm": None}
        if field:
            return {"bb_confirm": field}
        if latest_intent(tracker) in INTERRUPTIONS:
            return {}
        if not answered_a_question(dispatcher, tracker, text):
            dispatcher.utter_message(text=CONFIRM_HELP)
        return {"bb_confirm": None}  # 「ちょっと考えます」, 「うんこ」: no booking on a guess

    # ------------------------------------------------------------------ a typed message: every field it gives
    async def read_typed(self, dispatcher, tracker, domain, text: str) -> Optional[List[Dict]]:
        """The events for a typed message in the form (see :class:`Reading`), or None to leave it to the
        per-slot extract_/validate_ methods (a yes or no at the summary, a request to stop or for a person)."""
        requested = tracker.get_slot("requested_slot")
        intent = latest_intent(tracker)
        reading = Reading(text)
        change = next((c for c in map(items_change, reading.rest) if c), None)
        if intent == "manage_booking" and (not (reading.has_fields() or change)
                                           or re.search(r"予約|申し?込|受付", text)):
            return None  # 「予約を確認したい」: another booking (data/rules/booking.yml)
        if requested == "bb_confirm":
            if (read_yes_no(text, "confirm") is not None or typed_choice(text, CONFIRM_BUTTONS)
                    or not (reading.has_fields() or change)):
                return None  # extract_bb_confirm
        slots = tracker.current_slot_values()
        updates: Dict[str, Any] = {}
        pending = slots.get("bb_house_asked") if requested == "bb_address" else None
        rest = list(reading.rest)

        if pending and _HOUSE_ONLY.match(fold(text)):  # 「2-10」 after 「番地まで教えてください」
            updates.update(self.accept_address(pending, f"{pending['address']}{text.strip()}"))
            return self.events(dispatcher, tracker, updates, requested)
        side_question = (not reading.has_fields() and not change and QUESTION.search(text.strip())
                         and not _STOP_AT_END.search(fold(text)))
        if side_question and pending:  # 「料金はいくら？」 at the 番地 question: answered, the 番地 asked again
            answered_a_question(dispatcher, tracker, text)
            return self.events(dispatcher, tracker, {requested: None}, requested)
        if pending and not reading.address:  # 「番地なし」「わからない」, or another answer: as given
            dispatcher.utter_message(text=NO_HOUSE_NOTE)
            updates.update(self.accept_address(pending, pending["address"]))
            rest = [r for r in rest if not _NO_HOUSE.search(fold(r))]

        if not reading.has_fields() and not change and not pending and requested is not None:
            if requested != "bb_name" and is_yes_or_no(text):
                instead = yes_or_no_instead(dispatcher, text, requested, ASK_AGAIN.get(requested, CONFIRM_HELP))
                return self.events(dispatcher, tracker, instead or {requested: None}, requested)
            if _STOP_AT_END.search(fold(text)):  # 「それならやめます」 the NLU did not take for 「やめる」
                return self.events(dispatcher, tracker, {requested: None, "bb_confirm": "no"}, requested)
            if answered_a_question(dispatcher, tracker, text):
                return self.events(dispatcher, tracker, {requested: None}, requested)

        if reading.address:
            updates.update(take_address(dispatcher, reading.address, reading.found, as_given=bool(pending)))
        if reading.phone:
            updates["bb_phone"] = reading.phone
            if requested == "bb_name" and not rest:  # the phone instead of a name: no name
                updates["bb_name"] = "-"
        elif reading.bad_phone and requested in ("bb_phone", "bb_name"):
            dispatcher.utter_message(text=PHONE_HELP)
        if reading.date is not None:
            if reading.date.date is None:
                dispatcher.utter_message(text=reading.date.error)
            else:
                updates["bb_date"] = reading.date.date.isoformat()
                updates["bb_date_asked"] = None

        rest_text = "、".join(rest)
        if change and (requested != "bb_items" or change[0] == "add"):
            updates.update(change_items(dispatcher, change, slots.get("bb_item_list")))
        elif rest_text and requested in ("bb_items", None):
            new = change[1] if change else rest_text
            quiet = requested is None or reading.has_fields()
            updates.update(take_items(dispatcher, new, quiet=quiet) or {})
        elif rest_text and requested == "bb_name" and "bb_name" not in updates:
            updates.update(take_name(dispatcher, tracker, _clean(rest_text, _NAME_TAIL)))
        elif not updates and requested == "bb_address":
            updates.update(take_address(dispatcher, text, resolve_address(text, None)))
        elif not updates and requested == "bb_date":
            dispatcher.utter_message(text="日付が分かりませんでした。ボタンから選ぶか、「12月3日」「来週の月曜」のように教えてください。")
        elif not updates and requested == "bb_phone":
            dispatcher.utter_message(text=PHONE_HELP)

        if requested == "bb_confirm":
            updates["bb_confirm"] = None  # the summary is shown again with the change
        return self.events(dispatcher, tracker, updates, requested)

    def events(self, dispatcher, tracker, updates: Dict[str, Any], requested: Optional[str]) -> List[Dict]:
        """SlotSet events for ``updates`` (the date checked against the ward once both are known), the
        question asked again when it got no answer, and the next question."""
        if requested and requested not in updates:
            updates[requested] = None  # asked again (the form is not rejected: the message was read)
        slots = {**tracker.current_slot_values(), **updates}
        ward, day = slots.get("bb_ward"), slots.get("bb_date")
        if ward and day and ("bb_date" in updates or "bb_ward" in updates):
            updates.update(settle_date(dispatcher, ward, date.fromisoformat(day), slots.get("bb_date_asked")))
        events = [SlotSet(slot, value) for slot, value in updates.items()]
        tracker.add_slots(events)
        return events

    @staticmethod
    def accept_address(pending: Dict[str, Any], text: str) -> Dict[str, Any]:
        return {"bb_address": text, "bb_ward": pending["ward"], "bb_town": pending["town"],
                "bb_area": pending["area"], "bb_house_asked": None}

    def validate_bb_items(self, value, dispatcher, tracker, domain):
        text = str(value or "").strip()
        if tracker.get_slot("bb_item_list") and tracker.get_slot("requested_slot") != "bb_items":
            return {"bb_items": value}
        if not text or answered_a_question(dispatcher, tracker, text):
            return {"bb_items": None}
        instead = yes_or_no_instead(dispatcher, text, "bb_items", ASK_AGAIN["bb_items"])
        if instead:
            return instead
        return take_items(dispatcher, text)

    def validate_bb_address(self, value, dispatcher, tracker, domain):
        text = str(value or "").strip()
        if tracker.get_slot("bb_ward") and tracker.get_slot("requested_slot") != "bb_address":
            return {"bb_address": value}
        if not text or answered_a_question(dispatcher, tracker, text):
            return {"bb_address": None}
        instead = yes_or_no_instead(dispatcher, text, "bb_address", ASK_AGAIN["bb_address"])
        if instead:
            return instead
        return take_address(dispatcher, text, resolve_address(text, None),
                            as_given=bool(tracker.get_slot("bb_house_asked")))

    def validate_bb_phone(self, value, dispatcher, tracker, domain):
        text = str(value or "").strip()
        if answered_a_question(dispatcher, tracker, text):
            return {"bb_phone": None}
        phone = booking.validate_phone(text)
        if not phone:
            dispatcher.utter_message(text=PHONE_HELP)
            return {"bb_phone": None}
        return {"bb_phone": phone}

    def validate_bb_name(self, value, dispatcher, tracker, domain):
        return take_name(dispatcher, tracker, str(value or "").strip())

    def validate_bb_date(self, value, dispatcher, tracker, domain):
        text = str(value or "").strip()
        if answered_a_question(dispatcher, tracker, text):
            return {"bb_date": None}
        instead = yes_or_no_instead(dispatcher, text, "bb_date", ASK_AGAIN["bb_date"])
        if instead:
            return instead
        result = booking.parse_date(text, today())
        if result.date is None:
            dispatcher.utter_message(text=result.error or "日付が分かりませんでした。ボタンから選ぶか、「12月3日」のように教えてください。")
            return {"bb_date": None}
        ward = tracker.get_slot("bb_ward")
        if not ward:
            return {"bb_date": result.date.isoformat(), "bb_date_asked": None}
        return settle_date(dispatcher, ward, result.date, None)

    def validate_bb_confirm(self, value, dispatcher, tracker, domain):
        if value in BOOKING_FIELDS:  # 「修正する」 → which part: that question is asked again
            slot = BOOKING_FIELDS[value]
            extra = ({"bb_item_list": None} if value == "items" else {"bb_ward": None, "bb_house_asked": None}
                     if value == "address" else {"bb_date_asked": None} if value == "date" else {})
            return {"bb_confirm": None, slot: None, **extra}
        if value not in ("yes", "no"):
            return {"bb_confirm": None}
        return {"bb_confirm": value}


class ActionAskBbAddress(Action):
    """The address question; after an address without 番地, the question for the 番地 (asked once)."""

    def name(self) -> Text:
        return "action_ask_bb_address"

    async def run(self, dispatcher, tracker, domain) -> List[Dict]:
        pending = tracker.get_slot("bb_house_asked")
        if pending:
            dispatcher.utter_message(text=f"「{pending['address']}」の{HOUSE_ASK}")
        else:
            dispatcher.utter_message(response="utter_ask_bb_address")
        return []


class ActionAskBbDate(Action):
    """The next free collection dates for the address as quick replies (and the LINE date picker)."""

    def name(self) -> Text:
        return "action_ask_bb_date"

    async def run(self, dispatcher, tracker, domain) -> List[Dict]:
        ward = tracker.get_slot("bb_ward")
        dates = booking.available_dates(ward, today(), count=5)
        if not dates:
            dispatcher.utter_message(text=f"{ward}で申し込める日が近くにありません。{CALL_CENTER}へお問い合わせください。")
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        dispatcher.utter_message(
            text="収集日を選んでください（ほかの日は「12月3日」のように入力できます）。",
            buttons=[button(day_label(d), '/choose_date{"date": "%s"}' % d.isoformat()) for d in dates],
            json_message={"datetimepicker": {"label": "日付を選ぶ", "data": "/choose_date",
                                             "min": dates[0].isoformat(),
                                             "max": (today() + timedelta(days=60)).isoformat()}},
        )
        return []


def summary(slots: Dict[str, Any]) -> str:
    name = slots.get("bb_name")
    return "\n".join([
        "【申し込み内容】",
        items_text(slots["bb_item_list"]),
        f"手数料の合計：{total_of(slots['bb_item_list']):,}円",
        f"収集日：{day_label(date.fromisoformat(slots['bb_date']))}" + (
            f"（ご希望の{day_label(date.fromisoformat(slots['bb_date_asked']))}は申し込めないため）"
            if slots.get("bb_date_asked") else ""),
        f"住所：{slots['bb_address']}",
        f"電話番号：{slots['bb_phone']}" + (f"\nお名前：{name}" if name and name != "-" else ""),
    ])


class ActionAskBbConfirm(Action):
    def name(self) -> Text:
        return "action_ask_bb_confirm"

    async def run(self, dispatcher, tracker, domain) -> List[Dict]:
        dispatcher.utter_message(text=summary(tracker.current_slot_values()) + "\nこの内容で申し込みますか？",
                                 buttons=CONFIRM_BUTTONS)
        return []


BOOKING_SLOTS = ["bb_items", "bb_item_list", "bb_address", "bb_ward", "bb_town", "bb_area", "bb_phone", "bb_name",
                 "bb_date", "bb_confirm", "bb_house_asked", "bb_date_asked"]


def put_out_text(total: int) -> str:
    # REVIEW: how to put 大型ごみ out in Sapporo (to be checked by the city's 大型ごみ担当).
    return (f"大型ごみ処理券（シール）を合計{total:,}円分、取扱店（コンビニ・スーパーなど）でお買い求めください。"
            "処理券に受付番号を書いて、品目ごとに見える所に貼ってください。"
            "収集日の朝8時30分までに、申し込みの住所の決められた場所に出してください。")


class ActionSubmitBooking(Action):
    """「はい」: the booking is made (once, however often the confirmation arrives) and the receipt shown."""

    def name(self) -> Text:
        return "action_submit_booking"

    async def run(self, dispatcher, tracker, domain) -> List[Dict]:
        slots = tracker.current_slot_values()
        reset = [SlotSet(s, None) for s in BOOKING_SLOTS]
        if slots.get("bb_confirm") != "yes":
            dispatcher.utter_message(response="utter_booking_cancelled_form")
            return reset
        request = booking.BookingRequest(
            items=[booking.BookedItem(i["name"], i["quantity"], i["fee"]) for i in slots["bb_item_list"]],
            ward=slots["bb_ward"], area=None if slots.get("bb_area") in (None, "-") else slots["bb_area"],
            town=slots["bb_town"], address=slots["bb_address"],
            name=None if slots.get("bb_name") in (None, "-") else slots["bb_name"], phone=slots["bb_phone"],
            day=date.fromisoformat(slots["bb_date"]), owner_ref=owner_ref(tracker), channel=channel_of(tracker))
        # One booking per filled-in form: a double tap or a redelivered event finds the same key.
        key = hashlib.sha256(f"{tracker.sender_id}|{form_started_at(tracker)}".encode()).hexdigest()[:32]
        try:
            made = booking.store().book(request, key)
        except booking.TooManyOpenBookings as exc:  # another chat or a double form was quicker
            say_open_limit(dispatcher, tracker, exc)
            return reset
        except booking.DayFull:
            dispatcher.utter_message(text=f"申し訳ありません。{day_label(request.day)}はちょうど受付がいっぱいになりました。別の日を選んでください。")
            return [SlotSet("bb_date", None), SlotSet("bb_confirm", None), FollowupAction("bulky_booking_form")]
        except booking.NotBookable as exc:
            dispatcher.utter_message(text=exc.reason)
            return [SlotSet("bb_date", None), SlotSet("bb_confirm", None), FollowupAction("bulky_booking_form")]
        dispatcher.utter_message(
            text=f"申し込みを受け付けました。\n受付番号：{made.receipt_no}\n収集日：{day_label(made.day)}\n"
                 f"手数料の合計：{made.total:,}円\n{put_out_text(made.total)}\n"
                 f"変更・キャンセルは{CHANGE_DEADLINE_TEXT}まで、このチャットでできます。",
            json_message=None,
        )
        if channel_of(tracker) == "line":
            dispatcher.utter_message(json_message={"flex": receipt_flex(made)})
            # The reminder can only be pushed on LINE; offered once the booking is made (ActionManageBooking
            # reads the answer; anything else is routed as usual and the booking keeps no reminder).
            dispatcher.utter_message(text=REMIND_OFFER, buttons=REMIND_BUTTONS)
        return reset + [SlotSet("bm_receipt", made.receipt_no)]


# ------------------------------------------------------------------ the reminder, offered on LINE after the receipt
REMIND_OFFER = "前日にLINEでお知らせしましょうか？"
REMIND_BUTTONS = [button("はい", "/affirm"), button("いいえ", "/deny")]


def reminder_offered(tracker: Tracker) -> bool:
    """Whether the user's latest message came right after the receipt that offered the reminder (LINE)."""
    return right_after_booking(tracker) and [(b.get("title"), b.get("payload")) for b in offered_buttons(tracker)] \
        == [(b["title"], b["payload"]) for b in REMIND_BUTTONS]


_CANCEL_WORDS = re.compile(r"やめ|止め|キャンセル|中止|取り?消|取消|とりけし")


def reminder_answer(tracker: Tracker) -> Optional[bool]:
    """The offer's button tapped, or a typed yes or no to it (「うん」「お願いします」「いらない」: bot/nlu/yes_no.py,
    as an offer: 「大丈夫です」 is neither); None for anything else, which is not an answer to it. 「キャンセル」
    「やっぱりやめます」 right after booking may mean the booking: left to the usual reading (「キャンセルしますか？」)."""
    text = latest_text(tracker)
    if text in ("/affirm", "/deny"):
        return text == "/affirm"
    if text.startswith("/") or _CANCEL_WORDS.search(fold(text)):
        return None
    return read_yes_no(text, "offer")


def form_started_at(tracker: Tracker) -> str:
    """When this booking form began (the timestamp of its activation): the idempotency key's second half."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == "bulky_booking_form":
            return str(event.get("timestamp"))
    return "-"


def receipt_flex(made) -> Dict[str, Any]:
    """The receipt as a LINE Flex message (alt text for notifications and old clients)."""
    rows = [{"type": "text", "text": f"{i.name} ×{i.quantity}", "size": "sm", "wrap": True} for i in made.items]
    return {
        "altText": f"大型ごみ 受付番号 {made.receipt_no}",
        "contents": {"type": "bubble", "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "text", "text": "大型ごみ 受付完了", "weight": "bold", "size": "lg"},
            {"type": "text", "text": f"受付番号 {made.receipt_no}", "weight": "bold", "size": "xl"},
            {"type": "text", "text": f"収集日 {day_label(made.day)}", "size": "md"},
            *rows,
            {"type": "text", "text": f"処理券 合計 {made.total:,}円", "weight": "bold"},
        ]}},
    }


# ------------------------------------------------------------------ after booking: check, change, cancel
def booking_text(b) -> str:
    lines = [f"受付番号：{b.receipt_no}", f"収集日：{day_label(b.day)}", f"住所：{b.address}",
             *[f"・{i.name} ×{i.quantity}" for i in b.items], f"手数料の合計：{b.total:,}円"]
    if b.status != "booked":
        lines.insert(0, "（キャンセル済み）")
    return "\n".join(lines)


def manage_payload(action: str, receipt: str, **extra: str) -> str:
    entities = ", ".join([f'"bm_action": "{action}"', f'"receipt": "{receipt}"',
                          *[f'"{k}": "{v}"' for k, v in extra.items()]])
    return "/manage_booking{%s}" % entities


class ValidateBookingLookupForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_booking_lookup_form"

    def validate_bm_receipt(self, value, dispatcher, tracker, domain):
        receipt = booking.normalize_receipt(str(value or ""))
        if not receipt:
            dispatcher.utter_message(text="受付番号は「K7M2-9QXA」のような8けたの英数字です。もう一度教えてください。")
            return {"bm_receipt": None}
        return {"bm_receipt": receipt}

    def validate_bm_phone(self, value, dispatcher, tracker, domain):
        phone = booking.validate_phone(str(value or ""))
        if not phone:
            dispatcher.utter_message(text="電話番号の形が正しくないようです。申し込みのときの番号を教えてください。")
            return {"bm_phone": None}
        return {"bm_phone": phone}


class ValidateBookingItemsForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_booking_items_form"

    @city_data_required
    async def run(self, dispatcher, tracker, domain):
        return await super().run(dispatcher, tracker, domain)

    def validate_bm_items(self, value, dispatcher, tracker, domain):
        results = booking.parse_items(str(value or ""))
        lines = describe_refusals(results)
        ok = [r for r in results if r.status == "ok"]
        problem = booking.validate_limits(results, booking.fee_table().limits) if ok else None
        if lines or problem or not ok:
            dispatcher.utter_message(text="\n".join(lines + ([problem] if problem else []) +
                                                    ["新しい品目と数を、もう一度まとめて教えてください。"]))
            return {"bm_items": None}
        return {"bm_items": str(value)}


MANAGE_ACTIONS = {"check", "cancel", "cancel_confirmed", "change_date", "change_items"}


def infer_action(text: str) -> str:
    """What the citizen wants when the NLU found no ``bm_action`` entity (「大型ごみの収集日を変更したい」)."""
    if re.search(r"キャンセル|取り消|取消|やめ|取りやめ|(?:なし|無し)に(?:し|して)", text):
        return "cancel"
    if re.search(r"(日|日付|日にち|曜).*(変|ずら|延期)|(変|ずら).*(日|日付|日にち)", text):
        return "change_date"
    if re.search(r"(品目|物|もの|追加|減ら)", text) and re.search(r"変|追加|減ら|増や", text):
        return "change_items"
    return "check"


# What the NLU may make of a typed answer to a question of action_manage_booking (data/rules/booking.yml sends
# these back to it): when the words answer nothing it asked, it does what the intent's own rule does.
ELSEWHERE_RESPONSES = {"affirm": "utter_menu", "deny": "utter_menu", "ask_capabilities": "utter_menu",
                       "stop": "utter_stopped", "greet": "utter_greet", "thank": "utter_thank",
                       "goodbye": "utter_goodbye"}
KEEP_DATE = re.compile(r"変えない|かえない|変更しない|変更なし|そのまま|やめ|止め")
Answer = Union[None, Dict[str, str], List[Dict]]


def about_the_booking(text: str) -> bool:
    """「やっぱり予約をキャンセルしたい」 right after talking about a booking is about it, whatever the NLU (or
    the front door, which cannot tell a 大型ごみ booking from another 予約 in these words) made of it."""
    return (not text.startswith("/") and infer_action(text) != "check"
            and re.search(r"予約|申し?込|収集日|品目|受付", text) is not None)


def right_after_booking(tracker: Tracker) -> bool:
    """Whether the user's latest message came right after a booking was made (data/rules/booking.yml sends
    what the NLU could not place there to action_manage_booking)."""
    return action_before_latest_message(tracker) == "action_submit_booking"


def action_before_latest_message(tracker: Tracker) -> Optional[str]:
    """The last action (not action_listen) that ran before the user's latest message, if it came after that
    message's predecessor; None when the user spoke twice without an action between."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


def about_the_new_booking(text: str) -> bool:
    """「やっぱりキャンセルで」「今の予約なしにして」「日にちを変えたい」 right after booking: about that booking
    (a bare 「やめる」 is not: nothing is going on to stop)."""
    if text.startswith("/") or infer_action(text) == "check":
        return False
    return about_the_booking(text) or not re.fullmatch(r"(?:やめ|止め)(?:る|ます)?", fold(text))


def asked_by_manage_booking(tracker: Tracker) -> bool:
    """Whether the user's latest message came right after this action spoke (a typed answer to its question,
    routed back here by data/rules/booking.yml), not after a lookup form or another action."""
    return tracker.latest_action_name == "action_listen" \
        and action_before_latest_message(tracker) == "action_manage_booking"


class ActionManageBooking(Action):
    """Check, change (date or items) or cancel a booking: found from the same chat user, or by receipt
    number + phone. Changes and cancellations are possible until the deadline (common/booking). Right after
    the receipt on LINE it also takes the answer to the reminder offered with it (:meth:`set_reminder`).

    Its questions (which booking, what to do with it, the new date, 「キャンセルしますか？」) have buttons; a
    typed answer is read against the buttons it showed (:meth:`typed_answer`): a title, a yes or no
    (bot/nlu/yes_no.py), a date, a receipt number."""

    def name(self) -> Text:
        return "action_manage_booking"

    async def run(self, dispatcher, tracker, domain) -> List[Dict]:
        store = booking.store()
        text = tracker.latest_message.get("text") or ""
        chosen: Dict[str, str] = {}
        if reminder_offered(tracker):
            answer = reminder_answer(tracker)
            if answer is not None and self.set_reminder(dispatcher, store, tracker.get_slot("bm_receipt"), answer):
                return []
        if right_after_booking(tracker) and latest_intent(tracker) in ("affirm", "deny") and not about_the_booking(text):
            return await self.not_about_bookings(dispatcher, tracker, domain)  # 「はい」 with no question: the menu
        if right_after_booking(tracker) and latest_intent(tracker) != "manage_booking" \
                and not about_the_new_booking(text):
            return await self.not_about_bookings(dispatcher, tracker, domain)
        if asked_by_manage_booking(tracker):
            answer = self.typed_answer(dispatcher, tracker, text)
            if isinstance(answer, list):
                return answer
            chosen = answer or {}
            if not chosen and latest_intent(tracker) not in ("manage_booking", "choose_date") \
                    and not about_the_booking(text):
                return await self.not_about_bookings(dispatcher, tracker, domain)
        typed = infer_action(text) if not text.startswith("/") else None
        entity = next(tracker.get_latest_entity_values("bm_action"), None)
        if entity not in MANAGE_ACTIONS:  # DIET may return the raw words (「変更」) instead of a known value
            entity = None
        action = (chosen.get("bm_action") or entity or (typed if typed != "check" else None)
                  or tracker.get_slot("bm_action") or "check")
        receipt = booking.normalize_receipt(chosen.get("receipt") or next(tracker.get_latest_entity_values("receipt"), None)
                                            or tracker.get_slot("bm_receipt") or "")
        events: List[Dict] = [SlotSet("bm_action", action)]
        try:
            found = self.find(store, tracker, receipt)
        except booking.LookupLocked as exc:
            dispatcher.utter_message(text=lookup_locked_text(exc))
            return events + [SlotSet("bm_receipt", None), SlotSet("bm_phone", None)]
        if found is None:
            if receipt and tracker.get_slot("bm_phone"):
                dispatcher.utter_message(text=LOOKUP_NOT_FOUND)
                return events + [SlotSet("bm_receipt", None), SlotSet("bm_phone", None)]
            mine = store.active_for_owner(owner_ref(tracker))
            if len(mine) == 1 and not receipt:
                found = mine[0]
            elif len(mine) > 1 and not receipt:
                dispatcher.utter_message(text="どの申し込みですか？",
                                         buttons=[button(f"{day_label(b.day)} {b.receipt_no}",
                                                         manage_payload(action, b.receipt_no)) for b in mine[:5]])
                return events
            else:
                locked = store.lookup_locked_until(owner_ref(tracker), receipt or None, now=now_jst())
                if locked:  # said before the receipt number and the phone are typed in vain
                    dispatcher.utter_message(text=lookup_locked_text(booking.LookupLocked(locked)))
                    return events + [SlotSet("bm_receipt", None), SlotSet("bm_phone", None)]
                return events + [FollowupAction("booking_lookup_form")]
        day = chosen.get("date") or next(tracker.get_latest_entity_values("date"), None)
        return events + self.act(dispatcher, tracker, store, found, action, day)

    @staticmethod
    def set_reminder(dispatcher, store, receipt: Optional[str], remind: bool) -> bool:
        """The answer to the reminder offered with the receipt, on the stored booking (gateway/jobs/reminders.py
        pushes it the day before); False when the booking is gone (cancelled meanwhile)."""
        made = store.set_remind(receipt, remind, now=now_jst()) if receipt else None
        if made is None:
            return False
        if remind:
            dispatcher.utter_message(text=f"承知しました、{day_label(made.day - timedelta(days=1))}にこのLINEでお知らせします。")
        else:
            dispatcher.utter_message(text="承知しました、前日のお知らせはお送りしません。")
        return True

    # ------------------------------------------------------------------ typed answers
    def typed_answer(self, dispatcher, tracker, text: str) -> Answer:
        """The typed (or tapped 「やめない」) answer to this action's last question: the chosen button's
        entities ({"bm_action", "receipt", "date"}), events when it is answered here, or None."""
        offered = [(b, parse_payload(str(b.get("payload", "")))) for b in offered_buttons(tracker)]
        offered = [(b, p["entities"]) for b, p in offered if p]
        if not offered:
            return None
        buttons = [b for b, _ in offered]
        actions = {e.get("bm_action") for _, e in offered}
        receipts = list(dict.fromkeys(e["receipt"] for _, e in offered if e.get("receipt")))
        typed = not text.startswith("/")
        if "cancel_confirmed" in actions:  # 「この申し込みをキャンセルしますか？」
            receipt = receipts[0]
            answer = read_yes_no(text, "cancel") if typed else (False if text == "/deny" else None)
            if answer is False:
                dispatcher.utter_message(text=f"キャンセルはしていません。受付番号 {receipt} の申し込みはそのままです。")
                return [SlotSet("bm_action", None)]
            if answer:
                return {"bm_action": "cancel_confirmed", "receipt": receipt}
            choice = typed_choice(text, buttons)
            if choice:
                return parse_payload(choice["payload"])["entities"]
            if typed and latest_intent(tracker) in ("stop", "affirm", "deny", "nlu_fallback"):  # 「やめる」: which?
                dispatcher.utter_message(text="キャンセルするときは「キャンセルする」、しないときは「やめない」と送ってください。",
                                         buttons=buttons)
                return [SlotSet("bm_receipt", receipt), SlotSet("bm_action", "cancel")]
            return None
        if not typed:
            return None
        choice = typed_choice(text, buttons)  # 「キャンセルする」「収集日を変える」, a date or receipt as on its button
        if choice:
            return parse_payload(choice["payload"])["entities"]
        if any(e.get("date") for _, e in offered):  # the new collection date
            return self.typed_date(dispatcher, tracker, text, receipts[0], buttons)
        if len(receipts) > 1:  # 「どの申し込みですか？」
            return self.typed_booking(text, offered)
        if {"change_date", "change_items", "cancel"} <= actions:  # what to do with the booking shown
            answer = read_yes_no(text)
            if answer is False:
                dispatcher.utter_message(text="承知しました。ほかにご用件があればどうぞ。")
                return [SlotSet("bm_action", None)]
            if answer:
                dispatcher.utter_message(text="変更やキャンセルは、「収集日を変える」「品目を変える」「キャンセルする」のように送ってください。",
                                         buttons=buttons)
                return []
        return None

    @staticmethod
    def typed_date(dispatcher, tracker, text: str, receipt: str, buttons) -> Answer:
        """「12月3日」「3日」「あさって」「来週の水曜日」 at the new-date question (any bookable day, not only the
        buttons'); 「変えない」 keeps the date."""
        result = booking.parse_date(text, today())
        if result.date is not None:
            return {"bm_action": "change_date", "receipt": receipt, "date": result.date.isoformat()}
        if result.error != NOT_UNDERSTOOD:
            dispatcher.utter_message(text=result.error, buttons=buttons)
            return [SlotSet("bm_receipt", receipt), SlotSet("bm_action", "change_date")]
        if read_yes_no(text) is False or KEEP_DATE.search(fold(text)) or latest_intent(tracker) == "stop":
            made = booking.store().get(receipt)
            kept = f"（{day_label(made.day)}のままです）" if made else ""
            dispatcher.utter_message(text=f"収集日は変更していません{kept}。")
            return [SlotSet("bm_action", None)]
        return None

    @staticmethod
    def typed_booking(text: str, offered) -> Optional[Dict[str, str]]:
        """「K7M2-9QXA」 (any case, with or without the hyphen) or 「1月17日」 at 「どの申し込みですか？」."""
        receipt = booking.normalize_receipt(text)
        day = booking.parse_date(text, today()).date
        for button_, entities in offered:
            if receipt and entities.get("receipt") == receipt:
                return entities
        matching = [e for b, e in offered if day and fold(day_label(day)) in fold(b.get("title", ""))]
        return matching[0] if len(matching) == 1 else None

    async def not_about_bookings(self, dispatcher, tracker, domain) -> List[Dict]:
        """A message after this action that answers none of its questions: what the intent's own rule does."""
        intent = latest_intent(tracker)
        if intent in ("nlu_fallback", "out_of_scope"):
            from actions.fallback import ActionFallback
            return await ActionFallback().run(dispatcher, tracker, domain)
        if intent == "menu_faq":
            from actions.faq import ActionFaq
            return await ActionFaq().run(dispatcher, tracker, domain)
        if intent == "ask_garbage_category":
            from actions.garbage import ActionGarbageCategory
            return await ActionGarbageCategory().run(dispatcher, tracker, domain)
        if intent in ("ask_collection_day", "inform_address"):
            return [FollowupAction("collection_day_form")]
        dispatcher.utter_message(response=ELSEWHERE_RESPONSES.get(intent, "utter_menu"))
        return []

    # ------------------------------------------------------------------ finding and acting
    @staticmethod
    def find(store, tracker: Tracker, receipt: str):
        """The chat's own booking, or another's by receipt number + phone under the look-up lock (LookupLocked)."""
        if not receipt:
            return None
        made = store.get(receipt)
        if made and made.owner_ref == owner_ref(tracker):
            return made
        phone = tracker.get_slot("bm_phone")
        return store.lookup(receipt, phone, owner_ref(tracker), now=now_jst()) if phone else None

    def act(self, dispatcher, tracker, store, made, action: str, chosen: Optional[str] = None) -> List[Dict]:
        done = [SlotSet("bm_action", None), SlotSet("bm_items", None)]
        if action == "check" or made.status != "booked":
            buttons = [] if made.status != "booked" else [
                button("収集日を変える", manage_payload("change_date", made.receipt_no)),
                button("品目を変える", manage_payload("change_items", made.receipt_no)),
                button("キャンセルする", manage_payload("cancel", made.receipt_no))]
            dispatcher.utter_message(text=booking_text(made), buttons=buttons or None)
            return done
        try:
            if action == "cancel":
                dispatcher.utter_message(text=booking_text(made) + "\nこの申し込みをキャンセルしますか？",
                                         buttons=[button("キャンセルする", manage_payload("cancel_confirmed", made.receipt_no)),
                                                  button("やめない", "/deny")])
                return [SlotSet("bm_receipt", made.receipt_no)]
            if action == "cancel_confirmed":
                store.cancel(made.receipt_no, by="citizen", now=now_jst())
                dispatcher.utter_message(text=f"受付番号 {made.receipt_no} の申し込みをキャンセルしました。")
                return done + [SlotSet("bm_receipt", None)]
            if action == "change_date":
                if chosen and self.change_date(dispatcher, store, made, chosen):
                    return done
                dates = [d for d in booking.available_dates(made.ward, today(), count=5) if d != made.day]
                dispatcher.utter_message(
                    text=f"今の収集日は{day_label(made.day)}です。新しい収集日を選んでください"
                         "（ほかの日は「12月3日」のように入力できます）。",
                    buttons=[button(day_label(d), manage_payload("change_date", made.receipt_no, date=d.isoformat()))
                             for d in dates])
                return [SlotSet("bm_receipt", made.receipt_no), SlotSet("bm_action", "change_date")]
            if action == "change_items":
                text = tracker.get_slot("bm_items")
                if not text:
                    return [SlotSet("bm_receipt", made.receipt_no), SlotSet("bm_action", "change_items"),
                            FollowupAction("booking_items_form")]
                results = [r for r in booking.parse_items(text) if r.status == "ok"]
                changed = store.change_items(made.receipt_no, [booking.BookedItem(r.item_name, r.quantity, r.fee)
                                                               for r in results], now=now_jst())
                dispatcher.utter_message(text="品目を変更しました。\n" + booking_text(changed) + "\n" + put_out_text(changed.total))
                return done
        except booking.PastDeadline:
            dispatcher.utter_message(text=f"変更・キャンセルの期限（{CHANGE_DEADLINE_TEXT}）を過ぎています。{CALL_CENTER}へお電話ください。")
            return done
        dispatcher.utter_message(text=booking_text(made))
        return done

    @staticmethod
    def change_date(dispatcher, store, made, chosen: str) -> bool:
        """Move the booking to ``chosen``; False (and why) when that day cannot be had: the dates are offered again."""
        result = booking.parse_date(chosen, today())
        if result.date is None:
            dispatcher.utter_message(text=result.error or "日付が分かりませんでした。")
            return False
        try:
            changed = store.change_date(made.receipt_no, result.date, now=now_jst())
        except booking.DayFull:
            dispatcher.utter_message(text=f"{day_label(result.date)}は受付がいっぱいです。別の日を選んでください。")
            return False
        except booking.NotBookable as exc:
            dispatcher.utter_message(text=exc.reason)
            return False
        dispatcher.utter_message(text=f"収集日を{day_label(changed.day)}に変更しました（受付番号 {changed.receipt_no}）。")
        return True
