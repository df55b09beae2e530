"""Ingest: walk inputs, process changed files in worker processes, store them file by file,
then update near-duplicate groups. Re-running is cheap (content hashes) and resumes after
an interruption; a bad file is reported and skipped, never fatal."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from . import sources
from .clean import template
from .context import Context, open_store, require_context
from .dedup import update_groups
from .documents import Document, Progress, RawDocument, content_hash
from .engine import executor
from .errors import DocumentProblem
from .faults import crash_point
from .pipeline import Templates, process_raw
from .settings import Settings
from .store import DocumentStore

log = logging.getLogger(__name__)



@dataclass
class IngestReport:
    files_seen: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    files_pruned: int = 0
    speeches: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    flags: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.skipped


def _stored_path(path: Path, home: Path) -> str:
    """Paths inside the workspace are stored relative to it, so ids survive a moved workspace.
    A name that is not UTF-8 (GBK bytes from a zip made on Chinese Windows) is stored as
    `bytes:` and its bytes percent-encoded, which `_path_of` reverses."""
    resolved = path.resolve()
    try:
        key = str(resolved.relative_to(home))
    except ValueError:
        key = str(resolved)
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        key = _BYTES + urllib.parse.quote(os.fsencode(key), safe="/")
    return key


_BYTES = "bytes:"
PARCEL_BYTES = 2 << 20  # input bytes of small files that go to a worker as one task


def _path_of(key: str, home: Path) -> Path:
    if key.startswith(_BYTES):
        key = os.fsdecode(urllib.parse.unquote_to_bytes(key[len(_BYTES):]))
    return Path(key) if os.path.isabs(key) else home / key


def _work(units: list[RawDocument], settings: Settings, templates: Templates | None = None
          ) -> tuple[list[Document], list[tuple[str, str]]]:
    """Worker: process a batch of units; problems are returned, not raised."""
    docs: list[Document] = []
    problems: list[tuple[str, str]] = []
    for raw in units:
        crash_point("worker:unit", str(raw.source_path))
        try:
            with _time_budget(settings.max_file_seconds):
                docs.extend(process_raw(raw, settings, templates))
        except DocumentProblem as exc:
            problems.append((raw.record, exc.reason))
        except _OverBudget:
            problems.append((raw.record, f"took more than {settings.max_file_seconds} s to process: skipped "
                                         "(raise max_file_seconds in speechkit.cfg to allow more)"))
        except Exception as exc:  # a bug must not stop the batch: report it with the file
            log.exception("failed on %s %s", raw.source_path, raw.record)
            problems.append((raw.record, f"internal error: {type(exc).__name__}: {exc}"))
    return docs, problems


def _work_parcel(parcel: list[tuple[str, list[RawDocument]]], settings: Settings, templates: Templates | None = None
                 ) -> list[tuple[str, list[Document], list[tuple[str, str]]]]:
    """Worker: the chunks of several files in one task, each with its file's key (a folder of
    small reports would otherwise be a task per file, and a task costs Dask milliseconds)."""
    return [(key, *_work(units, settings, templates)) for key, units in parcel]


class _OverBudget(BaseException):
    """Raised by the alarm; a BaseException so no `except Exception` inside the pipeline eats it."""


@contextlib.contextmanager
def _time_budget(seconds: int) -> Iterator[None]:
    """Interrupt the block after `seconds` of wall time (SIGALRM; main thread of a process only,
    which is where units are processed: the worker processes, or ingest itself)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: object) -> None:
        raise _OverBudget

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class _Pending:
    path: str
    hash: str
    size: int
    chunks: int
    docs: list[Document] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    lost: bool = False  # a batch of it was lost with its worker: stored as an error, retried next run


