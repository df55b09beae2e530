"""BM25F scores of every document that has any of a query's words, computed on whole posting
lists with numpy rather than by whoosh's matchers.

whoosh scores posting by posting in Python: at a million speeches 改革 has 440,000 postings,
and ranking them (whoosh's top k, or its `filter=` for a selection) took 0.6–1.5 s. Here each
posting block (128 postings, a compressed pickle) is decoded in C and all postings of a term are
scored in one numpy expression. The formula is whoosh's (`whoosh.scoring.bm25`), with its
statistics: idf and average field length from the searcher, each document's length from the
quantised length byte whoosh stores, B and K1 from the searcher's weighting. So the scores are
whoosh's (tests compare them on one- and several-segment indexes).

This reads whoosh-reloaded 2.7.5's W3 codec (block layout, length columns), pinned in setup.cfg;
postings of any other kind are read through the public matcher interface.
"""

from __future__ import annotations

from itertools import accumulate, repeat
from typing import Any

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import TermNotFound
from whoosh.scoring import BM25F
from whoosh.util.numeric import byte_to_length

# the length whoosh's scorer gets for each stored length byte
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


def postings(reader: Any, fieldname: str, text: str, deleted: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(document numbers, weights) of a term in one segment, deleted documents left out
    (`deleted`: the segment's deleted document numbers, when the caller has them already).

    >>> postings(_demo().reader(), "body", "改革")
    (array([0, 2]), array([2., 1.]))
    """
    try:
        m = reader.postings(fieldname, text)
    except TermNotFound:
        return np.zeros(0, np.int64), np.zeros(0)
    if isinstance(m, FilterMatcher):  # the segment has deletions: read the postings beneath
        m = m.child
        if deleted is None:
            deleted = deleted_docs(reader)
    ids: list[int] = []
    weights: list[float] = []
    if isinstance(m, W3LeafMatcher) and not m._byteids:
        while True:
            m._read_data()
            deltas, w, _ = m._data
            n = m._blocklength
            ids.extend(accumulate(deltas))  # a block's ids are stored as gaps from 0
            weights.extend(repeat(1.0, n) if w is None else repeat(w, n) if isinstance(w, float) else w)
            if m._lastblock:
                break
            m._goto(m._nextoffset)
    else:  # inlined postings (a term in one document) and any other matcher
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            m.next()
    out_ids, out_weights = np.array(ids, dtype=np.int64), np.array(weights, dtype=np.float64)
    if deleted is not None and len(deleted):
        keep = ~np.isin(out_ids, deleted)
        out_ids, out_weights = out_ids[keep], out_weights[keep]
    return out_ids, out_weights


def deleted_docs(reader: Any) -> np.ndarray:
    """A segment's deleted document numbers."""
    deleted = reader.deleted_docs_set
    return np.fromiter(deleted, np.int64, len(deleted))


def field_lengths(reader: Any, fieldname: str) -> np.ndarray:
    """Each document's length byte in `fieldname` (whoosh stores lengths quantised to one byte;
    `_LENGTH_OF_BYTE` gives the length its scorer uses): one byte a document in memory."""
    count = reader.doc_count_all()
    perdoc = reader._perdoc
    column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    codes = np.zeros(count, dtype=np.uint8)
    if column is not None:
        stored = min(column._count, count)  # documents after the last non-zero length store none
        codes[:stored] = np.frombuffer(column._dbfile.get(column._basepos, stored), dtype=np.uint8)
    return codes


class Scorer:
    """BM25F over a whoosh searcher, for queries that are an OR of (field, word) terms (what
    speechkit's ranking asks). Keeps each segment's length columns and deletions once read."""

    def __init__(self, searcher: Any) -> None:
        self.searcher = searcher
        weighting = searcher.weighting
        if not isinstance(weighting, BM25F):
            raise TypeError(f"the searcher weighs by {type(weighting).__name__}, not BM25F")
        self.weighting = weighting
        self.leaves = searcher.leaf_searchers()
        self._lengths: dict[tuple[int, str], np.ndarray] = {}
        self._deleted = [deleted_docs(sub.reader()) for sub, _ in self.leaves]

    def _leaf_lengths(self, leaf: int, fieldname: str) -> np.ndarray:
        key = (leaf, fieldname)
        if key not in self._lengths:
            self._lengths[key] = field_lengths(self.leaves[leaf][0].reader(), fieldname)
        return self._lengths[key]

    def scores(self, terms: list[tuple[str, str]]) -> np.ndarray:
        """Each document number's summed BM25F score over `terms` (duplicates count once, as
        whoosh's Or normalises them); 0 where no term occurs."""
        s = self.searcher
        out = np.zeros(s.doc_count_all(), dtype=np.float64)
        K1 = self.weighting.K1
        for fieldname, text in dict.fromkeys(terms):
            B = self.weighting._field_B.get(fieldname, self.weighting.B)
            idf = s.idf(fieldname, text)
            avgfl = s.avg_field_length(fieldname) or 1
            for leaf, (sub, offset) in enumerate(self.leaves):
                ids, tf = postings(sub.reader(), fieldname, text, self._deleted[leaf])
                if not len(ids):
                    continue
                fl = _LENGTH_OF_BYTE[self._leaf_lengths(leaf, fieldname)[ids]]
                # whoosh.scoring.bm25, operation for operation
                out[ids + offset] += idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
        return out


def _demo() -> Any:  # pragma: no cover - the doctest's index
    from whoosh.fields import ID, TEXT, Schema
    from whoosh.filedb.filestore import RamStorage

    ix = RamStorage().create_index(Schema(id=ID(stored=True), body=TEXT))
    with ix.writer() as w:
        for i, body in enumerate(["改革 改革", "开放", "改革"]):
            w.add_document(id=str(i), body=body)
    return ix.searcher(weighting=BM25F())
