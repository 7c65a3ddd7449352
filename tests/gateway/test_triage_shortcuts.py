"""The triage's shortcuts never change an answer: the rules' (gateway/counseling/literals.py) and the classifier's
(``OneMessage`` in gateway/counseling/classifier.py, which scores one message without scikit-learn's checks).

Skipping a rule or a pattern because a word it cannot match without is missing is only an optimization: the
triage of every message of the triage's sets, the classifier's examples, the rules' own examples and the NLU's
training texts must be the same with and without it, and ``absent`` must never say "absent" of a pattern that
matches. The reader of the regex syntax tree is also checked on the constructs it must not draw words from.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml

from gateway.counseling import literals
from gateway.counseling.triage import RuleSet, load_set

ROOT = Path(__file__).resolve().parents[2]


def _messages():
    texts = []
    for path in sorted((ROOT / "tests" / "triage").glob("*.yml")) + sorted((ROOT / "data" / "counseling").glob("examples_*.yml")):
        texts += [m["text"] for m in load_set(path)]
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            texts += [line[2:].strip() for line in str(block.get("examples") or "").splitlines() if line.startswith("- ")]
    rules = RuleSet.load()
    texts += [t for rule in rules.rules for t in list(rule.examples) + list(rule.not_examples)]
    texts += ["", " ", "\x00死にたい", "死\u200bにたい", "し に た い", "「死にたい」って曲", "ｼﾆﾀｲ", "A" * 5000]
    return list(dict.fromkeys(texts))


MESSAGES = _messages()


@pytest.fixture(scope="module")
def both():
    fast, reference = RuleSet.load(), RuleSet.load()
    reference.shortcuts = False
    return fast, reference


def test_the_sets_are_big_enough_to_mean_something():
    assert len(MESSAGES) > 3000


def test_the_shortcut_never_changes_a_triage(both):
    fast, reference = both
    answers = [(t, fast.triage(t), reference.triage(t)) for t in MESSAGES]
    differ = [a for a in answers if a[1] != a[2]]
    assert not differ, differ[:5]
    assert {a[1].level for a in answers} == {"none", "normal", "high", "emergency"}


def test_most_rules_are_skipped_for_an_ordinary_question(both):
    fast, _ = both
    from gateway.counseling.triage import views
    v = views("ソファは何ごみですか", fast.aliases)
    assert sum(fast._possible(rule, v) for rule in fast.rules) <= 3  # the reason it is faster


def test_the_classifier_scores_as_scikit_learn_does():
    from gateway.counseling.classifier import default_triage
    classifier = default_triage().classifier
    assert classifier._score is not None  # the shortcut is in use
    texts = [t[:4000] for t in MESSAGES] + ["", "zzzz", "\u3000"]  # no known n-gram: the intercepts alone
    fast = [classifier._score(t) for t in texts]
    slow = classifier.model.predict_proba(texts)
    worst = max(float(abs(f - s).max()) for f, s in zip(fast, slow))
    assert worst < 1e-9, worst
    assert {classifier.classes[int(f.argmax())] for f in fast} == {"none", "normal", "high", "emergency"}


def test_a_pipeline_with_other_settings_is_scored_by_scikit_learn():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from gateway.counseling.classifier import OneMessage
    texts, levels = ["死にたい", "ごみの日", "つらい", "住民票"], ["emergency", "none", "normal", "high"]
    plain = make_pipeline(TfidfVectorizer(analyzer="char"), LogisticRegression()).fit(texts, levels)
    assert OneMessage.of(plain) is None  # sublinear_tf is off: the shortcut's arithmetic would be wrong


@pytest.mark.parametrize("pattern, matches", [
    (r"死にたい", ["死にたい"]),
    (r"(?:学校|高校) (?:を )?やめる", ["学校 やめる", "高校 を やめる"]),  # optional parts give nothing
    (r"(?:飛び降りる|飛び込む)", ["飛び降りる", "飛び込む"]),
    (r"(?:ab)+c", ["abc", "ababc"]),
    (r"(?:ab|)c", ["abc", "c"]),  # an empty branch: the group needs nothing
    (r"(?=死)死x|y", ["死x", "y"]),  # a lookahead's words are not drawn
    (r"(?<!死)x", ["x"]),
    (r"a?b*", None),
    (r"[あい]う?", None),
    (r"(?i:abc)", None),
    (r".+", None),
])
def test_required_draws_words_only_from_what_a_match_must_contain(pattern, matches):
    need = literals.required(re.compile(pattern))
    if matches is None:
        assert need is None
        return
    assert need, "a word was expected"
    for text in matches:
        assert re.search(pattern, text)
        assert any(word in text for word in need), (need, text)
        assert not literals.absent(re.compile(pattern), text)
    assert literals.absent(re.compile(pattern), "関係のない文")


def test_ignorecase_patterns_get_no_shortcut():
    assert literals.required(re.compile("abc", re.IGNORECASE)) is None
    assert not literals.absent(re.compile("abc", re.IGNORECASE), "ABC")


def test_absent_is_never_wrong_on_the_triages_own_patterns():
    """Random texts made of the patterns' own words and joints: whenever ``absent`` says absent, the regex
    agrees (a wrong "absent" would hide a child's words from the triage)."""
    rules = RuleSet.load()
    patterns = [p for rule in rules.rules for alt in rule.alternatives + [rule.unless] for _, p in alt]
    pieces = sorted({w for p in patterns for w in (literals.required(p) or ())}) + [" ", "の ", "て ", "たい ", "ない "]
    rng = random.Random(15)
    checked = matched = 0
    for _ in range(3000):
        text = " " + "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) + " "
        for pattern in rng.sample(patterns, 40):
            checked += 1
            if pattern.search(text):
                matched += 1
                assert not literals.absent(pattern, text), (pattern.pattern, text)
    assert matched > 100  # the texts did make patterns match
