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
