"""The corpus store on PostgreSQL (psycopg 3): the same `DocumentStore` as the SQLite file,
for a lab that shares one corpus and ingests from several processes or machines at once.

Each input file's speeches are written in one transaction, as on SQLite; concurrent writers
are serialised per file by a transaction-scoped advisory lock on the file's path, so two
machines ingesting the same folder never interleave one file's rows. The schema is versioned
in `meta` and created on first use. Text is compared byte-wise (COLLATE "C") wherever order
matters, so orders and digests equal SQLite's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .documents import Document
from .errors import NotFoundError, StoreError
from .store import DOC_COLUMNS, SCHEMA_VERSION, Connected, Store, decode_row, encode_value, id_prefix, shown_row


def _schema() -> str:
    from dataclasses import fields

    sql_type = {"int": "BIGINT", "int | None": "BIGINT", "bool": "INTEGER", "bytes | None": "BYTEA"}
    cols = [f"{f.name} {sql_type.get(str(f.type), 'TEXT')}" + (" PRIMARY KEY" if f.name == "id" else "")
            for f in fields(Document)]
    return f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, size BIGINT, n_docs INTEGER,
    status TEXT NOT NULL, reason TEXT, ingested_at DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS documents ({", ".join(cols)});
CREATE INDEX IF NOT EXISTS documents_source ON documents(source_path COLLATE "C");
CREATE INDEX IF NOT EXISTS documents_year ON documents(year);
CREATE INDEX IF NOT EXISTS documents_group ON documents(dup_group);
CREATE INDEX IF NOT EXISTS documents_site ON documents(site);
CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, text_hash TEXT NOT NULL, version TEXT NOT NULL,
    data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ungrouped (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS problems (path TEXT NOT NULL, record TEXT NOT NULL, reason TEXT NOT NULL,
    seen_at DOUBLE PRECISION, PRIMARY KEY (path, record));
INSERT INTO meta VALUES ('generation', '0') ON CONFLICT DO NOTHING;
INSERT INTO meta VALUES ('store_id', md5(random()::text || clock_timestamp()::text)) ON CONFLICT DO NOTHING;
INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING;
-- every statement that changes documents bumps the generation, whoever runs it
CREATE OR REPLACE FUNCTION speechkit_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'; RETURN NULL; END $$;
DROP TRIGGER IF EXISTS documents_generation ON documents;
CREATE TRIGGER documents_generation AFTER INSERT OR UPDATE OR DELETE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION speechkit_bump();
"""


