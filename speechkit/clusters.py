"""`speechkit cluster` and `speechkit similar`: whole speeches clustered, and the speeches
nearest one. TF-IDF over the cached tokens (lexicon terms whole),
LSA (TruncatedSVD + normalisation), then seeded k-means, as in scikit-learn's document
clustering example. Labels are c-TF-IDF terms; quality is reported, not assumed."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import new_folder, write_json
from .corpus import Corpus, digest, is_content_word
from .csvsafe import record_rows
from .documents import Progress
from .errors import NotFoundError, SpeechkitError
from .faults import crash_point
from .query import Filter

log = logging.getLogger(__name__)


def _identity(tokens: list[str]) -> list[str]:
    return tokens


def _content_streams(corpus: Corpus, ids: list[str], progress: Progress | None = None) -> Iterator[list[str]]:
    """Content words of each document, a chunk at a time, so the whole corpus's tokens are
    never held as Python strings at once (that alone was several GB for 35,000 speeches)."""
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        toks = corpus.tokens(chunk)
        for i in chunk:
            yield [w for w in toks[i] if is_content_word(w)]
        del toks
        if progress:
            progress(min(start + 1000, len(ids)), len(ids), "reading words")


TFIDF_REV = 1  # bump when the features change: cached count matrices are then recomputed
TFIDF_CACHES = 4  # count matrices kept under indexes/tfidf/, newest first


def tfidf(corpus: Corpus, filters: list[Filter] = (), *, include_duplicates: bool = False, min_df: int = 2,
          progress: Progress | None = None, save: bool = True):
    """(documents, vectorizer, TF-IDF matrix, raw count matrix) with our segmenter's words as
    the features, so lexicon terms stay whole and one-character words (党, 税) count.

    The count matrix and vocabulary are cached under `indexes/tfidf/`, keyed by the store
    digest, the segmenter version and the selection, so a second `similar` or `cluster` on
    the same corpus skips re-reading every token. `save=False` reads a cache but never writes
    one (the read-only workbench)."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    docs = corpus.docs(list(filters), include_duplicates=include_duplicates)
    if len(docs) < 2:
        raise SpeechkitError("fewer than two speeches in the selection; widen the filter")
    ids = [d.id for d in docs]
    min_df = min(min_df, len(docs))
    key = digest(TFIDF_REV, corpus.provenance(), min_df, ids)
    root = corpus.settings.index_dir / "tfidf"
    cache = root / key
    if (cache / "vocabulary.json").exists():
        vocabulary = json.loads((cache / "vocabulary.json").read_text("utf-8"))
        vec = CountVectorizer(analyzer=_identity, vocabulary={w: n for n, w in enumerate(vocabulary)},
                              dtype=np.int32)
        counts = sparse.load_npz(cache / "counts.npz")
        if save:
            os.utime(cache)  # recently used: kept when older caches are pruned
    else:
        vec = CountVectorizer(analyzer=_identity, min_df=min_df, max_df=0.95, dtype=np.int32)
        counts = vec.fit_transform(_content_streams(corpus, ids, progress))
        if save:
            _save_counts(root, key, counts, list(vec.get_feature_names_out()))
    # kept on the vectorizer so `similar` can weight a document outside the matrix the same way
    vec.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
    matrix = vec.tfidf_.transform(counts)
    return docs, vec, matrix, counts


