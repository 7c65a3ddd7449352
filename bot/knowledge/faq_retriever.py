"""FAQ retrieval: which of the topics in data/faq/faq.yml a citizen's question is about, and how sure.

A linear classifier (logistic regression, scikit-learn) learns the topics from every topic's canonical
question, examples and keywords. Its features are the UniDic lemmas of the content words (語彙) and
character 2–3-grams of the text's loose kana reading, so 「じゅーみんひょー」, 「住民票」 and
「じゅうみんひょう」 share most of their features even where fugashi cuts hiragana wrongly.

A probability alone would answer 「明日の天気は？」 with whichever topic is least unlikely, so the decision
also asks how much of the question the topic's own texts **cover** (IDF-weighted share of the query's
content words — by lemma or by kana reading — that appear in the topic's texts; words the FAQ never uses
weigh like the rarest known word):

    answer      probability ≥ ANSWER_PROBABILITY, coverage ≥ ANSWER_COVERAGE, ≥ 2 separate content words,
                and, for a garbage topic, a word about garbage (捨てる, ごみ, 収集日 …)
    candidates  up to 3 topics with probability ≥ CANDIDATE_PROBABILITY and coverage ≥ CANDIDATE_COVERAGE
                ("もしかして" quick replies)
    none        otherwise (honest fallback, logged as unanswered)

Thresholds were chosen on tests/faq/heldout.yml with `make eval-faq` (README "FAQ"). Training takes
well under a second, so staff edits of faq.yml apply on the next question (``current_retriever``).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import yaml
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.nlu.evidence import about_garbage
from bot.nlu.kana import KANA, fold_long_vowels, loose_reading
from bot.nlu.morphology import Morpheme, analyze, tagger
from bot.nlu.normalize import normalize_text

ROOT = Path(__file__).resolve().parents[2]
FAQ_FILE = ROOT / "data" / "faq" / "faq.yml"
OTHER_SERVICES_FILE = ROOT / "data" / "faq" / "other_services.yml"
FUNCTION_POS = {"助詞", "助動詞", "補助記号", "記号", "空白", "接頭辞"}
# Words every FAQ question uses (every topic is about Sapporo), everyday verbs, and the pointing words of
# follow-ups (「それはどこで？」): they say nothing about the topic. Kept as typed; their UniDic lemmas (どこ → 何処, できる → 出来る) are added below.
GENERIC_WORDS = ("教える 知る たい する ある いる なる できる 方 方法 どう 何 どこ いつ ない ます です ください くださる "
                 "いい 良い よい もらう 場合 それ これ あれ そこ ここ どれ いくら 何時 時 こと もの ところ 必要 もっと 詳しい "
                 "さっき やつ もう 一回 分 でも 札幌 さっぽろ 札幌市 市 分かる わかる 欲しい ほしい くれる 言う 思う 見る "
                 "行く 来る 使う 探す 置く 聞く 調べる 質問 よくある").split()
# An answer about garbage needs a word about garbage in the question (bot/nlu/evidence.py): 「新しい冷蔵庫を
#買いたい」 names an appliance of the recycling law (T09) but is not about getting rid of it.
GARBAGE_CATEGORY = "ごみ"
ANSWER_PROBABILITY = 0.3
ANSWER_COVERAGE = 0.4
CANDIDATE_PROBABILITY = 0.08
CANDIDATE_COVERAGE = 0.25
REGULARISATION_C = 20.0
HIRAGANA = re.compile(r"[ぁ-ゖー]")
SAPPORO_PLACES = {"札幌", "さっぽろ", "サッポロ"}
MUNICIPALITY_SUFFIXES = {"市", "都", "府", "県", "町", "村"}
ORIGIN_PARTICLES = {"から", "より", "出身"}
PLACE_PARTICLES = {"の", "で", "って"}
# Moving between the place and Sapporo is a Sapporo matter (「横浜市に引っ越すので転出届」).
MOVING = re.compile(r"引っ?越|転出|転入|転居|越して|こして|ひっこ")  # 「江別の図書館」「旭川でごみの日」: a bare place name
SAPPORO_WARDS = {"中央区", "北区", "東区", "白石区", "厚別区", "豊平区", "清田区", "南区", "西区", "手稲区"}
# Places in Sapporo that the postcode file's town names do not contain (UniDic calls them 地名).
SAPPORO_LANDMARKS = {"すすきの", "ススキノ", "薄野", "大通", "円山", "藻岩", "藻岩山", "定山渓", "羊ヶ丘", "新さっぽろ",
                     "琴似", "真駒内", "月寒", "麻生", "宮の沢", "発寒", "石狩湾"}
COUNTRY_AND_REGIONS = {"日本", "北海道", "道", "道内", "道央", "全国", "海外"}


@dataclass(frozen=True)
class Topic:
    id: str
    category: str
    question: str
    answer: str
    url: str
    handover: Optional[str] = None
    reviewed: bool = False


@dataclass
class Retrieval:
    status: str  # answer | candidates | none | elsewhere (another municipality's matter)
    topics: List[Topic] = field(default_factory=list)  # best first (1 for answer, ≤ 3 for candidates)
    coverage: float = 0.0
    score: float = 0.0  # the top topic's probability
    place: str = ""  # status "elsewhere": the other municipality the question is about
    provider: str = ""  # status "elsewhere" for another office's or a company's matter: who handles it


GENERIC = set(GENERIC_WORDS) | {m.lemma for word in GENERIC_WORDS for m in analyze(word)}


def _content(morphemes: Sequence[Morpheme]) -> List[Morpheme]:
    return [m for m in morphemes if m.pos not in FUNCTION_POS and m.lemma not in GENERIC]


def _first_phrase_head(morphemes: Sequence[Morpheme]) -> Optional[str]:
    """The last noun of the question's first noun phrase (nouns joined directly or by の): 「大通公園のイルミネーション
    いつから」 → イルミネーション, 「区役所は何時まで」 → 区役所."""
    head, end = None, None
    for i, m in enumerate(morphemes):
        if end is not None and m.start > end:
            break  # a space ends it (「定期接種 無料」)
        if m.pos in ("名詞", "接尾辞", "接頭辞"):
            if m.pos == "名詞" and m.text not in _RELATIONAL:
                head = m.text
            end = m.end
        elif end is not None and m.text == "の" and i + 1 < len(morphemes) and morphemes[i + 1].pos in ("名詞", "接頭辞"):
            end = m.end
        elif end is not None:
            break
    return head


# Nouns of place relative to another (「札幌駅の周り」 is about 札幌駅)
_RELATIONAL = {"周り", "まわり", "近く", "辺り", "あたり", "付近", "周辺", "前", "後ろ", "中", "上", "下", "横", "隣", "側", "そば"}


_HIRAGANA_ONLY = re.compile(r"[ぁ-ゖー]+")
_KATAKANA_WORD = re.compile(r"[ァ-ヺー]{3,}")


def terms(text: str) -> List[str]:
    """Content lemmas: the words that carry the topic."""
    return [m.lemma for m in _content(analyze(text))]


def kana_text(text: str) -> str:
    """The whole text as one loose kana string (particles included: they keep hiragana runs intact)."""
    return fold_long_vowels("".join(loose_reading(m) for m in analyze(text)))


def load_topics(path: Path = FAQ_FILE) -> List[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]


def training_texts(entry: dict) -> List[str]:
    return [entry["question"], *entry.get("examples", []), *entry.get("keywords", [])]


@dataclass(frozen=True)
class _QueryWords:
    lemmas: List[str]
    readings: List[str]  # loose kana reading of each content word typed in kana ("" for kanji words)
    kana_grams: Set[str]  # kana 3-grams of the whole text, when it is mostly hiragana (「じゅーみんひょー」)
    chunks: int  # runs of adjacent content words: 「電話番号は？」 is one, 「住民票の写し」 two

    @property
    def enough(self) -> bool:
        """Enough said for an answer: one word alone (「児童手当」, 「オンラインでも？」) is too often a fragment."""
        return self.chunks >= 2 or len(self.kana_grams) >= 4


def _hiragana_share(text: str) -> float:
    """fugashi cuts text typed in hiragana badly (「じゅーみんひょー」 → じゅ/ー/みん/ひ/ょ/ー); katakana is fine."""
    letters = [ch for ch in text if ch.isalpha() or ch == "ー"]
    return sum(bool(HIRAGANA.fullmatch(ch)) for ch in letters) / len(letters) if letters else 0.0


def _grams(kana: str, n: int = 3) -> Set[str]:
    return {kana[i:i + n] for i in range(len(kana) - n + 1)}


def other_municipality(text: str) -> Optional[str]:
    """「横浜市の児童手当」「世田谷区の保育園」「江別の子育てサロン」: a place other than Sapporo, said with
    市/都/府/県/町/村, with a 区 that is not one of Sapporo's, or bare before の/で/に (a place name the
    dictionary knows that no Sapporo ward or town bears); not where the citizen comes from (「石狩市から引っ越して
    きた」 is a Sapporo question)."""
    norm = normalize_text(text)
    if MOVING.search(norm):
        return None
    words = [(w.surface, w.feature.pos2, w.feature.pos3) for w in tagger()(norm)]
    for i, (surface, pos2, pos3) in enumerate(words[:-1]):
        if pos2 != "固有名詞" or pos3 != "地名" or _in_sapporo(surface):
            continue
        following = words[i + 1][0]
        origin = i + 2 < len(words) and words[i + 2][0] in ORIGIN_PARTICLES
        if following in MUNICIPALITY_SUFFIXES and not origin:
            return surface + following
        if following == "区" and surface + "区" not in SAPPORO_WARDS and not origin:
            return surface + following
        if following in PLACE_PARTICLES and surface not in COUNTRY_AND_REGIONS and _bare_place_name(surface):
            return surface
    return None


@dataclass(frozen=True)
class OtherService:
    name: str
    provider: str
    pattern: "re.Pattern[str]"


@lru_cache(maxsize=1)
def other_services() -> Tuple[List[OtherService], Tuple[str, ...]]:
    """data/faq/other_services.yml: what another office or a company handles, and the words of the city's own
    matters that keep a question with the FAQ."""
    data = yaml.safe_load(OTHER_SERVICES_FILE.read_text(encoding="utf-8")) or {}
    services = [OtherService(s["name"], s["provider"], re.compile("|".join(f"(?:{p})" for p in s["patterns"])))
                for s in data.get("services", [])]
    return services, tuple(data.get("city_matters", []))


def other_service(text: str) -> Optional[Tuple[str, OtherService]]:
    """The words that name another office's or a company's matter (「自動車税」「ゆうパック」), and that matter;
    None when the question also names a matter of the city's (「失業保険をもらう間の国保の減免」)."""
    norm = normalize_text(text)
    services, city_matters = other_services()
    if any(word in norm for word in city_matters):
        return None
    for service in services:
        found = service.pattern.search(norm)
        if found:
            return found.group(0), service
    return None


