"""The exact-match index: the matching form of every canonical speech in one UTF-8 file
(`matching.txt`, NUL-separated), with each speech's offsets (`offsets.bin`), id (`ids.txt`),
metadata by column (`meta.json`) and titles (`titles.json`), and an n-gram index over bodies
and titles (`ngrams.sqlite`, SQLite FTS5; `rowids.bin` maps its rows to documents). The writer
and the reader live here together; the manifest records each file's size and digest, which the
reader checks.

How finding stays exact without scanning: every run of characters that are not ASCII spaces or
punctuation is indexed as its overlapping character pairs followed by its last character alone
(改革开放 → 改革 革开 开放 放). A phrase of one run is then exactly an FTS5 phrase of its pairs (the
lone last character keeps a phrase from running on into the next run), and one character is
exactly a prefix query (every character starts a pair or is a run's last). A phrase spanning
several runs (改革, 开放) finds candidates by its runs and is checked on the matching form.
"""

from __future__ import annotations

import bisect
import json
import mmap
import os
import queue
import re
import shutil
import sqlite3
import threading
from array import array
from collections.abc import Callable, Collection, Iterable
from functools import cached_property
from operator import add
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import replace_dir
from ..errors import IndexError_
from ..matching import matching_form
from ..paths import Paths
from ..query import FILTER_COLUMNS, Filter
from ..store import DocumentStore
from .integrity import damaged_files, file_sum

META_COLUMNS = ("id", "title", "date", "year", "level", "region", "site", "speaker_role", "speaker_name")


