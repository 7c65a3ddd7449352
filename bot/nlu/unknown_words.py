"""UnknownWordsGuard: a message made only of words the assistant has never seen is not understood.

DIET spreads its confidence over the intents it knows, so "パンダ" or "asdfgh" can come out as
``greet`` with 0.99. This component, placed after DIET and before FallbackClassifier, remembers the
lemmas and surfaces of the content words in the training data; when none of a message's content
words is known (exactly, as a small typo of a known word, or as a compound containing a known word of
two or more characters: ごみ捨て ⊃ ごみ), it sets the intent confidence to 0 so that
FallbackClassifier turns the turn into ``nlu_fallback`` (the honest "I did not understand").
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Set, Text

from rapidfuzz import fuzz, process
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# Parts of speech (UniDic pos1) that carry no topic of their own.
FUNCTION_POS = {"助詞", "助動詞", "補助記号", "記号", "空白", "接尾辞", "接頭辞"}
VOCABULARY_FILE = "vocabulary.json"


def content_words(tokens: Iterable[Token]) -> List[Token]:
    return [t for t in tokens if t.get("pos") not in FUNCTION_POS and t.text.strip()]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownWordsGuard(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # A word within this rapidfuzz ratio of a known word counts as known (typos: こんにちわ).
        return {"typo_similarity": 85}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 vocabulary: Optional[Set[str]] = None) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self.vocabulary: Set[str] = vocabulary or set()
        self._vocabulary_list = sorted(self.vocabulary)
        self._compound_parts = [w for w in self._vocabulary_list if len(w) >= 2]

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "UnknownWordsGuard":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary: Set[str] = set()
        for example in training_data.intent_examples:
            for token in content_words(example.get(TOKENS_NAMES[TEXT]) or []):
                vocabulary.update({token.lemma, token.text})
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(sorted(vocabulary), ensure_ascii=False))
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "UnknownWordsGuard":
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = set(json.loads((directory / VOCABULARY_FILE).read_text()))
        except (ValueError, FileNotFoundError):
            logger.warning("UnknownWordsGuard has no vocabulary; it will not change any intent.")
            vocabulary = set()
        return cls(config, model_storage, resource, vocabulary)

    def is_known(self, token: Token) -> bool:
        words = {token.lemma, token.text}
        if words & self.vocabulary:
            return True
        if any(part in word for word in words for part in self._compound_parts):
            return True
        return any(
            process.extractOne(word, self._vocabulary_list, scorer=fuzz.ratio,
                               score_cutoff=self._config["typo_similarity"]) is not None
            for word in words if len(word) >= 3
        )

    def process(self, messages: List[Message]) -> List[Message]:
        if not self.vocabulary:
            return messages
        for message in messages:
            intent = message.get(INTENT)
            words = content_words(message.get(TOKENS_NAMES[TEXT]) or [])
            if intent and words and not any(self.is_known(token) for token in words):
                message.set(INTENT, {**intent, "confidence": 0.0}, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