def _bare_place_name(surface: str) -> bool:
    """A place named without 市/町/区 must look like one: kanji (江別, 小樽) or a katakana name of three letters or
    more. UniDic also tags short words as places that citizens use otherwise (「プラのかご」: プラ is plastic)."""
    return bool(re.search(r"[\u3400-\u9fff]", surface)) or len(surface) >= 3


def _in_sapporo(place: str) -> bool:
    """Sapporo itself, a ward's name (手稲, 清田) or a part of a town name in the city's postcode file (真駒内,
    月寒) or a well-known place in the city the file does not name (すすきの, 大通)."""
    if place in SAPPORO_PLACES or place + "区" in SAPPORO_WARDS or place in SAPPORO_LANDMARKS:
        return True
    place = place.replace("ヶ", "ケ").replace("が", "ケ")  # 宮ヶ丘 / 宮ケ丘 (the postcode file's spelling)
    return any(place in town.replace("ヶ", "ケ") for town in _sapporo_towns())


_TOWNS: List[str] = []


def _sapporo_towns() -> List[str]:
    """The town names of the city's postcode file, read once it is loaded."""
    if not _TOWNS:
        from bot.knowledge.citydata.store import CityDataNotLoaded
        from bot.knowledge.garbage_knowledge import store

        try:
            _TOWNS.extend(town for ward in store().wards() for town in store().towns(ward))
        except CityDataNotLoaded:  # no city data: the wards and landmarks still count
            pass
    return _TOWNS


