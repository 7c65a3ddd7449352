"""What a message's words are evidence of: a garbage item, a collection day, a booking, the assistant
itself, distress. Pure functions over the normalised text (NFKC, lower case, ゴミ stays katakana), used by
the front door (bot/nlu/front_door.py) in the engine and by the action server's fallback, so both read a
message the same way. ``sorting_question`` asks the city's garbage dictionary (bot/knowledge/item_matcher.py).
"""

from __future__ import annotations

import re
from typing import Optional

import jaconv

from bot.knowledge.item_matcher import (EXACT_READING, FOUND_MARGIN, FOUND_MIN, PICTURES, ItemMatcher, MatchResult,
                                       as_the_matcher_reads, held_in, load_question_patterns, named_in_brackets,
                                       relative_heads, without_notes)
from bot.nlu.normalize import normalize_text
from bot.nlu.told import ASKED_OR_WISHED, said_as_a_note, told_pattern

SURE_ITEM = 0.9  # an item named without a disposal word must match the dictionary this well (typos aside)
MAX_PHRASE = 20  # longer "item phrases" are sentences the question patterns could not cut
MAX_CLAUSE_AND_NAME = 32  # 「コンロのまわりに立ててたスチールのレンジガード」: a clause, then a name read exactly
SHORT_NAME, CLOSE_ITEM = 12, 0.65  # a message this short that the dictionary matches this closely is an item
NAMED_SHARE = 0.3  # a name alone is mostly content words (not 「ありがとさんです🙏」, where only サン is one)

# Words that keep a message in the counseling flow when the gateway did not triage it (matched normalised).
DISTRESS = ("いじめ", "虐め", "苛め", "つらい", "辛い", "しんどい", "死", "消えたい", "殺", "叩", "殴", "蹴", "暴力",
            "虐待", "怖い", "こわい", "助けて", "たすけて", "悩", "なやみ", "無視", "学校", "先生", "親", "家に帰りたくない",
            "眠れない", "リスカ", "自傷", "被害", "痛い", "嫌がらせ", "ひとりぼっち", "寂しい", "さみしい")
# A 大型ごみ booking or a booking to manage: the object (大型ごみ, 受付番号) or a receipt number.
BOOKING_OBJECT = re.compile(r"大型|粗大|おおがた|そだい|受付番号|うけつけばんごう"
                            r"|(?<![0-9a-z])(?=[2-9a-z\s-]*[a-z])[2-9a-z]{4}[-\s]?[2-9a-z]{4}(?![0-9a-z])")
BOOKING_ACT = re.compile(r"予約|よやく|申し?込|もうしこ|申請|受付|キャンセル|取り?消|変更|日にち|日程")
# Wanting to put out 大型ごみ (「大型ごみを出したい」「粗大ごみ回収たのみたい」): the booking, whatever else the
# message says (「大型ごみを出したいです。ソファー1つです」 names its item too); 「ソファーは大型ごみですか」 is no wish.
BULKY_WISH = re.compile(r"(大型|粗大|そだい|おおがた)(ごみ|ゴミ)[をのでも]?\s*(出|だ|捨|す|処分|しょぶん|回収|かいしゅう|収集"
                        r"|引き?取|ひきと|持って|もって)[^。？?方]*?(たい|ほしい|欲しい|お願い|おねがい|頼|たの)")
# Managing a booking already made: its number, or what is done to it.
MANAGING = re.compile(r"受付番号|うけつけばんごう|キャンセル|取り?消|変更|変え|確認|日にち|日程|品目"
                      r"|(?<![0-9a-z])(?=[2-9a-z\s-]*[a-z])[2-9a-z]{4}[-\s]?[2-9a-z]{4}(?![0-9a-z])")
# Whether a booking is needed at all (「リビングボードを処分したい。大型ごみの申し込みは必要ですか」): the item's answer
# says so and offers the booking.
IF_NEEDED = re.compile(r"必要|要りますか|いりますか|(いる|要る)(の|か|[?？])|しないと|しなきゃ|しなければ|なくても|なくていい")
# Changing an answer at the booking's confirmation (「電話番号を直したい」); 「除雪センター 電話番号」 changes nothing.
EDITING = re.compile(r"直|なお|変え|変更|かえ|訂正|修正|間違|まちが|ちが|違")
# What an address is made of (「南区真駒内緑町3丁目」「064-0959」); 「中央バス 遅延」 has none of it.
ADDRESS_PARTS = re.compile(r"\d|条|丁目|番地|〒|町|区$|区\s|区の|[一二三四五六七八九十]+丁")
GARBAGE = re.compile(r"ごみ|ゴミ|捨て|すて|棄て")
# Asking a person: the words for one (DIET also says request_human for 「としょかん かしだし」).
PERSON = re.compile(r"人と|人に|人間|担当|職員|オペレーター|オペレータ|スタッフ|係の|有人|人がいい|人につな|電話で話"
                    r"|話したい|はなしたい|話せ|つないで|つなげて|代わって|かわって")
# A collection day: the day itself, not how to sort (「何ごみ」 is sorting, 「何曜日」 a day).
COLLECTION_DAY = re.compile(
    r"収集日|しゅうしゅうび|回収日|かいしゅうび|収集の日|回収の日|ごみの日|ゴミの日|ごみ(の)?日|ごみだし日|ごみ出し日"
    r"|ごみカレンダー|ゴミカレンダー|収集カレンダー|ごみ収集|ゴミ収集")
