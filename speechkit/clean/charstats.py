"""Character and word statistics that the mojibake repairs score readings with.

They come from jieba's dictionary, a large public word-frequency list, read once as a data file
(jieba itself is not imported here: `speechkit.segment` owns the segmenter).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path


@lru_cache(maxsize=1)
def word_counts() -> dict[str, int]:
    """Word -> frequency from jieba's dict.txt."""
    spec = find_spec("jieba")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("jieba is not installed: pip install jieba")
    counts: dict[str, int] = {}
    with open(Path(spec.origin).parent / "dict.txt", encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ")
            if len(parts) >= 2:
                counts[parts[0]] = int(parts[1])
    return counts


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
        p_uni = (self.unigram.get(ch, 0) + 0.5) / (self.total + 0.5 * 30000)  # exp(logp(ch))
        pair = self.bigram.get(prev + ch, 0)
        return math.log((pair + weight * p_uni) / (self.following.get(prev, 0) + weight))


@lru_cache(maxsize=1)
def char_stats() -> CharStats:
    """Counts over jieba's dictionary (word frequency spread over its characters)."""
    unigram: Counter[str] = Counter()
    bigram: Counter[str] = Counter()
    for word, freq in word_counts().items():
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
    counts = word_counts()
    total = sum(counts.values())
    logp = {w: math.log(f / total) for w, f in counts.items() if f > 0}
    return WordModel(logp, floor=math.log(0.5 / total))
