"""What an index was built from (store digest, segmenter and lexicon version, code version),
whether it is current, the lock that stops a second writer, and the whoosh document numbers'
ids. Light: every query reads these."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import IndexError_
from ..layout import Paths
from ..segment import Segmenter
from ..settings import Settings
from ..store import DocumentStore

# bumped when the files of an index change: 2 = the exact-match index is offsets.bin, ids.txt,
# meta.json and titles.json beside matching.txt; 3 = and the n-gram index (ngrams.sqlite,
# rowids.bin); 4 = the analyzer's classes, pickled into whoosh's files, live in
# speechkit.index.analysis
INDEX_REV = 4
DOCNUM_IDS = "speechkit-ids.json"


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


def read_docnum_ids(folder: Path, reader: Any) -> list[str | None] | None:
    """The saved ids if they describe `reader`'s segments (same generation and size), else None."""
    try:
        saved = json.loads((folder / DOCNUM_IDS).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if saved.get("generation") != reader.generation() or len(saved.get("ids", ())) != reader.doc_count_all():
        return None
    return saved["ids"]


def expected_manifest(store: DocumentStore, seg: Segmenter, have: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the manifest of a current index says. The corpus digest is taken from `have` (the
    index's manifest) when the store's generation shows no document changed since then."""
    generation = store.generation()  # read first: a change while hashing then shows as stale
    if have and have.get("generation") == generation and have.get("store"):
        digest, n = have["store"], have.get("documents", 0)
    else:
        digest, n = store.canonical_digest()
    return {"store": digest, "documents": n, "generation": generation, "segmenter": seg.version,
            "code": f"{__version__}/{INDEX_REV}", "user_lexicon": str(seg.user_lexicon or "")}


def check_current(settings: Settings, store: DocumentStore, seg: Segmenter,
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
