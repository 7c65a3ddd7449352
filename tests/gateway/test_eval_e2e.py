"""The front-door evaluation's scoring (tools/eval_e2e.py): what counts as right, asked back, wrong or answered."""

from tools.eval_e2e import answered_topic, dictionary, faq_answers, score_faq, score_out_of_scope, score_sorting

TYPES = dictionary()
ANSWERS = faq_answers()


def said(text, payloads=()):
    return [{"text": text, "quick_replies": [{"title": p, "payload": p} for p in payloads]}]


def test_sorting_reads_the_category_the_answer_states():
    assert TYPES["ペットボトル"] == "びん・缶・ペットボトル"
    entry = {"q": "ペットボトルは何ごみ", "item": "ペットボトル"}
    assert score_sorting(entry, said("「ペットボトル」は【びん・缶・ペットボトル】です。"), TYPES) == "right"
    assert score_sorting(entry, said("「ペットボトル」は【燃やせるごみ】です。"), TYPES) == "wrong"
    assert score_sorting(entry, said("どれに近いですか？", ["ペットボトル", "ペットボトルのふた"]), TYPES) == "asked"
    assert score_sorting(entry, [], TYPES) == "silent"


def test_sorting_unknown_and_ambiguous():
    assert score_sorting({"q": "x", "unknown": True}, said("見つかりませんでした。"), TYPES) == "right"
    assert score_sorting({"q": "x", "unknown": True}, said("「x」は【燃やせるごみ】です。"), TYPES) == "wrong"
    assert score_sorting({"q": "x", "ambiguous": ["a", "b"]}, said("どれですか？", ["a", "b"]), TYPES) == "right"


def test_faq_answer_candidates_and_wrong_answers():
    t01, t02 = ANSWERS["T01"], ANSWERS["T02"]
    assert answered_topic(said(t01 + "\n詳しくは：https://www.city.sapporo.jp/"), ANSWERS) == "T01"
    assert score_faq({"expect": "T01"}, said(t01), ANSWERS) == "right"
    assert score_faq({"expect": "T01"}, said(t02), ANSWERS) == "wrong"
    assert score_faq({"expect": "T01"}, said("もしかして、次のどれかですか？",
                                             ['/menu_faq{"faq_id": "T01"}', '/menu_faq{"faq_id": "T02"}']), ANSWERS) \
        == "candidates_right"
    assert score_faq({"expect": "T02"}, said("もしかして、次のどれかですか？",
                                             ['/menu_faq{"faq_id": "T01"}', '/menu_faq{"faq_id": "T02"}']), ANSWERS) \
        == "other"


def test_out_of_scope_declined_unless_an_answer_is_given():
    assert score_out_of_scope(said("申し訳ありません、そのご質問にはお答えできません。"), ANSWERS, TYPES) == "declined"
    assert score_out_of_scope(said(ANSWERS["T05"]), ANSWERS, TYPES) == "answered"
    assert score_out_of_scope(said("「車」は【燃やせるごみ】です。"), ANSWERS, TYPES) == "answered"


def test_categories_shown_under_their_label_or_as_the_categorys_faq_answer():
    washing = {"q": "洗濯機の捨て方", "item": "洗濯機"}
    assert TYPES["洗濯機"] == "市で収集しないもの（家電4品目）"
    assert score_sorting(washing, said("「洗濯機」は【家電4品目（市で収集しないもの）】です。"), TYPES) == "right"
    assert score_sorting(washing, said(ANSWERS["T09"]), TYPES) == "right"
    assert score_sorting(washing, said(ANSWERS["T10"]), TYPES) == "wrong"
