"""Ingest throughput on ../shared/corpus/gov-reports with 1 and 2 worker processes.

Each run ingests into a fresh temporary workspace. The baseline in the same run is one
worker; a second reference line shows the cost of reading and decoding alone, so the share
spent on cleaning and metadata is visible. Figures are from this machine, this run.

    python bench/ingest.py [--corpus DIR] [--limit N] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from speechkit.context import Context
from speechkit.decode import decode_bytes
from speechkit.ingest import ingest
from speechkit.settings import load_settings
from speechkit.sources import expand_inputs

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "gov-reports")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files (0 = all)")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()

    files = expand_inputs([str(args.corpus)])
    if args.limit:
        files = files[: args.limit]
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"corpus: {len(files)} files, {size_mb:.1f} MB ({args.corpus})")

    t0 = time.perf_counter()
    for f in files:
        decode_bytes(f.read_bytes())
    t_decode = time.perf_counter() - t0
    print(f"{'read+decode only':>18}: {t_decode:7.2f} s  {size_mb / t_decode:7.2f} MB/s")

    results = {}
    for n in [int(x) for x in args.workers.split(",")]:
        with tempfile.TemporaryDirectory() as home:
            settings = load_settings(home, workers=n)
            t0 = time.perf_counter()
            report = ingest([str(f) for f in files], Context(settings))
            elapsed = time.perf_counter() - t0
        results[n] = elapsed
        print(f"{f'ingest, {n} worker(s)':>18}: {elapsed:7.2f} s  {size_mb / elapsed:7.2f} MB/s  "
              f"{report.speeches / elapsed:7.1f} docs/s  ({report.speeches} speeches, "
              f"{report.duplicates} duplicates, {len(report.skipped)} skipped)")
    base = min(results)
    for n, elapsed in results.items():
        if n != base:
            print(f"speed-up {n} vs {base} worker(s): {results[base] / elapsed:.2f}x")


if __name__ == "__main__":
    main()
