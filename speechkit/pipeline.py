"""From one raw input unit to stored speeches: decode, clean, split, extract metadata,
sign for near-duplicate detection. Pure functions of their input, so worker processes (or
a distributed engine) can run them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from . import metadata as M
from .clean import clean_text
from .clean import resources as R
from .clean.controls import clean_field
from .clean.split import split_compilation
from .clean.template import strip_template
from .decode import decode_bytes
from .dedup import signature
from .documents import Document, RawDocument, content_hash, doc_id
from .errors import DocumentProblem
from .matching import matching_form
from .settings import Settings
from .sources import html_to_text, split_front_matter


def to_text(raw: RawDocument) -> tuple[str, str, bool, dict[str, str], str]:
    """(text, encoding, lossy, meta, kind) of a raw unit: decoded, front matter read, HTML
    turned into its visible text. `ingest` and `clean` both start here."""
    meta = dict(raw.meta)
    if raw.text is not None:
        text, encoding, lossy = raw.text, "utf-8", False
    else:
        decoded = decode_bytes(raw.data)
        text, encoding, lossy = decoded.text, decoded.encoding, decoded.lossy
    kind = raw.kind
    if kind == "markdown" or text.startswith("---\n") or text.startswith("---\r\n"):
        front, text = split_front_matter(text.replace("\r\n", "\n"))
        meta = {**front, **meta}
        kind = "markdown" if raw.kind == "markdown" else kind
    if kind in ("html", "html-fragment"):
        text, html_meta = html_to_text(text, full_page=kind == "html")
        meta = {**html_meta, **meta}
        kind = "text"
    if not text.strip():
        html = kind == "text" and raw.kind.startswith("html")
        raise DocumentProblem("no visible text" if html else "no text after decoding")
    # a crawler's fields, front matter and <meta> tags are scraped text too: no escape sequence
    # in a title may reach a terminal, a page or a CSV cell
    meta = {key: clean_field(value) if isinstance(value, str) else value for key, value in meta.items()}
    return text, encoding, lossy, meta, kind


def _locate(context: str, parts: list[str]) -> int:
    """Index of the part whose text contains `context` (the words before a notice)."""
    key = re.sub(r"\s+", "", context)[-12:]
    for i, part in enumerate(parts):
        if key and key in re.sub(r"\s+", "", part):
            return i
    return len(parts) - 1


# a site's or a folder's template lines ("site\tSITE" / "folder\tFOLDER" -> lines), found by ingest
Templates = Mapping[str, frozenset[str]]


def process_raw(raw: RawDocument, settings: Settings, templates: Templates | None = None) -> list[Document]:
    """Every speech in one input unit, fully cleaned and described. `templates`: the template
    lines of sites and folders (clean/template.py), stripped after cleaning, before metadata."""
    size = len(raw.data) if raw.text is None else len(raw.text) * 3  # a bound on its UTF-8 size
    if size > settings.max_text_mb * 2**20:
        raise DocumentProblem(f"a text of more than {settings.max_text_mb} MB: skipped (raise max_text_mb in "
                              "speechkit.cfg to read it; cleaning needs about 25 times the size in memory)")
    text, encoding, lossy, meta, kind = to_text(raw)
    page = M.page_info(text, meta)
    body_text, steps, template_evidence = _cleaned(raw, text, kind, page, templates)
    parts = split_compilation(body_text)
    cut_parts = _truncation_notices(text, [p.text for p in parts])
    docs: list[Document] = []
    for part in parts:
        title = M.choose_title(part.title, part.text, meta.get("title"))
        body = M.drop_title_lines(part.text, title)
        evidence: dict[str, str] = {}
        if not title and len(parts) == 1:
            title = M.title_from_filename(raw.source_path)
            if title:
                evidence["title"] = "file name: " + Path(raw.source_path).name
        body, truncated, shown, total = _truncation(part.index, len(parts), body, cut_parts, page, evidence)
        if part.problem:
            evidence["split"] = part.problem
        if not body.strip():
            continue
        about = M.describe(body, title, page, meta, first_line=part.text.split("\n", 1)[0],
                           template_evidence=template_evidence)
        evidence.update(about.evidence)
        flags = ["split_mismatch"] * bool(part.problem) + about.flags + ["lossy_decode"] * lossy
        flags += ["truncated"] * truncated
        d, spk = about.dates, about.speaker
        sig, n_shingles = signature(matching_form(body), settings)
        docs.append(Document(
            id=doc_id(raw.source_path, raw.record, part.index), source_path=raw.source_path,
            record=raw.record, part=part.index, parts=len(parts), title=title, text=body,
            original=text, date=d.date, date_source=d.date_source, year=d.year,
            year_source=d.year_source, year_min=d.year_min, year_max=d.year_max,
            speaker_role=spk.role, speaker_name=spk.name, level=about.level, region=about.region,
            site=page.site, url=page.url, encoding=encoding, lossy=lossy, truncated=truncated,
            shown_chars=shown, total_chars=total, masked=about.masked, flags=flags, steps=steps,
            evidence=evidence, source_hash=content_hash(raw.data or text.encode("utf-8")),
            text_hash=content_hash(body.encode("utf-8")), minhash=sig, shingles=n_shingles,
        ))
    if not docs:
        raise DocumentProblem("nothing left after cleaning (only page furniture?)")
    if len(docs) != len(parts):
        docs = [replace(doc, parts=len(docs)) for doc in docs]
    return docs


def _cleaned(raw: RawDocument, text: str, kind: str, page: M.PageInfo,
             templates: Templates | None) -> tuple[str, list[str], str]:
    """The cleaned text with its site's and folder's template lines stripped; the cleaning steps
    taken; the evidence of the template lines removed."""
    cleaned = clean_text(text, kind=kind)
    steps = [str(s) for s in cleaned.steps]
    if not templates:
        return cleaned.text, steps, ""
    lines = templates.get("folder\t" + raw.source_path.rpartition("/")[0], frozenset())
    if page.site:
        lines = lines | templates.get("site\t" + page.site, frozenset())
    body_text, gone = strip_template(cleaned.text, lines)
    if not gone:
        return body_text, steps, ""
    steps.append(f"strip_site_template(-{len(gone)}/+0)")
    return body_text, steps, " | ".join(gone)[:160] + " (lines repeated on many pages of the site)"


def _truncation_notices(text: str, bodies: list[str]) -> dict[int, list[str]]:
    """The truncation notices (……(未完…省略…)) of the original text, by the part they end."""
    cut_parts: dict[int, list[str]] = {}
    unannotated = R.RE_PINYIN.sub("", text) if "省略" in text else ""
    for m in R.RE_TRUNC_OMITTED.finditer(unannotated):
        where = _locate(unannotated[max(0, m.start() - 200): m.start()], bodies)
        cut_parts.setdefault(where, []).append(m.group().strip())
    return cut_parts


def _truncation(index: int, parts: int, body: str, cut_parts: dict[int, list[str]], page: M.PageInfo,
                evidence: dict[str, str]) -> tuple[str, bool, int | None, int | None]:
    """(body, truncated, shown chars, total chars) of part `index` (from 1) of `parts`: cut by a
    notice in its text, by the page's 全文共N字 (the last part), or stopping on an ellipsis (which
    is removed). The evidence goes into `evidence`."""
    truncated, shown, total = False, None, None
    if index - 1 in cut_parts:
        truncated = True
        evidence["truncated"] = cut_parts[index - 1][0][:80]
    if page.total_chars and index == parts:
        truncated, shown, total = True, page.shown_chars, page.total_chars
        evidence["truncated"] = page.truncation_evidence[-1]
    tail = R.RE_TRAILING_ELLIPSIS.search(body)
    if tail and not body.rstrip().endswith(("。…", "！…")):
        truncated = True
        evidence.setdefault("truncated", "text stops on " + tail.group().strip())
        body = body[: tail.start()].rstrip()
    return body, truncated, shown, total
