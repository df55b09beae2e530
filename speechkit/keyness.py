"""Keyness between two selections (log-likelihood G² and log ratio) and collocates of a term
(logDice, MI, log-likelihood), over the cached word tokens."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .corpus import Corpus, is_content_word
from .csvsafe import record_rows
from .documents import Progress
from .matching import matching_form
from .query import Filter


def g2(a: int, b: int, n1: int, n2: int) -> float:
    """Dunning's log-likelihood for a word seen a times in a corpus of n1 words and b in n2.

    >>> round(g2(50, 10, 10000, 10000), 2)  # 2·(50·ln(50/30) + 10·ln(10/30))
    29.11
    """
    e1 = n1 * (a + b) / (n1 + n2)
    e2 = n2 * (a + b) / (n1 + n2)
    out = 0.0
    if a:
        out += a * math.log(a / e1)
    if b:
        out += b * math.log(b / e2)
    return 2 * out


def log_ratio(a: int, b: int, n1: int, n2: int) -> float:
    """Hardie's log ratio (binary log of the ratio of relative frequencies; 0.5 added to zeros).

    >>> log_ratio(40, 10, 1000, 1000)
    2.0
    """
    return math.log2(((a or 0.5) / n1) / ((b or 0.5) / n2))


@dataclass
class KeyWord:
    word: str
    side: str
    freq_a: int
    freq_b: int
    docs_a: int
    docs_b: int
    g2: float
    log_ratio: float
    lexicon: bool


@dataclass
class CompareResult:
    a: str
    b: str
    docs: tuple[int, int]
    tokens: tuple[int, int]
    words: list[KeyWord]
    provenance: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "docs": self.docs, "tokens": self.tokens, **self.provenance,
                "words": [asdict(w) for w in self.words]}

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per key word, with both selections and the provenance."""
        return record_rows([asdict(w) for w in self.words], self.provenance, {"a": self.a, "b": self.b})


def compare(corpus: Corpus, a: list[Filter], b: list[Filter], *, label_a: str = "A", label_b: str = "B",
            top: int = 30, min_freq: int = 5, include_duplicates: bool = False) -> CompareResult:
    """Words most characteristic of each side, ranked by G² (p < 0.001 needs G² ≥ 10.83)."""
    counts, dfs, sizes, ndocs = [], [], [], []
    for side in (a, b):
        docs = corpus.docs(side, include_duplicates=include_duplicates)
        ids = [d.id for d in docs]
        c: Counter[str] = Counter()
        df: Counter[str] = Counter()
        chunks = (corpus.tokens(ids[s:s + 1000]) for s in range(0, len(ids), 1000))
        for words in (w for chunk in chunks for w in chunk.values()):
            content = [w for w in words if is_content_word(w)]
            c.update(content)
            df.update(set(content))
        counts.append(c)
        dfs.append(df)
        sizes.append(sum(c.values()))
        ndocs.append(len(docs))
    n1, n2 = sizes
    out = []
    if n1 and n2:
        for word in set(counts[0]) | set(counts[1]):
            fa, fb = counts[0][word], counts[1][word]
            if fa + fb < min_freq:
                continue
            side = label_a if fa / n1 > fb / n2 else label_b
            out.append(KeyWord(word, side, fa, fb, dfs[0][word], dfs[1][word], round(g2(fa, fb, n1, n2), 2),
                               round(log_ratio(fa, fb, n1, n2), 3), corpus.segmenter.is_term(word)))
    words = []
    for label in (label_a, label_b):
        side = sorted((w for w in out if w.side == label), key=lambda w: (-w.g2, w.word))
        words += side[:top]
    return CompareResult(label_a, label_b, (ndocs[0], ndocs[1]), (n1, n2), words, corpus.provenance())


@dataclass
class Collocate:
    word: str
    cooccurrences: int
    freq: int
    score: float


@dataclass
class CollocatesResult:
    term: str
    measure: str
    window: int
    term_freq: int
    collocates: list[Collocate]
    provenance: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"term": self.term, "measure": self.measure, "window": self.window, "term_freq": self.term_freq,
                **self.provenance, "collocates": [asdict(c) for c in self.collocates]}

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per collocate, with the node, measure, window and provenance."""
        return record_rows([asdict(c) for c in self.collocates], self.provenance,
                           {"term": self.term, "measure": self.measure, "window": self.window})


def collocates(corpus: Corpus, term: str, *, window: int = 5, measure: str = "logdice", top: int = 30,
               min_freq: int = 3, filters: list[Filter] = (), include_duplicates: bool = False,
               include_node: bool = False, progress: Progress | None = None) -> CollocatesResult:
    """Words within `window` tokens of the term (which may span several tokens). The term
    itself and words containing it (优化营商环境 near 营商环境: the node seen twice) are left out
    unless `include_node`."""
    target = corpus.segmenter.cut(matching_form(term.strip()))
    if not target:
        from .errors import SpeechkitError

        raise SpeechkitError(f"{term!r} has no words to look for")
    docs = corpus.docs(list(filters), include_duplicates=include_duplicates)
    freq: Counter[str] = Counter()
    co: Counter[str] = Counter()
    n_term = 0
    k = len(target)
    ids = [d.id for d in docs]
    # a chunk of documents at a time: the whole corpus's tokens would take gigabytes
    def chunks():
        for s in range(0, len(ids), 1000):
            yield from corpus.positions(ids[s:s + 1000]).values()
            if progress:
                progress(min(s + 1000, len(ids)), len(ids), "reading words")

    for pos in chunks():
        words = [p[0] for p in pos]
        freq.update(words)
        for i in range(len(pos) - k + 1):
            # the term as words, or inside a longer lexicon term (营商环境 in 优化营商环境)
            if words[i:i + k] == target or (k == 1 and target[0] in pos[i][1:]):
                n_term += 1
                for w in words[max(0, i - window):i] + words[i + k:i + k + window]:
                    if is_content_word(w):
                        co[w] += 1
    total = sum(freq.values())
    out = []
    node = matching_form(term.strip())
    for w, fxy in co.items():
        if fxy < min_freq or (not include_node and node in w):
            continue
        fy = freq[w]
        if measure == "logdice":
            score = 14 + math.log2(2 * fxy / (n_term + fy))
        elif measure == "mi":
            score = math.log2(fxy * total / (n_term * fy * 2 * window))
        else:
            score = g2(fxy, fy - fxy, n_term * 2 * window, max(1, total - n_term * 2 * window))
        out.append(Collocate(w, fxy, fy, round(score, 3)))
    out.sort(key=lambda c: (-c.score, c.word))
    return CollocatesResult(term, measure, window, n_term, out[:top], corpus.provenance())
