"""Would a trained classifier help the rule triage? A measurement, not a component.

    .venv/engine/bin/python benchmarks/triage_classifier.py     (the engine venv has scikit-learn)

Classifier: TF-IDF of character 1–3-grams of the folded text (``triage.fold``: NFKC, lower case, katakana
as hiragana) + logistic regression (class_weight="balanced"), four classes (none/normal/high/emergency).
Training data: tests/triage/set1.yml plus every rule's ``examples`` (labelled with the rule's level) and
``not_examples`` (labelled none, unless the same text is also some rule's example). Training texts that
also occur in set 2 are dropped, so set 2 stays unseen.

  1. 5-fold cross-validation on set 1 (stratified; the rules' examples are in every training fold) for
     the classifier alone (a rule example with the same text as a held-out message is left out of that
     fold), for a few values of C; the C with the best macro-F1 is used below. Set 2 is
     not looked at to choose anything.
  2. On set 2 (blind), side by side: rules alone, classifier alone (argmax), and "rules OR classifier"
     (the higher of the two levels; the classifier's level only counts when its probability is at
     least 0.5 / 0.7 / 0.9, or whatever it is: "argmax"), with the routing metrics of tools/eval_triage.py.
  3. A one-line verdict (criterion printed with it).

Prints aggregate figures only, never the texts of set 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gateway.counseling.triage import LEVELS, RuleSet, fold, higher, load_set  # noqa: E402
from tools.eval_triage import MAX_FALSE_ALARMS, MIN_NORMAL_RECALL, MIN_PRIORITY_RECALL, SETS, score  # noqa: E402

THRESHOLDS = (0.5, 0.7, 0.9)
C_GRID = (1.0, 3.0, 10.0, 30.0)
SEED = 0
# Verdict: a missed priority or normal message recovered is worth two false alarms (a false alarm offers a
# counselor to someone who did not need one; a miss leaves a child without one).
FALSE_ALARM_COST = 0.5


def make_classifier(c: float):
    return make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), preprocessor=fold, lowercase=False, sublinear_tf=True),
        LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=SEED))


def rule_examples(rules: RuleSet) -> Tuple[List[str], List[str], int]:
    """The rules' examples (rule level) and not_examples (none), one label per text."""
    labels: Dict[str, str] = {}
    for rule in rules.rules:
        for text in rule.examples:
            labels[text] = higher(labels.get(text, "none"), rule.level)
    conflicts = 0
    for rule in rules.rules:
        for text in rule.not_examples:
            if text in labels and labels[text] != "none":
                conflicts += 1  # another rule's example: keep that rule's level
            else:
                labels[text] = "none"
    return list(labels), list(labels.values()), conflicts


def _key(text: str) -> str:
    return "".join(fold(text).split())


def predict_levels(model, texts: Sequence[str]) -> Tuple[List[str], np.ndarray]:
    proba = model.predict_proba(list(texts))
    classes = list(model.classes_)
    best = proba.argmax(axis=1)
    return [classes[i] for i in best], proba.max(axis=1)


def combine(rule_levels: Sequence[str], clf_levels: Sequence[str], clf_proba: np.ndarray,
            threshold: float) -> List[str]:
    return [higher(r, c) if p >= threshold else r for r, c, p in zip(rule_levels, clf_levels, clf_proba)]


def _combo(threshold: float) -> str:
    return f"rules OR classifier p≥{threshold:g}" if threshold else "rules OR classifier (argmax)"


def _pct(x) -> str:
    return "   n/a" if x is None else f"{x:6.1%}"


def row(name: str, report: Dict) -> str:
    return (f"  {name:<28} {_pct(report['priority_recall'])} {report['priority_hits']:>3}/{report['priority_n']:<3}"
            f" {_pct(report['normal_recall'])} {report['normal_hits']:>3}/{report['normal_n']:<3}"
            f" {_pct(report['false_alarms'])} {report['false_alarm_hits']:>3}/{report['none_n']:<3}"
            f" {_pct(report['emergency_exact'])} {_pct(report['accuracy'])}")


