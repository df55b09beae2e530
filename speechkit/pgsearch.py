"""Search on the PostgreSQL server itself (`search = server` with a PostgreSQL store).

`speechkit index` keeps three tables on the server beside the store: `search_docs`, each
canonical speech's matching form, title (pg_trgm GIN index) and metadata as indexed columns;
`search_sections`, its sections (runs of whole lines of at least 400 characters, `sections_of`)
under a pg_trgm GIN index; and `search_grams`, each section's characters and pairs of adjacent
characters (`grams`, GIN, stored out of line so that the table itself stays narrow). A query
in speechkit's query language becomes one SQL condition:

- a phrase is found in the sections, which is exact: a phrase has no line break, so every
  occurrence lies inside one line, inside one section. Three characters or more: `body LIKE
  '%phrase%'` (pg_trgm narrows the rows, in a database whose LC_CTYPE classes Chinese
  characters as letters, such as C.UTF-8; otherwise every row is checked, still exactly); one
  or two characters: `grams @> ARRAY[phrase]` (pg_trgm cannot narrow those, and they are the
  most frequent: 党, 改革). Checking a candidate reads a section, not the whole speech: on the
  whole matching form, a phrase cost every candidate speech's text to be read and decompressed;
- filters are the same tests as `Filter.select`, on columns; NOT keeps speeches whose
  metadata is missing, as the embedded backend does;
- ranking is BM25's saturation over sections: a speech's score grows with the number of its
  sections that contain one of the query's phrases, less for a long speech (k1 1.2, b 0.75,
  length in sections), then id. The order differs from the embedded BM25F over words; the
  set and the total do not.

Several workspaces and machines search the same tables; the workspace's own indexes are not
needed. The tables record the corpus digest and segmenter they were built from, and a query
on a stale table is refused with the command that fixes it. A search connection plans without
sequential scans (`SearchTable.for_searching`).
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
_BULK_INDEXES = {"search_sections_body": "search_sections USING gin (body gin_trgm_ops)",
                 "search_grams_grams": "search_grams USING gin (grams)"}
_TABLES = ("search_docs", "search_sections", "search_grams")


def _create_index(name: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {name} ON {_BULK_INDEXES[name]}"


_SCHEMA = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS search_docs (
    id text PRIMARY KEY, key text NOT NULL, match text NOT NULL, title text, title_match text NOT NULL,
    year integer, date text, level text, region text, site text,
    speaker_role text, speaker_name text, sections integer NOT NULL DEFAULT 0);
-- layout 2 searched and ranked the whole matching form: its indexes and columns go
DROP INDEX IF EXISTS search_docs_match;
ALTER TABLE search_docs DROP COLUMN IF EXISTS grams, DROP COLUMN IF EXISTS tokens;
ALTER TABLE search_docs ADD COLUMN IF NOT EXISTS sections integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS search_docs_title ON search_docs USING gin (title_match gin_trgm_ops);
CREATE INDEX IF NOT EXISTS search_docs_year ON search_docs (year);
CREATE INDEX IF NOT EXISTS search_docs_level ON search_docs (level);
CREATE TABLE IF NOT EXISTS search_sections (
    doc text NOT NULL, n integer NOT NULL, sections integer NOT NULL, body text NOT NULL, PRIMARY KEY (doc, n));
-- the character pairs apart, out of line (a section's outgrow a row; uncompressed): a frequent
-- pair's rows are read from a narrow table (改革 at 35,000 speeches: 39,930 lines on 21,355
-- pages of a table of lines with their pairs inline, 104 ms a query; 15 MB of rows now)
CREATE TABLE IF NOT EXISTS search_grams (
    doc text NOT NULL, n integer NOT NULL, sections integer NOT NULL, grams text[] NOT NULL, PRIMARY KEY (doc, n));
ALTER TABLE search_grams ALTER COLUMN grams SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS search_state (key text PRIMARY KEY, value text NOT NULL);
"""
# held (per session: a killed build's ends with its connection) by a build that dropped the
# large indexes, while it writes its rows
_BUILD_LOCK = 728192
log = logging.getLogger(__name__)
K1, B = 1.2, 0.75  # BM25's saturation and length normalisation, for the ranking over sections
BULK_ROWS = 2000  # writing this many rows (or a fifth of the table) builds the large indexes afterwards
META = ("year", "date", "level", "region", "site", "speaker_role", "speaker_name")
LAYOUT = "3"    # the tables' columns; rows written under another layout are re-written by `index`


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