# 「何曜日」「いつ」「の日」 ask for a day only beside a garbage word (「土曜日も区役所やってる？」 does not).
DAY_WORDS = re.compile(r"何曜|なんよう|なに曜|曜日|ようび|の日|いつ|(収集|回収)(する|され|に来|しに来|の時間)")
# An address given with a category (「屯田8条のかん びん」「064-0959 びん缶の日」) asks for its collection days.
PLACE = re.compile(r"条|丁目|〒|\d{3}-?\d{4}|[東西南北中央白石厚別豊平清田手稲]区")
CATEGORY_WORDS = re.compile(r"ごみ|ゴミ|燃やせ|燃え|もえ|もやせ|不燃|可燃|びん|ビン|瓶|缶|かん|カン|ペット|プラ|ぷら|雑がみ|雑紙"
                            r"|ざつがみ|紙ごみ|枝|葉|草|資源|スプレー|ボンベ|電池|ライター")
SORTING_HOW = re.compile(r"何ごみ|なにごみ|何ゴミ|なにゴミ|なんごみ|分別|ぶんべつ|分け方|捨て方|すてかた|出し方|だしかた"
                         r"|処分|廃棄|何の?ごみ")
# Disposal: strong words say so whatever follows; weak ones (出したい, どうすれば) only with a known item
# (「住民票を出したい」 is not about garbage).
DISPOSAL_STRONG = re.compile(r"出し方|だしかた|捨て|すて(たい|る|ます|ても|れ|よう|方|かた|て)|棄て|ごみ|ゴミ|分別|ぶんべつ|分け方|処分|しょぶん"
                             r"|廃棄|廃車|なげ(たい|る|て|ます|れ|かた|よう)|投げ(たい|る|て|ます|れ|方|よう)|回収|引き?取"
                             r"|燃やせ|燃え|もえ(る|ない)|もやせ|不燃|可燃|資源|容器プラ|雑がみ|雑紙|ざつがみ")
DISPOSAL_WEAK = re.compile(r"出し|出せ|出す|出して|だし|だせ|だす|どうすれば|どうしたら|どうやって|どうする|どこに|どこへ"
                           r"|どこ(?=\s*[?？]*$)"  # 「カップ焼きそばのかやくの小袋 どこ？」
                           # 「カセットボンベ 使い切ったやつ みんなどうしてる？」「トロフィー 飾るとこないからさ」「枕木 撤去した」
                           r"|どうして(る|ます|います)|(置く|飾る|しまう|仕舞う)\s*(とこ|ところ|場所)|置き場|場所がない|邪魔|じゃま"
                           r"|撤去|取り壊|とりこわ|色あせ|色褪せ|ひび|ヒビ|切った|切りました|山ほど|やまほど|ふるく|古くて"
                           r"|(片付|片づ|かたづ)け(たい|ます|る|よう)"  # 「…使ってた枕木を片付けたい」
                           r"|(?<!着)(替え|かえ)(る|ます|た)(?!い)|焦げ|こげ"
                           r"|持ち込|持って(行|い)"
                           # 「勉強机、ばらさないとだめ？」「おしぼりの袋も分けるの？」「どれに入れればいい？」 (which bin)
                           r"|ばらさ|ばらす|ばらし|解体|(分け|わけ)(る|な|ます)|(どれ|どっち|どちら|何|なに)に\s*(入れ|いれ)"
                           # Hokkaido and casual negatives and states (「タイヤチェーン もう使わん」「電子レンジ 動かん」「リュック もうボロい」)
                           r"|(使わ|つかわ|使え|つかえ|動か|うごか|映ら|うつら)ん|(ボロ|ぼろ)(い|く)|放置|(小さ|ちいさ|ちっちゃ|きつ)くな"
                           # why it goes now (「ふとん 引っ越しで」)
                           r"|(引っ越し|引越し|ひっこし|引っ越す|大掃除|断捨離)(で|する|のため|の前)"
                           # the state of a thing one wants rid of (「オーブンレンジ壊れた」「教科書もう使わない」)
                           r"|いらな|要らな|いらん|不要|使わな|つかわな|使えな|つかえな|壊れ|こわれ|割れ|われた|われちゃ|切れた|破れ"
                           r"|やぶれ|穴|余っ|あまっ|余り|あまり|枯れ|かれた|しぼんだ|劣化|出てきた|外し|はずし|集め|大量|どうしよう|買い替え"
                           r"|腐っ|くさっ|カビ|かび|傷んだ|いたんだ|食べ残|期限切れ"
                           r"|いっぱい|たくさん|沢山"
                           # as it is (「ビニール付いたままでもいい？」「中身入ったままで大丈夫？」)
                           r"|まま\s*(で|でも)\s*(いい|良い|よい|大丈夫|平気|ok|オッケー|おk)"
                           r"|折れ|おれた|おれちゃ|曲がっ|まがっ|破け|やぶけ|欠け|かけちゃ|錆|さびた|汚れ|よごれ|古く|古い|ふるい|膨ら|ふくら"
                           r"|使い終わ|使いおわ|使い切|使いき|つかいき|空にな|期限切れ|期限が切れ|はがれ|剥がれ|はがし|剥がし|しおれ|萎れ"
                           r"|交換し|取り替え|とりかえ|取り外|外す|はずす|だめにな|ダメにな|動かな|うごかな|映らな|つかなくな|壊し|こわし|割っ"
                           r"|残っ|のこっ|たまっ|溜ま|[0-9０-９何十百数]+(枚|本|台|個|箱|袋|着|冊|足|脚|セット)"
                           r"|ガス抜|抜いて|洗って|つぶ|(って|は)(プラ|粗大|大型|資源)"
                           # no longer used (「原付 もう乗らない」「制服もう着ない」), worn out (「イヤホン断線した」「車輪とれた」),
                           # what is left in it (「マニキュア 中身ほとんどない」), getting it ready (「容器 洗った方がいい？」)
                           r"|もう[^\s、。]{1,6}?(ない|なく|ません)|断線|取れ(た|ちゃ)|とれ(た|ちゃ)|剥げ|はげ(た|ちゃ|て)|ボロボロ"
                           r"|ぼろぼろ|中身|(た|だ)(方|ほう)がいい"
                           # as the young type it (「フライパン こげついた」「ねんど かたまった」「だんべる あきた」「どうすんの」)
                           r"|どうすん|こげつ|焦げつ|焦げ付|へこんだ|凹んだ|かたまっ|固まっ|かたくなっ|固くなっ|あきた|飽きた"
                           r"|たまり|たまる|溜まる|のみおわ|飲み終わ|たべおわ|食べ終わ|からっぽ|空っぽ|捨てていい|すてていい"
                           r"|(飲ん|のん|食べ|たべ)だ?(あと|後)|われて|わっちゃ|かれちゃ|あらっ|洗っ|ボサボサ|ぼさぼさ"
                           # as older people write it, politely (「すのうだんぷ われました」「ばさみ さびて つかえません」)
                           r"|われま|割れま|おれま|折れま|さびて|錆びて|つかえま|使えま|いりません|要りません|つかいません"
                           r"|使いません|(を|も)\s*(切|き)(りま|った)"
                           # outgrown (「メガネ度あわなくなった」「くつ サイズ合わない」), one of a pair lost (「ピアス 片方なくした」)
                           r"|合わなくな|あわなくな|(サイズ|度)が?(合わ|あわ)|片方|かたほう|片っぽ|かたっぽ|燃えかす|もえかす|燃えがら|もえがら"
                           r"|びりびり|ビリビリ|(電池|でんち|充電|インク|電球|ガス)が?\s*(きれ|切れ)"
                           # the same way as another thing (「電気毛布 … 普通の毛布と同じでいいの？」)
                           r"|と\s*(同じ|おなじ)(で|扱い|あつかい|ように)"
                           # as it is, or together with another (「ビニールついたままでいい？」「グロー球も一緒でいい？」)
                           r"|(まま|一緒|いっしょ)\s*(で|に)\s*(いい|良い|よい|大丈夫|出し|だし|捨て|すて)"
                           r"|(一緒|いっしょ|同じ)の?\s*(袋|ふくろ)\s*(で|に)")  # 「…と…って一緒の袋でいい？」