class FaqRetriever:
    def __init__(self, entries: Sequence[dict]):
        self.topics: Dict[str, Topic] = {}
        texts: List[str] = []
        labels: List[str] = []
        lemma_docs: List[Set[str]] = []
        self._lemmas_of: Dict[str, Set[str]] = {}
        self._kana_of: Dict[str, str] = {}
        self._text_of: Dict[str, str] = {}  # every text of a topic, normalised (other_service's words)
        for entry in entries:
            topic = Topic(entry["id"], entry.get("category", ""), entry["question"], entry["answer"],
                          entry.get("url", ""), entry.get("handover"), bool(entry.get("reviewed")))
            self.topics[topic.id] = topic
            kana_parts = []
            for text in training_texts(entry):
                texts.append(text)
                labels.append(topic.id)
                doc = set(terms(text))
                lemma_docs.append(doc)
                self._lemmas_of.setdefault(topic.id, set()).update(doc)
                kana_parts.append(kana_text(text))
            self._kana_of[topic.id] = "|".join(kana_parts)
            self._text_of[topic.id] = "|".join(normalize_text(t) for t in training_texts(entry))
        self._all_kana = "|".join(self._kana_of.values())  # every topic's readings, for unheard_noun
        frequency = Counter(t for doc in lemma_docs for t in doc)
        n = len(lemma_docs)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}
        self._unknown_idf = max(self._idf.values())
        self._vectorizers = [
            TfidfVectorizer(analyzer=terms, sublinear_tf=True),
            TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, preprocessor=kana_text),
        ]
        features = hstack([v.fit_transform(texts) for v in self._vectorizers]).tocsr()
        self._model = LogisticRegression(C=REGULARISATION_C, max_iter=5000)
        self._model.fit(features, labels)
        self._classes: List[str] = list(self._model.classes_)

    @classmethod
    def from_file(cls, path: Path = FAQ_FILE) -> "FaqRetriever":
        return cls(load_topics(path))

    def probabilities(self, text: str) -> Dict[str, float]:
        features = hstack([v.transform([text]) for v in self._vectorizers]).tocsr()
        if not features.nnz:
            return {}
        return dict(zip(self._classes, self._model.predict_proba(features)[0].tolist()))

    def _words(self, text: str) -> _QueryWords:
        morphemes = analyze(text)
        content = _content(morphemes)
        readings = [fold_long_vowels(loose_reading(m)) if KANA.fullmatch(m.text) else "" for m in content]
        grams = _grams(kana_text(text)) if _hiragana_share(text) >= 0.7 else set()
        chunks, previous, end = 0, False, 0
        for m in morphemes:
            is_content = m in content
            chunks += is_content and (not previous or m.start > end)  # a space also separates (「住民票 コンビニ」)
            previous, end = is_content, m.end
        return _QueryWords([m.lemma for m in content], readings, grams, chunks)

    def coverage(self, words: _QueryWords, topic_id: str) -> float:
        """IDF-weighted share of the query's content words found in the topic's texts, by lemma or, for a
        word typed in kana, by reading (≥ 3 kana found inside the topic's readings). A text typed mostly
        in hiragana, which fugashi cuts badly, may instead count the share of its kana 3-grams found."""
        seen: Set[str] = set()
        total = covered = 0.0
        lemmas = self._lemmas_of.get(topic_id, set())
        kana = self._kana_of.get(topic_id, "")
        for lemma, reading in zip(words.lemmas, words.readings):
            if lemma in seen:
                continue
            seen.add(lemma)
            weight = self._idf.get(lemma, self._unknown_idf)
            total += weight
            if lemma in lemmas or (len(reading) >= 3 and reading in kana):
                covered += weight
        share = covered / total if total else 0.0
        if words.kana_grams:
            share = max(share, len({g for g in words.kana_grams if g in kana}) / len(words.kana_grams))
        return share

    def unheard_noun(self, text: str) -> Optional[str]:
        """The question's first noun — what it is about, in Japanese — when no topic ever uses it, by spelling or
        reading (「婚姻届」's 婚姻, 「車検」), and such nouns are at least half of its nouns: it is about something the FAQ does not
        cover, so at most もしかして, never an answer. One unknown word among several known ones (「夕方」 in a
        question about office hours) does not change what the question is about."""
        kana = self._all_kana
        morphemes = analyze(text)
        nouns = [m for m in _content(morphemes) if m.pos == "名詞" and len(m.text) >= 2]
        # a word in hiragana may be a piece fugashi cut; a katakana word is read as typed (「ドーム」)
        unheard = [m.text for m in nouns if m.lemma not in self._idf and not _HIRAGANA_ONLY.fullmatch(m.text)
                   and (len(fold_long_vowels(loose_reading(m))) < 2 or fold_long_vowels(loose_reading(m)) not in kana)]
        first = nouns[0].text if nouns else None
        if first in unheard and len(unheard) * 2 >= len(nouns):
            return first
        # 「大通公園のイルミネーション」: the first noun phrase is about its last noun (Japanese puts the head last)
        head = _first_phrase_head(morphemes)
        return head if head in unheard and head != first and _KATAKANA_WORD.fullmatch(head) else None

    def retrieve(self, text: str) -> Retrieval:
        place = other_municipality(text)
        if place:
            return Retrieval("elsewhere", place=place)
        probabilities = self.probabilities(text)
        words = self._words(text)
        if not probabilities or not words.lemmas:
            return Retrieval("none")
        ranked = sorted(probabilities, key=probabilities.get, reverse=True)
        top = ranked[0]
        service = other_service(text)
        if service and service[0] not in self._text_of[top]:
            # 「自動車税の納付書なくした」: the 道's, not the 市民税 topic's (which never says 自動車税); 「社会保険
            # から国保に」 is the city's (its topic says 社会保険)
            return Retrieval("elsewhere", place=service[1].name, provider=service[1].provider)
        cover = self.coverage(words, top)
        p = probabilities[top]
        if words.enough and p >= ANSWER_PROBABILITY and cover >= ANSWER_COVERAGE \
                and (self.topics[top].category != GARBAGE_CATEGORY or about_garbage(text)) \
                and not self.unheard_noun(text):
            return Retrieval("answer", [self.topics[top]], cover, p)
        candidates = [t for t in ranked[:3] if probabilities[t] >= CANDIDATE_PROBABILITY
                      and self.coverage(words, t) >= CANDIDATE_COVERAGE]
        if candidates:
            return Retrieval("candidates", [self.topics[t] for t in candidates], cover, p)
        return Retrieval("none", [], cover, p)

    def ranking(self, text: str, k: int = 3) -> List[str]:
        """The k most probable topics, whatever the confidence (for evaluation)."""
        probabilities = self.probabilities(text)
        return sorted(probabilities, key=probabilities.get, reverse=True)[:k]


_current: Dict[str, object] = {}


def current_retriever(path: Path = FAQ_FILE) -> FaqRetriever:
    """The retriever for the file as it is now: city staff's edits apply without a restart."""
    version = (str(path), path.stat().st_mtime_ns)
    if _current.get("version") != version:
        _current["retriever"] = FaqRetriever.from_file(path)
        _current["version"] = version
    return _current["retriever"]  # type: ignore[return-value]