SECTION_CHARS = 400  # a section closes at this many characters: its pairs then go out of line


def sections_of(match: str, size: int = SECTION_CHARS) -> list[tuple[int, str]]:
    """The sections of a matching form, numbered: its lines that hold more than spaces, taken
    in order and joined (with their line breaks) until a section is `size` characters long.
    Every occurrence of a phrase (which has no line break) lies inside one line, so inside one
    section; and the pairs of characters of a section (all but a speech's last, which may be
    short) outgrow a table row, so PostgreSQL stores them out of line and the table it reads
    for a frequent pair stays narrow.

    >>> sections_of("一、改革\\n\\n  \\n开放\\n三", size=5)
    [(0, '一、改革\\n开放'), (1, '三')]
    """
    out: list[tuple[int, str]] = []
    lines: list[str] = []
    length = 0
    for line in match.split("\n"):
        if line.strip():
            lines.append(line)
            length += len(line)
            if length >= size:
                out.append((len(out), "\n".join(lines)))
                lines, length = [], 0
    if lines:
        out.append((len(out), "\n".join(lines)))
    return out


def _in_one_line(needle: str) -> bool:
    """Whether every occurrence of `needle` lies inside one line (a non-empty needle without
    a line break), so inside one section."""
    return bool(needle) and "\n" not in needle


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def section_rows(needle: str, params: list[Any]) -> str:
    """The rows (doc, n, sections) of the sections that contain `needle` (a phrase in the
    matching form, without a line break): their character pairs' table for one or two
    characters, their text (pg_trgm) for more.

    >>> p = []; print(section_rows("改革", p)); print(section_rows("营商环境", p)); p
    SELECT doc, n, sections FROM search_grams WHERE grams @> %s::text[]
    SELECT doc, n, sections FROM search_sections WHERE body LIKE %s ESCAPE '\\'
    [['改革'], '%营商环境%']
    """
    if len(needle) <= 2:
        params.append([needle])
        return "SELECT doc, n, sections FROM search_grams WHERE grams @> %s::text[]"
    params.append(_like(needle))
    return "SELECT doc, n, sections FROM search_sections WHERE body LIKE %s ESCAPE '\\'"


def condition(node: object, params: list[Any]) -> str:
    """The SQL condition of a parsed query (parameters appended to `params`).

    >>> p = []; print(condition(parse('营商环境 year:2019..2020'), p).replace(" AND ", "\\nAND ")); p
    ((id IN (SELECT doc FROM (SELECT doc, n, sections FROM search_sections WHERE body LIKE %s ESCAPE '\\') AS p))
    AND COALESCE((year >= %s
    AND year <= %s), false))
    ['%营商环境%', 2019, 2020]
    """
    if isinstance(node, Phrase):
        if node.field == "title":
            params.append(_like(node.needle))
            return "(title_match LIKE %s ESCAPE '\\')"
        if not _in_one_line(node.needle):  # across a line break: the whole text
            params.append(_like(node.needle))
            return "(match LIKE %s ESCAPE '\\')"
        return f"(id IN (SELECT doc FROM ({section_rows(node.needle, params)}) AS p))"
    if isinstance(node, Filter):
        return f"COALESCE({_filter(node, params)}, false)"
    if isinstance(node, Not):
        if isinstance(node.node, Filter):
            return f"(NOT {condition(node.node, params)})"
        # an anti-join on the excluded speeches' ids, found through their own index: NOT tested
        # row by row read every candidate's character pairs (改革 NOT 开放: 1.2 s at 35,000)
        if isinstance(node.node, Phrase) and node.node.field != "title" and _in_one_line(node.node.needle):
            return f"(id NOT IN (SELECT doc FROM ({section_rows(node.node.needle, params)}) AS p))"
        return f"(id NOT IN (SELECT id FROM search_docs WHERE {condition(node.node, params)}))"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(condition(n, params) for n in node.nodes) + ")"
    raise SpeechkitError(f"cannot evaluate {node!r}")


def _driving(node: object) -> tuple[Phrase | None, object | None]:
    """A body phrase every match must contain, and the rest of the query beside it (None for
    nothing): for `营商环境 year:2015..`, the phrase and the filter."""
    if isinstance(node, Phrase) and node.field != "title":
        return node, None
    if isinstance(node, And):
        own = [n for n in node.nodes if isinstance(n, Phrase) and n.field != "title"]
        if len(own) == 1:
            rest = [n for n in node.nodes if n is not own[0]]
            return own[0], (rest[0] if len(rest) == 1 else And(tuple(rest)))
    return None, None


