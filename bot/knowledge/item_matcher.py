"""Which item of the city's garbage dictionary (ごみ分け辞典) is a citizen's question about?

    matcher = ItemMatcher(items, synonyms)            # once: about 0.5 s for the 986 items
    matcher.match("古いレンジを処分したいんですが")      # → found: 電子レンジ
    matcher.match("ハンガーは何ごみ？")                  # → ambiguous: ハンガー（金属製） / ハンガー（木製・プラ製）

How it works:

1. ``extract_item_phrase`` cuts the question down to the item ("ソファは何ごみ？" → "ソファ") with the
   patterns of data/garbage/question_patterns.yml, and cuts what citizens say about the item: a word of
   its own after it ("座布団 ゴミ"), the clause after the topic's は/って/だけ ("スプレ缶って穴あけないと
   だめ"), a clause after a comma or a space ("殺虫剤のスプレー、使い切ったんだけど"), a verb clause that
   ends the phrase ("お茶碗割れちゃった", "窓ガラスが割れた"). A phrase with no noun ("疲れた", "死ぬこと")
   or a conversation word ("はい", "ありがとう") names no item: "".
2. Every dictionary name, the parts of a combined name (こたつ・こたつ板 → こたつ, こたつ板), a name in
   parentheses (スキーキャリア（スキーハンガー）) and every synonym of data/garbage/synonyms.yml is a *key*.
   Keys and phrases are analysed by fugashi into a *loose* surface and a loose katakana reading, where
   hiragana/katakana, long vowels and small kana are folded: ソファ = ソファー = そふぁ, れいぞうこ = 冷蔵庫.
   Keys of different items that only loose() makes equal (アルミホイル / アルミホイール) keep their spelling.
3. The phrase is scored against the keys: same spelling (1.0), same reading (0.97), coverage of the
   phrase's words by the key and of the key by the phrase (partial names, extra words: アイスの棒 →
   アイスキャンデーの棒, 日傘 → 傘), and rapidfuzz similarity of the readings (typos; kana that look alike
   folded when typed in kana: ダンボーノレ, フライパソ). An item's score is its best key's.
4. A material in the phrase ("金属のハンガー", "容器（紙のやつ）") favours the variants made of it.
5. Items listed with と/や ("傘と布団") that are each found are all offered.
6. Fallbacks when the whole phrase has no good key: the compound or main word that ends it, named exactly
   ("二人掛けのソファー" → ソファー, "ガスが残ってる100円ライター" → ライター: the words before it describe it), then
   a short word fugashi does not know one kana away from a key ("テレピ" → テレビ, to be confirmed).
7. One item clearly best → "found"; several close → "ambiguous" (the caller asks); nothing good →
   "unknown", with the nearest names as low-scored suggestions ("もしかして…").

Precision over recall: a confident wrong category is worse than asking, and asking about a wrong item is
worse than "unknown". So a key that lacks the phrase's main word (its last noun: ペットボトル for
"ペットボトルのキャップ"), a key whose own main word the phrase lacks (灯油タンク for "灯油"), a key matched
only in its parenthesised description (はかり（台所ばかり） for "避難所") are marked down; a key with other words
than the phrase (ローボード for "キックボード") falls below "unknown"; a word is never found across two words
of a key (レシート in トイレ|シート); a typo likeness needs the phrase's main word in the key (not
自転車のタイヤ for "自転車のライト") and a word fugashi knows is no typo of another ("街灯" ≠ 水筒); a word in
kanji is as spelled in the fallback ("印鑑証明" ≠ 照明); a one-word phrase found inside a longer name is asked
about ("ばす" → ベビーバス?); and "found" needs a clear margin over the next item.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import jaconv
import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.knowledge.citydata.models import GarbageItem
from bot.knowledge.citydata.readers import read_garbage_dictionary
from bot.nlu.kana import KANA
from bot.nlu.kana import loose as _loose_kana
from bot.nlu.morphology import Morpheme, analyze, tagger
from bot.nlu.normalize import normalize_text
from bot.nlu.told import ASKS, OCCASION, REDUPLICATED, TOLD_OF_A_PART, said_as_a_note

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SYNONYMS_FILE = ROOT / "data" / "garbage" / "synonyms.yml"
PATTERNS_FILE = ROOT / "data" / "garbage" / "question_patterns.yml"

# Scores. Exact spellings score 1.0; everything partial stays at or below COVERAGE_MAX.
EXACT = 1.0
EXACT_READING = 0.97  # same reading, other spelling; a homophone never beats the exact spelling
ALIAS_WEIGHT = 0.9  # a name in parentheses ranks below the item that bears that name itself
COVERAGE_MAX = 0.9
HEAD_PENALTY = 0.75  # main word missing on either side, or different words on both sides
OTHER_KIND = HEAD_PENALTY ** 2  # other words on both sides: below UNKNOWN_BELOW even with the main word shared
MATERIAL_MISMATCH = 0.85  # "金属のハンガー" scored as "ハンガー", for the variants not made of 金属
MATERIAL_PENALTY = 0.1  # for the variants made of something else
# Typos: similarity of the loose readings = mean of rapidfuzz's Indel ratio and normalised Levenshtein
# similarity, so that a missing character (せんぷき) counts less than a wrong one (センヌキ).
FUZZY_CUTOFF = 0.75
FUZZY_MIN_LENGTH = 4
SPELLED_OUT_MIN = 0.7  # a loanword with its long vowels spelled out (はんがあ) counts only read this well
LOOKALIKE_COST = 0.05  # readings alike once kana that look alike are folded (ソ/ン, ノレ/ル): a bit less sure
# readings alike but for a voiced mark (トライヤー, タンボール): as sure as a look-alike kana (フライパソ), and the only
# likeness offered (not プライヤー, one kana farther)
VOICED_SLIP = 0.85
LOOSE_SPELLING = 0.88  # アルミホイール for "アルミホイル": the phrase lacks the key's own spelling
# Fallbacks when the whole phrase has no good key.
MAIN_WORD = 0.85  # "二人掛けのソファー" → ソファー: the compound or main word that ends the phrase, named exactly
OWNED_NAME = 0.95  # "子どものシロップ薬のビン" → 薬のびん: a name XのY ending the phrase, words before it
MAIN_WORD_TYPO = 0.8  # … or with one look-alike kana ("フライパソ"); not a mere likeness ("番号" ≠ 飯ごう)
SHORT_TYPO = 0.65  # "テレピ" → テレビ: offered to be confirmed, never "found"
KANJI_SLIP = 0.8  # "天体望遠境" → 天体望遠鏡: one kanji converted wrongly, another of the same reading (found when alone)
SHORT_TYPO_MIN_LENGTH = 3
NAMED_INSIDE = 0.8  # "名刺大量に": a name found whole inside a longer phrase, the rest said about it
NAMED_INSIDE_MIN_LENGTH = 2
NOTE_OVERRULES = COVERAGE_MAX  # a phrase read less surely than this gives way to a name in brackets after it (印箱)
STORY_LENGTH = 40  # a message this long where no phrase names a thing may still name one in its story
SPACED_WORDS = 4  # a message typed word by word (_named_between_spaces): at least this many words between spaces
KANA_SHARE = 0.7  # … and mostly in kana
# Decision.
FOUND_MIN = 0.7
SURE_TAIL = 0.9  # the name after the last の, read alone, when the whole phrase reads nothing
FOUND_MARGIN = 0.08
UNKNOWN_BELOW = 0.6
PHRASES_REMEMBERED = 4096  # phrases whose reading _match_phrase keeps (a few hundred messages' worth)
WINDOW = 0.15  # candidates this close to the best are offered
MAX_CANDIDATES = 5
MAX_SUGGESTIONS = 3
SUGGESTION_MIN = 0.3  # a weak match, or readings at least 60 % alike; suggestions are scored half of it

# UniDic parts of speech that carry no item of their own ("古い", "捨て", "の", "た").
_FUNCTION_POS = {"助詞", "助動詞", "補助記号", "記号", "空白", "動詞", "形容詞", "副詞", "連体詞", "感動詞", "接続詞"}
_KANA = KANA
# A parenthesised variant that is another name of the item (米びつ（ハイザー）), not a description.
_DESCRIPTIVE = re.compile(r"製|用|式|など|含|除|以外|もの|付|状態|済|入り|一体|のみ|不明|の|使い捨て|[・、,]")
_HIRAGANA = re.compile(r"[ぁ-ゖー]+")
_KATAKANA = re.compile(r"[ァ-ヺ][ァ-ヺー]*")
_KANJI = re.compile(r"[\u3400-\u9fff々]")
_SEPARATOR = re.compile(r"[\s・･、,.]+")
_KATAKANA_END = re.compile(r"[ァ-ヺー]+$")
KATAKANA_HEAD_MIN = 4  # the shortest name read as the head of a longer loanword (ドリッパー in コーヒードリッパー; not ペン)
PICTURES = "\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"  # emoji and pictographs, as a character class's ranges
_SENTENCE_END = re.compile(f"[。!?！？\n{PICTURES}]+")  # an emoji ends a sentence too
_LONG_KATAKANA = re.compile(r"(?=.*ー)[ァ-ヺー]+")  # a loanword typed with its long vowel
_KATAKANA_WORD = re.compile(r"[ァ-ヺー]+")  # a word typed in katakana only
_LONG_KATAKANA_END = re.compile(r"(?<![ァ-ヺー])(?=[ァ-ヺー]*ー)[ァ-ヺー]+$")  # the phrase ends in a loanword typed with ー
# a vowel that lengthens the kana before it (はんがあ, こおなあ, めえる; not おう/えい, which are words' own spellings),
# by the vowel: the kana that end in it
_LENGTHENED = {"あ": "あかさたなはまやらわがざだばぱゃ", "い": "いきしちにひみりぎじぢびぴ", "う": "うくすつぬふむゆるぐずづぶぷゅ",
               "え": "えけせてねへめれげぜでべぺ", "お": "おこそとのほもよろごぞどぼぽょ"}
_SPELLED_LONG_VOWEL = re.compile("|".join(f"([{kana}]){vowel}" for vowel, kana in _LENGTHENED.items()))
# … in a word of its own, between spaces (「どうしたらいい」 is no loanword)
_SPELLED_LONG_WORD = re.compile(r"(?<!\S)[ぁ-ゖ]*(?:" + "|".join(f"[{kana}]{vowel}" for vowel, kana in _LENGTHENED.items())
                                + r")[ぁ-ゖ]*(?!\S)")


def _as_long_vowel(vowel: re.Match) -> str:
    return next(g for g in vowel.groups() if g) + "ー"


_THE_ONE = {"", "の", "やつ", "奴", "ほう", "方", "もの", "物"}  # what is left of 「古いの」「いらないやつ」 without its modifier
_POINTING_WORDS = {"それぞれ", "どれ", "どちら", "どっち", "全部", "ぜんぶ", "両方", "みんな", "ほか", "他", "これら", "それら"}
# 「毛先がボロボロ」「鉢からぬいた」「和室をフローリングにしたので」: a noun of one to four letters, its case particle, the rest
# tried, one after the other, where a phrase is not found as typed: 「一升瓶のプラスチックのキャップ」 (the dictionary calls
# a bottle's cap its ふた: 一升びんのふた（プラ製）), 「パークゴルフ用のクラブ」 (パークゴルフのクラブ), 「飲み薬の小瓶」 (薬のびん),
# 「飲み薬のガラスの瓶」 (薬のびん)
_THE_DICTIONARY_S_WORDS = ((re.compile(r"(?<=.の)(?:キャップ|きゃっぷ|キャッブ|キャプ|きゃっぶ)$"), "ふた"), (re.compile(r"(?<=[^\sの])用の(?=\S)"), "の"),
                           (re.compile(r"(?<=の)小(?=瓶|びん|ビン|袋|ふくろ|箱|はこ|皿|ざら)"), ""),
                           (re.compile(r"(?<=の)(?:ガラス|がらす)の(?=瓶|びん|ビン)"), ""),  # a 瓶 is of glass
                           # 「目薬についてきたケース」 (目薬に付属の携帯ケース)
                           (re.compile(r"(?<=[^\sの])に\s*(?:ついて|付いて)(?:き|い)?た(?=\S)"), "に付属の"),
                           # 「レーザーディスクのソフト」 (LD), 「ねりからし チューブ」 (からしのチューブ), 「グラタンのアルミの器」
                           # (アルミ箔容器): the medium itself, a container named after a space, a 器 that holds food
                           (re.compile(r"の(?:ソフト|そふと)$"), ""),
                           (re.compile(r"^([^\s]{2,8})\s+(?=(?:チューブ|容器|袋|ふくろ|箱|はこ|びん|瓶|ビン|缶|かん|ふた|キャップ)$)"),
                            r"\1の"),
                           (re.compile(r"(?<=の)(?:器|うつわ)$"), "容器"),
                           # 「サラダ油のボトル」: the dictionary names the containers of any cooking oil 食用油の…
                           (re.compile(r"^(?:サラダ油|さらだ油|サラダオイル|天ぷら油|てんぷら油|ごま油|ゴマ油|胡麻油|オリーブオイル|"
                                       r"オリーブ油|キャノーラ油|菜種油|なたね油|米油|こめ油)(?=の)"), "食用油"),
                           # 「食用油のボトルのふた」 (食用油の容器のふた): a bottle's cap is its container's
                           (re.compile(r"の(?:ボトル|ぼとる|びん|瓶|ビン)の(?=(?:[^\sの]{1,6}の)?ふた$)"), "の容器の"),
                           # 「湿布はがしたときのフィルム」「靴買った時の箱」: the thing of what the clause was done to
                           (re.compile(r"^([\u3400-\u9fff々ァ-ヺー]{1,8})を?\s*[^\s、,。の]{1,8}?(?:た|る)\s*(?:とき|時|後|あと|際)の"),
                            r"\1の"))
_OWN_WORD = re.compile(r"[\u3400-\u9fff々]+|[ァ-ヺー]{2,}")  # a word of a name, as _the_one_named_elsewhere compares them
_LIKE = {"みたい", "よう", "様", "そう"}  # 「ベルトみたいな」 is no belt: these are never cut as words of how it looks
_USED_FOR = re.compile(r"([\u3400-\u9fff々ァ-ヺー]{1,6})(?:に|で|用に)\s*(?:使|つか)(?:う|って(?:い)?た|ってる|っている)"
                       r"[^、,。]*?([\u3400-\u9fff々ァ-ヺー]{1,4})$")  # 「漬物に使ってた重い石」
_LACKS = re.compile(r"([^\s、,()のがは]{1,6}?)(?:なし|無し|がない|のない|が無い|の無い)")  # 「底板なし」「ふたのない」
_HAS = re.compile(r"([^\s、,()のがはに]{1,6}?)(?:付き|付|つき|あり|入り|が\s*(?:つい|付い)て(?:い)?る)")  # 「底板付き」
_PET = re.compile(r"(?<![a-z])pet(?=\s*(?:マーク|まーく|ボトル|ぼとる))")  # 「PETマーク」「PETボトル」: ペット
_KIND_AFTER_NADO = re.compile(r"^.+など(?:の)?([^\s、,]{2,})$")
_WRAPPED_IN = re.compile(r"[^、,\s]{1,10}?(?:で|に)\s*(?:包|つつ[んめむ]|くる[んめむ]|巻|まい|まけ|入れ|いれ)")
# 「海で使ってた」「車に積んでた」: where or how it was used, a clause that says which thing comes after the comma
_ENDS_A_CLAUSE = re.compile(r"(?:で|に)[^、,\s]{1,6}(?:て|で)(?:た|る|い[たる])$")
_ITSELF = re.compile(r"(?:^|[、,\s])([^、,\s]+?)(?:そのもの|自体)(?:は|って|も)?$")
# 「リモコンから電池を抜いたんですが、本体は」「プリンターのインクが出ない、本体は」: after a clause about a part, 本体
# points back to the thing the clause began with (whatever was done to the part)
_BODY_BACK = re.compile(r"^([^、,\s。]+?)(?:から|の(?![でにだ]))[^、,。]+[、,\s]+(?:その)?本体"
                        r"(?=は|って|も|$|[?？\s])")
_DISPOSAL_MARKER = re.compile(r"ごみ|ゴミ|捨|すて|棄|出|だし|だせ|だす|処分|分別|ぶんべつ|分け|わけ|なげ|投げ|燃|もえ|もや|資源|しげん"
                              r"|プラ|ぷら|粗大|そだい|大型|おおがた|いらな|要らな|使わな|つかわな|使えな|つかえな|不要|不用")
_CLAUSE_SEPARATOR = re.compile(r"[、,\s]+")
_SPACED_PARTICLE = re.compile(r"(?<=\S)[ \u3000]+(の|を|は|が|も|に|で|と)[ \u3000]+(?=\S)")
_PARTICLES = {"の", "を", "は", "が", "も", "に", "で", "と", "へ", "や"}


def _between_hiragana(spaced: "re.Match") -> bool:
    text, start, end = spaced.string, spaced.start(), spaced.end()
    return start > 0 and end < len(text) and bool(_HIRAGANA.fullmatch(text[start - 1] + text[end]))


# 「耐火金庫がありました」「碁石が残っています」「着物が何枚も出てきました」: the subject of what is there (group 1)
_IS_THERE = re.compile(r"(?:^|[、,\s]|(?<=[にでは]))([^、,\s]+?)が[^、,。が]*?(?:あります|ありました|ある|あった|あって|残って|のこって|出てき"
                       r"|でてき|見つか|置いたまま|置いてあ|眠って|(いら|要ら|使わ|つかわ)なくな|余っ|あまっ|余り|たまっ|溜まっ|たまり|溜まり)")
# 「父が使っていた杖が2本あります」「高校を卒業して教科書がいらなくなりました」: the name after the clause in front of it
_AFTER_ITS_CLAUSE = re.compile(r"(?:を|て|で|た|が)([\u3400-\u9fff々ァ-ヺー][^をてでたが]*)$")
_CLAUSE_THEN_NAME = re.compile(r"(?:た|る)([\u3400-\u9fff々ァ-ヺー][^をてでたがにはの、,\s]*)$")  # 「(骨が)折れた扇子」
# 「スーツを買った時の」「スーツを買ったときについてきた」「コート買ったらかかってた」: what came with a purchase
_BOUGHT_WITH = re.compile(r"\s*を?\s*(?:買った|かった|購入した)\s*(?:(?:時|とき)\s*(?:に)?|ら)\s*"
                          r"(?:ついてきた|付いてきた|ついてた|付いてた|ついていた|かかってた|かかっていた|もらった)?\s*の?\s*")
_O_THEN_U = re.compile(r"(?<=[おこごそぞとどのほぼぽもよょろ])う")
_HIRAGANA_END = re.compile(r"[ぁ-ゖー]{4,}$")
_CLAUSE_THEN = re.compile(r"(?:けど|けれど|けれども|ので(?!す|しょう)|(?<=[たいだ])から)[、,\s]*")
_CONTAINED = re.compile(r"(?<!に)(?<!に\s)\s*(が|の)?\s*(入って(い)?た|入ってる|入っている|はいって(い)?た|はいってる"
                        r"|(入|はい)って(売|う)(って|られて)(い)?た)\s?(?=\S)"  # 「果物が入って売ってたかご」「みかんがはいってた あみ」
                        r"|\s*を\s*(入れて(い)?た|いれて(い)?た|入れてる|いれてる)(?=\S)")  # 「灯油を入れてた…」
_NAME_THEN_MATERIAL = re.compile(r"([^\s、,。をがはに()]+)\(([^()]{1,30})\)")  # 「くつべら(プラの)」
_NOTE = re.compile(r"\(([^()]{1,30})\)")  # a note in brackets, as typed (NFKC makes （） ASCII)
# after a material's word: the thing is not made of it (「ノンオイルじゃない方」「アルミホイルのじゃないやつ」「プラ製以外」)
_SAID_TO_BE = re.compile(r"製|の(?!で)|素材|でできた|[ァ-ヺ]{2,}")  # 「紙の」「プラ製」「ノンオイルドレッシング」
_SAID_NOT_TO_BE = re.compile(r"(?:製|の)?(?:もの|やつ)?\s*(?:(?:じゃ|では|でわ|で)(?:な[いくかけ]|ありません|ねえ)|以外)")
_SPACES = re.compile(r"\s+")
# What holds a product, as citizens type it (入れ物 is read 容器 first)
_HOLDERS = r"缶|かん|カン|びん|瓶|ビン|ボトル|ぼとる|カップ|かっぷ|容器|パック|ぱっく|ケース|けーす|箱|はこ|袋|ふくろ"
# 「エナドリの缶」「ヤクルトのいれもの」「プッチンプリンのカップ」: a product, then what holds it
_PRODUCT_THEN_CONTAINER = re.compile(rf"(.{{2,}}?)の(?:空き|から(?:の)?)?(?:{_HOLDERS})")
_CONTAINER_NAME = re.compile(r"容器|缶|びん|ボトル|カップ|箱|袋|パック|ケース|トレ[イー]")
_BOTTLE_OF = re.compile(r"(の(?:[^\sの]{1,6}の)?(?:プラ|プラスチック|ぷら)?)(?:ボトル|ぼとる)$")  # a product's bottle: its 容器 in the dictionary
_CONTAINER_WORD = re.compile(r"入れ物|いれもの|容れ物|入れもの|イレモノ|(?<=の)ようき(?![ぁ-ゖ])")  # the dictionary says 容器 (「…のようき」 typed in kana)
# 「プリンが入ってたガラスの容器」: a glass container is what the dictionary calls びん (プリンのびん, ジャムのびん)
_GLASS_CONTAINER = re.compile(r"ガラス(?:製)?(?:の)?(?:容器|ボトル|ポット|入れ物|いれもの)")
# 「VHSのテープ」: a name, then a word of its own item's name
_NAME_THEN_PART = re.compile(r"(.{2,}?)の([^\sの]{2,8})")
# 「アイロンの台」: の inside a compound the dictionary writes without it
_NO_THEN_KANJI = re.compile(r"([^\sの]{2,})の([\u3400-\u9fff]{1,2})")
# A word typed in hiragana that fugashi may cut into pieces: after a relative clause, or after the last の
_HIRAGANA_RUN = re.compile(r"(?![んっーゃゅょ])[ぁ-ゖー]{3,}(?=$|[\s、。,.!?！？])")  # a word, not 「んだけど」
# Where on the thing a part sits, said between the two (what is on its surface: a label, a film, a sticker).
_AROUND = re.compile(r"の(?:まわり|周り|外側|表面|側面)の(?=.)")
_HIRAGANA_TAIL = re.compile(r"(.の)([ぁ-ゖー]{3,})$")
_KANA_AFTER_A_CLAUSE = re.compile(r"[\u3400-\u9fff々ァ-ヺ][ぁ-ゖ]?[たるい]([ぁ-ゖー]{3,})$")  # 「枯れた|さぼてん」「古い|さぼてん」
# After a category named first: 「(生ごみ)用の」 what follows is a thing of its own (not 「の日」「の出し方」), unless the
# category is 大型ごみ, a service (「大型ごみのシール」)
_BULKY = re.compile(r"大型|粗大|おおがた|そだい")
_ATTACHED = re.compile(r"(?<=[\u3400-\u9fff々ァ-ヺー])\s*に\s*(ついて(い)?る|ついて(い)?た|付いて(い)?る|付いて(い)?た|ついた|付いた)"
                       r"\s*(?=[\u3400-\u9fff々ァ-ヺーぁ-ゖ])(?!もの|やつ|の[はがもを]|のって)")  # (「…についてたもの」 is said of it)
_AFTER_CLAUSE = re.compile(r".+(?:たら|れば|ので|けど|から|ても)(\S+)$")  # 「ストーブしまったら灯油」 → 灯油
# 「中身が半分くらい残ってる」「中身が入ったまま」: the contents are still in the container
_CONTENTS_LEFT = re.compile(r"(中身|なかみ)(が|は|も)?\s*(まだ)?\s*(半分|少し|すこし|ちょっと|けっこう|結構|たくさん|かなり)?"
                            r"(くらい|ぐらい|ほど)?\s*(残|のこ|入った|入って|はいった|はいって)")
_CONTAINER_OF = re.compile(r"(.{2,}?)の(缶|かん|びん|瓶|容器|ボトル|ぼとる|タンク)")  # ペンキの缶 → ペンキ
# 「保冷剤が冷凍庫に…」: the subject of a clause, ending in kanji or katakana (not the が inside めがね, ながぐつ)
_SUBJECT = re.compile(r"([^\sが]*[\u3400-\u9fff々ァ-ヺー])が(?=.)")
_BEFORE_HEAD = set("たいてる ")  # the end of a clause or an adjective before the thing's name (赤いポリタンク)
# 「灯油用のポリタンク」「屋外用の物置」: a ポリタンク, for 灯油; what follows 用の is the thing
_FOR_THEN_THING = re.compile(r"(?:用|専用|向け)の?(\S{2,})$")
_CATEGORY_OWNS = re.compile(r"(用|専用)?の(?![日曜]|出し|だし|捨て|すて|分別|収集|回収|袋|ふくろ)(?=\S)")
# Kana that look alike, as typos make them: ノレ for ル, ソ for ン, シ for ツ; voiced marks are dropped.
_LOOKALIKE = [("ノレ", "ル"), ("ソ", "ン"), ("シ", "ツ"), ("ロ", "口")]
_LISTING = {"と", "や", "とか"}
_LATIN_OR_DIGIT = re.compile(r"[a-z0-9]+")
_ALL_KANA = re.compile(r"[ぁ-ゖァ-ヺー\s、,]+")
_VERB_POS = {"動詞", "形容詞"}
_PREDICATE_POS = _VERB_POS | {"助動詞"}
_NOUN_POS = {"名詞", "接尾辞", "接頭辞"}
_LISTED_NEXT = {"形容詞", "連体詞"}  # after a listing と: 「古い歯ブラシ」「その箱」
_POINTING_BACK = re.compile(r"^[、,\s]*(その|それの|そこの)\s*")  # 「ラップと、その箱」: the box of the wrap
# A clause after the item: particles and inflected verbs/adjectives ("が割れた", "壊れたから").
_CLAUSE_POS = _PREDICATE_POS | {"助詞", "接続詞", "副詞"}
@dataclass(frozen=True)
class Candidate:
    item: GarbageItem
    score: float


@dataclass(frozen=True)
class MatchResult:
    """``status``: "found" (candidates[0] is the item; the others are close runners-up), "ambiguous"
    (ask which of the candidates, at most 5; a single one is a weak match to confirm) or "unknown"
    (candidates are up to 3 low-scored suggestions, maybe none). ``phrase``: the item phrase. ``inside``: the
    name was found inside a longer phrase (「退職したので名刺大量に」), so the phrase says more than the name.
    ``listed``: the phrase names several items (「臼と杵」), each found on its own: the candidates are those items."""

    status: str
    candidates: List[Candidate]
    phrase: str
    inside: bool = False
    listed: bool = False


@dataclass(frozen=True)
class _Part:
    """A content word of an analysed text, with where it starts in the text's loose surface/reading."""

    surface: str
    reading: str
    at_surface: int
    at_reading: int
    kana: bool  # typed in kana, so it may be found in a reading
    generic: bool  # "板", "本体": does not change which item it is


