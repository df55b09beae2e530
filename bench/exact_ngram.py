"""Exact search by an n-gram index against today's scan, in one run (issue 11's next step).

Builds a contentless SQLite FTS5 table of overlapping character bigrams over the matching forms
of an indexed workspace's exact-match index, then times each query both ways: FTS5 phrase of
bigrams for every run of word characters, each candidate checked on the matching form, against
`TextIndex.containing` (a scan of every matching form). The hit sets must be equal. Prints
build time, size ratio to the text, and per-query latency and ratio.

    python bench/exact_ngram.py --home DIR [--db /tmp/ngrams.sqlite]

Measured on gov-reports + news (35,078 speeches) while CI ran: build 54 s, 1.0x the text;
新质生产力 26 ms vs 60 ms, 放管服 46 vs 77, 营商环境 88 vs 55, 改革 224 vs 53 (the per-candidate check
in Python dominates for common terms).
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speechkit.layout import Paths  # noqa: E402
from speechkit.matching import matching_form  # noqa: E402
from speechkit.textindex import TextIndex  # noqa: E402

RUN = re.compile(r"\w+")
QUERIES = ("新质生产力", "放管服", "营商环境", "供给侧结构性改革", "改革", "人民", "发展")


def bigrams(text: str) -> str:
    out: list[str] = []
    for m in RUN.finditer(text):
        run = m.group()
        out.extend([run] if len(run) == 1 else (run[i:i + 2] for i in range(len(run) - 1)))
    return " ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True, help="a workspace with `speechkit index` done")
    ap.add_argument("--db", type=Path, default=Path("/tmp/speechkit-ngrams.sqlite"))
    args = ap.parse_args()
    index = TextIndex(Paths(args.home / "indexes"))
    args.db.unlink(missing_ok=True)
    db = sqlite3.connect(args.db)
    db.execute("CREATE VIRTUAL TABLE g USING fts5(t, content='', columnsize=0, detail='full', "
               "tokenize='unicode61 remove_diacritics 0')")
    t0 = time.perf_counter()
    with db:
        for n in range(len(index)):
            db.execute("INSERT INTO g(rowid, t) VALUES (?, ?)", (n + 1, bigrams(index.text(n))))
    db.execute("INSERT INTO g(g) VALUES('optimize')")
    db.commit()
    build = time.perf_counter() - t0
    text_size = (args.home / "indexes" / "text" / "matching.txt").stat().st_size
    size = os.path.getsize(args.db)
    print(f"{len(index)} speeches: build {build:.1f} s, n-gram index {size / 1e6:.0f} MB = "
          f"{size / text_size:.2f}x the text ({text_size / 1e6:.0f} MB)")

    def by_ngrams(q: str) -> set[int]:
        runs = [r for r in RUN.findall(q) if len(r) >= 2]
        expr = " AND ".join('"' + " ".join(r[i:i + 2] for i in range(len(r) - 1)) + '"' for r in runs)
        candidates = [r[0] - 1 for r in db.execute("SELECT rowid FROM g WHERE g MATCH ?", (expr,))]
        return {n for n in candidates if q in index.text(n)}

    for raw in QUERIES:
        q = matching_form(raw)
        fts, scan = [], []
        for _ in range(3):
            t = time.perf_counter()
            a = by_ngrams(q)
            fts.append(time.perf_counter() - t)
            t = time.perf_counter()
            b = index.containing(q)
            scan.append(time.perf_counter() - t)
        assert a == b, (raw, len(a), len(b))
        print(f"{raw:<10} hits {len(a):>6}  n-grams {min(fts) * 1000:6.0f} ms  scan {min(scan) * 1000:6.0f} ms  "
              f"ratio {min(fts) / min(scan):.2f}")


if __name__ == "__main__":
    main()
