"""`speechkit serve`: a local, read-only research workbench in the browser, on the library.

The workspace and its indexes are opened once per process, so a query costs what it costs in
process, not a command's start-up. Every page keeps its state in its URL; every download
carries the corpus digest and segmenter version. Scraped text is hostile: every value reaches
the page through Jinja2's autoescaping (highlights are built as escaped segments, never as
HTML strings), and query input goes only to speechkit's own query parser.

Endpoints run on the event loop's one thread, one at a time: the SQLite store and the
segmenter are not shared across threads, and a query takes tens of milliseconds.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .csvsafe import spreadsheet_safe
from .errors import NotFoundError, SpeechkitError
from .query import selection_filters
from .search import SearchBackend, body_needles, find_spans, open_searcher
from .settings import Settings
from .workspace import Workspace

FILTERS = ("year_from", "year_to", "level", "speaker", "region", "site")
PAGE = 20
EVERY = 2**31 - 1  # "no limit" for a search: every hit (a LIMIT PostgreSQL takes as well)
KWIC_PAGE = 200  # concordance lines a page shows; the CSV download has them all


def selection(params: Any) -> str:
    """The filter text of a page's form fields (year range, level, speaker role, region, site).

    >>> selection({"year_from": "2015", "year_to": "2020", "level": "province", "site": ""})
    'year:2015..2020 level:province'
    """
    parts = []
    lo, hi = (params.get("year_from") or "").strip(), (params.get("year_to") or "").strip()
    if lo or hi:
        parts.append(f"year:{lo}..{hi}" if lo != hi else f"year:{lo}")
    for name in ("level", "speaker", "region", "site"):
        value = (params.get(name) or "").strip()
        if value:
            # a value with a space would end the filter: quote it as the query language does
            parts.append(f'{name}:"{value}"' if any(c.isspace() for c in value) else f"{name}:{value}")
    return " ".join(parts)


def marked(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut into (segment, highlighted) pairs at `spans` (overlaps merged), for a template
    to escape and wrap: no HTML is ever built from the text.

    >>> marked("优化营商环境", [(2, 6)])
    [('优化', False), ('营商环境', True)]
    """
    out, last = [], 0
    for s, e in sorted(spans):
        if e <= last:
            continue
        s = max(s, last)
        if s > last:
            out.append((text[last:s], False))
        out.append((text[s:e], True))
        last = e
    if last < len(text):
        out.append((text[last:], False))
    return out


def _csv(rows: list[list[Any]], filename: str, request: Request) -> Response:
    """A CSV download; with `excel=1` it starts with a UTF-8 byte order mark, which Excel needs to
    read the Chinese as UTF-8."""
    buf = io.StringIO()
    if request.query_params.get("excel") == "1":
        buf.write("\ufeff")
    writer = csv.writer(buf)
    for row in rows:
        writer.writerow([spreadsheet_safe(v) for v in row])
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def year_chart(values: dict[str, dict[int, float]], span: Iterable[int] = (), *,
               mark: tuple[int, str] | None = None) -> dict[str, Any] | None:
    """`trend_svg` of series given as {label: {year: value}}, over every year from the first to
    the last (of the values and of `span`): a year a series has no value for is a gap, never a zero.

    >>> [p["year"] for p in year_chart({"a": {2001: 1.0, 2003: 2.0}})["lines"][0]["points"]]
    [2001, 2003]
    """
    known = [y for points in values.values() for y in points] + list(span)
    if not known:
        return None
    years = list(range(min(known), max(known) + 1))
    return trend_svg(years, {label: [points.get(y) for y in years] for label, points in values.items()}, mark=mark)