# The citizen does not know the thing's name and describes it (「名前わからないけど、…するやつ」「…って言うんだっけ」).
# a message that ends in the thing it describes (「…干す、自立するスタンドみたいなやつ」「…ヘラがついてるやつ」)
_A_THING_DESCRIBED = re.compile(r"(やつ|もの|物|道具|どうぐ|機械|きかい)(です)?[\s。!！]*$")
NAME_FORGOTTEN = re.compile(r"名前|なまえ|なんだっけ|何だっけ|なにこれ|何て(言|い)う|なんて(言|い)う|なんていう|何という"
                            r"|って(言|い)う(んだ|ん|の)(っけ|かな)|って(言|い)(います|ったっけ)")
# A thing that broke or is used up (「部活で使ってたバット折れた」): with an item the dictionary knows fairly well, a
# sorting question even when the name is not typed exactly (the answer says what it read, or asks which one).
BROKEN = re.compile(r"壊れ|こわれ|割れ|われた|われちゃ|折れ|おれた|おれちゃ|破れ|やぶれ|破け|やぶけ|欠け|かけちゃ"
                    r"|さびさび|サビサビ|錆びだらけ|さびだらけ|サビだらけ|錆だらけ"
                    r"|使い終わ|使いおわ|使い切|使いき|つかいき|動かな|うごかな|映らな|つかなくな"
                    r"|すり減|すりへ|擦り減|劣化|錆び|さびた|さびちゃ|ひび割れ|ヒビ割れ|ボロボロ|ぼろぼろ")  # worn out too
# Another purpose than getting rid of it (「新しい掃除機のおすすめある？」「クレジットカードなくした」): not a
# sorting question unless a strong disposal word says so.
OTHER_PURPOSE = re.compile(r"おすすめ|オススメ|買いたい|買おう|買う|かいたい|購入|修理|直し|なおし|欲しい|ほしい|借り|貸し|売り|売れ|売る"
                           r"|値段|価格|安い|使い方|なくし|無くし|失くし|落とし(?!て\s*(割|わ|壊|こわ|ひび|欠|かけ|曲|まが))|紛失|盗|探し|さがし|どこで買|選び|作りたい|作れ"
                           r"|つくりたい|申請|手続"
                           # sending it (「ゆうパックって何時までに出せば」) or caring for it (「洗濯機で洗っても平気？」)
                           r"|送り|送る|送っ|送れ|発送|郵送|届く|届か|着く|(明日|あした|今日|きょう)(中に)?(つく|着)"
                           r"|洗濯機で|洗える|洗っても|クリーニングに|手入れ"
                           r"|掃除の?(仕方|方法|しかた|やり方)"
                           # why, not how to get rid of it (「卵のパックってなんで10個入りなの」)
                           r"|なんで(?!す|しょう)|なぜ|どうして(?!る|ます|います|いる)")  # not 「…くらいなんですが」
