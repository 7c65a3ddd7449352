"""FrontDoorRouter (bot/nlu/front_door.py): where each typed message goes, and what it never takes away."""

import pytest

from bot.nlu.front_door import route as routed_intent


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


# ---- the evidence (bot/nlu/evidence.py), with the official dictionary loaded (the table, #12) ----
@pytest.mark.parametrize("text", ["北区役所への行き方", "白石区の避難所の一覧を見たい", "東区の区役所の所在地"])
def test_a_ward_in_a_question_is_no_address(official_city_data, text):
    assert routed_intent("menu_faq", text, 0.9, triaged=True).get("intent") != "inform_address"


@pytest.mark.parametrize("intent, text, expected", [
    ("ask_collection_day", "ペットボトルは何ごみですか", "ask_garbage_category"),
    ("manage_booking", "CDを捨てたい", "ask_garbage_category"),
    ("manage_booking", "ごみの収集日を確認したい", "ask_collection_day"),
    ("menu_garbage", "歯ブラシの分別を知りたい", "ask_garbage_category"),
    ("menu_garbage", "体温計の捨て方", "ask_garbage_category"),
    ("menu_garbage", "はがきの捨て方", "ask_garbage_category"),
    ("menu_faq", "ぬいぐるみの捨て方", "ask_garbage_category"),
    ("nlu_fallback", "あきかん", "ask_garbage_category"),  # an item's name alone
    ("menu_faq", "あなたは人間ですか", "ask_about_assistant"),
    ("request_human", "これ誰がつくったの", "ask_about_assistant"),
    ("ask_garbage_category", "燃えないごみの日がわからない", "ask_collection_day"),
    # the item's category guessed by its day is a sorting question; a day asked is a collection-day one
    ("ask_collection_day", "ピーラーって燃えないごみの日？", "ask_garbage_category"),
    ("ask_collection_day", "のりの缶はびん缶の日？", "ask_garbage_category"),
    ("ask_garbage_category", "明日はびん缶の日？", "ask_collection_day"),
    ("ask_garbage_category", "ペットボトルは何曜日？", "ask_collection_day"),
    # 「…の日に出していい」「プラでいい」「…と同じでいい」: a guess at the item's category, not a day asked
    ("ask_collection_day", "納豆のパック 洗うのめんどいけどプラの日に出していい", "ask_garbage_category"),
    ("ask_collection_day", "実家に帰るから敷布団捨てたい 普通のごみの日に出していい", "ask_garbage_category"),
    ("nlu_fallback", "ヨーグルトのアルミのふた 容器と一緒にプラでいい", "ask_garbage_category"),
    ("nlu_fallback", "電気毛布 コードついてるやつなんだけど 普通の毛布と同じでいいの？", "ask_garbage_category"),
    ("ask_garbage_category", "燃えないごみの日に出していい？", "ask_collection_day"),  # no item: the day
    ("nlu_fallback", "えーと けいこうとうの 細長いやつ 落として割れちゃったんですけど どうしたら", "ask_garbage_category"),
    ("nlu_fallback", "シャンプーの詰め替えパック", "ask_garbage_category"),  # a name that ends the phrase is its head
    ("nlu_fallback", "ティッシュの空き箱、ビニールついたままでいい？", "ask_garbage_category"),
    ("nlu_fallback", "鉢植えの古い土、バケツ半分くらいなんですが出せますか", "ask_garbage_category"),  # なんですが: no なんで
    # an item's name with a number or a state is no address and no small talk
    ("inform_address", "わごむ", "ask_garbage_category"), ("inform_address", "バスタオル3枚", "ask_garbage_category"),
    ("nlu_fallback", "くし折れちゃった", "ask_garbage_category"),
    ("nlu_fallback", "カッパ破けたんだけど", "ask_garbage_category"),
    # an address as people type it, whatever DIET made of it
    ("nlu_fallback", "南3西5", "inform_address"), ("out_of_scope", "にしく はっさむ5じょう", "inform_address"),
    ("menu_faq", "郵便番号063-0034です", "inform_address"),
])
def test_the_message_goes_where_its_words_point(official_city_data, intent, text, expected):
    assert routed_intent(intent, text, 0.9, triaged=True)["intent"] == expected


