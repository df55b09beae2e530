"""The search indexes under `DIR/indexes/`, built from the store's canonical documents.

- `whoosh/`: title and body, analysed by `SpeechAnalyzer` (our tokens, ordinal positions,
  stopwords dropped with minsize=1), scored with BM25F. Used to rank.
- `text/`: the matching form of every canonical document in one UTF-8 file plus a table of
  documents with their metadata. Used to find: a phrase is found by scanning this file, so
  what `search` returns is exactly the set of documents containing the phrase, whatever the
  segmenter did at word boundaries.
- `manifest.json`: what the indexes were built from (store digest, segmenter and lexicon
  version, code version). A stale index is refused with the command that fixes it.

Writes are safe: whoosh commits a new generation atomically (its table of contents is
written last), the text index and the manifest are written to temporary files and renamed,
and a lock file stops a second writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import logging
import shutil
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.analysis import StopFilter, Token, Tokenizer
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.system import pack_uint
from whoosh.writing import SegmentWriter

from ._version import __version__
from .atomic import recover_dir, replace_dir, write_json
from .documents import Progress
from .errors import IndexError_
from .faults import crash_point
from .layout import Paths
from .matching import matching_form
from .pool import stop_pool, worker_pool
from .safe_pickle import harden_whoosh
from .segment import Segmenter, deserialize, segment_batch, stopwords
from .settings import Settings
from .store import Store
from .textindex import META_COLUMNS, _Spool, _write_text_index, text_index_intact

harden_whoosh()  # an index folder from elsewhere must not run code when it is opened

log = logging.getLogger(__name__)

# bumped when the files of an index change: 2 = the exact-match index is offsets.bin, ids.txt,
# meta.json and titles.json beside matching.txt; 3 = and the n-gram index (ngrams.sqlite, rowids.bin)
INDEX_REV = 3
PRETOKENIZED = "\x1e"  # marks a value that already holds serialized tokens


# --- the analyzer ---------------------------------------------------------------------------------

class SpeechTokenizer(Tokenizer):
    """Whoosh tokenizer over our segmentation: ordinal positions (one per word; a lexicon
    term's parts share its position), character offsets into the matching form.

    Holds only plain configuration, because whoosh pickles the analyzer into the index and a
    jieba tokenizer cannot be pickled; the segmenter is built lazily in each process.
    """

    def __init__(self, user_lexicon: str | None = None) -> None:
        self.user_lexicon = user_lexicon

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpeechTokenizer) and other.user_lexicon == self.user_lexicon

    def __getstate__(self) -> dict[str, Any]:
        return {"user_lexicon": self.user_lexicon}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.user_lexicon = state.get("user_lexicon")

    def _segmenter(self) -> Segmenter:
        seg = _SEGMENTERS.get(self.user_lexicon)
        if seg is None:
            seg = _SEGMENTERS[self.user_lexicon] = Segmenter(self.user_lexicon)
        return seg

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "", **kwargs: Any
                 ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:  # whoosh's contract: the whole value is one token
            items, match = [(value,)], value
        elif value.startswith(PRETOKENIZED):
            # serialized tokens carry no text to take offsets from: the index stores none
            items, match = deserialize(value[1:]), None
        else:
            match = matching_form(value)
            items = self._segmenter().positions(match)
        cursor = 0
        for pos, words in enumerate(items, start=start_pos):
            at = cursor
            if match is not None:  # each word follows the previous one in the text it was cut from
                found = match.find(words[0], cursor)
                if found >= 0:
                    at, cursor = found, found + len(words[0])
            for word in words:
                t.text = word
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = word
                if positions:
                    t.pos = pos
                if chars:
                    # a lexicon term's parts lie inside the word at its position
                    inner = match.find(word, at, at + len(words[0])) if match is not None else -1
                    begin = inner if inner >= 0 else at
                    t.startchar, t.endchar = start_char + begin, start_char + begin + len(word)
                yield t


_SEGMENTERS: dict[str | None, Segmenter] = {}


def analyzer(user_lexicon: str | None = None):
    # minsize=1: whoosh drops tokens shorter than 2 by default, and 党, 国, 税 would vanish
    return SpeechTokenizer(user_lexicon) | StopFilter(stoplist=stopwords(), minsize=1, renumber=False)


class SpeechText(TEXT):
    """A TEXT field that takes our cached tokens directly.

    A value starting with PRETOKENIZED holds serialized tokens: they are counted in one pass
    (stopwords dropped) instead of being streamed token by token through the analyzer, which
    was half of whoosh's indexing time. Any other value goes through the analyzer as usual,
    so queries and titles are analysed identically. Its import path is part of the index.
    """

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if isinstance(value, str) and value.startswith(PRETOKENIZED):
            stop = stopwords()
            # a term and its parts are both words here: count them all in C, drop stopwords after
            counts = Counter(value[1:].replace("|", " ").split())
            boost = self.format.field_boost
            for word, freq in counts.items():
                if word not in stop:
                    yield word.encode("utf-8"), freq, freq * boost, pack_uint(freq)
            return
        yield from super().index(value, **kwargs)


def schema(user_lexicon: str | None = None) -> Schema:
    ana = analyzer(user_lexicon)
    return Schema(
        id=ID(unique=True, stored=True),
        # phrases are matched on the text index, so whoosh keeps frequencies only: the analyzer
        # still yields ordinal positions (its contract), the posting lists just do not store them
        title=SpeechText(analyzer=ana, phrase=False, field_boost=2.0),
        body=SpeechText(analyzer=ana, phrase=False),
        year=NUMERIC(int, stored=True, signed=False),
        date=STORED(),
    )


# --- the writer ---------------------------------------------------------------------------------

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
        lengths = self._cache.get(fieldname)
        if lengths is None:
            read = self._reader.doc_field_length
            lengths = self._cache[fieldname] = [read(d, fieldname) for d in range(self._reader.doc_count_all())]
        return lengths[docnum]


class _Writer(SegmentWriter):
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
            self.fieldwriter.add_postings(self.schema, _Lengths(pdr), self.pool.iter_postings())
        finally:
            pdr.close()
        self.fieldwriter.close()

    def _commit_toc(self, segments: list[Any]) -> None:
        super()._commit_toc(self._written + segments)


# --- manifest, lock -------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(paths: Paths) -> Iterator[None]:
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexError_(f"another `speechkit index` is writing {paths.root}; wait for it to finish") from exc
        yield


def _read_hashes(paths: Paths, manifest: dict[str, Any]) -> dict[str, str]:
    """id -> what it was indexed as; indexes built before 0.2 kept these in the manifest."""
    try:
        return json.loads(paths.hashes.read_text("utf-8"))
    except (OSError, ValueError):
        return manifest.get("hashes", {})


_IDS = "speechkit-ids.json"


def save_docnum_ids(folder: Path) -> None:
    """Our id of every whoosh document number, saved beside the segments it describes: reading
    them back from whoosh's stored fields took 0.3 s of every search on 35,000 speeches."""
    ix = whoosh_index.open_dir(str(folder))
    with ix.reader() as reader:
        ids: list[str | None] = [None] * reader.doc_count_all()
        for docnum, fields in reader.iter_docs():
            ids[docnum] = fields["id"]
        write_json(folder / _IDS, {"generation": ix.latest_generation(), "ids": ids})


def read_docnum_ids(folder: Path, reader: Any) -> list[str | None] | None:
    """The saved ids if they describe `reader`'s segments (same generation and size), else None."""
    try:
        saved = json.loads((folder / _IDS).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("generation") != reader.generation() or len(saved.get("ids", ())) != reader.doc_count_all():
        return None
    return saved["ids"]


def expected_manifest(store: Store, seg: Segmenter, have: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the manifest of a current index says. The corpus digest is taken from `have` (the
    index's manifest) when the store's generation shows no document changed since then."""
    generation = store.generation()  # read first: a change while hashing then shows as stale
    if have and have.get("generation") == generation and have.get("store"):
        digest, n = have["store"], have.get("documents", 0)
    else:
        digest, n = store.canonical_digest()
    return {"store": digest, "documents": n, "generation": generation, "segmenter": seg.version,
            "code": f"{__version__}/{INDEX_REV}", "user_lexicon": str(seg.user_lexicon or "")}


def check_current(settings: Settings, store: Store, seg: Segmenter,
                  want: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest if the index is current; otherwise a one-line error with the fix.
    `want` is `expected_manifest(store, seg)` when the caller already has it."""
    paths = Paths(settings.index_dir)
    if not paths.manifest.exists():
        raise IndexError_(f"no index in {paths.root}; run `speechkit index` first")
    have = read_manifest(paths)
    want = want or expected_manifest(store, seg, have)
    if have.get("segmenter") != want["segmenter"] or have.get("code") != want["code"]:
        raise IndexError_("the index was built with another lexicon or speechkit version; "
                          "run `speechkit index --rebuild`")
    if have.get("store") != want["store"]:
        raise IndexError_("the store has changed since the index was built; run `speechkit index`")
    return have


# --- build --------------------------------------------------------------------------------------

@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    segmented: int = 0
    seconds: float = 0.0
    rebuilt: bool = False


def document_fields(row: dict[str, Any], tokens: str) -> dict[str, Any]:
    """What the whoosh index holds for a document: its store row and serialized tokens."""
    return {"id": row["id"], "title": row["title"] or "", "body": PRETOKENIZED + tokens,
            "year": row["year"] if row["year"] is not None else 0, "date": row["date"]}




def build_index(settings: Settings, *, rebuild: bool = False, user_lexicon: str | None = None,
                progress: Progress | None = None) -> IndexReport:
    """Bring the indexes up to date with the store: only new, changed and removed documents
    are written, unless `rebuild`."""
    t0 = time.perf_counter()
    paths = Paths(settings.index_dir)
    seg = Segmenter(user_lexicon)
    report = IndexReport()
    with _locked(paths), Store(settings.store_path, create=False) as store:
        # a build killed inside a folder swap left the old folder aside: put it back
        for folder in (paths.whoosh, paths.text):
            if recover_dir(folder):
                log.warning("%s was missing after an interrupted build; the previous copy is back", folder)
        manifest = expected_manifest(store, seg)
        old: dict[str, Any] = {}
        if paths.manifest.exists() and not rebuild:
            old = read_manifest(paths)
            if old.get("segmenter") != manifest["segmenter"] or old.get("code") != manifest["code"]:
                rebuild = True
        # a build killed after whoosh committed and before the manifest recorded it: the live
        # index holds that build's deletions and additions, which skew BM25's statistics; it is
        # built again (from the token cache: no segmentation)
        if (not rebuild and "whoosh_generation" in old and whoosh_index.exists_in(str(paths.whoosh))
                and whoosh_index.open_dir(str(paths.whoosh)).latest_generation() != old["whoosh_generation"]):
            log.warning("the last `speechkit index` was interrupted after writing; rebuilding the ranked index")
            rebuild = True
        # the exact-match index must be what the last build wrote, byte for byte: a damaged
        # copy gave wrong totals silently; it is written again from the store
        text_ok = not rebuild and text_index_intact(paths, old.get("text"), digests=True)
        docs = {r["id"]: {c: r[c] for c in (*META_COLUMNS, "text_hash")} for r in store.metadata()}
        indexed: dict[str, str] = {} if rebuild else _read_hashes(paths, old)
        if rebuild or not whoosh_index.exists_in(str(paths.whoosh)):
            report.rebuilt = True
            indexed = {}
            tmp = paths.root / "whoosh.new"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            whoosh_index.create_in(str(tmp), schema(user_lexicon))
            target = tmp
        else:
            target = paths.whoosh

        # what changed: a document's key is its text hash plus the metadata we index
        def key(r: dict[str, Any]) -> str:
            return f"{r['text_hash']}:{r['title']}:{r['year']}:{r['date']}"

        changed = [i for i, r in docs.items() if indexed.get(i) != key(r)]
        removed = [i for i in indexed if i not in docs]
        report.unchanged = len(docs) - len(changed)
        ix = whoosh_index.open_dir(str(target))
        writer = _Writer(ix, settings.index_memory_mb)
        fresh = _Spool(paths.root / "text.fresh")
        try:
            for i in removed:
                writer.delete_by_term("id", i)
            report.removed = len(removed)
            # whoosh writes in this process while the workers segment the next batches
            for i, match, tokens in _segmented(store, seg, changed, settings, report, progress):
                r = docs[i]
                fresh.add(i, match)
                fields = document_fields(r, tokens)
                # update, never add, into a live index: a build killed after whoosh committed
                # and before the manifest recorded it would otherwise add the speech twice
                if i in indexed or target == paths.whoosh:
                    writer.update_document(**fields)
                else:
                    writer.add_document(**fields)
                if i in indexed:
                    report.updated += 1
                else:
                    report.added += 1
            if progress:
                progress(len(changed), len(changed), "writing the index")
            writer.commit()
            save_docnum_ids(target)
            crash_point("index:after-whoosh-commit")
        except BaseException:
            writer.cancel()
            fresh.close()
            raise
        manifest["whoosh_generation"] = ix.latest_generation()
        if target != paths.whoosh:
            replace_dir(target, paths.whoosh)
            crash_point("index:after-whoosh-swap")
        if progress:
            progress(len(changed), len(changed), "writing the exact-match index")
        try:
            manifest["text"] = _write_text_index(paths, docs, fresh, store, reuse=text_ok, progress=progress)
        finally:
            fresh.close()
        # what each speech was indexed as, in its own file: every command reads the manifest,
        # only a build needs these (4.5 MB for 35,000 speeches)
        write_json(paths.hashes, {i: key(r) for i, r in docs.items()})
        manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        seg.save_dictionary(paths.dictionary)  # only written when missing or from another version
        crash_point("index:before-manifest")
        write_json(paths.manifest, manifest)
    report.seconds = time.perf_counter() - t0
    return report


def _segmented(store: Store, seg: Segmenter, ids: list[str], settings: Settings, report: IndexReport,
               progress: Progress | None) -> Iterator[tuple[str, str, str]]:
    """(id, matching form, serialized tokens) for `ids`: tokens from the store's cache where
    the text and segmenter are unchanged, else segmented in worker processes (and cached).
    Results arrive in batches so the caller writes the index while workers segment."""
    version = seg.version
    lexicon = str(seg.user_lexicon) if seg.user_lexicon else None
    cached = store.cached_tokens(ids, version)
    hits = [i for i in ids if i in cached]
    for i, text in store.texts(hits):
        yield i, matching_form(text), cached[i]
    todo = [i for i in ids if i not in cached]
    report.segmented = len(todo)
    if not todo:
        return
    parallel = settings.worker_count > 1 and len(todo) >= 20
    pool = worker_pool(settings.worker_count) if parallel else None
    done = 0
    try:
        # a window of texts at a time keeps memory bounded; within it the workers segment
        # batches while this process writes the index
        for start in range(0, len(todo), 2000):
            texts = list(store.texts(todo[start:start + 2000]))
            batches = [texts[k:k + 25] for k in range(0, len(texts), 25)]
            results = pool.map(segment_batch, batches, itertools.repeat(lexicon)) if pool \
                else (segment_batch(b, lexicon) for b in batches)
            for rows in results:
                store.save_tokens([(i, data) for i, _, data in rows], version)
                yield from rows
                done += len(rows)
                if progress:
                    progress(done, len(todo), "segment")
    except BaseException:
        if pool is not None:
            stop_pool(pool)
        raise
    if pool is not None:
        pool.shutdown()


def read_manifest(paths: Paths) -> dict[str, Any]:
    """The index's manifest; a damaged one is a one-line error with the fix."""
    try:
        data = json.loads(paths.manifest.read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except (OSError, ValueError) as exc:
        raise IndexError_(f"the index manifest {paths.manifest} cannot be read ({exc}); "
                          "run `speechkit index --rebuild`") from None