# One of a pair lost (「手袋 片方なくした」): the other one is what is left to throw away, not a lost thing to find.
PAIR_LOST = re.compile(r"(片方|かたほう|片っぽ|かたっぽ)(だけ)?[をがは]?\s*(なくし|無くし|失くし|なくなっ|無くなっ|落とし)")
# The assistant itself: who or what it is, who made it.
ABOUT = re.compile(
    r"(あなた|貴方|きみ|君|おまえ|お前|このチャット|チャット|ボット|(?<![a-z])(bot|ai)(?![a-z])|ロボット)"
    r".{0,8}(人間|にんげん|人なの|人です|人が|本物|誰|だれ|何者|なにもの|ロボット|(?<![a-z])ai(?![a-z])|名前|なまえ"
    r"|作っ|つくっ|運営|機械)"
    r"|これ(って|は)?(誰|だれ)が|中の人|(人間|にんげん)(ですか|なの|が答え|が返|が打)|(誰|だれ)が(作|つく|答え|返事|運営|書い)")
# Asking for a person (「あなたじゃなくて人と話したい」) is not a question about the assistant.
WANTS_PERSON = re.compile(r"話したい|話せ|はなしたい|つな|代わ|かわって|替わ")
# Greetings, thanks and acknowledgements as people type them (「ありがとさんです」「あけおめ」「おけまる」): a chat
# word that begins a message without a disposal word is never an item's name.
_END = r"(?=$|[\s、。,.!！?？〜~ー])"
_PATTERNS = load_question_patterns()  # its named words: states, amounts, corrections, endings (cached, the matcher's)
# (two characters must follow, not one: 「ありがとう!!」 stays a thank-you, where the matcher's `leading` cuts the opener
# before any letter)
_THANKS_FIRST = re.compile(f"^(?:{_PATTERNS.thanks_opener})(?=\\S{{2}})")
CHAT_WORD = re.compile(r"^(ありがと|有難|有り難|あざ[すっま]|さんきゅ|サンキュ|thank|thx|あけおめ|ことよろ|おけ(まる|おけ|です)"
                       r"|おっけ|オッケ|りょ" + _END + r"|りょうかい|了解|よろしく|宜しく|よろ" + _END + r"|おつかれ|お疲れ"
                       r"|おつ" + _END + r"|こんにち|こんばん|おはよ|おやすみ|ばいばい|バイバイ|またね|どうも|はーい"
                       r"|(はい|うん|いいね|すごい|やばい|すき|好き|だいすき|大好き|笑|w+)" + _END
                       + r"|(すき|好き|だいすき|大好き)(です|だよ|だ|かも)|おめでと|hello)")
QUESTION = re.compile(r"どこ|何時|なんじ|いつ|ですか|ますか|教えて|知りたい|[?？]|って$|なに|何")


def looks_like_address(text: str) -> bool:
    return bool(ADDRESS_PARTS.search(_evidence_text(text)))


def question(text: str) -> bool:
    """A question, not an address given as an answer (「豊平区役所ってどこ」)."""
    return bool(QUESTION.search(_evidence_text(text)))


_KATAKANA_ONLY = re.compile(r"[ァ-ヺー\s0-9a-z、。,.!?！？]+")


# Emoji and pictographs (「わりばし🥢」「サングラス😎」) say nothing about the thing; 〒 is part of an address.
_PICTURES = re.compile(f"[{PICTURES}\u200d\ufe0f]")  # with the joiner and the emoji variation selector


def _evidence_text(text: str) -> str:
    """The text as the patterns read it: normalised, without emoji, and without a thank-you or an 「了解です」 that
    opens a question (「ありがと！ついでに、シャンプーの空ボトルは？」 asks about the bottle, it is no chat), and without
    the variant the citizen says it is not (「カイロ 充電のやつじゃなくて使い捨てのほう」)."""
    return said_as_a_note(_PATTERNS.without_the_one_not_meant(
        _THANKS_FIRST.sub("", _PICTURES.sub(" ", normalize_text(text)).strip())))


def _words_of(norm: str) -> str:
    """Where the word patterns look: ``norm``, and a message typed all in katakana (「ｶｾｯﾄﾃｰﾌﾟ ﾀｸｻﾝ ﾃﾞﾃｷﾀ ﾄﾞｳｽﾃﾙ?」, as
    some phones and older people type) in hiragana too, so that its words (すてる, どこにだす) are seen."""
    if _KATAKANA_ONLY.fullmatch(norm) and re.search(r"[ァ-ヺ]", norm):
        return norm + "\n" + jaconv.kata2hira(norm)
    return norm


def about_assistant(text: str) -> bool:
    """「あなたは人間ですか」「これ誰が作ったの」: a question about the assistant itself."""
    norm = _evidence_text(text)
    return bool(ABOUT.search(norm)) and not WANTS_PERSON.search(norm)


# 「ピーラーって燃えないごみの日？」「のりの缶はびん缶の日？」: an item named first, then a category's day as the
# citizen's guess at its sorting; a day is asked only with いつ/何曜 (「ペットボトルは何曜日？」).
CATEGORY_GUESS = re.compile(r"((って|は|も)\s*[^\s]{1,12}?(の日|の収集日|の回収日|の曜日)(で(いい|良い|あって|合って|大丈夫))?"
                            # 「納豆のパック … プラの日に出していい」「敷布団 … 普通のごみの日に出していい」
                            r"|[^\s]{1,12}?の日に\s*(出して|だして|出し|だし|捨てて|すてて)(も)?\s*(いい|良い|よい|大丈夫|ok|OK)?(の|んですか)?"
                            # 「ヨーグルトのアルミのふた 容器と一緒にプラでいい」
                            r"|(燃やせない|燃えない|もえない|燃やせる|燃える|もえる|不燃|可燃|プラ|ぷら|資源|雑がみ|雑紙|びん|缶|粗大|大型)"
                            r"(ごみ|ゴミ)?\s*(で|に|へ)\s*(出して|だして|捨てて|すてて)?(も)?\s*(いい|良い|よい|大丈夫|ok|OK|あって(る|ます)?)"
                            # 「ジャムの空きびん 洗ったけど資源の日でいい？」「洗面器…これってプラの日に出せばいいのかな」
                            r"|(燃やせない|燃えない|もえない|燃やせる|燃える|もえる|不燃|可燃|プラスチック|プラ|ぷら|資源|雑がみ|雑紙|びん|缶)(ごみ|ゴミ)?の日"
                            r"\s*(で|に)?\s*(出して|だして|出せば|だせば|捨てて|すてて|捨てれば|すてれば)?(も)?\s*(いい|良い|よい|よろしい|大丈夫|ok|OK)"
                            # 「湿布のフィルム プラ？」「タレの小袋ってプラ？」「これもプラ？」: the kind alone, asked
                            r"|((って|は|も)\s*|\s+)(これも|それも|どっちも|どちらも|両方)?\s*(プラ|ぷら)(ごみ|ゴミ)?(?=[\s]*[?？]|ですか|なの|かな|でしょうか))"
                            r"(ですか|なの|のかな|かな|でしょうか|んですか|んでしょうか|よね|の|か)?[\s?？!！。]*$")
