"""Text reuse: the passages of target speeches that reproduce passages of source speeches (a
provincial report repeating the national report of its year, a city copying its province).

Found in two steps, both on the matching forms (simplified, width-folded, with the display
text's offsets):
1. Candidates by fingerprints. Every k-gram of characters is hashed and each text keeps the
   smallest hash of every window of w consecutive k-grams (winnowing, as MOSS does). Two texts
   that share a passage of at least `min_chars` = w + k − 1 characters share at least one
   fingerprint, so no reused passage of that length is missed (unless more than
   FORMULA_SOURCES sources share it: a formula), and a target is aligned only with the sources
   it shares fingerprints with. (Near-duplicate detection's MinHash compares
   whole texts; a report that reuses a tenth of another is far from a near-duplicate of it.)
2. Exact alignment. Each shared fingerprint is checked character by character and extended
   left and right while both texts agree. A span is kept when it is at least `min_chars`
   long, so every span reported occurs, character for character, in both texts.

A target's share is the characters of its text inside some span, over its length.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .corpus import Corpus, Doc
from .csvsafe import record_rows
from .documents import Progress
from .engine import bounded_map, executor
from .errors import SpeechkitError
from .matching import matching_form
from .spread import unit_of

K = 8  # characters per hashed k-gram
MIN_CHARS = 30  # the shortest span reported; also what the fingerprints guarantee to find
BATCH_CHARS = 2_000_000  # target text per parallel task
# a passage more than this many sources share is a formula (各位代表, 现在我代表…向大会报告工作),
# not one source reused: its fingerprints pick no candidates, so a target costs at most this many
# alignments per fingerprint however large the source selection (a passage the target shares
# with fewer sources is still found, and every span reported is still exact)
FORMULA_SOURCES = 50
_BASE = np.uint64(1_000_003)


@dataclass
class Span:
    source: str  # the source speech's id
    target_start: int  # offsets in the target's text (display and matching form alike)
    target_end: int
    source_start: int
    source_end: int
    text: str  # the passage as the target's matching form writes it (the same in the source's)


@dataclass
class TargetReuse:
    id: str
    title: str | None
    year: int | None
    region: str | None
    level: str | None
    chars: int
    reused_chars: int  # characters inside at least one span
    share: float
    spans: list[Span]


@dataclass
class ReuseResult:
    source: str
    target: str
    lag: tuple[int, int] | None  # target year − source year, when pairs are limited by it
    min_chars: int
    sources: int
    targets: list[TargetReuse]  # every target read, most reused first
    regions: list[dict[str, Any]]  # province, speeches, mean and max share, most reused first
    left_out: int  # speeches without a year, left out because a lag was asked for
    formulae: int = 0  # fingerprints shared by more than FORMULA_SOURCES sources: not used to find candidates
    source_titles: dict[str, str | None] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), **self.provenance}

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per reused span, with its target's share."""
        records = [{"target": t.id, "target_title": t.title, "target_year": t.year, "target_region": t.region,
                    "share": t.share, "source": s.source, "source_title": self.source_titles.get(s.source),
                    "target_start": s.target_start, "target_end": s.target_end, "source_start": s.source_start,
                    "source_end": s.source_end, "chars": s.target_end - s.target_start, "text": s.text}
                   for t in self.targets for s in t.spans]
        return record_rows(records, self.provenance, {"min_chars": self.min_chars})


def parse_lag(value: str | None) -> tuple[int, int] | None:
    """A lag written LO..HI (or one number) as (lo, hi): how many years before a target its
    sources may be.

    >>> parse_lag("0..1"), parse_lag("2"), parse_lag("")
    ((0, 1), (2, 2), None)
    """
    if not value:
        return None
    lo, sep, hi = value.partition("..")
    try:
        pair = (int(lo), int(hi if sep else lo))
    except ValueError:
        raise SpeechkitError(f"lag {value!r}: give years as LO..HI, e.g. 0..1") from None
    if not 0 <= pair[0] <= pair[1]:
        raise SpeechkitError(f"lag {value!r}: give 0 ≤ LO ≤ HI, e.g. 0..1")
    return pair


# --- fingerprints ---------------------------------------------------------------------------------

