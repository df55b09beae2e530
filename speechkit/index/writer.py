"""A whoosh segment writer that sorts postings in memory and writes several segments when
they outgrow a budget, and the ids of its documents saved beside them."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh.writing import SegmentWriter

from ..atomic import write_json
from .analysis import PRETOKENIZED, SpeechText, counted_tokens, freq_bytes
from .manifest import DOCNUM_IDS, docnum_ids_record
from .mapped import open_dir


class _FieldPostings:
    """One field's postings in columns, in the order they came (documents in docnum order):
    each posting's term number, docnum, weight and value. Sorted by term only when written."""

    def __init__(self) -> None:
        self.vocab: dict[bytes, int] = {}
        self.terms = array("q")
        self.docnums = array("q")
        self.weights = array("d")
        self.values: list[bytes | None] = []

    def in_term_order(self) -> tuple[list[bytes], Any, Any, Any, list[bytes | None]]:
        """Every posting sorted for writing: the terms in whoosh's order (bytes), where each
        term's postings begin in the sorted columns (one more bound at the end), and the docnums,
        weights and values in that order, each term's in docnum order (a stable sort keeps the
        order they came in)."""
        import numpy as np

        ordered = sorted(self.vocab)
        rank = np.empty(len(ordered), dtype=np.int64)
        rank[np.fromiter((self.vocab[t] for t in ordered), dtype=np.int64, count=len(ordered))] = \
            np.arange(len(ordered))
        keys = rank[np.frombuffer(self.terms, dtype=np.int64)]
        order = np.argsort(keys, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(keys, minlength=len(ordered)))])
        docnums = np.frombuffer(self.docnums, dtype=np.int64)[order]
        weights = np.frombuffer(self.weights, dtype=np.float64)[order]
        return ordered, bounds, docnums, weights, [self.values[i] for i in order.tolist()]


class _MemoryPool:
    """Postings in memory, in place of whoosh's PostingPool, one column store per field.

    whoosh sorts (field, term, docnum, weight, value) tuples by pickling runs of them to disk and
    merging the runs back: two thirds of its commit time on a large build. Here a document's
    counted words are appended in one go (`add_counts`) and sorted by term once, with numpy, when
    the segment is written; `add` takes whoosh's single postings (other fields, merged segments).
    """

    def __init__(self) -> None:
        self.postings = 0
        self.fields: dict[str, _FieldPostings] = {}
        self._values: dict[bytes | None, bytes | None] = {}

    def _field(self, fieldname: str) -> _FieldPostings:
        f = self.fields.get(fieldname)
        if f is None:
            f = self.fields[fieldname] = _FieldPostings()
        return f

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        fieldname, btext, docnum, weight, value = item
        f = self._field(fieldname)
        f.terms.append(f.vocab.setdefault(btext, len(f.vocab)))
        f.docnums.append(docnum)
        f.weights.append(weight)
        f.values.append(self._values.setdefault(value, value))  # interned: values repeat
        self.postings += 1

    def add_counts(self, fieldname: str, docnum: int, words: list[bytes], freqs: list[int],
                   weights: list[float]) -> None:
        """One document's postings of a field at once: each word, its weight, and its frequency
        (whose bytes are the value, as SpeechText.index gives them)."""
        f = self._field(fieldname)
        vocab = f.vocab
        f.terms.extend([vocab.setdefault(w, len(vocab)) for w in words])
        f.docnums.extend([docnum] * len(words))
        f.weights.extend(weights)
        f.values.extend([freq_bytes(n) for n in freqs])
        self.postings += len(words)

    def cleanup(self) -> None:
        self.fields.clear()


def _field_lengths(reader: Any, fieldname: str) -> Any:
    """Every document's length of a field, by document number (0 for none), read once: whoosh
    looks one up from disk for every posting."""
    import numpy as np

    read = reader.doc_field_length
    return np.array([read(d, fieldname) or 0 for d in range(reader.doc_count_all())], dtype=np.int64)


COMPRESS_FROM = 16  # postings in a block from which it is compressed (chosen a priori, not tuned)


def write_postings(fieldwriter: Any, schema: Any, reader: Any, pool: _MemoryPool) -> None:
    """What whoosh's FieldWriter.add_postings writes, a block at a time: each block of postings
    is put into whoosh3's postings writer whole (its ids, weights, values and the statistics
    add_posting would have kept, computed for every block at once), instead of one posting at a
    time through its asserts and appends. The postings, weights, lengths and block statistics
    are whoosh's own (tests/test_search.py compares them with whoosh's writer). `reader`: the
    segment's per-document reader, for the field lengths."""
    for name in sorted(pool.fields):
        if not pool.fields[name].vocab:
            continue
        fieldwriter.start_field(name, schema[name])
        writer = fieldwriter._postwriter
        level = writer._compression
        for term, blocks in _term_blocks(pool.fields[name], _field_lengths(reader, name), writer._blocklimit):
            fieldwriter.start_term(term)
            for n, block in enumerate(blocks):
                if n:
                    writer._write_block()  # add_posting writes a full block when the next posting comes
                (writer._ids, writer._weights, writer._values, writer._maxweight, writer._minlength,
                 writer._maxlength) = block
                # a block records its own compression: zlib costs 10–20 µs a call and gains little
                # on a few postings (the quick corpus's whoosh index: 11.1 MB with every block
                # compressed, 11.8 MB without the small ones; its commit 1.60 → 1.30 s). whoosh
                # meant to skip pickles under 20 bytes; a bug undoes it
                writer._compression = level if len(block[0]) >= COMPRESS_FROM else 0
            fieldwriter.finish_term()
        writer._compression = level
        fieldwriter.finish_field()


