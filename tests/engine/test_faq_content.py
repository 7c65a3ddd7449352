"""The municipal FAQ content (data/faq/faq.yml) and its held-out set (tests/faq/heldout.yml) pass
tools/check_faq_content.py, and the checker itself catches what it is meant to catch. Pure Python."""

import copy

import pytest

from tools.check_faq_content import (FAQ_PATH, HELDOUT_PATH, MIN_FOLLOWUPS, MIN_HELDOUT_PER_TOPIC,
                                     MIN_OUT_OF_SCOPE, REQUIRED_IDS, check, find_phone_numbers, load_yaml,
                                     main, summary)


@pytest.fixture(scope="module")
def faq():
    return load_yaml(FAQ_PATH)


@pytest.fixture(scope="module")
def heldout():
    return load_yaml(HELDOUT_PATH)


def _errors(faq, heldout):
    return check(faq, heldout).errors


# ----------------------------------------------------------------------------- the real content

def test_content_passes_all_checks(faq, heldout):
    report = check(faq, heldout)
    assert report.ok, summary(report, faq)


def test_all_forty_topics_with_enough_queries(faq, heldout):
    report = check(faq, heldout)
    assert [t["id"] for t in faq["topics"]][:40] == REQUIRED_IDS
    assert report.counts["heldout_in_scope"] >= 4 * 40
    assert min(report.counts["heldout_per_topic"].values()) >= MIN_HELDOUT_PER_TOPIC
    assert report.counts["heldout_out_of_scope"] >= MIN_OUT_OF_SCOPE
    assert report.counts["heldout_followups"] >= MIN_FOLLOWUPS


def test_nothing_is_marked_reviewed_by_the_authors(faq):
    assert all(entry["reviewed"] is False for entry in faq["topics"])


def test_handovers_to_dialogue_flows(faq):
    handover = {entry["id"]: entry.get("handover") for entry in faq["topics"]}
    assert handover["T07"] == "bulky_booking"
    assert handover["T11"] == "collection_day"
    assert handover["T35"] == "counseling"


def test_file_is_not_taken_for_rasa_training_data():
    """`rasa data validate` reads every YAML file under data/: a line starting with one of Rasa's
    top-level keys would make it parse faq.yml as NLU or story data."""
    rasa_keys = ("nlu:", "responses:", "stories:", "rules:", "intents:", "version:")
    lines = FAQ_PATH.read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if line.lstrip().startswith(rasa_keys)]


def test_command_line_exit_status(capsys):
    assert main([]) == 0
    assert "OK" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the checker

@pytest.fixture
def broken(faq, heldout):
    return copy.deepcopy(faq), copy.deepcopy(heldout)


def _topic(faq, topic_id):
    return next(entry for entry in faq["topics"] if entry["id"] == topic_id)


def test_detects_missing_and_duplicate_ids(broken):
    faq, heldout = broken
    _topic(faq, "T02")["id"] = "T01"
    errors = _errors(faq, heldout)
    assert any("duplicate id" in e for e in errors)
    assert any("missing topics T02" in e for e in errors)


def test_detects_long_answer_and_few_examples(broken):
    faq, heldout = broken
    entry = _topic(faq, "T05")
    entry["answer"] = "とても長い説明です。" * 40
    entry["examples"] = entry["examples"][:5]
    errors = _errors(faq, heldout)
    assert any("T05: answer has" in e and "characters" in e for e in errors)
    assert any("T05: 5 examples" in e for e in errors)


def test_detects_url_outside_the_city_site(broken):
    faq, heldout = broken
    _topic(faq, "T13")["url"] = "https://kosodate.example.jp/"
    _topic(faq, "T14")["answer"] += "\n詳しくは https://example.com/hoiku をご覧ください。"
    errors = _errors(faq, heldout)
    assert any(e.startswith("T13: url must start with") for e in errors)
    assert any(e.startswith("T14: answer contains a URL outside") for e in errors)


def test_detects_unlisted_phone_numbers(broken):
    faq, heldout = broken
    _topic(faq, "T12")["answer"] += "\n斎場の電話は011-883-1561です。"
    _topic(faq, "T16")["answer"] += "\n#7119にも電話できます。"
    errors = _errors(faq, heldout)
    assert any("T12" in e and "011-883-1561" in e for e in errors)
    assert any("T16" in e and "#7119" in e for e in errors)


def test_allowed_numbers_need_a_reason(broken):
    faq, heldout = broken
    _topic(faq, "T35")["allowed_numbers"] = [{"number": "0120-66-3783"}]
    assert any("T35: each allowed_numbers item needs" in e for e in _errors(faq, heldout))


def test_call_center_number_in_any_spelling_is_allowed(broken):
    faq, heldout = broken
    _topic(faq, "T29")["answer"] += "\n札幌市コールセンター（０１１－２２２－４８９４）でもご案内します。"
    assert _errors(faq, heldout) == []


def test_phone_number_finder():
    text = "電話011-211-3783、#7119、189番、〒060-8611、2024年12月2日、8時45分、NET119、100円"
    assert find_phone_numbers(text) == ["011-211-3783", "#7119", "189"]


def test_detects_heldout_query_copied_from_training(broken):
    faq, heldout = broken
    example = _topic(faq, "T20")["examples"][0]
    heldout["in_scope"].append({"q": f"  {example}  ", "expect": "T20"})
    heldout["out_of_scope"].append({"q": _topic(faq, "T21")["examples"][0] + "？", "expect": "none"})
    errors = _errors(faq, heldout)
    assert any("equals a training text of T20" in e for e in errors)
    assert any("punctuation differs from a training text of T21" in e or "equals a training text of T21" in e
               for e in errors)


def test_detects_full_width_copy(broken):
    faq, heldout = broken
    heldout["in_scope"].append({"q": "ＮＥＴ１１９", "expect": "T19"})   # training example: NET119
    assert any("equals a training text of T19" in e for e in _errors(faq, heldout))


def test_detects_thin_heldout_and_bad_expectations(broken):
    faq, heldout = broken
    heldout["in_scope"] = [q for q in heldout["in_scope"] if q["expect"] != "T33"][:]
    heldout["in_scope"].append({"q": "存在しないトピックの質問です", "expect": "T99"})
    heldout["followups"] = heldout["followups"][:3]
    errors = _errors(faq, heldout)
    assert any("T33 has 0 queries" in e for e in errors)
    assert any("'T99' is not a topic id" in e for e in errors)
    assert any("follow-up queries" in e for e in errors)


def test_detects_missing_handover(broken):
    faq, heldout = broken
    del _topic(faq, "T11")["handover"]
    _topic(faq, "T12")["handover"] = "funeral_booking"
    errors = _errors(faq, heldout)
    assert "T11: handover must be 'collection_day'" in errors
    assert any("T12: handover 'funeral_booking' is not declared" in e for e in errors)


def test_the_blind_second_batch_passes_the_same_checks(faq):
    from tools.check_faq_content import FRESH_MINIMUMS, FRESH_PATH
    report = check(faq, load_yaml(FRESH_PATH), FRESH_MINIMUMS)
    assert report.ok, report.errors
    assert report.counts["heldout_in_scope"] >= 3 * 40


def test_keywords_are_checked_like_examples(faq, heldout):
    broken = copy.deepcopy(faq)
    broken["topics"][1]["keywords"] = list(broken["topics"][0]["examples"][:1])
    assert any("also under" in e for e in _errors(broken, heldout))
    broken["topics"][1]["keywords"] = [""]
    assert any("keywords must be" in e for e in _errors(broken, heldout))
