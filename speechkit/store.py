"""The corpus store: one SQLite file (WAL) holding source files, speeches and problems.

It is the single source of truth; indexes are caches built from it. Each input file's
speeches are written in one transaction together with the file's content hash, so an
interrupted run loses nothing it committed and the next run resumes where it stopped.

`DocumentStore` is what the rest of the package may ask of a store (tests/test_layers.py
checks that no module calls anything else on one); `Store` is its SQLite implementation, and
a second backend implements the same methods. Rows come back as mappings by column name.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol

from .clean.controls import clean_field
from .documents import Document
from .errors import NotFoundError, StoreError

SCHEMA_VERSION = 1

_JSON_FIELDS = {"flags", "steps", "evidence"}
_BOOL_FIELDS = {"lossy", "truncated", "canonical"}
# one-line values every front end prints: a store written before ingest cleaned them (or by
# hand) must not drive the terminal or page they are shown on
_SHOWN_FIELDS = {"title", "speaker_role", "speaker_name", "level", "region", "site", "url", "date"}
DOC_COLUMNS = [f.name for f in fields(Document)]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER, n_docs INTEGER,
    status TEXT NOT NULL, reason TEXT, ingested_at REAL
);
CREATE TABLE IF NOT EXISTS documents (
    {", ".join(c + (" TEXT PRIMARY KEY" if c == "id" else "") for c in DOC_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source_path);
CREATE INDEX IF NOT EXISTS documents_year ON documents(year);
CREATE INDEX IF NOT EXISTS documents_group ON documents(dup_group);
-- covers canonical_digest, so checking that an index is current never reads the texts
CREATE INDEX IF NOT EXISTS documents_digest ON documents(canonical, id, text_hash, title, date, year, level,
    region, site, speaker_role, speaker_name);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, text_hash TEXT NOT NULL, version TEXT NOT NULL, data TEXT NOT NULL
);
-- every change to a document bumps the generation, whichever code path writes it: a reader can
-- tell that nothing changed since an index was built without hashing the corpus
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
INSERT OR IGNORE INTO meta VALUES ('store_id', lower(hex(randomblob(8))));  -- which store file this is
CREATE TRIGGER IF NOT EXISTS documents_generation_insert AFTER INSERT ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS documents_generation_update AFTER UPDATE ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
CREATE TRIGGER IF NOT EXISTS documents_generation_delete AFTER DELETE ON documents BEGIN
    UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
-- documents stored but not yet grouped into near-duplicates: written in the same transaction as
-- the documents, cleared once they are grouped, so grouping left undone by any run (killed,
-- or overtaken by a concurrent one) is found from the store alone
CREATE TABLE IF NOT EXISTS ungrouped (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS problems (
    path TEXT NOT NULL, record TEXT NOT NULL, reason TEXT NOT NULL, seen_at REAL,
    PRIMARY KEY (path, record)
);
"""


