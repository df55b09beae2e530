"""Search on the PostgreSQL server itself (`search = server` with a PostgreSQL store).

`speechkit index` keeps a table `search_docs` on the server beside the store: each canonical
speech's matching form and title (pg_trgm GIN indexes), its jieba tokens as a `tsvector`
(the 'simple' configuration keeps pre-segmented words as they are) and its metadata as
indexed columns. A query in speechkit's query language becomes one SQL condition:

- a phrase of three characters or more is `match LIKE '%phrase%'` on the matching form:
  exactly the speeches containing it, the same set the embedded index finds (pg_trgm's index
  narrows the rows, in a database whose LC_CTYPE classes Chinese characters as letters, such
  as C.UTF-8; otherwise the rows are checked one by one, still exactly);
- a phrase of one or two characters is `grams @> ARRAY[phrase]`: `grams` holds each distinct
  character and pair of adjacent characters of the matching form, under a GIN index, so the
  test is exact and indexed (pg_trgm cannot narrow a pattern shorter than a trigram, and
  those phrases, 党, 改革, are the most frequent);
- filters are the same tests as `Filter.select`, on columns; NOT keeps speeches whose
  metadata is missing, as the embedded backend does;
- ranking is `ts_rank_cd` over the tokens with the query's words (OR), then id: the order
  differs from whoosh's BM25F, the set and the total do not.

Several workspaces and machines search the same table; the workspace's own indexes are not
needed. The table records the corpus digest and segmenter it was built from, and a query on
a stale table is refused with the command that fixes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import IndexError_, SpeechkitError
from .matching import matching_form
from .query import And, Filter, Not, Or, Phrase, parse
from .settings import Settings

# the two large GIN indexes: a first build drops them and builds them once after its rows
_BULK_INDEXES = {"search_docs_match": "gin (match gin_trgm_ops)", "search_docs_grams": "gin (grams)"}


def _create_index(name: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON search_docs USING {_BULK_INDEXES[name]}"


_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS search_docs (
    id text PRIMARY KEY, key text NOT NULL, match text NOT NULL, title text, title_match text NOT NULL,
    tokens tsvector NOT NULL, year integer, date text, level text, region text, site text,
    speaker_role text, speaker_name text, grams text[] NOT NULL DEFAULT '{}');
ALTER TABLE search_docs ADD COLUMN IF NOT EXISTS grams text[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS search_docs_title ON search_docs USING gin (title_match gin_trgm_ops);
CREATE INDEX IF NOT EXISTS search_docs_tokens ON search_docs USING gin (tokens);
CREATE INDEX IF NOT EXISTS search_docs_year ON search_docs (year);
CREATE INDEX IF NOT EXISTS search_docs_level ON search_docs (level);
CREATE TABLE IF NOT EXISTS search_state (key text PRIMARY KEY, value text NOT NULL);
"""
# held (per session: a killed build's ends with its connection) by a build that dropped the
# large indexes, while it writes its rows
_BUILD_LOCK = 728192
log = logging.getLogger(__name__)
BULK_ROWS = 2000  # writing this many rows (or a fifth of the table) builds the large indexes afterwards
META = ("year", "date", "level", "region", "site", "speaker_role", "speaker_name")
LAYOUT = "2"    # the table's columns; rows written under another layout are re-written by `index`


def row_key(row: Any) -> str:
    """What a speech was put into the table as: a change re-writes its row."""
    return "\x1f".join([LAYOUT, *(str(row[c]) for c in ("text_hash", "title", *META))])


