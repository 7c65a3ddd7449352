"""The item matcher's evaluation (tools/eval_garbage.py) on the full official dictionary."""

import pytest

from tools.eval_garbage import (MIN_CATEGORY_ACCURACY, MIN_CATEGORY_QUESTIONS, MIN_UNKNOWN_DETECTION, evaluate,
                                summary)


@pytest.fixture(scope="module")
def report():
    return evaluate()


def test_enough_questions(report):
    assert report["category_questions"] >= MIN_CATEGORY_QUESTIONS
    assert report["hand_written"] >= 120
    assert report["generated"] >= 200
    assert report["unknown_questions"] >= 15


def test_category_accuracy(report):
    assert report["category_accuracy"] >= MIN_CATEGORY_ACCURACY, summary(report, show_errors=True)


def test_unknown_detection(report):
    assert report["unknown_detection"] >= MIN_UNKNOWN_DETECTION, summary(report, show_errors=True)


def test_questions_that_need_asking_back_are_asked(report):
    assert report["clarification_accuracy"] >= 0.8, summary(report, show_errors=True)

# Its speed is not asserted here (a timed test fails on a busy machine, as it did in CI at ae64abd: 23.7 ms):
# `make eval-garbage` prints p50/p95 and benchmarks/run.py measures the matcher.