DAY_ASKED = re.compile(r"いつ|何曜|なんよう|なに曜|何日|なんにち|曜日|今日|きょう|明日|あした|あす|明後日|あさって|今週|来週|週末"
                       r"|月曜|火曜|水曜|木曜|金曜|土曜|日曜|祝日|年末|年始")


# Whether a thing may go out (「今日燃えないごみの日だけど、壊れたドライヤーも一緒に出していいのかな」): about the thing,
# though a day is named; a day is asked only with a question word (「何曜日に出していい？」).
MAY_PUT_OUT = re.compile(r"(出し|だし|捨て|すて)て(も)?\s*(いい|良い|よい|大丈夫|ok)|[出だ]せ(る|ま)")
DAY_QUESTION = re.compile(r"いつ|何曜|なんよう|なに曜|何日|なんにち|何時|なんじ")


def may_put_out(text: str) -> bool:
    """「この壊れたドライヤーも一緒に出していいのかな」: may this thing go out (with that day's garbage)."""
    norm = _evidence_text(text)
    return bool(MAY_PUT_OUT.search(norm)) and not DAY_QUESTION.search(norm)


def dictionary_match(text: str) -> Optional[MatchResult]:
    """The garbage dictionary's reading of ``text``; None when no city data is loaded. The front door asks
    several questions of one message (sorting_question, day_of_a_thing, category_how_question): it is read once."""
    from bot.knowledge.citydata.store import CityDataNotLoaded
    from bot.knowledge.garbage_knowledge import matcher

    global _last_reading
    try:
        current = matcher()
    except CityDataNotLoaded:
        return None
    last = _last_reading  # one tuple, read once: another thread may replace it meanwhile
    if last is not None and last[0] is current and last[1] == text:
        return last[2]
    result = current.match(text)
    _last_reading = (current, text, result)
    return result


# The last message read and by which matcher: the questions about one message come one after another, and
# holding only the last reading lets a matcher replaced by reloaded city data go (an lru_cache kept 32 alive).
_last_reading: Optional[tuple[ItemMatcher, str, MatchResult]] = None


def day_of_a_thing(text: str) -> bool:
    """「一升びんは何曜日に出せばいい」「新聞はいつ出すの」: the day of a thing the dictionary names, not of a kind
    (「ペットボトルの回収日」「スプレー缶の日」: the thing is its category's name). Its kind is the answer first (a
    kind the city does not collect has no day), and the sorting answer offers the day."""
    if PLACE.search(_evidence_text(text)):
        return False  # 「東区栄町 ペットボトル」: an address given asks for that area's days
    found = dictionary_match(text)
    if found is None:
        return False  # no dictionary: a day asked is a collection-day question
    one_kind = found.status == "ambiguous" and len(found.candidates) > 1 \
        and len({c.item.category for c in found.candidates}) == 1 and found.candidates[0].score >= FOUND_MIN
    # (「サッポロクラシックの空き缶」: アルミ缶 or スチール缶, read well; 「缶の日」 reads 缶 only loosely: a kind's day)
    if (found.status != "found" and not one_kind) or found.inside:
        return False
    kind = normalize_text(found.candidates[0].item.category)
    return not any(normalize_text(name) in kind for name in (found.phrase, found.candidates[0].item.name))


# The category a citizen guesses (「くつの箱は資源？」「お茶碗は燃えないごみ？」), as the dictionary names categories.
_RESOURCES = ("雑がみ", "びん・缶・ペットボトル", "容器包装プラスチック", "枝・葉・草", "集団資源回収など")
GUESSES = (
    (re.compile(r"燃やせない|もやせない|燃えない|もえない|不燃"), ("燃やせないごみ",)),
    (re.compile(r"(?<!な)(燃やせる|もやせる|燃える|もえる|可燃)"), ("燃やせるごみ",)),
    (re.compile(r"粗大|そだい|大型|おおがた"), ("大型ごみ",)),
    (re.compile(r"容器プラ|プラ|ぷら"), ("容器包装プラスチック",)),
    (re.compile(r"雑がみ|雑紙|ざつがみ|古紙"), ("雑がみ", "集団資源回収など")),
    (re.compile(r"びん|ビン|瓶|缶|かん|カン|ペット"), ("びん・缶・ペットボトル",)),
    (re.compile(r"資源|しげん"), _RESOURCES),
)


def guessed_categories(text: str) -> frozenset:
    """The categories the words of ``text`` guess, after the item (「〇〇は資源？」: every 資源 category)."""
    norm = _evidence_text(text)
    return frozenset(c for pattern, categories in GUESSES if pattern.search(norm) for c in categories)


