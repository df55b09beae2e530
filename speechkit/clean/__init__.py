"""The cleaner: a registry of named `str -> str` steps run in order to a fixed point
(`cleaner.py`: `clean_text`, `STEPS`, `repair_encoding`), the phrase tables and patterns they
use (`resources`), and the characters no field may carry (`controls`).

Importing the package loads none of it: `from speechkit.clean import clean_text` loads the
cleaner when asked for, so a command that only prints titles (a search) imports `controls`
and not the hundreds of patterns the cleaning steps compile.
"""

from __future__ import annotations

from typing import Any

_CLEANER = ("STEPS", "Step", "FORMAT_ONLY", "MAX_ROUNDS", "REPAIR_STEPS", "repair_encoding", "StepRecord", "Cleaned",
            "clean_text")


def __getattr__(name: str) -> Any:
    if name in _CLEANER:
        from . import cleaner

        return getattr(cleaner, name)
    raise AttributeError(f"module 'speechkit.clean' has no attribute {name!r}")
