"""The library's front door: one workspace (DIR/corpus/speechkit.db and DIR/indexes/), its
settings read once, and every stage as a method.

>>> import speechkit
>>> ws = speechkit.Workspace("my-corpus")            # doctest: +SKIP
>>> ws.ingest(["scraped/"]); ws.index()               # doctest: +SKIP
>>> ws.search("营商环境", filters="year:2019..2023").total   # doctest: +SKIP
>>> ws.trend(["营商环境", "放管服"]).rows[:3]            # doctest: +SKIP

Selections are given as the query language's filters (`"year:2019..2023 level:province"`),
the same text the command line takes after `--filter`. Results are the dataclasses the
commands print; each has `to_json()` with the corpus digest and segmenter version.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .context import Context
from .query import selection_filters
from .settings import Settings, load_settings

if TYPE_CHECKING:
    from .corpus import Corpus
    from .documents import Progress
    from .index.build import IndexReport
    from .ingest import IngestReport
    from .search import Concordance, SearchBackend, SearchResult


class Workspace(Context):
    """A workspace on disk. `home` defaults to $SPEECHKIT_HOME or the current directory;
    keyword arguments override settings (workers=1, max_file_mb=50, …). Its store and
    segmenter are opened once and shared by every method; close it (or use `with`) when done."""

    def __init__(self, home: str | os.PathLike[str] | Settings | None = None, *, lexicon: str | None = None,
                 **overrides: Any) -> None:
        """`home`: a folder, or settings already read (then `overrides` must be empty)."""
        if isinstance(home, Settings):
            if overrides:
                raise TypeError("pass overrides to load_settings, not with settings already read")
            super().__init__(home, lexicon=lexicon)
        else:
            super().__init__(load_settings(home, **overrides), lexicon=lexicon)

    def __repr__(self) -> str:
        return f"Workspace({str(self.settings.home)!r})"

    # --- building ------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | os.PathLike[str]], *, fields: dict[str, str] | None = None,
               prune: bool = False, force: bool = False, progress: Progress | None = None) -> IngestReport:
        """Clean, split, describe and de-duplicate the files under `paths` into the store.
        `fields` maps our fields to a dump's columns ({"text": "content_html"})."""
        from .ingest import ingest

        return ingest([str(p) for p in paths], self, field_map=fields, prune=prune, force=force,
                      progress=progress)

    def index(self, *, rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
        from .index.build import build_index

        return build_index(self, rebuild=rebuild, progress=progress)

    def check_index(self) -> dict[str, list[str]]:
        """Every file of the index hashed and compared with what its build recorded:
        {"whoosh" | "text": damaged or missing files}, empty when the index is whole."""
        from .index.manifest import damaged_parts
        from .provenance import read_manifest

        return damaged_parts(self.paths, read_manifest(self.paths, required=True), always_hash=True)

    # --- finding -------------------------------------------------------------------------
    @contextlib.contextmanager
    def searcher(self) -> Iterator[SearchBackend]:
        """The searcher the `search` setting names (this workspace's indexes, or the PostgreSQL
        server's search table), opened once for many queries: the one the CLI and the
        workbench use."""
        from .search import open_searcher

        with open_searcher(self) as s:
            yield s

    def search(self, query: str, *, filters: str | None = None, **kwargs: Any) -> SearchResult:
        with self.searcher() as s:
            return s.search(query, filters=selection_filters(filters), **kwargs)

    def kwic(self, term: str, *, filters: str | None = None, **kwargs: Any) -> Concordance:
        with self.searcher() as s:
            return s.kwic(term, filters=selection_filters(filters), **kwargs)

    # --- analysing -----------------------------------------------------------------------
    @contextlib.contextmanager
    def corpus(self) -> Iterator[Corpus]:
        from .corpus import Corpus

        with Corpus(self) as c:
            yield c

    def trend(self, terms: Sequence[str], *, filters: str | None = None, **kwargs: Any):
        from .trends import trend

        with self.corpus() as c:
            return trend(c, list(terms), filters=selection_filters(filters), **kwargs)

    def compare(self, a: str, b: str, **kwargs: Any):
        from .keyness import compare

        with self.corpus() as c:
            return compare(c, selection_filters(a), selection_filters(b), label_a=a, label_b=b, **kwargs)

    def collocates(self, term: str, *, filters: str | None = None, **kwargs: Any):
        from .keyness import collocates

        with self.corpus() as c:
            return collocates(c, term, filters=selection_filters(filters), **kwargs)

    def topics(self, *, filters: str | None = None, **kwargs: Any):
        """Themes over passages (`speechkit topics`)."""
        from .topics import themes

        with self.corpus() as c:
            return themes(c, filters=selection_filters(filters), selection=filters or "", **kwargs)

    def cluster(self, *, filters: str | None = None, **kwargs: Any):
        """Clusters of whole speeches (`speechkit cluster`)."""
        from .clusters import cluster

        with self.corpus() as c:
            return cluster(c, filters=selection_filters(filters), selection=filters or "", **kwargs)

    def diff(self, a: str, b: str, **kwargs: Any):
        """What changed from A to B: speech ids or selections."""
        from .diff import diff

        with self.corpus() as c:
            return diff(c, a, b, **kwargs)

    def similar(self, doc_id: str, *, filters: str | None = None, **kwargs: Any):
        from .clusters import similar

        with self.corpus() as c:
            return similar(c, doc_id, filters=selection_filters(filters), **kwargs)

    def spread(self, term: str, *, filters: str | None = None, **kwargs: Any):
        """Where `term` was first used in each region (or city, or level), the adoption curve,
        and whether the centre led or followed (`speechkit spread`)."""
        from .spread import spread

        with self.corpus() as c:
            return spread(c, term, filters=selection_filters(filters), **kwargs)

    def reuse(self, source: str, target: str, **kwargs: Any):
        """Passages of the target speeches that reproduce passages of the source ones (ids or
        selections; `lag=(0, 1)`: sources of the target's year and the year before)."""
        from .reuse import reuse

        with self.corpus() as c:
            return reuse(c, source, target, **kwargs)