# 「納豆のプラ容器、何の日に出せばいい？」: which kind's day a thing goes out on is what kind of garbage it is
KIND_OF_DAY = re.compile(f"(?:{_PATTERNS.kind_of_day})" r"に?\s*(出|だ|捨|すて)")


def category_guess(text: str) -> bool:
    """「ピーラーって燃えないごみの日？」: the citizen guesses the item's category by its day, or asks which kind's day
    (「何の日に出せばいい」); a sorting question when the words before the guess name an item (see front_door)."""
    norm = _evidence_text(text)
    return (bool(CATEGORY_GUESS.search(norm)) and not DAY_ASKED.search(norm) or bool(KIND_OF_DAY.search(norm))) \
        and not PLACE.search(norm)


# How to put out a kind of garbage (「燃えるごみの出し方」「生ごみはどうやって捨てる」), no item named.
HOW_TO = re.compile(r"出し方|だしかた|捨て方|捨てかた|すてかた|分け方|わけかた|出し(たい|ます|ていい)|出す(には|の|方法)"
                    r"|何ごみ|なにごみ|何ゴミ|なにゴミ|なんごみ"
                    r"|捨て(たい|る|ます)|すて(たい|る)|ルール|方法|どうやって|どうすれば|どうしたら")


def category_how_question(text: str) -> bool:
    """「燃えないごみの出し方」: how to put out one kind of garbage the dictionary names (not 大型ごみ, whose
    booking the FAQ and the booking flow explain), or a word of the sorting guide that names no item by itself
    (「生ごみの捨て方」); no item in the message and no day asked."""
    from bot.knowledge.garbage_knowledge import guide_word_in

    norm = _evidence_text(text)
    if not norm or not HOW_TO.search(norm) or DAY_ASKED.search(norm):
        return False
    found = dictionary_match(text)
    if found is None:
        return False
    phrase = found.phrase
    if phrase and not _only_category_words(phrase):
        return False
    return bool(guide_word_in(norm)) or named_category(norm) not in (None, "大型ごみ")


_CONTAINERS = {"缶", "かん", "カン", "びん", "ビン", "瓶", "プラ", "ぷら", "ペット"}


def _only_category_words(phrase: str) -> bool:
    """「雑紙」「プラごみ」「びん缶」: what the item phrase kept is the name of a kind of garbage, not of an item
    (「缶」「びん」 alone are items, of several kinds: asked back)."""
    if phrase in _CONTAINERS:
        return False
    for pattern, _ in GUESSES:
        phrase = pattern.sub("", phrase)
    return not re.sub(r"ごみ|ゴミ|類|[・/と\s]", "", phrase)


def named_category(text: str) -> Optional[str]:
    """The one kind of garbage ``text`` names (「燃えないごみ」 → 燃やせないごみ, 「雑紙」 → 雑がみ); None when it names
    none, several, or 資源 (a group of kinds)."""
    norm = _evidence_text(text)
    named = [categories for pattern, categories in GUESSES if pattern.search(norm)]
    return named[0][0] if len(named) == 1 and named[0] is not _RESOURCES else None


def collection_day_question(text: str) -> bool:
    """「燃えないごみの日がわからない」「ペットボトルの回収日」: about a day, not about how to sort."""
    norm = _evidence_text(text)
    asks_day = COLLECTION_DAY.search(norm) or ((DAY_WORDS.search(norm) or PLACE.search(norm))
                                               and CATEGORY_WORDS.search(norm))
    return bool(asks_day) and not SORTING_HOW.search(norm)


def booking_request(text: str) -> bool:
    """The message speaks of a 大型ごみ booking or a receipt number (「車検の予約」 does not)."""
    norm = _evidence_text(text)
    return bool(BOOKING_OBJECT.search(norm)) or (bool(BOOKING_ACT.search(norm)) and bool(GARBAGE.search(norm)))


def dictionary_loaded() -> bool:
    """Whether the city's garbage dictionary can be asked (without it nothing proves DIET's garbage guess wrong)."""
    from bot.knowledge.citydata.store import CityDataNotLoaded
    from bot.knowledge.garbage_knowledge import matcher

    try:
        matcher()
        return True
    except CityDataNotLoaded:
        return False


