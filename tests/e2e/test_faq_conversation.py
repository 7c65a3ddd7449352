"""FAQ through the gateway's Socket.IO endpoint: an answer with its URL, "もしかして" quick replies, a choice."""

import pytest

pytestmark = pytest.mark.e2e


async def test_paraphrase_gets_the_answer_with_its_url(widget):
    reply = await widget.ask("住民票をコンビニで取りたい")
    assert "住民票" in reply["text"]
    assert "https://www.city.sapporo.jp/" in reply["text"]


async def test_unsure_question_offers_candidates_and_clicking_one_answers(widget):
    reply = await widget.ask("実印の証明ってマイナンバーカードでコンビニ発行できますか")
    assert reply["text"] == "もしかして、次のどれかですか？"
    choice = reply["quick_replies"][0]
    assert choice["payload"].startswith('/menu_faq{"faq_id": "T')
    answer = await widget.ask(choice["payload"])
    assert "詳しくは：https://www.city.sapporo.jp/" in answer["text"]
