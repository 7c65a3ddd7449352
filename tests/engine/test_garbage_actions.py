"""Garbage sorting actions with rasa_sdk's Tracker and CollectingDispatcher, on the full official data
(collection days: test_collection_day_actions.py)."""

import sqlite3

import pytest
from tests.engine import trackers
from tests.engine.trackers import run


@pytest.fixture(scope="module", autouse=True)
def official_data(official_city_data):
    return official_city_data


def tracker(text, slots=None, entities=None, intent="ask_garbage_category", requested_slot=None, active_loop=None):
    return trackers.tracker(text, slots, entities, intent, requested_slot, active_loop)


def test_sorting_answer_with_how_to_put_out():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("フライパンの捨て方"))
    assert "燃やせないごみ" in messages[0]["text"]
    assert "8時30分" in messages[0]["text"]
    assert "収集日を調べる" in [b["title"] for b in messages[0]["buttons"]]


def test_large_item_offers_booking():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("チャリ捨てたい"))
    assert "自転車" in messages[0]["text"] and "大型ごみ" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/menu_bulky_booking"


def test_pc_says_who_takes_it():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ノートパソコンを処分したい"))
    assert "市で収集しないもの" in messages[0]["text"]
    assert "ごみステーションには出せません" in messages[0]["text"]


def test_choice_from_a_quick_reply_answers_that_item():
    from actions.garbage import ActionGarbageCategory
    t = tracker('/ask_garbage_category{"item_name": "ハンガー（木製・プラ製）"}',
                entities=[{"entity": "item_name", "value": "ハンガー（木製・プラ製）"}])
    messages, _ = run(ActionGarbageCategory(), t)
    assert "燃やせるごみ" in messages[0]["text"]


def test_unknown_item_is_logged_and_quick_replies_never_exceed_line_limits(official_data):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ぴかぴかすーぱーましんは何ごみ"))
    assert "見つかりませんでした" in messages[0]["text"]
    for b in messages[0].get("buttons") or []:
        assert len(b["title"]) <= 20
    rows = sqlite3.connect(official_data / "assistant.db").execute(
        "select kind, channel, text from unanswered_questions").fetchall()
    assert ("garbage_item", "web", "ぴかぴかすーぱーましんは何ごみ") in rows


def test_fallback_answers_a_bare_item_name_and_logs_real_nonsense(official_data):
    from actions.fallback import ActionFallback
    messages, _ = run(ActionFallback(), tracker("れいぞうこ", intent="nlu_fallback"))
    assert "家電4品目" in messages[0]["text"]
    messages, _ = run(ActionFallback(), tracker("ふもももも", intent="nlu_fallback"))
    assert messages[0]["response"] == "utter_fallback"


