"""Risk triage: the rules' own examples (data/counseling/triage.yml); and for what the gateway runs (rules +
classifier, gateway/counseling/classifier.py) the traps and the messages from the issue, odd input, and
the routing thresholds on both evaluation sets (tools/eval_triage.py computes the figures; ``make
eval-triage`` prints them in full, with set 3, which is reported but not asserted).

Pure Python, but for the last section ((f), the false alarms seen through the running stack), which runs the
real gateway process against conftest's stand-in engine to check what the citizen is shown.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from pathlib import Path
from typing import Dict, List

import pytest
import sqlalchemy as sa

from gateway.counseling.triage import LEVELS, RuleSet, load_set, rank
from gateway.counseling.classifier import default_triage
from tools.eval_triage import (ASSERTED, MAX_FALSE_ALARMS, MIN_NORMAL_RECALL, MIN_PRIORITY_RECALL, SETS, failures,
                               routing_metrics)

RULES = RuleSet.load()
SYSTEM = default_triage()  # what gateway/handoff/router.py asks for every message


@pytest.fixture(autouse=True)
def _reset_engine(request):
    """Most of these tests need no stand-in engine: replaces conftest's autouse fixture of the same name, and
    resets the engine only for the tests that use it."""
    if "engine" in request.fixturenames:
        engine = request.getfixturevalue("engine")
        engine.mode = "ok"
        engine.received.clear()
    yield


# ------------------------------------------------------------------ (a) each rule's examples and not_examples
def _cases(kind: str):
    return [pytest.param(rule.id, text, id=f"{rule.id}:{kind}[{i}]")
            for rule in RULES.rules for i, text in enumerate(getattr(rule, kind))]


def test_rule_ids_are_unique():
    ids = [rule.id for rule in RULES.rules]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("rule_id", [rule.id for rule in RULES.rules])
def test_every_rule_has_examples(rule_id):
    rule = next(r for r in RULES.rules if r.id == rule_id)
    assert rule.examples, f"rule {rule_id} has no examples it must catch"


@pytest.mark.parametrize("rule_id, text", _cases("examples"))
def test_rule_fires_on_its_examples(rule_id, text):
    result = RULES.triage(text)
    assert rule_id in result.rules, f"{text!r} should fire {rule_id}; got {result}\n{RULES.explain(text)}"


@pytest.mark.parametrize("rule_id, text", _cases("not_examples"))
def test_rule_does_not_fire_on_its_not_examples(rule_id, text):
    result = RULES.triage(text)
    assert rule_id not in result.rules, f"{text!r} must not fire {rule_id}; got {result}\n{RULES.explain(text)}"


# ------------------------------------------------------------------ (b) traps: level none
TRAPS = ["死ぬほど忙しい", "消えるボールペンは何ごみ", "包丁は何ごみ", "ロープは何ごみ", "練炭は何ごみ",
         "殺虫剤のスプレー缶", "いじめ防止の取組", "子どもアシストセンターの電話番号は？", "死にたいとは思わない",
         "\"死にたい\"って歌詞", "ハンガーラック 処分"]


@pytest.mark.parametrize("text", TRAPS, ids=[f"trap{i}" for i in range(len(TRAPS))])
def test_traps_are_not_risks(text):
    result = SYSTEM.triage(text)
    assert result.level == "none", f"{text!r}: {result}\n{RULES.explain(text)}"


# Sorting questions say what is left in a thing, that it piles up or is no longer used (「ペンキ余ってる 缶にまだ液体
# 残ってる」 was an emergency to the classifier, 「原付 もう乗らない」 too). The front door's tuning sets (never the blind
# B and E): none may be queued at priority or offered a counselor (「ハンガーラック 処分」 was, its kana view reading
# はん 辛い, until 処分 joined the municipal words that stop low_mood like 捨てる).
FRONTDOOR_SORTING = ["sorting_a", "sorting_c", "sorting_d", "sorting_f"]


@pytest.mark.parametrize("name", FRONTDOOR_SORTING)
def test_sorting_questions_are_not_risks(name):
    import yaml

    path = Path(__file__).resolve().parents[2] / "tests" / "frontdoor" / f"{name}.yml"
    texts = [e["q"] for e in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]]
    found = {t: SYSTEM.triage(t) for t in texts}
    priority = [(t, r.level) for t, r in found.items() if r.rank >= rank("high")]
    offered = [(t, r.level) for t, r in found.items() if r.level == "normal"]
    assert not priority, priority
    assert not offered, offered


# ------------------------------------------------------------------ (c) the issue's messages
AT_LEAST_HIGH = ["ロープを用意した。もう無理", "練炭買ってきた", "薬をたくさん飲んだ。もう全部終わりにしたい",
                 "眠れなくて、ずっと死ぬことばかり考えてる", "知らない大人に裸の写真を送れって言われてる",
                 "線路に飛び込もうかな、今駅にいる",
                 # spellings and variants
                 "シニタイ", "ｼﾆﾀｲ", "ﾀｽｹﾃ", "もう死ぬ", "消えてしまいたい"]


@pytest.mark.parametrize("text", AT_LEAST_HIGH, ids=[f"high{i}" for i in range(len(AT_LEAST_HIGH))])
def test_issue_messages_reach_priority(text):
    result = SYSTEM.triage(text)
    assert result.rank >= rank("high"), f"{text!r}: {result}\n{RULES.explain(text)}"


def test_asking_for_a_counselor_is_at_least_normal():
    text = "相談員さんと話したい"
    result = SYSTEM.triage(text)
    assert result.rank >= rank("normal"), f"{text!r}: {result}\n{RULES.explain(text)}"


def test_the_classifier_raises_a_worry_the_rules_read_as_normal_when_it_is_sure_it_is_worse():
    text = "階段から突き落とされた、足動かない、まだ母が怒鳴ってる"  # the rules see family conflict only
    assert RULES.triage(text).level == "normal"
    assert SYSTEM.triage(text).level == "high" and SYSTEM.triage(text).source == "rules+classifier"
    assert SYSTEM.triage("親とけんかした").level == "normal"  # a plain worry stays a worry


# ------------------------------------------------------------------ (d) routing thresholds on both sets
@lru_cache(maxsize=None)
def _report(name: str) -> Dict:
    return routing_metrics(SYSTEM, load_set(SETS[name]))


def _explain(report: Dict, kind: str, value_key: str, hits_key: str, n_key: str, target: str, limit: int = 10,
             blind: bool = False) -> str:
    """What missed; for the blind set only index, levels and rules: its texts must stay unseen by whoever
    tunes the rules (read the file itself only to judge a label, never to write a rule)."""
    missed: List[Dict] = failures(report, kind)
    lines = [f"{value_key} = {report[value_key]:.3f} ({report[hits_key]}/{report[n_key]}), target {target}; "
             f"{len(missed)} {kind}, first {min(limit, len(missed))}:"]
    lines += [f"  #{e['index']} {e['gold']} → {e['predicted']} [{','.join(e['rules']) or '-'}]"
              + ("" if blind else f" {e['text']}") for e in missed[:limit]]
    return "\n".join(lines)


# What each routing figure is: (value, hits, count, kind of error behind it, bound, "at least" or "at most").
ROUTING = {
    # emergency + high messages are triaged at ≥ high (routed to counseling at priority)
    "priority_recall": ("priority_hits", "priority_n", "missed priority", MIN_PRIORITY_RECALL, True),
    # normal messages are triaged at ≥ normal (offered a counselor)
    "normal_recall": ("normal_hits", "normal_n", "missed normal", MIN_NORMAL_RECALL, True),
    # none messages are rarely triaged at ≥ normal
    "false_alarms": ("false_alarm_hits", "none_n", "false alarm", MAX_FALSE_ALARMS, False),
}


@pytest.mark.parametrize("metric", list(ROUTING))
@pytest.mark.parametrize("name", ASSERTED)
def test_routing_figure_meets_its_target(name, metric):
    hits_key, n_key, kind, bound, at_least = ROUTING[metric]
    report = _report(name)
    assert report[n_key] > 0
    met = report[metric] >= bound if at_least else report[metric] <= bound
    assert met, _explain(report, kind, metric, hits_key, n_key, f"{'≥' if at_least else '≤'} {bound}",
                         blind="blind" in name)


@pytest.mark.parametrize("name", ASSERTED)
def test_eval_tool_agrees_with_the_engines_evaluate(name):
    """tools/eval_triage.py and triage.evaluate() count per-level precision and recall the same way."""
    from gateway.counseling.triage import evaluate

    expected = evaluate(RULES, load_set(SETS[name]))
    got = routing_metrics(RULES, load_set(SETS[name]))["per_level"]
    for level in LEVELS:
        assert {k: got[level][k] for k in ("n", "precision", "recall")} == pytest.approx(expected[level]), level


# ------------------------------------------------------------------ (e) odd input
ODD = {
    "empty": "",
    "spaces": "   ",
    "ideographic_spaces_and_newlines": "\u3000\n\t\r\n",
    "lone_surrogate": "\ud800",
    "lone_surrogate_in_text": "ごみ\udfffの日",
    "nul": "\x00",
    "nuls": "\x00" * 50,
    "control_chars": "\x01\x02\x07\x08\x0b\x0c\x1b[31m\x7f\x9f",
    "bidi_and_zero_width": "\u202e\u200b\u200d\ufeff\u2066",
    "long_a": "あ" * 100_000,
    "emoji": "😀😂🙏🎉👍",
    "emoji_zwj_and_flags": "👨\u200d👩\u200d👧\u200d👦🏳️\u200d🌈🇯🇵",
}


@pytest.mark.parametrize("text", list(ODD.values()), ids=list(ODD))
def test_odd_input_is_none_without_raising(text):
    result = SYSTEM.triage(text)
    assert result.level == "none", result


# ------------------------------------------------------------------ (f) three false alarms seen through the stack
# 1. A question about what one wrote in this chat was triaged high: no rule fired, the classifier did (character
#    n-grams of れる, るの, 書いたこと, ちゃ in チャット). The ordinary rule about_this_chat reads it as a question about
#    the service; the classifier may not overrule that. The typo (保尊) was not the cause: 保存 was high too.
ABOUT_THIS_CHAT = ["このチャットに書いたことって保尊されるの", "このチャットに書いたことって保存されるの",
                   "チャットに打ったことってずっと残るの？", "ここで書いたメッセージって誰が読むんですか"]


@pytest.mark.parametrize("text", ABOUT_THIS_CHAT, ids=[f"about_chat{i}" for i in range(len(ABOUT_THIS_CHAT))])
def test_a_question_about_what_one_wrote_in_this_chat_is_no_risk(text):
    result = SYSTEM.triage(text)
    assert result.level == "none" and result.vetoed, f"{text!r}: {result}\n{RULES.explain(text)}"


@pytest.mark.parametrize("text", ["このチャットに書いたこと保存されるの？ もう死にたい",
                                  "チャットの履歴消して。親に見られたら殴られる"])
def test_danger_beside_a_question_about_the_chat_still_wins(text):
    assert SYSTEM.triage(text).rank >= rank("high"), f"{text!r}\n{RULES.explain(text)}"


# 2. 子育て相談 is a service of the city (FAQ), not a youth asking for a counselor: in kanji, hiragana, katakana and
#    half-width katakana alike (the dictionary reads こそだて as こそ 伊達; a surface pattern with the term's readings).
PARENTING = ["子育ての相談できるところ", "こそだてのそうだんできるところ", "コソダテノソウダンデキルトコロ",
             "ｺｿﾀﾞﾃﾉｿｳﾀﾞﾝﾃﾞｷﾙﾄｺﾛ", "いくじのそうだんをしたい", "子育ての悩みを相談したい"]


@pytest.mark.parametrize("text", PARENTING, ids=[f"parenting{i}" for i in range(len(PARENTING))])
def test_parenting_advice_is_a_question_for_the_faq_in_any_script(text):
    result = SYSTEM.triage(text)
    assert result.level == "none", f"{text!r}: {result}\n{RULES.explain(text)}"


@pytest.mark.parametrize("text, at_least", [("いじめのことで相談したい", "normal"), ("子育てがつらい、相談したい", "normal"),
                                            ("親の子育てが厳しすぎてつらい、相談したい", "normal"),
                                            ("子育てに疲れて死にたい", "high")])
def test_a_worry_or_danger_with_the_words_of_a_service_still_counts(text, at_least):
    assert SYSTEM.triage(text).rank >= rank(at_least), f"{text!r}\n{RULES.explain(text)}"


# 3. A request for 相談 and nothing else is normal, but by its own rule: the gateway asks which kind of 相談
#    (tests below); with a worry, a person or a topic, the other rules decide as before.
BARE = ["相談したい", "そうだんしたい", "ｿｳﾀﾞﾝｼﾀｲ", "あのー、相談があります", "相談できますか？", "ちょっと相談したいことがあって"]


@pytest.mark.parametrize("text", BARE, ids=[f"bare{i}" for i in range(len(BARE))])
def test_a_bare_request_for_consultation_has_its_own_rule(text):
    result = SYSTEM.triage(text)
    assert (result.level, result.rules) == ("normal", ("asks_for_consultation",)), f"{text!r}: {result}"


@pytest.mark.parametrize("text", ["相談員さんと話したい", "誰かに相談したい", "学校のことで相談したい", "悩みを相談したい",
                                  "いじめのことで相談したい"])
def test_a_request_with_a_topic_or_a_person_is_still_a_request_for_a_counselor(text):
    result = SYSTEM.triage(text)
    assert "asks_for_counselor" in result.rules and "asks_for_consultation" not in result.rules, f"{text!r}: {result}"


# Through the real gateway process (with conftest's stand-in engine): what the citizen sees.
@pytest.fixture(scope="module")
def gw(engine, tmp_path_factory):
    from tests.gateway.conftest import GatewayProcess

    process = GatewayProcess(engine.url, tmp_path_factory.mktemp("triage"))
    yield process
    process.stop()


class Citizen:
    def __init__(self, gateway):
        self.gateway, self.sender = gateway, uuid.uuid4().hex[:12]
        self.id = f"rest:{self.sender}"

    def say(self, text: str) -> List[Dict]:
        from tests.gateway.conftest import HTTP

        answer = HTTP.post(f"{self.gateway.url}/api/messages", json={"sender": self.sender, "message": text}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["messages"]

    def where(self):
        with sa.create_engine(self.gateway.db_url).connect() as c:
            row = c.execute(sa.text("select owner, queue from conversations where id = :id"), {"id": self.id}).one()
        return tuple(row)


def _titles(messages: List[Dict]) -> List[str]:
    return [b["title"] for m in messages for b in m.get("quick_replies") or m.get("buttons") or []]


def test_a_bare_request_is_asked_which_kind_of_consultation(gw, engine):
    citizen = Citizen(gw)
    asked = citizen.say("相談したい")
    assert _titles(asked) == ["相談員と話す", "市の手続き・サービス"], asked
    assert citizen.where() == ("bot", None)  # not queued for a counselor
    assert [r["message"] for r in engine.received] == []  # a request for 相談 never reaches the engine


@pytest.mark.parametrize("typed", ["相談員と話す", "学校のこと", "自分の悩みです", "中学生です", "相談したい"])
def test_the_answer_names_a_worry_or_asks_again_the_counselor(gw, engine, typed):
    citizen = Citizen(gw)
    citizen.say("そうだんしたい")
    shown = " ".join(m.get("text", "") for m in citizen.say(typed))
    assert citizen.where() == ("queued", "counseling"), shown
    assert [r["message"] for r in engine.received] == []


@pytest.mark.parametrize("typed", ["市の手続き・サービス", "市の手続きのことです", "大人です"])
def test_the_answer_names_the_city_the_assistant(gw, engine, typed):
    citizen = Citizen(gw)
    citizen.say("相談があります")
    citizen.say(typed)
    assert citizen.where() == ("bot", None)
    assert [r["message"] for r in engine.received] == ["/menu_faq"]


def test_the_answer_names_a_topic_of_the_city_the_assistant_answers_it(gw, engine):
    citizen = Citizen(gw)
    citizen.say("相談したい")
    assert citizen.say("子育てのこと") == [{"text": "echo:子育てのこと"}]
    assert citizen.where() == ("bot", None)


def test_a_worry_answered_after_the_question_queues_at_once(gw, engine):
    citizen = Citizen(gw)
    citizen.say("相談したい")
    citizen.say("学校でいじめられてる")
    assert citizen.where() == ("queued", "counseling")


def test_a_request_with_a_worry_or_topic_goes_to_the_counselor_as_before(gw, engine):
    citizen = Citizen(gw)
    citizen.say("いじめのことで相談したい")
    assert citizen.where() == ("queued", "counseling")


def test_a_bare_request_after_a_worry_is_a_yes_to_the_counselor(gw, engine):
    citizen = Citizen(gw)
    assert _titles(citizen.say("最近眠れない")) == ["相談員と話す"]  # a worry: the counselor's button
    citizen.say("相談したい")
    assert citizen.where() == ("queued", "counseling")


def test_parenting_advice_and_a_question_about_the_chat_reach_the_assistant(gw, engine):
    citizen = Citizen(gw)
    for text in ("こそだてのそうだんできるところ", "このチャットに書いたことって保尊されるの"):
        assert citizen.say(text) == [{"text": f"echo:{text}"}]
    assert citizen.where() == ("bot", None)


def test_a_rule_may_keep_its_examples_out_of_the_classifier():
    """things_taken_by_family (「親に大事なぬいぐるみ捨てられた つらい」: a worry, though 捨てる is a garbage word) fires on
    its own; its examples do not train the classifier (a few texts more moved knife-edge messages of danger)."""
    from gateway.counseling.classifier import training_examples
    from gateway.counseling.triage import default_rules
    rules = default_rules()
    rule = next(r for r in rules.rules if r.id == "things_taken_by_family")
    assert not rule.trains_classifier and rule.examples
    trained = {text for text, _ in training_examples(rules)}
    assert not trained & set(rule.examples)
    assert rules.triage("親に大事なぬいぐるみ捨てられた つらい").level == "normal"


# ------------------------------------------------------------------ danger about to happen, double negations (set 5)
# Checked here rather than as rule examples: examples also train the classifier, and a few texts more moved
# knife-edge messages of the blind sets (twenty-first session). None of these is a text of an evaluation set.
RULES_LEVELS = [
    # harm_about_to_happen: the time words count only beside abuse / exploitation / self-harm / a plan
    ("ネットの人と今から会う。ホテル行こうって言われてる", "emergency"),
    ("お父さんもうすぐ帰ってくる、今日絶対殴られる", "emergency"),
    ("知らない男の人がまだ近くにいる、車乗れって言われた", "emergency"),
    ("隣の部屋でお母さんが殴られてる音がする", "emergency"),
    ("昔は親に殴られてたけど、今は平気", "none"),
    ("親に殴られる。今まで誰にも言えなかった", "high"),
    ("今から燃えないごみを出しに行く", "none"),
    # a negation negated again keeps the danger; a quoted line asked about is no danger
    ("消えたくないわけじゃない", "high"),
    ("しんだらみんなよろこぶよね", "high"),
    ("「死にたい」ってなんの曲？", "none"),
    # a pet that ran away; favouritism at home; what one likes against what is expected of one's sex
    ("家出したインコを探しています", "none"),
    ("パパはお兄ちゃんばっかりほめる", "normal"),
    ("女なのにサッカーが好きって変かな", "normal"),
    ("ネットの人に写真撮らせてって言われてる", "high"),
    # set 7 (twenty-second session): an hour set, minutes away, a meeting going on, still heard, the protector away
    ("SNSの人と18時に大通駅で会う。お小遣いくれるって", "emergency"),
    ("あと5分で父が帰ってくる。帰ってきたらぜったい殴られる", "emergency"),
    ("帰ったらまた蹴られる", "high"),
    ("パパ活の相手と待ち合わせ中", "emergency"),
    ("DMの人が家の前で待ってるって。写真ばらすって言われた", "emergency"),
    ("上の階から子どもが叩かれてる声がずっとする。今も聞こえる", "emergency"),
    ("母の彼氏が夜に布団に入ってくる。今夜はお母さん出張でいない", "emergency"),
    # someone's farewell, then out of reach; a pet that will die soon is no plan
    ("親友が「今までありがとう」って送ってきて既読つかない", "emergency"),
    ("娘から「さよなら」とメールが来て、連絡がつきません", "emergency"),
    ("うちの犬がもうすぐ死んじゃいそうで悲しい", "normal"),
    # going to the river / the bridge, then out of reach in any of the words farewell_unreachable reads
    ("友達が橋に行くって言ってから返信がない", "emergency"),
    ("彼氏が海に行くって言って、電話に出ません", "emergency"),
    # means, place and time said in pieces; charcoal with a place; a deep cut just made
    ("紐 ドアノブ 今夜 もう無理", "emergency"),
    ("七輪買った。部屋の中でやる", "emergency"),
    ("腕切った、ざっくりいった", "emergency"),
    # quitting life; cutting as a habit; neglect; slang for a breakdown; a tense home
    ("人生やめたい", "high"),
    ("もうやめたい、人生ごと", "high"),
    ("吐いたあと足を切る。毎日", "high"),
    ("父が帰ってこない。ご飯買うお金もない", "high"),
    ("テスト全然だめでメンブレ中", "normal"),
    ("親が離職してから家がギスギスしてる", "normal"),
    # round 10 (set 9): a weapon coming this way; a blow or a cut still bleeding; a meeting tonight said with 今日の夜
    ("兄がバットもってこっちにくる", "emergency"),
    ("ママにぶたれて鼻血がとまらない", "emergency"),
    ("明日の放課後、アプリで知り合った大人と会う約束した", "emergency"),
    # a face glued to the words; if I died, would anyone notice; no bed tonight; no food at home
    ("(´；ω；`)きえたい", "high"),
    ("わたしがいなくなったら だれか きづくかな", "high"),
    ("今晩寝る場所ありますか？家に帰れません", "high"),
    ("家に食べ物がほとんどありません。親は帰ってきません", "high"),
    # eating alone at school; a partner who controls
    ("毎日ひとりで給食食べてる", "normal"),
    ("彼女に LINE 全部チェックされてしんどい", "normal"),
    # games and a school poster are no danger
    ("ホラーゲームで殺されまくった", "none"),
    ("じさつよぼう の ポスター の しゅくだい", "none"),
    # round 12 (set 10): an overdose planned tonight typed in katakana; followed now, typed as voice input; someone
    # who does not wake up, breathing asked; following a loved one who died; cold that can kill; 血 typed as 地
    ("コンバン クスリ ゼンブ ノミマス", "emergency"),
    ("しらないおとこのひとがずっとついてきてるこわい", "emergency"),
    ("おばあちゃんが おきない いき してるかな", "emergency"),
    ("夫を亡くして半年、今夜あとを追うつもりです", "emergency"),
    ("母が亡くなってから後を追いたいと思ってしまう", "high"),
    ("家の前で転んで起き上がれない。雪の中で寒い", "emergency"),
    ("暖房がこわれて体が動かない、部屋が氷点下", "emergency"),
    ("雪で車が動かない 寒い", "none"),
    ("腕切った 地が止まらない", "emergency"),
]


@pytest.mark.parametrize("text, level", RULES_LEVELS, ids=[f"set5-like{i}" for i in range(len(RULES_LEVELS))])
def test_rules_read_time_and_double_negation(text, level):
    result = RULES.triage(text)
    assert result.level == level, f"{text!r}: {result}\n{RULES.explain(text)}"


def test_a_rule_after_others_says_nothing_alone():
    """「今」 alone fires nothing and vetoes nothing: the classifier may still speak (a rule of `after` is no veto)."""
    result = RULES.triage("今カラオケにいる")
    assert result.level == "none" and not result.vetoed, result


@pytest.mark.parametrize("text, level", [
    ("部屋に掛けてたアナログの温度計", "none"),  # a thing that hung in a room (部屋 + 掛け was read as an emergency)
    ("寝室にかけてたカレンダー", "none"),
    ("部屋のドアノブに紐かけた", "emergency"),  # a cord on a door knob stays what it is
    ("首つるロープもう部屋にかけてある", "emergency"),
])
def test_a_thing_that_hung_in_a_room_is_no_rope(text, level):
    assert default_triage().triage(text).level == level
