"""The FAQ retrieval meets the issue's targets on both held-out sets (tools/eval_faq.py, `make eval-faq`):
top-1 ≥ 90 % (the first topic shown is right), out-of-scope questions confidently answered ≤ 10 %, and
few wrong confident answers. The sets are never used for training (tools/check_faq_content.py)."""

import pytest

from bot.knowledge.faq_retriever import FaqRetriever
from tools.eval_faq import SETS, evaluate


@pytest.fixture(scope="module")
def retriever():
    return FaqRetriever.from_file()


@pytest.mark.parametrize("name", sorted(SETS))
def test_targets_on_held_out_questions(retriever, name):
    result = evaluate(retriever, SETS[name])
    oos_answered, oos_total, answered = result["false_answers"]["out_of_scope"]
    followups_answered, followups_total, _ = result["false_answers"]["followups"]
    assert result["top1"] >= 0.90, result
    assert oos_answered / oos_total <= 0.10, answered
    assert result["wrong"] <= 0.05, result["confusions"]
    # 0.70 until 2026-12-02: a katakana word the FAQ never uses now counts as unheard (「ビアガーデン」「ドーム」), so
    # 2 of heldout's 200 confident answers became もしかして with the right topic first (0.705 → 0.695), and out-of-scope
    # questions such as 「大通公園のビアガーデンいつから？」 no longer get the Wi-Fi answer
    assert result["answered_right"] >= 0.69, result
    assert followups_answered / followups_total <= 0.2
