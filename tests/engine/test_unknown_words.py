"""UnknownWordsGuard: messages made only of never-seen words fall back instead of a confident guess."""

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.tokenizer import JapaneseTokenizer
from bot.nlu.unknown_words import UnknownWordsGuard


@pytest.fixture
def guard(tmp_path):
    tokenizer = JapaneseTokenizer(JapaneseTokenizer.get_default_config())
    data = TrainingData([
        Message(data={TEXT: "こんにちは", INTENT: "greet"}),
        Message(data={TEXT: "ごみの出し方を教えて", INTENT: "menu_garbage"}),
        Message(data={TEXT: "ありがとうございます", INTENT: "thank"}),
    ])
    tokenizer.process_training_data(data)
    storage = LocalModelStorage(tmp_path)
    resource = Resource("guard")
    context = ExecutionContext(GraphSchema({}), "test")
    trained = UnknownWordsGuard.create(UnknownWordsGuard.get_default_config(), storage, resource, context)
    trained.train(data)
    # Load it back the way `rasa run` does, from model storage.
    loaded = UnknownWordsGuard.load(UnknownWordsGuard.get_default_config(), storage, resource, context)
    return tokenizer, loaded


def predict(guard, text, intent="greet", confidence=0.99):
    tokenizer, component = guard
    message = Message(data={TEXT: text})
    tokenizer.process([message])
    message.set(INTENT, {"name": intent, "confidence": confidence})
    component.process([message])
    return message.get(INTENT)["confidence"]


def test_vocabulary_survives_persist_and_load(guard):
    assert {"塵", "出す", "教える"} <= guard[1].vocabulary


@pytest.mark.parametrize("text", ["パンダ", "asdfghjkl", "ビットコイン価格"])
def test_only_unknown_words_zero_the_confidence(guard, text):
    assert predict(guard, text) == 0.0


@pytest.mark.parametrize("text", ["こんにちは！", "ゴミの出し方", "ごみ捨て", "ＣＯＮＮＩＣＨＩＷＡ ごみ"])
def test_a_known_word_keeps_the_classifier_decision(guard, text):
    assert predict(guard, text) == 0.99


def test_small_typo_of_a_known_word_counts_as_known(guard):
    assert predict(guard, "ありがとうござます") == 0.99


def test_punctuation_or_emoji_only_is_left_to_the_classifier(guard):
    assert predict(guard, "？？😀") == 0.99
