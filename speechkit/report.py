"""Summaries of the store for `speechkit stats`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .context import open_store
from .settings import Settings


def corpus_stats(settings: Settings) -> dict[str, Any]:
    """Counts of canonical speeches by year, level, site, date source and flag."""
    with open_store(settings, create=False) as store:
        grouped = store.counts_by
        flags: Counter[str] = Counter()
        for listed in store.flag_lists():
            flags.update(f.split(":")[0] for f in listed)
        problems = [tuple(r) for r in store.problems()]
        return {
            "files": store.file_count(),
            "speeches": store.count(),
            "canonical": store.count(canonical=True),
            "duplicates": store.count(canonical=False),
            "skipped": len(problems),
            "by_year": grouped("year"),
            "by_level": grouped("level"),
            "by_site": grouped("site"),
            "by_date_source": grouped("date_source"),
            "by_flags": sorted(flags.items()),
            "problems": problems,
        }
