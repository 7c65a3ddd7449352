"""JapaneseTokenizer: fugashi tokens with offsets into the text the user sent, UniDic lemmas."""

import pytest
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.tokenizer import JapaneseTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return JapaneseTokenizer(JapaneseTokenizer.get_default_config())


def tokens_of(tokenizer, text):
    return tokenizer.tokenize(Message(data={TEXT: text}), TEXT)


def test_kana_kanji_sentence(tokenizer):
    tokens = tokens_of(tokenizer, "ソファは何ごみですか")
    assert [t.text for t in tokens][:4] == ["ソファ", "は", "何", "ごみ"]
    gomi = tokens[3]
    assert (gomi.start, gomi.end) == (5, 7)


def test_lemmas_unify_spellings(tokenizer):
    # ごみ / ゴミ share the UniDic lemma; loanword origin tags are stripped (ソファー-sofa → ソファー).
    lemmas = {t.text: t.lemma for t in tokens_of(tokenizer, "ごみとゴミとソファ")}
    assert lemmas["ごみ"] == lemmas["ゴミ"]
    assert lemmas["ソファ"] == "ソファー"
    捨て = tokens_of(tokenizer, "捨てたい")[0]
    assert 捨て.lemma == "捨てる"


@pytest.mark.parametrize("variant", ["ＣＤを捨てたい", "CDを捨てたい", "ｃｄを捨てたい"])
def test_width_variants_give_the_same_token(tokenizer, variant):
    first = tokens_of(tokenizer, variant)[0]
    assert first.text == "cd"
    assert (first.start, first.end) == (0, 2)
    assert variant[first.start:first.end].lower() in {"ｃｄ", "cd"}


@pytest.mark.parametrize(
    "text",
    [
        "ゴミの出し方 CD ＣＤ",
        "😀こんにちは  世界👍🏻",
        "ｶﾞｽ缶はいつ？",
        "064-0959 のびんの日",
        "白石区本通１６丁目南",
        "Wi-Fiを使いたい",
        "㍻の大型ごみ",
        "　全角スペース　",
    ],
)
def test_offsets_cover_the_original_text_in_order(tokenizer, text):
    tokens = tokens_of(tokenizer, text)
    assert tokens
    previous_end = 0
    for token in tokens:
        assert previous_end <= token.start < token.end <= len(text)
        assert text[token.start:token.end].strip(), "a token never covers only whitespace"
        previous_end = token.end


def test_half_width_katakana_offsets(tokenizer):
    tokens = tokens_of(tokenizer, "ｶﾞｽ缶")
    assert tokens[0].text == "ガス"
    assert (tokens[0].start, tokens[0].end) == (0, 3)
    assert (tokens[1].start, tokens[1].end) == (3, 4)


def test_emoji_is_its_own_token(tokenizer):
    tokens = tokens_of(tokenizer, "😀ごみ")
    assert tokens[0].text == "😀"
    assert (tokens[1].start, tokens[1].end) == (1, 3)


@pytest.mark.parametrize("text", ["", " ", "　"])
def test_empty_and_blank_text_do_not_crash(tokenizer, text):
    tokens = tokens_of(tokenizer, text)
    assert len(tokens) == 1
    assert tokens[0].start == 0


def test_process_training_data_sets_tokens(tokenizer):
    data = TrainingData([Message(data={TEXT: "大型ごみを出したい", "intent": "menu_bulky_booking"})])
    tokenizer.process_training_data(data)
    tokens = data.training_examples[0].get(TOKENS_NAMES[TEXT])
    assert "".join(t.text for t in tokens) == "大型ごみを出したい"
