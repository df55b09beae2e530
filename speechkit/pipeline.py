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
from .clean.normalize import clean_field
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
    cleaned = clean_text(text, kind=kind)
    steps = [str(s) for s in cleaned.steps]
    body_text, template_evidence = cleaned.text, ""
    if templates:
        lines = templates.get("folder\t" + raw.source_path.rpartition("/")[0], frozenset())
        if page.site:
            lines = lines | templates.get("site\t" + page.site, frozenset())
        body_text, gone = strip_template(cleaned.text, lines)
        if gone:
            steps.append(f"strip_site_template(-{len(gone)}/+0)")
            template_evidence = " | ".join(gone)[:160] + " (lines repeated on many pages of the site)"
    parts = split_compilation(body_text)
    bodies = [p.text for p in parts]
    # which part each truncation notice belongs to
    cut_parts: dict[int, list[str]] = {}
    unannotated = R.RE_PINYIN.sub("", text) if "省略" in text else ""
    for m in R.RE_TRUNC_OMITTED.finditer(unannotated):
        where = _locate(unannotated[max(0, m.start() - 200): m.start()], bodies)
        cut_parts.setdefault(where, []).append(m.group().strip())
    docs: list[Document] = []
    for part in parts:
        title = M.choose_title(part.title, part.text, meta.get("title"))
        body = M.drop_title_lines(part.text, title)
        flags: list[str] = []
        evidence: dict[str, str] = {}
        if not title and len(parts) == 1:
            title = M.title_from_filename(raw.source_path)
            if title:
                evidence["title"] = "file name: " + Path(raw.source_path).name
        truncated = False
        shown = total = None
        if part.index - 1 in cut_parts:
            truncated = True
            evidence["truncated"] = cut_parts[part.index - 1][0][:80]
        if page.total_chars and part.index == len(parts):
            truncated, shown, total = True, page.shown_chars, page.total_chars
            evidence["truncated"] = page.truncation_evidence[-1]
        tail = R.RE_TRAILING_ELLIPSIS.search(body)
        if tail and not body.rstrip().endswith(("。…", "！…")):
            truncated = True
            evidence.setdefault("truncated", "text stops on " + tail.group().strip())
            body = body[: tail.start()].rstrip()
        if part.problem:
            flags.append("split_mismatch")
            evidence["split"] = part.problem
        if not body.strip():
            continue
        d = M.dates(body, title, page, meta, first_line=part.text.split("\n", 1)[0])
        flags.extend(d.flags)
        evidence.update(d.evidence)
        spk = M.speaker(body, title)
        if spk.evidence:
            evidence["speaker"] = spk.evidence
        region, level, ev = M.region_and_level(body, title, spk, meta.get("region"))
        evidence.update(ev)
        if page.site_evidence:
            evidence["site"] = page.site_evidence
        if template_evidence:
            evidence["template"] = template_evidence
        masked = M.masked_count(body) + M.masked_count(title or "")
        if masked:
            flags.append("masked")
        stray = M.stray_connectives(body)
        if stray:
            flags.append(f"stray_connectives:{stray}")
        fffd = body.count("\ufffd")
        if fffd:
            flags.append(f"replacement_chars:{fffd}")
        if lossy:
            flags.append("lossy_decode")
        if truncated:
            flags.append("truncated")
        match = matching_form(body)
        sig, n_shingles = signature(match, settings)
        docs.append(Document(
            id=doc_id(raw.source_path, raw.record, part.index), source_path=raw.source_path,
            record=raw.record, part=part.index, parts=len(parts), title=title, text=body,
            original=text, date=d.date, date_source=d.date_source, year=d.year,
            year_source=d.year_source, year_min=d.year_min, year_max=d.year_max,
            speaker_role=spk.role, speaker_name=spk.name, level=level, region=region,
            site=page.site, url=page.url, encoding=encoding, lossy=lossy, truncated=truncated,
            shown_chars=shown, total_chars=total, masked=masked, flags=flags, steps=steps,
            evidence=evidence, source_hash=content_hash(raw.data or text.encode("utf-8")),
            text_hash=content_hash(body.encode("utf-8")), minhash=sig, shingles=n_shingles,
        ))
    if not docs:
        raise DocumentProblem("nothing left after cleaning (only page furniture?)")
    if len(docs) != len(parts):
        docs = [replace(doc, parts=len(docs)) for doc in docs]
    return docs
