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
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.analysis import StopFilter, Token, Tokenizer
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema

from . import __version__
from .clean.normalize import matching_form
from .errors import SpeechkitError
from .segment import Segmenter, deserialize, segment_batch, stopwords
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)

INDEX_REV = 1
PRETOKENIZED = "\x1e"  # marks a value that already holds serialized tokens
Progress = Callable[[int, int, str], None]


class IndexError_(SpeechkitError):
    """The index is missing, stale, or locked."""


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
        if value.startswith(PRETOKENIZED):
            items = deserialize(value[1:])
        else:
            items = self._segmenter().positions(matching_form(value))
        for pos, words in enumerate(items, start=start_pos):
            for word in words:
                t.text = word
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = word
                if positions:
                    t.pos = pos
                if chars:
                    t.startchar, t.endchar = start_char, start_char + len(word)
                yield t


_SEGMENTERS: dict[str | None, Segmenter] = {}


def analyzer(user_lexicon: str | None = None):
    # minsize=1: whoosh drops tokens shorter than 2 by default, and 党, 国, 税 would vanish
    return SpeechTokenizer(user_lexicon) | StopFilter(stoplist=stopwords(), minsize=1, renumber=False)


def schema(user_lexicon: str | None = None) -> Schema:
    ana = analyzer(user_lexicon)
    return Schema(
        id=ID(unique=True, stored=True),
        title=TEXT(analyzer=ana, phrase=True, field_boost=2.0),
        body=TEXT(analyzer=ana, phrase=True),
        year=NUMERIC(int, stored=True, signed=False),
        date=STORED(),
    )


# --- manifest, lock -------------------------------------------------------------------------------

@dataclass
class Paths:
    root: Path

    @property
    def whoosh(self) -> Path:
        return self.root / "whoosh"

    @property
    def text(self) -> Path:
        return self.root / "text"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"


def _write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(paths: Paths) -> Iterator[None]:
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexError_(f"another `speechkit index` is writing {paths.root}; wait for it to finish") from exc
        yield


def expected_manifest(store: Store, seg: Segmenter) -> dict[str, Any]:
    digest, n = store.canonical_digest()
    return {"store": digest, "documents": n, "segmenter": seg.version,
            "code": f"{__version__}/{INDEX_REV}", "user_lexicon": str(seg.user_lexicon or "")}


def check_current(settings: Settings, store: Store, seg: Segmenter) -> dict[str, Any]:
    """The manifest if the index is current; otherwise a one-line error with the fix."""
    paths = Paths(settings.index_dir)
    if not paths.manifest.exists():
        raise IndexError_(f"no index in {paths.root}; run `speechkit index` first")
    have = json.loads(paths.manifest.read_text("utf-8"))
    want = expected_manifest(store, seg)
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


_META_COLUMNS = ("id", "title", "date", "year", "level", "region", "site", "speaker_role", "speaker_name")


