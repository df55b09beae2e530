"""Walking inputs and reading them into RawDocuments: files, folders, globs, .gz, and
JSONL/CSV crawler dumps with a field mapping. HTML becomes visible text here."""

from __future__ import annotations

import csv
import errno
import glob
import gzip
import io
import json
import logging
import os
import re
import stat
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DocumentProblem, InputError

if TYPE_CHECKING:
    from .documents import RawDocument

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".shtml", ".xhtml"}
DUMP_SUFFIXES = {".jsonl", ".ndjson", ".csv"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | DUMP_SUFFIXES
# files that describe a folder rather than hold a speech
SKIP_NAMES = {"manifest.tsv", "readme.md", "license", "license.md", "changes.md"}
# "date" is the document's own date (a news item's broadcast time, a decree's issue date);
# "page_date" is when a page was published or crawled, only an upper bound for the speech
FIELDS = ("text", "title", "date", "page_date", "url", "site", "id", "speaker", "region", "level")

# a speech fits in one CSV cell: the csv module's default limit (131,072 characters) does not
csv.field_size_limit(2**31 - 1)

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
_SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.I)


def base_suffix(path: Path) -> str:
    """'.txt' for a.txt and a.txt.gz."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def expand_inputs(paths: Sequence[str], *, problems: list[tuple[str, str]] | None = None) -> list[Path]:
    """Files, folders (recursive) and globs, as one sorted, de-duplicated list of files.

    A folder that cannot be read is not an error of the whole run: it is appended to
    `problems` as (path, reason) and reported like a bad file."""
    out: set[Path] = set()
    for raw in paths:
        matches = [Path(m) for m in glob.glob(raw, recursive=True)] if glob.has_magic(raw) else []
        if glob.has_magic(raw) and not matches:
            raise InputError(f"no files match {raw!r}; check the pattern (quote it for the shell)")
        for p in matches or [Path(raw)]:
            if p.is_dir():
                out.update(_walk(p, problems))
            elif not os.path.lexists(p):
                raise InputError(f"{raw}: no such file or folder")
            elif (why := _not_regular(p)) is None:
                out.add(p)
            elif problems is not None:
                problems.append((str(p), why))
            else:
                raise InputError(f"{p}: {why}")
    return sorted(out, key=lambda p: str(p))


def _not_regular(path: Path) -> str | None:
    """Why `path` (after following links) is not a regular file to read, or None. A FIFO would
    block the reader for ever and /dev/zero never ends."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links: skipped"
        return f"broken link: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, device or socket): skipped"
    return None


