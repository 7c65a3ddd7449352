"""Limits against booking abuse (issue #13): at most N open bookings per phone number and per chat user, counted
in the booking's transaction (two confirmations at once cannot both pass: SQLite and a real PostgreSQL), and the
receipt number + phone look-up locked after M wrong tries, per chat and per receipt number, in the booking database.
Then the dialogue: the real actions on the official data and a real SQLite store say so before the citizen types
everything in vain, and at the confirmation."""

import asyncio
import sys
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from common.booking.config import AbuseLimits, abuse_limits
from common.booking.dates import JST
from common.booking.store import BookingStore, LookupLocked, TooManyOpenBookings, owner_ref
from tests.engine.test_booking_store import DAY, NOW, SCHEDULE, postgres_database, request_for, run_at_once  # noqa: F401

store_module = sys.modules["common.booking.store"]
LIMITS = AbuseLimits(max_open_per_phone=3, max_open_per_conversation=3, lookup_max_failures=5, lookup_lock_minutes=30)
NEXT_DAY = date(2026, 12, 7)  # a Monday: 中央区 collects on Mondays and Thursdays (SCHEDULE), capacity 5 a day


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assistant.db'}"
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    with sa.create_engine(url, future=True).begin() as conn:
        for table in (store_module.bookings, store_module.capacity, store_module.lookup_failures):
            conn.execute(table.delete())


def store_with(url, **limits):
    return BookingStore(url, SCHEDULE, limits=AbuseLimits(**{**LIMITS.__dict__, **limits}))


# ---------------------------------------------------------------------------------------------- open bookings
def test_at_most_three_open_bookings_per_phone_number(url):
    store = store_with(url, max_open_per_conversation=0)
    made = [store.book(request_for(owner=f"line:U{i}"), f"k{i}", NOW) for i in range(3)]  # three chats, one phone
    with pytest.raises(TooManyOpenBookings) as refused:
        store.book(request_for(owner="line:U9", phone="０９０ー１２３４ー５６７８"), "k3", NOW)
    assert (refused.value.by, refused.value.count, refused.value.limit) == ("phone", 3, 3)
    assert "3件" in refused.value.message
    with pytest.raises(TooManyOpenBookings):  # what the dialogue asks when the phone number is given
        store.check_open_limits(phone="090-1234-5678", now=NOW)
    store.check_open_limits(phone="090-9999-0000", now=NOW)  # another number may book
    store.book(request_for(owner="line:U9", phone="090-9999-0000"), "k4", NOW)
    # the same confirmation again (a double tap) is answered with its booking, not refused
    assert store.book(request_for(owner="line:U2"), "k2", NOW) == made[2]
    # a cancelled booking is no longer open: the number may book again
    store.cancel(made[0].receipt_no, by="citizen", now=NOW)
    store.book(request_for(owner="line:U9"), "k5", NOW)
    assert len(store.list()) == 4


def test_at_most_three_open_bookings_per_chat_user(url):
    store = store_with(url, max_open_per_phone=0)
    for i in range(3):
        store.book(request_for(owner="line:Umany", phone=f"090-1111-000{i}"), f"c{i}", NOW)
    with pytest.raises(TooManyOpenBookings) as refused:
        store.book(request_for(owner="line:Umany", phone="090-1111-0009"), "c3", NOW)
    assert (refused.value.by, refused.value.count, refused.value.limit) == ("conversation", 3, 3)
    with pytest.raises(TooManyOpenBookings):  # what the dialogue asks when the form starts
        store.check_open_limits(owner=owner_ref("line:Umany"), now=NOW)
    store.book(request_for(owner="line:Uother", phone="090-1111-0009"), "c4", NOW)


def test_collected_bookings_are_no_longer_open(url):
    store = store_with(url)
    for i in range(3):
        store.book(request_for(), f"o{i}", NOW)  # one chat, one phone, collected on Thursday 12-03
    with pytest.raises(TooManyOpenBookings):
        store.book(request_for(day=NEXT_DAY), "o3", NOW)
    after_collection = datetime(2026, 12, 4, 9, 0, tzinfo=JST)
    store.check_open_limits(phone="090-1234-5678", owner=owner_ref("line:U123"), now=after_collection)
    assert store.book(request_for(day=NEXT_DAY), "o3", after_collection).day == NEXT_DAY