@pytest.mark.parametrize("intent, text", [
    ("manage_booking", "車検の予約をしたい"),  # a booking, but not of 大型ごみ
    ("request_human", "児童手当 いくらもらえる"),  # no word asks for a person
    ("ask_garbage_category", "新しい冷蔵庫を買いたいんだけどおすすめある？"),  # an item, but not thrown away
])
def test_a_flow_without_its_words_gives_way(official_city_data, intent, text):
    assert routed_intent(intent, text, 0.9, triaged=True).get("intent") not in (intent, None)


@pytest.mark.parametrize("text", ["眠れなくて、ずっと死ぬことばかり考えてる", "住民票を出したい", "こんにちは",
                                  "ありがとう", "マイナ保険証の使い方は？",
                                  # greetings as typed: the dictionary catches only a piece of them (サン, こと)
                                  "ありがとさんです🙏", "あけおめ🎍ことよろ", "おけまる", "すきです", "きみは札幌すき？",
                                  # an item, but not to get rid of it
                                  "ぬいぐるみって洗濯機で洗っても平気？",
                                  # 車 in a sentence of its own is no item to get rid of
                                  "うちの前の道、雪がすごくて車が出せない。除雪お願いしたいんですけどどこに連絡すれば"])
def test_sentences_that_are_not_about_an_item_never_become_one(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.5, triaged=True).get("intent") != "ask_garbage_category"


@pytest.mark.parametrize("intent, text", [
    ("affirm", "はい"), ("deny", "いいえ"), ("stop", "やめる"), ("choose_date", "12月3日"),
    ("inform_address", "中央区南27条西10丁目"),  # an answer to the form's question
    ("inform_address", "064-0959"), ("inform_address", "3-5"), ("inform_address", "北10条西3丁目"),
    ("manage_booking", "大型ごみの予約をキャンセルしたい"), ("menu_bulky_booking", "ソファーを捨てたいので予約したい"),
    ("request_human", "あなたじゃなくて人と話したい"),
])
def test_answers_and_clear_requests_are_kept(official_city_data, intent, text):
    assert routed_intent(intent, text, 0.9, triaged=True) == {}


def test_an_address_that_is_a_question_gets_the_faq(official_city_data):
    assert routed_intent("inform_address", "豊平区役所ってどこ", 0.9, triaged=True)["intent"] == "menu_faq"


@pytest.mark.parametrize("intent, text", [
    ("ask_collection_day", "土曜日も区役所やってる？"),  # a weekday, but no garbage
    ("affirm", "ほいく園 入所 もうしこみ"),  # a question, not a yes
    ("edit_booking", "除雪センター 電話番号"),  # nothing to change
    ("ask_about_assistant", "札幌駅の周りで使える無料Wi-Fiスポットある？"),  # DIET's guess without the words
])
def test_diet_guesses_without_their_words_give_way(official_city_data, intent, text):
    assert routed_intent(intent, text, 0.9, triaged=True).get("intent") not in (intent, None)


@pytest.mark.parametrize("intent, text", [
    ("affirm", "はい"), ("affirm", "うん、お願いします"), ("deny", "いいえ"), ("edit_booking", "電話番号を直したい"),
    ("inform_address", "真駒内"), ("ask_collection_day", "燃えるごみは何曜日？"),
])
def test_answers_with_their_words_stay(official_city_data, intent, text):
    assert routed_intent(intent, text, 0.9, triaged=True) == {}


@pytest.mark.parametrize("text, intent", [("ごみの出し方", "menu_garbage"), ("よくある質問", "menu_faq"),
                                          ("大型ごみの申込", "menu_bulky_booking"), ("「ごみの出し方」", "menu_garbage")])
def test_a_menu_title_typed_is_that_menu(official_city_data, text, intent):
    decision = routed_intent("menu_faq", text, 0.9, triaged=True)
    assert decision.get("intent", "menu_faq") == intent


@pytest.mark.parametrize("intent", ["inform_address", "menu_faq", "nlu_fallback"])
def test_an_address_with_a_collection_question_is_a_collection_day_question(official_city_data, intent):
    text = "中央区南3条西5丁目の燃えるゴミの日っていつ"
    assert routed_intent(intent, text, 0.9, triaged=True).get("intent", intent) == "ask_collection_day"