def _walk(root: Path, problems: list[tuple[str, str]] | None) -> Iterator[Path]:
    def unreadable(exc: OSError) -> None:
        if problems is not None:
            problems.append((str(exc.filename or root),
                             f"folder not read: {exc.strerror or exc} (fix with chmod +rx)"))

    for folder, dirs, files in os.walk(root, onerror=unreadable):
        # hidden folders count only below the root the user named, so `ingest ../dir` works
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        # links to folders are not followed (one pointing up would loop): say so
        for d in [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            dirs.remove(d)
            if problems is not None:
                problems.append((os.path.join(folder, d), "a link to a folder: not followed (it could loop); "
                                                          "name the folder it points to, to read it"))
        for name in sorted(files):
            f = Path(folder) / name
            if base_suffix(f) in SUFFIXES and not name.startswith(".") and name.lower() not in SKIP_NAMES:
                why = _not_regular(f)
                if why is None:
                    yield f
                elif problems is not None:
                    problems.append((str(f), why))


def parse_field_map(specs: Sequence[str]) -> dict[str, str]:
    """`text=content_html` pairs to {our field: their column}."""
    mapping: dict[str, str] = {}
    for spec in specs:
        ours, sep, theirs = spec.partition("=")
        if not sep or not ours or not theirs:
            raise InputError(f"--field {spec!r}: write it as OURS=THEIRS, e.g. text=content_html")
        if ours not in FIELDS:
            raise InputError(f"--field {spec!r}: {ours!r} is not one of {', '.join(FIELDS)}")
        mapping[ours] = theirs
    return mapping


def read_bytes(path: Path, *, max_mb: int = 200) -> bytes:
    """The file's bytes, decompressed for .gz; never more than `max_mb` (the `max_file_mb`
    setting): a bigger file, or a gzip bomb, is a DocumentProblem, read no further."""
    limit = max_mb * 1024 * 1024
    too_big = DocumentProblem(f"more than {max_mb} MB{' decompressed' if path.suffix.lower() == '.gz' else ''}: "
                              "skipped (raise max_file_mb in speechkit.cfg to read it)")
    why = _not_regular(path)
    if why is not None:
        raise DocumentProblem(why)
    try:
        if path.suffix.lower() == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read(limit + 1)  # streamed: a bomb is never inflated past the limit
        else:
            if path.stat().st_size > limit:
                raise too_big
            data = path.read_bytes()
    except PermissionError as exc:
        raise DocumentProblem("permission denied (fix with chmod +r)") from exc
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DocumentProblem("broken gzip file") from exc
    except OSError as exc:
        raise DocumentProblem(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise too_big
    return data


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Read simple YAML front matter (key: value lines) and return it with the body.

    >>> split_front_matter("---\\ntitle: '报告'\\ndate: 2020-01-02\\n---\\n正文")
    ({'title': '报告', 'date': '2020-01-02'}, '正文')
    """
    m = _FRONT_MATTER.match(text)
    if not m:
        return {}, text
    meta: dict[str, str] = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key and not key.startswith((" ", "-")) and value.strip():
            meta[key.strip().lower()] = value.strip().strip("'\"")
    if "source" in meta and "url" not in meta and meta["source"].startswith("http"):
        meta["url"] = meta["source"]
    return meta, text[m.end():]


def html_to_text(html: str, *, full_page: bool) -> tuple[str, dict[str, str]]:
    """Visible text of HTML. A full page goes through trafilatura's main-content extraction
    (navigation, scripts and styles gone); a fragment from a crawler field keeps all its
    visible text with block elements as line breaks."""
    meta: dict[str, str] = {}
    if full_page:
        import trafilatura  # slow import: only when a saved page is ingested

        m = _SAVED_FROM.search(html[:2000])
        if m:
            meta["url"] = m.group(1)
        text = trafilatura.extract(html, include_comments=False, include_tables=True) or ""
        info = trafilatura.extract_metadata(html)
        if info is not None:
            if info.title:
                meta["title"] = info.title
            if info.date:
                meta["page_date"] = info.date
            if info.sitename:
                meta["site_name"] = info.sitename
            if info.url and "url" not in meta:
                meta["url"] = info.url
        if text.strip():
            return text, meta
    return _fragment_text(html), meta


_BLOCK = re.compile(r"<\s*(br|/p|/div|/h\d|/li|/tr|p|div|h\d|li|tr)\b[^>]*>", re.I)


def _fragment_text(html: str) -> str:
    import lxml.html

    try:
        root = lxml.html.fromstring(f"<div>{_BLOCK.sub(chr(10) + '<br>', html)}</div>")
    except Exception as exc:  # lxml raises several unrelated types for hopeless markup
        raise DocumentProblem(f"unreadable HTML: {exc}") from exc
    for bad in root.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    return root.text_content()


def _dump_rows(path: Path, data: bytes) -> Iterator[tuple[str, dict[str, object]]]:
    from .decode import decode_bytes

    # a dump is bytes like any other file: GBK and UTF-16 dumps from Windows crawlers exist
    text = decode_bytes(data).text if data else ""
    if base_suffix(path) == ".csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield f"row{reader.line_num}", {"__error__": f"broken CSV near line {reader.line_num}: {exc}"}
                continue
            yield f"row{reader.line_num}", dict(row)
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"line{n}", {"__error__": f"broken JSON on line {n}: {exc}"}
            continue
        if not isinstance(obj, dict):
            yield f"line{n}", {"__error__": f"line {n} is not a JSON object"}
            continue
        yield f"line{n}", obj


def is_dump(path: Path) -> bool:
    return base_suffix(path) in DUMP_SUFFIXES


def read_dump(path: Path, data: bytes, field_map: dict[str, str]):
    """Yield (record key, RawDocument | DocumentProblem) for each record of a JSONL/CSV dump."""
    from .documents import RawDocument

    text_field = field_map.get("text", "text")
    for key, row in _dump_rows(path, data):
        if "__error__" in row:
            yield key, DocumentProblem(str(row["__error__"]))
            continue
        body = row.get(text_field)
        if not isinstance(body, str) or not body.strip():
            why = "empty" if isinstance(body, str) else "missing"
            yield key, DocumentProblem(
                f"field {text_field!r} is {why} (map the text column with --field text=COLUMN)"
            )
            continue
        meta = {}
        for ours in FIELDS:
            if ours == "text":
                continue
            value = row.get(field_map.get(ours, ours))
            if value not in (None, ""):
                meta[ours] = str(value)
        record = str(meta.pop("id", "")) or key
        is_html = "<" in body and bool(re.search(r"</?(p|div|br|span|a)\b", body, re.I))
        yield key, RawDocument(
            source_path=str(path), data=b"", record=record,
            kind="html-fragment" if is_html else "text", meta=meta, text=body,
        )


def kind_of(path: Path) -> str:
    """How a file's bytes are to be read: 'html', 'markdown' or 'text'."""
    suffix = base_suffix(path)
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix in (".md", ".markdown"):
        return "markdown"
    return "text"


def read_units(path: Path, key: str, data: bytes, field_map: dict[str, str]
               ) -> tuple[list[RawDocument], list[tuple[str, str]]]:
    """The input units of one file (one per dump record, else the file itself) and the
    records that could not be read, as (record, reason). The one place a file becomes units:
    `ingest` and `clean` both use it."""
    from .documents import RawDocument

    if is_dump(path):
        units, problems = [], []
        for record, item in read_dump(path, data, field_map):
            if isinstance(item, DocumentProblem):
                problems.append((record, item.reason))
            else:
                units.append(RawDocument(key, b"", item.record, item.kind, item.meta, item.text))
        return units, problems
    return [RawDocument(key, data, "", kind_of(path))], []