def test_the_limits_are_settings_and_zero_switches_one_off(url):
    store = store_with(url, max_open_per_phone=1, max_open_per_conversation=0)
    store.book(request_for(owner="line:Ua"), "s0", NOW)
    with pytest.raises(TooManyOpenBookings):
        store.book(request_for(owner="line:Ub"), "s1", NOW)
    off = BookingStore(url, SCHEDULE, limits=AbuseLimits.off())
    off.book(request_for(owner="line:Ub"), "s1", NOW)
    assert len(off.list()) == 2


@pytest.mark.parametrize("by", ["phone", "conversation"])
def test_two_confirmations_at_once_at_the_limit_make_exactly_one_booking(url, by):
    store = store_with(url)
    for i in range(2):
        store.book(request_for(owner="line:Urace" if by == "conversation" else f"line:U{i}",
                               phone=f"090-2222-000{i}" if by == "conversation" else "090-1234-5678"), f"e{i}", NOW)

    def confirm(i):
        return store.book(request_for(owner="line:Urace" if by == "conversation" else f"line:Ux{i}",
                                      phone=f"090-3333-000{i}" if by == "conversation" else "090-1234-5678",
                                      day=NEXT_DAY), f"race-{i}", NOW)

    results = run_at_once(2, confirm)
    booked = [r for r in results if isinstance(r, store_module.Booking)]
    refused = [r for r in results if isinstance(r, TooManyOpenBookings)]
    assert len(booked) == 1 and len(refused) == 1, results
    assert (refused[0].by, refused[0].count) == (by, 3)
    assert len(store.list()) == 3


def test_many_confirmations_at_once_never_pass_the_limit(url):
    store = store_with(url)
    results = run_at_once(12, lambda i: store.book(
        request_for(owner=f"line:Uflood{i}", day=(DAY, NEXT_DAY)[i % 2]), f"flood-{i}", NOW))
    booked = [r for r in results if isinstance(r, store_module.Booking)]
    refused = [r for r in results if isinstance(r, TooManyOpenBookings)]
    assert len(booked) == 3 and len(refused) == 9, results
    assert len(store.list()) == 3


# ---------------------------------------------------------------------------------------------- the look-up lock
def failures(store):
    with store.engine.connect() as conn:
        return conn.execute(sa.select(store_module.lookup_failures.c.key)).scalars().all()


def test_five_wrong_tries_lock_the_chat_and_the_receipt_number(url):
    store = store_with(url)
    made = store.book(request_for(), "b1", NOW)
    chat = owner_ref("web:guesser")
    for minute in range(4):
        assert store.lookup(made.receipt_no, f"090-0000-000{minute}", chat, NOW + timedelta(minutes=minute)) is None
    with pytest.raises(LookupLocked) as locked:  # the fifth wrong try locks, and says so
        store.lookup(made.receipt_no, "090-0000-0009", chat, NOW + timedelta(minutes=4))
    assert locked.value.just_locked and locked.value.until == NOW + timedelta(minutes=30)
    assert "11月20日（金）10時30分" in locked.value.message
    # while locked nothing is checked, not even the right pair, and nothing more is counted
    with pytest.raises(LookupLocked) as again:
        store.lookup(made.receipt_no, "090-1234-5678", chat, NOW + timedelta(minutes=5))
    assert not again.value.just_locked and again.value.until == NOW + timedelta(minutes=30)
    assert len(failures(store)) == 10  # 5 tries × (the chat, the receipt number); no phone number is stored
    assert store.lookup_locked_until(chat, now=NOW + timedelta(minutes=5)) == NOW + timedelta(minutes=30)
    # the chat is locked for any receipt number, the receipt number for any chat (guessing from many chats)
    other = store.book(request_for(owner="line:Uother", phone="090-5555-6666"), "b2", NOW)
    with pytest.raises(LookupLocked):
        store.lookup(other.receipt_no, "090-5555-6666", chat, NOW + timedelta(minutes=6))
    with pytest.raises(LookupLocked):
        store.lookup(made.receipt_no, "090-1234-5678", owner_ref("web:someone-else"), NOW + timedelta(minutes=6))
    assert store.lookup(other.receipt_no, "090-5555-6666", owner_ref("web:someone-else"),
                        NOW + timedelta(minutes=6)) == other
    # 30 minutes after the first of the five, the right pair is found again
    assert store.lookup_locked_until(chat, made.receipt_no, NOW + timedelta(minutes=30)) is None
    assert store.lookup(made.receipt_no, "090-1234-5678", chat, NOW + timedelta(minutes=30)) == made