def _needs_phrase(node: object) -> bool:
    """Whether every speech `node` matches contains one of its body phrases outside NOT.

    >>> [_needs_phrase(parse(q)) for q in ("营商环境 OR 放管服", "改革 NOT 开放", "year:2015 OR 改革", "NOT 改革")]
    [True, True, False, False]
    """
    if isinstance(node, Phrase):
        return node.field != "title" and _in_one_line(node.needle)
    if isinstance(node, And):
        return any(_needs_phrase(n) for n in node.nodes)
    if isinstance(node, Or):
        return all(_needs_phrase(n) for n in node.nodes)
    return False


def _phrases_only(node: object) -> bool:
    """Whether `node` tests body phrases inside one line only (no filter, no title): then the
    sections alone decide it.

    >>> [_phrases_only(parse(q)) for q in ("营商环境 OR 放管服", "改革 NOT 开放", "改革 year:2015", "title:报告")]
    [True, True, False, False]
    """
    if isinstance(node, Phrase):
        return node.field != "title" and _in_one_line(node.needle)
    if isinstance(node, Not):
        return _phrases_only(node.node)
    if isinstance(node, And | Or):
        return all(_phrases_only(n) for n in node.nodes)
    return False


def _hits(rows: list[str]) -> str:
    """Per speech named by the sections `rows` (section_rows, one per phrase): how many of its
    sections hold a phrase (a section holding several counts once), its length in sections,
    and a flag p0, p1, … for each phrase it holds.

    >>> print(_hits(["A"]))
    (SELECT doc, count(*) AS tf, max(sections) AS sections, true AS p0 FROM (A) AS p GROUP BY doc) AS hits
    >>> two = _hits(["A", "B"]); "UNION ALL" in two, "bool_or(k = 1) AS p1" in two, "bool_or(p1) AS p1" in two
    (True, True, True)
    """
    if len(rows) == 1:
        return f"(SELECT doc, count(*) AS tf, max(sections) AS sections, true AS p0 FROM ({rows[0]}) AS p " \
               "GROUP BY doc) AS hits"
    tagged = " UNION ALL ".join(f"SELECT doc, n, sections, {k} AS k FROM ({r}) AS s{k}" for k, r in enumerate(rows))
    flags = ", ".join(f"bool_or(k = {k}) AS p{k}" for k in range(len(rows)))
    per_section = f"SELECT doc, n, max(sections) AS sections, {flags} FROM ({tagged}) AS tagged GROUP BY doc, n"
    return (f"(SELECT doc, count(*) AS tf, max(sections) AS sections, "
            f"{', '.join(f'bool_or(p{k}) AS p{k}' for k in range(len(rows)))} FROM ({per_section}) AS per_section "
            "GROUP BY doc) AS hits")


