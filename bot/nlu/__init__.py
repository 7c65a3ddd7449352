"""Rasa NLU components (tokenizer, unknown_words, front_door) and the Japanese text tools they use."""