@dataclass(frozen=True)
class _Form:
    surface: str
    reading: str
    parts: Tuple[_Part, ...]
    head: Optional[_Part]  # the main word: last non-generic content word (before any parenthesis)
    base_length: int  # reading length of the content words before any parenthesis
    parenthesis: Tuple[int, int]  # where a parenthesis starts in surface and reading (else their lengths)
    word_ends: Tuple[FrozenSet[int], FrozenSet[int]]  # where content words end in surface and reading
    reading_starts: FrozenSet[int]  # where content words start in the reading
    spelling: str  # the text as typed (normalised, without spaces), long vowels and small kana kept
    known_word: bool  # one word that fugashi knows ("街灯"): a word of its own, not a typo of another
    phrase_of_words: bool  # words joined by particles ("自転車のライト"), not one compound word


@dataclass(frozen=True)
class _Span:
    """Where a word of the phrase was found in a key."""

    kind: str  # "surface" or "reading"
    start: int
    end: int
    share: float  # how much of the phrase's word it is (日傘 found as 傘: 2/3 of its reading)


@dataclass(frozen=True)
class _Key:
    form: _Form
    item: int
    weight: float
    spelling: str = ""  # set when another item's key differs only in long vowels or small kana


@dataclass(frozen=True)
class QuestionPatterns:
    """data/garbage/question_patterns.yml, compiled."""

    markers: re.Pattern
    leading: re.Pattern
    trailing: re.Pattern
    modifiers: re.Pattern
    counters: re.Pattern
    no_item: FrozenSet[str]
    clause_particles: FrozenSet[str]
    formal_nouns: FrozenSet[str]
    generic_heads: FrozenSet[str]
    materials: Dict[str, FrozenSet[str]]  # word (normalised) → the materials it may mean, as the dictionary writes them
    described: Tuple[Tuple[re.Pattern, Tuple[str, ...]], ...] = ()  # what a thing does → the items it is
    # words that say which kind of a named thing it is → (the names they refine, the items that kind is)
    which_kind: Tuple[Tuple[re.Pattern, re.Pattern, Tuple[str, ...]], ...] = ()
    kinds: Optional[re.Pattern] = None  # any product name of ``kind_of`` (白い恋人, ポッキー), longest first
    kind_of: Dict[str, str] = field(default_factory=dict)  # product name → its kind (お菓子)
    # the words written once in the file and used by several patterns there (as <NAME>) and by bot/nlu/evidence.py,
    # each a regular expression
    states: str = ""  # a thing's state said after its name (使用済み, 空き)
    amounts: str = ""  # how much of it there is (袋3つ, バケツ半分)
    corrected: str = ""  # a name corrected while typing (まちがえた)
    not_that: str = ""  # 「…のじゃなくて」
    the_one_meant: str = ""  # 「帽子のほう」
    dialect_endings: str = ""  # Hokkaido and casual sentence endings (べさ, っしょ)
    thanks_opener: str = ""  # an earlier answer acknowledged, opening a question (ありがとうございます！, 了解です。)
    kind_of_day: str = ""  # which kind's day (何の日, なんのごみの日)

    def without_the_one_not_meant(self, text: str) -> str:
        """「カイロ 充電のやつ…じゃなくて使い捨てのほう」 → 「カイロ 使い捨てのほう」, 「ゲーム機 switchじゃなくて昔のDS」 →
        「ゲーム機 昔のDS」: after the name, the variant it is not is no part of the question (one that opens the
        message, 「エナドリじゃなくて栄養ドリンクのびん」, is cut with the leading words)."""
        if not self.not_that:
            return text
        return _not_meant(self.not_that).sub(r"\1", text)


@functools.lru_cache(maxsize=4)
def _not_meant(not_that: str) -> "re.Pattern[str]":
    # a word or two after a name and a space or comma, then じゃなくて; what follows is the one meant (「…のじゃなくて」,
    # a correction of the name itself, is the leading patterns' business)
    return re.compile(f"(?<=[^\\s、,。])([\\s、,]+)[^\\s、,。?？]{{0,11}}[^\\s、,。?？の](?:{not_that})[、,\\s…・.]*(?=\\S)")


def _alternation(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


# the words written once in question_patterns.yml and used in its patterns as <NAME>
_NAMED_WORDS = ("states", "amounts", "corrected", "not_that", "the_one_meant", "dialect_endings", "thanks_opener",
                "kind_of_day")


@functools.lru_cache(maxsize=None)
def load_question_patterns(path: Path = PATTERNS_FILE) -> QuestionPatterns:
    """Compiled once per file: the matcher and bot/nlu/evidence.py share it."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    words = {f"<{name.upper()}>": data[name] for name in _NAMED_WORDS}
    for section in ("question_markers", "leading", "trailing"):
        data[section] = [re.sub(r"<[A-Z_]+>", lambda m: words[m.group()], p) for p in data[section]]
    materials: Dict[str, Set[str]] = defaultdict(set)
    for material, words in data["materials"].items():
        for word in [material, *words]:
            materials[normalize_text(word)].add(material)
    return QuestionPatterns(
        markers=re.compile(_alternation(data["question_markers"])),
        leading=re.compile(f"^(?:{_alternation(data['leading'])})"),
        trailing=re.compile(f"(?:{_alternation(data['trailing'])})$"),
        modifiers=re.compile(f"^(?:{_alternation(data['modifiers'])})"),
        counters=re.compile(f"(?:{_alternation(data['counters'])})$"),
        no_item=frozenset(normalize_text(w) for w in data["no_item"]),
        clause_particles=frozenset(data["clause_particles"]),
        formal_nouns=frozenset(data["formal_nouns"]),
        generic_heads=frozenset(normalize_text(w) for w in data["generic_heads"]),
        kinds=re.compile("|".join(re.escape(w) for w in sorted(
            (w for words in data.get("kinds", {}).values() for w in words), key=len, reverse=True))) if data.get("kinds") else None,
        kind_of={w: kind for kind, words in data.get("kinds", {}).items() for w in words},
        described=tuple((re.compile(f"(?:{d['says']})(?:[^\\s、。]|、(?=[^\\s、。]))"r"{0,16}?(?:やつ|奴|もの|物|の|機械|きかい|道具|どうぐ|家電|容器|入れ物|いれもの|機器|デッキ|プレーヤー|プレイヤー|紙|ペーパー|袋|ふくろ)"),
                         tuple(d["items"])) for d in data.get("described", ())),
        which_kind=tuple((re.compile(d["says"]), re.compile(d["of"]), tuple(d["items"])) for d in data.get("which_kind", ())),
        materials={word: frozenset(meant) for word, meant in materials.items()},
        **{name: data[name] for name in _NAMED_WORDS},
    )


def load_synonyms(path: Path = SYNONYMS_FILE) -> Dict[str, List[str]]:
    """A synonyms file; a word written twice is an error (YAML would keep the last one silently)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_UniqueKeys) or {}


