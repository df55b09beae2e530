"""What every result and every index names as its source: the corpus digest, the segmenter and
lexicon version and the code version (the "expected manifest"), and the index manifest that
recorded them. Read by the workspace for provenance and by the index for its freshness."""

from __future__ import annotations

import json
from typing import Any

from ._version import __version__
from .errors import IndexError_
from .paths import Paths
from .segment import Segmenter
from .store import DocumentStore

# bumped when the files of an index change: 2 = the exact-match index is offsets.bin, ids.txt,
# meta.json and titles.json beside matching.txt; 3 = and the n-gram index (ngrams.sqlite,
# rowids.bin); 4 = the analyzer's classes, pickled into whoosh's files, live in
# speechkit.index.analysis
INDEX_REV = 4


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


def read_manifest(paths: Paths, *, required: bool = False) -> dict[str, Any]:
    """The index's manifest; a damaged one is a one-line error with the fix, and so is a
    missing one when `required` (a command that reads an index)."""
    if required and not paths.manifest.exists():
        raise IndexError_(f"no index in {paths.root}; run `speechkit index` first")
    try:
        data = json.loads(paths.manifest.read_text("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    except (OSError, ValueError) as exc:
        raise IndexError_(f"the index manifest {paths.manifest} cannot be read ({exc}); "
                          "run `speechkit index --rebuild`") from None
