"""Throwaway servers for the tests and benchmarks: a PostgreSQL cluster and a Dask scheduler
with worker processes, each on a free 127.0.0.1 port, started here and stopped by pid."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


class Unavailable(Exception):
    """The server's programs are not installed; the message says how to install them."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_cluster() -> Iterator[str]:
    """A new PostgreSQL cluster in a temporary folder; yields its base URL (append a database
    name). As root, the cluster belongs to the postgres user (PostgreSQL refuses root). Its
    character classes are UTF-8's (LC_CTYPE C.UTF-8: pg_trgm indexes Chinese only then), its
    sort order bytewise (C)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise Unavailable("PostgreSQL server programs not found (/usr/lib/postgresql/*/bin); "
                          "`bash .ci/install` installs postgresql-15")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg is not installed; `bash .ci/install` installs the test extras") from None
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="speechkit-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "speechkit",
                    "-E", "UTF8", "--locale", "C", "--lc-ctype", "C.UTF-8", "--no-sync"],
                   check=True, capture_output=True)
    port = free_port()
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-h 127.0.0.1 -p {port} -k {root} -F -c max_connections=60", "start"],
                   check=True, capture_output=True)
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        yield f"postgresql://speechkit@127.0.0.1:{port}"
    finally:
        os.kill(pid, signal.SIGINT)  # fast shutdown
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)


def new_database(base_url: str, name: str) -> str:
    """Create database `name` on the server at `base_url`; its URL."""
    import psycopg

    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return f"{base_url}/{name}"


@dataclass
class DaskProcesses:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)


@contextlib.contextmanager
def dask_processes(n_workers: int, logs: Path, *, nanny: bool = False) -> Iterator[DaskProcesses]:
    """`dask scheduler` and `n_workers` single-threaded `dask worker` processes (without a
    nanny by default, so a killed worker stays dead), ready when yielded."""
    try:
        import distributed
    except ImportError:
        raise Unavailable("Dask is not installed; `bash .ci/install` installs the test extras") from None
    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        with open(logs / f"{name}.log", "wb") as out:
            proc = subprocess.Popen([dask, *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        scheduler = start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")
        workers = [start(f"worker{i}", "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                         "--no-dashboard", "--name", f"w{i}", *([] if nanny else ["--no-nanny"]))
                   for i in range(n_workers)]
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=60)
        yield DaskProcesses(address, scheduler, workers)
    finally:
        stop(procs, signal.SIGTERM)


def stop(procs: list[subprocess.Popen], sig: int) -> None:
    """Stop processes we started, by pid: `sig` to each still running, then SIGKILL to any
    that has not exited 15 s later."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def peak_mb(pid: int) -> float:
    """The peak resident memory of a running process (VmHWM), in MB; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextlib.contextmanager
def served(home: Path, logs: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`speechkit serve` for `home` on a free 127.0.0.1 port (output to a log in `logs`); its
    base URL once it answers. Stopped by pid (SIGINT, then SIGKILL) at the end."""
    import urllib.error
    import urllib.request

    port = free_port()
    log_path = Path(logs) / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("speechkit")), "--home", str(home), "serve",
                                 "--port", str(port), *extra], stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    urllib.request.urlopen(base + "/", timeout=2).read()
                    break
                except urllib.error.HTTPError:  # it answers (a workspace without an index answers 503)
                    break
                except (urllib.error.URLError, ConnectionError):
                    if proc.poll() is not None:
                        raise RuntimeError(log_path.read_text("utf-8", "replace")) from None
                    time.sleep(0.1)
            yield base
        finally:
            stop([proc], signal.SIGINT)
