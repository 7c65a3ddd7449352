"""Garbage questions through the gateway's Socket.IO endpoint, answered from the official data."""

import sqlite3

import pytest

from tests.e2e.conftest import TODAY
from tests.official_data import collection_dates

pytestmark = pytest.mark.e2e


async def test_large_item_gets_category_and_booking_offer(widget):
    reply = await widget.ask("ソファは何ごみ？")
    assert "大型ごみ" in reply["text"] and "ソファー" in reply["text"]
    assert "/menu_bulky_booking" in [q["payload"] for q in reply["quick_replies"]]


async def test_home_appliance_is_not_collected_by_the_city(widget):
    reply = await widget.ask("れいぞうこ")
    assert "家電4品目" in reply["text"]
    assert "ごみステーションには出せません" in reply["text"]


async def test_material_variants_are_asked_with_quick_replies_and_a_choice_answers(widget):
    reply = await widget.ask("ハンガーは何ごみ？")
    titles = [q["title"] for q in reply["quick_replies"]]
    assert "ハンガー（金属製）" in titles and "ハンガー（木製・プラ製）" in titles
    choice = next(q for q in reply["quick_replies"] if q["title"] == "ハンガー（金属製）")
    answer = await widget.ask(choice["payload"])
    assert "燃やせないごみ" in answer["text"]


async def test_unknown_item_is_logged_for_staff(widget, stack):
    reply = await widget.ask("ぺぺろんちーにょまぐなむは何ごみ？")
    assert "見つかりませんでした" in reply["text"]
    db = stack.data_dir / "assistant.db"
    rows = sqlite3.connect(db).execute("select kind, channel from unanswered_questions").fetchall()
    assert ("garbage_item", "web") in rows


async def test_collection_day_in_two_turns_then_a_follow_up(widget):
    ask_ward = await widget.ask("燃やせるごみの日はいつ？")
    assert "白石区" in [q["title"] for q in ask_ward["quick_replies"]]
    ask_town = await widget.ask("白石区")
    assert "町名" in ask_town["text"]
    answer = await widget.ask("本通")
    expected = collection_dates("白石区1", "1", TODAY)
    assert "燃やせるごみ" in answer["text"]
    for day in expected:
        assert day in answer["text"]
    # The area is remembered for the next question in the same conversation.
    follow_up = await widget.ask("びんの日は？")
    for day in collection_dates("白石区1", "8", TODAY):
        assert day in follow_up["text"]


async def test_postcode_in_one_sentence(widget):
    answer = await widget.ask("064-0959 のびんの日")
    for day in collection_dates("中央区5", "8", TODAY):
        assert day in answer["text"]