def _term_blocks(postings: _FieldPostings, field_lengths: Any, limit: int
                 ) -> Iterator[tuple[bytes, list[tuple[Any, ...]]]]:
    """Each term of a field in order with its blocks: each `limit` postings (their ids, float32
    weights, non-empty values, greatest weight, least and greatest non-zero field length, as
    add_posting keeps them), the statistics computed for every block at once."""
    import numpy as np

    terms, bounds, docnums, weights, values = postings.in_term_order()
    per_term = (np.diff(bounds) + limit - 1) // limit
    block_end = np.cumsum(per_term)
    # where each block begins among the sorted postings: its term's start plus limit per block
    nth = np.arange(int(block_end[-1])) - np.repeat(block_end - per_term, per_term)
    begin = np.repeat(bounds[:-1], per_term) + nth * limit
    stop = np.minimum(begin + limit, np.repeat(bounds[1:], per_term))
    lengths = field_lengths[docnums]
    top = np.maximum.reduceat(weights, begin).tolist()
    least = np.minimum.reduceat(np.where(lengths > 0, lengths, np.iinfo(np.int64).max), begin).tolist()
    most = np.maximum.reduceat(lengths, begin).tolist()
    ids = array("I", docnums.astype(np.uint32).tobytes())
    floats = array("f", weights.astype(np.float32).tobytes())
    begin, stop, k = begin.tolist(), stop.tolist(), 0
    for term, count in zip(terms, per_term.tolist(), strict=True):
        blocks = []
        for j in range(k, k + count):
            a, b = begin[j], stop[j]
            blocks.append((ids[a:b], floats[a:b], [v for v in values[a:b] if v], top[j] if top[j] > 0 else 0,
                           None if most[j] == 0 else least[j], most[j]))
        k += count
        yield term, blocks


class Writer(SegmentWriter):
    """whoosh's segment writer with postings sorted in memory and lengths read once; the
    postings, weights and lengths it writes are whoosh's own (tests/test_search.py compares).

    When the postings outgrow `memory_mb`, the documents so far are written out as a segment
    and a new one begins; every segment becomes visible at once, in the single commit.
    """

    # a posting is four 8-byte columns (term number, docnum, weight, a value reference); the
    # vocabulary and the sort's temporary arrays come on top of that
    BYTES_PER_POSTING = 40

    def __init__(self, ix: Any, memory_mb: int) -> None:
        super().__init__(ix)
        if any(field.separate_spelling() or field.vector for _, field in self.schema.items()):
            raise TypeError("speechkit's writer takes no spelling or vector fields")
        self.pool = _MemoryPool()
        self._budget = memory_mb * 2**20 // self.BYTES_PER_POSTING
        self._written: list[Any] = []

    def add_document(self, **fields: Any) -> None:
        """whoosh's SegmentWriter.add_document (its schema has no spelling or vector fields),
        with a field of serialized tokens added to the pool a document at a time (counted as
        SpeechText.index counts them) instead of a posting at a time: a third of a large build
        went to that loop."""
        self._add(fields)
        if self.pool.postings > self._budget:
            self._write_segment()

    def _add(self, fields: dict[str, Any]) -> None:
        self._check_state()
        perdocwriter, schema, docnum = self.perdocwriter, self.schema, self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    if isinstance(field, SpeechText) and isinstance(value, str) and value.startswith(PRETOKENIZED):
                        counted = counted_tokens(value)
                        boost = field.format.field_boost
                        freqs = [n for _, n in counted]
                        # the weight as whoosh computes it: SpeechText.index's, times the field boost
                        self.pool.add_counts(fieldname, docnum, [w for w, _ in counted], freqs,
                                             [n * boost * fieldboost for n in freqs])
                        if field.scorable:
                            length = sum(freqs)
                    else:
                        for tbytes, freq, weight, vbytes in field.index(value):
                            if field.scorable:
                                length += freq
                            self.pool.add((fieldname, tbytes, docnum, weight * fieldboost, vbytes))
                stored = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, stored if field.stored else None, length)
                column = field.column_type
                if column and stored is not None:
                    perdocwriter.add_column_value(fieldname, column, field.to_column_value(stored))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _write_segment(self) -> None:
        self._written.append(self._finalize_segment())
        # a fresh segment, as SegmentWriter.__init__ sets one up; deletions in the old segments
        # stay in self.segments until the commit
        self.newsegment = self.codec.new_segment(self.storage, self.indexname)
        self.pool = _MemoryPool()
        self.perdocwriter = self.codec.per_document_writer(self.storage, self.newsegment)
        self.fieldwriter = self.codec.field_writer(self.storage, self.newsegment)
        self.docnum = self.docbase
        self._added = False

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader()
        try:
            write_postings(self.fieldwriter, self.schema, pdr, self.pool)
        finally:
            pdr.close()
        self.fieldwriter.close()

    def _commit_toc(self, segments: list[Any]) -> None:
        super()._commit_toc(self._written + segments)


def save_docnum_ids(folder: Path) -> list[str | None]:
    """Our id of every whoosh document number, saved beside the segments it describes: reading
    them back from whoosh's stored fields took 0.3 s of every search on 35,000 speeches."""
    ix = open_dir(folder)
    with ix.reader() as reader:
        ids: list[str | None] = [None] * reader.doc_count_all()
        for docnum, fields in reader.iter_docs():
            ids[docnum] = fields["id"]
        write_json(folder / DOCNUM_IDS, docnum_ids_record(ix.latest_generation(), ids))
    return ids