def kgram_hashes(text: str, k: int = K) -> np.ndarray:
    """A 64-bit polynomial hash of every k-gram of characters (position i: text[i:i+k]).

    >>> h = kgram_hashes("改革开放改革开放", 4)
    >>> len(h), bool(h[0] == h[4]), bool(h[0] == h[1])
    (5, True, False)
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(n, dtype=np.uint64)
    for j in range(k):  # wraps modulo 2**64, as a rolling hash does
        h = h * _BASE + codes[j:j + n]
    return h


def fingerprints(text: str, min_chars: int = MIN_CHARS, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, positions) the text keeps: the smallest k-gram hash of every window of
    `min_chars − k + 1` k-grams (the rightmost when tied). Any passage of `min_chars` characters
    that two texts share gives both the same fingerprint.

    >>> a = fingerprints("甲乙丙丁" * 3 + "推动高质量发展取得新成效必须坚持" + "戊己庚辛" * 3, 12, 4)
    >>> b = fingerprints("子丑寅卯" * 5 + "推动高质量发展取得新成效必须坚持", 12, 4)
    >>> bool(set(a[0].tolist()) & set(b[0].tolist()))
    True
    """
    h = kgram_hashes(text, k)
    w = min_chars - k + 1
    if len(h) < w:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(h, w)
    chosen = np.unique(w - 1 - np.argmin(windows[:, ::-1], axis=1) + np.arange(len(windows)))
    return h[chosen], chosen.astype(np.int64)


# --- alignment ------------------------------------------------------------------------------------

def _extend(t: str, s: str, pt: int, ps: int, k: int) -> tuple[int, int, int, int] | None:
    """The longest stretch around the seed (t[pt:pt+k] == s[ps:ps+k]) where both texts agree:
    (target start, target end, source start, source end); None for a hash collision."""
    if t[pt:pt + k] != s[ps:ps + k]:
        return None
    a, b = pt, ps
    while a >= 16 and b >= 16 and t[a - 16:a] == s[b - 16:b]:
        a, b = a - 16, b - 16
    while a > 0 and b > 0 and t[a - 1] == s[b - 1]:
        a, b = a - 1, b - 1
    e, f = pt + k, ps + k
    while e + 16 <= len(t) and f + 16 <= len(s) and t[e:e + 16] == s[f:f + 16]:
        e, f = e + 16, f + 16
    while e < len(t) and f < len(s) and t[e] == s[f]:
        e, f = e + 1, f + 1
    return a, e, b, f


def align(target: str, source: str, seeds: list[tuple[int, int]], min_chars: int = MIN_CHARS,
          k: int = K) -> list[tuple[int, int, int, int]]:
    """The maximal common stretches of at least `min_chars` characters that the seeds (shared
    fingerprints' positions: target, source) lie in, as (target start, end, source start, end),
    in target order. A seed inside a stretch already found costs nothing.

    >>> t, s = "今年要坚持稳中求进工作总基调推动高质量发展", "我们坚持稳中求进工作总基调不动摇"
    >>> [(a, e, t[a:e]) for a, e, b, f in align(t, s, [(5, 4)], 8, 4)]
    [(3, 14, '坚持稳中求进工作总基调')]
    """
    found: list[tuple[int, int, int, int]] = []
    covered: dict[int, int] = {}  # diagonal (target − source offset) -> end of its last stretch
    for pt, ps in sorted(seeds):
        if covered.get(pt - ps, -1) >= pt + k:
            continue
        stretch = _extend(target, source, pt, ps, k)
        if stretch is None:
            continue
        a, e = stretch[0], stretch[1]
        covered[pt - ps] = e
        if e - a >= min_chars:
            found.append(stretch)
    return sorted(set(found))


def covered_chars(spans: list[tuple[int, int]]) -> int:
    """Characters inside at least one (start, end) span.

    >>> covered_chars([(0, 10), (5, 12), (20, 25)])
    17
    """
    total, end = 0, -1
    for a, e in sorted(spans):
        if e > end:
            total += e - max(a, end)
            end = e
    return total


def _align_batch(batch: list[tuple[int, str, list[tuple[str, str, list[tuple[int, int]]]]]], min_chars: int,
                 k: int) -> list[tuple[int, list[Span]]]:
    """A parallel task: each target (its position, its matching form, and for each candidate
    source: its id, its matching form, the seeds) aligned with its sources, as spans that carry
    their passage (so the target's text is not read again)."""
    out = []
    for n, target, candidates in batch:
        spans = [Span(source_id, a, e, b, f, target[a:e]) for source_id, source, seeds in candidates
                 for a, e, b, f in align(target, source, seeds, min_chars, k)]
        out.append((n, spans))
    return out


# --- the analysis ---------------------------------------------------------------------------------

