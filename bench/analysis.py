"""Analysis benchmark: wall time and peak memory of trend, compare, collocates, passage themes
(topics k=20, target < 120 s and < 2 GB), diff of two national reports (target < 2 s), cluster
(k=20), similar (with and without the cached TF-IDF counts), spread (target < 2 s) and reuse
(one national report against the provincial reports of two years, target < 30 s; every
provincial report against the national report of its year, target < 10 min) on gov-reports +
news (about 35,000 speeches). spread and reuse are compared with a brute-force reading in the
same run (`--steps spread,reuse`: a scan of every text; the search of every 30-character window
of each target in its source). Each step runs in its own process so its peak memory is its own (and its
largest worker's, for a step that uses the pool); the index build that precedes them is reported
separately.

    python bench/analysis.py [--home DIR] [--steps topics,diff]   # reuse an indexed workspace
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWS = ["--field", "text=content_html", "--field", "date=pubtime", "--field", "title=title",
        "--field", "url=url", "--field", "id=id"]
STEPS = {
    "trend 营商环境": ["trend", "营商环境", "--json"],
    "trend 3 terms by level": ["trend", "改革", "营商环境", "放管服", "--by", "level", "--json"],
    "compare 2008–2012 vs 2019–2023": ["compare", "year:2008..2012", "year:2019..2023", "--json"],
    "collocates 营商环境": ["collocates", "营商环境", "--json"],
    "topics k=20 (passages)": ["topics", "-k", "20", "--name", "bench-themes", "--json"],
    "diff national 2023 vs 2024": ["diff", "{a2023}", "{b2024}", "--json"],
    "cluster k=20 (no cache)": ["cluster", "-k", "20", "--name", "bench", "--json"],
    "similar (counts cached by cluster)": ["similar", "{doc}", "--json"],
    "similar (no cache)": ["similar", "{doc}", "--json"],
    "spread 营商环境": ["spread", "营商环境", "--json"],
    "spread 河长制 by city": ["spread", "河长制", "--by", "city", "--json"],
    "reuse national 2018 in provinces 2018–2019": ["reuse", "{n2018}", "level:province year:2018..2019", "--json"],
    "reuse every provincial report, lag 0": ["reuse", "--source", "level:national title:政府工作报告",
                                             "--target", "level:province", "--lag", "0..0", "--json"],
}
COLD = {"cluster k=20 (no cache)", "similar (no cache)"}  # the TF-IDF cache is removed first
PROBE = """
import resource, sys, time
from speechkit.cli import cli
t0 = time.perf_counter()
try:
    cli(sys.argv[1:], standalone_mode=False)
finally:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the largest worker process the step started (topics reads passages on the pool), if any
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"@@ {time.perf_counter() - t0:.2f} {peak:.0f} {worker:.0f}", file=sys.stderr)
"""


def speechkit(home: Path, *args: str) -> tuple[float, float, float]:
    """Wall seconds, the command's peak MB and its largest worker's peak MB (0: none)."""
    proc = subprocess.run([sys.executable, "-c", PROBE, "--home", str(home), *args],
                          capture_output=True, text=True, check=True)
    line = [x for x in proc.stderr.splitlines() if x.startswith("@@ ")][-1]
    seconds, peak, worker = line.split()[1:]
    return float(seconds), float(peak), float(worker)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--home", type=Path, help="an existing workspace with the corpus indexed")
    ap.add_argument("--steps", default="", help="comma-separated words; run only the steps whose label has one")
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="speechkit-analysis-"))
    if not args.home:
        t0 = time.perf_counter()
        news = [str(p) for p in sorted((args.corpus / "news").glob("*.gz"))]
        subprocess.run([sys.executable, "-m", "speechkit", "--home", str(home), "ingest",
                        str(args.corpus / "gov-reports"), *news, *NEWS], check=True, capture_output=True)
        t1 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "speechkit", "--home", str(home), "index"], check=True,
                       capture_output=True)
        print(f"setup: ingest {t1 - t0:.0f} s, index {time.perf_counter() - t1:.0f} s")
    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:  # the 2019 work report, else any
        doc = db.execute("SELECT id FROM documents WHERE canonical=1 ORDER BY title LIKE '2019年政府工作报告%' "
                         "DESC, id LIMIT 1").fetchone()[0]
        national = {y: db.execute("SELECT id FROM documents WHERE source_path LIKE ?",
                                  (f"%政府工作报告-国务院/{y}.md",)).fetchone()[0] for y in (2018, 2023, 2024)}
    results = {}
    for label, cmd in STEPS.items():
        if args.steps and not any(w in label for w in args.steps.split(",")):
            continue
        if label in COLD:
            shutil.rmtree(home / "indexes" / "tfidf", ignore_errors=True)
        seconds, peak, worker = speechkit(home, *(c.format(doc=doc, a2023=national[2023], b2024=national[2024],
                                                           n2018=national[2018]) for c in cmd))
        results[label] = {"seconds": seconds, "peak_mb": peak, "worker_peak_mb": worker}
        print(f"{label:<34} {seconds:7.2f} s   peak {peak:7.0f} MB" + (f", largest worker {worker:.0f} MB"
                                                                       if worker else ""))
    baselines(home, args.steps, results, national[2018])
    print(json.dumps(results, ensure_ascii=False))


def baselines(home: Path, steps: str, results: dict, n2018: str) -> None:
    """The brute-force readings spread and reuse are checked against, timed in this run."""
    from speechkit.corpus import Corpus
    from speechkit.matching import matching_form
    from speechkit.query import selection_filters
    from speechkit.workspace import Workspace

    with Workspace(home) as ws, Corpus(ws) as c:
        if "spread 营商环境" in results:
            t0 = time.perf_counter()
            docs = c.docs()
            having = {i for i, text in c.texts([d.id for d in docs]) if "营商环境" in matching_form(text)}
            scan = time.perf_counter() - t0
            ours = results["spread 营商环境"]["seconds"]
            print(f"{'spread baseline: scan every text':<34} {scan:7.2f} s   ({len(having)} speeches) "
                  f"→ spread is {scan / ours:.1f}x faster")
        label = "reuse national 2018 in provinces 2018–2019"
        if label in results:
            targets = c.docs(selection_filters("level:province year:2018..2019"))
            source = matching_form(c.store.get(n2018).text)
            t0 = time.perf_counter()
            covered = 0
            for _, text in c.texts([d.id for d in targets]):
                target = matching_form(text)
                hit = set()
                for i in range(len(target) - 29):
                    if target[i:i + 30] in source:
                        hit.update(range(i, i + 30))
                covered += len(hit)
            brute = time.perf_counter() - t0
            ours = results[label]["seconds"]
            print(f"{'reuse baseline: every window':<34} {brute:7.2f} s   ({covered} characters reused) "
                  f"→ reuse is {brute / ours:.1f}x faster")


if __name__ == "__main__":
    main()