@pytest.mark.parametrize("intent, text, expected", [
    ("nlu_fallback", "オーブンレンジ壊れた", "ask_garbage_category"),  # the state of a thing to get rid of
    ("nlu_fallback", "教科書もう使わない", "ask_garbage_category"),
    ("nlu_fallback", "ざぶとん", "ask_garbage_category"),  # a short name the dictionary half knows
    ("nlu_fallback", "かれは", "ask_garbage_category"),  # 枯葉 in kana: the は is part of the name
    ("nlu_fallback", "部活で使ってたバット折れた", "ask_garbage_category"),  # broken, named fairly well: asked which
    ("nlu_fallback", "街灯が壊れてる", "not sorting"),  # broken, but no dictionary item: a report for the city
    ("nlu_fallback", "マンホールのふたが割れてる", "not sorting"),
    ("ask_garbage_category", "新しい掃除機のおすすめある？", "not sorting"),  # another purpose
    ("ask_garbage_category", "クレジットカードなくしたんだけどどうすればいい", "not sorting"),
    ("ask_collection_day", "小樽市のごみの収集日を教えて", "out_of_scope"),  # another city's matter
    # no longer used, worn out, what is left in it, getting it ready, told after the name with or without a space
    ("nlu_fallback", "原付 もう乗らない", "ask_garbage_category"),
    ("nlu_fallback", "イヤホン断線した", "ask_garbage_category"),
    ("nlu_fallback", "傘の骨が折れた", "ask_garbage_category"),
    ("nlu_fallback", "マニキュア 中身ほとんどない", "ask_garbage_category"),
    ("nlu_fallback", "ブラウン管テレビ 実家にある", "ask_garbage_category"),
    ("nlu_fallback", "コンビニ弁当の容器 洗った方がいい？", "ask_garbage_category"),
    # the size or kind after the name
    ("nlu_fallback", "羽毛布団 シングル", "ask_garbage_category"),
    ("nlu_fallback", "ピアノ アップライト", "ask_garbage_category"),
    ("nlu_fallback", "ソファ 3人掛け", "ask_garbage_category"),
    ("inform_address", "衣装ケース 3段", "ask_garbage_category"),
    ("nlu_fallback", "ホットカーペット2畳用", "ask_garbage_category"),
    ("nlu_fallback", "ピアノ 習いたい", "not sorting"),  # a wish, not a state
    ("nlu_fallback", "自転車 盗まれたかも", "not sorting"),  # 盗: another purpose
])
def test_states_purposes_and_places(official_city_data, intent, text, expected):
    got = routed_intent(intent, text, 0.9, triaged=True).get("intent", intent)
    assert got != "ask_garbage_category" if expected == "not sorting" else got == expected


@pytest.mark.parametrize("intent, text", [("ask_garbage_category", "ソファーを捨てたいので予約したい"),
                                          ("menu_faq", "ごみの回収を予約したい、ベッドのマットレス"),
                                          ("ask_garbage_category", "大型ごみを出したいです。ソファー1つです"),
                                          ("ask_garbage_category", "粗大ごみ回収たのみたい。たんす"),
                                          ("nlu_fallback", "おおがたごみ すてたいです")])
def test_a_garbage_booking_in_words_opens_the_booking(official_city_data, intent, text):
    assert routed_intent(intent, text, 0.9, triaged=True).get("intent") == "menu_bulky_booking"


@pytest.mark.parametrize("text", ["ソファーは大型ごみですか", "ソファーを大型ごみで出したい。申し込みは必要？",
                                  "大型ごみの出し方を知りたい", "テレビを大型ごみで出せますか"])
def test_no_wish_to_put_out_bulky_garbage_is_no_booking(official_city_data, text):
    assert routed_intent("ask_garbage_category", text, 0.9, triaged=True).get("intent") != "menu_bulky_booking"


@pytest.mark.parametrize("text", ["北区屯田5条 ざつがみ いつ", "中央区宮の森2条のプラの日", "屯田8条のかん びん",
                                  "064-0959 びん缶の日", "雑がみはいつ"])
def test_an_address_or_a_when_beside_a_category_asks_for_collection_days(official_city_data, text):
    assert routed_intent("menu_faq", text, 0.9, triaged=True).get("intent") == "ask_collection_day"


