"""`build_index`: bring the indexes up to date with the store. Only new, changed and removed
documents are written; whoosh writes in this process while workers segment.

Writes are safe: whoosh commits a new generation atomically (its table of contents is
written last), the text index and the manifest are written to temporary files and renamed,
and a lock file stops a second writer.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import recover_dir, replace_dir, write_json
from ..context import Context, require_context
from ..documents import Progress
from ..engine import bounded_map, executor
from ..faults import crash_point
from ..matching import matching_form
from ..provenance import expected_manifest, read_manifest
from ..segment import Segmenter, segment_batch, serialize, share_segmenter
from ..settings import Settings
from ..store import DocumentStore
from .analysis import PRETOKENIZED, schema
from .manifest import damage_error, damaged_parts, locked, read_hashes, record_files, save_positions, whoosh_generation
from .mapped import create_in, open_dir
from .text import META_COLUMNS, TextIndexWriter, ngram_tokens, text_index_intact
from .writer import Writer, save_docnum_ids

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    segmented: int = 0
    seconds: float = 0.0
    rebuilt: bool = False


def document_fields(row: dict[str, Any], tokens: str, seg: Segmenter | None = None) -> dict[str, Any]:
    """What the whoosh index holds for a document: its store row and serialized tokens. With
    `seg`, the title goes in as its tokens too (the words, counts and weights the title's
    analyzer gives, without a token object per word)."""
    title = row["title"] or ""
    if seg is not None and title:
        title = PRETOKENIZED + serialize(seg.positions(matching_form(title)))
    return {"id": row["id"], "title": title, "body": PRETOKENIZED + tokens,
            "year": row["year"] if row["year"] is not None else 0, "date": row["date"]}




def _key(r: dict[str, Any]) -> str:
    """What a document was indexed as: its text hash plus the metadata the index holds."""
    return f"{r['text_hash']}:{r['title']}:{r['year']}:{r['date']}"


@dataclass
class _Plan:
    """What a build writes: the manifest it will record, the previous one, the documents, which
    of them changed, and where whoosh writes (the live folder, or a fresh one swapped in)."""

    manifest: dict[str, Any]
    old: dict[str, Any]
    docs: dict[str, dict[str, Any]]
    indexed: dict[str, str]
    target: Path
    text_ok: bool
    rebuilt: bool

    @property
    def changed(self) -> list[str]:
        return [i for i, r in self.docs.items() if self.indexed.get(i) != _key(r)]

    @property
    def removed(self) -> list[str]:
        return [i for i in self.indexed if i not in self.docs]


def _plan(home: Context, seg: Segmenter, rebuild: bool) -> _Plan:
    """Read what the last build left (its manifest, damage, an interrupted commit) and decide
    what this one writes."""
    paths, store = home.paths, home.store
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
    # a file that is not what the last build wrote (truncated, a flipped bit, lost): the
    # part it belongs to is written again (whoosh's from the token cache: no segmentation)
    damaged = damaged_parts(paths, old) if old else {}
    if "whoosh" in damaged:
        log.warning("%s: repairing the ranked index", damage_error(paths, "whoosh", damaged["whoosh"]))
    # a build killed after whoosh committed and before the manifest recorded it: the live
    # index holds that build's deletions and additions, which skew BM25's statistics; it is
    # built again (from the token cache: no segmentation)
    live = whoosh_generation(paths.whoosh)
    if (not rebuild and "whoosh" not in damaged and "whoosh_generation" in old
            and live is not None and live != old["whoosh_generation"]):
        log.warning("the last `speechkit index` was interrupted after writing; rebuilding the ranked index")
        rebuild = True
    # the exact-match index must be what the last build wrote, byte for byte: a damaged
    # copy gave wrong totals silently; it is written again from the store
    text_ok = not rebuild and "text" not in damaged and text_index_intact(paths, None)
    docs = {r["id"]: {c: r[c] for c in (*META_COLUMNS, "text_hash")} for r in store.metadata()}
    fresh_whoosh = rebuild or "whoosh" in damaged or live is None
    target = paths.whoosh
    if fresh_whoosh:
        target = paths.root / "whoosh.new"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        create_in(target, schema(home.lexicon))
    indexed = {} if rebuild or fresh_whoosh else read_hashes(paths, old)
    return _Plan(manifest, old, docs, indexed, target, text_ok, fresh_whoosh)


def _write_whoosh(home: Context, plan: _Plan, seg: Segmenter, text: TextIndexWriter, report: IndexReport,
                  progress: Progress | None) -> tuple[int, list[str | None]]:
    """Delete, add and update the changed documents in whoosh (segmenting them in the workers
    while this process writes), giving their matching forms to the exact-match index's writer;
    whoosh's generation and the id of each document number."""
    changed, removed = plan.changed, plan.removed
    report.unchanged = len(plan.docs) - len(changed)
    ix = open_dir(plan.target)
    writer = Writer(ix, home.settings.index_memory_mb)
    try:
        for i in removed:
            writer.delete_by_term("id", i)
        report.removed = len(removed)
        for i, match, tokens, grams in _segmented(home.store, seg, changed, home.settings, report, progress,
                                                  grams=True):
            text.add(i, match, grams)
            fields = document_fields(plan.docs[i], tokens, seg)
            # update, never add, into a live index: a build killed after whoosh committed
            # and before the manifest recorded it would otherwise add the speech twice
            if i in plan.indexed or plan.target == home.paths.whoosh:
                writer.update_document(**fields)
            else:
                writer.add_document(**fields)
            if i in plan.indexed:
                report.updated += 1
            else:
                report.added += 1
        if progress:
            progress(len(changed), len(changed), "writing the index")
        writer.commit()
        docnum_ids = save_docnum_ids(plan.target)
        crash_point("index:after-whoosh-commit")
    except BaseException:
        writer.cancel()
        raise
    return ix.latest_generation(), docnum_ids


