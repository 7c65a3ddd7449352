"""The trained model must understand the held-out split (tests/nlu/, never used for training)."""

import pytest

from tools.eval_nlu import MIN_ACCURACY, MIN_WEIGHTED_F1, evaluate, summary
from tools.model import model_path


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    model = model_path()
    assert model.exists(), f"no model for the current data at {model}: run `make train` (make test does)"
    return evaluate(model, tmp_path_factory.mktemp("nlu-eval"))


def test_accuracy_on_held_out_split(report):
    print(summary(report))
    assert report["accuracy"] >= MIN_ACCURACY
    assert report["weighted avg"]["f1-score"] >= MIN_WEIGHTED_F1


def test_every_intent_is_recognised_at_least_half_the_time(report):
    weak = {name: row["recall"] for name, row in report.items()
            if isinstance(row, dict) and "recall" in row and not name.endswith("avg") and row["recall"] < 0.5}
    assert not weak, f"intents recognised less than half the time: {weak}"
