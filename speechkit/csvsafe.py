"""CSV cells that a spreadsheet cannot run (CSV injection), for every CSV speechkit writes."""

from __future__ import annotations

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading ' (OWASP's advice
    for CSV injection); numbers and other text are unchanged.

    >>> spreadsheet_safe("=HYPERLINK(A1)"), spreadsheet_safe("-5%的增长"), spreadsheet_safe(-5)
    ("'=HYPERLINK(A1)", "'-5%的增长", -5)
    """
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def record_rows(records: list[dict[str, Any]], provenance: dict[str, Any],
                extra: dict[str, Any] | None = None) -> list[list[Any]]:
    """A header and one row per record, for a result's `csv_rows`: the record's fields (a list
    joined by ";"), then `extra` columns, then the corpus digest and segmenter every output names.

    >>> record_rows([{"word": "改革", "ids": ["a", "b"]}], {"corpus": "c1", "segmenter": "s1", "code": "x"})
    [['word', 'ids', 'corpus', 'segmenter'], ['改革', 'a;b', 'c1', 's1']]
    """
    tail = {**(extra or {}), "corpus": provenance.get("corpus"), "segmenter": provenance.get("segmenter")}
    fields = list(records[0]) if records else []
    return [[*fields, *tail]] + [
        [";".join(map(str, r.get(f))) if isinstance(r.get(f), list) else r.get(f) for f in fields] + list(tail.values())
        for r in records]
