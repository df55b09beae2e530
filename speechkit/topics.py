"""`speechkit topics`: themes over passages, what a corpus talks about, and how the weight of each theme moves.

A work report covers every policy area, so a whole report cannot belong to one theme:
clustering whole reports finds who wrote them and when (issue 10 measured it). Here speeches are
cut into passages (paragraphs, a heading joined to what it heads), passages are clustered with
TF-IDF → LSA → k-means, and each speech gets its theme shares (by characters).

The features are words that carry themes. Left out, from the data rather than typed lists:
- place words: the regions the corpus names and their short forms, and any word whose speeches
  come mostly from one region (闽江, 西宁, 高原 in one province's reports);
- words nearly every speech uses (the administrative verbs 打造, 强化, 着力 of every report),
  by document frequency;
- numbers, years, units, masked placeholders and self-references (全市, 我省, 省委).
Labels are each theme's c-TF-IDF terms; each theme shows 3 representative passages.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import new_folder, write_json
from .clusters import check_name, k_note, label_words
from .corpus import Corpus, is_content_word
from .documents import Progress
from .engine import bounded_map, executor
from .errors import NotFoundError, SpeechkitError
from .matching import matching_form
from .query import Filter
from .regions import gazetteer as divisions
from .segment import deserialize, worker_segmenter

PASSAGE_MIN_CHARS = 80   # shorter paragraphs join the next one (a heading joins what it heads)
MIN_FEATURES = 5         # passages with fewer theme words are too short to place
COMMON_DF = 0.4          # a word in more than this share of the speeches carries no theme
UNIT_SHARE = 0.5         # a word that follows a number this often is a unit (万公顷 in 12万公顷)
REGIONAL_SHARE = 0.6     # a word whose speeches come this much from one region is a place word
REGIONAL_MIN_DF = 4
REGIONAL_LIFT = 3.0      # … and this many times the region's share of all speeches
READ_BATCH = 500         # speeches read from the store at a time
READ_CHARS = 2_000_000   # characters of text and tokens per task when passages are read in parallel
SAMPLE_FOR_K = 20_000    # passages used to choose k (the final model sees all)

SENTENCE_END = ("。", "！", "？", "；", "!", "?", ";", "…", "”", "）", ")")
_NUMERAL = "〇零一二三四五六七八九十百千万亿两几半"
_NUMBERISH = re.compile(rf"[\dA-Za-z％%‰℃]|^[{_NUMERAL}]+[年月日个项亿万元家所人次倍条座公里吨亩户台辆件名位届]?$|^第")
_NUMBER = re.compile(rf"^[\d{_NUMERAL}]+$")
_SELF_REFERENCE = re.compile(
    r"^(全|我|本|该|各|外|省|市|县|区|州)(省|市|县|区|州|盟|旗|乡|镇|委|政府|人大|政协|级|直|属|内|外)$"
    r"|^(全|我|本)?自治(区|州|县|旗)$")
_ADMIN_SUFFIX = ("省", "市", "县", "区", "州", "盟", "旗", "自治区", "自治州", "地区")


def split_passages(text: str, min_chars: int = PASSAGE_MIN_CHARS) -> list[tuple[int, int]]:
    """(start, end) of each passage of `text`: a paragraph, with shorter ones (headings, a line
    broken off) joined to the next until a passage is `min_chars` long and ends a sentence.

    >>> t = "（一）稳增长\\n全年经济增长5%，就业稳定。\\n二、改革"
    >>> [t[a:b] for a, b in split_passages(t, min_chars=10)]
    ['（一）稳增长\\n全年经济增长5%，就业稳定。', '二、改革']
    """
    spans: list[tuple[int, int]] = []
    start = None
    pos = 0
    for line in text.split("\n"):
        end = pos + len(line)
        if line.strip():
            if start is None:
                start = pos
            if end - start >= min_chars and line.rstrip().endswith(SENTENCE_END):
                spans.append((start, end))
                start = None
        pos = end + 1
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _placed(positions: list[tuple[str, ...]], match: str, spans: list[tuple[int, int]],
            is_term) -> Iterator[tuple[int, str, bool]]:
    """(passage number, word, whether the word follows a number) for the word positions of a
    text, in order: each word is found after the previous one (they were cut from this very
    text), so the walk is linear. A lexicon term inside a word (放管服 in 放管服改革) counts in
    the same passage.

    >>> list(_placed([("12",), ("万公顷",), ("5",), ("造林",)], "12万公顷；5、造林", [(0, 10)], lambda w: False))
    [(0, '12', False), (0, '万公顷', True), (0, '5', False), (0, '造林', False)]
    """
    pos = 0
    k = 0
    number_ends = -1    # where the last number ended: a word right there (no gap) follows it
    for p in positions:
        at = match.find(p[0], pos)
        if at < 0:
            continue
        pos = at + len(p[0])
        while k < len(spans) - 1 and at >= spans[k][1]:
            k += 1
        yield k, p[0], at == number_ends
        for part in p[1:]:
            if is_term(part):
                yield k, part, False
        if _NUMBER.match(p[0]):
            number_ends = pos


def gazetteer(regions: Iterable[str | None]) -> set[str]:
    """Place names the corpus names (its regions, the provinces) and their short forms.

    >>> {"杭州", "杭州市", "浙江"} <= gazetteer(["杭州市", "浙江省", None])
    True
    """
    names: set[str] = set()
    for full, short in divisions().provinces().items():
        names.update((full, short))
    for region in regions:
        if not region or region in ("全国", "中华人民共和国"):
            continue
        names.add(region)
        for suffix in sorted(_ADMIN_SUFFIX, key=len, reverse=True):
            if region.endswith(suffix) and len(region) - len(suffix) >= 2:
                names.add(region[: -len(suffix)])
                break
    return names


def _static_drop(word: str, places: set[str]) -> bool:
    if len(word) < 2 or not is_content_word(word) or _NUMBERISH.search(word) or _SELF_REFERENCE.match(word):
        return True
    if word in places:
        return True
    # 浙江省委, 杭州湾: a word that begins with a place name of the corpus names a place
    return word[:2] in places or word[:3] in places


@dataclass
class Theme:
    topic: int
    passages: int
    share: float                  # of all passage characters
    labels: list[str]
    representatives: list[dict[str, Any]]
    stability: float | None = None   # held: mean Jaccard with the closest theme of each resample
    name: str | None = None          # a seed theme's name (--seed-theme NAME=words)
    seed_words: list[str] = field(default_factory=list)


@dataclass
class ThemeResult:
    name: str
    k: int
    seed: int
    speeches: int
    passages: int
    features: int
    silhouette: float | None
    k_scores: dict[int, dict[str, float]]
    k_note: str
    themes: list[Theme]
    share_by: dict[str, dict[str, dict[str, float]]]      # "year"/"level" -> value -> topic -> share
    speech_shares: dict[str, dict[int, float]] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    selection: str = ""
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)  # term -> which themes hold it
    stability: float | None = None    # adjusted Rand of the partition with its resamples' (mean)
    other: dict[str, Any] = field(default_factory=dict)   # passages no theme holds: count, share, why
    chance: dict[str, Any] = field(default_factory=dict)  # AMI of the main theme with region, level, period
    method: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("speech_shares")
        out["k_scores"] = {str(k): v for k, v in self.k_scores.items()}
        out.update(self.provenance)
        return out


@dataclass
class _Passages:
    doc: array = field(default_factory=lambda: array("i"))      # speech number of each passage
    start: array = field(default_factory=lambda: array("i"))
    end: array = field(default_factory=lambda: array("i"))
    indptr: array = field(default_factory=lambda: array("q", [0]))
    indices: array = field(default_factory=lambda: array("i"))
    dropped: int = 0    # distinct words never made features: places, numbers, self-references


def _read(corpus: Corpus, docs: list[Any], places: set[str], progress: Progress | None,
          probes: list[str] = (), pool: Executor | None = None
          ) -> tuple[_Passages, list[str], np.ndarray, dict[int, Counter[str]], list[array]]:
    """Passages as rows of word ids, the vocabulary, each word's document frequency and
    occurrences right after a number (two rows) and, per word, the regions of the speeches it
    occurs in. Words are ids from the start: the tokens of 35,000 speeches as Python strings
    were several GB.

    Batches of speeches are read by `pool`'s workers (the local pool or Dask) when given, and
    merged here in order, so the result is the same as reading them one by one."""
    seg = corpus.segmenter
    spec = (str(seg.user_lexicon) if seg.user_lexicon else None, str(seg.dictionary) if seg.dictionary else None)
    needles = [matching_form(t) for t in probes]
    ids = [d.id for d in docs]

    def batches() -> Iterator[list[tuple[int, str, str, str | None]]]:
        for chunk_start in range(0, len(ids), READ_BATCH):
            chunk = ids[chunk_start:chunk_start + READ_BATCH]
            tokens = corpus.serialized_tokens(chunk)
            texts = dict(corpus.texts(chunk))
            batch, size = [], 0
            for k, i in enumerate(chunk):
                batch.append((chunk_start + k, texts[i], tokens[i], _region(docs[chunk_start + k])))
                size += len(texts[i]) + len(tokens[i])
                if size >= READ_CHARS:  # a task's input stays a few MB (500 work reports are 50)
                    yield batch
                    batch, size = [], 0
            if batch:
                yield batch

    results = bounded_map(pool, _read_batch, batches(), places, needles, *spec) if pool else \
        (_read_batch(b, places, needles, *spec) for b in batches())
    vocab: dict[str, int] = {}
    words: list[str] = []
    dropped: set[str] = set()
    stats = np.zeros((2, 0), dtype=np.int64)  # per word: document frequency, occurrences after a number
    regions: dict[int, Counter[str]] = defaultdict(Counter)
    p = _Passages()
    probed: list[array] = [array("i") for _ in probes]  # passages containing each probe term
    done = 0
    for part in results:
        # the batch's own word ids become the corpus's, in the order words were first seen
        for w in part["words"]:
            if w not in vocab:
                vocab[w] = len(words)
                words.append(w)
        mapping = np.fromiter((vocab[w] for w in part["words"]), dtype=np.int64, count=len(part["words"]))
        if len(words) > stats.shape[1]:  # grown geometrically: a copy per batch would be batches × vocabulary
            grown = np.zeros((2, max(len(words), 2 * stats.shape[1])), dtype=np.int64)
            grown[:, :stats.shape[1]] = stats
            stats = grown
        for row, key in enumerate(("df", "after")):
            np.add.at(stats[row], mapping, np.frombuffer(part[key], dtype=np.int32))
        for j, counts in part["regions"].items():
            regions[int(mapping[j])].update(counts)
        dropped |= part["dropped"]
        for found, more in zip(probed, part["probed"], strict=True):
            found.extend(len(p.doc) + k for k in more)
        p.doc.extend(part["doc"])
        p.start.extend(part["start"])
        p.end.extend(part["end"])
        offset = p.indptr[-1]
        p.indptr.extend(offset + k for k in part["indptr"][1:])
        local = np.frombuffer(part["indices"], dtype=np.int32)
        p.indices.extend(array("i", mapping[local].astype(np.int32).tobytes()) if len(local) else ())
        done += part["speeches"]
        if progress:
            progress(done, len(ids), "passages")
    p.dropped = len(dropped)
    return p, words, stats[:, :len(words)], regions, probed


def _region(doc: Any) -> str | None:
    return doc.region if doc.region not in ("全国", "中华人民共和国") else None


def _read_batch(items: list[tuple[int, str, str, str | None]], places: set[str], needles: list[str],
                user_lexicon: str | None, dictionary: str | None) -> dict[str, Any]:
    """Worker entry point: the passages of a batch of (speech number, text, serialized tokens,
    region) as rows of the batch's own word ids, with each word's document frequency and
    regions, the words left out, and the passages containing each probe."""
    is_term = worker_segmenter(user_lexicon, dictionary).is_term
    vocab: dict[str, int] = {}
    words: list[str] = []
    dropped: set[str] = set()
    df = array("i")
    after = array("i")    # occurrences of each word that follow a number
    regions: dict[int, Counter[str]] = defaultdict(Counter)
    p = _Passages()
    probed: list[list[int]] = [[] for _ in needles]
    for n, text, tokens, region in items:
        spans = split_passages(text)
        if not spans:
            continue
        rows: list[list[int]] = [[] for _ in spans]
        match = matching_form(text)
        for t, needle in enumerate(needles):
            if needle in match:
                probed[t].extend(len(p.doc) + k for k, (a, b) in enumerate(spans) if needle in match[a:b])
        for k, w, after_number in _placed(deserialize(tokens), match, spans, is_term):
            j = vocab.get(w)
            if j is None:
                if w in dropped:
                    continue
                if _static_drop(w, places):
                    dropped.add(w)
                    continue
                j = vocab[w] = len(words)
                words.append(w)
                df.append(0)
                after.append(0)
            rows[k].append(j)
            after[j] += after_number
        for j in {j for row in rows for j in row}:
            df[j] += 1
            if region:
                regions[j][region] += 1
        for (a, b), row in zip(spans, rows, strict=True):
            p.doc.append(n)
            p.start.append(a)
            p.end.append(b)
            p.indices.extend(row)
            p.indptr.append(len(p.indices))
    return {"speeches": len(items), "words": words, "df": df.tobytes(), "after": after.tobytes(),
            "regions": dict(regions),
            "dropped": dropped, "probed": probed, "doc": p.doc, "start": p.start, "end": p.end,
            "indptr": p.indptr, "indices": p.indices.tobytes()}


def _theme_columns(words: list[str], stats: np.ndarray, seen: np.ndarray, regions: dict[int, Counter[str]],
                   n_docs: int, region_docs: Counter[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Which words are features: not in almost every speech, not in too few, not a unit, not
    regional. A word is a unit (万公顷, 万千瓦, 亿吨公里) when most of its occurrences follow a
    number. A word is regional when most of its speeches come from one region, several times
    more than that region's share of all speeches (a corpus of one region has no regional words)."""
    df, after = stats   # `seen`: each word's occurrences
    regional_docs = sum(region_docs.values())
    keep = np.ones(len(words), dtype=bool)
    why: Counter[str] = Counter()
    min_df = 3 if n_docs >= 30 else 1
    for j in range(len(words)):
        if df[j] > COMMON_DF * n_docs and n_docs >= 20:
            keep[j] = False
            why["in most speeches"] += 1
        elif df[j] < min_df:
            keep[j] = False
            why["in fewer than 3 speeches"] += 1
        elif after[j] > UNIT_SHARE * seen[j]:
            keep[j] = False
            why["mostly after a number (units)"] += 1
        elif regional_docs >= 50 and df[j] >= REGIONAL_MIN_DF and regions.get(j):
            region, top = regions[j].most_common(1)[0]
            share = top / sum(regions[j].values())
            if share >= REGIONAL_SHARE and share >= REGIONAL_LIFT * region_docs[region] / regional_docs:
                keep[j] = False
                why["mostly from one region"] += 1
    return keep, dict(why)


