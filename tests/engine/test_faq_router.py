"""FaqRouter (bot/nlu/faq_router.py): when a confident FAQ match replaces DIET's intent, and when it never does."""

import pytest

from bot.nlu.faq_router import routed_intent


@pytest.mark.parametrize("intent, text, topic", [
    ("menu_counseling", "札幌で起業したいのですが相談窓口はありますか", "T40"),
    ("ask_capabilities", "住民票ってコンビニで出せますか", "T01"),
    ("menu_bulky_booking", "大型ごみ処理券はどこで買えますか", "T08"),
    ("nlu_fallback", "マイナンバーカードを受け取りに行きたい", "T05"),
])
def test_a_confident_faq_match_becomes_the_faq_answer(intent, text, topic):
    decision = routed_intent(intent, text)
    assert decision["intent"] == "menu_faq" and decision["faq_id"] == topic


@pytest.mark.parametrize("intent, text", [
    ("menu_counseling", "学校でいじめられていて誰かに相談したい"),  # distress: the counseling flow
    ("menu_counseling", "先生に叩かれた。どこに相談すればいい"),
    ("menu_counseling", "子どもの悩みを相談できる窓口はどこですか"),  # T35 is the counseling topic
    ("ask_garbage_category", "パソコンの処分方法を教えてください"),  # the garbage dictionary answers items
    ("menu_bulky_booking", "大型ごみの申し込み方法を教えて"),  # T07's own flow
    ("ask_collection_day", "ごみの収集日を調べたい"),  # T11's own flow
    ("menu_faq", '/menu_faq{"faq_id": "T01"}'),  # a button payload
    ("greet", "こんにちは"),  # not an FAQ question
])
def test_kept_intents(intent, text):
    assert routed_intent(intent, text) == {}


def test_another_municipality_goes_to_the_fallback_action():
    assert routed_intent("menu_faq", "横浜市で児童手当を申請したい")["intent"] == "out_of_scope"
    assert routed_intent("menu_counseling", "横浜市の相談窓口でいじめの相談") == {}  # distress first


def test_an_unsure_menu_guess_gives_way_to_faq_candidates():
    # DIET said menu_counseling with 0.55 for 「証明書がほしい」: the citizen should see もしかして, not counseling.
    assert routed_intent("menu_counseling", "証明書がほしい", 0.55) == {"intent": "menu_faq",
                                                                   "confidence": routed_intent(
                                                                       "menu_counseling", "証明書がほしい", 0.55)["confidence"]}
    assert routed_intent("menu_counseling", "証明書がほしい", 0.95) == {}  # a sure guess stays
    assert routed_intent("menu_counseling", "いじめの証明書がほしい", 0.55) == {}  # distress: counseling


@pytest.mark.parametrize("intent, text, topic", [
    ("request_human", "としょかん かしだし", "T28"),
    ("manage_booking", "里塚斎場 予約 空き状況", "T12"),
])
def test_a_municipal_question_taken_for_a_person_or_a_booking_gets_its_answer(intent, text, topic):
    decision = routed_intent(intent, text, 0.9)
    assert decision.get("faq_id") == topic, decision


@pytest.mark.parametrize("intent, text", [
    ("request_human", "住民票のことで担当者と話したい"),
    ("request_human", "人と話したい"),
    ("manage_booking", "大型ごみの予約をキャンセルしたい"),
])
def test_real_requests_for_a_person_or_a_booking_stay(intent, text):
    assert routed_intent(intent, text, 0.9) == {}


@pytest.mark.parametrize("text, expected", [
    ("相続の相談ができる窓口はありますか", None),  # an information question, not a worry
    ("既読無視してごめん！寝てた", "nlu_fallback"),  # DIET's guess; the gateway found no risk
    ("子どもの悩みを相談できる窓口はどこですか", "menu_faq"),  # the counseling topic's answer (T35)
])
def test_typed_text_the_gateway_triaged_never_gets_the_counseling_menu(text, expected):
    """Behind the gateway only messages without risk reach the engine (metadata triage=none): DIET's
    menu_counseling there is a false alarm, answered by the FAQ or the honest fallback instead."""
    decision = routed_intent("menu_counseling", text, 0.9, triaged=True)
    assert decision["intent"] != "menu_counseling"
    assert expected is None or decision["intent"] == expected
    assert routed_intent("menu_counseling", "/menu_counseling", 1.0, triaged=True) == {}  # the button still works
    assert routed_intent("menu_counseling", "子どもの悩みを相談できる窓口はどこですか", 0.9) == {}  # no gateway
