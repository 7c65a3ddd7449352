"""Typed answers to a yes/no question (「はい」「うん」「それでお願いします」「いいえ」「やめておきます」…).

The buttons of a question send ``/affirm`` and ``/deny``; people on LINE type instead, and DIET's guess at
affirm / deny is not to be trusted with a booking (it reads 「ううん」 as affirm). ``read_yes_no`` decides
from the words alone and strictly: the whole message must be made of yes words (or of no words), with
fillers and punctuation around them (「えっと、はい」「はい、それでお願いします！」). A sentence that merely
contains one (「うん、でもソファーも追加したい」, 「うんこ」) is neither: the caller asks again.

What counts depends on the question:

    confirm  「この内容で申し込みますか？」: 「キャンセル」「やめる」 are no.
    offer    「前日にお知らせしましょうか？」: as confirm, but 「大丈夫です」 (often "no, thank you" to an
             offer) is neither.
    cancel   「この申し込みをキャンセルしますか？」: 「キャンセルする」「取り消して」 are yes, 「やめない」
             「キャンセルしないです」「そのままで」 are no, 「やめる」 is neither.

Pure standard library (plus the normaliser), like bot/nlu/normalize.py.
"""

from __future__ import annotations

import re
from typing import Optional

from bot.nlu.normalize import normalize_text

MAX_CHARS = 30  # longer messages are something else than a yes or a no

_PLEASE = r"(?:お願い|おねがい)(?:します|いたします|しまーす|しますー|です)?"
_YES = [
    r"はい+", r"はーい", r"はいはい", r"ええ", r"うん+", r"うんうん", r"おう",
    r"そう(?:です|だよ|だね|ですね|そう)?", r"そのとおり(?:です)?", r"その通り(?:です)?",
    _PLEASE, r"よろしく(?:" + _PLEASE + r"|です)?", r"(?:頼|たの)(?:みます|む)",
    r"ok(?:です)?", r"okay", r"おk", r"おけ(?:ー)?", r"おっけ[ーい]?(?:です)?", r"オッケ[ーい]?(?:です)?",
    r"おーけー", r"オーケー", r"yes", r"y", r"いいよ", r"いいですよ", r"いいね",
    r"(?:大丈夫|だいじょうぶ)(?:です)?",
    r"問題(?:ない|ないです|ありません)", r"もんだいない(?:です)?",
    r"(?:それ|これ|この内容|このないよう|この日|その日)で(?:いい|いいです|ok)?",
    r"了解(?:です|しました)?", r"りょうかい(?:です)?", r"承知(?:です|しました)?", r"(?:わ|分)かりました",
    r"申し?込み?(?:ます|む|をお願いします)", r"もうしこみます", r"確定(?:で|します|してください)?",
    r"(?:合|あ)って(?:い)?ます", r"正しいです", r"ぜひ", r"是非", r"(?:構|かま)いません", r"[○〇◯]",
]
_NO = [
    r"いいえ", r"いえ", r"いや(?:です|だ)?", r"ううん", r"うううん", r"no", r"n",
    r"(?:だめ|ダメ|駄目)(?:です)?", r"(?:ちが|違)(?:う|います)", r"(?:結構|けっこう)(?:です)?",
    r"(?:やめ|止め)(?:る|ます|て|てください|とく|ときます|ておく|ておきます)", r"中止(?:します|で|してください)?",
    r"キャンセル(?:します|する|で|して|してください)?", r"申し?込み?(?:ません|まない)",
    r"(?:いら|要ら)ない(?:です)?", r"いりません", r"不要(?:です)?",
    r"(?:やっぱり|やっぱ|じゃあ|もう|今回は|こんかいは)いいです", r"しません", r"しない(?:です)?",
    r"遠慮(?:します|しておきます|しときます)", r"なし(?:で)?", r"無し(?:で)?", r"[×✕xX]",
]
# At 「この申し込みをキャンセルしますか？」 cancelling is the yes, keeping the booking the no.
_CANCEL_YES = [
    r"キャンセル(?:する|します|したい|したいです|して|してください|で|でお願いします|お願いします)?",
    r"(?:取り消|とりけ)(?:す|します|したい|して|してください|しで)", r"取り?消し(?:で|でお願いします)?",
]
_CANCEL_NO = [
    r"(?:やめ|止め)(?:ない|ないです|ません|ておく|ておきます|とく|ときます)", r"キャンセル(?:しない|しないです|しません|しないで)",
    r"(?:取り消|とりけ)(?:さない|さないです|しません)", r"そのまま(?:で|でいい|でいいです|でお願いします|にして)?",
    r"(?:残|のこ)(?:す|して|してください|します)", r"しない(?:です)?", r"しません",
]
# Words that only frame the answer: 「えっと、はい」「じゃあ、お願いします」「すみません、やっぱりやめます」.
_FILLER = r"(?:えっと|ええと|えーと|えー|あー|あ|うーん|う〜ん|うーむ|んー|じゃあ|じゃ|では|それでは|やっぱり|やっぱ|すみません|すいません|ごめんなさい|ごめん)"
_SPLIT = re.compile(r"[\s、,，。.．!！?？…~〜・♪]+")
_ENDING = r"(?:ね|よ|な|です|ー)*"


