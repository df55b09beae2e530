"""Summaries of the store for `speechkit stats`."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .settings import Settings
from .store import Store


def corpus_stats(settings: Settings) -> dict[str, Any]:
    """Counts of canonical speeches by year, level, site, date source and flag."""
    with Store(settings.store_path, create=False) as store:
        def grouped(column: str) -> list[tuple[Any, int]]:
            rows = store.query(
                f"SELECT COALESCE({column}, '(unknown)') AS k, COUNT(*) AS n FROM documents "
                f"WHERE canonical=1 GROUP BY k ORDER BY k"
            )
            return [(r["k"], r["n"]) for r in rows]

        flags: Counter[str] = Counter()
        for (raw,) in store.query("SELECT flags FROM documents WHERE canonical=1"):
            flags.update(f.split(":")[0] for f in json.loads(raw or "[]"))
        problems = [tuple(r) for r in store.problems()]
        return {
            "files": store.query("SELECT COUNT(*) FROM files")[0][0],
            "speeches": store.count(),
            "canonical": store.count("canonical=1"),
            "duplicates": store.count("canonical=0"),
            "skipped": len(problems),
            "by_year": grouped("year"),
            "by_level": grouped("level"),
            "by_site": grouped("site"),
            "by_date_source": grouped("date_source"),
            "by_flags": sorted(flags.items()),
            "problems": problems,
        }
