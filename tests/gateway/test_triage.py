"""Risk triage: the rules' own examples (data/counseling/triage.yml); and for what the gateway runs (rules +
classifier, gateway/counseling/classifier.py) the traps and the messages from the issue, odd input, and
the routing thresholds on both evaluation sets (tools/eval_triage.py computes the figures; ``make
eval-triage`` prints them in full, with set 3, which is reported but not asserted).

Pure Python: no engine, no gateway process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Dict, List

import pytest

from gateway.counseling.triage import LEVELS, RuleSet, load_set, rank
from gateway.counseling.classifier import default_triage
from tools.eval_triage import (ASSERTED, MAX_FALSE_ALARMS, MIN_NORMAL_RECALL, MIN_PRIORITY_RECALL, SETS, failures,
                               routing_metrics)

RULES = RuleSet.load()
SYSTEM = default_triage()  # what gateway/handoff/router.py asks for every message


@pytest.fixture(autouse=True)
def _reset_engine():
    """These tests need no stand-in engine: replaces conftest's autouse fixture of the same name."""
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
         "\"死にたい\"って歌詞"]


@pytest.mark.parametrize("text", TRAPS, ids=[f"trap{i}" for i in range(len(TRAPS))])
def test_traps_are_not_risks(text):
    result = SYSTEM.triage(text)
    assert result.level == "none", f"{text!r}: {result}\n{RULES.explain(text)}"


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
