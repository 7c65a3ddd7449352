"""The second opinion of the risk triage: a classifier trained on examples, for what no rule foresaw.

Character 1–3-grams of the folded text (NFKC, hiragana, slang folded: ｼﾆﾀｲ, 4ぬ, 死にてぇ read alike),
TF-IDF, logistic regression (scikit-learn). It is trained when the gateway starts (about a second) from
data in the repository, so there is no model file to keep in step:

* ``data/counseling/examples_*.yml``: messages written for it, per level (counselors can add more);
* every rule's ``examples`` (its level) and ``not_examples`` (none; not those of an ordinary rule, level
  ``none``, which may be risks) in ``data/counseling/triage.yml``;
* the engine's training data and FAQ paraphrases (``data/nlu``, ``data/faq``): thousands of ordinary
  municipal questions as ``none``, so that 「ロープは何ごみ」 stays a garbage question.

How the two combine (``combined``): the rules decide when they fire, or when they saw words of danger
and dismissed them on purpose (negation, a quoted title, a garbage question: ``Triage.vetoed``); the one
exception is a ``normal`` the classifier is sure is worse (``RAISE_THRESHOLD``: it becomes ``high``). Only
when the rules found nothing at all does the classifier speak, and only when it is confident enough
(``THRESHOLDS``, chosen on the tuning set, set 1, by ``tools/eval_triage.py --thresholds``). README
"Youth counseling" gives the measurement that made this the design.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from gateway.counseling.triage import LEVELS, RuleSet, Triage, default_rules, fold, slang_fold

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "data" / "counseling").glob("examples_*.yml"))
NLU_DATA = sorted((ROOT / "data" / "nlu").glob("*.yml"))
FAQ_DATA = ROOT / "data" / "faq" / "faq.yml"
# Engine intents and FAQ topics that may carry a youth's worry: not used as "none".
NOT_NONE_INTENTS = {"menu_counseling"}
NOT_NONE_TOPICS = {"counseling"}
# The least probability at which the classifier's level counts (when the rules found nothing).
THRESHOLDS = {"emergency": 0.5, "high": 0.5, "normal": 0.5}
# Character n-grams are no evidence in a message this short (「。」, 「首いたい」): the rules alone decide there.
MIN_LETTERS = 7
# A short message (「今日はこれで終わり」) needs more confidence before the classifier alone calls it a risk.
SHORT_LETTERS, SHORT_THRESHOLD = 15, 0.8
# A worry the rules read as ``normal`` (family conflict, low mood) is raised to ``high`` when the classifier is
# this sure it is emergency or high (「階段から突き落とされた、まだ母が怒鳴ってる」). Chosen on corpus D held out
# from training: +1 message of danger rescued of 150, no false alarm more on D or sets 1–2.
RAISE_THRESHOLD = 0.6
_NOT_LETTER = re.compile(r"[\W_]")
SEED = 13
_ENTITY = re.compile(r"\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\{[^}]*\}")


def features(text: str) -> str:
    return slang_fold(fold(text))


def _nlu_examples() -> List[str]:
    found: List[str] = []
    for path in NLU_DATA:
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if block.get("intent") in NOT_NONE_INTENTS or not block.get("intent"):
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- ") and not line[2:].startswith("/"):
                    found.append(_ENTITY.sub(lambda m: m.group(1) or m.group(2) or "", line[2:]).strip())
    return [t for t in found if t]


def _faq_examples() -> List[str]:
    data = yaml.safe_load(FAQ_DATA.read_text(encoding="utf-8")) or {}
    topics = data.get("topics") if isinstance(data, dict) else data
    found: List[str] = []
    for topic in topics or []:
        if not isinstance(topic, dict) or topic.get("id") in NOT_NONE_TOPICS or topic.get("handover") in NOT_NONE_TOPICS:
            continue
        found += [q for q in [topic.get("question"), *(topic.get("examples") or [])] if isinstance(q, str)]
    return found


def training_examples(rules: Optional[RuleSet] = None, extra: Iterable[Path] = ()) -> List[Tuple[str, str]]:
    """(text, level) pairs from the repository's data (see the module's docstring)."""
    rules = rules or default_rules()
    pairs: List[Tuple[str, str]] = []
    for path in [*EXAMPLES, *extra]:
        for m in (yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).get("messages") or []:
            if isinstance(m, dict) and m.get("level") in LEVELS and isinstance(m.get("text"), str):
                pairs.append((m["text"], m["level"]))
    for rule in (r for r in rules.rules if r.trains_classifier):
        pairs += [(t, rule.level) for t in rule.examples]
        # an ordinary rule's (level none) not_examples are what it must not take for ordinary: any level
        pairs += [(t, "none") for t in rule.not_examples] if rule.level != "none" else []
    pairs += [(t, "none") for t in _nlu_examples() + _faq_examples()]
    seen, unique = set(), []
    for text, level in pairs:
        if (text, level) not in seen:
            seen.add((text, level))
            unique.append((text, level))
    return unique


class TriageClassifier:
    def __init__(self, pairs: Sequence[Tuple[str, str]], c: float = 10.0):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), preprocessor=features, lowercase=False,
                            sublinear_tf=True, min_df=1),
            LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=SEED))
        self.model.fit([t for t, _ in pairs], [lvl for _, lvl in pairs])
        self.classes: List[str] = list(self.model.classes_)
        self._score = OneMessage.of(self.model)

    def probabilities(self, text: str) -> Dict[str, float]:
        text = text[:4000]
        probs = self._score(text) if self._score else self.model.predict_proba([text])[0]
        return dict(zip(self.classes, probs))

    def predict(self, text: str) -> Tuple[str, float]:
        probs = self.probabilities(text)
        level = max(probs, key=probs.get)
        return level, probs[level]


class OneMessage:
    """The fitted pipeline's arithmetic for one message, without scikit-learn's per-call checks and sparse
    matrices: 0.15 ms instead of 1.4 ms (p50), on every ordinary question (the router waits for the triage). The same
    steps as ``predict_proba``: scikit-learn's own analyzer, counts of known n-grams, 1 + log(count) × idf, L2
    norm, the regression's scores, softmax. Equal to it within 1e-9 (tests/gateway/test_triage_shortcuts.py)."""

    def __init__(self, vectorizer, regression):
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary = vectorizer.vocabulary_
        self.idf = vectorizer.idf_
        self.weights = np.ascontiguousarray(regression.coef_.T)  # n-grams × classes
        self.intercept = regression.intercept_

    @classmethod
    def of(cls, pipeline) -> Optional["OneMessage"]:
        """For the pipeline TriageClassifier builds; None for any other settings (then scikit-learn scores)."""
        vectorizer, regression = pipeline.steps[0][1], pipeline.steps[-1][1]
        same = (len(pipeline.steps) == 2 and vectorizer.sublinear_tf and vectorizer.use_idf and
                vectorizer.norm == "l2" and not vectorizer.binary and vectorizer.vocabulary is None and
                len(regression.classes_) > 2)
        return cls(vectorizer, regression) if same else None

    def __call__(self, text: str) -> np.ndarray:
        counts = Counter(i for i in map(self.vocabulary.get, self.analyze(text)) if i is not None)
        scores = self.intercept.copy()
        if counts:
            known = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
            tfidf = (np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts))) + 1.0) * self.idf[known]
            tfidf /= np.sqrt(tfidf @ tfidf)
            scores += tfidf @ self.weights[known]
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()