def encode_value(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return json.dumps(value, ensure_ascii=False)
    if name in _BOOL_FIELDS:
        return int(bool(value))
    return value


def id_prefix(doc_id: str) -> str | None:
    """`doc_id` as the start of an id worth looking up (ids are 12 hex digits): 1 to 11 hex
    digits, else None. Anything else never reaches a LIKE pattern (`%` or `_` matched any id).

    >>> id_prefix("2bd0f0"), id_prefix("%"), id_prefix("_"), id_prefix(""), id_prefix("2bd0%")
    ('2bd0f0', None, None, None, None)
    """
    return doc_id if re.fullmatch(r"[0-9a-f]{1,11}", doc_id) else None


def shown_row(row: Any) -> dict[str, Any]:
    """A row of metadata (sqlite3.Row or dict) as a dict whose one-line values are plain
    (`clean_field`): every metadata read of a store returns these, so no front end or
    analysis prints what a store written before ingest cleaned its fields (or by hand) holds."""
    out = dict(row)
    for k in _SHOWN_FIELDS.intersection(out):
        if out[k]:
            out[k] = clean_field(out[k])
    return out


def decode_row(row: sqlite3.Row) -> Document:
    values = {}
    for name in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
        value = row[name]
        if name in _JSON_FIELDS:
            value = json.loads(value) if value else ([] if name != "evidence" else {})
        elif name in _BOOL_FIELDS:
            value = bool(value)
        elif name in _SHOWN_FIELDS and value:
            value = clean_field(value)
        values[name] = value
    return Document(**values)


class DocumentStore(Protocol):
    """The store's interface: files and their speeches, written one file per transaction;
    named reads; near-duplicate groups; the token cache; what changed (generation, digest)."""

    META: tuple[str, ...]

    def close(self) -> None: ...
    # files
    def file_hash(self, path: str) -> tuple[str, str] | None: ...
    def file_problems(self, path: str) -> list[tuple[str, str]]: ...
    def stored_paths(self) -> list[str]: ...
    def file_count(self) -> int: ...
    def replace_file(self, path: str, file_hash: str, size: int, docs: Sequence[Document],
                     problems: Sequence[tuple[str, str]] = (), *, status: str = "ok",
                     reason: str | None = None) -> None: ...
    def remove_file(self, path: str) -> int: ...
    def problems(self) -> list[Any]: ...
    # documents
    def get(self, doc_id: str) -> Document: ...
    def documents(self, *, canonical_only: bool = True) -> Iterator[Document]: ...
    def texts(self, ids: Sequence[str]) -> Iterator[tuple[str, str]]: ...
    def count(self, *, canonical: bool | None = None) -> int: ...
    def metadata(self, *, canonical_only: bool = True) -> list[Any]: ...
    def metadata_of(self, ids: Sequence[str]) -> dict[str, Any]: ...
    def group_members(self, group: str) -> list[Any]: ...
    def regions(self) -> list[str]: ...
    def counts_by(self, column: str) -> list[tuple[Any, int]]: ...
    def flag_lists(self) -> Iterator[list[str]]: ...
    def source_paths(self, ids: Sequence[str]) -> set[str]: ...
    # site templates and near-duplicate groups
    def group_pages(self, kind: str, value: str) -> Iterator[tuple[str, str | None, str, str | None]]: ...
    def page_groups(self, ids: Sequence[str]) -> set[tuple[str, str]]: ...
    def templates(self) -> dict[str, frozenset[str]]: ...
    def signatures(self) -> Iterator[Any]: ...
    def ungrouped(self) -> list[str]: ...
    def mark_grouped(self, ids: Sequence[str]) -> None: ...
    def set_groups(self, rows: Sequence[tuple[str | None, bool, str]]) -> None: ...
    # settings kept in the store, the token cache, change detection
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str | None) -> None: ...
    def cached_tokens(self, ids: Iterable[str], version: str) -> dict[str, str]: ...
    def save_tokens(self, rows: Sequence[tuple[str, str]], version: str) -> None: ...
    def clear_tokens(self) -> None: ...
    def generation(self) -> str: ...
    def canonical_digest(self) -> tuple[str, int]: ...


class Connected:
    """A store on one connection (`self.db`): a context manager that closes it."""

    db: Any

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()