def on_hits(node: object, flags: dict[str, str], params: list[Any]) -> str:
    """condition() over a speech's hits (_hits): a body phrase whose sections make up the hits
    is its flag there, not a second reading of its sections; anything else is condition()'s.

    >>> p = []; print(on_hits(parse("营商环境 OR 放管服 NOT 开放"), {"营商环境": "p0", "放管服": "p1"}, p)[:40]); p
    (p0 OR (p1 AND (id NOT IN (SELECT doc FR
    [['开放']]
    >>> print(on_hits(parse("营商环境 NOT 放管服"), {"营商环境": "p0", "放管服": "p1"}, []))
    (p0 AND (NOT p1))
    """
    if isinstance(node, Phrase) and node.field != "title" and node.needle in flags:
        return flags[node.needle]
    if isinstance(node, Not) and isinstance(node.node, Phrase) and node.node.needle in flags \
            and node.node.field != "title":
        return f"(NOT {flags[node.node.needle]})"
    if isinstance(node, And | Or):
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(on_hits(n, flags, params) for n in node.nodes) + ")"
    return condition(node, params)


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
        self._mean: float | None = None
        try:
            self.db = psycopg.connect(settings.store_url, autocommit=True, row_factory=dict_row)
        except psycopg.OperationalError as exc:
            raise SpeechkitError(f"cannot reach PostgreSQL at {settings.store_label} ({str(exc).strip()[:200]})"
                                 ) from None
        if self._layout() != LAYOUT:
            # the schema's ALTER TABLEs lock the tables against every search while they run:
            # only when the tables are missing or from another layout, never on each search
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

    def _layout(self) -> str | None:
        """The layout the tables were last built under, if any."""
        if self.db.execute("SELECT to_regclass('search_state') IS NOT NULL AS t").fetchone()["t"]:
            row = self.db.execute("SELECT value FROM search_state WHERE key = 'layout'").fetchone()
            return row["value"] if row else None
        return None

    def for_searching(self) -> SearchTable:
        """Plan this connection's queries for searching: the planner does not count the cost
        of reading a row's character pairs, so for a frequent phrase (发展 in a quarter of
        the lines of 2,721 speeches) it chose to read and test every row (123 ms) over the GIN
        index (11 ms);
        without sequential scans it takes the index, and still scans where nothing else can.
        No JIT: a plan's large estimated cost made PostgreSQL compile it (250 ms) for a query
        that runs in 40."""
        self.db.execute("SET enable_seqscan = off")
        self.db.execute("SET jit = off")
        return self

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
            "SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s)", (list(_TABLES),))}
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
            self.db.execute("DELETE FROM search_sections WHERE doc = ANY(%s)", (gone,))
            self.db.execute("DELETE FROM search_grams WHERE doc = ANY(%s)", (gone,))
            if bulk:
                for name in _BULK_INDEXES:
                    self.db.execute(f"DROP INDEX IF EXISTS {name}")
        batch: list[tuple[Any, ...]] = []
        for i, match, _ in segmented:
            r = rows[i]
            batch.append((i, row_key(r), match, r["title"], matching_form(r["title"] or ""), *(r[c] for c in META)))
            if len(batch) >= 500:
                written += self._upsert(batch)
                batch = []
        written += self._upsert(batch)
        if bulk:
            self.db.execute("SET maintenance_work_mem = '256MB'")  # this session's sort for the build
            for name in _BULK_INDEXES:
                self.db.execute(_create_index(name))
            self.db.execute("ANALYZE search_docs")
            self.db.execute("ANALYZE search_sections")
            self.db.execute("ANALYZE search_grams")
        return written

    def _upsert(self, batch: list[tuple[Any, ...]]) -> int:
        """Write a batch of speeches' rows and their sections (the old ones first removed)."""
        if not batch:
            return 0
        columns = ("id", "key", "match", "title", "title_match", *META, "sections")
        updates = ", ".join(f"{c}=EXCLUDED.{c}" for c in columns[1:])
        parts = [(row[0], sections) for row in batch for sections in [sections_of(row[2])]]
        values = ", ".join(["%s"] * len(columns))
        with self.db.transaction(), self.db.cursor() as cur:
            cur.executemany(f"INSERT INTO search_docs ({', '.join(columns)}) VALUES ({values}) "
                            f"ON CONFLICT (id) DO UPDATE SET {updates}",
                            [(*row, len(sections)) for row, (_, sections) in zip(batch, parts, strict=True)])
            ids = [row[0] for row in batch]
            cur.execute("DELETE FROM search_sections WHERE doc = ANY(%s)", (ids,))
            cur.execute("DELETE FROM search_grams WHERE doc = ANY(%s)", (ids,))
            with cur.copy("COPY search_sections (doc, n, sections, body) FROM STDIN") as copy:
                for doc, sections in parts:
                    for n, body in sections:
                        copy.write_row((doc, n, len(sections), body))
            with cur.copy("COPY search_grams (doc, n, sections, grams) FROM STDIN") as copy:
                for doc, sections in parts:
                    for n, body in sections:
                        copy.write_row((doc, n, len(sections), grams(body)))
        return len(batch)

    def mark(self, corpus: str, segmenter: str) -> None:
        with self.db.transaction():
            # the ranking's average speech length, in sections
            mean = self.db.execute("SELECT COALESCE(avg(sections), 1) AS m FROM search_docs").fetchone()["m"]
            for key, value in (("corpus", corpus), ("segmenter", segmenter), ("layout", LAYOUT),
                               ("mean_sections", str(float(mean) or 1.0))):
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

    def ranked(self, node: object, needles: list[str], *, limit: int, offset: int, sort: str
               ) -> tuple[int, list[dict[str, Any]]]:
        """The total and one page of the speeches matching `node`, by rank or by date, ties by
        id. The rank saturates (BM25's k1 and b) with the number of a speech's sections that
        hold one of `needles` (the query's phrases outside NOT), against its length in
        sections; a query of filters alone ranks every speech alike."""
        needles = [n for n in dict.fromkeys(needles) if _in_one_line(n)]
        order = 'date DESC NULLS LAST, id COLLATE "C" DESC' if sort == "date" else 'score DESC, id COLLATE "C"'
        columns = "id, title, date, year, speaker_role, speaker_name, level, region, site, match"
        params: list[Any] = []  # in the order of the placeholders: the score's, then the rows'
        if not needles:
            where = condition(node, params)
            source, score = f"search_docs WHERE {where}", "0::float8"
        else:
            score = f"COALESCE(tf / (tf + {K1} * (1 - {B} + {B} * hits.sections / %s::float8)), 0)"
            params.append(self._mean_sections())
            hits = _hits([section_rows(n, params) for n in needles])
            # whether a speech holds each phrase is a flag of its hits: the sections are read once
            flags = {n: f"hits.p{k}" for k, n in enumerate(needles)}
            driving, rest = _driving(node)
            if _needs_phrase(node) and _phrases_only(node) and sort != "date":
                # phrases alone: the speeches are those the sections name, ranked, counted and
                # tested there (the hits stand in for the speeches' ids), and only the page's
                # rows read from the speeches' table
                only = driving is not None and needles == [driving.needle] and rest is None
                test = "true" if only else on_hits(node, flags, params)
                page = (f"SELECT doc, {score} AS score, count(*) OVER () AS total FROM "
                        f"(SELECT doc AS id, * FROM {hits}) AS hits WHERE {test} "
                        f'ORDER BY score DESC, doc COLLATE "C" LIMIT %s OFFSET %s')
                found = self.db.execute(
                    f"SELECT {columns}, score, total FROM ({page}) AS page JOIN search_docs ON id = doc "
                    f'ORDER BY score DESC, id COLLATE "C"', [*params, limit, offset]).fetchall()
                return self._total(found, node, offset), found
            # each speech the sections name is looked up by its id (a hash join read every
            # speech the filters let through: 营商环境 year:2015..2020 at 35k, 24 ms against 6); OFFSET 0
            # keeps the planner from turning the lookup back into that join
            named = f"{hits} CROSS JOIN LATERAL (SELECT * FROM search_docs WHERE id = hits.doc OFFSET 0) AS named"
            if driving is not None and needles == [driving.needle]:
                # the sections that rank a speech are those that select it: read them once
                source = f"{named} WHERE {condition(rest, params) if rest else 'true'}"
            elif _needs_phrase(node):  # every match holds one of the phrases: start from those
                source = f"{named} WHERE {on_hits(node, flags, params)}"
            else:
                source = f"search_docs LEFT JOIN {hits} ON id = doc WHERE {condition(node, params)}"
        # the total comes with the page (one pass over the matching rows, not two)
        rows = self.db.execute(
            f"SELECT {columns}, {score} AS score, count(*) OVER () AS total FROM {source} "
            f"ORDER BY {order} LIMIT %s OFFSET %s", [*params, limit, offset]).fetchall()
        return self._total(rows, node, offset), rows

    def _total(self, rows: list[dict[str, Any]], node: object, offset: int) -> int:
        """The total a page's rows carry; counted on its own for a page past the end."""
        if rows:
            return rows[0]["total"]
        if not offset:
            return 0
        params: list[Any] = []
        return self.db.execute(f"SELECT count(*) AS n FROM search_docs WHERE {condition(node, params)}",
                               params).fetchone()["n"]

    def _mean_sections(self) -> float:
        if self._mean is None:
            self._mean = float(self.state().get("mean_sections") or 1.0)
        return self._mean

    def matching_rows(self, node: object, columns: str = "id, date, title, match") -> Iterator[dict[str, Any]]:
        params: list[Any] = []
        where = condition(node, params)
        # a server-side cursor streams the rows (the matching forms of a frequent word's speeches)
        with self.db.transaction(), self.db.cursor(name=f"rows_{id(self)}") as cur:
            cur.execute(f"SELECT {columns} FROM search_docs WHERE {where} ORDER BY id COLLATE \"C\"", params)
            yield from cur