def build_index(home: Context, *, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
    """Bring the indexes of the workspace `home` up to date with its store: only new, changed
    and removed documents are written, unless `rebuild`."""
    t0 = time.perf_counter()
    home = require_context(home, "build_index")
    settings, paths = home.settings, home.paths
    # whole speeches are cut with jieba's full dictionary, not with the saved copy this build
    # writes (which the workspace's segmenter reads for queries); both give the same tokens
    seg = Segmenter(home.lexicon)
    share_segmenter(seg)  # the titles' analyzer and in-process batches cut with it too
    report = IndexReport()
    with locked(paths):
        plan = _plan(home, seg, rebuild)
        report.rebuilt = plan.rebuilt
        manifest, docs = plan.manifest, plan.docs
        # the n-gram rows of changed speeches are written as they come, while workers segment
        text = TextIndexWriter(paths, docs, home.store, reuse=plan.text_ok, fresh=plan.changed)
        try:
            manifest["whoosh_generation"], docnum_ids = _write_whoosh(home, plan, seg, text, report, progress)
            if plan.target != paths.whoosh:
                replace_dir(plan.target, paths.whoosh)
                crash_point("index:after-whoosh-swap")
            if progress:
                progress(report.added + report.updated, report.added + report.updated,
                         "writing the exact-match index")
            manifest["text"] = text.finish(progress=progress,
                                           unchanged=plan.old.get("text") if plan.text_ok else None)
        finally:
            text.close()
        save_positions(paths.whoosh, manifest["whoosh_generation"], docnum_ids,
                       (paths.text / "ids.txt").read_bytes())
        # what each speech was indexed as, in its own file: every command reads the manifest,
        # only a build needs these (4.5 MB for 35,000 speeches)
        write_json(paths.hashes, {i: _key(r) for i, r in docs.items()})
        record_files(paths, manifest, {} if report.rebuilt else plan.old)
        manifest["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        seg.save_dictionary(paths.dictionary)  # only written when missing or from another version
        crash_point("index:before-manifest")
        write_json(paths.manifest, manifest)
        if settings.search == "server":
            _sync_server(home.store, seg, docs, manifest, settings, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _sync_server(store: DocumentStore, seg: Segmenter, docs: dict[str, Any], manifest: dict[str, Any],
                 settings: Settings, progress: Progress | None) -> None:
    """Bring the PostgreSQL server's search table (speechkit.pgsearch) up to date with the
    store: rows of new and changed speeches written (tokens from the cache), others removed."""
    from ..pgsearch import SearchTable

    with SearchTable(settings) as server:
        todo, gone = server.stale(docs)
        if progress:
            progress(0, len(todo), "the server's search table")
        rows = ((i, match, tokens) for i, match, tokens, _ in _segmented(store, seg, todo, settings, IndexReport(),
                                                                         progress))
        server.write(docs, gone, rows, len(todo))
        server.mark(manifest["store"], manifest["segmenter"])


def segment_for_index(items: list[tuple[str, str]], user_lexicon: str | None, grams: bool
                ) -> list[tuple[str, str, str, str | None]]:
    """Worker entry point: segment_batch's (id, matching form, serialized tokens), and with
    `grams` the matching form's n-gram tokens, which the exact-match index holds (made here
    rather than in the process that writes the indexes, whose work is the build's longest path)."""
    return [(i, match, tokens, ngram_tokens(match) if grams else None)
            for i, match, tokens in segment_batch(items, user_lexicon)]


def _segmented(store: DocumentStore, seg: Segmenter, ids: list[str], settings: Settings, report: IndexReport,
               progress: Progress | None, *, grams: bool = False) -> Iterator[tuple[str, str, str, str | None]]:
    """(id, matching form, serialized tokens, n-gram tokens or None) for `ids`: tokens from
    the store's cache where the text and segmenter are unchanged, else segmented in worker
    processes (and cached), which make the n-gram tokens too when `grams`. Results arrive in
    batches so the caller writes the index while workers segment."""
    version = seg.version
    lexicon = str(seg.user_lexicon) if seg.user_lexicon else None
    cached = store.cached_tokens(ids, version)
    hits = [i for i in ids if i in cached]
    for i, text in store.texts(hits):
        yield i, matching_form(text), cached[i], None
    todo = [i for i in ids if i not in cached]
    report.segmented = len(todo)
    if not todo:
        return
    parallel = settings.uses_dask or (settings.worker_count > 1 and len(todo) >= 20)
    window, size, chars_most = settings.index_window, settings.index_batch, settings.index_batch_chars

    def batches() -> Iterator[list[tuple[str, str]]]:
        # texts are read a window at a time (one query each), so memory stays bounded; a batch
        # closes at `size` speeches or `chars_most` characters: this process writes nothing
        # until the first batch comes back, and 25 reports were a second of segmenting
        for start in range(0, len(todo), window):
            batch: list[tuple[str, str]] = []
            chars = 0
            for item in store.texts(todo[start:start + window]):
                batch.append(item)
                chars += len(item[1])
                if len(batch) >= size or chars >= chars_most:
                    yield batch
                    batch, chars = [], 0
            if batch:
                yield batch

    if parallel and not settings.uses_dask:
        seg.load()  # before the pool forks its workers, which inherit it
    with executor(settings) if parallel else contextlib.nullcontext() as pool:
        done = 0
        # a few batches stay in flight across window boundaries, so the workers segment
        # while this process writes the index and reads the next window
        results = bounded_map(pool, segment_for_index, batches(), lexicon, grams,
                              ahead=max(4, 2 * settings.worker_count)) if pool \
            else (segment_for_index(b, lexicon, grams) for b in batches())
        for rows in results:
            store.save_tokens([(i, data) for i, _, data, _ in rows], version)
            yield from rows
            done += len(rows)
            if progress:
                progress(done, len(todo), "segment")
