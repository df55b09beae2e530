"""Term trends: exact occurrences per bucket (year, level or speaker role), consistent with
`search` (substring counts on the matching form), with the bucket's size so rates compare."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from .corpus import Corpus
from .csvsafe import record_rows
from .matching import matching_form
from .query import Filter


@dataclass
class TrendRow:
    bucket: str
    term: str
    occurrences: int
    documents: int
    total_chars: int
    total_documents: int
    rate_per_10k: float


@dataclass
class TrendResult:
    terms: list[str]
    by: str
    rows: list[TrendRow]
    provenance: dict[str, str] = field(default_factory=dict)
    # term -> the earliest dated speech of the whole corpus that has it (year, id, title, speeches)
    first_seen: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"terms": self.terms, "by": self.by, **self.provenance, "first_seen": self.first_seen,
                "rows": [asdict(r) for r in self.rows]}

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per (bucket, term), with the provenance (`trend --csv`, the
        workbench's download)."""
        return record_rows([asdict(r) for r in self.rows], self.provenance)


def trend(corpus: Corpus, terms: list[str], *, by: str = "year", year_from: int | None = None,
          year_to: int | None = None, filters: list[Filter] = (), include_duplicates: bool = False) -> TrendResult:
    """Occurrences of each term per bucket; empty years in the range are shown as zero."""
    from .query import year_filter

    filters = list(filters)
    if year_from or year_to:
        filters.append(year_filter(f"{year_from or ''}..{year_to or ''}"))
    docs = corpus.docs(filters, include_duplicates=include_duplicates)
    needles = [matching_form(t.strip()) for t in terms]
    key = {"year": lambda d: d.year, "level": lambda d: d.level, "speaker_role": lambda d: d.speaker_role}[by]
    size_chars: dict[Any, int] = defaultdict(int)
    size_docs: dict[Any, int] = defaultdict(int)
    occ: dict[tuple[Any, int], int] = defaultdict(int)
    hit_docs: dict[tuple[Any, int], int] = defaultdict(int)
    by_id = {d.id: d for d in docs}
    for d in docs:
        size_chars[key(d)] += d.chars
        size_docs[key(d)] += 1
    text_index = None if include_duplicates else corpus.text_index()
    if text_index is not None:
        # the search index holds every canonical matching form: find in it, as `search` does
        for n, needle in enumerate(needles):
            for pos in text_index.containing(needle):
                doc_id = text_index.ids[pos]
                if doc_id in by_id:
                    b = key(by_id[doc_id])
                    occ[b, n] += text_index.count(pos, needle)
                    hit_docs[b, n] += 1
    else:
        for doc_id, text in corpus.texts(list(by_id)):
            match = matching_form(text)
            b = key(by_id[doc_id])
            for n, needle in enumerate(needles):
                c = match.count(needle) if needle else 0
                if c:
                    occ[b, n] += c
                    hit_docs[b, n] += 1
    buckets = sorted(size_docs, key=lambda b: (b is None, b if b is not None else ""))
    if by == "year":
        years = [b for b in buckets if b is not None]
        lo = year_from if year_from else (min(years) if years else None)
        hi = year_to if year_to else (max(years) if years else None)
        if lo is not None and hi is not None:
            buckets = list(range(lo, hi + 1)) + ([None] if None in size_docs else [])
    rows = []
    for b in buckets:
        for n, term in enumerate(terms):
            chars = size_chars.get(b, 0)
            o = occ.get((b, n), 0)
            rows.append(TrendRow("(unknown)" if b is None else str(b), term, o, hit_docs.get((b, n), 0), chars,
                                 size_docs.get(b, 0), round(o * 10000 / chars, 4) if chars else 0.0))
    return TrendResult(terms, by, rows, corpus.provenance(), {t: corpus.first_seen(t) for t in terms})