def grams(match: str) -> list[str]:
    """Each distinct character and pair of adjacent characters: a phrase of one or two
    characters occurs in the text exactly when it is one of these.

    >>> grams("改革开放")
    ['开', '开放', '改', '改革', '放', '革', '革开']
    """
    return sorted(set(match).union(map(str.__add__, match, match[1:])))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def condition(node: object, params: list[Any]) -> str:
    """The SQL condition of a parsed query (parameters appended to `params`).

    >>> p = []; condition(parse('营商环境 year:2019..2020'), p), p
    ("((match LIKE %s ESCAPE '\\\\') AND COALESCE((year >= %s AND year <= %s), false))", ['%营商环境%', 2019, 2020])
    """
    if isinstance(node, Phrase):
        phrase = node.needle
        if node.field != "title" and 0 < len(phrase) <= 2:
            params.append([phrase])
            return "(grams @> %s::text[])"
        params.append(_like(phrase))
        return f"({'title_match' if node.field == 'title' else 'match'} LIKE %s ESCAPE '\\')"
    if isinstance(node, Filter):
        return f"COALESCE({_filter(node, params)}, false)"
    if isinstance(node, Not):
        if isinstance(node.node, Filter):
            return f"(NOT {condition(node.node, params)})"
        # an anti-join on the excluded speeches' ids, found through their own index: NOT tested
        # row by row read every candidate's character pairs (改革 NOT 开放: 1.2 s at 35,000)
        return f"(id NOT IN (SELECT id FROM search_docs WHERE {condition(node.node, params)}))"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(condition(n, params) for n in node.nodes) + ")"
    raise SpeechkitError(f"cannot evaluate {node!r}")


def _filter(f: Filter, params: list[Any]) -> str:
    """`Filter.select` as SQL (substrings with strpos: no pattern characters to escape)."""
    if f.field == "year":
        parts = []
        if f.low is not None:
            parts.append("year >= %s")
            params.append(f.low)
        if f.high is not None:
            parts.append("year <= %s")
            params.append(f.high)
        return "(" + " AND ".join(parts or ["year IS NOT NULL"]) + ")"
    if f.field == "speaker":
        params.extend([f.value, f.value])
        return "(strpos(COALESCE(speaker_role, ''), %s) > 0 OR strpos(COALESCE(speaker_name, ''), %s) > 0)"
    if f.field == "level":
        params.append(f.value)
        return "(level = %s)"
    if f.field in ("site", "region"):
        params.append(f.value)
        return f"(strpos(COALESCE({f.field}, ''), %s) > 0)"
    return "false"


