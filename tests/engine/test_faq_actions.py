"""FAQ answers and the fallback chain (FAQ → garbage dictionary → もしかして → honest fallback)."""

import asyncio
import sqlite3

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionFaq
from actions.fallback import ActionFallback
from bot.knowledge.faq_retriever import current_retriever


@pytest.fixture(autouse=True)
def assistant_db(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DB_URL", f"sqlite:///{tmp_path / 'assistant.db'}")
    monkeypatch.setenv("CITYDATA_DB_URL", f"sqlite:///{tmp_path / 'empty-citydata.db'}")
    from bot.knowledge import garbage_knowledge
    garbage_knowledge._state.clear()
    yield tmp_path / "assistant.db"
    garbage_knowledge._state.clear()


def tracker(text, intent="nlu_fallback", entities=None):
    return Tracker("u", {}, {"text": text, "intent": {"name": intent, "confidence": 0.5}, "entities": entities or [],
                             "intent_ranking": [{"name": intent, "confidence": 0.5}], "metadata": {"channel": "web"}},
                   [], False, None, {}, "action_listen")


def run(action, t):
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, t, {}))
    return dispatcher.messages


def test_confident_question_gets_the_answer_with_its_url():
    topic = current_retriever().topics["T01"]
    messages = run(ActionFallback(), tracker("住民票をコンビニで取りたい"))
    assert messages[0]["text"].startswith(topic.answer)
    assert topic.url in messages[0]["text"]


def test_handover_topic_offers_the_flow():
    messages = run(ActionFaq(), tracker('/menu_faq{"faq_id": "T07"}', intent="menu_faq",
                                        entities=[{"entity": "faq_id", "value": "T07"}]))
    assert messages[0]["buttons"][0]["payload"] == "/menu_bulky_booking"


def test_unsure_question_offers_candidates_and_a_choice_answers(assistant_db):
    # One word alone never gets a confident answer: 「証明書」 could be 住民票, 印鑑登録証明書, 戸籍 ….
    messages = run(ActionFallback(), tracker("証明書"))
    buttons = messages[0].get("buttons") or []
    assert messages[0]["text"] == "もしかして、次のどれかですか？" and 1 <= len(buttons) <= 3
    assert all(len(b["title"]) <= 20 and b["payload"].startswith('/menu_faq{"faq_id": "T') for b in buttons)
    chosen = buttons[0]["payload"].split('"')[3]
    answer = run(ActionFaq(), tracker(buttons[0]["payload"], intent="menu_faq",
                                      entities=[{"entity": "faq_id", "value": chosen}]))
    assert answer[0]["text"].startswith(current_retriever().topics[chosen].answer)
    rows = sqlite3.connect(assistant_db).execute("select kind, resolved_topic from unanswered_questions").fetchall()
    assert rows == [("faq_candidates", chosen)]  # resolved by the choice: not in the staff's list
    from common import unanswered
    assert unanswered.rows() == [] and len(unanswered.rows(include_resolved=True)) == 1


def test_candidates_not_chosen_stay_in_the_log(assistant_db):
    run(ActionFallback(), tracker("証明書"))
    run(ActionFallback(), tracker("明日の天気は？", intent="out_of_scope"))
    from common import unanswered
    assert [r["kind"] for r in unanswered.rows()] == ["faq_candidates", "fallback"]
    assert all(len(r["conversation"]) == 12 and r["conversation"] != "u" for r in unanswered.rows())


def test_faq_menu_without_a_topic_asks_for_the_question():
    assert run(ActionFaq(), tracker("よくある質問", intent="menu_faq"))[0]["response"] == "utter_menu_faq"


def test_the_menu_intent_with_a_real_question_gets_the_answer():
    topic = current_retriever().topics["T01"]
    messages = run(ActionFaq(), tracker("住民票の取り方を聞きたい", intent="menu_faq"))
    assert messages[0]["text"].startswith(topic.answer)


def test_another_municipality_is_sent_there_and_logged(assistant_db):
    messages = run(ActionFallback(), tracker("横浜市で児童手当を申請したい"))
    assert messages[0]["response"] == "utter_other_municipality" and messages[0]["place"] == "横浜市"
    rows = sqlite3.connect(assistant_db).execute("select kind, best_guess from unanswered_questions").fetchall()
    assert ("other_municipality", "横浜市") in rows