@pytest.mark.parametrize("intent, text", [("menu_garbage", "燃えるごみの出し方"), ("menu_garbage", "生ごみの捨て方を教えて"),
                                          ("nlu_fallback", "ボタン電池"), ("nlu_fallback", "加熱式たばこ"),
                                          ("nlu_fallback", "アイコス壊れた"), ("menu_faq", "使わなくなったグロー")])
def test_a_kind_of_garbage_or_a_name_only_the_guide_knows_is_a_sorting_question(official_city_data, intent, text):
    assert routed_intent(intent, text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", ["腐った玉ねぎ", "食べ残しのカレー", "物干し竿 長いやつ", "アルバム 写真ごと",
                                  "犬が噛んでボロボロにしたぬいぐるみ", "子どもが小さい頃に遊んでたおもちゃ"])
def test_food_by_its_name_and_things_described_are_sorting_questions(text):
    from bot.nlu.evidence import sorting_question
    assert sorting_question(text)


@pytest.mark.parametrize("text", ["ゆきかき の すのうだんぷ われました", "せんてい ばさみ さびて つかえません",
                                  "にわ の うえき の えだ を きりました"])
def test_older_peoples_polite_states_are_disposal_words(official_city_data, text):
    """Typed word by word, politely: われました, さびて つかえません, (枝を) きりました."""
    from bot.nlu.evidence import sorting_question
    assert sorting_question(text)


@pytest.mark.parametrize("text", ["好きな食べ物は？", "好きな野菜は？", "玉ねぎ", "トマト缶"])
def test_a_food_by_its_name_alone_is_no_garbage_question(text):
    from bot.nlu.evidence import sorting_question
    assert not sorting_question(text)


@pytest.mark.parametrize("text", ["お菓子の包装紙", "ペットボトルのラベルはがしたやつ"])
def test_a_guide_word_after_the_last_no_is_named(text):
    """「お菓子の包装紙」: the guide names 包装紙; what comes before の says whose."""
    from bot.nlu.evidence import sorting_question
    assert sorting_question(text)