HEADER = (f"  {'':<28} {'priority (≥high)':>14} {'normal (≥normal)':>17} {'false alarms':>15} "
          f"{'emerg.':>6} {'exact':>6}\n"
          f"  {'target':<28} {'≥ ' + format(MIN_PRIORITY_RECALL, '.0%'):>14}"
          f" {'≥ ' + format(MIN_NORMAL_RECALL, '.0%'):>17}"
          f" {'≤ ' + format(MAX_FALSE_ALARMS, '.0%'):>15}")


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description="rules vs a character n-gram classifier on the blind set")
    parser.parse_args(argv)
    started = time.perf_counter()
    rules = RuleSet.load()
    set1, set2 = load_set(SETS["set1"]), load_set(SETS["set2_blind"])
    ex_texts, ex_levels, conflicts = rule_examples(rules)

    set2_keys = {_key(m["text"]) for m in set2}
    train = [(m["text"], m["level"]) for m in set1] + list(zip(ex_texts, ex_levels))
    kept = [(t, lv) for t, lv in train if _key(t) not in set2_keys]
    dropped = len(train) - len(kept)
    set1_kept = [m for m in set1 if _key(m["text"]) not in set2_keys]
    extra = [(t, lv) for t, lv in zip(ex_texts, ex_levels) if _key(t) not in set2_keys]
    print(f"training: set 1 {len(set1_kept)} + rule examples {sum(1 for _, lv in extra if lv != 'none')}"
          f" + rule not_examples {sum(1 for _, lv in extra if lv == 'none')}"
          f" ({dropped} dropped because set 2 has the same text; {conflicts} not_examples kept another rule's level)")
    print(f"set 2 (blind): {len(set2)} messages, only used for the final comparison")

    # ---- 1. 5-fold CV on set 1, classifier alone
    print()
    print("== 5-fold cross-validation on set 1, classifier alone (pooled out-of-fold predictions) ==")
    print(HEADER + f" {'macro-F1':>9}")
    texts1 = [m["text"] for m in set1_kept]
    gold1 = [m["level"] for m in set1_kept]
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED).split(texts1, gold1))
    best_c, best_f1 = None, -1.0
    for c in C_GRID:
        oof = [""] * len(texts1)
        for train_idx, test_idx in folds:
            held_out = {_key(texts1[i]) for i in test_idx}
            fold_extra = [(t, lv) for t, lv in extra if _key(t) not in held_out]
            model = make_classifier(c)
            model.fit([texts1[i] for i in train_idx] + [t for t, _ in fold_extra],
                      [gold1[i] for i in train_idx] + [lv for _, lv in fold_extra])
            for i, level in zip(test_idx, model.predict([texts1[i] for i in test_idx])):
                oof[i] = level
        macro = f1_score(gold1, oof, labels=list(LEVELS), average="macro")
        print(row(f"classifier C={c:g}", score(set1_kept, oof)) + f" {macro:9.3f}")
        if macro > best_f1:
            best_c, best_f1 = c, macro
    print(f"  → C={best_c:g} (best macro-F1 {best_f1:.3f})")
    rules1 = score(set1_kept, [rules.triage(t).level for t in texts1])
    print(row("(rules on set 1, tuned)", rules1))

    # ---- 2. set 2: rules, classifier, rules OR classifier
    model = make_classifier(best_c)
    model.fit([t for t, _ in kept], [lv for _, lv in kept])
    texts2 = [m["text"] for m in set2]
    rule_levels = [rules.triage(t).level for t in texts2]
    clf_levels, clf_proba = predict_levels(model, texts2)
    reports = {"rules alone": score(set2, rule_levels), "classifier alone": score(set2, clf_levels)}
    for t in THRESHOLDS + (0.0,):
        reports[_combo(t)] = score(set2, combine(rule_levels, clf_levels, clf_proba, t))
    print()
    print(f"== set 2 (blind), {len(set2)} messages ==")
    print(HEADER)
    for name, report in reports.items():
        print(row(name, report))

    # ---- 3. verdict
    base = reports["rules alone"]
    best = None
    for t in THRESHOLDS + (0.0,):
        r = reports[_combo(t)]
        recovered = (r["priority_hits"] - base["priority_hits"]) + (r["normal_hits"] - base["normal_hits"])
        alarms = r["false_alarm_hits"] - base["false_alarm_hits"]
        gain = recovered - alarms / FALSE_ALARM_COST
        if best is None or gain > best[0]:
            best = (gain, t, recovered, alarms, r)
    gain, t, recovered, alarms, r = best
    meets = (r["priority_recall"] >= MIN_PRIORITY_RECALL and r["normal_recall"] >= MIN_NORMAL_RECALL
             and r["false_alarms"] <= MAX_FALSE_ALARMS)
    figures = (f"priority {base['priority_recall']:.1%}→{r['priority_recall']:.1%}, normal {base['normal_recall']:.1%}"
               f"→{r['normal_recall']:.1%}, false alarms {base['false_alarms']:.1%}→{r['false_alarms']:.1%}")
    rule_text = f"(criterion: a recovered message is worth {1 / FALSE_ALARM_COST:g} false alarms)"
    alone = reports["classifier alone"]
    versus = (f"; classifier alone: priority {alone['priority_recall']:.1%}, normal {alone['normal_recall']:.1%}, "
              f"false alarms {alone['false_alarms']:.1%}")
    print()
    if gain > 0 and recovered >= 2:
        print(f"VERDICT: the classifier helps as a second opinion — {_combo(t)} recovers {recovered} "
              f"missed priority/normal messages of set 2 for {alarms} more false alarms ({figures}); targets "
              f"{'met' if meets else 'still not met'}{versus} {rule_text}")
    else:
        print(f"VERDICT: the classifier does not help enough — best is {_combo(t)}: {recovered} missed messages "
              f"recovered for {alarms} more false alarms ({figures}){versus} {rule_text}")
    print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