def reuse(corpus: Corpus, source: str, target: str, *, lag: tuple[int, int] | None = None,
          min_chars: int = MIN_CHARS, progress: Progress | None = None) -> ReuseResult:
    """Passages of the `target` speeches (a selection or a speech id) that reproduce passages
    of the `source` ones; with `lag` (lo, hi) a target is compared only with sources from lo
    to hi years before it (0..1: the same year and the one before)."""
    if min_chars < K + 2:
        raise SpeechkitError(f"--min-chars must be at least {K + 2}")
    sources, targets = corpus.select(source), corpus.select(target)
    left_out = 0
    if lag is not None:
        dated_s, dated_t = [d for d in sources if d.year is not None], [d for d in targets if d.year is not None]
        left_out = len(sources) - len(dated_s) + len(targets) - len(dated_t)
        sources, targets = dated_s, dated_t
    source_text = {i: matching_form(t) for i, t in corpus.texts([d.id for d in sources])}
    index, formulae = _source_index([source_text[d.id] for d in sources], min_chars)
    by_year: dict[int | None, list[int]] = defaultdict(list)
    for n, d in enumerate(sources):
        by_year[d.year].append(n)

    def allowed(t: Doc) -> set[int] | None:
        if lag is None:
            return None
        return {n for y in range(t.year - lag[1], t.year - lag[0] + 1) for n in by_year.get(y, ())}

    def batches():
        batch, size = [], 0
        for start in range(0, len(targets), 200):
            chunk = targets[start:start + 200]
            texts = {i: matching_form(t) for i, t in corpus.texts([d.id for d in chunk])}
            for m, d in enumerate(chunk, start):
                text = texts[d.id]
                seeds: dict[int, list[tuple[int, int]]] = defaultdict(list)
                ok = allowed(d)
                hashes, positions = fingerprints(text, min_chars)
                for h, p in zip(hashes.tolist(), positions.tolist(), strict=True):
                    for n, q in index.get(h, ()):
                        if (ok is None or n in ok) and sources[n].id != d.id:
                            seeds[n].append((p, q))
                candidates = [(sources[n].id, source_text[sources[n].id], s) for n, s in seeds.items()]
                batch.append((m, text, candidates))
                size += len(text) + sum(len(c[1]) for c in candidates)
                if size >= BATCH_CHARS:
                    yield batch
                    batch, size = [], 0
        if batch:
            yield batch

    settings = corpus.settings
    parallel = settings.uses_dask or (settings.worker_count > 1 and sum(d.chars for d in targets) > 2 * BATCH_CHARS)
    found: dict[int, list[Span]] = {}
    with executor(settings) if parallel else contextlib.nullcontext() as pool:
        results = bounded_map(pool, _align_batch, batches(), min_chars, K) if pool else \
            (_align_batch(b, min_chars, K) for b in batches())
        for part in results:
            found.update(part)
            if progress:
                progress(len(found), len(targets), "aligning")
    result = _result(corpus, source, target, lag, min_chars, sources, targets, found, left_out)
    result.formulae = formulae
    return result


def _source_index(texts: list[str], min_chars: int) -> tuple[dict[int, list[tuple[int, int]]], int]:
    """Each fingerprint of the sources -> (source number, position) of each place it is at,
    without the formulae (fingerprints more than FORMULA_SOURCES sources share); their count."""
    index: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for n, text in enumerate(texts):
        hashes, positions = fingerprints(text, min_chars)
        for h, p in zip(hashes.tolist(), positions.tolist(), strict=True):
            index[h].append((n, p))
    formulae = [h for h, places in index.items() if len(places) > FORMULA_SOURCES
                and len({n for n, _ in places}) > FORMULA_SOURCES]
    for h in formulae:
        del index[h]
    return index, len(formulae)


def _result(corpus: Corpus, source: str, target: str, lag: tuple[int, int] | None, min_chars: int,
            sources: list[Doc], targets: list[Doc], found: dict[int, list[Span]], left_out: int) -> ReuseResult:
    rows = []
    for m, d in enumerate(targets):
        spans = found.get(m, [])
        reused = covered_chars([(s.target_start, s.target_end) for s in spans])
        # the matching form is as long as the text (its offsets are the text's)
        rows.append(TargetReuse(d.id, d.title, d.year, d.region, d.level, d.chars, reused,
                                round(reused / d.chars, 4) if d.chars else 0.0, spans))
    rows.sort(key=lambda r: (-r.share, r.id))
    regions: dict[str, list[float]] = defaultdict(list)
    docs = {d.id: d for d in targets}
    for r in rows:
        d = docs[r.id]
        unit = unit_of(d, "region") if d.level != "national" else "全国"
        if unit:
            regions[unit].append(r.share)
    ranking = sorted(({"region": u, "speeches": len(v), "mean_share": round(sum(v) / len(v), 4),
                       "max_share": max(v)} for u, v in regions.items()),
                     key=lambda x: (-x["mean_share"], x["region"]))
    used = {s.source for r in rows for s in r.spans}  # the titles of the sources some span cites
    return ReuseResult(source, target, lag, min_chars, len(sources), rows, ranking, left_out,
                       source_titles={d.id: d.title for d in sources if d.id in used},
                       provenance=corpus.provenance())