class _UniqueKeys(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ValueError(f"{key!r} is written twice ({key_node.start_mark})")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _SubstringIndex:
    """The strings that contain a given substring, without scanning them all (character bigrams)."""

    def __init__(self, strings: Sequence[str]) -> None:
        self._strings = strings
        self._grams: Dict[str, Set[int]] = defaultdict(set)
        for i, s in enumerate(strings):
            for gram in set(s) | {s[j:j + 2] for j in range(len(s) - 1)}:
                self._grams[gram].add(i)

    def containing(self, sub: str) -> Set[int]:
        if not sub:
            return set()
        grams = [sub] if len(sub) == 1 else [sub[j:j + 2] for j in range(len(sub) - 1)]
        postings = sorted((self._grams.get(g, set()) for g in grams), key=len)
        found = set(postings[0]).intersection(*postings[1:])
        return {i for i in found if sub in self._strings[i]}


class ItemMatcher:
    def __init__(self, items: Sequence[GarbageItem], synonyms: Mapping[str, Sequence[str]],
                 patterns: Optional[QuestionPatterns] = None) -> None:
        self.items = list(items)
        self._by_name = {item.name: i for i, item in enumerate(self.items)}
        self._variants: Dict[str, List[int]] = defaultdict(list)  # base name → its variants (ハンガー: 金属製, 木製・プラ製)
        for i, item in enumerate(self.items):
            if item.variant:
                self._variants[item.base_name].append(i)
        self.patterns = patterns or load_question_patterns()
        self._phrases_read: Dict[str, MatchResult] = {}  # _match_phrase's memory
        words = sorted(self.patterns.materials, key=len, reverse=True)
        alternation = "|".join(re.escape(w) for w in words)
        # "金属のハンガー", "プラ製ハンガー" / "ハンガー（金属製）", "ハンガー 金属", "容器（紙のやつ）"
        self._material_before = re.compile(rf"^(?P<m>{alternation})(?:製の?|素材の|でできた|の)(?=.)")
        self._material_after = re.compile(
            rf"(?<=.)(?:(?:[\s、,の(]+|で)(?P<m>{alternation})製?(?:(?:でできて(?:る|いる)|でできた|の)(?:やつ|もの|物)?)?"
            rf"|(?P<n>{alternation})製)\)?$")  # (「お菓子の個包装で紙でできてるやつ」)
        # "お菓子の紙の箱" → お菓子の箱
        self._material_between = re.compile(rf"(?<=.)の(?P<m>{alternation})製?(?=の.)")
        # "クリーニング屋の針金ハンガー": a material word in front of a name in katakana that ends the phrase
        self._material_compound = re.compile(rf"(?:^|(?<=の))(?P<m>{alternation})(?=[ァ-ヺー]{{3,}}$|(?:箱|袋|容器|皿)$)")
        # "紙ひも", "竹ぼうき": a material in kanji or katakana before a name in hiragana (not かみ+そり: かみそり)
        written = "|".join(re.escape(w) for w in words if not re.fullmatch(r"[ぁ-ゖー]+", w))
        self._material_kana_compound = re.compile(rf"(?:^|(?<=の))(?P<m>{written})(?=[ぁ-ゖ]{{2,}}$)")
        # "クリーニングでもらう針金ハンガー": the same after a clause that describes it (a material not written in kana)
        self._material_after_clause = re.compile(rf"(?<=[ぁ-ゖ])(?P<m>{written})(?=[ァ-ヺー]{{3,}}$)")
        self._materials_longest_first = sorted(self.patterns.materials, key=len, reverse=True)  # アルミホイル before アルミ
        self._variant_materials = [self._materials_of_variant(item.variant) for item in self.items]

        self._keys: List[_Key] = []
        by_name = {item.name: i for i, item in enumerate(self.items)}
        for i, item in enumerate(self.items):
            for text, weight in self._item_keys(item):
                self._add_key(text, i, weight)
        for word, names in synonyms.items():
            for name in names:
                if name in by_name:
                    self._add_key(str(word), by_name[name], 1.0)
                else:
                    logger.warning("synonyms: %s → %s is not in the dictionary", word, name)

        self._by_surface: Dict[str, List[int]] = defaultdict(list)
        self._by_reading: Dict[str, List[int]] = defaultdict(list)
        for k, key in enumerate(self._keys):
            self._by_surface[key.form.surface].append(k)
            self._by_reading[key.form.reading].append(k)
        self._by_lookalike: Dict[str, List[int]] = defaultdict(list)
        self._by_shape: Dict[str, List[int]] = defaultdict(list)
        for k, key in enumerate(self._keys):
            self._by_lookalike[_lookalike(key.form.reading)].append(k)
            self._by_shape[_shape(key.form.reading)].append(k)
        self._lookalike_choices = list(self._by_lookalike)
        self._shape_choices = list(self._by_shape)
        self._surfaces = _SubstringIndex([k.form.surface for k in self._keys])
        self._mark_spellings()
        self._readings = _SubstringIndex([k.form.reading for k in self._keys])
        self._reading_choices = list(self._by_reading)
        # 座布団 is read ザ+フトン word by word, said ざぶとん: the compound's voiced readings (rendaku)
        self._by_voiced_reading: Dict[str, List[int]] = defaultdict(list)
        self._keys_of_item: Dict[int, List[int]] = defaultdict(list)
        # 天体望遠? → (天体望遠鏡's key, 鏡): each key with one of its kanji left open, for kanji converted wrongly
        self._kanji_slots: Dict[str, List[Tuple[int, str]]] = defaultdict(list)
        for k, key in enumerate(self._keys):
            self._keys_of_item[key.item].append(k)
            for at, char in enumerate(key.form.surface):
                if _KANJI.match(char) and len(key.form.surface) >= 2:
                    self._kanji_slots[_slot(key.form.surface, at)].append((k, char))
            for reading in _voiced_readings(key.form) | _unvoiced_after_no(key.form):
                if reading not in self._by_reading:
                    self._by_voiced_reading[reading].append(k)

    @classmethod
    def from_files(cls, dictionary: Path, synonyms: Path = SYNONYMS_FILE,
                   patterns: Path = PATTERNS_FILE) -> "ItemMatcher":
        return cls(read_garbage_dictionary(Path(dictionary)), load_synonyms(synonyms), load_question_patterns(patterns))

    # ---- index ----

    def _item_keys(self, item: GarbageItem) -> List[Tuple[str, float]]:
        keys = [(item.name, 1.0), (item.base_name, 1.0)]
        keys += [(alt, 1.0) for alt in _alternatives(item)]
        variant = item.variant
        if variant and not _DESCRIPTIVE.search(variant) and normalize_text(variant) not in self.patterns.materials:
            keys.append((variant, ALIAS_WEIGHT))
        unique: Dict[str, Tuple[str, float]] = {}
        for text, weight in keys:
            unique.setdefault(loose(text), (text, weight))
        return [key for spelling, key in unique.items() if spelling]

    def _add_key(self, text: str, item: int, weight: float) -> None:
        form = self._analyse(text)
        if form.surface:
            self._keys.append(_Key(form, item, weight))

    def _mark_spellings(self) -> None:
        """Keys of different items that differ only in what loose() folds (アルミホイル / アルミホイール) must
        be found as spelled: every key of those items that contains the word keeps the item's spelling of
        it, and a phrase without that spelling scores them lower."""
        for surface, keys in self._by_surface.items():
            spelling = {self._keys[k].item: self._keys[k].form.spelling for k in keys}
            if len(spelling) < 2 or len(set(spelling.values())) < 2:
                continue
            for k in self._surfaces.containing(surface):
                key = self._keys[k]
                if key.item in spelling:
                    self._keys[k] = replace(key, spelling=spelling[key.item])

    def _analyse(self, text: str) -> _Form:
        surface, reading = "", ""
        parts: List[_Part] = []
        head: Optional[_Part] = None
        parenthesis: Optional[Tuple[int, int]] = None
        base_length = 0
        for m in _words(text):
            kana = bool(_KANA.fullmatch(m.text))
            s = loose(m.text)
            r = loose(m.text if kana or not m.reading else m.reading)
            if m.text in ("(", "（") and parenthesis is None:
                parenthesis = (len(surface), len(reading))
            # "お"守り and れいぞう"こ" are no words; "ロー"ボード is one (two characters as typed)
            if s and r and m.pos not in _FUNCTION_POS and not (kana and len(m.text) == 1):
                part = _Part(s, r, len(surface), len(reading), kana,
                             m.text in self.patterns.generic_heads or m.lemma in self.patterns.generic_heads)
                parts.append(part)
                if parenthesis is None:
                    base_length += len(r)
                    if not part.generic:
                        head = part
            surface += s
            reading += r
        word_ends = (frozenset(p.at_surface + len(p.surface) for p in parts),
                     frozenset(p.at_reading + len(p.reading) for p in parts))
        return _Form(surface, reading, tuple(parts), head, base_length,
                     parenthesis or (len(surface), len(reading)), word_ends, frozenset(p.at_reading for p in parts),
                     _SPACES.sub("", normalize_text(text).split("(")[0]), _known_word(text),
                     any(b.at_surface != a.at_surface + len(a.surface) for a, b in zip(parts, parts[1:])))

    def _materials_of_variant(self, variant: Optional[str]) -> Tuple[FrozenSet[str], bool]:
        """"金属製" → ({金属}, False); "木製・プラ製以外" → ({木, プラ}, True): made of anything else."""
        if not variant:
            return frozenset(), False
        text = normalize_text(variant)
        negated = "以外" in text
        if negated:
            text = text.split("以外")[0]
        found = set()
        for word, _ in self._material_mentions(text):
            found |= self.patterns.materials[word]
        return frozenset(found), negated

    # ---- questions ----

    def extract_item_phrase(self, text: str, keep_no: bool = False, cut: bool = True) -> str:
        """The words of ``text`` that name the item, normalised; "" when it names none
        ("ごみの出し方を教えて", "はい", "疲れた"). ``keep_no``: a の that begins the question marker is
        kept as the end of the item ("ぴあの処分したい": ピアノ, not "ぴあ"). ``cut=False``: the words as typed
        before the question, no particles or predicates cut off their end (「画ようし」, whose よう・し read as
        a verb)."""
        p = self.patterns
        # 「お茶っ葉が入ってた缶」 is 「お茶っ葉の缶」: what a container held names it (茶の缶, 果物かご)
        # 「納豆のいれもの」: 納豆の容器; 「ガラスの容器」: びん
        phrase = as_the_matcher_reads(held_in(normalize_text(text).strip()))
        body = _BODY_BACK.search(phrase)
        if body:  # 「リモコンから電池を抜いたんですが、本体は何ごみ？」 asks about the remote itself
            phrase = body.group(1) + phrase[body.end():]
        phrase = _strip(phrase, p.leading, at_start=True)
        phrase = self._named_then_told(phrase)
        marker = p.markers.search(phrase)
        owner = _CATEGORY_OWNS.match(phrase[marker.end():]) if marker and marker.start() == 0 \
            and not _BULKY.search(marker.group(0)) else None  # 「大型ごみのシール」 is the service's ticket
        if owner:  # 「生ごみのコンポスト」「燃えないごみ用のバケツ」: the category says what the thing is for
            phrase = phrase[marker.end() + owner.end():]
            marker = p.markers.search(phrase)
        if marker and marker.group(0) == "を" and not p.markers.match(phrase, marker.end()) \
                and not any(says.search(phrase) for says, _ in p.described):  # (those name the thing by its use)
            head = _relative_clause_head(phrase[:marker.start()], phrase[marker.end():], p.formal_nouns)
            if head:  # 「洋服をかけるパイプハンガーを…」: the object of a clause before the thing, not the thing
                phrase = head
                marker = p.markers.search(phrase)
        if marker:
            phrase = phrase[: marker.start() + (1 if keep_no and marker.group(0).startswith("の") else 0)]
        # "お世話になります。古い洗濯機の…": the item is in the last sentence before the question.
        # (a sentence of only 「それぞれ」「両方」 points back to the things named before it)
        # (「…交換した。古いのは？」: 「古いの」 points back to the thing of the sentence before)
        sentences = [s for s in _SENTENCE_END.split(phrase) if s.strip() and not self._points_back(s)]
        # 「ガラスのお皿割っちゃった。新聞で包めばいい？」: what it is wrapped or put in is no item of its own
        sentences = [s for s in sentences if not _WRAPPED_IN.match(s.strip())] or sentences
        phrase = sentences[-1] if sentences else ""
        phrase = self._first_clause(phrase)
        previous = None if cut else phrase
        while phrase != previous:
            previous = phrase
            for pattern in (p.trailing, p.counters):
                phrase = _strip(phrase, pattern, at_start=False)
            for pattern in (p.leading, p.modifiers):
                phrase = _strip(phrase, pattern, at_start=True)
            phrase = self._cut_topic(phrase)
            phrase = _cut_predicate(phrase)
        # 「ペットボトルのきゃっぷ」: a word in hiragana after の is read as typed in katakana (fugashi cuts hiragana into
        # particles: きゃっぷ vanished and the phrase was ペットボトル); readings fold kana, so nothing else changes
        tail = _HIRAGANA_TAIL.search(phrase)
        if tail and _no_word_of_its_own(tail.group(2)):
            phrase = phrase[: tail.start(2)] + jaconv.hira2kata(tail.group(2))
        if not self._names_something(phrase):
            kana = _KANA_AFTER_A_CLAUSE.search(phrase)  # 「枯れたさぼてん」: fugashi reads さ/ぼて/ん, no noun at all
            phrase = kana.group(1) if kana and self._names_something(kana.group(1)) else phrase
        return phrase if self._names_something(phrase) else ""

    def _named_then_told(self, phrase: str) -> str:
        """「室内用の小さいほうき、毛先がボロボロ」「草刈りがま、刃がさびさび」「トロフィー何個か、実家の片付けで」: a name
        ends before the first comma or space, and after it comes a clause of its own (a noun, its particle, then what
        happened) or the occasion (〜で, 〜ので) that asks nothing: the name is the thing, the noun of the clause a part
        of it or a place."""
        separator = _CLAUSE_SEPARATOR.search(phrase)
        if not separator or not separator.start():
            return phrase
        before, after = phrase[:separator.start()], phrase[separator.end():]
        told, occasion = TOLD_OF_A_PART.match(after), OCCASION.fullmatch(after)
        if not (told or occasion) or ASKS.search(after) or _name_goes_on(before, after):
            return phrase
        if told and not occasion and not REDUPLICATED.fullmatch(told.group("rest")) \
                and not any(m.pos in ("動詞", "形容詞", "形状詞") for m in analyze(told.group("rest"))):
            return phrase
        name = self.extract_item_phrase(before)
        core = _strip(before, self.patterns.counters, at_start=False) or before  # (「トロフィー何個か」)
        if not name or analyze(core)[-1].pos in ("動詞", "助動詞", "助詞") or self._match_phrase(name).status == "unknown":
            return phrase  # (「スタッドレスに替えたら、」 is a clause; its noun is no name of the thing)
        return before

    def _points_back(self, sentence: str) -> bool:
        """「それぞれ」「両方」, or only what a thing is like (「古いの」「外したやつ」): the sentence names nothing itself."""
        sentence = sentence.strip()
        if sentence in _POINTING_WORDS:
            return True
        return len(sentence) <= 8 and _strip(sentence, self.patterns.modifiers, at_start=True) in _THE_ONE

    def _asking_sentence(self, text: str) -> str:
        """「引っ越しで台所用品を整理中です。木のしゃもじは何ごみ？」: of several sentences, the last one that asks about a
        thing it names (a question marker with words before it) holds the item, not an earlier one's object (台所用品を)."""
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        if len(sentences) < 2:
            return text
        for sentence in reversed(sentences):
            sentence = _strip(sentence.strip(), self.patterns.leading, at_start=True)
            for marker in self.patterns.markers.finditer(sentence):
                if not _DISPOSAL_MARKER.search(marker.group(0)) or re.match(r"ない|なく|ません", sentence[marker.end():]):
                    continue  # 「…を」「どこに」 (連絡すれば) end an object or ask something else; 「車が出せない」 is no wish
                before = sentence[:marker.start()].strip(" 、,")
                if self._names_something(before, strictly=True):
                    # 「荷物を減らしたくて、古いスーツケースを一つ処分することにしました」: the clause that asks
                    last = re.split(r"[、,]", before)[-1]
                    named = last != before and self._names_something(last, strictly=True)
                    return last + sentence[marker.start():] if named else sentence
                break
        return text

    def without_what_follows(self, text: str) -> str:
        """``text`` less what is said after the name and cut from the item phrase (trailing, counters:
        「ビニールひもの残り」「電池3本」); the text itself when nothing else is left."""
        return _stripped_again(text, (self.patterns.trailing, self.patterns.counters), at_start=False)

    def without_modifiers(self, text: str) -> str:
        """``text`` less the words in front that only say whose or which it is (leading and modifiers:
        「ちっちゃいころの」), as the item phrase is cut; the text itself when nothing else is left."""
        return _stripped_again(text, (self.patterns.leading, self.patterns.modifiers), at_start=True)

    def _first_clause(self, phrase: str) -> str:
        """"殺虫剤のスプレー、使い切ったんだけど" → "殺虫剤のスプレー": after a comma or a space that is
        followed by a clause of its own (a verb, an adjective), the citizen says something about the item."""
        itself = _ITSELF.search(phrase)
        if itself:  # 「写真は抜いたのですが、アルバムそのもの」: the thing itself, after what was in it
            return itself.group(1)
        for separator in _CLAUSE_SEPARATOR.finditer(phrase):
            before, after = phrase[: separator.start()], phrase[separator.end():]
            if _name_goes_on(before, after):
                continue  # 「雪かきの スコップが おれました」「ほとけさま の はな が かれました」
            if before.endswith(("と", "や")) and analyze(before)[-1].pos == "助詞" and self._names_a_listed_thing(after):
                continue  # 「化粧水のガラスびんと、外したプラのふた」: a list goes on after the comma, if it names a thing
            if self._names_something(before) and any(_pos(m) in _VERB_POS for m in analyze(after)) \
                    and not _ENDS_A_CLAUSE.search(before):  # 「海で使ってた、ふくらますだけのゴムボート」: which one
                return before
        return phrase

    def _names_a_listed_thing(self, after: str) -> bool:
        """The words after 「…と、」 name a thing of their own (read as a phrase, not as a whole message)."""
        return self._match_phrase(self.extract_item_phrase(after)).status != "unknown"

    def _cut_topic(self, phrase: str) -> str:
        """"スプレ缶って穴あけないとだめ" → "スプレ缶", "フィルターだけ交換した" → "フィルター": the item is
        the topic, and ends at the particle that follows it (は, って, だけ, …)."""
        if _all_hiragana(phrase):  # fugashi cuts hiragana freely ("ばってりー" → ば/って/り)
            return phrase
        morphemes = analyze(phrase)
        for at, (before, m) in enumerate(zip(morphemes, morphemes[1:]), start=1):
            if _pos(m) == "助詞" and m.text in self.patterns.clause_particles and self._content(before):
                # 「写真は抜いたので空のアルバム」: the topic was taken out of the thing asked about, named next
                since = _after_because(morphemes, at + 1)
                if since is not None and any(_pos(w) == "名詞" for w in morphemes[since:]) \
                        and _TAKEN_OUT.search(phrase[m.end:morphemes[since].start]):
                    return self._cut_topic(phrase[morphemes[since].start:].strip(" 、,"))
                head = _relative_clause_head(phrase[:m.start], phrase[m.end:], self.patterns.formal_nouns) \
                    if m.text == "も" else ""
                if head:  # 「CDも聞けるミニコンポ」: a clause of what else the thing does, then the thing
                    return self._cut_topic(head)
                return phrase[: m.start].strip()
        return phrase

    def content_share(self, phrase: str) -> float:
        """How much of ``phrase`` its content words make up: 1.0 for "家の電話機"-like names, little for a
        sentence the dictionary could only catch a piece of ("ありがとさんです🙏" → サン)."""
        letters = [ch for ch in phrase if ch.isalnum()]
        if not letters:
            return 0.0
        return min(1.0, sum(len(p.surface) for p in self._analyse(phrase).parts) / len(letters))

    def _names_something(self, phrase: str, strictly: bool = False) -> bool:
        """False for "", a word of :attr:`QuestionPatterns.no_item` ("ごみ", "はい") and words with no noun
        ("疲れた", "つらい", "死ぬこと"); a phrase all in kana is trusted (fugashi cuts kana freely: "プチプチ" is
        an adverb to it). ``strictly``: a sentence of a story, which must hold a noun of two letters or more that
        is no generic head (もの, 本体) and points nowhere (これ, そこ), and no kana phrase is trusted for it."""
        if strictly:
            return len(phrase) >= 2 and any(
                self._content(m) and m.text not in self.patterns.no_item and m.text not in self.patterns.generic_heads
                and m.text not in _POINTING_WORDS for m in analyze(phrase))
        if not phrase or phrase in self.patterns.no_item:
            return False
        return bool(_ALL_KANA.fullmatch(phrase)) or any(self._content(m) for m in analyze(phrase))

    def _content(self, m: Morpheme) -> bool:
        """A noun that can name a thing ("傘", "switch"), not a formal noun ("こと", "の")."""
        return _pos(m) in ("名詞", "接尾辞") and m.text not in self.patterns.formal_nouns

    def match(self, text: str) -> MatchResult:
        result = self._match_noted(text)
        if result.status != "unknown" and not result.listed:
            return self._the_variant_said(normalize_text(text), result)
        return result

    def _the_variant_said(self, norm: str, result: MatchResult) -> MatchResult:
        """Of a name's variants, the one the message says: by its material (「ドレッシングの瓶（ノンオイルじゃない方）」
        「ノンオイルドレッシングの瓶」), then by the part it is only (「物干し台の台の部分だけ」 → 物干し台（台のみ））."""
        result = self._without_what_it_lacks(norm, self._the_material_said(norm, result))
        return self._the_one_named_elsewhere(norm, self._the_part_only(norm, result))

    @staticmethod
    def _the_one_named_elsewhere(norm: str, result: MatchResult) -> MatchResult:
        """「鶏がらでスープをとったあとの骨」「豚骨スープとったあとの骨」: of the things asked back (鶏がら（骨）, 豚がら（骨）),
        the only one whose own word (a kanji or katakana word no other candidate's name holds) the message says."""
        if result.status != "ambiguous" or result.listed:
            return result
        words = [set(_OWN_WORD.findall(c.item.base_name)) for c in result.candidates]
        named = [c for i, c in enumerate(result.candidates) if c.item.base_name in norm.replace(result.phrase, " ") or any(
            word in norm and word not in result.phrase and not any(word in other for j, others in enumerate(words)
                                                                   if j != i for other in others)
            for word in words[i])]
        return replace(result, status="found", candidates=named) if len(named) == 1 else result

    @staticmethod
    def _without_what_it_lacks(norm: str, result: MatchResult) -> MatchResult:
        """「ゴムボート（底板なし）」「ゴムボート（底板付き）」: of the variants asked back, the ones with what the message says
        the thing lacks (ゴムボート（底板付きのもの）) are not meant, nor, where it says what the thing has, the ones
        without it; answered when those left share the category."""
        if result.status != "ambiguous":
            return result
        norm = as_the_matcher_reads(norm)
        lacks, has = ({m.group(1) for m in pattern.finditer(norm)} for pattern in (_LACKS, _HAS))

        def with_(word: str, candidate: Candidate) -> bool:  # (「ペットマークがついているもの」「ノンオイル以外」)
            variant = candidate.item.variant or ""
            return bool(re.search(re.escape(word) + r"(?:が)?(?:付|つき|つい|入り)|ノン" + re.escape(word) + "以外", variant))

        def without(word: str, candidate: Candidate) -> bool:  # (「ノンオイル」: 「オイル入りのドレッシング」 is not it)
            return bool(re.search("ノン" + re.escape(word) + "(?!以外)", candidate.item.variant or ""))
        left = [c for c in result.candidates if not any(with_(w, c) for w in lacks) and not any(without(w, c) for w in has)
                and all(with_(w, c) for w in has if any(with_(w, o) for o in result.candidates))]
        if not left or len(left) == len(result.candidates) or len({c.item.category for c in left}) != 1:
            return result
        return replace(result, status="found", candidates=left)

    @staticmethod
    def _the_part_only(norm: str, result: MatchResult) -> MatchResult:
        """「物干し台の台の部分だけ」: of the variants asked back, the one that is that part only (物干し台（台のみ））;
        the part a word of its own (「物干し台だけ」 is the whole stand)."""
        if result.status != "ambiguous":
            return result
        only = [c for c in result.candidates if c.item.variant and any(
            re.search(r"(?:^|(?<=[\sの、,]))" + re.escape(part[:-2]) + r"(?:の部分|のところ)?(?:だけ|のみ)", norm)
            for part in c.item.variant.split("・") if part.endswith("のみ") and len(part) > 2)]
        return replace(result, status="found", candidates=only) if len(only) == 1 else result

    def _the_material_said(self, norm: str, result: MatchResult) -> MatchResult:
        """「油はね防止の板（アルミホイルのじゃないやつ）」「金属じゃないハンガー」: of the variants asked back (or found and its
        runners-up and siblings), the ones the message's materials say (anywhere in it, also said not to be: じゃない,
        以外) are kept; answered when they share the category. Every material named must say the same."""
        siblings = [Candidate(self.items[i], result.candidates[0].score) for i in self._variants.get(
            result.candidates[0].item.base_name, ()) if all(c.item.name != self.items[i].name for c in result.candidates)]
        choices = result.candidates + siblings  # (「金属じゃないハンガー」: the other variants of the one found)
        if not any(self._variant_materials[self._by_name[c.item.name]][0] for c in choices):
            return result  # no variant made of anything: nothing said can pick one
        said = self._materials_said(norm)
        if not said or (result.status == "found" and not any(negated for _, negated in said)):
            return result  # (a name found is only overruled by what it is said not to be: 「プラじゃないハンガー」)
        agreeing, disagreeing = [], False
        for candidate in choices:
            votes = set()
            for material, negated in said:
                agrees = self._material_agreement(self._by_name[candidate.item.name], {material})
                if agrees is not None:
                    votes.add(agrees != negated)
            if votes == {True}:
                agreeing.append(candidate)
            disagreeing = disagreeing or False in votes
        if not agreeing or not disagreeing:
            return result
        status = "found" if len({c.item.category for c in agreeing}) == 1 else "ambiguous"
        return replace(result, status=status, candidates=agreeing)

    def _materials_said(self, norm: str) -> Set[Tuple[str, bool]]:
        """The materials a message says a thing is (「紙の」「プラ製」「ノンオイルドレッシング」) or is not (「金属じゃない」
        「プラ以外」), each with whether it is negated; 「プラで出していい？」 asks, it does not say."""
        said: Set[Tuple[str, bool]] = set()
        for word, found in self._material_mentions(norm):
            if found.start() and _script(found.string[found.start() - 1]) == _script(word[0]):
                continue  # a piece of another word: 植木鉢, カップラーメン, ちりがみ
            negated = bool(_SAID_NOT_TO_BE.match(found.string, found.end()))
            if negated or _SAID_TO_BE.match(found.string, found.end()):
                said |= {(material, negated) for material in self.patterns.materials[word]}
        return said

    def _material_mentions(self, text: str) -> Iterator[Tuple[str, "re.Match[str]"]]:
        """Every material word in ``text``, the longest first; a word found is blanked out, so a shorter one is never
        found inside it (アルミ箔 is not also アルミ, アルミホイル not アルミ). Each match's ``string`` is the text with the
        longer words blanked."""
        for word in self._materials_longest_first:
            yield from ((word, found) for found in re.finditer(re.escape(word), text))
            text = text.replace(word, "\0" * len(word))

    def _match_noted(self, text: str) -> MatchResult:
        text = said_as_a_note(self.patterns.without_the_one_not_meant(normalize_text(text)))
        # 「プラスチック の まないた」: a particle spaced as a learner writes it (between hiragana words the spaces are
        # what tells the words apart: 「ちゃがら は なまごみ」, see _spaced_words)
        text = _SPACED_PARTICLE.sub(lambda m: m.group(0) if _between_hiragana(m) else m.group(1), text)
        notes = _NOTE.findall(normalize_text(text))
        if not notes:
            return self._match_text(text)
        if any(w in note for note in notes for w in self.patterns.materials):
            result = self._match_text(text)  # 「ハンガー(金属製)」: a material in brackets picks the variant
            if result.status == "found":
                return result
            # 「くつべら(プラの)」「ケープのふた(プラの)」: the material said after the name, read before it instead
            moved = self.with_material_first(text)
            other = self._match_text(moved) if moved != normalize_text(text) else result
            # 「お好み焼き用の鉄板（電気じゃない、ただの鉄の板）」: a note of a sentence of its own, the name before it alone
            plain = self._match_text(without_notes(normalize_text(text))) if other.status != "found" else other
            asked = {c.item.name for c in result.candidates} if result.status == "ambiguous" else None
            # (a name found otherwise is taken over a question asked back only if it was one of those asked about)
            return next((r for r in (other, plain) if r.status == "found"
                         and (asked is None or r.candidates[0].item.name in asked)),
                        result if result.status != "unknown" else other)
        # "ケープ(ヘアスプレー)使い切った", "タイヤ4本(ホイールなし)": what the citizen adds in brackets is
        # another name for the item or something said about it, not a part of the name they typed.
        result = self._match_text(without_notes(normalize_text(text)))
        found = result.status == "found" and not result.inside
        if found and result.candidates[0].score >= NOTE_OVERRULES:
            return result
        for note in notes:
            other = self._match_sentence(note)
            if other.status == "found" and other.phrase == note.strip() and not other.inside \
                    and (not found or other.candidates[0].score >= EXACT_READING > result.candidates[0].score):
                # (「プラスチックの箱（印箱）」: the name in brackets says more than a likeness of the words before it)
                # the note is only a name: 「ケープ(ヘアスプレー)」「電子キーボード(楽器)」; the answer quotes what was typed first
                return replace(other, phrase=result.phrase if result.status == "ambiguous" else other.phrase)
        return result

    def _match_text(self, text: str) -> MatchResult:
        norm = normalize_text(text)
        result = self._contents_first(self._match_words(text, norm), norm)
        described, said = self._described(norm)
        if result.status == "found":
            # 「布団をたたくやつ」「灯油を入れて運ぶやつ」「瓶の栓を抜くやつ」: a name that ends inside a description is
            # its object (ふとんたたき, ポリタンク, 栓抜き), not the thing; a name that ends the description is the thing
            # (「水やり忘れて枯らした観葉植物」)
            name_at = norm.find(result.phrase) if said and result.phrase else -1
            inside = name_at >= 0 and said.start() < name_at + len(result.phrase) < said.end()
            return described if inside else self._of_which_kind(norm, self._of_its_kind(norm, result))
        kind = self._of_which_kind(norm, result) if result.phrase else result  # (「コンロの下にしいてたマット」: not sure of マット)
        return described or (kind if kind is not result else None) or self._as_its_kind(norm, result) \
            or self._named_by_its_use(result) \
            or self._named_once_in_a_story(norm, result) or self._named_between_spaces(norm, result) \
            or self._long_vowels_spelled_out(norm, result) or result

    def _named_by_its_use(self, result: MatchResult) -> Optional[MatchResult]:
        """「漬物に使ってた重い石」 → 漬物石: a thing named after what it was used for, the use and the thing said apart; only
        where nothing was read and the compound is a name the dictionary knows."""
        used = _USED_FOR.search(result.phrase) if result.status == "unknown" else None
        other = self._match_phrase(used.group(1) + used.group(2)) if used else None
        return replace(other, phrase=result.phrase) if other and other.status == "found" else None

    def _long_vowels_spelled_out(self, norm: str, result: MatchResult) -> Optional[MatchResult]:
        """「せんたくもの の はんがあ」「さんかく こおなあ」: a loanword in hiragana, its long vowels written as vowels (as
        older people type), read as katakana with ー (ハンガー, コーナー); only where nothing was read as typed."""
        if result.status != "unknown" or not result.phrase:
            return None  # (「おおきい」 names nothing: no loanword is looked for in it)
        spelled = _SPELLED_LONG_WORD.sub(lambda m: jaconv.hira2kata(_SPELLED_LONG_VOWEL.sub(_as_long_vowel, m.group())),
                                         norm)
        if spelled == norm:
            return None
        other = self._match_words(spelled, spelled)
        # a name read, not a likeness (「めえる」 is no チラシ)
        return replace(other, phrase=result.phrase) if other.candidates and other.candidates[0].score >= SPELLED_OUT_MIN \
            else None

    def _named_once_in_a_story(self, norm: str, result: MatchResult) -> Optional[MatchResult]:
        """「去年の冬に父が施設に入ってから…父が使っていた車椅子が折りたたんだまま出てきたのですが、これは何ごみで…」:
        a long message where no phrase was read names exactly one thing of the dictionary, by a word or a compound
        of its own. Marked ``inside``: only a disposal word makes it a sorting question (bot/nlu/evidence.py)."""
        if result.status != "unknown" or len(norm) < STORY_LENGTH:
            return None
        morphemes = analyze(norm)
        named: Set[int] = set()
        named_until = 0
        for i, first in enumerate(morphemes):
            if first.start < named_until:
                continue  # a word inside a longer name (椅子 in 車椅子) is no name of its own
            for j in range(min(i + 4, len(morphemes)), i, -1):  # the longest compound of nouns first
                run = morphemes[i:j]
                if any(_pos(m) != "名詞" for m in run) or any(b.start != a.end for a, b in zip(run, run[1:])):
                    continue
                span = norm[first.start:run[-1].end]
                if len(span) < 2 or span in self.patterns.no_item or span in self.patterns.generic_heads \
                        or span in self.patterns.formal_nouns or (len(span) < 4 and _HIRAGANA.fullmatch(span)):
                    continue  # 「こと」 folds to コト like コート
                keys = self._by_surface.get(loose(span), ())
                if keys:
                    named.update(self._keys[k].item for k in keys)
                    named_until = run[-1].end
                    break
        if len(named) != 1:
            return None
        return MatchResult("found", [Candidate(self.items[named.pop()], NAMED_INSIDE)], result.phrase, inside=True)

    def _named_between_spaces(self, norm: str, result: MatchResult) -> Optional[MatchResult]:
        """「じっかの おしいれから ふるい ざぶとんが 10まい でてきました なにごみ ですか」: a message typed in kana word by
        word, as many older people type, where no phrase was read: the one word between spaces (less its particle)
        the dictionary surely names. Marked ``inside``, as a story's name is."""
        words = norm.split()
        if result.status != "unknown" or len(words) < SPACED_WORDS or len(_KANA_LETTERS.findall(norm)) < KANA_SHARE * len(
                norm.replace(" ", "")):
            return None
        named: Dict[int, Tuple[str, float]] = {}
        for word in words:
            if word.endswith("の"):
                continue  # 「くるまの おもちゃ」: a word before の says whose or which; the thing comes after it
            word = _WORD_PARTICLE.sub("", word)
            if len(word) < 2 or word in self.patterns.no_item or word in self.patterns.generic_heads:
                continue
            read = self._match_phrase(word)
            if read.status == "ambiguous" and read.candidates[0].score >= SURE_TAIL:
                return None  # another word names things too: which one is meant is not sure
            if read.status == "found" and read.candidates[0].score >= SURE_TAIL:
                named.setdefault(self._by_name[read.candidates[0].item.name],
                                 (word, read.candidates[0].score))
        if len(named) != 1:
            return None
        (item, (word, score)), = named.items()
        return MatchResult("found", [Candidate(self.items[item], score)], word, inside=True)

    def _of_which_kind(self, norm: str, result: MatchResult) -> MatchResult:
        """「電池で動く小さい液晶テレビ」「車につけてたテレビ見れる液晶モニター」: words that say which kind of the thing found
        it is (question_patterns.yml ``which_kind``), where that kind is a name of its own (ポータブルテレビ, カーテレビ)."""
        for says, of, names in self.patterns.which_kind:
            if of.search(result.phrase) and says.search(norm):
                found = [Candidate(self.items[self._by_name[n]], EXACT_READING) for n in names if n in self._by_name]
                if found:
                    return MatchResult("found" if len(found) == 1 else "ambiguous", found, result.phrase)
        return result

    def _of_its_kind(self, norm: str, result: MatchResult) -> MatchResult:
        """「さくらんぼが入って売ってたプラのカゴ」: a name found (かご) gives way to the name its product's kind makes
        (果物かご), where that name holds the kind's word."""
        product = self.patterns.kinds.search(norm) if self.patterns.kinds else None
        if not product:
            return result
        kind = self.patterns.kind_of[product.group(0)]
        other = self._as_its_kind(norm, result, product)
        if other and other.status == "found" and kind in other.candidates[0].item.name \
                and kind not in result.candidates[0].item.name:
            return other
        return result

    def _as_its_kind(self, norm: str, result: MatchResult,
                     product: Optional["re.Match[str]"] = None) -> Optional[MatchResult]:
        """「白い恋人の箱」 → 「お菓子の箱」: a product's name read as its kind (question_patterns.yml ``kinds``), the
        phrase matched again; only a found or asked name counts. ``product``: where the kind's word was found already."""
        kinds = self.patterns.kinds
        product = product or (kinds.search(norm) if kinds else None)
        if not product:
            return None
        named = norm[:product.start()] + self.patterns.kind_of[product.group(0)] + norm[product.end():]
        other = self._match_words(named, named)
        return replace(other, phrase=result.phrase or other.phrase) if other.status != "unknown" else None

    def _described(self, norm: str) -> Tuple[Optional[MatchResult], Optional[re.Match]]:
        """「かみのけかわかすやつ」「お湯をわかす電気のやつ」: a thing described by what it does (question_patterns.yml
        ``described``), and where the description is; (None, None) when no description is there."""
        for pattern, names in self.patterns.described:
            said = pattern.search(norm)
            if said:
                found = [Candidate(self.items[self._by_name[n]], EXACT_READING) for n in names if n in self._by_name]
                if found:
                    return MatchResult("found" if len(found) == 1 else "ambiguous", found, said.group(0)), said
        return None, None

    def _contents_first(self, result: MatchResult, norm: str) -> MatchResult:
        """「ペンキの缶 中身が半分くらい残ってる」「農薬のボトル…中身が半分ほど残っています」: what is still in the container
        is what to deal with first (塗料（液体の状態）, 農薬), where it is sorted otherwise than the empty container."""
        if not _CONTENTS_LEFT.search(norm):
            return result
        container = _CONTAINER_OF.match(result.candidates[0].item.name) if result.status == "found" else None
        # (「農薬のボトル」 read as 薬のプラ容器, whose name holds no product of its own: the product is in the phrase)
        container = container or _CONTAINER_OF.fullmatch(result.phrase)
        other = self._match_phrase(container.group(1)) if container else None
        if not other or other.status != "found":
            return result
        if result.status == "found" and other.candidates[0].item.category == result.candidates[0].item.category:
            return result
        return replace(other, phrase=result.phrase)

    def _match_words(self, text: str, norm: str) -> MatchResult:
        """``text`` as typed and ``norm``, the same normalised (the caller has it already)."""
        bought = _BOUGHT_WITH.sub("購入時の", norm)
        if bought != norm:
            # 「スーツを買った時のビニールカバー」: what came with a purchase, as the dictionary writes it (スーツ購入時のカバー)
            other = self._match_sentence(bought)
            if other.status == "found" and "購入時" in other.candidates[0].item.name:
                return other
        result = self._match_sentence(text)
        asking = self._asking_sentence(text)
        if asking != text and (result.status != "found" or result.inside):
            # 「引っ越しで台所用品を整理中です。木のしゃもじは何ごみ？」: the sentence that asks names the thing; taken
            # only where it reads a name (an earlier sentence's object, 台所用品を, is no question)
            other = self._match_sentence(asking)
            if other.status == "found" or (other.status == "ambiguous" and result.status == "unknown"):
                result = other
        sentences = [s for s in _SENTENCE_END.split(norm) if s.strip()]
        if result.status == "found" and "が" in result.phrase:
            # 「天ぷら揚げたあとの油が鍋に残ってるんですけど これ何ごみ」: the phrase ran on past what is left (油)
            for there in _IS_THERE.finditer(norm):
                if there.group(1) + "が" in result.phrase:
                    other = self._match_sentence(there.group(1), _relative=True)
                    if other.status == "found" and not other.inside:
                        return other
        if len(sentences) > 1 and ((result.status in ("found", "ambiguous") and result.phrase not in sentences[-1])
                                   or (result.status == "unknown" and not result.phrase)):
            # 「父の碁盤は知人が引き取ってくれることになりました。ただ碁石が残っています。これはどのごみでしょうか。」: the
            # question names nothing, and a name in an earlier sentence is not necessarily the thing to throw away
            told = self._told_before(sentences[:-1])
            if told:
                return told
        if result.status != "found" or result.inside:
            spaced = self._spaced_words(text)
            if spaced:
                return spaced
        if result.status != "found":
            subject = _SUBJECT.match(result.phrase)
            if subject and not _CLAUSE_THEN_NAME.search(result.phrase[subject.end():]):
                # (「骨が折れた扇子」: a clause ending in a name says which thing; the subject is a part of it, not it)
                # 「保冷剤が冷凍庫にたまりすぎて」「新聞がたまってしまって」: the phrase ran on past its subject; in
                # 「ストーブしまったら灯油が…残って」 the subject is the word after the clause (灯油), which the
                # dictionary lacks: no other name the clause holds is answered
                after = _AFTER_CLAUSE.match(subject.group(1))
                other = self._match_sentence(after.group(1) if after else subject.group(1), _relative=True)
                if other.status == "found" and not other.inside:
                    return other
                if after:
                    return other
            # "燃えないごみに出していい？ 液晶テレビ": the question first, the item in a sentence of its own
            for sentence in sentences if len(sentences) > 1 else ():
                other = self._match_sentence(sentence)
                if other.status == "found" and other.phrase == sentence.strip():  # the sentence is only a name
                    return other
            weak = result.status == "unknown" or (result.candidates and result.candidates[0].score < FOUND_MIN)
            if len(sentences) > 1 and (not result.phrase or weak):
                told = self._told_before(sentences[:-1])
                if told:
                    return told
        return result

    def _told_before(self, sentences: List[str]) -> Optional[MatchResult]:
        """The thing the sentences before a question that names nothing are about: 「実家の押し入れに耐火金庫がありました。
        鍵は開いています。捨て方を教えてください。」 → 耐火金庫. What is there, turned up or is left (「…がありました」
        「…が出てきました」「…が残っています」) first, nearest the question first; else the nearest sentence that names
        an item (「ウィズユーカードがまだ何枚か。これは何ごみでしょうか。」)."""
        for sentence in reversed(sentences):
            # (「物置に中身が残ってる農薬のボトルがあります」: where it is and what is in it are said before it)
            for there in _IS_THERE.finditer(self.without_modifiers(sentence.strip())):
                other = self._contents_first(self._match_sentence(there.group(1), _relative=True), sentence)
                named = _AFTER_ITS_CLAUSE.search(there.group(1))
                if other.status != "found" and named:
                    other = self._match_sentence(named.group(1), _relative=True)
                if other.status == "found" and not other.inside:
                    return self._compound_from(sentences, other)
                if other.status == "ambiguous" and other.candidates[0].score >= FOUND_MIN and not other.inside:
                    return other  # 「杖が2本あります」: 金属製 or not, asked back
        asked = None
        for sentence in reversed(sentences):
            if _WRAPPED_IN.match(sentence.strip()):
                continue  # 「…割っちゃった。新聞で包めばいい？」: what it is wrapped in is no item of its own
            other = self._match_sentence(sentence)
            if other.status == "found" and not other.inside:
                return other
            if asked is None and other.status == "ambiguous" and other.candidates[0].score >= FOUND_MIN \
                    and not other.inside:
                asked = other  # 「フレームがプラのサングラス、…。燃やせる？」: its variants, asked back (or picked by match)
        return asked

    def _spaced_words(self, text: str) -> Optional[MatchResult]:
        """「でんき もうふ こわれました」「にわ の うえき の えだ を きりました」: a message typed word by word with spaces
        (as many older people type in hiragana). Runs of neighbouring words, longest first, are read as one name;
        only a name read exactly counts. None when the message is not so typed or names nothing so."""
        words = [w for w in re.split(r"[\s、。,.!?！？]+", normalize_text(text)) if w]
        if len(words) < 3:
            return None
        for n in range(min(4, len(words)), 0, -1):
            for i in range(len(words) - n + 1):
                run = words[i:i + n]
                if run[0] in _PARTICLES or run[-1] in _PARTICLES or (n == 1 and len(run[0]) < 3):
                    continue
                joined = "".join(run)
                # 「すとうぶ」「すのうだんぷ」: a loanword's long vowel written う as it is said; 「粉ミルク 缶 からっぽ」:
                # keywords without their particle (粉ミルクの缶)
                owned = "の".join(run) if n == 2 and not any(_HIRAGANA.fullmatch(w) for w in run) else joined
                for form in dict.fromkeys((joined, _O_THEN_U.sub("ー", joined), owned)):
                    found = self._match_phrase(form)
                    if found.status == "found" and found.candidates[0].score >= EXACT_READING:
                        return replace(found, phrase=" ".join(run))
        return None

    def _compound_from(self, sentences: List[str], found: MatchResult) -> MatchResult:
        """A short name with a word said earlier in front of it, where the two make a name of their own: 「インスリン
        注射をしていました。使い終わった針が残っています。」 → 注射針 (not the sewing needle)."""
        if len(found.phrase) > 3:
            return found
        for word in dict.fromkeys(m.text for s in sentences for m in analyze(s) if m.pos == "名詞" and len(m.text) >= 2):
            other = self._match_phrase(word + found.phrase)
            if (other.status == "found" and other.candidates[0].score >= EXACT_READING
                    and other.candidates[0].item != found.candidates[0].item):
                return replace(other, phrase=found.phrase)
        return found

    def _match_sentence(self, text: str, _relative: bool = False) -> MatchResult:
        phrase = self.extract_item_phrase(text)
        if not phrase:
            return MatchResult("unknown", [], phrase)
        result = self._of_the_kind_after_nado(phrase) or self._match_listed(phrase) or self._match_phrase(phrase)
        words = phrase.split()
        if len(words) == 2 and (result.status != "found" or result.candidates[0].score < EXACT_READING):
            # 「歯ブラシ 歯みがき粉のチューブ」: two names side by side, each read exactly, are two things
            both = [self._match_phrase(w) for w in words]
            if all(b.status == "found" and b.candidates[0].score >= EXACT_READING for b in both) \
                    and both[0].candidates[0].item != both[1].candidates[0].item:
                return MatchResult("ambiguous", [b.candidates[0] for b in both], phrase, listed=True)
        if result.status == "unknown":
            # "ぴあの処分", "かれはを捨てたい": the の the marker took, or the は/が/を/も cut as a particle, ends a
            # word typed in kana (ピアノ, 枯葉); only a name read exactly counts
            for whole in (self.extract_item_phrase(text, keep_no=True), self._with_next_kana(text, phrase)):
                if whole and whole != phrase and _KANA.fullmatch(whole[-2:] or "-"):
                    other = self._match_phrase(whole)
                    if other.status == "found" and other.candidates[0].score >= EXACT_READING:
                        return other
            # 「子どものそり割れた」: fugashi read そり割れ as a verb and the phrase ended at 子ども; the kana word
            # after の, named exactly by its reading, is the item
            owned = self._kana_after_no(text, phrase)
            if owned:
                other = self._match_phrase(owned)
                if other.status == "found" and other.candidates[0].score >= MAIN_WORD:
                    return other
            # 「ふらいぱん テフロン(はげた)」: a name, a space, then a detail that names nothing
            if len(words) == 2:
                first, detail = self._match_phrase(words[0]), self._match_phrase(words[1])
                if (first.status == "found" and first.candidates[0].score >= EXACT_READING
                        and max((c.score for c in detail.candidates), default=0.0) < UNKNOWN_BELOW):
                    return first
        if result.status != "found" and not result.listed:  # 「ペンキの空き缶とハケ」: two things read, nothing to mend
            # 「（何か）もういらないんだけど画ようし何ごみ」: after a clause that ends in けど/ので, the name the question
            # asks about, when what came first names nothing
            clauses = _CLAUSE_THEN.split(normalize_text(text))
            asked = clauses[-1].strip()
            if len(clauses) > 1 and asked and self.patterns.markers.search(asked):
                other = self._match_sentence(asked, _relative=True)
                if other.status == "found" and not other.inside:
                    return other
                # 「扇風機が壊れたので引っ越しついでに捨てたい」: else the name is what the first clause is about — unless
                # it was taken out of the thing asked about (「写真は抜いたので空のアルバムを…」「電池は外したので本体を…」)
                other = self._match_sentence(clauses[0], _relative=True) if not _TAKEN_OUT.search(clauses[0]) else None
                if other and other.status == "found" and not other.inside:
                    return other
            # 「画ようし何ごみ」: kana the cuts took for a verb end a name typed half in kana, read exactly
            typed = self.extract_item_phrase(text, cut=False)
            if typed != phrase and typed.startswith(phrase) and _KANA.fullmatch(typed[len(phrase):]):
                other = self._match_phrase(typed)
                if other.status == "found" and other.candidates[0].score >= EXACT_READING:
                    return other
            # 「穴のあいたくつした」: a clause, then a name, both in hiragana: fugashi read くつ・し・た as a verb. The name
            # begins after the clause's た/い and is read exactly
            run = _HIRAGANA_END.search(typed)
            for at in range(1, len(run.group(0)) - 2) if run else ():
                if run.group(0)[at - 1] in "たい":
                    other = self._match_phrase(run.group(0)[at:])
                    if other.status == "found" and other.candidates[0].score >= EXACT_READING:
                        return replace(other, phrase=typed)
            # 「ヘルメット 原付の」「子供用の椅子 プラスチックの」: what it is for or made of, said after the name
            which = re.sub(r"の(ほう|方|やつ)$", "の", words[1]) if len(words) == 2 else ""  # 「プラのほう」
            if which.endswith("の") and len(which) >= 3:
                other = self._match_phrase(which + words[0])
                if _STATUS_RANK[other.status] > _STATUS_RANK[result.status] and not other.inside:
                    return replace(other, phrase=phrase)
            # 「セロテープ使い切った 芯」: a name, what became of it, then a part of it after a space: the name's part
            if len(words) == 2 and len(words[1]) <= 4:
                owner = self.extract_item_phrase(words[0])
                if owner and owner != words[0]:
                    other = self._match_phrase(f"{owner}の{words[1]}")
                    if other.status == "found" and not other.inside:
                        return replace(other, phrase=phrase)
            # 「エナドリの缶」「ヤクルトのいれもの」: a product's name, then its container; the dictionary's item for
            # the product is that container
            # 「VHSのテープ」「ケープのスプレー」: a name, then a word of its item's own name
            held = _PRODUCT_THEN_CONTAINER.fullmatch(phrase)
            part = _NAME_THEN_PART.fullmatch(phrase)
            if held or part:
                other = self._match_phrase((held or part).group(1))
                if other.status != "unknown" and other.candidates[0].score >= MAIN_WORD and all(
                        _CONTAINER_NAME.search(c.item.name) if held else loose(part.group(2)) in loose(c.item.name)
                        for c in other.candidates):
                    return replace(other, phrase=phrase)
            # 「入浴剤のボトル」「入浴剤のプラのボトル」: the dictionary calls the bottle the product's 容器
            if _BOTTLE_OF.search(phrase):
                other = self._match_phrase(_BOTTLE_OF.sub(r"\1容器", phrase))
                if other.status == "found":
                    return replace(other, phrase=phrase)
            # 「ペンキの空き缶」: the dictionary's ペンキの缶
            if "の空き" in phrase:
                other = self._match_phrase(phrase.replace("の空き", "の"))
                if other.status == "found":
                    return replace(other, phrase=phrase)
            # 「アイロンの台」「食器の棚」: の inside a compound the dictionary writes without it (アイロン台, 食器棚)
            joined = _NO_THEN_KANJI.fullmatch(phrase)
            if joined:
                other = self._match_phrase(joined.group(1) + joined.group(2))
                if other.status == "found" and other.candidates[0].score >= EXACT_READING:
                    return replace(other, phrase=phrase)
            # 「すのぼ 板」「すのぼの板」: a word in kana, then a generic head; fugashi cut the kana (す/の/ぼ)
            kana_word = _KANA_THEN_HEAD.fullmatch(phrase)
            if kana_word and kana_word.group(2) in self.patterns.generic_heads:
                other = self._match_phrase(kana_word.group(1))
                if other.status == "found" and other.candidates[0].score >= MAIN_WORD:
                    return replace(other, phrase=phrase)
            # 「ちょうこくとうセット」: a word in hiragana, then a generic head in other letters, written together
            head = _HIRAGANA_THEN_HEAD.search(phrase)
            if head and head.group(2) in self.patterns.generic_heads:
                other = self._match_phrase(phrase[: head.start(2)])
                if other.status == "found":
                    return replace(other, phrase=phrase)
        if not _relative and not result.listed:
            # 「庭木を剪定した枝」「チェーンが切れた自転車」: a clause before the name describes it, and the name is
            # what the clause ends on (Japanese puts the head last). The head's reading wins when it names an item
            # outright, better than the whole phrase did; when neither names one, the head is the cleaner phrase
            # to look up in the guide and to log (「液漏れした電池」 → 電池).
            # (「クレヨン入ってたプラのケース」 is クレヨンのプラのケース: what a container held is no clause, see held_in)
            for head in relative_heads(held_in(normalize_text(text))):
                other = self._match_sentence(head, _relative=True)
                if not other.inside and other.phrase and _better(other, result):
                    return other
        return result

    @staticmethod
    def _kana_after_no(text: str, phrase: str) -> str:
        """``phrase`` + の + the word in kana that follows it in ``text`` ("子ども" in "子どものそり割れた" →
        "子どものそり"), or ""."""
        norm = normalize_text(text)
        at = norm.find(phrase + "の")
        if at < 0:
            return ""
        word = re.match(r"[ぁ-ゖァ-ヺー]{2,}", norm[at + len(phrase) + 1:])
        return phrase + "の" + word.group(0) if word else ""

    @staticmethod
    def _with_next_kana(text: str, phrase: str) -> str:
        """``phrase`` with the particle-like kana that followed it in ``text`` ("かれ" in "かれはを…" → "かれは")."""
        norm = normalize_text(text)
        at = norm.find(phrase)
        following = norm[at + len(phrase): at + len(phrase) + 1] if at >= 0 else ""
        return phrase + following if following and following in "はがをもの" else ""

    def _match_phrase(self, phrase: str) -> MatchResult:
        """The dictionary's reading of one phrase. A message's routes read the same phrase several times, and a phrase
        retried in the dictionary's words retries the words after it again (_in_the_dictionary_s_words): each phrase
        is read once and remembered (the index never changes after __init__; results are frozen)."""
        known = self._phrases_read.get(phrase)
        if known is None:
            known = self._read_phrase(phrase)
            if len(self._phrases_read) >= PHRASES_REMEMBERED:
                self._phrases_read.clear()  # (a plain bound: the phrases of the last few hundred messages)
            self._phrases_read[phrase] = known
        return known

    def _read_phrase(self, phrase: str) -> MatchResult:
        query = self._analyse(phrase)
        scores = self._phrase_scores(phrase, query)
        if max(scores.values(), default=0.0) < OWNED_NAME * EXACT:  # else no owned name can rank above (hot path)
            owned = self._owner_and_main_word(phrase)
            if max(owned.values(), default=0.0) > max(scores.values(), default=0.0):
                scores = owned  # 「子どものシロップ薬のビン」: 薬のびん, not any びん
        if max(scores.values(), default=0.0) < FOUND_MIN:
            materials, _ = self._material_words(phrase)
            for item, score in self._main_word_scores(phrase).items():
                if materials and self._material_agreement(item, materials) is False:
                    score = score * MATERIAL_MISMATCH - MATERIAL_PENALTY  # 「100均のプラのハンガー」: not the metal one
                scores[item] = max(scores.get(item, 0.0), score)
        inside = False
        if max(scores.values(), default=0.0) < FOUND_MIN:
            named = self._named_inside_scores(phrase)
            inside = max(named.values(), default=0.0) > max(scores.values(), default=0.0)
            if inside:  # 「シャンプーの詰め替えパック」: a name that ends the phrase is its head, not a name inside it
                best = max(named, key=named.get)
                head = loose(re.sub(r"[がはもを]$", "", phrase))  # 「浴室のタイルが」
                inside = not any(head.endswith(self._keys[k].form.surface) for k in self._keys_of_item[best])
            for item, score in named.items():
                scores[item] = max(scores.get(item, 0.0), score)
        if max(scores.values(), default=0.0) < UNKNOWN_BELOW:
            scores.update(self._short_typo_scores(phrase))
        if max(scores.values(), default=0.0) < UNKNOWN_BELOW:
            scores.update(self._kanji_slip_scores(phrase))
        if max(scores.values(), default=0.0) < UNKNOWN_BELOW and "の" in phrase[1:-1]:
            # 「天井の証明器具」「台所の換気線」: a name typed wrong after words that say where it is; the name alone is
            # read (照明器具, 換気扇), only when it is read surely
            tail = self._match_phrase(phrase.rsplit("の", 1)[1])
            if tail.status == "found" and tail.candidates[0].score >= SURE_TAIL:
                return replace(tail, phrase=phrase)
        result = replace(self._decide(phrase, query, self._as_spelled_long(phrase, scores)), inside=inside)
        if result.status == "found":
            return result
        asked = None
        for worded in self._in_the_dictionary_s_words(phrase):
            other = self._match_phrase(worded)
            if other.status == "found":
                return replace(other, phrase=phrase)
            if asked is None and other.status == "ambiguous" and len(other.candidates) > 1 and result.status == "unknown":
                asked = other  # 「オリーブオイルの瓶のふた」: 食用油の容器のふた, of metal or of plastic, beats knowing nothing
        return replace(asked, phrase=phrase) if asked else result

    @staticmethod
    def _in_the_dictionary_s_words(phrase: str) -> Iterator[str]:
        """The phrase said as the dictionary says its names (_THE_DICTIONARY_S_WORDS), and without the adjectives inside it
        (「飲み薬の茶色いガラスの小瓶」: how it looks is no part of a name)."""
        for said, dictionary_word in _THE_DICTIONARY_S_WORDS:  # each on what the ones before it made of the phrase
            worded = said.sub(dictionary_word, phrase, count=1)
            if worded != phrase:
                yield worded
                phrase = worded
        words = analyze(phrase)  # (「透明な」: a word of how it looks and its な; 「小さな」)
        looks = [m for m in words[1:-1] if m.pos in ("形容詞", "連体詞")] + [
            m for i, (m, after) in enumerate(zip(words[:-1], words[1:])) if i and m.pos == "形状詞" and after.text == "な"
            and m.text not in _LIKE]
        looks = sorted(looks + [after for m, after in zip(words, words[1:]) if m in looks and after.text == "な"],
                       key=lambda m: m.start)
        if looks:
            kept, at = [], 0
            for look in looks:
                kept.append(phrase[at:look.start])
                at = look.end
            yield "".join(kept) + phrase[at:]

    def _as_spelled_long(self, phrase: str, scores: Dict[int, float]) -> Dict[int, float]:
        """「赤いコーン」: a loanword typed with its long vowel names the things whose names spell it so (カラーコーン),
        above those whose names hold it only once ー is folded away (エアコン, パソコン, リモコン)."""
        head = _LONG_KATAKANA_END.search(without_notes(normalize_text(phrase)))
        if not head or len(head.group(0)) < 3 or len(scores) < 2:
            return scores  # (only the name that ends the phrase: 「スーパーのトレイ」 is no スーパーボール)
        spelled = {i for i in scores if any(head.group(0) in self._keys[k].form.spelling for k in self._keys_of_item[i])}
        if not spelled or len(spelled) == len(scores) or max(scores[i] for i in spelled) < max(scores.values()):
            return scores  # (a tie broken, not a better reading overruled: 「スタンプ台(ケース」)
        return {i: score if i in spelled else score * HEAD_PENALTY for i, score in scores.items()}

    def _phrase_scores(self, phrase: str, query: _Form) -> Dict[int, float]:
        scores = self._score(query)
        materials, bare = self._material_words(phrase)
        if materials:
            for item, score in self._score(self._analyse(bare)).items():
                agrees = self._material_agreement(item, materials)
                score *= 1.0 if agrees else MATERIAL_MISMATCH
                scores[item] = max(scores.get(item, 0.0), score) - (MATERIAL_PENALTY if agrees is False else 0.0)
        return scores

    def _of_the_kind_after_nado(self, phrase: str) -> Optional[MatchResult]:
        """「レンチやペンチなど工具」: things listed, then the kind they are all of (工具類), which is what is asked about;
        None when no kind the dictionary names follows など."""
        kind = _KIND_AFTER_NADO.match(phrase)
        other = self._match_phrase(kind.group(1)) if kind else None
        return replace(other, phrase=phrase) if other and other.status == "found" else None

    def _match_listed(self, phrase: str) -> Optional[MatchResult]:
        """"傘と布団": two items, each found on its own, are both offered (ambiguous) rather than one of them
        answered as if it were the whole question. None when the phrase lists no items."""
        parts = _listed_parts(phrase)
        if len(parts) < 2 or max(self._exact_scores(self._analyse(phrase)).values(), default=0.0) >= EXACT_READING:
            return None

        def one(part: str) -> MatchResult:  # what is said of each thing is cut as of a whole phrase (「ラップの使いかけ」)
            result = self._match_phrase(self.extract_item_phrase(part) or part)
            if result.status != "found":  # 「ペンキの空き缶」: read as a sentence (ペンキの缶)
                other = self._match_sentence(part, _relative=True)
                result = other if other.status == "found" else result
            return result

        results = [one(parts[0])]
        owner = parts[0].rsplit("の", 1)[0] if "の" in parts[0][1:] else ""
        materials, _ = self._material_words(self.extract_item_phrase(parts[0]) or parts[0])
        for part in (p.lstrip("、, ") for p in parts[1:]):
            first = results[0].candidates[0].item.name if results[0].status == "found" else ""
            back = _POINTING_BACK.match(part)
            if back and first:
                # 「ジャムのびんと、その金属のふた」 → ジャムのびんの金属のふた; 「ヘアスプレーの缶と、そのキャップ」 →
                # ヘアスプレーのキャップ (the owner as typed, where the first thing's name has no such part)
                tries = [one(of + "の" + part[back.end():]) for of in dict.fromkeys([without_notes(first), owner]) if of]
                result = next((r for r in tries if r.status == "found"), tries[0])
            else:
                result = one(part)
            if result.status != "found" and not back:
                # 「ペットボトルのキャップとラベル」: the second thing belongs to the same owner (ペットボトルのラベル);
                # 「一升瓶とプラスチックのキャップ」: to the first thing (一升瓶のプラスチックのキャップ)
                owned = one((owner or parts[0].strip()) + "の" + part)
                result = owned if owned.status == "found" else result
            if result.status != "found" and not back and len(materials) == 1:
                # 「子ども用のプラのお茶碗とお皿」: the second thing is of the material said of the first (プラのお皿)
                made = one(next(iter(materials)) + "の" + part)
                result = made if made.status == "found" else result
            results.append(result)
        # a thing of two variants sorted alike (ポテチの袋: アルミ蒸着 or プラ製) counts as read
        if not all(r.status == "found" or (r.status == "ambiguous" and r.candidates[0].score >= FOUND_MIN
                                           and len({c.item.category for c in r.candidates}) == 1) for r in results):
            return None
        candidates = list({r.candidates[0].item.name: r.candidates[0] for r in results}.values())
        if len(candidates) == 1:
            return MatchResult("found", candidates, phrase)
        return MatchResult("ambiguous", candidates[:MAX_CANDIDATES], phrase, listed=True)

    def _main_word_scores(self, phrase: str) -> Dict[int, float]:
        """"二人掛けのソファー" → ソファー, "テフロン加工のフライパソ" → フライパン: when the whole phrase has no
        good key, the compound noun that ends it, else its main word, named exactly by a key (a word in kana
        also by its reading or with a typo). The words before it describe the item."""
        for word in _main_words(phrase, self.patterns.generic_heads):
            form = self._analyse(word)
            kana = not _KANJI.search(word)  # a word in kanji is as spelled: "印鑑証明" is no 照明
            scores = self._exact_scores(form, by_reading=kana)
            if not scores and not kana:  # 「庭の枯れ葉」: 枯葉 with other okurigana, the same kanji read the same;
                # 「母の杖」: a name the dictionary writes in hiragana (つえ), typed in kanji
                scores = {self._keys[k].item: EXACT_READING for k in self._by_reading.get(form.reading, ())
                          if _kanji_of(self._keys[k].form.spelling) in (_kanji_of(form.spelling), "")
                          and not _KATAKANA.search(self._keys[k].form.spelling)}
            for item, score in self._typo_scores(form).items() if kana else ():
                if score >= MAIN_WORD_TYPO:
                    scores[item] = max(scores.get(item, 0.0), score)
            if scores:
                return {item: score * MAIN_WORD for item, score in scores.items()}
        # 「コーヒードリッパー」: a loanword compound fugashi keeps whole, ending in a name of four kana or more
        run = _KATAKANA_END.search(phrase)
        for start in range(2, len(run.group(0)) - KATAKANA_HEAD_MIN + 1) if run else ():
            scores = self._exact_scores(self._analyse(run.group(0)[start:]))
            if scores:
                return {item: score * MAIN_WORD for item, score in scores.items()}
        return {}

    def _owner_and_main_word(self, phrase: str) -> Dict[int, float]:
        """「子どものシロップ薬のビン」 → 薬のびん: a name of the form XのY that ends the phrase, X the last word before
        its last の; more of the thing is named than by its main word alone (ビン: any びん), so it ranks above."""
        before, _, main = phrase.rpartition("の")
        if not before or not main or "の" in main:
            return {}
        compound = next(iter(_main_words(before, self.patterns.generic_heads)), "")
        owners = [compound[m.start:] for m in analyze(compound)]  # シロップ薬, 薬: each word the compound ends in
        whole = before.rpartition("の")[2]
        owners += [whole] if whole not in owners else []  # (「オリーブオイル」: its main word is オイル)
        for owner in owners:
            # (the whole part before の was read with the phrase already; its dictionary names were not)
            for name in ([] if owner == whole else [owner]) + self._dictionary_names_of(owner):
                scores = self._exact_scores(self._analyse(f"{name}の{main}"))
                if scores:
                    return {item: score * OWNED_NAME for item, score in scores.items()}
        return {}

    def _dictionary_names_of(self, word: str) -> List[str]:
        """「オリーブオイル」 → 油, 食用油, 廃食油: the names the dictionary gives the one item a word (a synonym) names, so
        that 「オリーブオイルのびん」 is read as 食用油のびん (食用油の缶・びん)."""
        items = {self._keys[k].item for k in self._by_surface.get(loose(word), ())}
        if len(items) != 1:
            return []
        item = items.pop()
        names = {self._keys[k].form.spelling for k in self._keys_of_item[item]}
        return sorted(n for n in names if loose(n) != loose(word) and not re.search(r"[()（）]", n))

    def _named_inside_scores(self, phrase: str) -> Dict[int, float]:
        """"退職したので名刺大量に", "lpレコード何十枚", "テレビ 32型": the phrase goes on after the
        item's name with what the citizen says about it. A key spelled whole by whole words inside the phrase
        counts when what follows it is no other thing: the end, a number, a verb or adverb, a word of quantity
        (大量, 全部). "自転車の空気入れ" is no 自転車, "テレビボード" no テレビ and "印鑑証明" no 印鑑: the name
        there describes the thing that follows it."""
        words = [(w.surface, w.feature.pos1, w.feature.pos2, w.feature.pos3) for w in tagger()(phrase) if w.surface]
        scores: Dict[int, float] = {}
        named_until = 0
        for i in range(len(words)):
            for j in range(len(words), max(i, named_until), -1):
                span = loose("".join(w[0] for w in words[i:j]))
                if len(span) < NAMED_INSIDE_MIN_LENGTH or (i == 0 and j == len(words)):
                    continue
                keys = self._by_surface.get(span)
                if keys and _says_about(words[j:]) and not _ends_in_another_thing(words[j:]):
                    for k in keys:
                        item, score = self._keys[k].item, NAMED_INSIDE * self._keys[k].weight
                        scores[item] = max(scores.get(item, 0.0), score)
                    named_until = j  # the words of a longer name are not names of their own (ヒーター in it)
                    break
        return scores

    def _kanji_slip_scores(self, phrase: str) -> Dict[int, float]:
        """"天体望遠境" → 天体望遠鏡, "空気静浄機のフィルター" → 空気清浄機のフィルター, "網度" → 網戸, "入れ葉" → 入れ歯: the
        input method chose another kanji of the same reading. The phrase, or the word that ends it, spelled as a key
        but for one kanji, and that kanji and the key's share a reading. fugashi reads such a slip by the wrong kanji
        (網度: モウド), so the readings alone do not find it."""
        scores: Dict[int, float] = {}
        words = [loose(phrase), *(loose(w) for w in _main_words(phrase, self.patterns.generic_heads))]
        for part in map(loose, _PARTICLE_OR_SPACE.split(phrase)):  # 「冷蔵庫の製表皿にヒビ」: 製表皿; 「古い入れ葉」: 入れ葉
            # (a word's end that begins after kana, not inside a kanji compound: 「予防注謝」 is no 注射 slip alone)
            words += [part[start:] for start in range(len(part) - 1) if start == 0 or not _KANJI.match(part[start - 1])]
        for word in dict.fromkeys(words):
            if len(word) < 2 or not _KANJI.search(word) or _known_word(word):
                continue  # a word of its own is no slip (「街灯」 is no 街頭)
            for at, char in enumerate(word):
                if not _KANJI.match(char):
                    continue
                for k, meant in self._kanji_slots.get(_slot(word, at), ()):
                    if meant != char and _kanji_readings(meant) & _kanji_readings(char):
                        key = self._keys[k]
                        scores[key.item] = max(scores.get(key.item, 0.0), KANJI_SLIP * key.weight)
            if scores:
                return scores
        return scores

    def _short_typo_scores(self, phrase: str) -> Dict[int, float]:
        """"テレピ" → テレビ, "ソフャー" → ソファー: a short word fugashi does not know (so no word of its own)
        one kana away from a key's reading is offered, to be confirmed. A slip of the voiced mark (ピ for
        ビ) is nearer than another kana (テレカ)."""
        word = next(iter(_main_words(phrase, self.patterns.generic_heads)), phrase)
        reading = _shape(loose(word))
        if len(reading) < SHORT_TYPO_MIN_LENGTH or not _unknown_word(word) or _LATIN_OR_DIGIT.fullmatch(word):
            return {}  # an acronym one letter off is another thing (AED is no LED)
        near = [(distance, choice) for choice, distance, _ in process.extract(
                    reading, self._shape_choices, scorer=Levenshtein.distance, score_cutoff=1, limit=MAX_CANDIDATES * 2)
                if len(choice) == len(reading)]  # one kana typed wrong, not one more or less ("テレピ" ≠ カーテレビ)
        scores: Dict[int, float] = {}
        for distance, choice in near:
            if distance == min(near)[0]:
                for k in self._by_shape[choice]:
                    key = self._keys[k]
                    scores[key.item] = max(scores.get(key.item, 0.0), SHORT_TYPO * key.weight)
        return scores

    def with_material_first(self, text: str) -> str:
        """「くつべら(プラの)」 → 「プラのくつべら」: a material said in brackets after a name, read before it (as the
        matcher reads such a message; bot/nlu/evidence.py compares the phrase with it)."""
        return _NAME_THEN_MATERIAL.sub(self._material_first, normalize_text(text))

    def _material_first(self, said: "re.Match[str]") -> str:
        """「くつべら(プラの)」 → 「プラのくつべら」; a note that names no material is dropped."""
        words = [w for w in self._materials_longest_first if w in said.group(2)]
        return f"{words[0]}の{said.group(1)}" if words else said.group(1)

    def _material_words(self, phrase: str) -> Tuple[Set[str], str]:
        """Materials named in the phrase, and the phrase without them ("金属のハンガー" → {金属}, "ハンガー")."""
        for pattern in (self._material_before, self._material_after, self._material_between, self._material_compound,
                        self._material_kana_compound, self._material_after_clause):
            found = pattern.search(phrase)
            if found:
                word = found.group("m") or found.group("n")
                return set(self.patterns.materials[word]), phrase[: found.start()] + phrase[found.end():]
        return set(), phrase

    def _material_agreement(self, item: int, materials: Set[str]) -> Optional[bool]:
        """Is the item's variant made of one of ``materials``? None when the variant names no material."""
        mentioned, negated = self._variant_materials[item]
        if not mentioned:
            return None
        return not (materials & mentioned) if negated else bool(materials & mentioned)

    def _score(self, query: _Form) -> Dict[int, float]:
        """Best score of every item that any key of it gives ``query``."""
        scores = self._exact_scores(query)
        if query.parts and all(p.generic for p in query.parts):
            return scores  # 「チンするやつ」 left only やつ: no name is found inside another by such a word (ワイシャツ)
        for k in self._containing(query):
            self._offer(scores, query, k, _coverage(query, self._keys[k].form))
        for item, score in self._typo_scores(query).items():
            scores[item] = max(scores.get(item, 0.0), score)
        return scores

    def _offer(self, scores: Dict[int, float], query: _Form, key_id: int, score: float) -> None:
        key = self._keys[key_id]
        score *= key.weight
        if key.spelling and key.spelling not in query.spelling:  # アルミホイル is not アルミホイール
            score *= LOOSE_SPELLING
        if score > scores.get(key.item, 0.0):
            scores[key.item] = score

    def _exact_scores(self, query: _Form, by_reading: bool = True) -> Dict[int, float]:
        scores: Dict[int, float] = {}
        for k in self._by_surface.get(query.surface, ()):
            self._offer(scores, query, k, EXACT)
        for k in self._by_reading.get(query.reading, ()) if by_reading else ():
            if _KANJI.search(query.spelling) and _KATAKANA.fullmatch(self._keys[k].form.spelling):
                continue  # 「棚」 (タナ) is no ターナー: a word in kanji is never a loanword's folded reading
            self._offer(scores, query, k, EXACT_READING)
        for k in self._by_voiced_reading.get(query.reading, ()) if by_reading else ():
            self._offer(scores, query, k, EXACT_READING)
        return scores

    def _typo_scores(self, query: _Form) -> Dict[int, float]:
        """Readings alike, as typed ("ペットボトール") or as they look ("ダンボーノレ", "フライパソ")."""
        scores: Dict[int, float] = {}
        if len(query.reading) >= SHORT_TYPO_MIN_LENGTH and not query.known_word and not _KANJI.search(query.spelling) \
                and query.reading not in self._by_reading:
            # 「トライヤー」「ヘビーカー」: only a voiced mark slipped, nearer than any other kana (not in a word of its
            # own, カラス is no ガラス, nor in a name read as typed: かばん is no 画板)
            for k in self._by_shape.get(_shape(query.reading), ()):
                if self._keys[k].form.reading != query.reading and _same_main_word(query, self._keys[k].form):
                    self._offer(scores, query, k, VOICED_SLIP)
            if scores:
                return scores  # the other likenesses are farther (トライヤー is no プライヤー)
        if len(query.reading) < FUZZY_MIN_LENGTH - 1 or (len(query.reading) < FUZZY_MIN_LENGTH
                                                         and not _LONG_KATAKANA.fullmatch(query.spelling)):
            return scores  # (「ドラヤー」 reads ドラヤ, three kana: typed with its long vowel, a loanword of four letters)
        alike = [(self._by_reading, query.reading, self._reading_choices, 0.0)]
        known_modifiers = [p for p in query.parts if query.phrase_of_words and p is not query.head and not p.generic
                           and len(p.reading) >= 2 and _known_word(p.surface)]
        real_words = _real_loanwords(query.spelling)
        if not _KANJI.search(query.spelling):  # kana typed, not read from kanji ("締め切り" is no つめ切り)
            alike.append((self._by_lookalike, _lookalike(query.reading), self._lookalike_choices, LOOKALIKE_COST))
        for index, reading, choices, cost in alike:
            for choice, ratio, _ in process.extract(reading, choices, scorer=fuzz.ratio,
                                                    score_cutoff=100 * FUZZY_CUTOFF - 5, limit=10):
                if query.known_word and not choice.startswith(reading):
                    continue  # a word of its own is no typo ("街灯" ≠ 水筒), but may be a name cut short ("照明")
                if any(not self._in_reading(part, choice) for part in known_modifiers):
                    continue  # "みりんの瓶" is no プリンのびん: the words before the main word are as typed
                if any(choice[at:at + 1] != word[:1] for at, word in real_words):
                    continue  # 「バスケットゴール」 is no バスケットボール (ゴール, a real word, would be a slip of its first kana)
                similarity = (ratio / 100 + Levenshtein.normalized_similarity(reading, choice)) / 2 - cost
                if similarity >= FUZZY_CUTOFF:
                    for k in index[choice]:
                        if _same_main_word(query, self._keys[k].form):
                            self._offer(scores, query, k, COVERAGE_MAX - (1 - similarity))
        return scores

    @staticmethod
    def _in_reading(part: _Part, reading: str) -> bool:
        return part.reading in reading

    def _containing(self, form: _Form) -> Set[int]:
        keys: Set[int] = set()
        for part in form.parts:
            found = self._surfaces.containing(part.surface)
            if part.kana and len(part.reading) >= 2:
                found |= self._readings.containing(part.reading)
            # A compound no key contains may still end in a key's word ("日傘" → "傘").
            for cut in range(1, len(part.surface)) if not found else ():
                found |= self._surfaces.containing(part.surface[cut:])
            keys |= found
        return keys

    def _decide(self, phrase: str, query: _Form, scores: Dict[int, float]) -> MatchResult:
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked or ranked[0][1] < UNKNOWN_BELOW:
            return MatchResult("unknown", self._suggestions(query, ranked), phrase)
        best = ranked[0][1]
        close = [(i, s) for i, s in ranked if s >= max(UNKNOWN_BELOW, best - WINDOW)][:MAX_CANDIDATES]
        # a name spelled exactly as typed beats names that only sound alike ("シャー芯" is no 写真)
        # … and a name read exactly as typed in kana beats names that only contain it (「くすり」: 薬, not the
        # 薬（錠剤・カプセル）の包装シート)
        clear = len(ranked) == 1 or ranked[1][1] < best - FOUND_MARGIN or (best >= EXACT and ranked[1][1] <= EXACT_READING) \
            or (best >= EXACT_READING and ranked[1][1] <= ALIAS_WEIGHT)
        if not clear and len(query.parts) >= 2:
            # 「目薬のケース」: 目薬に付属の携帯ケース names both words, 衣装ケース only one
            naming_all = [i for i, _ in close if self._names_every_word(i, query)]
            clear = naming_all == [ranked[0][0]]
            thing = None if naming_all else self._thing_after_purpose(phrase, [i for i, _ in close])
            if thing is not None:  # 「灯油用のポリタンク」: ポリタンク, not 灯油タンク
                close, clear = [(thing, best)], True
        status = "found" if best >= FOUND_MIN and clear else "ambiguous"
        return MatchResult(status, [Candidate(self.items[i], round(s, 3)) for i, s in close], phrase)

    def _thing_after_purpose(self, phrase: str, close: List[int]) -> Optional[int]:
        """「灯油用のポリタンク」「灯油入れてた赤いポリタンク」: the one close candidate named exactly by the words after
        用の, or by the words that end the phrase after a clause or an adjective; else None."""
        after = _FOR_THEN_THING.search(phrase)
        if after:
            named = [i for i in self._exact_scores(self._analyse(after.group(1)), by_reading=False) if i in close]
            return named[0] if len(named) == 1 else None
        # 「灯油入れてた赤いポリタンク」: the name that ends the phrase after a clause or an adjective
        for start in range(1, len(phrase) - 1):
            if phrase[start - 1] in _BEFORE_HEAD and not _HIRAGANA.match(phrase[start]):
                named = [i for i in self._exact_scores(self._analyse(phrase[start:]), by_reading=False) if i in close]
                if named:
                    return named[0] if len(named) == 1 else None
        return None

    def _names_every_word(self, item: int, query: _Form) -> bool:
        """Some key of ``item`` contains every content word of ``query`` (as spelled, or as read when typed in kana)."""
        for k in self._keys_of_item.get(item, ()):
            form = self._keys[k].form
            if all(p.surface in form.surface or (p.kana and p.reading in form.reading) for p in query.parts):
                return True
        return False

    def _suggestions(self, query: _Form, ranked: List[Tuple[int, float]]) -> List[Candidate]:
        """Up to 3 nearest names for "もしかして…": the weak matches, else the most similar readings."""
        scores = dict(ranked)
        for choice, ratio, _ in process.extract(query.reading, self._reading_choices, scorer=fuzz.ratio,
                                                score_cutoff=50, limit=MAX_SUGGESTIONS * 3):
            for k in self._by_reading[choice]:
                item = self._keys[k].item
                scores[item] = max(scores.get(item, 0.0), ratio / 200)
        best = sorted(((i, s) for i, s in scores.items() if s >= SUGGESTION_MIN), key=lambda kv: (-kv[1], kv[0]))
        return [Candidate(self.items[i], round(s / 2, 3)) for i, s in best[:MAX_SUGGESTIONS]]


_ABOUT_POS = {"動詞", "形容詞", "形状詞", "副詞", "助動詞", "連体詞", "補助記号", "代名詞"}
# 大量, 全部, 本, 切れ; not an action noun, which makes a compound of its own (印鑑証明 is no 印鑑)
_ABOUT_NOUNS = {"形状詞可能", "副詞可能", "助数詞", "助数詞可能"}


def _script(char: str) -> str:
    """"kanji", "katakana", "hiragana" or "" (anything else)."""
    return "kanji" if _KANJI.match(char) else "katakana" if _KATAKANA.match(char) else \
        "hiragana" if _HIRAGANA.match(char) else ""


def _kanji_of(text: str) -> str:
    """The kanji of a spelling, in order (枯れ葉 and 枯葉 → 枯葉)."""
    return "".join(_KANJI.findall(text))


_VOICED = str.maketrans("カキクケコサシスセソタチツテトハヒフヘホ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボ")
_UNVOICED_FROM = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ"
_KANA_LETTERS = re.compile(r"[ぁ-ゖァ-ヺー]")
_WORD_PARTICLE = re.compile(r"(?:が|を|は|も|の|から|に|で|って|とか)$")
_UNVOICED = str.maketrans(_UNVOICED_FROM, "カキクケコサシスセソタチツテトハヒフヘホ")
MAX_VOICED_WORDS = 3


def _voiced_readings(form: _Form) -> Set[str]:
    """The readings of a compound with the first kana of later words in kanji voiced, as the compound is said
    (座布団: ザ+フトン → ザブトン; 本棚, 筆箱 are known to fugashi whole). Only for a name of a few words."""
    later = [p for p in form.parts[1:MAX_VOICED_WORDS + 1] if not p.kana and p.reading[:1].translate(_VOICED) != p.reading[:1]]
    if not later or len(form.parts) > MAX_VOICED_WORDS + 1:
        return set()
    readings = set()
    for mask in range(1, 2 ** len(later)):
        reading = form.reading
        for n, part in enumerate(later):
            if mask >> n & 1:
                at = part.at_reading
                reading = reading[:at] + reading[at].translate(_VOICED) + reading[at + 1:]
        readings.add(loose(reading))
    return readings


def _unvoiced_after_no(form: _Form) -> Set[str]:
    """The reading of a name with a word after の said unvoiced: fugashi reads 「線香の箱」 センコウノバコ as if it were one
    compound, but after の a word keeps its own sound (せんこうのはこ)."""
    readings = set()
    for part in form.parts[1:]:
        at = part.at_reading
        if not part.kana and at > 0 and form.reading[at - 1] == "ノ" and form.reading[at] in _UNVOICED_FROM:
            readings.add(loose(form.reading[:at] + form.reading[at].translate(_UNVOICED) + form.reading[at + 1:]))
    return readings


def _no_word_of_its_own(kana: str) -> bool:
    """fugashi finds no noun of two letters or more and no finished verb (こわれた) in a word typed in hiragana: it cut
    a loanword or a name into pieces (きゃっぷ → きゃっ/ぷ, らべる → ら/べ/る)."""
    words = analyze(kana)
    if any(m.pos == "名詞" and len(m.text) >= 2 for m in words):
        return False
    return not any(a.pos in _VERB_POS and b.text in ("た", "だ", "て", "で") for a, b in zip(words, words[1:]))


def _says_about(rest: Sequence[Tuple[str, str, str, str]]) -> bool:
    """What follows a name says something about it rather than naming another thing (see
    :meth:`ItemMatcher._named_inside_scores`): nothing, a number or counter, a verb, an adverb, an action
    noun that is no compound's end (大量, 全部), a particle other than の."""
    if not rest:
        return True
    surface, pos1, pos2, pos3 = rest[0]
    if pos1 == "助詞":
        return surface != "の"
    return pos1 in _ABOUT_POS or pos2 == "数詞" or pos3 in _ABOUT_NOUNS


def _ends_in_another_thing(rest: Sequence[Tuple[str, str, str, str]]) -> bool:
    """"スーツ買ったときのカバー", "いちごが入ってたプラの缶": a noun after a verb or a particle is a thing of
    its own, which the words before it describe ("名刺大量に", "タイヤ4本" only say something about the item)."""
    clause = False
    for surface, pos1, pos2, pos3 in rest:
        if pos1 == "名詞" and pos2 != "数詞" and clause:
            return True
        clause = clause or pos1 in ("動詞", "形容詞", "助詞", "助動詞")
    return False


# Kanji that the dictionary and citizens write either way (瓶/びん, 蓋/ふた): compared in kana, so that
# 「コーヒーの瓶のふた」 meets コーヒーのびんのふた.
_KANJI_OR_KANA = str.maketrans({"瓶": "びん", "蓋": "ふた", "籠": "かご", "鞄": "かばん", "箒": "ほうき", "鋏": "はさみ",
                                "樽": "たる", "桶": "おけ", "笊": "ざる", "鍋": "なべ", "釜": "かま"})


def loose(text: str) -> str:
    return _loose_kana(text.translate(_KANJI_OR_KANA))


def _words(text: str) -> List[Morpheme]:
    """fugashi's morphemes; a text typed all in hiragana is cut only at "の" and punctuation instead,
    since fugashi cuts hiragana freely ("ぺっとぼとる" → ぺっ/と/ぼとる, "せんぷうき" → せん/ぷう/き)."""
    morphemes = analyze(text)
    if not all(_HIRAGANA.fullmatch(m.text) or _SEPARATOR.fullmatch(m.text) for m in morphemes):
        return morphemes
    words: List[Morpheme] = []
    run: List[Morpheme] = []
    for m in morphemes + [None]:
        if m is None or _SEPARATOR.fullmatch(m.text) or (m.text == "の" and m.pos == "助詞" and run):
            if run:
                joined = "".join(r.text for r in run)
                words.append(Morpheme(joined, run[0].start, run[-1].end, joined, None, "名詞"))
                run = []
            if m is not None:
                words.append(m)
        else:
            run.append(m)
    return words


def _coverage(query: _Form, key: _Form) -> float:
    """How well the phrase's words and the key's words cover each other (partial names, extra words).

    A missing word of the phrase counts half unless it is the phrase's main word; the key's
    parenthesised variant counts only where the phrase mentions it ("油の一斗缶" ↔ 一斗缶（食用油用））."""
    matched = total = in_key = inside = 0.0
    query_head = query.head is None
    key_head = key.head is None
    missing = outside = False
    for part in query.parts:
        size = len(part.reading)
        span = _locate(part, key)
        if span is None:
            if not part.generic:
                total += size if part is query.head else size / 2
                missing = True
            continue
        matched += size * span.share
        total += size
        covered = _key_size(key, span, size * span.share)
        in_key += covered
        if span.start >= key.parenthesis[0 if span.kind == "surface" else 1]:
            inside += covered
        else:
            outside = True
        query_head = query_head or part is query.head
        key_head = key_head or _overlaps(span, key.head)
    if not matched:
        return 0.0
    key_share = min(1.0, in_key / max(key.base_length + inside, 1))
    score = COVERAGE_MAX * (0.6 * matched / total + 0.4 * key_share)
    if not query_head:
        score *= HEAD_PENALTY
    if not key_head or not outside:  # only the key's description matches: "避難所" ↔ はかり（台所ばかり）
        score *= HEAD_PENALTY
    if missing and key_share < 1.0:  # other words on both sides: another kind of thing (キックボード ≠ ローボード)
        score *= OTHER_KIND
    if len(query.parts) == 1 and key_share < 1.0:  # "バス" may be a ベビーバス: ask, do not answer
        score = min(score, FOUND_MIN - 0.01)
    return score


def _same_main_word(query: _Form, key: _Form) -> bool:
    """A phrase of several words is alike a key only if the key has the phrase's main word: "ジャムの空き瓶"
    is alike ジャムのびん, "自転車のライト" is not alike 自転車のタイヤ."""
    head = query.head
    if not query.phrase_of_words or head is None or head.surface in key.surface or head.reading in key.reading:
        return True
    return any(len(p.reading) >= 2 and head.reading.endswith(p.reading) for p in key.parts)  # 空き瓶 ↔ びん


def _key_size(key: _Form, span: _Span, size: float) -> float:
    """How much of the key's reading a span covers: a word found by its spelling may be read otherwise in
    the key (油 is ユ in "ごま油", アブラ in 油のびん)."""
    if span.kind == "reading":
        return float(span.end - span.start)
    covered = 0.0
    for part in key.parts:
        overlap = min(span.end, part.at_surface + len(part.surface)) - max(span.start, part.at_surface)
        if overlap > 0:
            covered += len(part.reading) * overlap / len(part.surface)
    return covered or size


def _locate(part: _Part, key: _Form) -> Optional[_Span]:
    """Where the key contains the phrase's word. Japanese compounds end in their main word, so a word of
    one or two characters must end a word of the key ("棒" is in "アイスキャンデーの棒", "服" in "衣服";
    "雪" is not in "雪かき", "カバ(ー)" not in "カバン"), and a compound may be found by its last word
    ("日傘" → "傘"). A word typed in kana may be found in the reading, as whole words only
    ("れいぞうこ" in 冷蔵庫; "タバコ" not in ゲタバコ = げた箱)."""
    found = _find(key, part.surface, "surface")
    if found is None and part.kana and len(part.reading) >= 2:
        found = _find(key, part.reading, "reading")
    if found is not None:
        return found
    # one katakana before a word the key writes in katakana makes another word, not a kind of it (スコップ is no
    # コップ; ラーメン is a めん)
    katakana = loose("".join(_KATAKANA.findall(key.spelling))) if _KATAKANA.fullmatch(part.surface) else ""
    ends = [p for p in key.parts if len(p.surface) < len(part.surface) and part.surface.endswith(p.surface)
            and not (len(part.surface) - len(p.surface) == 1 and p.surface in katakana)]
    if not ends:
        return None
    word = max(ends, key=lambda p: len(p.surface))
    return _Span("surface", word.at_surface, word.at_surface + len(word.surface),
                 min(1.0, len(word.reading) / len(part.reading)))


def _find(key: _Form, word: str, kind: str) -> Optional[_Span]:
    if kind == "surface":
        text, ends, starts = key.surface, key.word_ends[0], None
    else:
        text, ends, starts = key.reading, key.word_ends[1], key.reading_starts
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        if (len(word) > 2 or end in ends) and (starts is None or (start in starts and end in ends)) \
                and not _straddles(key, start, end, kind):
            return _Span(kind, start, end, 1.0)
        start = text.find(word, start + 1)
    return None


def _straddles(key: _Form, start: int, end: int, kind: str) -> bool:
    """The span starts inside a word of the key and ends after it: "レシート" in トイレ|シート is no word."""
    for part in key.parts:
        at, size = (part.at_surface, len(part.surface)) if kind == "surface" else (part.at_reading, len(part.reading))
        if at < start < at + size < end:
            return True
    return False


def _overlaps(span: _Span, head: Optional[_Part]) -> bool:
    if head is None:
        return False
    head_start, head_end = ((head.at_surface, head.at_surface + len(head.surface)) if span.kind == "surface"
                            else (head.at_reading, head.at_reading + len(head.reading)))
    return span.start < head_end and head_start < span.end


def _lookalike(reading: str) -> str:
    """A loose reading with kana that look alike folded: "ダンボノレ" → ダンボル, "フライパソ" → フライパン."""
    for typed, meant in _LOOKALIKE:
        reading = reading.replace(typed, meant)
    return reading


def _shape(reading: str) -> str:
    """A loose reading as it looks, voiced marks dropped too ("テレピ" → テレヒ = テレビ's)."""
    return "".join(c for c in unicodedata.normalize("NFD", _lookalike(reading)) if c not in "\u3099\u309a")


def _name_goes_on(before: str, after: str) -> bool:
    """A の spaced off joins the words of one name across the space: 「雪かきの スコップ」 (a loanword after の),
    「ほとけさま の はな」 (の standing alone between hiragana words)."""
    return ((before.endswith("の") and bool(re.match(r"[ァ-ヺ]", after)))
            or (after.startswith("の ") and _all_hiragana(before))
            or (before.endswith(" の") and bool(re.match(r"[ぁ-ゖ]", after))))


def _main_words(phrase: str, generic: FrozenSet[str]) -> List[str]:
    """"二人掛けのソファー" → ["ソファー"], "100円ライター" → ["100円ライター", "ライター"]: the compound noun
    that ends the phrase (or a word in kana after its last の), and its last word that is not generic ("ひな人形一式" →
    人形). A last word of one
    character is no word of its own inside a compound ("救急車" is not a 車 to throw away)."""
    if _all_hiragana(phrase):
        return []
    morphemes = analyze(phrase)
    start = len(morphemes)
    while start and _pos(morphemes[start - 1]) in _NOUN_POS:
        start -= 1
    nouns = morphemes[start:]
    words = [phrase[nouns[0].start:]] if nouns else []
    if not nouns and "の" in phrase:
        # 「習字のはんし」: a name typed in kana after の, which fugashi took for a verb (はんし → 半紙 by its reading)
        tail = phrase.rsplit("の", 1)[1]
        if len(tail) >= 2 and _ALL_KANA.fullmatch(tail):
            words = [tail]
    heads = [i for i, m in enumerate(nouns) if m.text not in generic and m.lemma not in generic]
    if heads and (heads[-1] == 0 or len(nouns[heads[-1]].text) >= 2):
        head = nouns[heads[-1]]
        words.append(phrase[head.start:head.end])
    return [w for w in dict.fromkeys(words) if w != phrase]


def _listed_parts(phrase: str) -> List[str]:
    """"傘と布団" → ["傘", "布団"]: nouns joined by と / や; [] when the phrase lists nothing. After the と may come
    a comma, a word that describes the next thing or points back: 「歯みがき粉のチューブと古い歯ブラシ」「ジャムのびんと、
    その金属のふた」."""
    if _all_hiragana(phrase):
        return []
    morphemes = analyze(phrase)
    cuts = [m for i, (before, m, after) in enumerate(zip(morphemes, morphemes[1:], morphemes[2:]))
            if m.pos == "助詞" and m.text in _LISTING
            and (_pos(before) in _NOUN_POS or _empty_one(morphemes[:i + 1]))
            and (_pos(after) in _NOUN_POS or after.pos in _LISTED_NEXT or after.text in ("、", ",")
                 or _a_clause_then_its_thing(morphemes[i + 2:]))]
    parts, start = [], 0
    for m in cuts:
        parts.append(phrase[start:m.start].strip())
        start = m.end
    return [p for p in parts + [phrase[start:].strip()] if p] if cuts else []


def _a_clause_then_its_thing(morphemes: Sequence[Morpheme]) -> bool:
    """「(ティッシュの空き箱と)使ったティッシュ」: a verb that says which one, then the thing, and nothing else."""
    return len(morphemes) >= 2 and morphemes[0].pos == "動詞" and _pos(morphemes[-1]) in _NOUN_POS \
        and all(m.pos in ("動詞", "助動詞", "名詞", "接尾辞") or (m.pos == "助詞" and m.text in ("の", "て", "で"))
                for m in morphemes)


def _empty_one(morphemes: Sequence[Morpheme]) -> bool:
    """「弁当のから」 ends in から (空, the empty container), which fugashi reads as the particle から."""
    return len(morphemes) >= 3 and morphemes[-1].text == "から" and morphemes[-2].text == "の"


def _unknown_word(text: str) -> bool:
    """One word that fugashi does not know: "テレピ", "ソフャー" (so probably a typo), not "ピン"."""
    words = list(tagger()(text))
    return len(words) == 1 and bool(words[0].is_unk)


def _known_word(text: str) -> bool:
    """One word that fugashi knows, not in hiragana (which it cuts freely): "街灯" is not a typo of 水筒."""
    words = list(tagger()(text))
    return len(words) == 1 and not words[0].is_unk and not _all_hiragana(text)


# 「写真は抜いたので」「電池は外したので」: taken out of the thing (not 出したい, a wish)
_TAKEN_OUT = re.compile(r"((抜|ぬ)い|(外|はず)し|(取|と)り(出|だ)し|(出|だ)し|(取|と)っ)(た|て)(?!い)")
_BECAUSE = {"ので", "から", "けど", "けれど", "けれども", "のに"}  # a clause that ends there says why or what was done


def _after_because(morphemes: Sequence[Morpheme], start: int) -> Optional[int]:
    """The index of the first word after a clause that ends in ので/から/けど/のに (fugashi reads ので as の + で) after
    a verb, from ``start`` on; None when there is none."""
    for n in range(max(start, 1), len(morphemes) - 1):
        word, before = morphemes[n], morphemes[n - 1]
        if _pos(before) not in ("動詞", "助動詞", "形容詞"):
            continue
        if _pos(word) == "助詞" and word.text in _BECAUSE:
            return n + 1
        if word.text == "の" and morphemes[n + 1].text == "で" and n + 2 < len(morphemes):
            return n + 2
    return None


_PARTICLE_OR_SPACE = re.compile(r"[\sのはがをにでと、,]+")


def _slot(surface: str, at: int) -> str:
    return surface[:at] + "\0" + surface[at + 1:]


@functools.lru_cache(maxsize=4096)
def _kanji_readings(kanji: str) -> FrozenSet[str]:
    """Every reading fugashi knows of one kanji as a word of its own (境: サカイ, キョウ; 鏡: カガミ, キョウ), from its
    best analyses."""
    readings = set()
    for line in tagger().nbest(kanji, 8).splitlines():
        fields = line.split("\t")
        if len(fields) > 2 and fields[0] == kanji:  # as said (戸: ド in 網戸) and as written (ト)
            readings.update(r.replace("ー", "ウ") for r in fields[1:3] if r and r != "*")
    return frozenset(readings)


def _real_loanwords(spelling: str) -> List[Tuple[int, str]]:
    """Where each word starts in the loose reading, and the word, of a compound typed in katakana whose every word
    fugashi knows, of three kana or more (バスケット + ゴール), else []: a slip that changes a real word's first kana
    makes another word, not a typo (ペットボルト, its kana swapped inside the word, is still a typo of ペットボトル)."""
    if not _KATAKANA_WORD.fullmatch(spelling):
        return []
    tagged = [w for w in tagger()(spelling) if w.surface]
    if len(tagged) < 2 or any(len(w.surface) < 3 or w.is_unk for w in tagged):
        return []
    starts, at = [], 0
    for word in (w.surface for w in tagged):
        starts.append((at, loose(word)))
        at += len(loose(word))
    return starts


def _all_hiragana(text: str) -> bool:
    return bool(_HIRAGANA.fullmatch(_CLAUSE_SEPARATOR.sub("", text)))


def _pos(m: Morpheme) -> str:
    """fugashi's part of speech, except that katakana and Latin letters are nouns: it cuts loanwords it
    does not know into pieces it calls particles or auxiliaries ("バケ/ツ", "スーツケ-/ス"), and may call
    "switch" an interjection."""
    return "名詞" if _KATAKANA.fullmatch(m.text) or _LATIN_OR_DIGIT.fullmatch(m.text) else m.pos


def without_notes(norm: str) -> str:
    """The normalised text without what the citizen put in brackets (「ドライバー(ネジ回し)」 → 「ドライバー」); a note
    inside the text leaves a space (「ひげそり(電気の)充電できなくなった」 → 「ひげそり 充電…」, not 「ひげそり充電」)."""
    return re.sub(r"\s{2,}", " ", _NOTE.sub(" ", norm)).strip()


_CLAUSE_ENDS = {"動詞", "助動詞"}
_STATUS_RANK = {"unknown": 0, "ambiguous": 1, "found": 2}


def _better(head: MatchResult, whole: MatchResult) -> bool:
    """The head of a relative clause reads the message at least as well as the whole phrase: a surer status, or
    the same status with no lower score (「チェーンが切れた自転車」: 自転車 at 1.0, not 自転車の輪・チェーン at 0.9)
    and a shorter phrase, which is what the answer quotes and the unanswered log keeps."""
    rank, whole_rank = _STATUS_RANK[head.status], _STATUS_RANK[whole.status]
    if whole.status == "unknown" and head.status == "ambiguous" and not head.listed:
        return False  # 「ネギに巻いてあるテープ」: a vague head is no better than nothing (two things named are no vague head)
    if rank != whole_rank:
        return rank > whole_rank
    if len(head.phrase) >= len(whole.phrase):
        return False
    best = lambda r: r.candidates[0].score if r.candidates else 0.0  # noqa: E731
    return best(head) >= best(whole)


@functools.lru_cache(maxsize=4096)  # several routes of the matcher and bot/nlu/evidence.py read the same text
def relative_heads(norm: str) -> Tuple[str, ...]:
    """Where ``norm`` goes on after a clause that ends in an attributive verb right before a noun, last first:
    「庭木を剪定した枝を捨てたい」 → ["枝を捨てたい"], 「妻が使ってた鍋」 → ["鍋"]. A space or a comma between them
    is not a relative clause ("フライパン 焦げた 取っ手"); nor is an adjective, which describes places and food
    more than things to throw away (「一番高い山」「ガソリンが安いスタンド」)."""
    words = [w for w in tagger()(norm) if w.surface]
    heads, cursor, starts = [], 0, []
    for w in words:
        at = norm.find(w.surface, cursor)
        starts.append(at)
        cursor = at + len(w.surface)
    for i in range(len(words) - 1):
        verb, noun = words[i], words[i + 1]
        form = str(getattr(verb.feature, "cForm", "") or "")
        if not (getattr(verb.feature, "pos1", "") in _CLAUSE_ENDS and form.startswith(("連体形", "終止形"))
                and starts[i + 1] == starts[i] + len(verb.surface)):
            continue
        if getattr(noun.feature, "pos1", "") in ("名詞", "接頭辞"):
            heads.append(norm[starts[i + 1]:])
            continue
        # 「食器を包んでいた白い発泡スチロール」: an adjective between the clause and its noun
        after = words[i + 2] if i + 2 < len(words) else None
        if getattr(noun.feature, "pos1", "") == "形容詞" and after is not None \
                and getattr(after.feature, "pos1", "") == "名詞" and starts[i + 2] == starts[i + 1] + len(noun.surface):
            heads.append(norm[starts[i + 1]:])
            continue
        # 「ケーキについてきたほれいざい」: a head in hiragana that fugashi cut into cries and signs, read as katakana
        # (not an ending that goes on with the grammar: 「捨てたいらしいんだけど」 is no ラシインダケド)
        kana = _HIRAGANA_RUN.match(norm, starts[i + 1]) \
            if getattr(noun.feature, "pos1", "") not in ("助動詞", "助詞") else None
        if kana and _no_word_of_its_own(kana.group(0)):
            heads.append(jaconv.hira2kata(kana.group(0)) + norm[kana.end():])
    return tuple(heads[::-1])


def as_the_matcher_reads(norm: str) -> str:
    """A container in the dictionary's words: 「納豆のいれもの」 is 納豆の容器, 「ガラスの容器」 びん; 「ペットボトルのまわりの
    ラベル」 is the bottle's label."""
    return _NOT_THE_KIND.sub("", _PET.sub("ペット", _AROUND.sub("の", _GLASS_CONTAINER.sub("びん", _CONTAINER_WORD.sub("容器", norm)))))


# 「電気じゃない普通の毛布」「木製でない椅子」: the kind it is not, said before the name, is no part of the name (else it
# reads 電気毛布); only right before a name (「燃えないごみじゃないよね」 keeps its words)
_NOT_THE_KIND = re.compile(r"[^\s、,。のはがをも]{1,6}(?:じゃない|じゃなくて|ではない|ではなくて|でない)\s*"
                           r"(?:(?:普通|ふつう|ただ)の)?(?=[\u3400-\u9fff々ァ-ヺー])")


_TIME_OF = re.compile(r"^(時|とき|後|あと|際)の")
# 「電話を置く台」「本を入れる棚」: what holds a thing, named by it (電話台, 本棚, 靴箱, ティッシュケース)
_STAND_FOR = {"台", "棚", "箱", "ケース", "ラック", "スタンド", "かけ", "掛け", "立て", "たて"}
_ONE_NOUN = re.compile(r"[\u3400-\u9fff々]{1,4}|[ァ-ヺー]{2,8}")
_CLAUSE_THEN_CONTAINER = re.compile(rf"[^\s、,。]{{0,14}}?(?:た|る|てる|ていた|てた|ている)(?P<container>{_HOLDERS})"
                                    r"(?![\u3400-\u9fffァ-ヺー])")


def _relative_clause_head(obj: str, after: str, formal_nouns: FrozenSet[str]) -> str:
    """「洋服をかける|パイプハンガー」: what follows 〜を when it is a clause (a verb, its endings) and then a noun: the noun
    the clause describes, and what comes after it; 「靴を買った時の|箱」「シールをはがした後の|台紙」: the object's own
    thing (靴の箱, シールの台紙). "" when 〜を ends no such clause (「物置を解体したので」「ゲーム機を売りたい」)."""
    words = analyze(after)
    held = _CLAUSE_THEN_CONTAINER.match(after)
    if held and obj and words and (words[0].pos == "動詞" or (len(words) > 1 and words[1].lemma == "為る")):
        # 「水性ペンキを使い切って空になった缶」「油を保存していたボトル」: the container of what the clause names
        return f"{obj}の{after[held.start('container'):]}"
    if not words or words[0].pos != "動詞":
        return ""
    i = 0
    while i < len(words) and (words[i].pos in ("動詞", "助動詞") or (words[i].pos == "助詞" and words[i].text in ("て", "で"))
                              or (words[i].pos == "形容詞" and words[i - 1].pos == "助動詞")):  # 「置いていた小さい台」
        i += 1
    if 0 < i < len(words) - 2 and words[i].pos == "形状詞" and words[i + 1].text in ("の", "な") \
            and words[i - 1].pos == "助動詞":
        i += 2  # 「包んでた透明のフィルム」: how it looks, between the clause and the thing
    if i == len(words) or words[i].pos != "名詞" or words[i - 1].text in ("て", "で"):
        return ""
    rest = after[words[i].start:]
    time = _TIME_OF.match(rest)
    if not time and words[i].text in formal_nouns:
        return ""  # 「神棚を片付けることになりました」「油をふいたものです」: no thing after the clause
    if words[i].text in _STAND_FOR and _ONE_NOUN.fullmatch(obj):
        # 「電話を置いていた小さい台」: a stand or a shelf is named by what it holds (電話台, 本棚), by the main word of
        # a compound (固定電話を…台: 電話台; not ゲーム機 → 機)
        last = analyze(obj)[-1].text
        return (last if len(last) >= 2 and _ONE_NOUN.fullmatch(last) else obj) + rest
    return f"{obj}の{rest[time.end():]}" if time and obj else rest


def named_in_brackets(norm: str, phrase: str) -> bool:
    """The phrase read is a note in brackets of ``norm``: 「お風呂の石けん置き(ソープディッシュ)」."""
    return bool(phrase.strip()) and phrase.strip() in {note.strip() for note in _NOTE.findall(norm)}


def held_in(norm: str) -> str:
    """「お茶っ葉が入ってた缶」 → 「お茶っ葉の缶」: the container named by what it held, as the dictionary names it;
    「ヨーグルトのカップについてるふた」 → 「ヨーグルトのカップのふた」: a part named by what it is on (ヨーグルトのふた)."""
    return _ATTACHED.sub("の", _CONTAINED.sub("の", norm))


def _cut_predicate(phrase: str) -> str:
    """"お茶碗割れちゃった" → "お茶碗", "窓ガラスが割れた" → "窓ガラス": a clause that ends the phrase with an
    inflected verb or an adjective is cut off, from its subject's が on. A name that ends in a verb stem
    ("コート掛け") keeps it; a clause before the item ("ガスが残ってる100円ライター") is left to the matcher."""
    if _all_hiragana(phrase):
        return phrase
    kana_item = _KANA_THEN_CLAUSE.match(phrase)
    if kana_item and all(_pos(m) in _CLAUSE_POS for m in analyze(kana_item.group(2))):
        return kana_item.group(1)  # "あみど外したけど" → あみど (fugashi cuts the hiragana into あ/み/ど)
    morphemes = analyze(phrase)
    cut = len(morphemes)
    while cut and _pos(morphemes[cut - 1]) in _CLAUSE_POS:
        cut -= 1
    tail = morphemes[cut:]
    if (tail and tail[0].lemma == "為る" and cut >= 2 and _suru_noun(morphemes[cut - 1])
            and any(_pos(m) == "名詞" for m in morphemes[:cut - 1])):
        cut -= 1  # "イヤホン断線したから" → イヤホン: 断線 belongs to the verb, not to the item's name
        tail = morphemes[cut:]
    if cut and len(tail) >= 2 and _pos(morphemes[cut - 1]) == "名詞" and tail[0].start == morphemes[cut - 1].end \
            and _pos(tail[0]) == "動詞" and _pos(tail[1]) == "動詞" and _verb_stem(tail[0].text):
        cut += 1  # "空気入れ壊れた" → 空気入れ: a noun + a verb stem is a name (入れ, 掛け), the next verb the clause
        tail = morphemes[cut:]
    if not cut or not tail or _pos(tail[-1]) == "動詞" or not any(_pos(m) in _VERB_POS for m in tail):
        return phrase  # "圧力なべ" is 圧力 + な + べ to fugashi, but has no verb
    if not any(_pos(m) == "名詞" for m in morphemes[:cut]):
        return phrase  # "お願いします": nothing to name is left
    subjects = [m for before, m in zip(morphemes, morphemes[1:cut])
                if m.text == "が" and m.pos == "助詞" and _pos(before) == "名詞"]
    return phrase[: (subjects[-1] if subjects else tail[0]).start].strip()


_HIRAGANA_THEN_HEAD = re.compile(r"([ぁ-ゖー]{2})([ァ-ヺー一-龯]+)$")
_KANA_THEN_HEAD = re.compile(r"([ぁ-ゖァ-ヺー]{2,})(?:の|\s+)(\S+)")
_KANA_THEN_CLAUSE = re.compile(r"^([ぁ-ゖー]{2,})([\u3400-\u9fff々].*)$")


def _verb_stem(word: str) -> bool:
    """The 連用形 of a verb (入れ, 掛け, 立て), which ends compound names of things."""
    words = list(tagger()(word))
    return len(words) == 1 and str(getattr(words[0].feature, "cForm", "") or "").startswith("連用形")


def _suru_noun(m: Morpheme) -> bool:
    """A noun that makes a verb with する (断線, 交換, 故障): UniDic's 名詞-普通名詞-サ変可能."""
    if _pos(m) != "名詞" or not _KANJI.search(m.text):
        return False
    words = list(tagger()(m.text))
    return len(words) == 1 and getattr(words[0].feature, "pos3", "") == "サ変可能"


def _stripped_again(text: str, patterns: Sequence[re.Pattern], at_start: bool) -> str:
    """``text`` with ``patterns`` stripped (_strip) until none matches any more; ``text`` itself when nothing is left."""
    stripped, previous = text, None
    while stripped != previous:
        previous = stripped
        for pattern in patterns:
            stripped = _strip(stripped, pattern, at_start)
    return stripped or text


def _strip(text: str, pattern: re.Pattern, at_start: bool) -> str:
    """Remove ``pattern`` from the start (or the end) of ``text`` again and again."""
    while text:
        found = pattern.search(text)
        if not found or found.start() == found.end():
            return text
        text = (text[found.end():] if at_start else text[: found.start()]).strip()
    return text


def _alternatives(item: GarbageItem) -> List[str]:
    """The parts of a combined name as names of their own. "アイスクリームのカップ・ふた" is
    アイスクリームのカップ and アイスクリームのふた, not just "ふた"; parts cut inside a parenthesis
    ("薬（錠剤", "カプセル）の包装シート") are no names."""
    parts = [a for a in item.alternatives if a.count("（") + a.count("(") == a.count("）") + a.count(")")]
    if not parts or "の" not in parts[0]:
        return parts
    owner = parts[0][: parts[0].rindex("の") + 1]
    return [parts[0]] + [p if "の" in p else owner + p for p in parts[1:]]
