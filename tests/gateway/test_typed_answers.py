"""Typed answers at the gateway's button questions (issue #12, "the front door"), through the real gateway process
with the stand-in engine, on the plain HTTP channel the way LINE and the widget reach the router.

The questions with buttons whose payloads the gateway itself answers (gateway/handoff/router.py,
gateway/counseling/desk.py), and what typing instead of tapping must do:

    ENGINE_DOWN + 「担当者と話す」                 the title, or 「はい」 / 「お願いします」 → the general queue
    the engine's fallback + 「担当者と話す」 among others   the title → the queue; 「はい」 alone is no choice
    a worry (NORMAL_RISK) + 「相談員と話す」        the title, or 「はい」 / 「話したい」 → the counseling queue
    a worry only the classifier saw + 「ごみ・市の質問でした」 too   the title, 「ちがう」「ごみの質問です」 → the held
                                                message to the engine after all; 「はい」 still → a counselor
    the engine's counseling menu + 「相談員と話す」  the same
    the intake's age and topic options          「15歳」「中2」「かぞく」「ともだち」, 「いいえ」 to skip
    waiting: 「取り消すときは「キャンセル」と」     「キャンセルします」「取り消してください」 → back to the bot
"""

from __future__ import annotations

import sys
import uuid
from typing import Dict, List

import pytest
import sqlalchemy as sa

from gateway import texts
from tests.gateway.conftest import HTTP, GatewayProcess, free_port

WORRY = "学校でいじめられてる"  # triage: normal (data/counseling/triage.yml's own example)
# a child's garbage question the triage's classifier alone takes for a worry (normal; checked in the tests below)
CLASSIFIER_WORRY = "サングラス ふんでわれた"
FALLBACK = [{"text": "申し訳ありません、うまく理解できませんでした。", "buttons": [
    {"title": "担当者と話す", "payload": "/request_human"}, {"title": "よくある質問", "payload": "/menu_faq"},
    {"title": "ごみの出し方", "payload": "/menu_garbage"}]}]
COUNSELING_MENU = [{"text": "このチャットで相談員と話すこともできます。",
                    "buttons": [{"title": "相談員と話す", "payload": "/request_counselor"}]}]


@pytest.fixture(scope="module")
def gw(engine, tmp_path_factory):
    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("typed"))
    yield process
    process.stop()


@pytest.fixture
def engine_answers(engine, monkeypatch):
    """What the stand-in engine answers to a message, like the real engine's fallback and counseling menu (its
    table of canned replies, in the conftest module pytest loaded)."""
    replies_table = sys.modules[type(engine).__module__].HANDOFF_REPLIES

    def answer(message: str, replies: List[Dict]) -> None:
        monkeypatch.setitem(replies_table, message, replies)
    return answer