class PgStore(Connected):
    """PostgreSQL implementation of DocumentStore. `url`: postgresql://user@host:port/db."""

    META = Store.META

    def __init__(self, url: str, *, create: bool = True) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise StoreError("a postgresql:// store needs psycopg; install it with "
                             "`pip install 'speechkit[postgres]'`") from None
        self.url = url
        shown = url.split("@")[-1]  # never print a password
        try:
            self.db = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the store at {shown} ({str(exc).strip().splitlines()[0]}); "
                             "check --store / SPEECHKIT_STORE and that the server is running") from None
        with self.db.transaction():
            # two processes creating the schema at once must not collide
            self.db.execute("SELECT pg_advisory_xact_lock(728190)")
            exists = self.db.execute("SELECT to_regclass('documents') IS NOT NULL AS e").fetchone()["e"]
            if not exists and not create:
                raise StoreError(f"no corpus store at {shown}; run `speechkit ingest PATH` first")
            self.db.execute(_schema())
        found = self.get_meta("schema_version")
        if found is not None and int(found) != SCHEMA_VERSION:
            raise StoreError(f"the store at {shown} has schema {found}, this speechkit needs {SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.db.transaction():
            yield self.db

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.db.execute(sql, params).fetchall()

    # --- files ----------------------------------------------------------------------------
    def file_hash(self, path: str) -> tuple[str, str] | None:
        rows = self._rows("SELECT hash, status FROM files WHERE path=%s", (path,))
        return (rows[0]["hash"], rows[0]["status"]) if rows else None

    def file_problems(self, path: str) -> list[tuple[str, str]]:
        return [(r["record"], r["reason"]) for r in self._rows(
            'SELECT record, reason FROM problems WHERE path=%s ORDER BY record COLLATE "C"', (path,))]

    def stored_paths(self) -> list[str]:
        return [r["path"] for r in self._rows('SELECT path FROM files ORDER BY path COLLATE "C"')]

    def file_count(self) -> int:
        return self._rows("SELECT COUNT(*) AS n FROM files")[0]["n"]

    def replace_file(self, path: str, file_hash: str, size: int, docs: Sequence[Document],
                     problems: Sequence[tuple[str, str]] = (), *, status: str = "ok",
                     reason: str | None = None) -> None:
        """Atomically replace everything that came from `path`."""
        now = time.time()
        cols = ", ".join(DOC_COLUMNS)
        updates = ", ".join(f"{c}=EXCLUDED.{c}" for c in DOC_COLUMNS if c != "id")
        with self.db.transaction(), self.db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (path,))
            cur.execute("DELETE FROM documents WHERE source_path=%s", (path,))
            cur.execute("DELETE FROM problems WHERE path=%s", (path,))
            if docs:
                cur.executemany(
                    f"INSERT INTO documents ({cols}) VALUES ({', '.join(['%s'] * len(DOC_COLUMNS))}) "
                    f"ON CONFLICT (id) DO UPDATE SET {updates}",
                    [tuple(encode_value(c, getattr(d, c)) for c in DOC_COLUMNS) for d in docs])
                cur.executemany("INSERT INTO ungrouped VALUES (%s) ON CONFLICT DO NOTHING", [(d.id,) for d in docs])
            if problems:
                cur.executemany("INSERT INTO problems VALUES (%s, %s, %s, %s) ON CONFLICT (path, record) "
                                "DO UPDATE SET reason=EXCLUDED.reason, seen_at=EXCLUDED.seen_at",
                                [(path, rec, why, now) for rec, why in problems])
            cur.execute("INSERT INTO files VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (path) DO UPDATE SET "
                        "hash=EXCLUDED.hash, size=EXCLUDED.size, n_docs=EXCLUDED.n_docs, status=EXCLUDED.status, "
                        "reason=EXCLUDED.reason, ingested_at=EXCLUDED.ingested_at",
                        (path, file_hash, size, len(docs), status, reason, now))

    def remove_file(self, path: str) -> int:
        with self.db.transaction(), self.db.cursor() as cur:
            cur.execute("DELETE FROM documents WHERE source_path=%s", (path,))
            n = cur.rowcount
            cur.execute("DELETE FROM problems WHERE path=%s", (path,))
            cur.execute("DELETE FROM files WHERE path=%s", (path,))
        return n

    def problems(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM (SELECT path, record, reason FROM problems UNION ALL "
                          "SELECT path, '' AS record, reason FROM files WHERE status='error') p "
                          'ORDER BY path COLLATE "C", record COLLATE "C"')

    # --- documents ------------------------------------------------------------------------
    def get(self, doc_id: str) -> Document:
        rows = self._rows("SELECT * FROM documents WHERE id=%s", (doc_id,))
        if rows:
            return decode_row(rows[0])
        prefix = id_prefix(doc_id)
        like = self._rows('SELECT id FROM documents WHERE id LIKE %s ORDER BY id COLLATE "C" LIMIT 4',
                          (prefix + "%",)) if prefix else []
        if len(like) == 1:
            return self.get(like[0]["id"])
        if like:
            shown = ", ".join(r["id"] for r in like[:3]) + (", …" if len(like) > 3 else "")
            raise NotFoundError(f"{doc_id!r} is the start of several ids ({shown}); give more characters")
        raise NotFoundError(f"no document {doc_id!r}; list ids with `speechkit export --format csv`")

    def documents(self, *, canonical_only: bool = True) -> Iterator[Document]:
        sql = "SELECT * FROM documents" + (" WHERE canonical=1" if canonical_only else "")
        sql += ' ORDER BY source_path COLLATE "C", record COLLATE "C", part'
        # a server-side cursor: the texts arrive in batches, not all at once
        with self.db.cursor(name=f"documents_{id(self)}", withhold=True) as cur:
            cur.execute(sql)
            for row in cur:
                yield decode_row(row)

    def texts(self, ids: Sequence[str]) -> Iterator[tuple[str, str]]:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for r in self._rows("SELECT id, text FROM documents WHERE id = ANY(%s)", (chunk,)):
                yield r["id"], r["text"]

    def count(self, *, canonical: bool | None = None) -> int:
        where = "" if canonical is None else f" WHERE canonical={int(canonical)}"
        return self._rows("SELECT COUNT(*) AS n FROM documents" + where)[0]["n"]

    def metadata(self, *, canonical_only: bool = True) -> list[dict[str, Any]]:
        rows = self._rows(f"SELECT {', '.join(self.META)}, length(text) AS chars, text_hash, dup_group "
                          "FROM documents" + (" WHERE canonical=1" if canonical_only else "")
                          + ' ORDER BY id COLLATE "C"')
        return [shown_row(r) for r in rows]

    def metadata_of(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            out.update((r["id"], shown_row(r)) for r in self._rows(
                f"SELECT {', '.join(self.META)} FROM documents WHERE id = ANY(%s)", (chunk,)))
        return out

    def group_members(self, group: str) -> list[dict[str, Any]]:
        rows = self._rows(f"SELECT {', '.join(self.META)}, canonical FROM documents WHERE dup_group=%s "
                          'ORDER BY canonical DESC, id COLLATE "C"', (group,))
        return [shown_row(r) for r in rows]

    def regions(self) -> list[str]:
        return [r["region"] for r in self._rows("SELECT DISTINCT region FROM documents WHERE region IS NOT NULL")]

    def counts_by(self, column: str) -> list[tuple[Any, int]]:
        if column not in (*self.META, "date_source", "year_source"):
            raise ValueError(f"not a metadata column: {column}")
        return [(r["k"], r["n"]) for r in self._rows(
            f"SELECT COALESCE({column}::text, '(unknown)') AS k, COUNT(*) AS n FROM documents WHERE canonical=1 "
            'GROUP BY k ORDER BY k COLLATE "C"')]

    def flag_lists(self) -> Iterator[list[str]]:
        for r in self._rows("SELECT flags FROM documents WHERE canonical=1"):
            yield json.loads(r["flags"] or "[]")

    def source_paths(self, ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            out.update(r["source_path"] for r in self._rows(
                "SELECT source_path FROM documents WHERE id = ANY(%s)", (chunk,)))
        return out

    # --- site templates and near-duplicate groups ---------------------------------------------
    def group_pages(self, kind: str, value: str) -> Iterator[tuple[str, str | None, str, str | None]]:
        if kind == "site":
            rows = self._rows("SELECT id, title, text, speaker_name, source_path FROM documents WHERE site=%s",
                              (value,))
        else:
            pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
            rows = self._rows("SELECT id, title, text, speaker_name, source_path FROM documents "
                              "WHERE source_path LIKE %s", (pattern,))
        for r in rows:
            if kind == "site" or r["source_path"].rpartition("/")[0] == value:
                yield r["id"], r["title"], r["text"], r["speaker_name"]

    def page_groups(self, ids: Sequence[str]) -> set[tuple[str, str]]:
        out: set[tuple[str, str]] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for r in self._rows("SELECT site, source_path FROM documents WHERE id = ANY(%s)", (chunk,)):
                out.add(("folder", r["source_path"].rpartition("/")[0]))
                if r["site"]:
                    out.add(("site", r["site"]))
        return out

    def templates(self) -> dict[str, frozenset[str]]:
        return {r["key"].split("\t", 1)[1]: frozenset(json.loads(r["value"]))
                for r in self._rows("SELECT key, value FROM meta WHERE key LIKE %s", ("template\t%",))}

    def signatures(self) -> Iterator[dict[str, Any]]:
        yield from self._rows(
            "SELECT id, minhash, shingles, dup_group, truncated, lossy, masked, length(text) AS n, date, flags "
            "FROM documents WHERE minhash IS NOT NULL")

    def ungrouped(self) -> list[str]:
        return [r["id"] for r in self._rows('SELECT id FROM ungrouped ORDER BY id COLLATE "C"')]

    def mark_grouped(self, ids: Sequence[str]) -> None:
        with self.db.transaction(), self.db.cursor() as cur:
            cur.execute("DELETE FROM ungrouped WHERE id = ANY(%s)", (list(ids),))

    def set_groups(self, rows: Sequence[tuple[str | None, bool, str]]) -> None:
        with self.db.transaction(), self.db.cursor() as cur:
            cur.executemany("UPDATE documents SET dup_group=%s, canonical=%s WHERE id=%s",
                            [(g, int(c), i) for g, c, i in rows])

    # --- settings kept in the store, the token cache, change detection ----------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=%s", (key,))
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        with self.db.transaction():
            if value is None:
                self.db.execute("DELETE FROM meta WHERE key=%s", (key,))
            else:
                self.db.execute("INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value=EXCLUDED.value",
                                (key, value))

    def cached_tokens(self, ids: Iterable[str], version: str) -> dict[str, str]:
        out: dict[str, str] = {}
        ids = list(ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update((r["id"], r["data"]) for r in self._rows(
                "SELECT t.id, t.data FROM tokens t JOIN documents d ON d.id = t.id AND d.text_hash = t.text_hash "
                "WHERE t.version = %s AND t.id = ANY(%s)", (version, chunk)))
        return out

    def save_tokens(self, rows: Sequence[tuple[str, str]], version: str) -> None:
        with self.db.transaction(), self.db.cursor() as cur:
            cur.executemany(
                "INSERT INTO tokens SELECT id, text_hash, %s, %s FROM documents WHERE id = %s "
                "ON CONFLICT (id) DO UPDATE SET text_hash=EXCLUDED.text_hash, version=EXCLUDED.version, "
                "data=EXCLUDED.data", [(version, data, doc_id) for doc_id, data in rows])

    def clear_tokens(self) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM tokens")

    def generation(self) -> str:
        meta = {r["key"]: r["value"] for r in self._rows(
            "SELECT key, value FROM meta WHERE key IN ('generation', 'store_id')")}
        return f"{meta.get('store_id', '')}:{meta.get('generation', '0')}"

    def canonical_digest(self) -> tuple[str, int]:
        """The same digest as the SQLite store computes for the same documents."""
        cols = ("id", "text_hash", "title", "date", "year", "level", "region", "site", "speaker_role", "speaker_name")
        row = " || chr(9) || ".join(f"coalesce({c}::text, 'None')" for c in cols)
        r = self._rows(f'SELECT string_agg({row}, chr(10) ORDER BY id COLLATE "C") AS blob, count(*) AS n '
                       "FROM documents WHERE canonical=1")[0]
        blob = r["blob"]
        return hashlib.blake2b((blob + "\n" if blob else "").encode(), digest_size=12).hexdigest(), r["n"]
