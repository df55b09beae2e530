"""Engines and stores: the same inputs ingested (and indexed) through the local process pool,
a Dask LocalCluster and a Dask scheduler with worker processes, each into the SQLite file and
into PostgreSQL (a throwaway cluster started for the run). The local pool into SQLite is the
baseline of the same run; every other line prints its ratio to it.

Each run is `speechkit ingest` then `speechkit index` in a fresh workspace, as a user runs
them. Reported: wall time of each step, input MB/s of ingest, the peak memory of the command
(with its local workers) and of the Dask worker processes. On PostgreSQL the workspace
searches on the server (`search = server`), and the latency of the same queries on the
embedded indexes and on the server's search table is printed (p50/p95, in process).

    python bench/scale.py [--corpus DIR] [--quick] [--workers 2] [--engines local,dask-local,dask]
                          [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.servers: the throwaway servers
from search import NEWS_FIELDS, du, prepare

from tests.servers import Unavailable, dask_processes, new_database, peak_mb, postgres_cluster

ROOT = Path(__file__).resolve().parent.parent


_LAUNCH = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
           "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and the peak MB of the largest process of the command (it, or one of its
    local workers), measured by a launcher of its own so earlier runs do not count."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _LAUNCH, *cmd], env=env, check=True, capture_output=True,
                         text=True).stdout
    return time.perf_counter() - t0, int(out.split()[-1]) / 1024


QUERIES = ["营商环境", "改革", "党", '"优化营商环境"', "营商环境 OR 放管服", "改革 NOT 开放",
           "营商环境 year:2015..2020", "扶贫 year:2013..2018 level:province", "新质生产力", "一带一路", "发展"]


def latency(home: Path, store_url: str, runs: int) -> None:
    """p50/p95 of the same queries (exact total, first page of 10 with 3 passages) on the
    embedded indexes and on the PostgreSQL search table, in this process, after a warm-up."""
    from speechkit.context import Context
    from speechkit.search import PostgresSearcher, Searcher
    from speechkit.settings import load_settings

    settings = load_settings(home, store=store_url)
    print(f"{'query':<36}{'hits':>7}{'embedded p50':>14}{'p95':>7}{'server p50':>12}{'p95':>7}"
          f"{'server/embedded p95':>21}  (ms)")
    with Context(settings) as ws, Searcher(ws) as local, PostgresSearcher(ws) as server:
        for q in QUERIES:
            timings = []
            for s in (local, server):
                total = s.search(q, limit=10, passages=3).total  # warm-up
                t = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    s.search(q, limit=10, passages=3)
                    t.append((time.perf_counter() - t0) * 1000)
                t.sort()
                timings += [t[len(t) // 2], t[int(0.95 * (len(t) - 1))]]
            print(f"{q:<36}{total:>7}{timings[0]:>14.1f}{timings[1]:>7.1f}{timings[2]:>12.1f}{timings[3]:>7.1f}"
                  f"{timings[3] / timings[1]:>20.1f}x", flush=True)
        print("target: the server's p95 within 2x of the embedded index's for every query")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--quick", action="store_true", help="national reports and one year of news only")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engines", default="local,dask-local,dask")
    ap.add_argument("--stores", default="sqlite,postgresql")
    ap.add_argument("--runs", type=int, default=20, help="runs of each query for the search latencies")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="speechkit-scale-"))
    exe = str(Path(sys.executable).with_name("speechkit"))
    fields = [f"--field={k}={v}" for k, v in NEWS_FIELDS.items()]
    try:
        inputs, _ = prepare(args.corpus, work, args.quick)
        mb = sum(du(Path(p)) for p in inputs)
        print(f"inputs: {mb:.0f} MB ({', '.join(inputs)}); {args.workers} workers; {os.cpu_count()} cores")
        with ExitStack() as stack:
            pg = None
            if "postgresql" in args.stores:
                try:
                    pg = stack.enter_context(postgres_cluster())
                except Unavailable as exc:
                    print(f"postgresql: skipped ({exc})")
            cluster = None
            if "dask" in args.engines.split(","):
                cluster = stack.enter_context(dask_processes(args.workers, work / "dask-logs", nanny=True))
            base: dict[str, float] = {}
            print(f"{'engine':<12}{'store':<12}{'ingest s':>9}{'MB/s':>7}{'peak MB':>9}{'index s':>9}"
                  f"{'peak MB':>9}{'workers MB':>11}  ratio to local/sqlite (ingest, index)")
            for store in args.stores.split(","):
                if store == "postgresql" and pg is None:
                    continue
                for engine in args.engines.split(","):
                    home = work / f"{engine}-{store}"
                    env = {**os.environ, "SPEECHKIT_HOME": str(home)}
                    env.pop("SPEECHKIT_STORE", None)
                    env.pop("SPEECHKIT_SCHEDULER", None)
                    if store == "postgresql":
                        env["SPEECHKIT_STORE"] = new_database(pg, "b" + uuid.uuid4().hex[:10])
                    flags = ["--workers", str(args.workers)]
                    if engine == "dask-local":
                        flags += ["--engine", "dask"]
                    elif engine == "dask":
                        flags += ["--scheduler", cluster.address]
                    if store == "postgresql":  # the server's search table is built too, and timed below
                        home.mkdir(parents=True, exist_ok=True)
                        (home / "speechkit.cfg").write_text("[speechkit]\nsearch = server\n", "utf-8")
                    ing, ing_mb = run([exe, "ingest", *inputs, *fields, *flags], env)
                    idx, idx_mb = run([exe, "index", *flags], env)
                    workers_mb = (max(peak_mb(w.pid) for w in cluster.workers)
                                  if engine == "dask" and cluster else float("nan"))
                    if not base:
                        base = {"ingest": ing, "index": idx}
                    print(f"{engine:<12}{store:<12}{ing:>9.1f}{mb / ing:>7.2f}{ing_mb:>9.0f}{idx:>9.1f}"
                          f"{idx_mb:>9.0f}{workers_mb:>11.0f}  {ing / base['ingest']:.2f}x, "
                          f"{idx / base['index']:.2f}x", flush=True)
                    if store == "postgresql" and engine == args.engines.split(",")[0]:
                        latency(home, env["SPEECHKIT_STORE"], args.runs)
                    shutil.rmtree(home, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
