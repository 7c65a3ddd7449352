"""Rasa NLU components (tokenizer, unknown_words, faq_router) and the Japanese text tools they use."""
