"""A whoosh segment writer that sorts postings in memory and writes several segments when
they outgrow a budget, and the ids of its documents saved beside them."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from whoosh.writing import SegmentWriter

from ..atomic import write_json
from .manifest import DOCNUM_IDS, docnum_ids_record
from .mapped import open_dir


class _MemoryPool:
    """Postings grouped by term in memory, in place of whoosh's PostingPool.

    whoosh sorts (field, term, docnum, weight, value) tuples by pickling runs of them to disk and
    merging the runs back: two thirds of its commit time on a large build. Grouping by term and
    sorting only the distinct terms yields the same order. Only what SegmentWriter calls is here.
    """

    def __init__(self) -> None:
        self.postings = 0
        self._terms: dict[tuple[str, bytes], tuple[array, array, list]] = {}
        self._values: dict[bytes | None, bytes | None] = {}

    def add(self, item: tuple[str, bytes, int, float, bytes | None]) -> None:
        fieldname, btext, docnum, weight, value = item
        postings = self._terms.get((fieldname, btext))
        if postings is None:
            postings = self._terms[(fieldname, btext)] = (array("q"), array("d"), [])
        self.postings += 1
        postings[0].append(docnum)
        postings[1].append(weight)
        postings[2].append(self._values.setdefault(value, value))  # interned: values repeat

    def terms(self) -> list[tuple[tuple[str, bytes], tuple[array, array, list]]]:
        """Each (field, term) with its postings (docnums, weights, values), in whoosh's order."""
        return sorted(self._terms.items())

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, bytes | None]]:
        # a writer hands out docnums in increasing order (documents, then merged segments), so
        # each term's postings are already in docnum order
        for (fieldname, btext), (docnums, weights, values) in sorted(self._terms.items()):
            for docnum, weight, value in zip(docnums, weights, values, strict=True):
                yield fieldname, btext, docnum, weight, value

    def cleanup(self) -> None:
        self._terms.clear()


class _Lengths:
    """Field lengths read once per field: whoosh looks one up from disk for every posting."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self._cache: dict[str, list[int | None]] = {}

    def doc_field_length(self, docnum: int, fieldname: str) -> int | None:
        return self.of(fieldname)[docnum]

    def of(self, fieldname: str) -> list[int | None]:
        """Every document's length of `fieldname`, by document number."""
        lengths = self._cache.get(fieldname)
        if lengths is None:
            read = self._reader.doc_field_length
            lengths = self._cache[fieldname] = [read(d, fieldname) for d in range(self._reader.doc_count_all())]
        return lengths


def write_postings(fieldwriter: Any, schema: Any, lengths: _Lengths, pool: _MemoryPool) -> None:
    """What whoosh's FieldWriter.add_postings writes, a term's block at a time: each block of
    postings is put into whoosh3's postings writer whole (its ids, weights, values and the
    statistics add_posting would have kept), instead of one posting at a time through its
    asserts and appends (a third of a build's time). The files are byte for byte whoosh's own
    (tests/test_search.py compares them)."""
    fieldname = None
    for (name, btext), (docnums, weights, values) in pool.terms():
        if name != fieldname:
            if fieldname is not None:
                fieldwriter.finish_field()
            fieldname = name
            fieldwriter.start_field(name, schema[name])
            field_lengths = lengths.of(name)
        if docnums and min(docnums) < 0:  # whoosh's spelling postings (docnum -1): not postings
            keep = [k for k, d in enumerate(docnums) if d >= 0]
            if not keep:
                continue
            docnums = array("q", (docnums[k] for k in keep))
            weights = array("d", (weights[k] for k in keep))
            values = [values[k] for k in keep]
        fieldwriter.start_term(btext)
        writer = fieldwriter._postwriter
        limit = writer._blocklimit
        for start in range(0, len(docnums), limit):
            if start:
                writer._write_block()  # add_posting writes a full block when the next posting comes
            ids = docnums[start:start + limit]
            block_weights = weights[start:start + limit]
            writer._ids = array("I", ids)
            writer._weights = array("f", block_weights)
            writer._values = [v for v in values[start:start + limit] if v]
            top = max(block_weights)
            writer._maxweight = top if top > 0 else 0
            sized = [n for n in (field_lengths[d] for d in ids) if n]
            writer._minlength = min(sized) if sized else None
            writer._maxlength = max(sized) if sized else 0
        fieldwriter.finish_term()
    if fieldname is not None:
        fieldwriter.finish_field()


class Writer(SegmentWriter):
    """whoosh's segment writer with postings sorted in memory and lengths read once; the
    postings, weights and lengths it writes are whoosh's own (tests/test_search.py compares).

    When the postings outgrow `memory_mb`, the documents so far are written out as a segment
    and a new one begins; every segment becomes visible at once, in the single commit.
    """

    # measured with tracemalloc on the body field: 32 bytes a posting over gov-reports + news
    # (8.4M postings), 44 over a quarter of it (rarer terms, more arrays per posting)
    BYTES_PER_POSTING = 40

    def __init__(self, ix: Any, memory_mb: int) -> None:
        super().__init__(ix)
        self.pool = _MemoryPool()
        self._budget = memory_mb * 2**20 // self.BYTES_PER_POSTING
        self._written: list[Any] = []

    def add_document(self, **fields: Any) -> None:
        super().add_document(**fields)
        if self.pool.postings > self._budget:
            self._write_segment()

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
            write_postings(self.fieldwriter, self.schema, _Lengths(pdr), self.pool)
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
