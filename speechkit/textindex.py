"""The exact-match index: the matching form of every canonical speech in one UTF-8 file
(`matching.txt`, NUL-separated), with each speech's offsets (`offsets.bin`), id (`ids.txt`),
metadata by column (`meta.json`) and titles (`titles.json`). The writer and the reader live
here together; the manifest records each file's size and digest, which the reader checks.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import mmap
import os
import shutil
from array import array
from functools import cached_property
from pathlib import Path
from typing import Any

from .atomic import replace_dir
from .errors import IndexError_
from .layout import Paths
from .matching import matching_form
from .query import Filter
from .store import Store

META_COLUMNS = ("id", "title", "date", "year", "level", "region", "site", "speaker_role", "speaker_name")


class TextIndex:
    """The matching forms of all canonical documents, memory-mapped: document n spans
    `bounds[2n]:bounds[2n+1]` of the blob and has id `ids[n]`. Its metadata table (`docs`) is
    read only when a query needs it (filters, title phrases, date order, explain)."""

    def __init__(self, paths: Paths, sums: dict[str, list[Any]] | None = None) -> None:
        """`sums`: the sizes the manifest recorded for the files, checked before they are used."""
        self.paths = paths
        self._damaged = IndexError_(f"the exact-match index in {paths.text} is damaged or incomplete (an "
                                    "interrupted build, or a copy that lost part of a file); run `speechkit "
                                    "index` to repair it")
        if not text_index_intact(paths, sums):
            raise self._damaged
        try:
            self.bounds = array("q")
            self.bounds.frombytes((paths.text / "offsets.bin").read_bytes())
            ids = (paths.text / "ids.txt").read_text("utf-8")
        except (OSError, ValueError):
            raise self._damaged from None
        self.ids: list[str] = ids.split("\n") if ids else []
        if len(self.bounds) != 2 * len(self.ids):
            raise self._damaged
        self._fh = open(paths.text / "matching.txt", "rb")  # noqa: SIM115 - lives with the index
        size = (paths.text / "matching.txt").stat().st_size
        self.blob = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        self.starts = self.bounds[0::2]

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

    def matching(self, flt: Filter) -> set[int]:
        """Documents whose metadata passes `flt`, read by column (Filter.select)."""
        return flt.select(self.columns)

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
        if isinstance(self.blob, mmap.mmap):
            self.blob.close()
        self._fh.close()

    def text(self, n: int) -> str:
        return self.blob[self.bounds[2 * n]:self.bounds[2 * n + 1]].decode("utf-8")

    def containing(self, phrase: str) -> set[int]:
        """Documents whose matching form contains `phrase` (already in matching form)."""
        needle = phrase.encode("utf-8")
        if not needle:
            return set()
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


class _Spool:
    """Matching forms of the documents being indexed, kept on disk until the text index is
    written (in memory they would be twice the corpus's text size)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "w+b")  # noqa: SIM115 - closed by close()
        self._spans: dict[str, tuple[int, int]] = {}

    def add(self, doc_id: str, text: str) -> None:
        start = self._fh.seek(0, os.SEEK_END)
        self._spans[doc_id] = (start, start + self._fh.write(text.encode("utf-8")))

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._spans

    def read(self, doc_id: str) -> bytes:
        start, end = self._spans[doc_id]
        self._fh.seek(start)
        return self._fh.read(end - start)

    def close(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


def _write_text_index(paths: Paths, docs: dict[str, Any], fresh: _Spool, store: Store, *,
                      reuse: bool = True) -> dict[str, list[Any]]:
    """One UTF-8 file of matching forms, NUL-separated, and a table of documents. Unchanged
    documents are copied from the previous file (when `reuse`: it is intact) rather than
    converted again. Returns the size and digest of each file, for the manifest."""
    previous: dict[str, tuple[int, int]] = {}
    old_blob = None
    if reuse and text_index_intact(paths, None):
        bounds = array("q")
        bounds.frombytes((paths.text / "offsets.bin").read_bytes())
        old_ids = (paths.text / "ids.txt").read_text("utf-8").split("\n")
        previous = {i: (bounds[2 * n], bounds[2 * n + 1]) for n, i in enumerate(old_ids)}
        old_blob = open(paths.text / "matching.txt", "rb")  # noqa: SIM115 - closed below
    # documents in neither the spool nor the old file (a repair, an interrupted build): their
    # matching forms are made now, read from the store in batches
    missing = [i for i in docs if i not in fresh and (i not in previous or old_blob is None)]
    for i, text in store.texts(missing):
        fresh.add(i, matching_form(text))
    tmp = paths.root / "text.new"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    table = []
    offset = 0
    try:
        with open(tmp / "matching.txt", "wb") as fh:
            for i, r in docs.items():
                if i in fresh:
                    data = fresh.read(i)
                else:
                    start, end = previous[i]
                    old_blob.seek(start)  # type: ignore[union-attr]
                    data = old_blob.read(end - start)  # type: ignore[union-attr]
                fh.write(data + b"\x00")
                row = {c: r[c] for c in META_COLUMNS}
                row.update(start=offset, end=offset + len(data), title_match=matching_form(r["title"] or ""))
                table.append(row)
                offset += len(data) + 1
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        if old_blob is not None:
            old_blob.close()
    # every query needs the offsets and ids, in forms that load in milliseconds; filters need the
    # metadata and title phrases the titles, each read only then and by column (parsing one table
    # of rows took 0.25 s of every search on 35,000 speeches)
    bounds = array("q")
    for row in table:
        bounds.extend((row["start"], row["end"]))
    (tmp / "offsets.bin").write_bytes(bounds.tobytes())
    (tmp / "ids.txt").write_text("\n".join(row["id"] for row in table), "utf-8")
    meta = {c: [row[c] for row in table] for c in META_COLUMNS if c not in ("id", "title")}
    (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    titles = {c: [row[c] for row in table] for c in ("title", "title_match")}
    (tmp / "titles.json").write_text(json.dumps(titles, ensure_ascii=False), "utf-8")
    sums = {name: _file_sum(tmp / name) for name in _TEXT_FILES}
    replace_dir(tmp, paths.text)
    return sums


_TEXT_FILES = ("matching.txt", "offsets.bin", "ids.txt", "meta.json", "titles.json")


def _file_sum(path: Path) -> list[Any]:
    """[size, blake2b digest] of a file, read in 1 MB blocks."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return [path.stat().st_size, h.hexdigest()]


def text_index_intact(paths: Paths, sums: dict[str, list[Any]] | None, *, digests: bool = False) -> bool:
    """Whether the exact-match files are those the manifest recorded: sizes (a stat, for every
    reader) and, with `digests`, their contents (for `index`). An index from before the
    manifest recorded them counts as intact when its files exist."""
    for name in _TEXT_FILES:
        path = paths.text / name
        if not path.is_file():
            return False
        if sums and name in sums:
            if path.stat().st_size != sums[name][0]:
                return False
            if digests and _file_sum(path) != sums[name]:
                return False
    return True