def ingest(paths: Sequence[str], home: Context, *, field_map: dict[str, str] | None = None,
           prune: bool = False, force: bool = False, progress: Progress | None = None) -> IngestReport:
    """Bring the store of the workspace `home` up to date with the files
    under `paths`. `force` re-processes files whose content is unchanged (after a change of the
    cleaning rules, say). The store is opened here, created if missing, on a connection of
    its own: each file is written in one transaction."""
    settings = require_context(home, "ingest").settings
    field_map = field_map or {}
    walk_problems: list[tuple[str, str]] = []
    files = sources.expand_inputs(paths, problems=walk_problems)
    report = IngestReport(files_seen=len(files))
    report.skipped.extend(walk_problems)
    # the field mapping is part of what a dump produces: a corrected mapping re-reads it
    mapping = json.dumps(sorted(field_map.items()), ensure_ascii=False).encode("utf-8")
    with open_store(settings) as store:
        todo: list[tuple[Path, str, str]] = []
        for path in files:
            key = _stored_path(path, settings.home)
            try:
                data = sources.read_bytes(path, max_mb=settings.max_file_mb)
            except DocumentProblem as exc:
                report.skipped.append((key, exc.reason))
                store.replace_file(key, "", 0, [], status="error", reason=exc.reason)
                continue
            h = content_hash(data + b"\0" + mapping) if sources.is_dump(path) else content_hash(data)
            known = store.file_hash(key)
            if known and known[0] == h and known[1] == "ok" and not force:
                report.files_unchanged += 1
                # records skipped last time are still skipped: say so again (for --strict)
                report.skipped.extend((key + (f" {rec}" if rec else ""), why) for rec, why in store.file_problems(key))
                continue
            if known:
                report.files_changed += 1
            else:
                report.files_new += 1
            todo.append((path, key, h))
        if prune:
            for key in store.stored_paths():
                if not _path_of(key, settings.home).exists():
                    store.remove_file(key)
                    report.files_pruned += 1
        # a run interrupted before grouping leaves the flag set: the next run groups everything
        pending_all = store.get_meta("dedup_pending") is not None
        if todo or report.files_pruned:
            store.set_meta("dedup_pending", "1")
        new_ids = _process(todo, settings, field_map, store, report, progress, store.templates())
        if new_ids:
            # a site's template shows once enough of its pages are in: the pages that show it
            # are processed again with it (once: what is stripped no longer shows)
            again = _find_site_templates(store, new_ids)
            redo = [(_path_of(k, settings.home), k, store.file_hash(k)[0]) for k in sorted(again)
                    if _path_of(k, settings.home).is_file()]
            if redo:
                # pages counted already (or stored by an earlier run): a scratch report, so the
                # second pass adds nothing to this run's counts and flags
                new_ids += _process(redo, settings, field_map, store, IngestReport(), progress, store.templates())
        # what this run stored, and whatever an earlier or concurrent run stored and did not group
        left = store.ungrouped()
        crash_point("ingest:before-grouping")
        if new_ids or left or report.files_pruned or pending_all:
            todo_ids = sorted(set(new_ids) | set(left))
            update_groups(store, settings, None if pending_all or report.files_pruned else todo_ids)
            store.mark_grouped(todo_ids)
            store.set_meta("dedup_pending", None)
        report.duplicates = store.count(canonical=False)
    return report


def _find_site_templates(store: DocumentStore, new_ids: list[str]) -> set[str]:
    """Find the template (clean/template.py) of each site and each folder that `new_ids` came
    from, over everything stored from it; save what changed in the store. Returns the stored
    files whose pages still show a template line: they are processed again with it. Reads each
    touched site and folder once: linear in what it reads."""
    again: set[str] = set()
    for kind, where in sorted(store.page_groups(new_ids)):
        key = f"template\t{kind}\t{where}"
        known = json.loads(store.get_meta(key) or "[]")
        pages = {doc_id: template.candidates(text, title, speaker)
                 for doc_id, title, text, speaker in store.group_pages(kind, where)}
        if len(pages) < template.MIN_PAGES:
            continue
        lines = template.find_template(pages.values(), known)
        if sorted(lines) != sorted(known):
            store.set_meta(key, json.dumps(sorted(lines), ensure_ascii=False))
            log.info("template of %s %s: %s", kind, where, " | ".join(sorted(lines)))
        showing = [doc_id for doc_id, cands in pages.items() if cands & lines]
        again.update(store.source_paths(showing))
    return again


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # reported when it is read
        return 0