def test_guessing_one_receipt_number_from_many_chats_locks_it(url):
    store = store_with(url)
    made = store.book(request_for(), "b1", NOW)
    for i in range(4):
        assert store.lookup(made.receipt_no, f"090-0000-000{i}", owner_ref(f"web:chat{i}"), NOW) is None
    with pytest.raises(LookupLocked):
        store.lookup(made.receipt_no, "090-0000-0009", owner_ref("web:chat4"), NOW)
    with pytest.raises(LookupLocked):
        store.lookup(made.receipt_no, "090-1234-5678", owner_ref("web:chat5"), NOW)
    # each of those chats may still look up another booking
    other = store.book(request_for(owner="line:Uother", phone="090-5555-6666"), "b2", NOW)
    assert store.lookup(other.receipt_no, "090-5555-6666", owner_ref("web:chat0"), NOW) == other


def test_a_right_look_up_resets_the_chats_count(url):
    store = store_with(url)
    made = store.book(request_for(), "b1", NOW)
    chat = owner_ref("web:forgetful")
    for i in range(4):  # four receipt numbers mistyped (none of them exists)
        assert store.lookup(f"AAAA-AAA{i + 2}", "090-1234-5678", chat, NOW) is None
    assert store.lookup(made.receipt_no, "090-1234-5678", chat, NOW) == made
    for i in range(4):  # four more: without the reset the first of them would have locked the chat
        assert store.lookup(f"BBBB-BBB{i + 2}", "090-1234-5678", chat, NOW) is None
    with pytest.raises(LookupLocked):
        store.lookup("CCCC-CCC2", "090-1234-5678", chat, NOW)


def test_the_window_moves_with_the_tries(url):
    store = store_with(url)
    chat = owner_ref("web:slow-guesser")
    minutes = [0, 10, 20, 25]
    for minute in minutes:
        store.lookup(f"DDDD-DD{minute + 22}", "090-1234-5678", chat, NOW + timedelta(minutes=minute))
    with pytest.raises(LookupLocked) as locked:
        store.lookup("DDDD-DD99", "090-1234-5678", chat, NOW + timedelta(minutes=28))
    assert locked.value.until == NOW + timedelta(minutes=30)  # when the try at 0 is 30 minutes old
    # at 12:30 one try more; wrong again, it is locked until the try at 10 is 30 minutes old
    with pytest.raises(LookupLocked) as locked:
        store.lookup("EEEE-EE22", "090-1234-5678", chat, NOW + timedelta(minutes=30))
    assert locked.value.just_locked and locked.value.until == NOW + timedelta(minutes=40)
    # tries that old are deleted (the table stays small)
    store.lookup("FFFF-FF22", "090-1234-5678", owner_ref("web:later"), NOW + timedelta(hours=2))
    assert len(failures(store)) == 2


def test_look_ups_at_once_count_every_try_and_never_pass_the_limit(url):
    store = store_with(url)
    made = store.book(request_for(), "b1", NOW)
    chat = owner_ref("web:script")
    results = run_at_once(16, lambda i: store.lookup(made.receipt_no, f"090-0000-{i:04d}", chat, NOW))
    assert results.count(None) == 4, results
    locked = [r for r in results if isinstance(r, LookupLocked)]
    assert len(locked) == 12 and sum(r.just_locked for r in locked) == 1
    assert len(failures(store)) == 10


def test_without_a_lookup_limit_the_look_up_is_plain(url):
    store = store_with(url, lookup_max_failures=0)
    made = store.book(request_for(), "b1", NOW)
    for i in range(10):
        assert store.lookup(made.receipt_no, "090-0000-0000", owner_ref("web:x"), NOW) is None
    assert store.lookup(made.receipt_no, "090-1234-5678", owner_ref("web:x"), NOW) == made
    assert failures(store) == []


def test_settings_from_the_environment():
    assert abuse_limits({}) == LIMITS
    assert abuse_limits({"BOOKING_MAX_OPEN_PER_PHONE": "5", "BOOKING_MAX_OPEN_PER_CONVERSATION": "0",
                         "BOOKING_LOOKUP_MAX_FAILURES": " 10 ", "BOOKING_LOOKUP_LOCK_MINUTES": "60"}) == AbuseLimits(5, 0, 10, 60)
    for variable, value in (("BOOKING_MAX_OPEN_PER_PHONE", "three"), ("BOOKING_LOOKUP_LOCK_MINUTES", "0"),
                            ("BOOKING_MAX_OPEN_PER_CONVERSATION", "-1")):
        with pytest.raises(ValueError, match=variable):
            abuse_limits({variable: value})


