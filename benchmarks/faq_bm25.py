"""The first FAQ retrieval, kept as the baseline the classifier in bot/knowledge/faq_retriever.py is compared with
(`python -m tools.eval_faq --retriever bm25`, README "FAQ"): BM25 over fugashi lemmas of data/faq/faq.yml.

Every training paraphrase (and the canonical question) is one BM25 document labelled with its topic; a
topic scores as its best document. BM25 scores are not comparable between queries, so the decision uses
a second, interpretable number: **coverage**, the share of the query's content words (IDF-weighted) that
the top topic's paraphrases contain. Words the FAQ never uses weigh like the rarest known word, so
「明日の天気は？」 or 「横浜市の住民票」 cannot reach an answer on one shared word.

    answer      coverage ≥ ANSWER_COVERAGE and the top topic clearly ahead of the next one
    candidates  coverage ≥ CANDIDATE_COVERAGE: up to 3 topics for "もしかして"
    none        otherwise (honest fallback, logged as unanswered)
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Dict, List, Sequence, Set

import bm25s
import numpy as np

# The same content words, topics and results as the classifier in use, so the comparison is fair.
from bot.knowledge.faq_retriever import FAQ_FILE, Retrieval, Topic, load_topics, terms, training_texts

# Measured frontier (tools/eval_faq.py, held-out set, first content): coverage 0.4 → top-1 0.375 but 22 %
# of out-of-scope queries answered; 0.5 → 0.255 / 12 %; 0.6 → 0.185 / 2.4 %. Safety first: 0.6.
ANSWER_COVERAGE = 0.6
CANDIDATE_COVERAGE = 0.34
LEAD_RATIO = 1.3  # top topic's BM25 score over the second topic's


class FaqRetriever:
    def __init__(self, entries: Sequence[dict]):
        self.topics: Dict[str, Topic] = {}
        docs: List[List[str]] = []
        self._doc_topic: List[str] = []
        self._vocab: Dict[str, Set[str]] = {}
        for entry in entries:
            topic = Topic(entry["id"], entry.get("category", ""), entry["question"], entry["answer"],
                          entry.get("url", ""), entry.get("handover"), bool(entry.get("reviewed")))
            self.topics[topic.id] = topic
            for text in training_texts(entry):
                doc = terms(text)
                if doc:
                    docs.append(doc)
                    self._doc_topic.append(topic.id)
                    self._vocab.setdefault(topic.id, set()).update(doc)
        document_frequency = Counter(t for doc in docs for t in set(doc))
        n = len(docs)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}
        self._unknown_idf = max(self._idf.values())
        self._vocabulary = {t: i for i, t in enumerate(sorted(document_frequency))}
        self._bm25 = bm25s.BM25()
        self._bm25.index(bm25s.tokenization.Tokenized(
            ids=[[self._vocabulary[t] for t in doc] for doc in docs], vocab=self._vocabulary), show_progress=False)
        self._doc_topic_array = np.array(self._doc_topic)

    @classmethod
    def from_file(cls, path: Path = FAQ_FILE) -> "FaqRetriever":
        return cls(load_topics(path))

    def topic_scores(self, query_terms: List[str]) -> Dict[str, float]:
        known = [t for t in query_terms if t in self._vocabulary]
        if not known:
            return {}
        scores = self._bm25.get_scores(known)
        best: Dict[str, float] = {}
        for doc, score in enumerate(scores):
            if score > 0:
                topic = self._doc_topic[doc]
                best[topic] = max(best.get(topic, 0.0), float(score))
        return best

    def coverage(self, query_terms: List[str], topic_id: str) -> float:
        unique = set(query_terms)
        total = sum(self._idf.get(t, self._unknown_idf) for t in unique)
        if not total:
            return 0.0
        return sum(self._idf[t] for t in unique if t in self._vocab.get(topic_id, ())) / total

    def retrieve(self, text: str) -> Retrieval:
        query = terms(text)
        scores = self.topic_scores(query)
        if not scores:
            return Retrieval("none")
        ranked = sorted(scores, key=scores.get, reverse=True)
        top = ranked[0]
        cover = self.coverage(query, top)
        second = scores[ranked[1]] if len(ranked) > 1 else 0.0
        # One word alone (「家族の分も？」, 「児童手当」) gets candidates, not an answer: it is too often a fragment.
        if len(set(query)) >= 2 and cover >= ANSWER_COVERAGE and scores[top] >= LEAD_RATIO * second:
            return Retrieval("answer", [self.topics[top]], cover, scores[top])
        candidates = [t for t in ranked[:3] if self.coverage(query, t) >= CANDIDATE_COVERAGE]
        if candidates:
            return Retrieval("candidates", [self.topics[t] for t in candidates], cover, scores[top])
        return Retrieval("none", [], cover, scores[top])

    def ranking(self, text: str, k: int = 3) -> List[str]:
        scores = self.topic_scores(terms(text))
        return sorted(scores, key=scores.get, reverse=True)[:k]
