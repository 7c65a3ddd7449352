"""What a message tells of a thing after naming it, after a comma or a space: one home for the readings that need it.

- The item matcher (``ItemMatcher._named_then_told``) cuts 「室内用の小さいほうき、毛先がボロボロ」 to the name before
  the comma: what follows is a clause of its own (a part, its particle, what befell it) or the occasion (〜で, 〜ので).
- The evidence (``bot/nlu/evidence.py``, ``_named_then_described``) takes 「ピアニカ 子どもが小学校で使ってた」 for a
  sorting question: the name, then what happened to it, told in the past or as a state, neither asked nor wished.
- ``said_as_a_note`` reads 「竹の釣り竿、祖父のもの」 as 「竹の釣り竿(祖父の)」 for both the matcher and the evidence.
- The item matcher's ``_first_clause`` cuts at a comma followed by a clause with a verb of its own (it needs the
  matcher's dictionary to tell a name before the comma, so it stays a method there).
"""
from __future__ import annotations

import re

from bot.nlu.morphology import analyze

# after the name and a comma: a part of it and what befell it (「毛先がボロボロ」「刃がさびさび」)
TOLD_OF_A_PART = re.compile(r"(?P<part>[^\s、,。がはをもからにで]{1,4})(?:が|は|を|から|も|に)(?P<rest>[^\s、,。].*)$")
OCCASION = re.compile(r"[^、,。?？\s]{2,12}?(?:で|ので|のため|から)")  # 「実家の片付けで」「引っ越しするので」
# what after the comma still asks (then the words after the comma are the question, not a story)
ASKS = re.compile(r"[?？]|何|なに|なん|どう|どこ|どれ|捨て|すて|出し|出せ|だし|だせ|処分|ごみ|ゴミ|いい|ですか|ますか|かな|でしょう")
REDUPLICATED = re.compile(r"(.{2,3})\1")  # 「さびさび」「ぐらぐら」: what a thing is like
# a wish (「ピアノ 習いたい」) or a question is no story of the thing
ASKED_OR_WISHED = re.compile(r"たい|ほしい|欲しい|[?？]|教えて|ですか|ますか|どこ|いつ|なに|何")


def told_pattern(states: str, amounts: str, dialect_endings: str) -> "re.Pattern[str]":
    """The end of a message that tells what happened to a thing, in the past or as a state: 「ピアニカ 子どもが小学校で
    使ってた」「太い枝、1mくらいに切ったやつ」; what it is like: 「物干し竿 長いやつ」「アルバム 写真ごと」「体温計 水銀の」; its
    state or how much of it (question_patterns.yml ``states``, ``amounts``): 「一升瓶 空き」「落ち葉 袋3つ」."""
    return re.compile(r"((た|だ|てる|でる|ている|でいる|ていた|でいた|てた|でた|ちゃった|じゃった|ない|ある|あります|ありません)"
                      r"(やつ|もの|の|ん(です|だ)?(けど|が)?|けど|から|ので)?"
                      r"|い(やつ|もの|の)(です)?|ごと|まま|[\u3400-\u9fffァ-ヺー]{1,6}の"
                      r"|(?<=[でに])[^、,\s]{1,4}[うくすつむる](やつ|もの)(です)?"  # 「法事で使うやつ」: what it was for
                      # Hokkaido and casual: 「もう使わん」「動かん」 (a verb's negative in ん), 「ちっちゃくなったべさ」
                      r"|(?<=[かがさたなばまらわえけせてねべめれ])ん"
                      f"|{states}|{amounts})" f"(さ|ね|よ|な|わ|{dialect_endings})?" r"[\s。、!！w笑…〜~]*$")


_NOTE_AFTER_A_COMMA = re.compile(r"^(?P<name>.*[^、,\s])(?:[、,\s]+|(?<=けど)|(?<=けれど))(?P<note>[^、,\s。?？!！()]{1,8}?(?:製|の))(?:やつ|もの|です)?[\s。!！]*$")


def said_as_a_note(norm: str) -> str:
    """「セロテープのカッター台、プラスチックのやつ」「竹の釣り竿、祖父のもの」: a word and its の after the name and a comma
    says which one or whose, as a note in brackets does: read as 「セロテープのカッター台(プラスチックの)」; also after 〜けど
    with no comma (「カップラーメンの容器洗ったんだけど紙のやつ」)."""
    note = _NOTE_AFTER_A_COMMA.match(norm)
    if not note or ASKS.search(note["note"]) or any(m.pos in ("動詞", "形容詞", "助動詞") for m in analyze(note["note"])):
        return norm  # (「…、燃やせるごみの？」 asks; 「…、使ってたの」 is a clause)
    return f"{note['name']}({note['note']})"