# ---------------------------------------------------------------------------------------------- the dialogue
DOMAIN = {"slots": {}, "forms": {"bulky_booking_form": {"required_slots": []}}}
SOFA = [{"name": "ソファー", "quantity": 1, "fee": 1000}]
FILLED = {"bb_items": "ソファー", "bb_item_list": SOFA, "bb_address": "中央区南27条西10丁目1-5", "bb_ward": "中央区",
          "bb_town": "南27条西", "bb_area": "-", "bb_name": "-"}


@pytest.fixture(scope="module")
def dialogue(official_city_data):
    """The official data, a fresh SQLite store, the limits at their documented defaults (set as the environment)."""
    patch = pytest.MonkeyPatch()
    for variable, value in (("BOOKING_MAX_OPEN_PER_PHONE", "3"), ("BOOKING_MAX_OPEN_PER_CONVERSATION", "3"),
                            ("BOOKING_LOOKUP_MAX_FAILURES", "5"), ("BOOKING_LOOKUP_LOCK_MINUTES", "30")):
        patch.setenv(variable, value)
    yield official_city_data
    patch.undo()


def book_directly(sender, phone, index=0):
    """A booking made earlier (by this chat or another), straight in the store the actions use."""
    from common import booking
    from common.clock import today
    day = booking.available_dates("中央区", today(), count=5)[index % 5]
    request = booking.BookingRequest([booking.BookedItem("ソファー", 1, 1000)], "中央区", None, "南27条西",
                                     "中央区南27条西10丁目1-5", None, phone, day, booking.owner_ref(sender), "web")
    return booking.store().book(request, f"{sender}|{phone}|{index}")


def form_turn(sender, text, slots, requested, intent="nlu_fallback", starting=False):
    """One typed message to the booking form's validation, as Rasa runs it: (what was said, the events)."""
    from actions.booking import ValidateBulkyBookingForm
    mapped = {requested: text} if requested and requested != "bb_confirm" else {}
    events = [{"event": "action", "name": "action_listen"},
              {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent}, "entities": []}},
              *[{"event": "slot", "name": k, "value": v} for k, v in mapped.items()],
              {"event": "action", "name": "bulky_booking_form"}]
    t = Tracker(sender, {**slots, **mapped, "requested_slot": requested},
                {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
                 "metadata": {"channel": "web"}},
                events, False, None, {} if starting else {"name": "bulky_booking_form"}, "bulky_booking_form")
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ValidateBulkyBookingForm().run(dispatcher, t, DOMAIN))
    return dispatcher.messages, result


def ends_the_form(events):
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return (slots.get("requested_slot", "unset") is None and all(slots.get(s, "unset") is None for s in FILLED)
            and {"event": "followup", "name": "action_listen"} in [
                {k: e.get(k) for k in ("event", "name")} for e in events])


def test_a_chat_with_three_open_bookings_is_told_when_the_form_starts(dialogue):
    sender = "web:three-already"
    made = [book_directly(sender, f"090-4000-000{i}", i) for i in range(3)]
    said, events = form_turn(sender, "大型ごみを出したい", {}, None, intent="menu_bulky_booking", starting=True)
    assert len(said) == 1, said
    text = said[0]["text"]
    assert "収集前のものがすでに3件" in text and "3件まで" in text and "チャット" in text
    assert "011-222-4894" in text and "です" in text
    assert [b["payload"] for b in said[0]["buttons"]] == [
        '/manage_booking{"bm_action": "check", "receipt": "%s"}' % b.receipt_no for b in made]
    assert ends_the_form(events), events
    # typed instead of tapped (LINE's quick replies vanish): the manage flow's words the text names
    assert "「予約を確認したい」" in text
    said, _ = manage(sender, {}, "予約を確認したい")
    assert said[0] == "どの申し込みですか？"
    # a chat with fewer is asked as before
    said, events = form_turn("web:one-already", "大型ごみを出したい", {}, None, intent="menu_bulky_booking",
                             starting=True)
    assert not said and not ends_the_form(events)