@dataclass
class PassageFeatures:
    """The passages of a selection as the clustering sees them: their LSA vectors (unit length),
    TF-IDF counts and vocabulary, and where each passage is (speech number, start, length)."""

    docs: list[Any]
    counts: Any  # passages × theme words (scipy CSR)
    vocab: np.ndarray
    x: np.ndarray  # passages × LSA components, each row of unit length
    pdoc: np.ndarray
    pstart: np.ndarray
    plen: np.ndarray
    probes: dict[str, np.ndarray]  # term -> the passages (rows of x) that contain it
    excluded: dict[str, int]


def passage_features(corpus: Corpus, filters: list[Filter] = (), probes: list[str] = (),
                     progress: Progress | None = None, seed: int = 0) -> PassageFeatures:
    """Read, cut and describe the passages of the selected speeches (on the worker pool, or Dask,
    when there are many): theme words only (places, common words, numbers and self-references
    left out), TF-IDF, then LSA."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    from .clusters import lsa

    docs = corpus.docs(list(filters))
    if len(docs) < 2:
        raise SpeechkitError("fewer than two speeches in the selection; widen the filter")
    places = gazetteer(corpus.regions())
    settings = corpus.settings
    # reading passages is most of the time: batches of speeches go to the workers (the local
    # pool, or Dask with --engine dask), and the result is the same as reading them here
    parallel = settings.uses_dask or (settings.worker_count > 1 and len(docs) >= 2 * READ_BATCH)
    with executor(settings) if parallel else contextlib.nullcontext() as pool:
        p, words, stats, regions, probed = _read(corpus, docs, places, progress, list(probes), pool)
    region_docs = Counter(d.region for d in docs if d.region and d.region not in ("全国", "中华人民共和国"))
    indices = np.frombuffer(p.indices, dtype=np.int32)
    keep, excluded = _theme_columns(words, stats, np.bincount(indices, minlength=len(words)), regions, len(docs),
                                    region_docs)
    excluded["places, numbers, stopwords, self-references"] = p.dropped
    counts = sparse.csr_matrix(
        (np.ones(len(indices), dtype=np.float32), indices,
         np.frombuffer(p.indptr, dtype=np.int64)), shape=(len(p.doc), len(words)))
    counts.sum_duplicates()
    counts = counts[:, np.where(keep)[0]]
    rows = np.where(np.diff(counts.indptr) >= MIN_FEATURES)[0]
    if len(rows) < 10:
        raise SpeechkitError("too few passages with enough words to find themes; widen the selection")
    counts = counts[rows]
    position = np.full(len(p.doc), -1)
    position[rows] = np.arange(len(rows))
    placed = {}
    for term, found in zip(probes, probed, strict=True):
        at = position[np.frombuffer(found, dtype=np.int32)] if len(found) else np.array([], dtype=int)
        placed[term] = at[at >= 0]
    return PassageFeatures(
        docs, counts, np.array(words, dtype=object)[keep],
        lsa(TfidfTransformer(sublinear_tf=True).fit_transform(counts), seed),
        np.frombuffer(p.doc, dtype=np.int32)[rows], np.frombuffer(p.start, dtype=np.int32)[rows],
        (np.frombuffer(p.end, dtype=np.int32) - np.frombuffer(p.start, dtype=np.int32))[rows], placed, excluded)


def themes(corpus: Corpus, *, k: int | str = 20, filters: list[Filter] = (), name: str = "themes",
           seed: int = 0, k_range: tuple[int, int] = (8, 30), selection: str = "", save: bool = True,
           probes: list[str] = (), seed_themes: dict[str, list[str]] | None = None,
           progress: Progress | None = None) -> ThemeResult:
    """Themes of the passages of the selected speeches: `k` found ones (or `auto`), plus the
    `seed_themes` a researcher names ({name: words}: the passages that contain the words pull a
    theme of their own, which stays where they put it), and an "other" bucket for what holds
    in no theme. The themes are a deterministic function of the passages (a consensus of
    k-means starts), measured on resamples of the passages drawn alike on every run: a theme
    that does not hold (held < HOLD) is not labelled, its passages go to "other". `seed` only
    draws the samples that `-k auto` and the silhouette are computed on.
    `probes`: terms whose passages are followed (which themes hold them)."""
    from sklearn.metrics import silhouette_score

    seed_themes = {n: [w for w in ws if w.strip()] for n, ws in (seed_themes or {}).items()}
    seed_words = sorted({w for ws in seed_themes.values() for w in ws})
    f = passage_features(corpus, filters, list(dict.fromkeys([*probes, *seed_words])), progress)
    docs, x, pdoc, plen = f.docs, f.x, f.pdoc, f.plen
    guided = _guided_centers(f, seed_themes)
    k_scores: dict[int, dict[str, float]] = {}
    k_note = ""
    if k == "auto":
        k, k_scores, k_note = _choose_k(x, seed, k_range, progress)
    else:
        k = int(k)
        if not 2 <= k < len(x):
            raise SpeechkitError(f"-k must be between 2 and {len(x) - 1} for this selection")
    if progress:
        progress(0, 1, f"themes: a consensus of {STARTS} k-means starts, k={k}")
    centers, raw = consensus_centers(x, k, guided)
    total = len(centers)
    if progress:
        progress(0, 1, f"themes: {RESAMPLES} resamples to measure what holds")
    # the resamples are drawn alike on every run (not by `seed`): which passages and themes hold
    # is part of the result, and the result must not depend on a seed
    agreement, held, agree = resample_stability(x, raw, total, 0, guided)
    # a found theme that does not hold on resamples is no theme: its passages, and any passage
    # the resamples place elsewhere, go to "other"; a seed theme is the researcher's and stays
    dissolved = [c for c in range(k) if held[c] < HOLD]
    labels = raw.copy()
    labels[np.isin(raw, dissolved) | ((agree < AGREE) & (raw < k))] = OTHER
    kept = [c for c in range(total) if c not in dissolved]
    number = {c: n for n, c in enumerate(kept)}
    labels = np.array([number.get(int(c), OTHER) for c in labels])
    placed = labels != OTHER
    sample = np.random.default_rng(seed).choice(np.where(placed)[0], min(int(placed.sum()), 5000), replace=False)
    sil = float(silhouette_score(x[sample], labels[sample])) if len(set(labels[sample])) > 1 else None

    n_themes = len(kept)
    top_words = label_words(f.counts[placed], labels[placed], n_themes, f.vocab) if n_themes else []
    weights = np.bincount(labels[placed], weights=plen[placed], minlength=n_themes)
    texts = _representative_texts(corpus, docs, pdoc, f.pstart, plen, x, labels, centers[kept])
    names = list(seed_themes)
    out_themes = []
    for n, c in enumerate(kept):
        guided_name = names[c - k] if c >= k else None
        out_themes.append(Theme(n, int((labels == n).sum()), round(float(weights[n] / plen.sum()), 4), top_words[n],
                                texts[n], held[c], guided_name, seed_themes.get(guided_name, [])))
    raw_words = label_words(f.counts, raw, total, f.vocab) if dissolved else []
    other = {"passages": int((~placed).sum()), "share": round(float(plen[~placed].sum() / plen.sum()), 4),
             "dissolved": [{"held": held[c], "labels": raw_words[c]} for c in dissolved]}
    shares = _shares(docs, pdoc, plen, labels, n_themes)
    probe_rows = {}
    for term in probes:
        by_topic = Counter(int(labels[i]) for i in f.probes[term])
        placed_n = sum(v for t, v in by_topic.items() if t != OTHER)
        top = [(t, v) for t, v in by_topic.most_common() if t != OTHER][:1]
        probe_rows[term] = {"passages": len(f.probes[term]), "other": by_topic.get(OTHER, 0),
                            "by_topic": {("other" if t == OTHER else t): v for t, v in by_topic.most_common()},
                            "top_topic": top[0][0] if top else None,
                            "top_share": round(top[0][1] / len(f.probes[term]), 4) if top else None,
                            "top_share_of_placed": round(top[0][1] / placed_n, 4) if top else None}
    # each speech's main theme: its largest share among the themes (not other)
    main = {i: max(themed, key=themed.get) for i, row in shares.items()
            if (themed := {c: v for c, v in row.items() if c != "other"})}
    method = (f"consensus of {STARTS} k-means starts (average linkage of their centers, then spherical k-means "
              f"over every passage); held on {RESAMPLES} resamples of {RESAMPLE_SHARE:.0%} of the passages; "
              f"themes held < {HOLD} and passages placed alike by < {AGREE:.0%} of the resamples go to other")
    result = ThemeResult(name, k, seed, len(docs), len(x), len(f.vocab), round(sil, 4) if sil else None,
                         k_scores, k_note, out_themes,
                         {"year": _share_by(docs, pdoc, plen, labels, n_themes, "year"),
                          "level": _share_by(docs, pdoc, plen, labels, n_themes, "level")},
                         shares, f.excluded, corpus.provenance(), selection, probe_rows, agreement, other,
                         chance_corrected(main, docs, seed), method)
    if save:
        save_themes(result, corpus.settings.index_dir / "topics" / check_name(name))
    return result


def _guided_centers(f: PassageFeatures, seed_themes: dict[str, list[str]]) -> np.ndarray | None:
    """Each seed theme's center: the mean direction of the passages that contain its words."""
    if not seed_themes:
        return None
    centers = []
    for theme, words in seed_themes.items():
        rows = np.unique(np.concatenate([f.probes[w] for w in words])) if words else np.array([], dtype=int)
        if not len(rows):
            raise SpeechkitError(f"no passage contains any word of the seed theme {theme!r} "
                                 f"({'、'.join(words)}); check the words with `speechkit kwic`")
        c = f.x[rows].mean(axis=0)
        centers.append(c / np.linalg.norm(c))
    return np.vstack(centers)


