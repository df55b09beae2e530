"""One workspace on disk, opened once: its frozen settings (with the user lexicon), the store,
one segmenter, the layout of its indexes and the provenance every output carries.

Every stage (ingest, the index build, the searchers, `Corpus` and the analyses) takes this one
object (`speechkit.Workspace` is one), so a command opens the store and builds the segmenter
once however many parts it uses. Settings alone are not accepted: `Context(settings)` makes one.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from .errors import SpeechkitError, StoreError
from .paths import Paths
from .provenance import expected_manifest, read_manifest
from .segment import Segmenter
from .settings import Settings, load_settings
from .store import DocumentStore, Store


def open_store(settings: Settings, *, create: bool = True) -> DocumentStore:
    """The workspace's store: PostgreSQL when `settings.store` is a postgresql:// URL, else
    the SQLite file in DIR/corpus/."""
    if settings.store_url:
        from .pgstore import PgStore

        return PgStore(settings.store_url, create=create)
    if settings.store:
        raise StoreError(f"store {settings.store!r} is not a postgresql:// URL; leave it empty for the SQLite file")
    return Store(settings.store_path, create=create)


class Context:
    """The one context object every stage takes: a workspace's settings, store, segmenter,
    index paths and provenance, each made on first use. `speechkit.Workspace` is a Context with
    a method per stage (it lives at the top layer because those methods import every stage).
    Close it (or use it as a context manager) to close its store."""

    def __init__(self, settings: Settings, *, lexicon: str | os.PathLike[str] | None = None) -> None:
        """`lexicon`: a user lexicon for this workspace, in place of the `lexicon` setting."""
        if lexicon:
            settings = dataclasses.replace(settings, lexicon=str(Path(lexicon).resolve()))
        self.settings = settings
        self.lexicon = str(settings.lexicon_path) if settings.lexicon_path else None
        self.paths = Paths(settings.index_dir)
        self._store: DocumentStore | None = None
        self._segmenter: Segmenter | None = None
        self._expected: dict[str, Any] | None = None

    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None, *, lexicon: str | None = None,
             **overrides: Any) -> Context:
        """The workspace at `home` ($SPEECHKIT_HOME or the current directory by default);
        keyword arguments override settings (workers=1, …)."""
        return cls(load_settings(home, **overrides), lexicon=lexicon)

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def store(self) -> DocumentStore:
        """The store, opened once; a workspace without one is a one-line error with the fix."""
        if self._store is None:
            self._store = open_store(self.settings, create=False)
        return self._store

    @property
    def segmenter(self) -> Segmenter:
        """The one segmenter: jieba with the shipped and user lexicons; short texts (queries,
        sentences) are cut with the index's saved dictionary, without loading all of jieba's."""
        if self._segmenter is None:
            self._segmenter = Segmenter(self.lexicon, dictionary=self.paths.dictionary)
        return self._segmenter

    def expected_manifest(self) -> dict[str, Any]:
        """What a current index's manifest says. The corpus digest (one pass over the store's
        canonical rows) is computed again only when the store's generation moved since the
        last call or since the index was built."""
        generation = self.store.generation()
        if self._expected is None or self._expected["generation"] != generation:
            try:
                have = read_manifest(self.paths) if self.paths.manifest.exists() else None
            except SpeechkitError:
                have = None
            self._expected = expected_manifest(self.store, self.segmenter, have)
        return self._expected

    def provenance(self) -> dict[str, str]:
        """What every exported result carries: the corpus digest and the segmenter version."""
        want = self.expected_manifest()
        return {"corpus": want["store"], "documents_in_corpus": str(want["documents"]),
                "segmenter": want["segmenter"]}



def require_context(home: object, stage: str) -> Context:
    """`home`, checked: a stage given plain settings says how to make the workspace."""
    if not isinstance(home, Context):
        raise TypeError(f"{stage} takes a workspace (speechkit.Workspace or speechkit.context.Context), "
                        f"not {type(home).__name__}: wrap settings as Workspace(settings)")
    return home