class Store(Connected):
    """The SQLite store (implements DocumentStore). Use as a context manager or call `close()`."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not path.exists() and not create:
            raise StoreError(f"no corpus store at {path}; run `speechkit ingest PATH` first "
                             "(or pass --home DIR where you ran it)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} is not a speechkit store ({exc}); move it away and re-ingest") from exc
        found = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if found is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(found[0]) != SCHEMA_VERSION:
            raise StoreError(f"{path} has schema {found[0]}, this speechkit needs {SCHEMA_VERSION}; "
                             "re-ingest into a new --home")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- files ----------------------------------------------------------------------------
    def file_hash(self, path: str) -> tuple[str, str] | None:
        row = self.db.execute("SELECT hash, status FROM files WHERE path=?", (path,)).fetchone()
        return (row["hash"], row["status"]) if row else None

    def file_problems(self, path: str) -> list[tuple[str, str]]:
        """(record, reason) of the records of `path` that were skipped when it was ingested."""
        return [(r["record"], r["reason"]) for r in self.db.execute(
            "SELECT record, reason FROM problems WHERE path=? ORDER BY record", (path,))]

    def stored_paths(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM files ORDER BY path")]

    def replace_file(self, path: str, file_hash: str, size: int, docs: Sequence[Document],
                     problems: Sequence[tuple[str, str]] = (), *, status: str = "ok",
                     reason: str | None = None) -> None:
        """Atomically replace everything that came from `path`."""
        now = time.time()
        placeholders = ", ".join("?" for _ in DOC_COLUMNS)
        with self.transaction() as db:
            db.execute("DELETE FROM documents WHERE source_path=?", (path,))
            db.execute("DELETE FROM problems WHERE path=?", (path,))
            db.executemany(
                f"INSERT OR REPLACE INTO documents ({', '.join(DOC_COLUMNS)}) VALUES ({placeholders})",
                [tuple(encode_value(c, getattr(d, c)) for c in DOC_COLUMNS) for d in docs],
            )
            db.executemany("INSERT OR REPLACE INTO problems VALUES (?, ?, ?, ?)",
                           [(path, rec, why, now) for rec, why in problems])
            db.executemany("INSERT OR IGNORE INTO ungrouped VALUES (?)", [(d.id,) for d in docs])
            db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (path, file_hash, size, len(docs), status, reason, now))

    def remove_file(self, path: str) -> int:
        with self.transaction() as db:
            n = db.execute("DELETE FROM documents WHERE source_path=?", (path,)).rowcount
            db.execute("DELETE FROM problems WHERE path=?", (path,))
            db.execute("DELETE FROM files WHERE path=?", (path,))
        return n

    # --- documents ------------------------------------------------------------------------
    def get(self, doc_id: str) -> Document:
        row = self.db.execute("SELECT * FROM documents WHERE id=?", (doc_id,)).fetchone()
        if row is None:
            prefix = id_prefix(doc_id)
            like = self.db.execute("SELECT id FROM documents WHERE id LIKE ? ORDER BY id LIMIT 4",
                                   (prefix + "%",)).fetchall() if prefix else []
            if len(like) == 1:
                return self.get(like[0][0])
            if like:
                shown = ", ".join(r[0] for r in like[:3]) + (", …" if len(like) > 3 else "")
                raise NotFoundError(f"{doc_id!r} is the start of several ids ({shown}); give more characters")
            raise NotFoundError(f"no document {doc_id!r}; list ids with `speechkit export --format csv`")
        return decode_row(row)

    def documents(self, *, canonical_only: bool = True) -> Iterator[Document]:
        """Every (canonical) document, in source order."""
        sql = "SELECT * FROM documents" + (" WHERE canonical=1" if canonical_only else "")
        for row in self.db.execute(sql + " ORDER BY source_path, record, part"):
            yield decode_row(row)

    def texts(self, ids: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(id, cleaned text) for `ids`, read 500 at a time, in the order SQLite returns them."""
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            rows = self.db.execute(
                f"SELECT id, text FROM documents WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            yield from ((r[0], r[1]) for r in rows)

    def count(self, *, canonical: bool | None = None) -> int:
        """Documents stored; with `canonical`, only canonical copies (True) or only the others."""
        where = "" if canonical is None else f" WHERE canonical={int(canonical)}"
        return self.db.execute("SELECT COUNT(*) FROM documents" + where).fetchone()[0]

    # --- named reads: what the other modules need, so a second backend implements these ---------
    META = ("id", "title", "date", "year", "level", "region", "site", "speaker_role", "speaker_name")

    def metadata(self, *, canonical_only: bool = True) -> list[dict[str, Any]]:
        """Every document's metadata (META, as shown: `shown_row`), its length in characters
        (`chars`), text hash and near-duplicate group, ordered by id."""
        return [shown_row(r) for r in self.db.execute(
            f"SELECT {', '.join(self.META)}, length(text) AS chars, text_hash, dup_group FROM documents"
            + (" WHERE canonical=1" if canonical_only else "") + " ORDER BY id")]

    def metadata_of(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """META of `ids` (a page of hits), as shown (`shown_row`)."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            out.update((r["id"], shown_row(r)) for r in self.db.execute(
                f"SELECT {', '.join(self.META)} FROM documents WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def group_members(self, group: str) -> list[dict[str, Any]]:
        """META and `canonical` of every document of a near-duplicate group, canonical first."""
        return [shown_row(r) for r in self.db.execute(f"SELECT {', '.join(self.META)}, canonical FROM documents "
                                                      "WHERE dup_group=? ORDER BY canonical DESC, id", (group,))]

    def regions(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT region FROM documents WHERE region IS NOT NULL")]

    def counts_by(self, column: str) -> list[tuple[Any, int]]:
        """Canonical documents per value of a metadata column."""
        if column not in (*self.META, "date_source", "year_source"):
            raise ValueError(f"not a metadata column: {column}")
        return [(r[0], r[1]) for r in self.db.execute(
            f"SELECT COALESCE({column}, '(unknown)') AS k, COUNT(*) FROM documents WHERE canonical=1 "
            "GROUP BY k ORDER BY k")]

    def flag_lists(self) -> Iterator[list[str]]:
        """The flags of each canonical document."""
        for (raw,) in self.db.execute("SELECT flags FROM documents WHERE canonical=1"):
            yield json.loads(raw or "[]")

    def file_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM files").fetchone()[0]

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read-only SELECT, for tests and inspection: not part of DocumentStore, and
        no module of the package calls it (writes go through the named methods)."""
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            raise ValueError("Store.query is for reading; use a named method to write")
        return self.db.execute(sql, tuple(params)).fetchall()

    def signatures(self) -> Iterator[sqlite3.Row]:
        yield from self.db.execute(
            "SELECT id, minhash, shingles, dup_group, truncated, lossy, masked, length(text) AS n, "
            "date, flags FROM documents WHERE minhash IS NOT NULL"
        )

    def group_pages(self, kind: str, value: str) -> Iterator[tuple[str, str | None, str, str | None]]:
        """(id, title, text, speaker_name) of the documents of one site (`kind` "site") or one
        folder ("folder": its files, not its subfolders)."""
        if kind == "site":
            rows = self.db.execute("SELECT id, title, text, speaker_name, source_path FROM documents "
                                   "WHERE site=?", (value,))
        else:
            pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
            rows = self.db.execute("SELECT id, title, text, speaker_name, source_path FROM documents "
                                   "WHERE source_path LIKE ? ESCAPE '\\'", (pattern,))
        for r in rows:
            if kind == "site" or r[4].rpartition("/")[0] == value:
                yield r[0], r[1], r[2], r[3]

    def page_groups(self, ids: Sequence[str]) -> set[tuple[str, str]]:
        """("site", site) and ("folder", folder) of each of `ids`."""
        out: set[tuple[str, str]] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for site, path in self.db.execute(
                    f"SELECT site, source_path FROM documents WHERE id IN ({','.join('?' * len(chunk))})", chunk):
                out.add(("folder", path.rpartition("/")[0]))
                if site:
                    out.add(("site", site))
        return out

    def source_paths(self, ids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            out.update(r[0] for r in self.db.execute(
                f"SELECT source_path FROM documents WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def templates(self) -> dict[str, frozenset[str]]:
        """Site and folder templates found so far: "site\tSITE" or "folder\tFOLDER" -> lines."""
        return {k.split("\t", 1)[1]: frozenset(json.loads(v))
                for k, v in self.db.execute("SELECT key, value FROM meta WHERE key LIKE 'template' || char(9) || '%'")}

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def ungrouped(self) -> list[str]:
        """Ids stored by any run and not grouped since."""
        return [r[0] for r in self.db.execute("SELECT id FROM ungrouped ORDER BY id")]

    def mark_grouped(self, ids: Sequence[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM ungrouped WHERE id=?", [(i,) for i in ids])

    def set_groups(self, rows: Sequence[tuple[str | None, bool, str]]) -> None:
        """(dup_group, canonical, id) for each document whose grouping changed."""
        with self.transaction() as db:
            db.executemany("UPDATE documents SET dup_group=?, canonical=? WHERE id=?",
                           [(g, int(c), i) for g, c, i in rows])

    # --- tokens (segmentation cache) ------------------------------------------------------
    def cached_tokens(self, ids: Iterable[str], version: str) -> dict[str, str]:
        """Serialized tokens for documents whose text and segmenter are unchanged."""
        out: dict[str, str] = {}
        ids = list(ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self.db.execute(
                f"SELECT t.id, t.data FROM tokens t JOIN documents d ON d.id = t.id AND d.text_hash = t.text_hash "
                f"WHERE t.version = ? AND t.id IN ({','.join('?' * len(chunk))})", (version, *chunk))
            out.update({r[0]: r[1] for r in rows})
        return out

    def save_tokens(self, rows: Sequence[tuple[str, str]], version: str) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO tokens SELECT id, text_hash, ?, ? FROM documents WHERE id = ?",
                [(version, data, doc_id) for doc_id, data in rows])

    def clear_tokens(self) -> None:
        """Forget every cached segmentation (the next index build segments everything)."""
        with self.transaction() as db:
            db.execute("DELETE FROM tokens")

    def generation(self) -> str:
        """This store's id and a counter that every insert, update and delete of a document
        increases: equal only while no document changed in this very store."""
        meta = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'store_id')"))
        return f"{meta.get('store_id', '')}:{meta.get('generation', '0')}"

    def canonical_digest(self) -> tuple[str, int]:
        """A digest of which documents are canonical and what their text is: the index is
        current exactly when this matches its manifest."""
        # one string built by SQLite and hashed once: a Python loop over 35,000 rows took 0.45 s
        # of every command's start-up
        cols = ("id", "text_hash", "title", "date", "year", "level", "region", "site", "speaker_role", "speaker_name")
        row = " || char(9) || ".join(f"ifnull({c}, 'None')" for c in cols)
        blob, n = self.db.execute(
            f"SELECT group_concat(r, char(10)), count(*) FROM "
            f"(SELECT {row} AS r FROM documents WHERE canonical=1 ORDER BY id)").fetchone()
        return hashlib.blake2b((blob + "\n" if blob else "").encode(), digest_size=12).hexdigest(), n

    def problems(self) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT path, record, reason FROM problems UNION ALL "
            "SELECT path, '', reason FROM files WHERE status='error' ORDER BY path, record"
        ).fetchall()