def _load(path: Path, key: str, field_map: dict[str, str], max_mb: int
          ) -> tuple[list[RawDocument], list[tuple[str, str]], int]:
    try:
        data = sources.read_bytes(path, max_mb=max_mb)
    except DocumentProblem as exc:
        return [], [("", exc.reason)], 0
    units, problems = sources.read_units(path, key, data, field_map)
    return units, problems, len(data)


def _process(todo: list[tuple[Path, str, str]], settings: Settings, field_map: dict[str, str],
             store: DocumentStore, report: IngestReport, progress: Progress | None,
             templates: Templates | None = None) -> list[str]:
    new_ids: list[str] = []
    total = len(todo)
    done = 0

    def finish(p: _Pending) -> None:
        nonlocal done
        failed = (not p.docs and p.problems) or p.lost
        reason = "; ".join(r for _, r in p.problems[:3]) if failed else None
        store.replace_file(p.path, p.hash, p.size, p.docs, [] if failed else p.problems,
                           status="error" if failed else "ok", reason=reason)
        for rec, why in p.problems:
            report.skipped.append((p.path + (f" {rec}" if rec else ""), why))
        for d in p.docs:
            report.flags.update(f.split(":")[0] for f in d.flags)
        report.speeches += len(p.docs)
        new_ids.extend(d.id for d in p.docs)
        done += 1
        if progress:
            progress(done, total, p.path)

    workers = settings.worker_count
    one_unit = total <= 1 and not any(sources.is_dump(t[0]) for t in todo)
    if not todo or (not settings.uses_dask and (workers <= 1 or one_unit)):
        for path, key, h in todo:
            units, problems, size = _load(path, key, field_map, settings.max_file_mb)
            docs, more = _work(units, settings, templates)
            finish(_Pending(key, h, size, 1, docs, problems + more))
        return new_ids
    pending: dict[str, _Pending] = {}
    futures: dict[Future, list[str]] = {}
    # small files travel together, up to PARCEL_BYTES, but never so many that the workers idle
    # on a small ingest: at least four parcels per worker
    budget = min(PARCEL_BYTES, max(1, sum(_size(path) for path, _, _ in todo) // (workers * 4)))
    parcel: list[tuple[str, list[RawDocument]]] = []
    weight = count = 0  # bytes and units in the parcel being filled
    with executor(settings) as pool:
        def send() -> None:
            nonlocal parcel, weight, count
            if parcel:
                futures[pool.submit(_work_parcel, parcel, settings, templates)] = [k for k, _ in parcel]
                parcel, weight, count = [], 0, 0

        for path, key, h in todo:
            units, problems, size = _load(path, key, field_map, settings.max_file_mb)
            step = settings.chunk_size if len(units) > 1 else 1
            chunks = [units[i:i + step] for i in range(0, len(units), step)]
            pending[key] = _Pending(key, h, size, len(chunks), problems=problems)
            if not chunks:
                finish(pending.pop(key))
                continue
            for chunk in chunks:
                parcel.append((key, chunk))
                weight += size // len(chunks)
                count += len(chunk)
                if weight >= budget or count >= settings.chunk_size:
                    send()
            # keep memory bounded: drain while many parcels are queued
            while len(futures) > workers * 4:
                _drain(futures, pending, finish)
        send()
        while futures:
            _drain(futures, pending, finish)
    return new_ids


def _drain(futures: dict[Future, list[str]], pending: dict[str, _Pending],
           finish: Callable[[_Pending], None]) -> None:
    finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
    for fut in finished:
        keys = futures.pop(fut)
        try:
            results = [(key, docs, problems, False) for key, docs, problems in fut.result()]
        except Exception as exc:  # the engine lost the parcel (a Dask task that killed its workers)
            why = [("", f"the worker processing it was lost ({type(exc).__name__}: {str(exc)[:200]}); "
                        "run ingest again to retry it")]
            results = [(key, [], why, True) for key in keys]
        for key, docs, problems, lost in results:
            p = pending[key]
            if lost and p.lost:
                problems = []  # reported once per file
            p.lost = p.lost or lost
            p.docs.extend(docs)
            p.problems.extend(problems)
            p.chunks -= 1
            if p.chunks == 0:
                p.docs.sort(key=lambda d: (d.record, d.part))
                finish(pending.pop(key))