def build_index(settings: Settings, *, rebuild: bool = False, user_lexicon: str | None = None,
                progress: Progress | None = None) -> IndexReport:
    """Bring the indexes up to date with the store: only new, changed and removed documents
    are written, unless `rebuild`."""
    t0 = time.perf_counter()
    paths = Paths(settings.index_dir)
    seg = Segmenter(user_lexicon)
    report = IndexReport()
    with _locked(paths), Store(settings.store_path, create=False) as store:
        manifest = expected_manifest(store, seg)
        old: dict[str, Any] = {}
        if paths.manifest.exists() and not rebuild:
            old = json.loads(paths.manifest.read_text("utf-8"))
            if old.get("segmenter") != manifest["segmenter"] or old.get("code") != manifest["code"]:
                rebuild = True
        docs = {r["id"]: r for r in store.query(
            f"SELECT {', '.join(_META_COLUMNS)}, text, text_hash FROM documents WHERE canonical=1 ORDER BY id")}
        indexed: dict[str, str] = {} if rebuild else old.get("hashes", {})
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
        def key(r) -> str:
            return f"{r['text_hash']}:{r['title']}:{r['year']}:{r['date']}"

        changed = [i for i, r in docs.items() if indexed.get(i) != key(r)]
        removed = [i for i in indexed if i not in docs]
        report.unchanged = len(docs) - len(changed)
        tokens = _tokens(store, seg, [(i, docs[i]["text"]) for i in changed], settings, report, progress)
        ix = whoosh_index.open_dir(str(target))
        writer = ix.writer(limitmb=256, procs=1)
        try:
            for i in removed:
                writer.delete_by_term("id", i)
            for i in changed:
                r = docs[i]
                fields = {"id": i, "title": r["title"] or "", "body": PRETOKENIZED + tokens[i],
                          "year": r["year"] if r["year"] is not None else 0, "date": r["date"]}
                if i in indexed:
                    writer.update_document(**fields)
                    report.updated += 1
                else:
                    writer.add_document(**fields)
                    report.added += 1
            report.removed = len(removed)
            writer.commit(optimize=rebuild)
        except BaseException:
            writer.cancel()
            raise
        if target != paths.whoosh:
            old_dir = paths.root / "whoosh.old"
            shutil.rmtree(old_dir, ignore_errors=True)
            if paths.whoosh.exists():
                os.replace(paths.whoosh, old_dir)
            os.replace(target, paths.whoosh)
            shutil.rmtree(old_dir, ignore_errors=True)
        _write_text_index(paths, docs)
        manifest["hashes"] = {i: key(r) for i, r in docs.items()}
        manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        _write_json_atomic(paths.manifest, manifest)
    report.seconds = time.perf_counter() - t0
    return report


def _tokens(store: Store, seg: Segmenter, items: list[tuple[str, str]], settings: Settings,
            report: IndexReport, progress: Progress | None) -> dict[str, str]:
    """Serialized tokens for `items`: from the store's cache, else segmented in workers."""
    version = seg.version
    cached = store.cached_tokens([i for i, _ in items], version)
    todo = [(i, matching_form(text)) for i, text in items if i not in cached]
    report.segmented = len(todo)
    if not todo:
        return cached
    lexicon = str(seg.user_lexicon) if seg.user_lexicon else None
    batches = [todo[i:i + 50] for i in range(0, len(todo), 50)]
    done = 0
    if settings.worker_count <= 1 or len(todo) < 20:
        results = (segment_batch(b, lexicon) for b in batches)
        for rows in results:
            store.save_tokens(rows, version)
            cached.update(rows)
            done += len(rows)
            if progress:
                progress(done, len(todo), "segment")
        return cached
    with ProcessPoolExecutor(max_workers=settings.worker_count) as pool:
        for rows in pool.map(segment_batch, batches, [lexicon] * len(batches)):
            store.save_tokens(rows, version)
            cached.update(rows)
            done += len(rows)
            if progress:
                progress(done, len(todo), "segment")
    return cached


def _write_text_index(paths: Paths, docs: dict[str, Any]) -> None:
    """One UTF-8 file of matching forms, NUL-separated, and a table of documents."""
    tmp = paths.root / "text.new"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    table = []
    offset = 0
    with open(tmp / "matching.txt", "wb") as fh:
        for r in docs.values():
            data = matching_form(r["text"]).encode("utf-8")
            fh.write(data + b"\x00")
            row = {c: r[c] for c in _META_COLUMNS}
            row.update(start=offset, end=offset + len(data), title_match=matching_form(r["title"] or ""))
            table.append(row)
            offset += len(data) + 1
        fh.flush()
        os.fsync(fh.fileno())
    (tmp / "docs.json").write_text(json.dumps(table, ensure_ascii=False), "utf-8")
    old = paths.root / "text.old"
    shutil.rmtree(old, ignore_errors=True)
    if paths.text.exists():
        os.replace(paths.text, old)
    os.replace(tmp, paths.text)
    shutil.rmtree(old, ignore_errors=True)