class SearchTable:
    """The search table on the PostgreSQL server of `settings.store`; use as a context manager."""

    def __init__(self, settings: Settings) -> None:
        if not settings.store_url:
            raise SpeechkitError("search = server needs a PostgreSQL store (--store postgresql://…)")
        import psycopg
        from psycopg.rows import dict_row

        self.settings = settings
        try:
            self.db = psycopg.connect(settings.store_url, autocommit=True, row_factory=dict_row)
        except psycopg.OperationalError as exc:
            raise SpeechkitError(f"cannot reach PostgreSQL at {settings.store_label} ({str(exc).strip()[:200]})"
                                 ) from None
        with self.db.transaction():
            self.db.execute("SELECT pg_advisory_xact_lock(728191)")
            self.db.execute(_SCHEMA)
        self._restore_large_indexes()
        ctype = self.db.execute("SELECT current_setting('lc_ctype') AS c").fetchone()["c"]
        if ctype in ("C", "POSIX"):
            # pg_trgm takes no trigrams from characters the locale does not call letters: under
            # LC_CTYPE C none of Chinese, so every phrase is found by reading every row (still exactly)
            log.warning("the database's LC_CTYPE is %s: pg_trgm cannot index Chinese and every search reads "
                        "the whole table; create the database with LC_CTYPE C.UTF-8 (createdb --template "
                        "template0 --lc-ctype C.UTF-8 …)", ctype)

    def __enter__(self) -> SearchTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _restore_large_indexes(self) -> None:
        """Create the large GIN indexes where they are missing (a new table, or a first build
        killed before it built them), unless a build that dropped them is still writing: built
        then, they would take its rows one by one."""
        have = {r["indexname"] for r in self.db.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'search_docs'")}
        missing = [name for name in _BULK_INDEXES if name not in have]
        if missing and self.db.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_BUILD_LOCK,)).fetchone()["ok"]:
            try:
                for name in missing:
                    self.db.execute(_create_index(name))
            finally:
                self.db.execute("SELECT pg_advisory_unlock(%s)", (_BUILD_LOCK,))

    # --- keeping the table current (speechkit index) ----------------------------------------
    def stale(self, rows: dict[str, Any]) -> tuple[list[str], list[str]]:
        """(ids whose row is missing or out of date, ids no longer canonical) for the store's
        canonical `rows` (id -> metadata with text_hash)."""
        have = {r["id"]: r["key"] for r in self.db.execute("SELECT id, key FROM search_docs")}
        todo = [i for i, r in rows.items() if have.get(i) != row_key(r)]
        return todo, [i for i in have if i not in rows]

    def write(self, rows: dict[str, Any], gone: list[str], segmented: Iterable[tuple[str, str, str]],
              expected: int = 0) -> int:
        """Remove `gone` and write (id, matching form, serialized tokens) rows, in batches of
        one transaction each. When `expected` rows are many against the table (a first build),
        the two large GIN indexes are dropped first and built once at the end: adding rows one
        by one to a GIN index of character pairs took 13 minutes for 35,000 speeches and had not
        finished. Meanwhile the build holds a lock that keeps searches from building them again.
        A run killed in between leaves them missing; searches stay exact (slower) and the next
        `SearchTable` creates them again."""
        have = self.db.execute("SELECT count(*) AS n FROM search_docs").fetchone()["n"]
        bulk = expected >= max(BULK_ROWS, have // 5)
        if bulk:
            self.db.execute("SELECT pg_advisory_lock(%s)", (_BUILD_LOCK,))
        try:
            return self._write(rows, gone, segmented, bulk)
        finally:
            if bulk:
                self.db.execute("SELECT pg_advisory_unlock(%s)", (_BUILD_LOCK,))

    def _write(self, rows: dict[str, Any], gone: list[str], segmented: Iterable[tuple[str, str, str]],
               bulk: bool) -> int:
        written = 0
        with self.db.transaction():
            self.db.execute("DELETE FROM search_docs WHERE id = ANY(%s)", (gone,))
            if bulk:
                for name in _BULK_INDEXES:
                    self.db.execute(f"DROP INDEX IF EXISTS {name}")
        batch: list[tuple[Any, ...]] = []
        for i, match, tokens in segmented:
            r = rows[i]
            words = tokens.replace("|", " ")  # a lexicon term and its parts are all words
            batch.append((i, row_key(r), match, r["title"], matching_form(r["title"] or ""), words,
                          *(r[c] for c in META), grams(match)))
            if len(batch) >= 500:
                written += self._upsert(batch)
                batch = []
        written += self._upsert(batch)
        if bulk:
            self.db.execute("SET maintenance_work_mem = '256MB'")  # this session's sort for the build
            for name in _BULK_INDEXES:
                self.db.execute(_create_index(name))
            self.db.execute("ANALYZE search_docs")
        return written

    def _upsert(self, batch: list[tuple[Any, ...]]) -> int:
        if not batch:
            return 0
        columns = ("id", "key", "match", "title", "title_match", "tokens", *META, "grams")
        values = ", ".join("%s" if c != "tokens" else "to_tsvector('simple', %s)" for c in columns)
        updates = ", ".join(f"{c}=EXCLUDED.{c}" for c in columns[1:])
        with self.db.transaction(), self.db.cursor() as cur:
            cur.executemany(f"INSERT INTO search_docs ({', '.join(columns)}) VALUES ({values}) "
                            f"ON CONFLICT (id) DO UPDATE SET {updates}", batch)
        return len(batch)

    def mark(self, corpus: str, segmenter: str) -> None:
        with self.db.transaction():
            for key, value in (("corpus", corpus), ("segmenter", segmenter), ("layout", LAYOUT)):
                self.db.execute("INSERT INTO search_state VALUES (%s, %s) ON CONFLICT (key) DO UPDATE "
                                "SET value=EXCLUDED.value", (key, value))

    def state(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.db.execute("SELECT key, value FROM search_state")}

    def check(self, corpus: str, segmenter: str) -> dict[str, str]:
        """The table's state if it was built from this corpus and segmenter, else a one-line error."""
        state = self.state()
        if (state.get("corpus"), state.get("segmenter"), state.get("layout")) != (corpus, segmenter, LAYOUT):
            raise IndexError_("the search table on the server is not current with the store; run "
                              "`speechkit index` (with search = server)")
        return state

    def facets(self, columns: Iterable[tuple[str, str]], limit: int) -> dict[str, list[Any]]:
        """The distinct values of metadata columns (name -> sorted values, up to `limit`), and
        the first and last year (`years`)."""
        out: dict[str, list[Any]] = {}
        for name, column in columns:
            if column not in META:
                raise SpeechkitError(f"no column {column!r} in the search table")
            out[name] = [r["v"] for r in self.db.execute(
                f'SELECT DISTINCT {column} COLLATE "C" AS v FROM search_docs WHERE {column} IS NOT NULL '
                f"AND {column} <> '' ORDER BY v LIMIT %s", (limit,))]
        row = self.db.execute("SELECT min(year) AS lo, max(year) AS hi FROM search_docs").fetchone()
        out["years"] = [row["lo"], row["hi"]] if row["lo"] is not None else []
        return out

    # --- finding -----------------------------------------------------------------------------
    def find(self, query: str, filters: Iterable[Filter] = ()) -> tuple[object, set[str]]:
        node = parse(query)
        filters = list(filters)
        if filters:
            node = And((node, *filters))
        params: list[Any] = []
        where = condition(node, params)
        return node, {r["id"] for r in self.db.execute(f"SELECT id FROM search_docs WHERE {where}", params)}

    def ranked(self, node: object, words: list[str], *, limit: int, offset: int, sort: str
               ) -> tuple[int, list[dict[str, Any]]]:
        """The total and one page of the speeches matching `node`, by rank (ts_rank_cd over
        `words`, OR) or by date, ties by id."""
        params: list[Any] = []
        where = condition(node, params)
        if words:  # the query's words, any of them (whoosh's OR); a filter-only query ranks all alike
            score = "ts_rank_cd(tokens, to_tsquery('simple', %s))"
            score_params = [" | ".join("'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words)]
        else:
            score, score_params = "0::real", []
        order = 'date DESC NULLS LAST, id COLLATE "C" DESC' if sort == "date" else 'score DESC, id COLLATE "C"'
        # the total comes with the page (one pass over the matching rows, not two)
        rows = self.db.execute(
            f"SELECT id, title, date, year, speaker_role, speaker_name, level, region, site, match, {score} AS score, "
            f"count(*) OVER () AS total FROM search_docs WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s",
            [*score_params, *params, limit, offset]).fetchall()
        if rows:
            total = rows[0]["total"]
        elif offset:  # a page past the end: count on its own
            total = self.db.execute(f"SELECT count(*) AS n FROM search_docs WHERE {where}", params).fetchone()["n"]
        else:
            total = 0
        return total, rows

    def matching_rows(self, node: object, columns: str = "id, date, title, match") -> Iterator[dict[str, Any]]:
        params: list[Any] = []
        where = condition(node, params)
        # a server-side cursor streams the rows (the matching forms of a frequent word's speeches)
        with self.db.transaction(), self.db.cursor(name=f"rows_{id(self)}") as cur:
            cur.execute(f"SELECT {columns} FROM search_docs WHERE {where} ORDER BY id COLLATE \"C\"", params)
            yield from cur