def _pattern(words) -> re.Pattern:
    one = "(?:" + "|".join(words) + ")"
    return re.compile(f"{_FILLER}*{one}(?:{one})*{_ENDING}")


_KINDS = {
    "confirm": (_YES, _NO),
    "offer": ([w for w in _YES if "大丈夫" not in w], _NO),
    "cancel": ([w for w in _YES] + _CANCEL_YES,
               [w for w in _NO if not re.match(r"\(\?:やめ|中止|キャンセル|しない|しません", w)] + _CANCEL_NO),
}
_COMPILED = {kind: (_pattern(yes), _pattern(no)) for kind, (yes, no) in _KINDS.items()}
_FILLER_ONLY = re.compile(f"{_FILLER}{_ENDING}")


def read_yes_no(text: str, kind: str = "confirm") -> Optional[bool]:
    """True for a typed yes, False for a typed no, None for anything else (ask again).

    ``kind`` is the question: ``confirm`` (default), ``offer`` or ``cancel`` (see the module docstring)."""
    if kind not in _COMPILED:
        raise ValueError(f"unknown kind of yes/no question: {kind}")
    folded = normalize_text(text or "").strip()
    if not folded or len(folded) > MAX_CHARS or folded.startswith("/"):
        return None
    yes, no = _COMPILED[kind]
    answers = set()
    for part in _SPLIT.split(folded):
        if not part or _FILLER_ONLY.fullmatch(part):
            continue
        if yes.fullmatch(part):
            answers.add(True)
        elif no.fullmatch(part):
            answers.add(False)
        else:
            return None  # a word that is neither: not a plain yes or no
    return answers.pop() if len(answers) == 1 else None


def is_yes_or_no(text: str) -> bool:
    """A typed yes or no to any kind of question (「はい」「いいえ」): never an item, an address or a name."""
    return any(read_yes_no(text, kind) is not None for kind in _COMPILED)


_STOP_ONLY = re.compile(f"{_FILLER}*(?:(?:やめ|止め)たい|中止して(?:ください)?|終了|しゅうりょう|終わり|おわり|ストップ|すとっぷ|stop|取り?消し|とりけし"
                        f"|もう(?:いい|いいや|結構)){_ENDING}")


def is_plain_stop(text: str) -> bool:
    """「やめる」「キャンセル」「もういいです」「終了」: only a word that stops, nothing else in the message. 「こくみんけんこうほけん
    やめる」 (leaving the health insurance) is a question that happens to contain one."""
    if read_yes_no(text, "confirm") is False:
        return True
    parts = [p for p in _SPLIT.split(normalize_text(text or "").strip()) if p and not _FILLER_ONLY.fullmatch(p)]
    return bool(parts) and all(_STOP_ONLY.fullmatch(p) or _COMPILED["confirm"][1].fullmatch(p) for p in parts)
