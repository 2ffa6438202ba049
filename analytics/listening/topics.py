"""Topics of customer messages: TF-IDF over folded tokens, each message stemmed and without stop words
in its own language (German or English), factorised by NMF; each message gets its strongest topic.
Plus the 'rising' test.

Pure functions over lists of texts (no database), so they are easy to test and to reuse.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer

from customer360.text import fold
from customer360.words import LANGUAGES, analyse, language_of, stem, stop_words, tokens

MAX_FIT = 30000  # texts the factorisation is fitted on; every distinct text is then transformed
LABEL_TERMS = 4


@dataclass
class TopicResult:
    """Topics found in ``texts``: terms per topic and, per text, its topic index (-1: none) and weight."""

    terms: list[list[str]]
    assignment: np.ndarray
    weight: np.ndarray

    @property
    def labels(self) -> list[str]:
        return [" · ".join(t[:LABEL_TERMS]) for t in self.terms]


def _surface_forms(texts: list[str]) -> dict[str, str]:
    """The most frequent written (folded) form of each stem, so labels read "delivery", not "deliv"."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for text in texts:
        language = language_of(text)
        stop = stop_words(language)
        for token in tokens(text):
            if token not in stop:
                forms[stem(token, language)][token] += 1
    return {s: counter.most_common(1)[0][0] for s, counter in forms.items()}


def find_topics(texts: list[str], *, n_topics: int = 10, seed: int = 0, top_terms: int = 8) -> TopicResult:
    """Fit TF-IDF + NMF on the texts (a sample of at most ``MAX_FIT``; repeated texts weigh more, as
    they should) and assign every text its strongest topic."""
    unique = list(dict.fromkeys(texts))
    index = {text: i for i, text in enumerate(unique)}
    empty = TopicResult([], np.full(len(texts), -1), np.zeros(len(texts)))
    if len(unique) < 2:
        return empty
    rng = np.random.default_rng(seed)
    fit_rows = (
        texts if len(texts) <= MAX_FIT else [texts[i] for i in rng.choice(len(texts), MAX_FIT, replace=False)]
    )
    vectorizer = TfidfVectorizer(
        analyzer=analyse, min_df=2 if len(fit_rows) >= 50 else 1, max_df=0.5, sublinear_tf=True
    )
    try:
        matrix = vectorizer.fit_transform(fit_rows)
    except ValueError:  # nothing but stop words
        return empty
    k = max(1, min(n_topics, len(unique), matrix.shape[0], matrix.shape[1]))
    model = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    with warnings.catch_warnings():
        # A (near) perfect fit of tiny corpora makes the loss a rounding error below zero: harmless.
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="sklearn")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        model.fit(matrix)
    vocabulary = vectorizer.get_feature_names_out()
    surface = _surface_forms(unique)
    terms = [
        [surface.get(vocabulary[j], vocabulary[j]) for j in np.argsort(component)[::-1][:top_terms]]
        for component in model.components_
    ]
    weights = model.transform(vectorizer.transform(unique))
    totals = weights.sum(axis=1)
    best = weights.argmax(axis=1)
    share = np.divide(weights.max(axis=1), totals, out=np.zeros_like(totals), where=totals > 0)
    best = np.where(totals > 0, best, -1)
    rows = np.fromiter((index[t] for t in texts), dtype=np.int64, count=len(texts))
    return TopicResult(terms, best[rows], share[rows])


_WORD = re.compile(r"\w+")
_CLAUSE = re.compile(r"[.,;:!?()\n]+")
PHRASE_WORDS = (2, 3)


def top_phrase(texts: list[str], terms: list[str]) -> str:
    """The phrase (two or three consecutive words, as customers wrote them) that most of the topic's
    messages share and that contains one of its top terms: "Rechnung doppelt bekommen" instead of
    "rechnung · doppelt · bekommen · zweimal". Empty when no phrase occurs in two messages."""
    wanted = {stem(fold(t), language) for t in terms for language in LANGUAGES}
    documents: Counter = Counter()  # folded phrase -> messages containing it
    written: dict[tuple, Counter] = defaultdict(Counter)  # folded phrase -> its written forms
    for text in texts:
        seen = set()
        language = language_of(text)
        for clause in _CLAUSE.split(text):  # a phrase never runs across a full stop or a comma
            _phrases(clause, language, wanted, seen, written)
        documents.update(seen)
    # More messages first; a longer phrase wins when it is nearly as common as a shorter one.
    ranked = sorted(documents.items(), key=lambda kv: (kv[1] * (1 + 0.3 * (len(kv[0]) - 2)), len(kv[0])))
    if not ranked or ranked[-1][1] < 2:
        return ""
    phrase = written[ranked[-1][0]].most_common(1)[0][0]
    return phrase[:1].upper() + phrase[1:]


def _phrases(clause: str, language: str, wanted: set[str], seen: set, written: dict) -> None:
    """Collect the clause's candidate phrases (no stop word at either end, a top term inside)."""
    words = _WORD.findall(clause)
    folded = [fold(w) for w in words]
    stop = stop_words(language)
    for n in PHRASE_WORDS:
        for i in range(len(words) - n + 1):
            key = tuple(folded[i : i + n])
            if key in seen or key[0] in stop or key[-1] in stop or key[0].isdigit():
                continue
            if any(stem(word, language) in wanted for word in key):
                seen.add(key)
                written[key][" ".join(words[i : i + n])] += 1


@dataclass(frozen=True)
class RisingTest:
    is_rising: bool
    z: float
    share_current: float
    share_previous: float


def rising_test(
    count_current: int,
    total_current: int,
    count_previous: int,
    total_previous: int,
    *,
    min_count: int = 5,
    min_ratio: float = 1.3,
    z_min: float = 1.96,
) -> RisingTest:
    """Is a topic's share of messages significantly higher now than in the previous period?

    One-sided two-proportion z-test on the shares, plus two guards that keep small numbers from
    alarming a manager: at least ``min_count`` messages now and a share grown by ``min_ratio``.
    """
    p1 = count_current / total_current if total_current else 0.0
    p0 = count_previous / total_previous if total_previous else 0.0
    if not total_current or not total_previous:
        return RisingTest(False, 0.0, p1, p0)
    pooled = (count_current + count_previous) / (total_current + total_previous)
    variance = pooled * (1 - pooled) * (1 / total_current + 1 / total_previous)
    z = (p1 - p0) / math.sqrt(variance) if variance > 0 else 0.0
    grown = p1 >= min_ratio * p0 if p0 > 0 else count_current >= min_count
    return RisingTest(bool(count_current >= min_count and grown and z >= z_min), z, p1, p0)
