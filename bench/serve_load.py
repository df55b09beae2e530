"""Load on the workbench: N concurrent clients for S seconds against `speechkit serve` on
127.0.0.1 (started here on a free port, stopped by pid), each looping over the search API and
pages with filters. Prints requests, errors, p50/p95/max latency per kind of request. The
baseline in the same run is one client alone, so the ratio shows what queueing costs.

    python bench/serve_load.py HOME [--clients 20] [--seconds 30] [--workers 1]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.servers: the throwaway servers
from tests.servers import served

REQUESTS = [
    ("api", "/api/search?" + urllib.parse.urlencode({"q": "营商环境", "year_from": "2015"})),
    ("api", "/api/search?" + urllib.parse.urlencode({"q": "放管服 OR 营商环境", "level": "national"})),
    ("page", "/?" + urllib.parse.urlencode({"q": "新质生产力"})),
    ("page", "/?" + urllib.parse.urlencode({"q": "乡村振兴", "year_from": "2018", "year_to": "2022", "page": "2"})),
    ("api", "/api/search?" + urllib.parse.urlencode({"q": "发展", "sort": "date"})),
    ("kwic", "/api/kwic?" + urllib.parse.urlencode({"term": "放管服", "limit": "200"})),
]


def load(base: str, clients: int, seconds: float) -> tuple[dict[str, list[float]], int]:
    times: dict[str, list[float]] = defaultdict(list)
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(k: int) -> None:
        nonlocal errors
        for kind, path in itertools.islice(itertools.cycle(REQUESTS), k, None):
            if time.monotonic() > stop:
                return
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(base + path, timeout=60) as r:
                    r.read()
                    ok = r.status == 200
            except Exception:
                ok = False
            with lock:
                times[kind].append(time.perf_counter() - t0)
                errors += not ok

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, errors


def report(label: str, times: dict[str, list[float]], errors: int, seconds: float) -> float:
    every = sorted(x for v in times.values() for x in v)
    p95 = every[int(0.95 * (len(every) - 1))] * 1000
    print(f"{label}: {len(every)} requests in {seconds:.0f} s ({len(every) / seconds:.1f}/s), {errors} errors, "
          f"p50 {statistics.median(every) * 1000:.0f} ms, p95 {p95:.0f} ms, max {every[-1] * 1000:.0f} ms")
    for kind, v in sorted(times.items()):
        v = sorted(v)
        print(f"    {kind:<5} {len(v):>5}  p50 {statistics.median(v) * 1000:6.0f} ms  "
              f"p95 {v[int(0.95 * (len(v) - 1))] * 1000:6.0f} ms")
    return p95


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("home", type=Path)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=1, help="server processes (speechkit serve --workers)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as logs, served(args.home, Path(logs), "--workers", str(args.workers)) as base:
        urllib.request.urlopen(base + REQUESTS[0][1], timeout=60).read()  # warms the indexes
        one = report("1 client", *load(base, 1, min(10.0, args.seconds)), min(10.0, args.seconds))
        many = report(f"{args.clients} clients", *load(base, args.clients, args.seconds), args.seconds)
        print(f"p95 with {args.clients} clients / p95 alone: {many / one:.1f}x (requests queue: one at a time)")


if __name__ == "__main__":
    main()