def sorting_question(text: str) -> bool:
    """A question about one garbage item: a dictionary item with a disposal word, the item's name alone, or
    an unknown item with a garbage word. Needs the city data; without it, False."""
    from bot.knowledge.garbage_knowledge import matcher

    norm = _evidence_text(text)
    if not norm:
        return False
    found = dictionary_match(text)
    if found is None or not found.phrase:
        return False
    words = _words_of(norm)
    strong, weak = bool(DISPOSAL_STRONG.search(words)), bool(DISPOSAL_WEAK.search(words))
    strong = strong or (found.status != "unknown" and category_guess(norm))  # 「のりの缶はびん缶の日？」
    if OTHER_PURPOSE.search(PAIR_LOST.sub("", norm)) and not strong:
        return False
    if found.status == "unknown":
        # 「ゴミ出しの方法」 names garbage in general, not an item the dictionary lacks.
        if strong:
            return len(found.phrase) <= MAX_PHRASE and not GARBAGE.search(found.phrase)
        if (weak or BROKEN.search(norm)) and 2 <= len(found.phrase) <= MAX_PHRASE and _guide_knows(found.phrase):
            return True  # 「アイコス壊れた」: a thing the sorting guide names, broken or unwanted
        return _named_by_the_guide(norm, found.phrase)  # 「ボタン電池」 alone: the sorting guide names it
    best = found.candidates[0].score
    leaders = {c.item.category for c in found.candidates if c.score >= best - FOUND_MARGIN}
    # 「いちごジャムのびん」: ジャムのびん or びん（ジャム…）, put out the same way, is as sure as one name
    sure = found.status == "found" or best >= SURE_ITEM or (best >= FOUND_MIN and len(leaders) == 1)
    if strong:
        return True
    if NAME_FORGOTTEN.search(norm) and (sure or (found.status == "ambiguous" and best >= FOUND_MIN)) \
            and not OTHER_PURPOSE.search(norm):
        return True  # 「なんだっけ、生け花でお花を挿す緑色のスポンジみたいなの」: a thing described for want of its name
    if sure and _A_THING_DESCRIBED.search(norm) and any(says.search(norm) for says, _ in matcher().patterns.described) \
            and not OTHER_PURPOSE.search(norm):
        return True  # 「部屋の中で洗濯物を干す、自立するスタンドみたいなやつ」: only what the thing does, and the matcher knew it
    if found.inside:  # a name inside a longer phrase (「名刺大量に」) says it is about that thing only with a
        return False  # disposal word: 「〇〇の手続き…」-like questions name things too
    if weak and sure:
        return True
    if weak and found.status == "ambiguous" and best >= FOUND_MIN and len(found.phrase) <= MAX_PHRASE:
        return True  # 「プリンたべたあとの入れ物どうすんの」: 紙製 or プラ製, asked back
    if BROKEN.search(norm) and found.candidates[0].score >= CLOSE_ITEM and len(found.phrase) <= MAX_PHRASE:
        return True  # 「部活で使ってたバット折れた」: バット (金属製 or 木製) is asked back
    if weak and best >= CLOSE_ITEM and len(leaders) == 1 and 3 <= len(found.phrase) <= SHORT_NAME:
        return True  # 「けしごも ちびて使えん」: a short name typed a little wrong, one category, and why it goes
    # Only a name (「あきかん」, 「家の電話機」): the dictionary must know it well, or any word would be an item;
    # a short name it only half knows (「ざぶとん」「勉強づくえ」) is asked back or answered as read.
    # 「コロコロ」「コットン」: adverbs to fugashi, but a name the dictionary knows exactly (one category)
    exact = (found.status == "found" or len(leaders) == 1) and best >= EXACT_READING
    if CHAT_WORD.search(norm) or (matcher().content_share(found.phrase) < NAMED_SHARE and not exact):
        return False
    # 「ドライバー(ネジ回し)」: a note in brackets says nothing more, unless the matcher read it with the name
    # (「バットの(金属)」 names the variant)
    plain = as_the_matcher_reads(held_in(norm if "(" in found.phrase else without_notes(norm)))
    if found.phrase not in plain:  # 「プッチンプリンのカップ(プラ)」 read as プラのプッチンプリンのカップ
        moved = as_the_matcher_reads(held_in(without_notes(matcher().with_material_first(norm))))
        plain = moved if found.phrase in moved else plain
    if named_in_brackets(norm, found.phrase):
        plain = found.phrase  # 「玄関の、コートをかけるスタンド(ポールハンガー)」: the words before the brackets describe it
    plain = _CORRECTED.split(plain)[-1]  # 「冷蔵庫…あ、まちがえた、冷凍庫のほう」: the name meant is the last one
    if (sure or (found.status == "ambiguous" and best >= FOUND_MIN)) and _named_then_described(plain, found.phrase):
        return True  # 「テニスのラケット 部活で使ってた」: 金属製 or not, asked back
    if found.status == "found" and best >= CLOSE_ITEM and len(plain) <= MAX_CLAUSE_AND_NAME \
            and _ends_with_the_item(plain, found.phrase) \
            and any(jaconv.kata2hira(_TAIL.sub("", head)).endswith(jaconv.kata2hira(found.phrase))
                    for head in relative_heads(plain)):
        # 「プレゼント包んでた透明なラッピングフィルム」「コンビニでもらうおしぼりの袋(ビニール)は?」: a name read, after a clause
        # that says which one
        return True
    short_and_close = len(plain) <= SHORT_NAME and found.candidates[0].score >= CLOSE_ITEM
    # (a note in brackets is no length of the name: 「セロテープのカッター台(プラスチックの)」)
    # (nor is what the matcher cuts after the name: 「ドレッシングの容器にPETマークがついてる場合は?」)
    named = matcher().without_what_follows(_TAIL.sub("", matcher().without_modifiers(without_notes(plain))))
    return (sure or short_and_close) and len(named) <= MAX_PHRASE and _ends_with_the_item(plain, found.phrase)


def _named_by_the_guide(norm: str, phrase: str) -> bool:
    """The message is only a name the dictionary lacks and the city's sorting guide names exactly (「ボタン電池」,
    「加熱式たばこ」), so the guide's answer fits; a chat word or a longer sentence is not a name."""
    plain = held_in(without_notes(norm))
    if len(phrase) < 2 or CHAT_WORD.search(norm) or len(plain) > MAX_PHRASE:
        return False
    from bot.knowledge.garbage_knowledge import guide_named

    named = guide_named(phrase, EXACT_READING)
    if named in _KITCHEN and not _SCRAPS.search(phrase):
        return False  # a food by its name alone (「好きな食べ物は？」) needs a word of its state or of throwing away
    return named is not None and _ends_with_the_item(plain, phrase)


# The guide's kitchen examples; a food's name is garbage only with a word of its state (「腐った玉ねぎ」) or of
# throwing it away, unless it names the scraps (「みかんの皮」「魚の骨」).
_KITCHEN = {"野菜・果物のくず", "残飯"}
_SCRAPS = re.compile(r"皮|芯|へた|ヘタ|種|くず|骨|殻|から|かす|カス|がら|残")