def test_without_city_data_the_user_gets_an_apology_not_silence(monkeypatch, tmp_path):
    from actions.fallback import ActionFallback
    from actions.collection_day import ActionCollectionDay
    from actions.garbage import ActionGarbageCategory
    from bot.knowledge import garbage_knowledge
    monkeypatch.setenv("CITYDATA_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    garbage_knowledge._state.clear()
    try:
        messages, _ = run(ActionGarbageCategory(), tracker("ソファは何ごみ？"))
        assert "011-222-4894" in messages[0]["text"]
        messages, _ = run(ActionCollectionDay(), tracker("ごみの日", slots={"gc_area": "白石区1"}))
        assert "011-222-4894" in messages[0]["text"]
        messages, _ = run(ActionFallback(), tracker("ふもも", intent="nlu_fallback"))
        assert messages[0]["response"] == "utter_fallback"
    finally:
        garbage_knowledge._state.clear()


@pytest.mark.parametrize("text, category, rule", [
    ("たまごのから 何ごみ", "燃やせるごみ", "台所のごみ"),
    ("レシートって何ごみ？", "雑がみ", "手紙・封筒・写真・カレンダー・レシート"),
    ("ペットボトルのラベルの捨て方", "容器包装プラスチック", "プラスチック製のふた・ラベル"),
    ("みかんの皮って燃えるごみでいいの", "燃やせるごみ", "台所のごみ"),  # data/garbage/guide_synonyms.yml
    ("りんごの芯の捨て方", "燃やせるごみ", "台所のごみ"),
    # the words before say whose or which: 「ばんごはんの」 (のこし has an の of its own), 「ゆで」
    ("ばんごはんの食べのこし どうすてる", "燃やせるごみ", "台所のごみ"),
    ("ゆでたまごのからって何ごみ", "燃やせるごみ", "台所のごみ"),
    # the guide names the whole phrase, the dictionary only a part (シュレッダー, the machine: 燃やせないごみ)
    ("シュレッダーくず", "雑がみ", "シュレッダーにより裁断した紙"),
    ("シュレッダーの紙", "雑がみ", "シュレッダーにより裁断した紙"),
    ("シュレッダーにかけた紙くず、何で出せばいい", "雑がみ", "シュレッダーにより裁断した紙"),
    # where on the thing the part is, said between (「まわりの」), and the part typed in hiragana
    ("ペットボトルのまわりのらべる はがしたやつ何ごみ", "容器包装プラスチック", "プラスチック製のふた・ラベル"),
])
def test_what_only_the_sorting_guide_names_gets_its_category(text, category, rule):
    """The dictionary has no 卵の殻 or レシート; the city's sorting guide (gomi_sep.csv) names them."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert f"【{category}】" in messages[0]["text"] and rule in messages[0]["text"]


@pytest.mark.parametrize("text, name, category", [
    ("シュレッダーの捨て方", "シュレッダー", "燃やせないごみ"),  # the machine itself
    ("化粧品のガラスびん", "化粧品のびん", "びん・缶・ペットボトル"),  # guide and dictionary agree: the dictionary's item
])
def test_the_dictionary_answers_where_the_guide_says_nothing_else(text, name, category):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert messages[0]["text"].startswith(f"「{name}」は【{category}】です"), messages[0]["text"]


def test_a_dictionary_item_is_never_read_through_the_guide_s_words():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ソファの皮がはがれたので捨てたい"))
    assert "台所のごみ" not in messages[0]["text"]


def test_a_part_that_broke_is_no_guide_example():
    """「骨が折れた扇子」 was answered 【燃やせるごみ】 as 台所のごみ through 骨; the fan is in neither the dictionary nor
    the guide, so no category is given."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("骨が折れた扇子 なにごみ"))
    assert "台所のごみ" not in messages[0]["text"] and "【" not in messages[0]["text"], messages[0]["text"]


def test_a_word_that_describes_a_guide_example_is_not_that_example():
    """The guide lists 「みかん・たまねぎなどのネット」: みかん there says which net; 「みかんの皮」 is no net."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("みかんの皮って燃えるごみでいいの"))
    assert "容器包装プラスチック" not in messages[0]["text"]
    messages, _ = run(ActionGarbageCategory(), tracker("たまねぎのネットは何ごみ"))
    assert "【容器包装プラスチック】" in messages[0]["text"]


def test_a_close_match_is_answered_saying_what_it_was_read_as():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ペットボルトの出し方おしえて"))
    assert "「ペットボトル」としてお答えします" in messages[0]["text"] and "【びん・缶・ペットボトル】" in messages[0]["text"]


def test_a_short_word_one_kana_off_a_name_is_answered_alone_or_as_garbage_not_inside_a_sentence():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ソフャーの処分ってどうするの"))  # a garbage word: answered
    assert "としてお答えします" in messages[0]["text"] and "【" in messages[0]["text"]
    messages, _ = run(ActionGarbageCategory(), tracker("ソフャー"))  # the whole message: answered as read
    assert "としてお答えします" in messages[0]["text"] and "【" in messages[0]["text"]
    messages, _ = run(ActionGarbageCategory(), tracker("ざぶとん"))  # 座布団 as said (voiced): no typo at all
    assert "としてお答えします" not in messages[0]["text"] and "「座布団」は【燃やせるごみ】" in messages[0]["text"]
    messages, _ = run(ActionGarbageCategory(), tracker("昨日ソフャー見た"))  # inside a sentence: offered, not answered
    assert "【" not in messages[0]["text"] and "見つかりませんでした。もしかして" in messages[0]["text"]
    assert any("ソファー" in b["title"] for b in messages[0].get("buttons") or [])


def test_candidates_of_one_category_are_answered_not_asked():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("子どもの自転車を捨てたい"))
    assert "【大型ごみ】" in messages[0]["text"] and "どれに近いですか" not in messages[0]["text"]


def test_the_leading_candidates_of_one_category_are_answered_though_a_far_one_differs():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("缶コーヒーの缶"))  # アルミ缶, スチール缶 ≫ カセットボンベ
    assert "【びん・缶・ペットボトル】" in messages[0]["text"] and "どれに近いですか" not in messages[0]["text"]
    messages, _ = run(ActionGarbageCategory(), tracker("お菓子の箱"))  # 紙製 and 木製 alike: asked
    assert "どれに近いですか" in messages[0]["text"]


@pytest.mark.parametrize("text, category", [
    ("くつの箱は資源？", "【雑がみ】"),  # 靴の空き箱, not げた箱 (大型ごみ)
])
def test_the_citizen_s_guess_settles_candidates_of_different_categories(text, category):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert category in messages[0]["text"] and "どれに近いですか" not in messages[0]["text"]


@pytest.mark.parametrize("text", ["お茶碗は燃えないごみ？", "茶筒いらなくなったんだけど、燃えるでいい？",
                                  "アイスのカップって雑がみ？プラ？", "アイスのカップってプラ？"])
def test_a_guess_does_not_settle_variants_of_one_thing(text):
    """Between variants of one name (食器 of pottery or of plastic) the citizen's guess says nothing of which one they
    have: asked (changed 2026-12-03, eighteenth session; お茶碗 was answered 燃やせないごみ on the guess alone)."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert "どれに近いですか" in messages[0]["text"] and "【" not in messages[0]["text"]


def test_without_a_guess_candidates_of_different_categories_are_asked():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("お茶碗って何ごみ？"))
    assert "どれに近いですか" in messages[0]["text"]


