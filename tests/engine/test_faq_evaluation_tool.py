"""tools/eval_faq.py counts right: an oracle scores 1.0, a retriever that never answers scores 0."""

import yaml

from tools.eval_faq import HELDOUT, evaluate


class Answer:
    def __init__(self, status, ids):
        self.status = status
        self.topics = [type("T", (), {"id": i})() for i in ids]


class Oracle:
    def __init__(self):
        data = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))
        self.expected = {q["q"]: q["expect"] for q in data["in_scope"]}

    def retrieve(self, text):
        return Answer("answer", [self.expected[text]]) if text in self.expected else Answer("none", [])


class Silent:
    def retrieve(self, text):
        return Answer("none", [])


class AlwaysT01:
    def retrieve(self, text):
        return Answer("answer", ["T01"])


def test_oracle_is_perfect():
    result = evaluate(Oracle())
    assert result["top1"] == 1.0 and result["wrong"] == 0
    assert result["false_answers"]["out_of_scope"][0] == 0


def test_silence_answers_nothing():
    result = evaluate(Silent())
    assert result["top1"] == 0 and result["none"] == 1.0


def test_answering_everything_is_caught_on_out_of_scope():
    result = evaluate(AlwaysT01())
    answered, total, _ = result["false_answers"]["out_of_scope"]
    assert answered == total > 30
    assert 0 < result["top1"] < 0.1 and result["wrong"] > 0.9