class TextIndex:
    """The matching forms of all canonical documents, memory-mapped: document n spans
    `bounds[2n]:bounds[2n+1]` of the blob and has id `ids[n]`. Its metadata table (`docs`) is
    read only when a query needs it (filters, title phrases, date order, explain)."""

    def __init__(self, paths: Paths, sums: dict[str, list[Any]] | None = None,
                 stamps: dict[str, list[int]] | None = None) -> None:
        """`sums`, `stamps`: what the manifest recorded of the files, checked before they are
        used (index.integrity: sizes always, contents when a file was written since the build)."""
        self.paths = paths
        self._damaged = IndexError_(f"the exact-match index in {paths.text} is damaged or incomplete (an "
                                    "interrupted build, or a copy that lost part of a file); run `speechkit "
                                    "index` to repair it")
        if not text_index_intact(paths, sums, stamps=stamps):
            raise self._damaged
        try:
            self.bounds = array("q")
            self.bounds.frombytes((paths.text / "offsets.bin").read_bytes())
            self.ids_bytes = (paths.text / "ids.txt").read_bytes()
            ids = self.ids_bytes.decode("utf-8")
        except (OSError, ValueError):
            raise self._damaged from None
        self.ids: list[str] = ids.split("\n") if ids else []
        if len(self.bounds) != 2 * len(self.ids):
            raise self._damaged
        self._fh = open(paths.text / "matching.txt", "rb")  # noqa: SIM115 - lives with the index
        size = (paths.text / "matching.txt").stat().st_size
        self.blob = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.starts = self.bounds[0::2]
        self.rowids = array("q")
        try:
            self.rowids.frombytes((paths.text / "rowids.bin").read_bytes())
            # the file is never written in place (a build writes a new folder): immutable
            # spares every query SQLite's locking
            self._db = sqlite3.connect(f"file:{paths.text / NGRAMS}?mode=ro&immutable=1", uri=True,
                                       check_same_thread=False)
        except (OSError, ValueError, sqlite3.Error):
            self.close()
            raise self._damaged from None
        if len(self.rowids) != len(self.ids):
            self.close()
            raise self._damaged
        # rows are numbered 1..n unless a build removed documents: then found by bisection
        self._dense = not self.rowids or (self.rowids[0] == 1 and self.rowids[-1] == len(self.rowids))
        self._codes: dict[tuple[str, ...], tuple[dict[str, list[Any]], np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def _json(self, name: str) -> dict[str, list[Any]]:
        try:
            data = json.loads((self.paths.text / name).read_text("utf-8"))
        except (OSError, ValueError):
            raise self._damaged from None
        if any(len(v) != len(self.ids) for v in data.values()):
            raise self._damaged
        return data

    @cached_property
    def columns(self) -> dict[str, list[Any]]:
        """Metadata by column (year, date, level, region, site, speaker_role, speaker_name)."""
        return self._json("meta.json")

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """The same metadata as one dict per document."""
        cols = self.columns
        names = list(cols)
        return [dict(zip(names, values, strict=True)) for values in zip(*cols.values(), strict=True)]

    def matching_mask(self, flt: Filter) -> np.ndarray:
        """Whether each document's metadata passes `flt`: `Filter.select` decides on the distinct
        values of its columns (a few thousand), numpy spreads that over the documents (testing a
        million rows one by one took 0.2 s a filter)."""
        if not flt.columns:  # a field with no columns passes nothing (Filter.select)
            return np.zeros(len(self), dtype=bool)
        distinct, codes = self.coded(flt.columns)
        passes = np.zeros(len(distinct[flt.columns[0]]), dtype=bool)
        passes[list(flt.select(distinct))] = True
        return passes[codes]

    def coded(self, names: tuple[str, ...]) -> tuple[dict[str, list[Any]], np.ndarray]:
        """The distinct values of a filter's columns and each document's number among them,
        read from the build's `codes.json`/`codes.bin` (4 bytes a document; at a million
        speeches parsing `meta.json` took 1 s and 450 MB), else made from the columns (an
        index built before those files existed)."""
        if names not in self._codes:
            saved = self._saved_codes.get(_code_key(names))
            if saved is not None:
                codes = np.fromfile(self.paths.text / CODES_BIN, dtype=np.int32, count=len(self),
                                    offset=4 * saved["start"])
                self._codes[names] = saved["distinct"], codes
            else:
                self._codes[names] = code_columns(self.columns, names)
        return self._codes[names]

    def values(self, name: str, positions: Iterable[int]) -> list[Any]:
        """Column `name`'s value for each of `positions`, through its saved codes when the build
        saved them (year, date and the filters' columns): no pass over `meta.json`."""
        distinct, codes = self.coded((name,))
        column = distinct[name]
        return [column[c] for c in codes[np.fromiter(positions, dtype=np.int64)].tolist()]

    @cached_property
    def _saved_codes(self) -> dict[str, dict[str, Any]]:
        if not (self.paths.text / CODES_JSON).is_file():
            return {}
        try:
            saved = json.loads((self.paths.text / CODES_JSON).read_text("utf-8"))
        except (OSError, ValueError):
            raise self._damaged from None
        if (self.paths.text / CODES_BIN).stat().st_size != 4 * len(self) * len(saved):
            raise self._damaged
        return saved

    @cached_property
    def titles(self) -> dict[str, list[str]]:
        """"title" and its matching form "title_match", by document."""
        return self._json("titles.json")

    @cached_property
    def docs(self) -> list[dict[str, Any]]:
        """Everything the index knows of each document: id, metadata, title, offsets."""
        out = []
        for n, row in enumerate(self.rows):
            out.append({"id": self.ids[n], **row, "title": self.titles["title"][n],
                        "title_match": self.titles["title_match"][n],
                        "start": self.bounds[2 * n], "end": self.bounds[2 * n + 1]})
        return out

    @cached_property
    def by_id(self) -> dict[str, int]:
        return {doc_id: n for n, doc_id in enumerate(self.ids)}

    def close(self) -> None:
        if getattr(self, "_db", None) is not None:
            self._db.close()
        if isinstance(getattr(self, "blob", None), mmap.mmap):
            self.blob.close()
        self._fh.close()

    def text(self, n: int) -> str:
        return self.blob[self.bounds[2 * n]:self.bounds[2 * n + 1]].decode("utf-8")

    def containing(self, phrase: str, field: str = "body") -> set[int]:
        """Documents whose matching form (`field` "body") or title's ("title") contains `phrase`
        (already in matching form), found by the n-gram index and checked on the text when the
        index alone is not exact."""
        return set(self.containing_positions(phrase, field).tolist())

    def containing_positions(self, phrase: str, field: str = "body") -> np.ndarray:
        """The same documents as `containing`, as an array of positions."""
        if not phrase:
            return np.zeros(0, np.int64)
        expr, exact = ngram_query(phrase)
        if expr is None:  # only ASCII spaces and punctuation: nothing to look up
            found = self._scan(phrase) if field == "body" else self._scan_titles(phrase)
            return np.array(sorted(found), dtype=np.int64)
        try:
            # the rows as one string, parsed by numpy: fetching 470,000 rows as Python tuples
            # took 0.3 s, this 0.1
            joined, = self._db.execute("SELECT group_concat(rowid) FROM ngrams WHERE ngrams MATCH ?",
                                       (f"{field} : {expr}",)).fetchone()
        except sqlite3.Error:
            raise self._damaged from None
        found = self._positions(np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, np.int64))
        if exact:
            return found
        if field == "title":
            titles = self.titles["title_match"]
            return found[np.array([phrase in titles[n] for n in found.tolist()], dtype=bool)]
        needle, blob, bounds = phrase.encode("utf-8"), self.blob, self.bounds
        return found[np.array([blob.find(needle, bounds[2 * n], bounds[2 * n + 1]) != -1 for n in found.tolist()],
                              dtype=bool)]

    def _positions(self, rowids: np.ndarray) -> np.ndarray:
        if self._dense:
            return rowids - 1
        return np.searchsorted(np.frombuffer(self.rowids, dtype=np.int64), rowids)

    def _scan_titles(self, phrase: str) -> set[int]:
        return {n for n, t in enumerate(self.titles["title_match"]) if phrase in t}

    def _scan(self, phrase: str) -> set[int]:
        """Documents containing `phrase`, by reading every matching form (for phrases of ASCII
        punctuation alone, which the n-gram index does not hold)."""
        needle = phrase.encode("utf-8")
        found: set[int] = set()
        blob, starts, bounds = self.blob, self.starts, self.bounds
        pos = blob.find(needle)
        while pos != -1:
            n = bisect.bisect_right(starts, pos) - 1
            found.add(n)
            # skip to the end of this document: presence is all a set needs
            pos = blob.find(needle, bounds[2 * n + 1] + 1)
        return found

    def count(self, n: int, phrase: str) -> int:
        """Occurrences of `phrase` in document `n` (non-overlapping, like str.count)."""
        return self.blob[self.bounds[2 * n]:self.bounds[2 * n + 1]].count(phrase.encode("utf-8"))


NGRAMS = "ngrams.sqlite"
CODES_JSON, CODES_BIN = "codes.json", "codes.bin"
# the columns saved as codes: each filter's, and the date (the order of `search --sort date`)
CODED_COLUMNS = sorted(set(FILTER_COLUMNS.values()) | {("date",)})


def _code_key(names: tuple[str, ...]) -> str:
    """A set of coded columns' key in codes.json."""
    return ",".join(names)


def code_columns(columns: dict[str, list[Any]], names: tuple[str, ...]) -> tuple[dict[str, list[Any]], np.ndarray]:
    """The distinct value combinations of some columns (by column, in order of first
    appearance) and each row's number among them.

    >>> code_columns({"level": ["city", None, "city"]}, ("level",))
    ({'level': ['city', None]}, array([0, 1, 0], dtype=int32))
    """
    table: dict[tuple[Any, ...], int] = {}
    rows = zip(*(columns[c] for c in names), strict=True)
    count = len(columns[names[0]]) if names else 0
    codes = np.fromiter((table.setdefault(row, len(table)) for row in rows), np.int32, count)
    return {c: [row[i] for row in table] for i, c in enumerate(names)}, codes


# what SQLite's `ascii` tokenizer splits on (ASCII that is not a letter or digit): every other
# character, all of CJK included, is kept byte for byte, so the tokens below survive it intact
_SEPARATORS = re.compile(r"[\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+")


def ngram_tokens(text: str) -> str:
    """The tokens the n-gram index holds for a matching form: each run's overlapping pairs of
    characters, then its last character alone.

    >>> ngram_tokens("改革开放, gdp")
    '改革 革开 开放 放 gd dp p'
    """
    out = []
    for run in _SEPARATORS.split(text):
        if run:
            if len(run) > 1:
                out.append(" ".join(map(add, run, run[1:])))
            out.append(run[-1])
    return " ".join(out)


def ngram_query(phrase: str) -> tuple[str | None, bool]:
    """The FTS5 phrase that finds the documents which may contain `phrase`, and whether it
    finds exactly those; None for a phrase with nothing the index holds. Runs before the last
    end where the phrase says (their last character alone follows), so what is left to check
    is only which spaces or ASCII punctuation stand between them.

    >>> ngram_query("营商环境")
    ('"营商 商环 环境"', True)
    >>> ngram_query("党")
    ('"党" *', True)
    >>> ngram_query("改革, 开放")
    ('"改革 革 开放"', False)
    """
    runs = [r for r in _SEPARATORS.split(phrase) if r]
    if not runs:
        return None, False
    tokens: list[str] = []
    for run in runs[:-1]:
        tokens.extend(map(add, run, run[1:]))
        tokens.append(run[-1])
    last = runs[-1]
    tokens.extend(map(add, last, last[1:]))
    # a last run of one character: the start of a pair, or a run of its own
    expr = '"' + " ".join(tokens + [last] * (len(last) == 1)) + '"' + " *" * (len(last) == 1)
    return expr, runs == [phrase]


def _create_ngrams(path: Path) -> sqlite3.Connection:
    # written by _NgramRows's thread after this one has set it up
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # written once into a fresh folder that is swapped in whole: no journal needed
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'ngrams'").fetchone():
        # contentless (the text is in matching.txt), positions kept (phrases need them)
        db.execute("CREATE VIRTUAL TABLE ngrams USING fts5(body, title, content='', columnsize=0, "
                   "detail='full', tokenize='ascii')")
    return db


class Spool:
    """Matching forms of the documents being indexed, kept on disk until the text index is
    written (in memory they would be twice the corpus's text size)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "w+b")  # noqa: SIM115 - closed by close()
        self.spans: dict[str, tuple[int, int]] = {}

    def add(self, doc_id: str, text: str) -> None:
        start = self._fh.seek(0, os.SEEK_END)
        self.spans[doc_id] = (start, start + self._fh.write(text.encode("utf-8")))

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self.spans

    def __len__(self) -> int:
        return len(self.spans)

    def read(self, doc_id: str) -> bytes:
        start, end = self.spans[doc_id]
        self._fh.seek(start)
        return self._fh.read(end - start)

    def close(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


class _Previous:
    """The exact-match index being replaced, when it is intact: each document's place in its
    matching file and its n-gram row, its title's matching form, and its text."""

    def __init__(self, paths: Paths) -> None:
        self.path = paths.text
        self.places: dict[str, tuple[int, int, int]] = {}  # id -> start, end, n-gram row
        self.titles: dict[str, str] = {}
        self._blob: Any = None
        bounds, rowids = array("q"), array("q")
        bounds.frombytes((paths.text / "offsets.bin").read_bytes())
        rowids.frombytes((paths.text / "rowids.bin").read_bytes())
        ids = (paths.text / "ids.txt").read_text("utf-8").split("\n")
        titles = json.loads((paths.text / "titles.json").read_text("utf-8"))["title_match"]
        if len(bounds) == 2 * len(ids) == 2 * len(rowids) == 2 * len(titles):
            self.places = {i: (bounds[2 * n], bounds[2 * n + 1], rowids[n]) for n, i in enumerate(ids)}
            self.titles = dict(zip(ids, titles, strict=True))
            self._blob = open(paths.text / "matching.txt", "rb")  # noqa: SIM115 - closed by close()

    def text(self, doc_id: str) -> bytes:
        start, end, _ = self.places[doc_id]
        self._blob.seek(start)
        return self._blob.read(end - start)

    def row(self, doc_id: str) -> int:
        return self.places[doc_id][2]

    def close(self) -> None:
        if self._blob is not None:
            self._blob.close()


class _NgramRows:
    """The n-gram index being written into `tmp`: the rows of removed and changed documents
    deleted first, then a row for each document given, inserted as it comes by a thread of its
    own (SQLite tokenizes and writes outside the GIL, beside the caller's work). Documents
    already indexed keep their row, new ones take the next rows in document order, so the rows
    stay in document order (a row is found by bisection) whatever order the documents come in."""

    CHUNK_CHARS = 1_000_000

    def __init__(self, tmp: Path, docs: dict[str, Any], fresh: Collection[str], previous: _Previous | None) -> None:
        old = previous.places if previous is not None else {}
        self.whole = not old
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if old:
            shutil.copyfile(previous.path / NGRAMS, tmp / NGRAMS)  # type: ignore[union-attr]
        self.db = _create_ngrams(tmp / NGRAMS)
        if self.whole:
            # a whole build is optimized into one b-tree at the end: merging segments while it
            # inserts is work thrown away
            self.db.execute("INSERT INTO ngrams(ngrams, rank) VALUES ('automerge', 0)")
        self.db.execute("BEGIN")
        # a contentless FTS5 table forgets a row by being given the tokens it was given
        for i in old:
            if i not in docs or i in fresh:
                assert previous is not None
                self.db.execute("INSERT INTO ngrams(ngrams, rowid, body, title) VALUES ('delete', ?, ?, ?)",
                                (previous.row(i), ngram_tokens(previous.text(i).decode("utf-8")),
                                 ngram_tokens(previous.titles[i])))
        self.rows = {i: place[2] for i, place in old.items() if i in docs}
        row = max((place[2] for place in old.values()), default=0) + 1
        for i in docs:
            if i not in old:
                self.rows[i], row = row, row + 1
        self.inserted: set[str] = set()
        # rows go to the thread in chunks of ~CHUNK_CHARS characters, a few chunks ahead: the
        # caller rarely waits, and the memory held stays bounded whatever the speeches' sizes
        self._chunk: list[tuple[int, str, str]] = []
        self._chunk_chars = 0
        self._queue: queue.Queue[list[tuple[int, str, str]] | None] = queue.Queue(maxsize=16)
        self._failed: list[BaseException] = []
        self._abandoned = False
        self._thread = threading.Thread(target=self._insert_rows, name="ngram-rows", daemon=True)
        self._thread.start()

    def _insert_rows(self) -> None:
        while (rows := self._queue.get()) is not None:
            if not self._failed and not self._abandoned:
                try:
                    self.db.executemany("INSERT INTO ngrams(rowid, body, title) VALUES (?, ?, ?)", rows)
                except BaseException as e:  # raised in the caller's thread by insert/finish
                    self._failed.append(e)

    def insert(self, doc_id: str, grams: str, title_match: str) -> None:
        """Queue the row of `doc_id`: its body's n-gram tokens (ngram_tokens) and its title."""
        if self._failed:
            raise self._failed[0]
        self._chunk.append((self.rows[doc_id], grams, ngram_tokens(title_match)))
        self._chunk_chars += len(grams)
        self.inserted.add(doc_id)
        if self._chunk_chars >= self.CHUNK_CHARS:
            self._queue.put(self._chunk)
            self._chunk, self._chunk_chars = [], 0

    def _stop(self) -> None:
        if self._thread.is_alive():
            if self._chunk:
                self._queue.put(self._chunk)
                self._chunk = []
            self._queue.put(None)
            self._thread.join()

    def finish(self) -> None:
        self._stop()
        if self._failed:
            raise self._failed[0]
        self.db.execute("COMMIT")
        if self.whole:  # a whole build: one merged b-tree reads fastest
            self.db.execute("INSERT INTO ngrams(ngrams) VALUES ('optimize')")
            # later incremental builds insert into this file: let FTS5 merge as it usually does
            self.db.execute("INSERT INTO ngrams(ngrams, rank) VALUES ('automerge', 4)")
        self.db.close()

    def close(self) -> None:
        self._abandoned = True  # a build that failed: what is queued is not written
        self._stop()
        self.db.close()


class TextIndexWriter:
    """Writes the exact-match index: one UTF-8 file of matching forms, NUL-separated, a table of
    documents and the n-gram index. Documents are `add`ed as their matching forms are made; when
    the build says which will come (`fresh`), each one's n-gram row is inserted as it arrives
    (SQLite's work overlaps the segmenting workers instead of following whoosh's commit, when
    one core works alone). `finish` writes the rest.

    When `reuse` (the previous index is intact), unchanged documents are copied from the
    previous file rather than converted again, keep their place and their n-gram row, and only
    new, changed and removed documents touch the n-gram index. When nothing changed at all
    (same documents in the same order, same titles and metadata), nothing is written and
    `unchanged` (the sums the manifest holds) is returned."""

    def __init__(self, paths: Paths, docs: dict[str, Any], store: DocumentStore, *, reuse: bool = True,
                 fresh: Collection[str] = (), spool: Spool | None = None) -> None:
        self.paths, self.docs, self.store = paths, docs, store
        # each title's matching form, made once: the n-gram rows, titles.json and the check
        # that nothing changed all read it
        self.titles = {i: matching_form(r["title"] or "") for i, r in docs.items()}
        self.tmp = paths.root / "text.new"
        self.spool = spool if spool is not None else Spool(paths.root / "text.fresh")
        self.previous = _Previous(paths) if reuse and text_index_intact(paths, None) else None
        self.ngrams: _NgramRows | None = None
        self.expected = set(fresh)
        try:
            if self.expected:
                self.ngrams = _NgramRows(self.tmp, docs, self.expected, self.previous)
        except BaseException:
            self.close()
            raise

    def add(self, doc_id: str, match: str, grams: str | None = None) -> None:
        """A document's matching form, and its n-gram tokens (`ngram_tokens(match)`) when the
        caller has them (the build's workers make them)."""
        self.spool.add(doc_id, match)
        if self.ngrams is not None:
            self.ngrams.insert(doc_id, ngram_tokens(match) if grams is None else grams, self.titles[doc_id])

    def finish(self, *, progress: Callable[[int, int, str], None] | None = None,
               unchanged: dict[str, list[Any]] | None = None) -> dict[str, list[Any]]:
        """Write what is left and put the index in place; the size and digest of each file,
        for the manifest."""
        docs, fresh, previous = self.docs, self.spool, self.previous
        old = previous.places if previous is not None else {}
        # documents in neither the spool nor the old file (a repair, an interrupted build), and
        # any announced as fresh that did not come (its old n-gram row is gone): their matching
        # forms are made now, read from the store in batches
        missing = [i for i in docs if i not in fresh and (i not in old or i in self.expected)]
        for i, text in self.store.texts(missing):
            self.add(i, matching_form(text))
        if (unchanged is not None and previous is not None and old and not len(fresh) and len(old) == len(docs)
                and all(i in docs for i in old)
                and all(previous.titles[i] == self.titles[i] for i in docs)
                and _same_columns(self.paths, [docs[i] for i in old])):
            return unchanged  # nothing to write: the files are the ones the manifest recorded
        if self.ngrams is None:
            self.ngrams = _NgramRows(self.tmp, docs, set(fresh.spans), previous)
        table, rows = _write_matching(self.tmp, docs, self.titles, fresh, previous, self.ngrams, progress)
        self.ngrams.finish()
        _write_columns(self.tmp, table, rows)
        sums = {name: file_sum(self.tmp / name) for name in _TEXT_FILES + _CODE_FILES}
        replace_dir(self.tmp, self.paths.text)
        return sums

    def close(self) -> None:
        if self.ngrams is not None:
            self.ngrams.close()
        if self.previous is not None:
            self.previous.close()
        self.spool.close()


def write_text_index(paths: Paths, docs: dict[str, Any], fresh: Spool, store: DocumentStore, *,
                     reuse: bool = True, progress: Callable[[int, int, str], None] | None = None,
                     unchanged: dict[str, list[Any]] | None = None) -> dict[str, list[Any]]:
    """The exact-match index of `docs` in one go, the matching forms of new and changed ones
    already in `fresh` (see TextIndexWriter)."""
    writer = TextIndexWriter(paths, docs, store, reuse=reuse, spool=fresh)
    try:
        return writer.finish(progress=progress, unchanged=unchanged)
    finally:
        writer.close()


def _write_matching(tmp: Path, docs: dict[str, Any], titles: dict[str, str], fresh: Spool, previous: _Previous | None,
                    ngrams: _NgramRows, progress: Callable[[int, int, str], None] | None
                    ) -> tuple[list[dict[str, Any]], array]:
    """matching.txt in `tmp`, and the n-gram rows of fresh documents not yet inserted; each
    document's metadata and place in the file, and its n-gram row, in document order."""
    old = previous.places if previous is not None else {}
    order = [i for i in old if i in docs] + [i for i in docs if i not in old]
    todo = sum(1 for i in order if i in fresh and i not in ngrams.inserted)
    table, rows = [], array("q")
    offset, done = 0, 0
    with open(tmp / "matching.txt", "wb") as fh:
        for i in order:
            r, title_match = docs[i], titles[i]
            if i in fresh:
                data = fresh.read(i)
                if i not in ngrams.inserted:
                    ngrams.insert(i, ngram_tokens(data.decode("utf-8")), title_match)
                    done += 1
                    if progress and done % 1000 == 0:
                        progress(done, todo, "writing the exact-match index")
            else:
                assert previous is not None
                data = previous.text(i)
            fh.write(data + b"\x00")
            meta = {c: r[c] for c in META_COLUMNS}
            meta.update(start=offset, end=offset + len(data), title_match=title_match)
            table.append(meta)
            rows.append(ngrams.rows[i])
            offset += len(data) + 1
        fh.flush()
        os.fsync(fh.fileno())
    return table, rows


def _write_columns(tmp: Path, table: list[dict[str, Any]], rows: array) -> None:
    """What every query loads beside the matching file, each in a form that loads in
    milliseconds: offsets, n-gram rows and ids; the metadata and titles by column (read only by
    filters and title phrases: parsing one table of rows took 0.25 s of every search on 35,000
    speeches); each filter's columns as codes, so a filtered query reads 4 bytes a document."""
    bounds = array("q")
    for meta in table:
        bounds.extend((meta["start"], meta["end"]))
    (tmp / "offsets.bin").write_bytes(bounds.tobytes())
    (tmp / "rowids.bin").write_bytes(rows.tobytes())
    (tmp / "ids.txt").write_text("\n".join(meta["id"] for meta in table), "utf-8")
    columns = {c: [meta[c] for meta in table] for c in META_COLUMNS if c not in ("id", "title")}
    (tmp / "meta.json").write_text(json.dumps(columns, ensure_ascii=False), "utf-8")
    titles = {c: [meta[c] for meta in table] for c in ("title", "title_match")}
    (tmp / "titles.json").write_text(json.dumps(titles, ensure_ascii=False), "utf-8")
    saved, start = {}, 0
    with open(tmp / CODES_BIN, "wb") as fh:
        for names in CODED_COLUMNS:
            distinct, codes = code_columns(columns, names)
            fh.write(codes.tobytes())
            saved[_code_key(names)] = {"start": start, "distinct": distinct}
            start += len(codes)
    (tmp / CODES_JSON).write_text(json.dumps(saved, ensure_ascii=False), "utf-8")


def _same_columns(paths: Paths, rows: list[dict[str, Any]]) -> bool:
    """Whether the saved metadata columns are those of `rows`, in their order."""
    try:
        saved = json.loads((paths.text / "meta.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return all(saved.get(c) == [r[c] for r in rows] for c in META_COLUMNS if c not in ("id", "title"))


_TEXT_FILES = ("matching.txt", "offsets.bin", "ids.txt", "meta.json", "titles.json", "rowids.bin", NGRAMS)
# the filter codes: required when the manifest lists them (indexes built before them lack them)
_CODE_FILES = (CODES_JSON, CODES_BIN)


def text_index_intact(paths: Paths, sums: dict[str, list[Any]] | None, *, stamps: dict[str, list[int]] | None = None,
                      always_hash: bool = False) -> bool:
    """Whether the exact-match files are those the manifest recorded (`damaged_files`: sizes,
    and the contents of any file written since the build; every content with `always_hash`).
    An index from before the manifest recorded them counts as intact when its files exist."""
    for name in _TEXT_FILES + _CODE_FILES:
        if not (paths.text / name).is_file():
            if name in _CODE_FILES and not (sums and name in sums):
                continue  # an index from before the filter codes: filters read meta.json
            return False
    return not sums or not damaged_files(paths.text, sums, stamps, always_hash=always_hash)
