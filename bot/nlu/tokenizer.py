"""Rasa tokenizer for Japanese: fugashi + unidic-lite over NFKC-normalised text.

Token text is the normalised surface (``ＣＤ``, ``CD`` and ``ｃｄ`` are all ``cd``), the token lemma is
the UniDic lemma (``ごみ`` / ``ゴミ`` → ``塵``), and start/end are offsets in the text the user sent,
so entity annotations and extracted entity values stay exact.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.morphology import analyze


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class JapaneseTokenizer(Tokenizer):
    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return ["ja"]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["fugashi", "unidic_lite"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            # A token pattern would re-split normalised token text with original offsets; not supported.
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        text = message.get(attribute) or ""
        tokens = [
            Token(m.text, m.start, end=m.end, lemma=m.lemma, data={"pos": m.pos})
            for m in analyze(text)
        ]
        if not tokens:
            # Rasa's featurizers expect at least one token for a non-empty attribute.
            tokens = [Token(text.strip() or text, 0, end=len(text))]
        return tokens