class Citizen:
    def __init__(self, gateway: GatewayProcess):
        self.gateway = gateway
        self.sender = uuid.uuid4().hex[:12]
        self.id = f"rest:{self.sender}"

    def say(self, text: str) -> List[Dict]:
        answer = HTTP.post(f"{self.gateway.url}/api/messages", json={"sender": self.sender, "message": text}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["messages"]

    def row(self) -> Dict:
        with sa.create_engine(self.gateway.db_url).connect() as c:
            found = c.execute(sa.text("select * from conversations where id = :id"), {"id": self.id}).one()
        return dict(found._mapping)


def sent_to_engine(engine, citizen: Citizen) -> List[str]:
    return [r["message"] for r in engine.received if r["sender"].startswith(citizen.id)]


@pytest.mark.parametrize("typed", ["担当者と話す", "はい", "お願いします", "はい、お願いします", "うん"])
def test_engine_down_the_human_button_typed(gw, engine, typed):
    engine.mode = "error"
    citizen = Citizen(gw)
    apology = citizen.say("こんにちは")
    assert apology[-1]["text"] == texts.ENGINE_DOWN and apology[-1]["quick_replies"][0]["title"] == "担当者と話す"
    assert citizen.say(typed)[-1]["text"].startswith("担当者におつなぎします")
    assert (citizen.row()["owner"], citizen.row()["queue"]) == ("queued", "general")
    assert sent_to_engine(engine, citizen) == ["こんにちは"]  # the typed answer never went to the (down) engine


def test_engine_stopped_the_title_typed_still_queues(engine, tmp_path):
    process = GatewayProcess(f"http://127.0.0.1:{free_port()}", tmp_path)  # nothing listens there
    try:
        citizen = Citizen(process)
        assert citizen.say("こんにちは")[0]["text"] == texts.ENGINE_DOWN
        assert citizen.say("担当者と話す")[-1]["text"].startswith("担当者におつなぎします")
        assert citizen.row()["owner"] == "queued"
    finally:
        process.stop()


def test_fallback_with_several_buttons_the_title_typed_queues_a_yes_is_no_choice(gw, engine, engine_answers):
    engine_answers("ぴよぴよ", FALLBACK)
    citizen = Citizen(gw)
    assert [b["title"] for b in citizen.say("ぴよぴよ")[-1]["quick_replies"]] == ["担当者と話す", "よくある質問", "ごみの出し方"]
    assert citizen.say("はい")[0]["text"] == "echo:はい"  # to the engine, as typed
    assert citizen.row()["owner"] == "bot"
    citizen.say("ぴよぴよ")
    assert citizen.say("担当者と話す")[-1]["text"].startswith("担当者におつなぎします")
    assert (citizen.row()["owner"], citizen.row()["queue"]) == ("queued", "general")


@pytest.mark.parametrize("typed", ["相談員と話す", "はい", "お願いします", "話したい", "うん、話したい"])
def test_a_worry_the_counselor_offer_typed(gw, engine, typed):
    citizen = Citizen(gw)
    offer = citizen.say(WORRY)
    assert offer[-1]["quick_replies"][0]["payload"] == "/request_counselor"
    shown = " ".join(m.get("text", "") for m in citizen.say(typed))
    assert "番目" in shown
    assert (citizen.row()["owner"], citizen.row()["queue"]) == ("queued", "counseling")
    assert sent_to_engine(engine, citizen) == []  # counseling never reaches the engine


def _classifier_alone_says_normal(text: str) -> None:
    from gateway.counseling.classifier import assess

    found = assess(text)
    assert (found.level, found.rules) == ("normal", ("classifier",)), f"pick another message: {found}"


@pytest.mark.parametrize("answer", ["/not_a_worry", "ごみ・市の質問でした", "ちがう", "ちがいます", "ごみの質問です"])
def test_a_worry_only_the_classifier_saw_can_be_a_question_after_all(gw, engine, answer):
    _classifier_alone_says_normal(CLASSIFIER_WORRY)
    citizen = Citizen(gw)
    menu = citizen.say(CLASSIFIER_WORRY)
    assert menu[-1]["text"] == texts.NORMAL_RISK
    assert [b["title"] for b in menu[-1]["quick_replies"]] == ["相談員と話す", "ごみ・市の質問でした"]
    assert sent_to_engine(engine, citizen) == []  # held until the youth says it was no worry
    assert citizen.say(answer)[0]["text"] == f"echo:{CLASSIFIER_WORRY}"
    assert sent_to_engine(engine, citizen) == [CLASSIFIER_WORRY]
    held = next(r for r in engine.received if r["sender"].startswith(citizen.id) and r["message"] == CLASSIFIER_WORRY)
    assert held["metadata"]["flagged_by_triage"] is True  # the engine keeps it out of its unanswered log
    assert citizen.row()["owner"] == "bot"


def test_a_worry_only_the_classifier_saw_a_yes_is_still_a_counselor(gw, engine):
    citizen = Citizen(gw)
    citizen.say(CLASSIFIER_WORRY)
    shown = " ".join(m.get("text", "") for m in citizen.say("はい"))
    assert "番目" in shown and citizen.row()["queue"] == "counseling"
    assert sent_to_engine(engine, citizen) == []


def test_a_worry_a_rule_found_is_never_sent_on(gw, engine):
    """A worry the rules found (「学校でいじめられてる」) gets no 「ごみ・市の質問でした」: the payload sent anyway finds
    no held question, and the worry never reaches the engine."""
    citizen = Citizen(gw)
    assert [b["title"] for b in citizen.say(WORRY)[-1]["quick_replies"]] == ["相談員と話す"]
    assert citizen.say("/not_a_worry")[0]["text"] == texts.NOT_A_WORRY_LOST
    citizen.say("ちがう")  # a word of its own, as typed
    assert WORRY not in sent_to_engine(engine, citizen)


def test_not_a_worry_later_in_the_chat_sends_nothing_old(gw, engine):
    citizen = Citizen(gw)
    citizen.say(CLASSIFIER_WORRY)
    citizen.say("こんにちは")
    assert citizen.say("/not_a_worry")[0]["text"] == texts.NOT_A_WORRY_LOST
    assert CLASSIFIER_WORRY not in sent_to_engine(engine, citizen)


@pytest.mark.parametrize("typed", ["大丈夫です", "いいえ"])
def test_a_worry_a_no_thank_you_is_not_a_yes(gw, engine, typed):
    citizen = Citizen(gw)
    citizen.say(WORRY)
    citizen.say(typed)
    assert citizen.row()["owner"] == "bot"


@pytest.mark.parametrize("typed", ["はい", "お願いします"])
def test_the_engines_counseling_menu_typed_yes(gw, engine, engine_answers, typed):
    engine_answers("/menu_counseling", COUNSELING_MENU)
    citizen = Citizen(gw)
    menu = citizen.say("/menu_counseling")
    assert menu[-1]["quick_replies"][0]["title"] == "相談員と話す", menu
    shown = " ".join(m.get("text", "") for m in citizen.say(typed))
    assert "番目" in shown and citizen.row()["queue"] == "counseling"


def test_a_yes_out_of_the_blue_goes_to_the_engine(gw, engine):
    citizen = Citizen(gw)
    citizen.say("menu")  # the stand-in's menu: one button, not the gateway's
    assert citizen.say("はい")[0]["text"] == "echo:はい"
    assert citizen.row()["owner"] == "bot"


@pytest.mark.parametrize("age, expected_age", [("15歳", "中学生"), ("中2", "中学生"), ("こうこうせい", "高校生"),
                                               ("17さい", "高校生"), ("いいえ", None), ("言わない", None)])
@pytest.mark.parametrize("topic, expected_topic", [("かぞく", "家族のこと"), ("ともだち", "友だち・恋愛"),
                                                   ("がっこう", "学校のこと"), ("ないしょ", None)])
def test_intake_typed(gw, age, expected_age, topic, expected_topic):
    citizen = Citizen(gw)
    citizen.say("/request_counselor")
    assert "どんなこと" in " ".join(m.get("text", "") for m in citizen.say(age))
    assert "ありがとうございます" in " ".join(m.get("text", "") for m in citizen.say(topic))
    found = citizen.row()
    assert (found["intake_age"], found["intake_topic"]) == (expected_age, expected_topic)


@pytest.mark.parametrize("typed", ["キャンセルします", "取り消してください", "キャンセルで", "やめます"])
def test_waiting_typed_cancel(gw, engine, typed):
    citizen = Citizen(gw)
    assert citizen.say("/request_human")[-1]["text"].startswith("担当者におつなぎします")
    assert citizen.row()["owner"] == "queued"
    assert citizen.say(typed) == [{"text": texts.HANDOFF_CANCELLED}]
    assert citizen.row()["owner"] == "bot"