def combined(rules: RuleSet, classifier: Optional[TriageClassifier], text: str,
             thresholds: Dict[str, float] = THRESHOLDS) -> Triage:
    """The rules first; the classifier where they found nothing and dismissed nothing, or to raise a
    ``normal`` the rules found to ``high``."""
    found = rules.triage(text)
    if found.level not in ("none", "normal") or found.vetoed or classifier is None or not isinstance(text, str) \
            or not text.strip():
        return found
    letters = len(_NOT_LETTER.sub("", features(text)))
    if letters < MIN_LETTERS:
        return found
    probs = classifier.probabilities(text)
    if found.level == "normal":
        if probs.get("emergency", 0.0) + probs.get("high", 0.0) >= RAISE_THRESHOLD:
            return Triage("high", (*found.rules, "classifier"), source="rules+classifier")
        return found
    for level in ("emergency", "high", "normal"):  # the most urgent level that is confident enough
        needed = max(thresholds[level], SHORT_THRESHOLD) if letters < SHORT_LETTERS and level != "normal" \
            else thresholds[level]
        if probs.get(level, 0.0) >= needed:
            return Triage(level, ("classifier",), source="classifier")
    return found


class RiskTriage:
    """What the gateway asks for every message: the rules, with the classifier as a second opinion."""

    def __init__(self, rules: RuleSet, classifier: Optional[TriageClassifier],
                 thresholds: Dict[str, float] = THRESHOLDS):
        self.rules, self.classifier, self.thresholds = rules, classifier, thresholds

    def triage(self, text: str) -> Triage:
        return combined(self.rules, self.classifier, text, self.thresholds)


@lru_cache(maxsize=1)
def default_triage() -> RiskTriage:
    rules = default_rules()
    return RiskTriage(rules, TriageClassifier(training_examples(rules)))


def assess(text: str) -> Triage:
    """The level of one message (rules + classifier): what gateway/handoff/router.py calls."""
    return default_triage().triage(text)