def test_a_phone_number_with_three_open_bookings_is_told_when_it_is_given(dialogue):
    for i in range(3):  # three bookings of this number, from other chats
        book_directly(f"web:family-{i}", "011-600-7000", i)
    slots = {**FILLED, "bb_date": "2025-01-20"}
    said, events = form_turn("web:fourth-chat", "011-600-7000", slots, "bb_phone")
    text = said[-1]["text"]
    assert "この電話番号" in text and "すでに3件" in text and "受付番号と電話番号" in text and "011-222-4894" in text
    assert not said[-1].get("buttons")  # other chats' bookings are never shown here
    assert ends_the_form(events), events
    # typed with other answers, at another question, it is caught too
    said, events = form_turn("web:fourth-chat", "なし、011-600-7000", slots, "bb_name")
    assert "この電話番号" in said[-1]["text"] and ends_the_form(events)
    # another number goes on to the summary
    said, events = form_turn("web:fourth-chat", "011-600-7001", slots, "bb_phone")
    assert not said and ("bb_phone", "0116007001") in [(e.get("name"), e.get("value")) for e in events]
    assert ("requested_slot", "bb_confirm") in [(e.get("name"), e.get("value")) for e in events]


def test_the_confirmation_is_refused_politely_when_the_limit_was_reached_meanwhile(dialogue):
    from actions.booking import ActionSubmitBooking
    from common import booking
    sender = "web:slow-confirmer"
    slots = {**FILLED, "bb_phone": "09070008000", "bb_confirm": "yes",
             "bb_date": booking.available_dates("中央区", date(2025, 1, 15), count=5)[3].isoformat()}
    for i in range(3):  # meanwhile, from other chats
        book_directly(f"web:meanwhile-{i}", "090-7000-8000", i)
    t = Tracker(sender, slots, {"text": "はい", "intent": {"name": "affirm"}, "entities": [],
                                "metadata": {"channel": "web"}},
                [{"event": "active_loop", "name": "bulky_booking_form", "timestamp": 1736900300.0}], False, None, {},
                "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionSubmitBooking().run(dispatcher, t, DOMAIN))
    assert len(dispatcher.messages) == 1 and "この電話番号" in dispatcher.messages[0]["text"]
    assert "受付番号：" not in dispatcher.messages[0]["text"]
    assert booking.store().active_for_owner(owner_ref(sender)) == []
    assert ("bb_confirm", None) in [(e.get("name"), e.get("value")) for e in events]


def manage(sender, slots, text="/manage_booking", intent="manage_booking"):
    from actions.booking import ActionManageBooking
    t = Tracker(sender, slots, {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
                                "metadata": {"channel": "web"}}, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionManageBooking().run(dispatcher, t, DOMAIN))
    return [m.get("text") or "" for m in dispatcher.messages], events


def test_the_look_up_by_receipt_number_and_phone_locks_after_five_wrong_tries(dialogue):
    from common import booking
    made = book_directly("web:owner-of-it", "090-8100-8200")
    stranger = "web:stranger-guessing"
    for i in range(4):
        said, events = manage(stranger, {"bm_receipt": made.receipt_no, "bm_phone": f"0908100000{i}"})
        assert said == ["その受付番号と電話番号の申し込みが見つかりませんでした。"]
    said, events = manage(stranger, {"bm_receipt": made.receipt_no, "bm_phone": "09081009999"})
    until = booking.store().lookup_locked_until(owner_ref(stranger))
    assert until is not None and len(said) == 1
    assert said[0].startswith("その受付番号と電話番号の申し込みが見つかりませんでした。")
    assert f"{until.hour}時{until.minute:02d}分以降に" in said[0] and "011-222-4894" in said[0]
    assert ("bm_phone", None) in [(e.get("name"), e.get("value")) for e in events]
    # the right pair now gets the lock, not the booking; neither half is said to be the wrong one
    said, _ = manage(stranger, {"bm_receipt": made.receipt_no, "bm_phone": "09081008200"})
    assert "以降に" in said[0] and made.address not in said[0] and "見つかりませんでした" not in said[0]
    assert all("電話番号が" not in s and "受付番号が" not in s for s in said)
    # 「予約を確認したい」 from that chat is told at once, before the receipt number and phone are typed in vain
    said, events = manage(stranger, {}, "予約を確認したい")
    assert "以降に" in said[0]
    assert "booking_lookup_form" not in [e.get("name") for e in events]
    # the receipt number is locked for other chats too: told as soon as it is given, before the phone is asked
    said, events = manage("web:another-chat", {"bm_receipt": made.receipt_no})
    assert "以降に" in said[0] and "booking_lookup_form" not in [e.get("name") for e in events]
    # the owner's own chat needs no look-up and is not locked
    said, _ = manage("web:owner-of-it", {"bm_receipt": made.receipt_no})
    assert made.receipt_no in said[0] and "以降に" not in said[0]