def trend_svg(years: list[int], series: dict[str, list[float | None]], *, width: int = 720,
              height: int = 300, mark: tuple[int, str] | None = None) -> dict[str, Any]:
    """Coordinates for a line chart of rates by year: a point per year that has speeches, a gap
    (a new line) where a year has none, and `mark` (year, label) as a vertical line. Returned as
    numbers for the template to draw."""
    pad_l, pad_r, pad_t, pad_b = 56, 16, 16, 36  # the legend is HTML below the chart
    top = max((v for vals in series.values() for v in vals if v is not None), default=0.0) or 1.0
    span = max(1, (years[-1] - years[0]) if years else 1)

    def x(year: int) -> float:
        return round(pad_l + (year - years[0]) * (width - pad_l - pad_r) / span, 1)

    def y(value: float) -> float:
        return round(height - pad_b - value * (height - pad_t - pad_b) / top, 1)

    lines = []
    for n, (term, vals) in enumerate(series.items()):
        runs, run, points = [], [], []
        for year, v in zip(years, vals, strict=True):
            if v is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((x(year), y(v)))
            points.append({"x": x(year), "y": y(v), "year": year, "value": v})
        if run:
            runs.append(run)
        # ten colours, then the same ten dashed and dotted: no two of 30 series look alike
        lines.append({"term": term, "colour": n % 10, "dash": n // 10 % 3,
                      "paths": [" ".join(f"{px},{py}" for px, py in r) for r in runs], "points": points})
    ticks_y = [{"y": y(top * k / 4), "label": f"{top * k / 4:.2f}"} for k in range(5)]
    step = max(1, len(years) // 10)
    ticks_x = [{"x": x(yr), "label": yr} for yr in years[::step]]
    marker = {"x": x(mark[0]), "label": mark[1], "year": mark[0]} if mark and years[0] <= mark[0] <= years[-1] else None
    return {"width": width, "height": height, "lines": lines, "ticks_x": ticks_x, "ticks_y": ticks_y,
            "left": pad_l, "bottom": height - pad_b, "right": width - pad_r, "legend": width - pad_r + 8,
            "marker": marker}


class Workbench:
    """The app's state: one workspace and its searcher, opened lazily and kept."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ws = Workspace(settings)
        self._searcher: SearchBackend | None = None
        self._opened_at: int | None = None  # the store's generation when the searcher was opened
        self._cache: dict[tuple[Any, ...], Any] = {}  # the last analyses: a page, then its CSV, costs one run
        self.templates = Environment(loader=PackageLoader("speechkit", "templates"),
                                     autoescape=select_autoescape(default=True, default_for_string=True))

    def searcher(self) -> SearchBackend:
        """The searcher the workspace's `search` setting names (the embedded indexes, or the
        PostgreSQL server's search table), reopened when the store has changed since (a stale
        index is then refused, with the fix)."""
        generation = self.ws.store.generation()
        if self._searcher is None or self._opened_at != generation:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self._searcher = open_searcher(self.ws)
            self._opened_at = generation
        return self._searcher

    def cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`, remembered for the same key while the store is unchanged (16 at most)."""
        key = (self.ws.store.generation(), *key)
        if key not in self._cache:
            if len(self._cache) >= 16:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = compute()
        return self._cache[key]

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
        self.ws.close()

    def page(self, name: str, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(request=request, params=request.query_params,
                                                        home=str(self.settings.home), **context)
        return HTMLResponse(html, status_code=status)

    def provenance(self, s: SearchBackend) -> dict[str, Any]:
        return {"corpus": s.manifest.get("store"), "segmenter": s.manifest.get("segmenter")}


Handler = Callable[[Workbench, Request], Awaitable[Response]]


def _page(fn: Handler, api: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A route: speechkit's one-line errors become a page (or JSON) that says the fix, never a 500."""
    async def endpoint(request: Request) -> Response:
        bench: Workbench = request.app.state.bench
        try:
            return await fn(bench, request)
        except NotFoundError as exc:
            status, message = 404, str(exc)
        except SpeechkitError as exc:
            status, message = 400, str(exc)
            if "speechkit index" in message or "speechkit ingest" in message:
                status = 503  # a missing or stale index: the message names the command
        if api or request.url.path.endswith(".csv"):
            return JSONResponse({"error": message}, status_code=status)
        return bench.page("error.html", request, status=status, message=message)
    return endpoint


def _given(result: Any, usage: str) -> Any:
    """`result`, or the one-line error that says what the endpoint needs."""
    if result is None:
        raise SpeechkitError(f"give {usage}")
    return result


def _int(params: Any, name: str, default: int, lo: int = 0, hi: int = 10**6) -> int:
    try:
        return min(hi, max(lo, int(params.get(name, default))))
    except ValueError:
        raise SpeechkitError(f"{name} must be a whole number") from None


# --- search ------------------------------------------------------------------------------------
def _search(bench: Workbench, params: Any, *, whole: bool = False) -> tuple[SearchBackend, Any, str]:
    """One page of PAGE hits (`page`) with passages, or with `whole` every hit without them (the
    CSV download)."""
    q = (params.get("q") or "").strip()
    sel = selection(params)
    s = bench.searcher()
    if not q:
        return s, None, sel
    page = _int(params, "page", 1, 1)
    sort = params.get("sort") if params.get("sort") in ("score", "date") else "score"
    if whole:
        return s, s.search(q, filters=selection_filters(sel), limit=EVERY, sort=sort, passages=0), sel
    result = s.search(q, filters=selection_filters(sel), limit=PAGE, offset=(page - 1) * PAGE, sort=sort,
                      passages=_int(params, "passages", 3, 0, 10))
    return s, result, sel


async def search_page(bench: Workbench, request: Request) -> Response:
    s, result, sel = _search(bench, request.query_params)
    hits = []
    for h in (result.hits if result else []):
        hits.append({"hit": h, "passages": [marked(p.text, [(a, b) for a, b in p.highlights]) for p in h.passages]})
    page = _int(request.query_params, "page", 1, 1)
    pages = (result.total + PAGE - 1) // PAGE if result else 0
    return bench.page("search.html", request, result=result, hits=hits, selection=sel, page=page, pages=pages,
                      prov=bench.provenance(s), facets=s.facets())


async def api_search(bench: Workbench, request: Request) -> Response:
    _, result, _ = _search(bench, request.query_params)
    return JSONResponse(_given(result, "a query: /api/search?q=…").to_json())


async def search_csv(bench: Workbench, request: Request) -> Response:
    """Every matching speech (not one page), ranked as the page ranks them."""
    result = _given(_search(bench, request.query_params, whole=True)[1], "a query: /search.csv?q=…")
    return _csv(result.csv_rows(), "search.csv", request)


# --- one document ------------------------------------------------------------------------------
async def document_page(bench: Workbench, request: Request) -> Response:
    doc = _document(bench, request)
    q = (request.query_params.get("q") or "").strip()
    needles = _needles(bench, q)
    group = []
    if doc.dup_group:
        group = [d for d in bench.ws.store.group_members(doc.dup_group) if d["id"] != doc.id]
    text = doc.text
    segments = marked(text, find_spans(text, needles)) if needles else [(text, False)]
    return bench.page("document.html", request, doc=doc, segments=segments, q=q, group=group,
                      hits=sum(1 for _, m in segments if m),
                      original=request.query_params.get("original") == "1")


def _document(bench: Workbench, request: Request) -> Any:
    return bench.ws.store.get(request.path_params["doc_id"])


def _needles(bench: Workbench, q: str) -> list[str]:
    """What to highlight in a document opened from a query (nothing for a malformed one)."""
    from .query import parse

    try:
        return body_needles(parse(q)) if q else []
    except SpeechkitError:
        return []


async def api_document(bench: Workbench, request: Request) -> Response:
    record = _document(bench, request).to_record()
    if request.query_params.get("original") != "1":
        record.pop("original", None)
    return JSONResponse(record)


async def similar_page(bench: Workbench, request: Request) -> Response:
    from .clusters import similar, tfidf

    doc = _document(bench, request)
    with bench.ws.corpus() as corpus:
        # the TF-IDF matrix is kept for the next speech; the server never writes indexes/tfidf/
        model = bench.cached(("tfidf",), lambda: tfidf(corpus, save=False))
        result = similar(corpus, doc.id, limit=_int(request.query_params, "limit", 10, 1, 50), model=model)
    return bench.page("similar.html", request, doc=doc, result=result)


# --- concordance -------------------------------------------------------------------------------
def _kwic(bench: Workbench, params: Any, *, whole: bool = False
          ) -> tuple[SearchBackend, Any, int, int]:
    """One page of `limit` (KWIC_PAGE) lines, or with `whole` every line (the CSV download); and
    the page's number and the number of pages."""
    term = (params.get("term") or "").strip()
    s = bench.searcher()
    page, size = _int(params, "page", 1, 1), _int(params, "limit", KWIC_PAGE, 1, 100000)
    if not term:
        return s, None, page, 0
    sort = params.get("sort") if params.get("sort") in ("left", "right", "date") else "date"
    result = s.kwic(term, width=_int(params, "width", 20, 1, 200), sort=sort,
                    filters=selection_filters(selection(params)), limit=None if whole else size,
                    offset=0 if whole else (page - 1) * size)
    return s, result, page, (result.total + size - 1) // size


async def kwic_page(bench: Workbench, request: Request) -> Response:
    s, result, page, pages = _kwic(bench, request.query_params)
    return bench.page("kwic.html", request, result=result, selection=selection(request.query_params),
                      prov=bench.provenance(s), facets=s.facets(), page=page, pages=pages)


async def api_kwic(bench: Workbench, request: Request) -> Response:
    result = _kwic(bench, request.query_params)[1]
    return JSONResponse(_given(result, "a term: /api/kwic?term=…").to_json())


async def kwic_csv(bench: Workbench, request: Request) -> Response:
    result = _kwic(bench, request.query_params, whole=True)[1]
    return _csv(_given(result, "a term: /kwic.csv?term=…").csv_rows(), "kwic.csv", request)


# --- trends ------------------------------------------------------------------------------------
def _trend(bench: Workbench, params: Any) -> Any:
    terms = [t for t in (params.get("terms") or "").replace("，", ",").replace(",", " ").split() if t]
    if not terms:
        return None
    by = params.get("by") if params.get("by") in ("year", "level", "speaker_role") else "year"
    sel = selection(params) or None
    return bench.cached(("trend", tuple(terms), sel, by), lambda: bench.ws.trend(terms, filters=sel, by=by))


async def trend_page(bench: Workbench, request: Request) -> Response:
    result = _trend(bench, request.query_params)
    chart = None
    if result is not None and result.by == "year":
        count = request.query_params.get("measure") == "count"  # raw occurrences instead of the rate
        values: dict[str, dict[int, float]] = {t: {} for t in result.terms}
        dated = [r for r in result.rows if str(r.bucket).isdigit()]  # not "(unknown)"
        for r in dated:
            if r.total_documents:  # a year without speeches in the selection stays a gap
                values[r.term][int(r.bucket)] = r.occurrences if count else r.rate_per_10k
        chart = year_chart(values, (int(r.bucket) for r in dated))
    s = bench.searcher()
    return bench.page("trend.html", request, result=result, chart=chart, selection=selection(request.query_params),
                      facets=s.facets())


async def api_trend(bench: Workbench, request: Request) -> Response:
    result = _given(_trend(bench, request.query_params), "terms: /api/trend?terms=营商环境,放管服")
    return JSONResponse(result.to_json())


async def trend_csv(bench: Workbench, request: Request) -> Response:
    result = _given(_trend(bench, request.query_params), "terms: /trend.csv?terms=…")
    return _csv(result.csv_rows(), "trend.csv", request)


# --- keyness ------------------------------------------------------------------------------------
def _compare(bench: Workbench, params: Any) -> Any:
    a, b = (params.get("a") or "").strip(), (params.get("b") or "").strip()
    if not (a and b):
        return None
    top, min_freq = _int(params, "top", 30, 1, 500), _int(params, "min_freq", 5, 1)
    return bench.cached(("compare", a, b, top, min_freq),
                        lambda: bench.ws.compare(a, b, top=top, min_freq=min_freq))


async def compare_page(bench: Workbench, request: Request) -> Response:
    result = _compare(bench, request.query_params)
    sides = {}
    if result is not None:
        sides = {label: [w for w in result.words if w.side == label] for label in (result.a, result.b)}
    return bench.page("compare.html", request, result=result, sides=sides)


async def api_compare(bench: Workbench, request: Request) -> Response:
    result = _given(_compare(bench, request.query_params),
                    "two selections: /api/compare?a=year:2008..2012&b=year:2019..2023")
    return JSONResponse(result.to_json())


async def compare_csv(bench: Workbench, request: Request) -> Response:
    result = _given(_compare(bench, request.query_params), "two selections: /compare.csv?a=…&b=…")
    return _csv(result.csv_rows(), "compare.csv", request)


# --- spread (policy diffusion) --------------------------------------------------------------------
def _spread(bench: Workbench, params: Any) -> Any:
    term = (params.get("term") or "").strip()
    if not term:
        return None
    by = params.get("by") if params.get("by") in ("region", "city", "level") else "region"
    sel = selection(params) or None
    return bench.cached(("spread", term, by, sel), lambda: bench.ws.spread(term, filters=sel, by=by))


def spread_grid(result: Any) -> dict[str, Any]:
    """The region × year grid of the spread page: each unit's row (in order of first use, then
    the units that never used it), each year from a few before the first use to the last, and
    each cell `first` (the year of its first use), `using` (after it) or empty (before it, or
    never)."""
    firsts = [f.year for f in result.first_uses] + ([result.national["year"]] if result.national else [])
    if not result.curve or not firsts:
        return {"years": [], "rows": []}
    years = list(range(max(result.curve[0]["year"], min(firsts) - 2), result.curve[-1]["year"] + 1))
    rows = []
    if result.national:
        rows.append({"unit": "全国 (centre)", "first": result.national["year"], "id": result.national["id"]})
    rows += [{"unit": f.unit, "first": f.year, "id": f.id} for f in result.first_uses]
    rows += [{"unit": u, "first": None, "id": None} for u in result.never]
    for row in rows:
        row["cells"] = ["" if row["first"] is None or y < row["first"] else "first" if y == row["first"] else "using"
                        for y in years]
    return {"years": years, "rows": rows}


async def spread_page(bench: Workbench, request: Request) -> Response:
    result = _spread(bench, request.query_params)
    chart = grid = None
    if result is not None:
        grid = spread_grid(result)
        if grid["years"]:
            shares = {p["year"]: p["share"] for p in result.curve if p["year"] >= grid["years"][0]}
            mark = (result.national["year"], f"centre {result.national['year']}") if result.national else None
            chart = year_chart({"share of units that had used it": shares}, mark=mark)
    return bench.page("spread.html", request, result=result, chart=chart, grid=grid,
                      selection=selection(request.query_params), facets=bench.searcher().facets())


async def api_spread(bench: Workbench, request: Request) -> Response:
    return JSONResponse(_given(_spread(bench, request.query_params), "a term: /api/spread?term=河长制").to_json())


async def spread_csv(bench: Workbench, request: Request) -> Response:
    result = _given(_spread(bench, request.query_params), "a term: /spread.csv?term=…")
    return _csv(result.csv_rows(), "spread.csv", request)


# --- reuse ----------------------------------------------------------------------------------------
def _reuse(bench: Workbench, params: Any) -> Any:
    source, target = (params.get("source") or "").strip(), (params.get("target") or "").strip()
    if not (source and target):
        return None
    from .reuse import parse_lag

    lag = parse_lag(params.get("lag"))
    min_chars = _int(params, "min_chars", 30, 10, 1000)
    return bench.cached(("reuse", source, target, lag, min_chars),
                        lambda: bench.ws.reuse(source, target, lag=lag, min_chars=min_chars))


def side_by_side(bench: Workbench, target: Any, context: int = 40) -> list[dict[str, Any]]:
    """Each reused span of one target with the text around it in the target and in its source:
    (before, passage, after) on both sides, cut from the display texts at the same offsets."""
    ids = [target.id, *{s.source for s in target.spans}]
    texts = dict(bench.ws.store.texts(ids))

    def around(text: str, a: int, e: int) -> tuple[str, str, str]:
        return text[max(0, a - context):a], text[a:e], text[e:e + context]

    return [{"span": s, "target": around(texts[target.id], s.target_start, s.target_end),
             "source": around(texts[s.source], s.source_start, s.source_end)} for s in target.spans]


async def reuse_page(bench: Workbench, request: Request) -> Response:
    result = _reuse(bench, request.query_params)
    pairs = None
    if result is not None and len(result.targets) == 1:
        pairs = side_by_side(bench, result.targets[0])
    return bench.page("reuse.html", request, result=result, pairs=pairs,
                      limit=_int(request.query_params, "limit", 50, 1, 10_000))


async def api_reuse(bench: Workbench, request: Request) -> Response:
    usage = "a source and a target: /api/reuse?source=level:national&target=level:province&lag=0..1"
    return JSONResponse(_given(_reuse(bench, request.query_params), usage).to_json())


async def reuse_csv(bench: Workbench, request: Request) -> Response:
    result = _given(_reuse(bench, request.query_params), "a source and a target: /reuse.csv?source=…&target=…")
    return _csv(result.csv_rows(), "reuse.csv", request)


# --- themes (saved by `speechkit topics`) --------------------------------------------------------
_NO_THEMES = "a workspace with saved themes: run `speechkit topics --name NAME` first"


def _theme_models(bench: Workbench) -> list[dict[str, Any]]:
    folder = bench.settings.index_dir / "topics"
    out = []
    for manifest in sorted(folder.glob("*/manifest.json")) if folder.is_dir() else []:
        try:
            info = json.loads(manifest.read_text("utf-8"))
        except ValueError:
            continue
        if info.get("kind") == "themes":
            out.append(info)
    return out


def _themes(bench: Workbench, params: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[int]]:
    from .topics import load_themes

    models = _theme_models(bench)
    name = params.get("name") or (models[0]["name"] if models else "")
    if not name:
        return models, None, []
    model = load_themes(bench.settings, name)
    by_share = sorted(range(len(model["themes"])), key=lambda c: -model["themes"][c]["share"])
    chosen = [int(c) for c in params.getlist("show") if c.isdigit() and int(c) < len(model["themes"])]
    return models, model, chosen or by_share[:3]


async def topics_page(bench: Workbench, request: Request) -> Response:
    models, model, chosen = _themes(bench, request.query_params)
    chart, stale = None, None
    if model is not None:
        by_year = {int(y): shares for y, shares in model["share_by"]["year"].items() if str(y).isdigit()}
        chart = year_chart({" ".join(model["themes"][c]["labels"][:3]) + f" ({c})":
                            {y: shares[str(c)] for y, shares in by_year.items() if str(c) in shares}
                            for c in chosen})
        now = bench.ws.provenance()
        if (model.get("corpus"), model.get("segmenter")) != (now["corpus"], now["segmenter"]):
            stale = (f"these themes were built from corpus {model.get('corpus')} with segmenter "
                     f"{model.get('segmenter')}; the workspace is now corpus {now['corpus']}, segmenter "
                     f"{now['segmenter']}: run `speechkit topics --name {model['name']}` again for current shares")
    return bench.page("topics.html", request, models=models, model=model, chosen=chosen, chart=chart, stale=stale)


async def api_topics(bench: Workbench, request: Request) -> Response:
    return JSONResponse(_given(_themes(bench, request.query_params)[1], _NO_THEMES))


async def topics_csv(bench: Workbench, request: Request) -> Response:
    model = _given(_themes(bench, request.query_params)[1], _NO_THEMES)
    from .topics import share_rows

    return _csv(share_rows(model), "topics.csv", request)


def create_app(settings: Settings) -> Starlette:
    """The workbench for the workspace of `settings` (read-only)."""
    routes = [
        Route("/", _page(search_page)),
        Route("/search.csv", _page(search_csv)),
        Route("/doc/{doc_id}", _page(document_page)),
        Route("/doc/{doc_id}/similar", _page(similar_page)),
        Route("/kwic", _page(kwic_page)),
        Route("/kwic.csv", _page(kwic_csv)),
        Route("/trend", _page(trend_page)),
        Route("/trend.csv", _page(trend_csv)),
        Route("/compare", _page(compare_page)),
        Route("/compare.csv", _page(compare_csv)),
        Route("/topics", _page(topics_page)),
        Route("/topics.csv", _page(topics_csv)),
        Route("/spread", _page(spread_page)),
        Route("/spread.csv", _page(spread_csv)),
        Route("/reuse", _page(reuse_page)),
        Route("/reuse.csv", _page(reuse_csv)),
        Route("/api/spread", _page(api_spread, api=True)),
        Route("/api/reuse", _page(api_reuse, api=True)),
        Route("/api/search", _page(api_search, api=True)),
        Route("/api/compare", _page(api_compare, api=True)),
        Route("/api/topics", _page(api_topics, api=True)),
        Route("/api/kwic", _page(api_kwic, api=True)),
        Route("/api/trend", _page(api_trend, api=True)),
        Route("/api/doc/{doc_id}", _page(api_document, api=True)),
    ]
    bench = Workbench(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        bench.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.bench = bench
    return app


SETTINGS_ENV = "SPEECHKIT_SERVE_SETTINGS"


def app_from_environment() -> Starlette:
    """The app each of several server processes builds for itself: from the settings the parent
    read (all of them, the lexicon and overrides included, as JSON in $SPEECHKIT_SERVE_SETTINGS),
    else the workspace in $SPEECHKIT_HOME."""
    from .settings import load_settings

    given = os.environ.get(SETTINGS_ENV)
    if given:
        values = json.loads(given)
        return create_app(Settings(**{**values, "home": Path(values["home"])}))
    return create_app(load_settings())


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8765, workers: int = 1) -> None:
    """Serve the workbench. With `workers` > 1, that many processes, each with the indexes
    opened once, answer requests side by side (one process answers one request at a time)."""
    import uvicorn

    if workers <= 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        return
    os.environ[SETTINGS_ENV] = json.dumps({**dataclasses.asdict(settings), "home": str(settings.home)})
    uvicorn.run("speechkit.serve:app_from_environment", factory=True, workers=workers, host=host, port=port,
                log_level="warning")