@pytest.mark.parametrize("text, item", [
    ("お茶碗割れちゃった、何ごみ？", "食器（ガラス製・陶磁器・金属製）"),
    ("お皿割っちゃった", "食器（ガラス製・陶磁器・金属製）"),
    ("コップにひびが入った", "コップ（ガラス製・金属製）"),
])
def test_what_broke_into_pieces_is_the_glass_or_pottery_one(text, item):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert f"「{item}」は【燃やせないごみ】" in messages[0]["text"], messages[0]["text"]


def test_a_material_typed_still_wins_over_the_breaking():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("プラのコップ割れた"))
    assert "【燃やせるごみ】" in messages[0]["text"]


def test_an_unknown_item_with_a_garbage_word_gets_no_unrelated_faq_answer():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("灯油の捨て方"))
    assert "パソコン" not in messages[0]["text"] and "見つかりませんでした" in messages[0]["text"]


@pytest.mark.parametrize("text, category, rule", [
    ("ボタン電池", "市で収集しないもの", "ボタン電池"),  # a bare name only the sorting guide knows
    ("加熱式たばこ", "ライター", "加熱式たばこ・電子たばこ"),
    ("乾電池は何ごみ", "筒型乾電池", "筒型乾電池"),  # guide_synonyms.yml: 乾電池 → 単1～単5電池
    ("ペットボトルのキャップ", "容器包装プラスチック", "プラスチック製のふた・ラベル"),
    ("アイコス壊れた", "ライター", "加熱式たばこ・電子たばこ"),  # a brand name of the guide's kind of thing
])
def test_names_the_dictionary_lacks_are_answered_from_the_guide(text, category, rule):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert f"【{category}】" in messages[0]["text"] and rule in messages[0]["text"]


@pytest.mark.parametrize("text, category, how", [
    ("燃えないごみの出し方を教えて", "燃やせないごみ", "指定ごみ袋"),
    ("プラごみの出し方", "容器包装プラスチック", "透明または半透明の袋"),
    ("雑紙はどうやって出すの", "雑がみ", "透明または半透明の袋"),  # not 雑誌, which the matcher reads 雑紙 as
    ("生ゴミってどうやって捨てる？", "燃やせるごみ", "台所のごみ"),  # 生ごみ names no item; the guide's word
])
def test_how_to_put_out_a_kind_of_garbage_is_its_rule(text, category, how):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert f"【{category}】" in messages[0]["text"] and how in messages[0]["text"]
    assert "収集日を調べる" in [b["title"] for b in messages[0]["buttons"]]


