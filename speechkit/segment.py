"""Segmentation. The only module that imports jieba.

For now it also serves the character statistics the mojibake repair scores candidates with:
jieba's dictionary is a large, public word-frequency list, so character unigram and bigram
counts drawn from it tell a natural reading from a garbled one.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

log = logging.getLogger(__name__)


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs at DEBUG on import otherwise
    return jieba


@dataclass(frozen=True)
class CharStats:
    """Character unigram and bigram counts with a smoothed conditional log-probability."""

    unigram: dict[str, int]
    bigram: dict[str, int]
    following: dict[str, int]
    total: int

    def logp(self, ch: str) -> float:
        return math.log((self.unigram.get(ch, 0) + 0.5) / (self.total + 0.5 * 30000))

    def logp_next(self, prev: str, ch: str, *, weight: float = 2000.0) -> float:
        """log P(ch | prev), interpolated with the unigram so unseen pairs are possible."""
        p_uni = math.exp(self.logp(ch))
        pair = self.bigram.get(prev + ch, 0)
        return math.log((pair + weight * p_uni) / (self.following.get(prev, 0) + weight))

    def rank_ok(self, ch: str, *, min_count: int = 2000) -> bool:
        return self.unigram.get(ch, 0) >= min_count


@lru_cache(maxsize=1)
def char_stats() -> CharStats:
    """Counts over jieba's dictionary (word frequency spread over its characters)."""
    unigram: Counter[str] = Counter()
    bigram: Counter[str] = Counter()
    with _jieba().get_dict_file() as fh:
        for raw in fh:
            parts = raw.decode("utf-8").split(" ")
            if len(parts) < 2:
                continue
            word, freq = parts[0], int(parts[1])
            for ch in word:
                unigram[ch] += freq
            for a, b in itertools.pairwise(word):
                bigram[a + b] += freq
    following: Counter[str] = Counter()
    for pair, n in bigram.items():
        following[pair[0]] += n
    return CharStats(dict(unigram), dict(bigram), dict(following), sum(unigram.values()))


@dataclass(frozen=True)
class WordModel:
    """Unigram word model over jieba's dictionary: the log-probability of the best
    segmentation, the same dynamic programme jieba runs, used to rank readings of a text."""

    logp: dict[str, float]
    floor: float
    max_len: int = 6

    def score(self, text: str) -> float:
        """Total log-probability of the best segmentation of `text`."""
        n = len(text)
        best = [0.0] + [-math.inf] * n
        for i in range(n):
            if best[i] == -math.inf:
                continue
            for j in range(i + 1, min(n, i + self.max_len) + 1):
                piece = text[i:j]
                lp = self.logp.get(piece)
                if lp is None:
                    if j - i > 1:
                        continue
                    lp = self.floor
                if best[i] + lp > best[j]:
                    best[j] = best[i] + lp
        return best[n]


@lru_cache(maxsize=1)
def word_model() -> WordModel:
    counts: dict[str, int] = {}
    with _jieba().get_dict_file() as fh:
        for raw in fh:
            parts = raw.decode("utf-8").split(" ")
            if len(parts) >= 2:
                counts[parts[0]] = int(parts[1])
    total = sum(counts.values())
    logp = {w: math.log(f / total) for w, f in counts.items() if f > 0}
    return WordModel(logp, floor=math.log(0.5 / total))