def _save_counts(root: Path, key: str, counts: Any, vocabulary: list[str]) -> None:
    """Write a cache entry atomically (a folder renamed into place) and keep the newest few.
    A cache that cannot be written is skipped: it only saves time."""
    from scipy import sparse

    try:
        root.mkdir(parents=True, exist_ok=True)
        with new_folder(root / key) as tmp:
            sparse.save_npz(tmp / "counts.npz", counts, compressed=False)  # zlib took 4.5 s of 40 on 35k
            (tmp / "vocabulary.json").write_text(json.dumps(vocabulary, ensure_ascii=False), "utf-8")
            crash_point("cache:after-write")
        entries = sorted((p for p in root.iterdir() if not p.name.startswith(".")),
                         key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[TFIDF_CACHES:]:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        log.warning("TF-IDF cache not written (%s); the next call recomputes it", exc)


@dataclass
class Cluster:
    cluster: int
    size: int
    labels: list[str]
    representatives: list[dict[str, Any]]
    share_by_year: dict[str, float]


@dataclass
class ClusterResult:
    name: str
    k: int
    seed: int
    documents: int
    silhouette: float | None
    k_scores: dict[int, float]
    clusters: list[Cluster]
    assignments: dict[str, int] = field(default_factory=dict)
    provenance: dict[str, str] = field(default_factory=dict)
    selection: str = ""
    k_note: str = ""  # what -k auto's choice is worth (see k_note)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("assignments")
        out.update(self.provenance)
        return out


def lsa(matrix, seed: int, components: int = 100):
    from sklearn.decomposition import TruncatedSVD
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    n = max(2, min(components, matrix.shape[1] - 1, matrix.shape[0] - 1))
    lsa = make_pipeline(TruncatedSVD(n_components=n, random_state=seed), Normalizer(copy=False))
    return lsa.fit_transform(matrix)


# under this silhouette the groups k-means draws overlap more than they separate
WEAK_SILHOUETTE = 0.1


def k_note(silhouettes: dict[int, float], best: int, k_range: tuple[int, int]) -> str:
    """What a k chosen by silhouette is worth, said plainly: no clear winner, a best k at the edge
    of the range tried, a weak structure.

    >>> for part in k_note({4: 0.05, 5: 0.07, 6: 0.08}, 6, (4, 6)).split("; "): print(part)
    the best k is at the edge of the range 4..6: try a wider --k-range
    silhouette 0.08 is low (under 0.1): the groups overlap more than they separate
    >>> k_note({4: 0.21, 5: 0.3, 6: 0.2}, 5, (4, 6))
    ''
    """
    ordered = sorted(silhouettes.values(), reverse=True)
    notes = []
    if len(ordered) > 1 and ordered[0] - ordered[1] < 0.005:
        notes.append("no k is clearly better than the next (silhouettes within 0.005)")
    if best in k_range and k_range[0] != k_range[1]:
        notes.append(f"the best k is at the edge of the range {k_range[0]}..{k_range[1]}: try a wider --k-range")
    if silhouettes[best] < WEAK_SILHOUETTE:
        notes.append(f"silhouette {silhouettes[best]:.2f} is low (under {WEAK_SILHOUETTE}): the groups overlap "
                     "more than they separate")
    return "; ".join(notes)


def cluster(corpus: Corpus, *, k: int | str = "auto", filters: list[Filter] = (), name: str = "default",
            seed: int = 0, k_range: tuple[int, int] = (4, 20), selection: str = "",
            include_duplicates: bool = False, save: bool = True, progress: Progress | None = None) -> ClusterResult:
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    docs, vec, matrix, counts = tfidf(corpus, filters, include_duplicates=include_duplicates, progress=progress)
    x = lsa(matrix, seed)
    sample = min(len(docs), 3000)
    k_scores: dict[int, float] = {}
    note = ""

    def fit(n: int) -> KMeans:
        return KMeans(n_clusters=n, random_state=seed, n_init=corpus.settings.cluster_n_init).fit(x)

    if k == "auto":
        lo, hi = k_range
        hi = min(hi, len(docs) - 1)  # k-means needs fewer clusters than speeches
        lo = min(max(2, lo), hi)
        if hi < 2:
            raise SpeechkitError(f"only {len(docs)} speeches in the selection: clustering needs at least 3")
        best = None
        for n in range(lo, hi + 1):
            if progress:
                progress(n - lo, hi - lo + 1, f"k-means, k={n}")
            model = fit(n)
            score = float(silhouette_score(x, model.labels_, sample_size=sample, random_state=seed))
            k_scores[n] = round(score, 4)
            if best is None or score > best[0]:
                best = (score, n, model)
        _, k, model = best
        note = k_note(k_scores, k, (lo, hi))
    else:
        k = int(k)
        if not 2 <= k < len(docs):
            raise SpeechkitError(f"-k must be between 2 and {len(docs) - 1} for this selection")
        model = fit(k)
    labels = model.labels_
    sil = float(silhouette_score(x, labels, sample_size=sample, random_state=seed)) if k > 1 else None
    vocab = vec.get_feature_names_out()
    top_words = label_words(counts, labels, k, vocab, usable=np.array([len(w) > 1 for w in vocab]))
    by_year: dict[int, Counter[int]] = defaultdict(Counter)
    for d, lab in zip(docs, labels, strict=True):
        if d.year is not None:
            by_year[d.year][lab] += 1
    clusters = []
    for c in range(k):
        members = np.where(labels == c)[0]
        dist = np.linalg.norm(x[members] - model.cluster_centers_[c], axis=1)
        reps = [{"id": docs[i].id, "title": docs[i].title, "year": docs[i].year}
                for i in members[np.argsort(dist)[:3]]]
        shares = {str(y): round(cnt[c] / sum(cnt.values()), 4) for y, cnt in sorted(by_year.items())}
        clusters.append(Cluster(c, len(members), top_words[c], reps, shares))
    result = ClusterResult(name, k, seed, len(docs), round(sil, 4) if sil is not None else None, k_scores,
                           clusters, {d.id: int(lab) for d, lab in zip(docs, labels, strict=True)},
                           corpus.provenance(), selection, note)
    if save:
        save_clusters(result, corpus.settings.index_dir / "topics" / check_name(name))
    return result


def label_words(counts: Any, labels: np.ndarray, k: int, vocab: Any, n: int = 8,
                usable: np.ndarray | None = None) -> list[list[str]]:
    """The `n` c-TF-IDF terms of each of `k` topics, from the word counts of its rows (`counts`:
    rows × words, `labels`: each row's topic), with the square root of the term frequency
    (BERTopic's reduce_frequent_words): in a corpus of short news items the words of every
    report (建设, 发展) are in too few speeches to be left out as common, and with plain
    frequencies 建设 was among the labels of 8 of 20 themes on gov-reports + news. A word seen
    fewer than 3 times in the topic, or not `usable`, is never a label.

    >>> label_words(np.array([[50., 10, 0], [50, 0, 10]]), np.array([0, 1]), 2, ["建设", "港口", "教育"], n=1)
    [['港口'], ['教育']]
    """
    from scipy import sparse

    member = sparse.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    per_topic = sparse.csr_matrix(member @ counts, dtype=np.float64).toarray()
    total = per_topic.sum(axis=0)
    idf = np.log(1 + (total.sum() / len(per_topic)) / np.maximum(total, 1))
    out = []
    for row in per_topic:
        weight = np.sqrt(row / max(row.sum(), 1.0)) * idf
        weight[(row < 3) if usable is None else (row < 3) | ~usable] = -1
        out.append([str(vocab[j]) for j in np.argsort(-weight, kind="stable")[:n] if weight[j] > 0])
    return out


_NAME = re.compile(r"[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9_\-\u4e00-\u9fff]{0,63}")


def check_name(name: str) -> str:
    """A saved result's name is a plain name, never a path (it becomes indexes/topics/NAME).

    >>> check_name("reports-2024")
    'reports-2024'
    """
    if not _NAME.fullmatch(name):
        raise SpeechkitError(f"name {name!r}: use letters, digits, - and _ (no slashes or dots), e.g. reports")
    return name


def save_clusters(result: ClusterResult, folder: Path) -> None:
    """Write a clustering's three files into a new folder and rename it into place: after a
    crash the previous clustering is there whole, or the new one, never a mix of the two."""
    with new_folder(folder) as tmp:
        with open(tmp / "assignments.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["id", "cluster"])
            writer.writerows(sorted(result.assignments.items()))
        crash_point("cluster:after-assignments")
        write_json(tmp / "clusters.json", result.to_json())
        write_json(tmp / "manifest.json", {
            "name": result.name, "k": result.k, "seed": result.seed, "selection": result.selection,
            "documents": result.documents, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **result.provenance})


def load_clusters(settings, name: str) -> dict[str, Any]:
    check_name(name)
    path = settings.index_dir / "topics" / name / "clusters.json"
    if not path.exists():
        raise NotFoundError(f"no clustering named {name!r}; run `speechkit cluster --name {name}` first")
    return json.loads(path.read_text("utf-8"))


@dataclass
class SimilarResult:
    id: str
    title: str | None
    similar: list[dict[str, Any]]
    provenance: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, **self.provenance, "similar": self.similar}

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per similar speech, with the speech they are similar to."""
        return record_rows(self.similar, self.provenance, {"similar_to": self.id})


def similar(corpus: Corpus, doc_id: str, *, limit: int = 10, filters: list[Filter] = (),
            model: tuple[Any, ...] | None = None) -> SimilarResult:
    """Most similar canonical speeches (within `filters`) by cosine on TF-IDF, leaving out the
    speech's own near-duplicate group. `model`: what `tfidf(corpus, filters)` returned, when the
    caller keeps it for many speeches."""
    from sklearn.metrics.pairwise import linear_kernel

    target = corpus.store.get(doc_id)
    docs, vec, matrix, _ = model if model is not None else tfidf(corpus, filters)
    index = {d.id: n for n, d in enumerate(docs)}
    if target.id in index:
        row = matrix[index[target.id]]
    else:  # a non-canonical copy: describe it with the same vocabulary
        toks = corpus.tokens([target.id])[target.id]
        row = vec.tfidf_.transform(vec.transform([[w for w in toks if is_content_word(w)]]))
    sims = linear_kernel(row, matrix).ravel()
    out = []
    for n in np.argsort(-sims):
        d = docs[n]
        if d.id == target.id or (target.dup_group and d.dup_group == target.dup_group):
            continue
        out.append({"id": d.id, "title": d.title, "year": d.year, "level": d.level, "region": d.region,
                    "score": round(float(sims[n]), 4)})
        if len(out) == limit:
            break
    return SimilarResult(target.id, target.title, out, corpus.provenance())


def vocabulary(corpus: Corpus, *, top: int = 20, progress: Progress | None = None) -> dict[str, Any]:
    """Top content words overall and per year, for `speechkit stats`."""
    docs = corpus.docs()
    year_of = {d.id: d.year for d in docs}
    overall: Counter[str] = Counter()
    per_year: dict[int, Counter[str]] = defaultdict(Counter)
    for doc_id, words in zip(year_of, _content_streams(corpus, list(year_of), progress), strict=True):
        words = [w for w in words if len(w) > 1]
        overall.update(words)
        if year_of[doc_id] is not None:
            per_year[year_of[doc_id]].update(words)
    return {"overall": overall.most_common(top),
            "by_year": {str(y): c.most_common(min(top, 10)) for y, c in sorted(per_year.items())},
            **corpus.provenance()}