def test_a_kind_named_alone_or_a_container_word_is_no_kind_to_explain():
    from bot.nlu.evidence import category_how_question
    assert not category_how_question("ごみの出し方")  # no kind: the menu asks for the item
    assert not category_how_question("缶の捨て方")  # 缶 is an item of several kinds: asked back
    assert not category_how_question("大型ごみの出し方")  # the FAQ and the booking explain 大型ごみ
    assert not category_how_question("燃えるごみは何曜日")  # a collection-day question


def test_items_named_together_are_each_answered_those_of_one_kind_together():
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("臼と杵を捨てたい"))
    assert len(messages) == 1 and "「臼（木製）」「杵」は【大型ごみ】" in messages[0]["text"]
    messages, _ = run(ActionGarbageCategory(), tracker("傘と布団の捨て方"))
    assert ["【燃やせないごみ】" in messages[0]["text"], "【大型ごみ】" in messages[1]["text"]] == [True, True]


def test_what_the_citizen_says_like_a_variants_note_picks_it():
    """「芝(土のついているもの)」: the note's word (土) said after the name narrows 芝生 to that variant."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("庭の芝生 土がついたまま"))
    assert "「芝(土のついているもの)」は【燃やせないごみ】" in messages[0]["text"], messages[0]["text"]
    messages, _ = run(ActionGarbageCategory(), tracker("芝生は何ごみ"))
    assert "どれに近いですか" in messages[0]["text"]


@pytest.mark.parametrize("text, item", [("芝刈りの芝（土はついてない）", "草"), ("おひなさまの人形だけ 段はない", "ひな人形")])
def test_what_the_citizen_says_is_not_so_rules_that_variant_out(text, item):
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker(text))
    assert f"「{item}」は【" in messages[0]["text"], messages[0]["text"]


def test_a_word_said_after_the_name_in_one_candidates_name_picks_it():
    """「ヒーター（オイルのやつ）」: オイルヒーター (大型ごみ), not 電気ストーブ; without the word it is asked."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ヒーター（オイルのやつ）捨てたい"))
    assert "「オイルヒーター」は【" in messages[0]["text"], messages[0]["text"]


def test_the_guide_answers_only_a_word_it_names():
    """「トマト缶」 is no トマト (野菜・果物のくず) with a typo; 「バナナの皮」 is the guide's kitchen scraps."""
    from actions.garbage import answer_from_guide
    from rasa_sdk.executor import CollectingDispatcher
    dispatcher = CollectingDispatcher()
    assert not answer_from_guide(dispatcher, "トマト缶")
    assert answer_from_guide(dispatcher, "バナナの皮") and "【燃やせるごみ】" in dispatcher.messages[0]["text"]


def test_the_guide_answers_the_word_after_the_last_no():
    from actions.garbage import answer_from_guide
    from rasa_sdk.executor import CollectingDispatcher
    dispatcher = CollectingDispatcher()
    assert answer_from_guide(dispatcher, "誕生日プレゼントの包装紙") and "【雑がみ】" in dispatcher.messages[0]["text"]


def test_names_only_alike_in_reading_are_offered_as_not_found_not_as_kinds_of_the_thing(official_data):
    """「ルーター」 reads a little like カード類 and コーヒーがら及びフィルター: they are no kinds of a router."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("ルーター"))
    assert "いくつかに分かれます" not in messages[0]["text"]
    assert "見つかりませんでした。もしかして" in messages[0]["text"] and messages[0]["buttons"]
    messages, _ = run(ActionGarbageCategory(), tracker("コップ"))  # real kinds of one thing are still asked so
    assert "いくつかに分かれます" in messages[0]["text"]


def test_the_guide_reads_a_dry_cell_surer_than_the_dictionarys_only_likeness(official_data):
    """「たん3 の でんち」 read a little like ゲーム機 (0.66); the guide reads 単1～単5電池 (筒型乾電池) surer."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("たん3 の でんち つかった。なにごみ"))
    assert "ゲーム機" not in messages[0]["text"] and "筒型乾電池" in messages[0]["text"], messages[0]["text"]


def test_the_guide_does_not_answer_where_a_variant_of_the_dictionary_has_its_category(official_data):
    """「まないた ふるい」: wooden boards are 燃やせるごみ (the guide's 木製品), others 燃やせないごみ: asked."""
    from actions.garbage import ActionGarbageCategory
    messages, _ = run(ActionGarbageCategory(), tracker("まないた ふるい なにごみ"))
    assert "【" not in messages[0]["text"] and len(messages[0]["buttons"]) >= 2, messages[0]["text"]