# --- the partition: a consensus of k-means starts, tested on resamples ----------------------------

STARTS = 10             # k-means starts the consensus is drawn from
START_SAMPLE = 30_000   # passages each start sees
RESAMPLES = 4           # resamples of the passages that measure each theme's stability
RESAMPLE_SHARE = 0.8
HOLD = 0.6              # a theme whose passages hold less than this on resamples dissolves into "other"
AGREE = 0.5             # a passage placed alike by fewer than this share of resamples goes to "other"
OTHER = -1


def spherical_kmeans(x: np.ndarray, centers: np.ndarray, fixed: int = 0, iterations: int = 50
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's iterations on unit vectors by cosine from `centers`; the last `fixed` centers
    (seed themes) never move. (centers, labels); deterministic.

    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
    >>> spherical_kmeans(x, np.array([[1.0, 0.0], [0.6, 0.8]]))[1].tolist()
    [0, 0, 1, 1]
    """
    from scipy import sparse

    centers = centers.astype(np.float64, copy=True)
    free = len(centers) - fixed
    labels = np.full(len(x), -1)
    for _ in range(iterations):
        new = np.asarray((x @ centers.T).argmax(axis=1))
        if np.array_equal(new, labels):
            break
        labels = new
        member = sparse.csr_matrix((np.ones(len(x)), (labels, np.arange(len(x)))), shape=(len(centers), len(x)))
        sums = np.asarray(member @ x)[:free]
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        keep = norms[:, 0] > 0  # a center that lost every passage stays where it was
        centers[:free][keep] = sums[keep] / norms[keep]
    return centers, labels


def consensus_centers(x: np.ndarray, k: int, guided: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Themes that do not depend on one k-means start: STARTS runs of k-means (fixed starts, on
    fixed samples) give k centers each; the k·STARTS centers are grouped into k by average
    linkage on cosine; each group's mean starts a spherical k-means over every passage, with
    the `guided` centers (seed themes) held in place. Deterministic: the same passages always
    give the same themes. (centers, labels)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    found = []
    for start in range(STARTS):
        rows = rng.choice(len(x), min(len(x), START_SAMPLE), replace=False)
        c = KMeans(n_clusters=k, random_state=start, n_init=1).fit(x[rows]).cluster_centers_
        found.append(c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12))
    every = np.vstack(found)
    group = fcluster(linkage(every, method="average", metric="cosine"), k, criterion="maxclust") - 1
    centers = np.vstack([every[group == g].mean(axis=0) for g in range(group.max() + 1)])
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    fixed = 0 if guided is None else len(guided)
    if fixed:
        centers = np.vstack([centers, guided])
    return spherical_kmeans(x, centers, fixed)


def resample_stability(x: np.ndarray, labels: np.ndarray, k: int, seed: int, guided: np.ndarray | None = None
                       ) -> tuple[float, list[float], np.ndarray]:
    """The same method on RESAMPLES random 80% of the passages (drawn with `seed`): adjusted Rand
    of each resample's partition with `labels` (mean), each theme's held (the mean Jaccard of its
    passages with the closest theme of each resample: Hennig's cluster-wise stability), and each
    passage's share of resamples that put it in the theme it has."""

    rng = np.random.default_rng(seed)
    aris, held, agree = [], np.zeros(k), np.zeros(len(x))
    for _ in range(RESAMPLES):
        rows = np.sort(rng.choice(len(x), int(len(x) * RESAMPLE_SHARE), replace=False))
        centers, _ = consensus_centers(x[rows], k - (0 if guided is None else len(guided)), guided)
        theirs = (x @ centers.T).argmax(axis=1)  # every passage placed by the resample's themes
        ari, jaccard, best = match_partitions(labels[rows], theirs[rows], k, len(centers))
        aris.append(ari)
        held += jaccard
        agree += best[theirs] == labels
    return round(float(np.mean(aris)), 4), [round(float(h / RESAMPLES), 4) for h in held], agree / RESAMPLES


def match_partitions(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Adjusted Rand of two partitions of the same passages, each theme of `a`'s best Jaccard
    with a theme of `b` (Hennig's cluster-wise stability: under 0.5 a theme dissolved, over 0.75
    it held), and for each theme of `b` the theme of `a` it overlaps most.

    >>> ari, held, best = match_partitions(np.array([0, 0, 0, 0, 1, 1, 2, 2]), np.array([0, 0, 1, 1, 2, 2, 3, 3]), 3, 4)
    >>> held.tolist(), best.tolist()
    ([0.5, 1.0, 1.0], [0, 0, 1, 2])
    """
    from sklearn.metrics import adjusted_rand_score

    both = np.zeros((ka, kb))
    np.add.at(both, (a, b), 1)
    jaccard = both / np.maximum(both.sum(axis=1)[:, None] + both.sum(axis=0)[None, :] - both, 1)
    return float(adjusted_rand_score(a, b)), jaccard.max(axis=1), jaccard.argmax(axis=0)


def chance_corrected(main: dict[str, int], docs: list[Any], seed: int, shuffles: int = 5) -> dict[str, Any]:
    """Adjusted mutual information of each speech's main theme with its region, level and
    5-year period, each next to the same measure with that attribute shuffled across the
    speeches (the level chance gives: AMI is near 0 there by construction)."""
    from sklearn.metrics import adjusted_mutual_info_score

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    attributes = {"region": lambda d: d.region, "level": lambda d: d.level,
                  "period": lambda d: f"{d.year - d.year % 5}–{d.year - d.year % 5 + 4}" if d.year else None}
    for name, read in attributes.items():
        pairs = [(main[d.id], read(d)) for d in docs if d.id in main and read(d)]
        if len({v for _, v in pairs}) < 2:
            continue
        themes_, values = [t for t, _ in pairs], [v for _, v in pairs]
        shuffled = [adjusted_mutual_info_score(themes_, rng.permutation(values)) for _ in range(shuffles)]
        out[name] = {"ami": round(float(adjusted_mutual_info_score(themes_, values)), 4),
                     "shuffled": round(float(np.mean(shuffled)), 4), "speeches": len(pairs)}
    return out


def _choose_k(x: np.ndarray, seed: int, k_range: tuple[int, int], progress: Progress | None
              ) -> tuple[int, dict[int, dict[str, float]], str]:
    """Silhouette and stability (agreement of two seeds, adjusted Rand) for each k on a sample;
    the best silhouette among the stable k. Says so when no k is clearly better, or when the
    best is at the edge of the range."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    rng = np.random.default_rng(seed)
    xs = x[rng.choice(len(x), min(len(x), SAMPLE_FOR_K), replace=False)]
    lo, hi = k_range
    hi = min(hi, len(xs) - 1)
    lo = min(max(2, lo), hi)
    scores: dict[int, dict[str, float]] = {}
    for n in range(lo, hi + 1):
        if progress:
            progress(n - lo, hi - lo + 1, f"choosing k: {n}")
        a = KMeans(n_clusters=n, random_state=seed, n_init=1).fit(xs).labels_
        b = KMeans(n_clusters=n, random_state=seed + 1, n_init=1).fit(xs).labels_
        sub = slice(0, min(len(xs), 5000))
        scores[n] = {"silhouette": round(float(silhouette_score(xs[sub], a[sub])), 4),
                     "stability": round(float(adjusted_rand_score(a, b)), 4)}
    stable = [n for n in scores if scores[n]["stability"] >= 0.6] or list(scores)
    best = max(stable, key=lambda n: scores[n]["silhouette"])
    return best, scores, k_note({n: scores[n]["silhouette"] for n in stable}, best, (lo, hi))


def _representative_texts(corpus: Corpus, docs: list[Any], pdoc, pstart, plen, x, labels, centers
                          ) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    picks: list[list[int]] = []
    for c in range(len(centers)):
        members = np.where(labels == c)[0]
        dist = np.linalg.norm(x[members] - centers[c], axis=1)
        chosen: list[int] = []
        seen_docs: set[int] = set()
        for i in members[np.argsort(dist)]:  # three passages from three different speeches
            if int(pdoc[i]) not in seen_docs:
                chosen.append(int(i))
                seen_docs.add(int(pdoc[i]))
            if len(chosen) == 3:
                break
        picks.append(chosen)
    need = sorted({docs[pdoc[i]].id for chosen in picks for i in chosen})
    texts = dict(corpus.texts(need))
    for chosen in picks:
        reps = []
        for i in chosen:
            d = docs[pdoc[i]]
            text = texts[d.id][pstart[i]:pstart[i] + plen[i]].replace("\n", " ")
            reps.append({"id": d.id, "title": d.title, "region": d.region, "year": d.year,
                         "text": text[:160] + ("…" if len(text) > 160 else "")})
        out.append(reps)
    return out


def _shares(docs: list[Any], pdoc, plen, labels, k: int) -> dict[str, dict[int | str, float]]:
    """Each speech's theme shares, by characters of its passages ("other": those no theme holds)."""
    acc = np.zeros((len(docs), k + 1))
    np.add.at(acc, (pdoc, np.where(labels == OTHER, k, labels)), plen)
    out = {}
    for n, row in enumerate(acc):
        s = row.sum()
        if s:
            out[docs[n].id] = {("other" if c == k else int(c)): round(float(v / s), 4) for c, v in enumerate(row) if v}
    return out


def _share_by(docs: list[Any], pdoc, plen, labels, k: int, attr: str) -> dict[str, dict[str, float]]:
    """Theme shares (and "other") by year or level, of the passages' characters."""
    values = [getattr(d, attr) for d in docs]
    acc: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(k + 1))
    for i in range(len(labels)):
        v = values[pdoc[i]]
        if v is not None:
            acc[str(v)][k if labels[i] == OTHER else labels[i]] += plen[i]
    return {v: {("other" if c == k else str(c)): round(float(row[c] / row.sum()), 4) for c in range(k + 1)}
            for v, row in sorted(acc.items())}


def share_rows(data: dict[str, Any], by: str | None = None) -> list[list[Any]]:
    """Saved themes' shares as CSV rows, a header first: one row per theme and year (or level;
    both when `by` is None), with its labels, the model's name and its provenance. What
    `topics --csv` and the workbench's download write.

    >>> share_rows({"name": "t", "themes": [{"topic": 0, "labels": ["改革", "开放"]}],
    ...             "share_by": {"year": {"2020": {"0": 1.0}}, "level": {}}}, "year")[1]
    ['year', '2020', '0', '改革 开放', 1.0, 't', None, None]
    """
    labels = {str(t["topic"]): (f"[{t['name']}] " if t.get("name") else "") + " ".join(t["labels"][:4])
              for t in data["themes"]}
    labels["other"] = "(other: in no theme that holds)"
    rows: list[list[Any]] = [["by", "value", "theme", "labels", "share", "themes", "corpus", "segmenter"]]
    for name in [by] if by else list(data["share_by"]):
        for value, shares in data["share_by"][name].items():
            rows += [[name, value, c, labels[c], share, data.get("name"), data.get("corpus"), data.get("segmenter")]
                     for c, share in shares.items()]
    return rows


def save_themes(result: ThemeResult, folder: Path) -> None:
    """themes.json, speech_shares.csv and share_by_year.csv, written into a new folder and
    renamed into place (a crash leaves the previous result whole)."""
    from .faults import crash_point

    with new_folder(folder) as tmp:
        write_json(tmp / "themes.json", result.to_json())
        with open(tmp / "speech_shares.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "topic", "share"])
            for doc_id, shares in sorted(result.speech_shares.items()):
                order = sorted(shares, key=lambda c: (c == "other", str(c).zfill(4)))  # themes, then other
                w.writerows((doc_id, c, shares[c]) for c in order)
        with open(tmp / "share_by_year.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["year", "topic", "labels", "share"])
            for year, row in result.share_by["year"].items():
                for c, s in row.items():
                    w.writerow([year, c, "(other)" if c == "other" else " ".join(result.themes[int(c)].labels[:4]), s])
        crash_point("cluster:after-assignments")
        write_json(tmp / "manifest.json", {"name": result.name, "kind": "themes", "k": result.k,
                                           "seed": result.seed, "selection": result.selection,
                                           "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **result.provenance})


def load_themes(settings, name: str) -> dict[str, Any]:
    path = settings.index_dir / "topics" / check_name(name) / "themes.json"
    if not path.exists():
        raise NotFoundError(f"no themes named {name!r}; run `speechkit topics --name {name}` first")
    with contextlib.suppress(ValueError):
        return json.loads(path.read_text("utf-8"))
    raise NotFoundError(f"{path} cannot be read; run `speechkit topics --name {name}` again")
