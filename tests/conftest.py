"""Shared fixtures. The real corpus lives beside the project in ../shared/corpus."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SPEECHKIT_SHARED_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
CASES = Path(__file__).resolve().parent / "cases"
NATIONAL = "gov-reports/政府工作报告-国务院"


def indexed_workspace(tmp_path_factory: pytest.TempPathFactory, name: str, *inputs: Path) -> Path:
    """A new workspace with `inputs` ingested and indexed."""
    from speechkit.index.build import build_index
    from speechkit.ingest import ingest
    from speechkit.settings import load_settings

    home = tmp_path_factory.mktemp(name)
    settings = load_settings(home)
    ingest([str(p) for p in inputs], settings)
    build_index(settings)
    return home


def run_cli(home: Path, *args: str, code: int = 0) -> str:
    """Run `speechkit --home HOME ARGS…` in-process; assert the exit code; return the output."""
    from click.testing import CliRunner

    from speechkit.cli import cli

    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (SHARED / "seeds").is_dir():
        pytest.fail(f"the shared corpus is missing at {SHARED}: clone the project beside ../shared "
                    "or set SPEECHKIT_SHARED_CORPUS")
    return SHARED


@pytest.fixture(scope="session")
def seeds_home(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """A workspace with the five seeds ingested once for the session."""
    from speechkit.ingest import ingest
    from speechkit.settings import load_settings

    home = tmp_path_factory.mktemp("seeds")
    report = ingest([str(corpus / "seeds")], load_settings(home, workers=1))
    assert report.ok, report.skipped
    return home


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A throwaway PostgreSQL cluster on a free loopback port, started for the session and
    stopped by its pid; its base URL (append a database name). Skipped, with the reason, when
    PostgreSQL's server programs are not installed (`bash .ci/install` installs them)."""
    import glob
    import shutil
    import signal
    import socket
    import subprocess
    import tempfile
    import time

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        pytest.skip("PostgreSQL server programs not found (/usr/lib/postgresql/*/bin); "
                    "`bash .ci/install` installs postgresql-15")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed; `bash .ci/install` installs the test extras")
    bindir = Path(found[-1]).parent
    # PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user
    root = Path(tempfile.mkdtemp(prefix="speechkit-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "speechkit",
                    "-E", "UTF8", "--locale", "C", "--no-sync"], check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A new, empty database on the session's PostgreSQL server."""
    import uuid

    import psycopg

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    return f"{pg_server}/{name}"
