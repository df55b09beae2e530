"""Search, concordance and explanation over the indexes.

Finding is exact: every phrase is looked up in the n-gram index over the matching forms of all
canonical documents (`indexes/text/`, checked on the text where the index alone is not exact),
so the documents returned are exactly those that contain it and counts can be cited. Ranking
is whoosh's BM25F over our tokens, computed on whoosh's posting lists with numpy
(`speechkit.index.bm25`); passages and concordance lines are cut from the cleaned display text
at the offsets found.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from whoosh import scoring

from .context import Context, require_context
from .errors import NotFoundError, SpeechkitError
from .index.bm25 import Scorer
from .index.manifest import check_current, open_whoosh, read_docnum_ids, read_positions
from .index.text import TextIndex
from .matching import matching_form
from .query import FILTER_COLUMNS, And, Filter, Not, Or, Phrase, describe, kwic_phrase, parse, phrases
from .settings import Settings

if TYPE_CHECKING:
    from .segment import Segmenter
    from .store import DocumentStore


@dataclass
class Passage:
    start: int
    end: int
    text: str
    highlights: list[tuple[int, int]]  # offsets within `text`


@dataclass
class Hit:
    id: str
    title: str | None
    date: str | None
    year: int | None
    speaker_role: str | None
    speaker_name: str | None
    level: str | None
    region: str | None
    site: str | None
    score: float
    occurrences: int
    passages: list[Passage] = field(default_factory=list)


@dataclass
class SearchResult:
    query: str
    parsed: str
    total: int
    hits: list[Hit]
    index: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"query": self.query, "parsed": self.parsed, "total": self.total,
                "corpus": self.index.get("store"), "segmenter": self.index.get("segmenter"),
                "hits": [asdict(h) for h in self.hits]}

    def csv_rows(self, first_rank: int = 1) -> list[list[Any]]:
        """A header and one row per hit, with the total, the query and the provenance (what
        `search --csv` and the workbench's download write)."""
        prov = [self.index.get("store"), self.index.get("segmenter")]
        return [["rank", "id", "title", "date", "year", "speaker_role", "speaker_name", "level", "region", "site",
                 "score", "occurrences", "total", "query", "corpus", "segmenter"]] + [
            [rank, h.id, h.title, h.date, h.year, h.speaker_role, h.speaker_name, h.level, h.region, h.site, h.score,
             h.occurrences, self.total, self.parsed, *prov] for rank, h in enumerate(self.hits, start=first_rank)]


@dataclass
class Concordance:
    term: str
    total: int  # every occurrence in the selection, also when `lines` is limited
    lines: list[dict[str, Any]]
    index: dict[str, Any]
    offset: int = 0  # the number of the first line shown, from 0

    def to_json(self) -> dict[str, Any]:
        return {"term": self.term, "total": self.total, "offset": self.offset, "shown": len(self.lines),
                "corpus": self.index.get("store"), "segmenter": self.index.get("segmenter"),
                "lines": self.lines}

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per line, with the total and the provenance (`kwic --csv`)."""
        names = ["left", "keyword", "right", "id", "date", "title", "region", "offset"]
        tail = [self.total, self.index.get("store"), self.index.get("segmenter")]
        return [[*names, "total", "corpus", "segmenter"]] + [[line[n] for n in names] + tail for line in self.lines]


# the filter controls a user is offered: (filter field, metadata column)
FACETS = (("level", "level"), ("speaker", "speaker_role"), ("region", "region"), ("site", "site"))


class SearchBackend(Protocol):
    """What every front end (CLI, workbench, `Workspace`) searches through: the embedded indexes
    (`Searcher`) or the PostgreSQL search table (`PostgresSearcher`), chosen by `open_searcher`
    from the `search` setting. Both find the same sets and count the same totals."""

    settings: Settings
    store: DocumentStore
    segmenter: Segmenter
    manifest: dict[str, Any]  # the corpus digest and segmenter version every result carries

    def find(self, query: str, *, filters: Iterable[Filter] = ()) -> tuple[object, set[str]]:
        """The parsed query and the ids of the speeches it finds."""
        ...

    def search(self, query: str, *, filters: Iterable[Filter] = (), limit: int = 10, offset: int = 0,
               sort: str = "score", passages: int = 3, width: int = 40) -> SearchResult:
        """One page of ranked hits (`sort`: score or date) with highlighted passages; `total` counts all."""
        ...

    def kwic(self, term: str, *, width: int = 20, sort: str = "date", filters: Iterable[Filter] = (),
             limit: int | None = None, offset: int = 0) -> Concordance:
        """Concordance lines of a phrase (`total` counts every occurrence in the selection)."""
        ...

    def facets(self, limit: int = 500) -> dict[str, list[Any]]:
        """The filterable values (level, speaker, region, site) and the first and last year."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> SearchBackend: ...

    def __exit__(self, *exc: object) -> None: ...


class Searcher:
    """Opens the indexes once; use as a context manager."""

    def __init__(self, home: Context, *, check: bool = True) -> None:
        """`home`: the workspace; its store and segmenter are used and stay open after this
        closes. `check`: refuse an index that is not current (the default)."""
        self.home = require_context(home, "Searcher")
        self.settings = self.home.settings
        self.paths = self.home.paths
        self.segmenter = self.home.segmenter
        self.store = self.home.store
        self.manifest = check_current(self.home) if check else {}
        self.text = TextIndex(self.paths, self.manifest.get("text"), (self.manifest.get("stamps") or {}).get("text"))
        self._position_maps: tuple[np.ndarray, np.ndarray] | None = None

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.text.close()
        if "whoosh" in self.__dict__:
            self.whoosh.close()

    def facets(self, limit: int = 500) -> dict[str, list[Any]]:
        """The values of the filterable metadata (level, speaker role, region, site: up to
        `limit` each, sorted) and the first and last year, from the index's columns."""
        # the distinct values the filters' codes hold: no pass over the documents
        distinct = self.text.coded
        out: dict[str, list[Any]] = {name: sorted({v for v in distinct(FILTER_COLUMNS[name])[0][column] if v})[:limit]
                                     for name, column in FACETS}
        years = [y for y in distinct(FILTER_COLUMNS["year"])[0]["year"] if y]
        out["years"] = [min(years), max(years)] if years else []
        return out

    @cached_property
    def whoosh(self):
        return open_whoosh(self.paths, self.manifest).searcher(weighting=scoring.BM25F())

    # --- finding ---------------------------------------------------------------------------
    def _mask(self, node: object) -> np.ndarray:
        """Whether each document of the exact-match index matches `node` (one bool per
        position: NOT, AND and OR over a million documents are then vector operations)."""
        if isinstance(node, Phrase):
            out = np.zeros(len(self.text), dtype=bool)
            out[self.text.containing_positions(node.needle, node.field)] = True
            return out
        if isinstance(node, Filter):
            return self.text.matching_mask(node)
        if isinstance(node, Not):
            return ~self._mask(node.node)
        if isinstance(node, And):
            out = np.ones(len(self.text), dtype=bool)
            for child in sorted(node.nodes, key=lambda c: isinstance(c, Not)):
                out &= self._mask(child)
                if not out.any():
                    break
            return out
        if isinstance(node, Or):
            out = np.zeros(len(self.text), dtype=bool)
            for child in node.nodes:
                out |= self._mask(child)
            return out
        raise SpeechkitError(f"cannot evaluate {node!r}")

    def _find(self, query: str, filters: Iterable[Filter]) -> tuple[object, np.ndarray]:
        node = parse(query)
        filters = list(filters)
        if filters:
            node = And((node, *filters))
        return node, self._mask(node)

    def _found(self, query: str, filters: Iterable[Filter] = ()) -> tuple[object, list[int]]:
        """The parsed query and the positions (in the exact-match index) of the documents it finds."""
        node, mask = self._find(query, filters)
        return node, np.flatnonzero(mask).tolist()

    def find(self, query: str, *, filters: Iterable[Filter] = ()) -> tuple[object, set[str]]:
        """The parsed query and the ids of the speeches it finds."""
        node, found = self._found(query, filters)
        ids = self.text.ids
        return node, {ids[n] for n in found}

    # --- ranking ---------------------------------------------------------------------------
    @cached_property
    def _scorer(self) -> Scorer:
        return Scorer(self.whoosh)

    def _ranked(self, node: object, found: np.ndarray, need: int) -> tuple[list[int], dict[int, float], np.ndarray]:
        """The best `need` of the positions `found` by BM25F (ties by id), their scores, and
        the positions of `found` that no query word scores (a phrase cut across words: they
        follow the scored ones). Every document with a query word is scored, on whole posting
        lists (speechkit.index.bm25): the scores are whoosh's, at a cost that follows the
        postings and not a Python loop over them."""
        terms = []
        for ph in phrases(node):
            for word in self.segmenter.cut(matching_form(ph.text)):
                terms.append(("title" if ph.field == "title" else "body", word))
                if ph.field == "body":
                    terms.append(("title", word))
        if not terms or not len(found):
            return [], {}, found
        docnums = self._positions()[1][found]
        by_docnum = self._scorer.scores(terms)
        scores = np.where(docnums >= 0, by_docnum[docnums], 0.0)  # -1: not in the ranked index
        scored = scores > 0  # a BM25F score of a word that occurs is positive
        best = np.flatnonzero(scored)
        if len(best) > need:  # those at or above the need-th score; ties are broken below
            cut = np.partition(scores[best], len(best) - need)[len(best) - need]
            best = best[scores[best] >= cut]
        ids = self.text.ids
        ranked = sorted(best.tolist(), key=lambda i: (-scores[i], ids[found[i]]))[:need]
        return ([int(found[i]) for i in ranked], {int(found[i]): float(scores[i]) for i in ranked},
                found[~scored])

    @cached_property
    def _date_ranks(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The distinct dates ("" for none), each one's rank in date order, and each document's
        date code: ranked once per searcher."""
        distinct, codes = self.text.coded(("date",))
        dates = [d or "" for d in distinct["date"]]
        rank_of = {d: r for r, d in enumerate(sorted(set(dates)))}
        return dates, np.array([rank_of[d] for d in dates], dtype=np.int64), codes

    def _by_date(self, found: np.ndarray, need: int) -> list[int]:
        """The newest `need` of the positions `found` (ties by id, both descending): the dates
        are ranked once among their distinct values, and only those at or above the need-th
        date are sorted (sorting all 470,000 matches of a frequent word took 0.5 s)."""
        dates, rank, codes = self._date_ranks
        ranks = rank[codes[found]]
        if len(found) > need:
            found = found[ranks >= np.partition(ranks, len(ranks) - need)[len(ranks) - need]]
        ids = self.text.ids
        return sorted(found.tolist(), key=lambda n: (dates[codes[n]], ids[n]), reverse=True)[:need]

    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Each whoosh document number's position in the exact-match index and each position's
        document number (-1: none), read once per searcher from the arrays the build saved;
        built from whoosh's ids when those describe another build (an interrupted one)."""
        if self._position_maps is None:
            reader = self.whoosh.reader()
            maps = read_positions(self.paths.whoosh, reader.generation(), self.text.ids_bytes)
            if maps is None:
                by_id = self.text.by_id
                saved = read_docnum_ids(self.paths.whoosh, reader)
                pairs = enumerate(saved) if saved is not None else (
                    (docnum, fields["id"]) for docnum, fields in reader.iter_docs())
                to_pos = [-1] * reader.doc_count_all()
                to_docnum = [-1] * len(self.text)
                for docnum, i in pairs:
                    if i in by_id:
                        to_pos[docnum], to_docnum[by_id[i]] = by_id[i], docnum
                maps = to_pos, to_docnum
            self._position_maps = (np.asarray(maps[0], dtype=np.int32), np.asarray(maps[1], dtype=np.int32))
        return self._position_maps

    def search(self, query: str, *, filters: Iterable[Filter] = (), limit: int = 10, offset: int = 0,
               sort: str = "score", passages: int = 3, width: int = 40) -> SearchResult:
        node, mask = self._find(query, filters)
        found = np.flatnonzero(mask)
        positive = body_needles(node)
        ids = self.text.ids
        scores: dict[int, float] = {}

        def occurrences(n: int) -> int:
            return sum(self.text.count(n, p) for p in positive)

        if sort == "date":
            order = self._by_date(found, offset + limit)
        else:
            order, scores, unscored = self._ranked(node, found, offset + limit)
            if len(order) < offset + limit:
                # documents whose tokens whoosh did not score (a phrase cut across words) still
                # rank, after the scored ones, by how often they contain the query; counted only
                # when the page reaches them
                order = order + sorted(unscored.tolist(), key=lambda n: (-occurrences(n), ids[n]))
        page = order[offset:offset + limit]
        meta = self.store.metadata_of([ids[n] for n in page])  # the index is current: same as its table
        hits = []
        for n in page:
            d = meta[ids[n]]
            hit = Hit(d["id"], d["title"], d["date"], d["year"], d["speaker_role"], d["speaker_name"],
                      d["level"], d["region"], d["site"], round(scores.get(n, 0.0), 4), occurrences(n))
            if passages and positive:
                hit.passages = self.passages(d["id"], positive, limit=passages, width=width, position=n)
            hits.append(hit)
        return SearchResult(query, describe(node), len(found), hits, self.manifest)

    # --- text around matches ------------------------------------------------------------------
    def offsets(self, doc_id: str, needles: list[str], position: int | None = None
                ) -> tuple[str, list[tuple[int, int]]]:
        """The display text of a document and the (start, end) of every needle in it.
        `position`: the document's place in the exact-match index, whose matching form is
        then read instead of being computed again."""
        (_, text), = self.store.texts([doc_id])
        return text, find_spans(text, needles, self._matching(text, position))

    def _matching(self, text: str, position: int | None) -> str | None:
        """The stored matching form of the document at `position`, if it is `text`'s (same length)."""
        if position is None:
            return None
        match = self.text.text(position)
        return match if len(match) == len(text) else None

    def passages(self, doc_id: str, needles: list[str], *, limit: int = 3, width: int = 40,
                 position: int | None = None) -> list[Passage]:
        text, spans = self.offsets(doc_id, needles, position)
        return _passages(text, spans, limit, width)

    def kwic(self, term: str, *, width: int = 20, sort: str = "date", filters: Iterable[Filter] = (),
             limit: int | None = None, offset: int = 0) -> Concordance:
        """Concordance lines for a phrase across the whole corpus (at most `limit` of them from
        line `offset` on, in the order of `sort`; `total` counts them all)."""
        term = kwic_phrase(term)
        needle = matching_form(term)
        _, found = self._found(f'"{term}"', filters)
        # the found documents' rows only: building every document's row cost O(corpus) a query
        ids, titles = self.text.ids, self.text.titles["title"]
        docs = {ids[n]: n for n in found}
        dates = dict(zip(docs, self.text.values("date", docs.values()), strict=True))
        regions = dict(zip(docs, self.text.values("region", docs.values()), strict=True))
        rows = ((doc_id, text, self._matching(text, docs[doc_id]), dates[doc_id], titles[docs[doc_id]],
                 regions[doc_id]) for doc_id, text in self.store.texts(sorted(docs)))  # only the texts, in batches
        return _concordance(term, rows, needle, width, sort, (offset, limit), self.manifest)

    def explain(self, query: str, *, doc_id: str | None = None, sample: int = 1) -> dict[str, Any]:
        node, positions = self._found(query)
        found = set(positions)
        out: dict[str, Any] = {"query": query, "parsed": describe(node), "total": len(found), "phrases": []}
        for ph in phrases(node):
            m = matching_form(ph.text)
            out["phrases"].append({
                "phrase": ph.text, "field": ph.field, "matching_form": m,
                "segmented": [{"token": w, "lexicon": self.segmenter.is_term(w)}
                              for w in self.segmenter.cut(m)],
                "documents": int(self._mask(ph).sum()),
            })
        if doc_id:
            doc = self.store.get(doc_id)  # a unique prefix is enough; an unknown id is an error
            if doc.id not in self.text.by_id:
                raise NotFoundError(f"{doc.id} is a near-duplicate copy, not indexed: explain its canonical copy "
                                    f"(`speechkit show {doc.id}` names its group)")
            targets = [doc.id]
        else:
            targets = [self.text.ids[n] for n in sorted(found)[:sample]]
        out["documents"] = []
        for target in targets:
            n = self.text.by_id[target]
            needles = [matching_form(p.text) for p in phrases(node) if p.field == "body"]
            text, spans = self.offsets(target, needles)
            if spans:
                s, e = spans[0]
                context = matching_form(text[max(0, s - 15):e + 15])
                seg = [{"token": "|".join(p), "lexicon": self.segmenter.is_term(p[0])}
                       for p in self.segmenter.positions(context)]
            else:
                seg = []
            out["documents"].append({
                "id": target, "matched": n in found,
                "found_at": [{"start": s, "end": e, "text": text[s:e]} for s, e in spans[:10]],
                "sample_segmented": seg,
            })
        return out


def body_needles(node: object) -> list[str]:
    """The matching forms of a parsed query's body phrases: what is highlighted and counted."""
    return [p.needle for p in phrases(node) if p.field == "body"]


def _passages(text: str, spans: list[tuple[int, int]], limit: int, width: int) -> list[Passage]:
    """The `limit` windows of `text` with the most hits, neighbouring hits merged."""
    windows: list[list[int]] = []
    for s, e in spans:
        lo, hi = max(0, s - width), min(len(text), e + width)
        # merge neighbouring hits, but keep a passage a passage (at most ~4 widths long)
        if windows and lo <= windows[-1][1] and hi - windows[-1][0] <= 4 * width:
            windows[-1][1] = max(windows[-1][1], hi)
            windows[-1][2] += 1
        else:
            windows.append([lo, hi, 1])
    best = sorted(sorted(windows, key=lambda w: -w[2])[:limit])
    out = []
    for lo, hi, _ in best:
        inside = [(s - lo, e - lo) for s, e in spans if s >= lo and e <= hi]
        out.append(Passage(lo, hi, text[lo:hi], inside))
    return out


def _concordance(term: str, rows: Iterable[tuple[str, str, str | None, str | None, str | None, str | None]],
                 needle: str, width: int, sort: str, window: tuple[int, int | None],
                 index: dict[str, Any]) -> Concordance:
    """KWIC lines of `needle` in (id, display text, matching form or None, date, title, region)
    rows; `window`: (first line, number of lines or None for all) of the sorted lines."""
    lines = []
    for doc_id, text, match, date, title, region in rows:
        for s, e in find_spans(text, [needle], match):
            lines.append({"left": text[max(0, s - width):s].replace("\n", " "), "keyword": text[s:e],
                          "right": text[e:e + width].replace("\n", " "), "id": doc_id, "date": date,
                          "title": title, "region": region, "offset": s})
    keyfn = {
        "left": lambda x: (x["left"][::-1], x["date"] or "", x["id"], x["offset"]),
        "right": lambda x: (x["right"], x["date"] or "", x["id"], x["offset"]),
        "date": lambda x: (x["date"] or "", x["id"], x["offset"]),
    }[sort]
    lines.sort(key=keyfn)
    first, limit = window
    shown = lines[first:first + limit] if limit else lines[first:]
    return Concordance(term, len(lines), shown, index, first)


def find_spans(text: str, needles: list[str], match: str | None = None) -> list[tuple[int, int]]:
    """(start, end) of every needle in the matching form of `text` (`match`, when the caller
    has it); the matching form has the text's length, so these are offsets into the display
    text too."""
    match = matching_form(text) if match is None else match
    spans = []
    for needle in needles:
        start = match.find(needle)
        while start != -1 and needle:
            spans.append((start, start + len(needle)))
            start = match.find(needle, start + len(needle))
    return sorted(spans)


class PostgresSearcher:
    """The same `search` and `kwic` on the PostgreSQL server's search table (speechkit.pgsearch):
    the same query language, the same sets and totals; ranked over sections, not by BM25F
    over words (speechkit.pgsearch)."""

    def __init__(self, home: Context) -> None:
        from .pgsearch import SearchTable

        self.home = require_context(home, "PostgresSearcher")
        self.settings, self.store, self.segmenter = self.home.settings, self.home.store, self.home.segmenter
        want = self.home.expected_manifest()
        self.server = SearchTable(self.settings).for_searching()
        try:
            self.server.check(want["store"], want["segmenter"])
        except BaseException:
            self.server.close()
            raise
        self.manifest = {"store": want["store"], "segmenter": want["segmenter"], "backend": "postgresql"}

    def __enter__(self) -> PostgresSearcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.close()

    def find(self, query: str, *, filters: Iterable[Filter] = ()) -> tuple[object, set[str]]:
        """The parsed query and the ids of the speeches it finds."""
        return self.server.find(query, filters)

    def search(self, query: str, *, filters: Iterable[Filter] = (), limit: int = 10, offset: int = 0,
               sort: str = "score", passages: int = 3, width: int = 40) -> SearchResult:
        node = parse(query)
        filters = list(filters)
        if filters:
            node = And((node, *filters))
        positive = body_needles(node)
        total, rows = self.server.ranked(node, positive, limit=limit, offset=offset, sort=sort)
        texts = dict(self.store.texts([r["id"] for r in rows])) if passages and positive else {}
        hits = []
        for r in rows:
            hit = Hit(r["id"], r["title"], r["date"], r["year"], r["speaker_role"], r["speaker_name"], r["level"],
                      r["region"], r["site"], round(float(r["score"]), 4), sum(r["match"].count(p) for p in positive))
            if r["id"] in texts:
                text = texts[r["id"]]
                hit.passages = _passages(text, find_spans(text, positive, r["match"]), passages, width)
            hits.append(hit)
        return SearchResult(query, describe(node), total, hits, self.manifest)

    def facets(self, limit: int = 500) -> dict[str, list[Any]]:
        """As `Searcher.facets`, from the search table's columns."""
        return self.server.facets(FACETS, limit)

    def kwic(self, term: str, *, width: int = 20, sort: str = "date", filters: Iterable[Filter] = (),
             limit: int | None = None, offset: int = 0) -> Concordance:
        term = kwic_phrase(term)
        node = parse(f'"{term}"')
        filters = list(filters)
        if filters:
            node = And((node, *filters))
        rows = list(self.server.matching_rows(node, "id, date, title, region, match"))
        texts = dict(self.store.texts([r["id"] for r in rows]))
        return _concordance(term, ((r["id"], texts[r["id"]], r["match"], r["date"], r["title"], r["region"])
                                   for r in rows), matching_form(term.strip()), width, sort, (offset, limit),
                            self.manifest)


def open_searcher(home: Context) -> SearchBackend:
    """The searcher the workspace's `search` setting names: the embedded indexes (local), or
    the PostgreSQL server's search table (server)."""
    home = require_context(home, "open_searcher")
    return PostgresSearcher(home) if home.settings.search == "server" else Searcher(home)
