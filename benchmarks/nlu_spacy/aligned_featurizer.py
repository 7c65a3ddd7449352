"""Evaluation-only spaCy featurizer that work with a non-spaCy tokenizer (bot.nlu.tokenizer.JapaneseTokenizer).

Rasa 3.6's SpacyFeaturizer declares ``required_components() == [SpacyTokenizer]`` and emits one vector per
*spaCy* token. With our fugashi tokenizer that fails graph validation, and even past validation the dense
sequence (GiNZA/Sudachi tokens) would not line up with the sparse sequence (fugashi/UniDic tokens).

AlignedSpacyFeaturizer: one vector per *Rasa* token = mean of the vectors of the spaCy tokens whose
  character span overlaps the Rasa token's span (zero vector if none has a vector); the sentence
  vector is the configured pooling over those token vectors, as in SpacyFeaturizer.
"""

from __future__ import annotations

from typing import Any, List, Text, Type

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS, TOKENS_NAMES, FEATURIZER_CLASS_ALIAS
from rasa.nlu.featurizers.dense_featurizer.spacy_featurizer import SpacyFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.nlu.utils.spacy_utils import SpacyNLP
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class AlignedSpacyFeaturizer(SpacyFeaturizer):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [SpacyNLP, Tokenizer]

    def _set_spacy_features(self, message: Message, attribute: Text = TEXT) -> None:
        doc = message.get(SPACY_DOCS[attribute])
        tokens = message.get(TOKENS_NAMES[attribute])
        if doc is None or not tokens or doc.vocab.vectors_length == 0:
            return
        width = doc.vocab.vectors_length
        spans = [(t.idx, t.idx + len(t.text), t.vector) for t in doc if t.has_vector]
        rows: List[np.ndarray] = []
        for token in tokens:
            hits = [v for (s, e, v) in spans if s < token.end and e > token.start]
            rows.append(np.mean(hits, axis=0) if hits else np.zeros(width, dtype=np.float32))
        sequence = np.asarray(rows, dtype=np.float32)
        sentence = self.aggregate_sequence_features(sequence, self.pooling_operation)
        alias = self._config[FEATURIZER_CLASS_ALIAS]
        message.add_features(Features(sequence, FEATURE_TYPE_SEQUENCE, attribute, alias))
        message.add_features(Features(sentence, FEATURE_TYPE_SENTENCE, attribute, alias))