def _guide_knows(phrase: str) -> bool:
    """The city's sorting guide names ``phrase`` exactly (its words, or guide_synonyms.yml), or the word after its last
    の (「プレゼントの包装紙」)."""
    from bot.knowledge.garbage_knowledge import guide_named

    # 「加熱式タバコの本体」: the thing itself
    return any(guide_named(name, EXACT_READING) is not None for name in (phrase, _THE_THING_ITSELF.sub("", phrase)))


_THE_THING_ITSELF = re.compile(r"の?(本体|そのもの|自体)$")
_TOLD = told_pattern(_PATTERNS.states, _PATTERNS.amounts, _PATTERNS.dialect_endings)  # bot/nlu/told.py


def _named_then_described(norm: str, phrase: str) -> bool:
    """The message begins with the item's name alone, and the rest, after a space or a comma, tells what
    happened to it."""
    parts = re.split(r"[\s、,]+", norm, maxsplit=1)
    if len(parts) != 2:
        # 「イヤホン断線した」「傘の骨が折れた」: no space, the name then its verb (after が/は/も or none)
        told = re.match(re.escape(phrase) + r"(が|は|も)?(?P<rest>.{2,12})$", norm)
        if not told or not _TOLD.search(told.group("rest")) or ASKED_OR_WISHED.search(told.group("rest")):
            return False
        from bot.nlu.morphology import analyze

        return any(m.pos in ("動詞", "形容詞") for m in analyze(told.group("rest")))
    head, rest = parts
    from bot.knowledge.garbage_knowledge import matcher

    # 「昔のビデオカメラ 充電器もない」: the words in front that only say whose or which one are no part of the name
    named = jaconv.kata2hira(phrase) in (jaconv.kata2hira(head), jaconv.kata2hira(matcher().without_modifiers(head))) \
        or any(jaconv.kata2hira(phrase) in (jaconv.kata2hira(h), jaconv.kata2hira(matcher().without_modifiers(h)))
               for h in relative_heads(head) if head[:-len(h)].endswith(("た", "だ")))
    # (「コンビニでもらったわりばし」「仏壇の前に置いてた小さい机」: what befell it; 「雪を落とすブラシ」 says what it does,
    # which may name another thing than the word read)
    return named and (bool(_TOLD.search(rest)) or _ends_in_adjective(rest)) and not ASKED_OR_WISHED.search(rest)


def _ends_in_adjective(rest: str) -> bool:
    """「蛍光灯、まっすぐで長い」「リュック、もうボロい」「容器 ちっちゃいから洗うのめんどい」: what the thing is like."""
    from bot.nlu.morphology import analyze

    words = [m for m in analyze(rest.rstrip(" 。、!！w笑…〜~")) if m.pos not in ("助詞", "補助記号", "空白")]
    return bool(words) and words[-1].pos == "形容詞"


_KANA_ONLY = re.compile(r"[ぁ-ゖァ-ヺー\s]+")  # fugashi cuts kana-only names into anything (すいはんき)
_TAIL = re.compile(f"(だけ|のみ)?({_PATTERNS.the_one_meant})?" r"(は|って|も|なんだけど|ですが|です|ですか|かな|とか)?[\s、。,.!?！？〜~w笑]*$")
_CORRECTED = re.compile(f"({_PATTERNS.corrected})" r"[、,\s。!…]*" f"|の({_PATTERNS.not_that})" r"[、,\s]*")


def _ends_with_the_item(norm: str, phrase: str) -> bool:
    """The message names the item last, with nothing said about it (「使い終わったノート」, 「座布団は？」);
    「新しい冷蔵庫を買いたい」 goes on after the item, and a phrase with a verb or adjective of its own is a
    sentence the question patterns could not cut when it ends in one (「新しい掃除機のおすすめある」)."""
    from bot.nlu.morphology import analyze

    words = analyze(phrase)
    kana_name = len(words) >= 2 and words[-2].text == "の" and len(words[-1].text) >= 2 \
        and _KANA_ONLY.fullmatch(words[-1].text)  # 「習字のはんし」: はんし is no verb
    if words and not _KANA_ONLY.fullmatch(phrase) and words[-1].pos in ("動詞", "形容詞", "助動詞") and not kana_name:
        return False
    from bot.knowledge.garbage_knowledge import matcher

    # 「テレビ 32型」「ライター3本です」: how many, said after the name, says nothing more about it
    # 「ビニールひもの残り」: what the matcher cuts after the name (question_patterns.yml ``trailing``) says nothing more
    counted = matcher().without_what_follows(_TAIL.sub("", norm).strip())
    # a name typed in kana may end in what _TAIL takes for a particle (「かれは」 is 枯葉)
    # the phrase may hold a word in hiragana read as katakana (「習字のはんし」 → 習字のハンシ): compared kana-folded
    counted, norm, phrase = (jaconv.kata2hira(t) for t in (counted, norm, phrase))
    # (and a name may end in one: 「ビニールひも」)
    return any(text.endswith(phrase) for text in (counted, _TAIL.sub("", counted), norm.rstrip(" 、。,.!?！？〜~")))


def about_garbage(text: str) -> bool:
    """Any word of throwing away, sorting, collection or 大型ごみ: an FAQ answer about garbage needs one
    (「新しい冷蔵庫を買いたい」 names an appliance of the recycling law but is not about getting rid of it)."""
    norm = _evidence_text(text)
    return any(p.search(norm) for p in (DISPOSAL_STRONG, COLLECTION_DAY, BOOKING_OBJECT))


def distress(text: str) -> bool:
    norm = normalize_text(text)
    return any(word in norm for word in DISTRESS)