def test_another_office_s_matter_is_sent_there_and_logged(assistant_db):
    messages = run(ActionFallback(), tracker("自動車税の納付書なくしちゃった…"))
    assert messages[0]["response"] == "utter_other_service"
    assert messages[0]["service"] == "自動車税" and "道税事務所" in messages[0]["provider"]
    rows = sqlite3.connect(assistant_db).execute("select kind, best_guess from unanswered_questions").fetchall()
    assert ("other_service", "自動車税") in rows


def test_out_of_scope_is_declined_and_logged(assistant_db):
    messages = run(ActionFallback(), tracker("おすすめの映画を教えて", intent="out_of_scope"))
    assert messages[0]["response"] == "utter_out_of_scope"
    rows = sqlite3.connect(assistant_db).execute("select kind, text from unanswered_questions").fetchall()
    assert ("fallback", "おすすめの映画を教えて") in rows


def test_a_municipal_question_the_nlu_took_for_garbage_still_gets_faq_candidates(tmp_path, monkeypatch):
    from actions.garbage import ActionGarbageCategory
    from bot.knowledge import garbage_knowledge
    from bot.knowledge.citydata.importer import load_directory
    from tools.model import ROOT
    url = f"sqlite:///{tmp_path / 'sample.db'}"
    load_directory(ROOT / "data" / "city_sample", url)
    monkeypatch.setenv("CITYDATA_DB_URL", url)
    garbage_knowledge._state.clear()
    messages = run(ActionGarbageCategory(), tracker("実印の証明ってマイナンバーカードでコンビニ発行できますか", intent="ask_garbage_category"))
    assert messages[0]["text"] == "もしかして、次のどれかですか？" or "詳しくは" in messages[0]["text"]


@pytest.mark.parametrize("text, intent", [("なんかもうつらいし誰もわかってくれない", "nlu_fallback"),
                                          ("はなしきいてほしいかも", "menu_counseling")])
def test_counseling_words_never_reach_the_unanswered_log(assistant_db, text, intent):
    """The gateway keeps counseling text from the engine; what still slips through is not logged either."""
    run(ActionFallback(), tracker(text, intent=intent))
    from common import unanswered
    assert all(r["text"] != text for r in unanswered.rows(include_resolved=True))


def test_a_message_the_triage_flagged_is_answered_but_never_logged(assistant_db):
    """「ごみ・市の質問でした」 (gateway/handoff/router.py): the youth said the worry was a question; it reaches the engine
    with ``flagged_by_triage`` and stays out of the unanswered log. The same text without the flag is logged."""
    from common import unanswered
    text = "ふもふもがこわれた"
    flagged = tracker(text)
    flagged.latest_message["metadata"]["flagged_by_triage"] = True
    run(ActionFallback(), flagged)
    assert all(r["text"] != text for r in unanswered.rows(include_resolved=True))
    run(ActionFallback(), tracker(text))
    assert any(r["text"] == text for r in unanswered.rows(include_resolved=True))


@pytest.mark.parametrize("text", ["やめる", "やっぱりやめます", "キャンセル", "もういいです", "終了", "中止して", "/stop"])
def test_a_plain_stop_word_outside_a_form_is_stopped(text):
    from actions.fallback import ActionStop
    assert run(ActionStop(), tracker(text, intent="stop"))[0]["response"] == "utter_stopped"


def test_a_question_that_contains_a_stop_word_is_answered_not_stopped():
    # DIET reads 「やめる」 as stop; outside a form there is nothing to stop, and this is about leaving 国保 (T23)
    from actions.fallback import ActionStop
    messages = run(ActionStop(), tracker("国民健康保険 やめる 手続き", intent="stop"))
    assert messages[0].get("response") != "utter_stopped"
    assert messages[0]["text"].startswith(current_retriever().topics["T23"].answer) \
        or "T23" in str(messages[0].get("buttons"))


def test_a_booking_named_with_a_stop_word_keeps_the_plain_answer():
    from actions.fallback import ActionStop
    assert run(ActionStop(), tracker("大型ごみの申し込みやめる", intent="stop"))[0]["response"] == "utter_stopped"