@pytest.mark.parametrize("text", ["ケンタッキーの骨は何ごみ", "ハワイのお土産の箱 何ごみ"])
def test_a_bare_place_name_before_an_item_is_a_sorting_question(official_city_data, text):
    """A place's name without 市/区/町 before the item says what the thing is (a brand, a souvenir)."""
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", ["小樽市のごみの収集日", "東京都の粗大ごみ"])
def test_another_municipality_stays_out_of_scope(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "out_of_scope"


@pytest.mark.parametrize("text", ["フライパン こげついた", "ねんど かたまっちゃった", "手鏡わっちゃった",
                                  "いちごジャムのびん あらった", "ダンベル もうあきた", "習字のはんし",
                                  # outgrown, one of a pair lost (the other one is left to throw away)
                                  "メガネ度あわなくなった", "くつ サイズ合わない", "100均のピアス 片方なくした",
                                  # words in front that only say which one do not make the name a sentence
                                  "ちっちゃいころのほじょりんつきのじてんしゃ", "誕プレのつつみがみ びりびりにしちゃった",
                                  # variants of other categories with a weak word: asked back (紙製 or プラ製)
                                  "プリンたべたあとの入れ物どうすんの", "車のタイヤチェーンいらなくなった",
                                  "リモコンの単3でんち きれた"])  # a battery gone flat
def test_states_as_the_young_type_them(text):
    from bot.nlu.evidence import sorting_question
    assert sorting_question(text)


@pytest.mark.parametrize("text", [
    # a guess at the category, by its day or its name alone, with no disposal word
    "ジャムの空きびん 洗ったけど資源の日でいい？", "粉ミルクの缶 からっぽ 資源の日でいい？",
    "えーとお風呂で使ってたプラスチックの洗面器がひび入ったんだけどこれってプラの日に出せばいいのかな",
    "靴墨のチューブ 金属のやつ これもプラ？", "卵のパックとお肉のトレイ、どっちもプラでいいの？",
    # whether the thing may go out on the day the citizen names
    "あのさ今日燃えないごみの日だと思うんだけどこの壊れたドライヤーも一緒に出していいのかな",
    # typed all in katakana (half-width)
    "ｶｾｯﾄﾃｰﾌﾟ ﾀｸｻﾝ ﾃﾞﾃｷﾀ ﾄﾞｳｽﾃﾙ?", "ﾌﾟﾛﾊﾟﾝｶﾞｽﾎﾞﾝﾍﾞ ﾌﾙｲﾉｶﾞ ﾋﾄﾂ ｱﾙ ﾄﾞｺﾆﾀﾞｽ",
    "ふすまと障子 張り替えないでもう外す",
])
def test_sorting_questions_without_a_disposal_word(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", ["プラの日はいつ？", "燃えないごみの日は何曜日に出していい？", "ごみって朝何時までに出せばいいの"])
def test_a_day_asked_is_no_sorting_question(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") != "ask_garbage_category"


@pytest.mark.parametrize("text", [
    # what people say of a thing they want rid of, without a disposal word
    "ベランダに敷いてた人工芝 色あせた", "家のスキャナー ふるくてパソコンが認識しなあ", "ちらし寿司作る寿司桶 ひび入っちゃた",
    "庭に生えてきた竹 切ったんだけど", "子どもの野球のトロフィー 飾るとこないからさ", "庭に敷いてた枕木 撤去した",
    "カセットボンベ 鍋で使い切ったやつ みんなどうしてる？", "昔のビデオカメラ 充電器もない", "配られた電話帳 誰も使わない",
])
def test_what_people_say_of_a_thing_they_want_rid_of(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", ["しょうがいしゃ すまほ そうだん", "卵のパックってどうして10個入りなの"])
def test_a_name_with_other_words_is_no_sorting_question(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") != "ask_garbage_category"


@pytest.mark.parametrize("text", [
    "豆腐の容器は洗ってからプラスチックの日に出せばよろしいですか？",
    "車の雪落とすスノーブラシ 毛が抜けてきたから替える",
])
def test_which_days_garbage_a_thing_is(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


def test_a_kinds_day_without_a_thing_stays_a_collection_day_question(official_city_data):
    assert routed_intent("nlu_fallback", "燃えないごみは何の日に出せばいいですか", 0.9, triaged=True).get("intent") \
        != "ask_garbage_category"


@pytest.mark.parametrize("text", [
    "わりばし🥢", "サングラス😎", "コットン?",  # a name with an emoji or a question mark
    "タイヤチェーン もう使わん", "電子れんぢ 動かん", "スケート靴ちっちゃくなったべさ",  # Hokkaido and casual
    "蛍光灯、まっすぐで長い", "部活のリュック、もうボロい", "目薬の入れ物 ちっちゃいの",  # what it is like
    "勉強机、ばらさないとだめ？", "おしぼりの袋も分けるの？めんどい",
    "コンビニでもらったプラのスプーン、使ったあとどれに入れればいい？",  # which bin
    "チャリ🚲 パンクしたまま放置してた", "ふとん 引っ越しで", "テニスのラケット 部活で使ってた",
    "冷蔵庫…あ、まちがえた、冷凍庫のほう", "カップ麺のいれもの",
    "なるほどです。じゃあ殺虫剤のスプレー缶は？", "ありがと！ついでに、シャンプーの空ボトルは？",  # after a thank-you
])
def test_short_phone_messages_are_sorting_questions(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", [
    # a thing described for want of its name (the described entries of question_patterns.yml read it)
    "名前が出てこないんだけど、ポリタンクの灯油を吸い上げるシュポシュポするやつ", "お花をさす緑のスポンジ、なんて言うんだっけ",
    # a state said with だらけ after the name
    "こたつ布団 毛玉だらけ", "長ぐつ どろだらけ",
    # or by its colour
    "せんべいの袋、内側が銀色", "スナック菓子の袋 中がぎんいろ",
])
def test_a_thing_described_for_want_of_its_name_or_by_its_state(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", [
    # the variant it is not, said after the name (「XじゃなくてY」)
    "カイロ 充電のやつ…じゃなくて使い捨てのほう", "ゲーム機 switchじゃなくて昔のDS",
    # a short name typed a little wrong, one category, and why it goes
    "けしごも ちびて使えん",
    # 片付けたい with a thing the dictionary knows
    "庭で花壇の仕切りに使ってた枕木を片付けたい",
])
def test_the_variant_meant_and_a_name_typed_a_little_wrong_are_sorting_questions(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", ["ばす まだこない どこにいるの"])  # ばす is a word of its own, no typo of ベビーバス
def test_a_two_kana_word_is_no_typo_of_an_item(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") != "ask_garbage_category"


@pytest.mark.parametrize("text", ["区役所の名前なんだっけ", "あなたの名前は？", "名前の変更の手続き"])
def test_a_name_asked_for_is_no_sorting_question(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") != "ask_garbage_category"


@pytest.mark.parametrize("text", ["すーぷかれー おいしいとこ おしえて", "ベビーカーってどれ買えばいいのかわからん",
                                  "うちの前の道、雪がすごくて車が出せない。除雪お願いしたいんですけどどこに連絡すれば"])
def test_asking_about_other_things_is_no_sorting_question(official_city_data, text):
    assert routed_intent("nlu_fallback", text, 0.9, triaged=True).get("intent") != "ask_garbage_category"


def test_a_name_read_exactly_after_a_clause_is_a_sorting_question(official_city_data):
    """「プレゼント包んでた透明なラッピングフィルム」: the clause says which one; nothing else is asked."""
    assert routed_intent("nlu_fallback", "プレゼント包んでた透明なラッピングフィルム", 0.9, triaged=True).get("intent") \
        == "ask_garbage_category"


def test_a_date_intent_needs_a_date_in_the_words(official_city_data):
    """DIET reads 「20本」 as a day; without a day the booking's date handling is no answer (it asked for a receipt)."""
    assert routed_intent("choose_date", "使いかけの単3電池が20本くらいあります", 0.56, triaged=True).get("intent") \
        == "ask_garbage_category"
    for typed in ("12月10日でお願いします", "あさって", "2月30日"):  # a day, or one the booking says is impossible
        assert routed_intent("choose_date", typed, 0.9, triaged=True) == {}


def test_which_kinds_day_a_thing_goes_out_on_is_a_sorting_question(official_city_data):
    assert routed_intent("ask_collection_day", "すすいだ納豆のプラ容器、何の日に出せばいい？", 0.9, triaged=True).get(
        "intent") == "ask_garbage_category"
    assert routed_intent("nlu_fallback", "燃えないごみは何の日に出すの", 0.9, triaged=True).get("intent") \
        == "ask_collection_day"  # no thing named: its day is asked


def test_the_day_of_a_thing_is_answered_with_its_kind_first(official_city_data):
    """「一升びんは何曜日に出せばいい」: the kind is the answer (its reply offers the days); a kind the city does not
    collect has no day. A thing that is its kind's name, or an address given, asks for the days."""
    for text in ("一升びんは何曜日に出せばいいですか", "いっしょうびん は なんようび に だせば いいですか",
                 "エアコン こわれた。ゴミの日に だせますか？", "新聞はいつ出すの",
                 "サッポロクラシックの空き缶いっぱい、何の日？"):  # (アルミ缶 or スチール缶: one kind)
        assert routed_intent("ask_collection_day", text, 0.9, triaged=True).get("intent") == "ask_garbage_category", text
    for text in ("ペットボトルの回収日", "スプレー缶の日はいつ", "電池の回収日は？", "東区栄町 ペットボトル", "缶の日はいつ",
                 "白石区菊水5条2丁目 ペットボトルの回収日"):
        assert routed_intent("ask_collection_day", text, 0.9, triaged=True) == {}, text


def test_may_it_go_out_as_it_is_is_a_sorting_question(official_city_data):
    assert routed_intent("nlu_fallback", "ティッシュの空き箱、ビニール付いたままでもいい？", 0.9, triaged=True).get(
        "intent") == "ask_garbage_category"


@pytest.mark.parametrize("text", ["荷造りのビニールひもの残り", "コンビニでもらうおしぼりの袋（ビニール）は？",
                                  "竹の釣り竿、祖父のもの", "枯れたさぼてん、鉢から抜いた",
                                  "ポケットティッシュの外側のビニール", "部屋の中で洗濯物を干す、自立するスタンドみたいなやつ"])
def test_a_name_with_what_is_said_of_it_is_a_sorting_question(official_city_data, text):
    """A name that ends in what the matcher cuts (ひも ends in も, 「の残り」), a note in brackets before は, whose it was
    after a comma, a name in hiragana after a clause: each was no sorting question before (twenty-ninth session)."""
    from bot.nlu.evidence import sorting_question
    assert sorting_question(text)
