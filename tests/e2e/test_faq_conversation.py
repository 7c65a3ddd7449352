"""FAQ through the gateway's Socket.IO endpoint: an answer with its URL, "もしかして" quick replies, a choice."""

import pytest

pytestmark = pytest.mark.e2e


async def test_paraphrase_gets_the_answer_with_its_url(widget):
    reply = await widget.ask("住民票をコンビニで取りたい")
    assert "住民票" in reply["text"]
    assert "https://www.city.sapporo.jp/" in reply["text"]


async def test_unsure_question_offers_candidates_and_clicking_one_answers(widget):
    reply = await widget.ask("証明書がほしい")  # one word alone: never a confident answer
    assert reply["text"] == "もしかして、次のどれかですか？"
    choice = reply["quick_replies"][0]
    assert choice["payload"].startswith('/menu_faq{"faq_id": "T')
    answer = await widget.ask(choice["payload"])
    assert "詳しくは：https://www.city.sapporo.jp/" in answer["text"]


async def test_a_question_the_nlu_takes_for_another_menu_still_gets_its_answer(widget):
    # DIET says menu_counseling here; bot/nlu/front_door.py lets the confident FAQ match (T40) answer.
    reply = await widget.ask("札幌で起業したいのですが相談窓口はありますか")
    assert "起業" in reply["text"] and "https://www.city.sapporo.jp/" in reply["text"]


async def test_words_of_distress_always_reach_a_counselor(widget):
    # The gateway's triage takes it before the NLU: a request to talk about bullying queues for a counselor.
    reply = await widget.ask("学校でいじめられていて誰かに相談したい")
    assert "相談員" in reply["text"] and "秘密" in reply["text"] and "番目" in reply["text"]


async def test_another_municipality_is_told_where_to_ask(widget):
    reply = await widget.ask("横浜市で児童手当を申請したい")
    assert "横浜市" in reply["text"] and "札幌市" in reply["text"]


async def test_an_information_question_about_a_counter_is_not_a_counseling_alarm(widget):
    # DIET says menu_counseling; the gateway found no risk and says so, so the engine does not show the
    # emergency numbers and 「相談員と話す」 (bot/nlu/front_door.py).
    reply = await widget.ask("相続の相談ができる窓口はありますか")
    assert "110番" not in reply["text"]
    assert all(q["payload"] != "/request_counselor" for q in reply.get("quick_replies") or [])
