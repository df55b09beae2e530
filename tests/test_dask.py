"""The Dask engine: ingest and the index build run as tasks on a Dask cluster and give what the
local process pool gives (documents, groups, digest, problems, search), resume like it, and
lose nothing when a worker is killed mid-ingest. One test uses an in-process LocalCluster; the
other starts `dask scheduler` and two `dask worker` processes on 127.0.0.1 and stops them by pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speechkit.context import open_store
from speechkit.index.build import build_index
from speechkit.ingest import ingest
from speechkit.search import Searcher
from speechkit.settings import load_settings

from .servers import dask_processes
from .test_pg import TERMS, _inputs, _state

distributed = pytest.importorskip("distributed", reason="Dask is not installed; `bash .ci/install` installs it")


@pytest.fixture(scope="module")
def local_cluster():
    """An in-process LocalCluster of two single-threaded worker processes; its address."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address=":0")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_dask_ingests_indexes_and_resumes_like_the_local_pool(tmp_path, corpus, local_cluster, workspace):
    src = _inputs(corpus, tmp_path / "src")
    pool = workspace(tmp_path / "pool", workers=2)
    dask = workspace(tmp_path / "dask", workers=2, engine="dask", scheduler=local_cluster)
    a = ingest([str(src)], pool)
    b = ingest([str(src)], dask)
    assert a.speeches == b.speeches > 20 and a.skipped == b.skipped and len(b.skipped) == 1  # the broken gzip
    assert _state(dask.settings) == _state(pool.settings)
    a, b = build_index(pool), build_index(dask)
    assert a.segmented == b.segmented == a.added
    with Searcher(pool) as s1, Searcher(dask) as s2:
        for q in TERMS:
            r1, r2 = s1.search(q, limit=20), s2.search(q, limit=20)
            assert r1.total == r2.total and [h.id for h in r1.hits] == [h.id for h in r2.hits], q
            assert r1.index["store"] == r2.index["store"]
    # resume: one changed file, one new, the rest unchanged; then the index catches up
    report = sorted((src / "reports").glob("*.md"))[0]
    report.write_text(report.read_text("utf-8").replace("改革", "变革"), "utf-8")
    shutil.copy(sorted((corpus / "seeds").iterdir())[0], src / "again.txt")
    a, b = ingest([str(src)], pool), ingest([str(src)], dask)
    assert (b.files_changed, b.files_new) == (a.files_changed, a.files_new) == (1, 1)
    assert b.files_unchanged == a.files_unchanged >= 19
    assert _state(dask.settings) == _state(pool.settings)
    assert build_index(dask).segmented == build_index(pool).segmented >= 1


def test_topics_read_on_dask_equal_the_local_reading(tmp_path, corpus, local_cluster, monkeypatch, workspace):
    """Passages read in batches by Dask's workers give the themes read in this process."""
    import speechkit.topics as T
    from speechkit.corpus import Corpus

    src = _inputs(corpus, tmp_path / "src")
    here = workspace(tmp_path / "home", workers=1)
    ingest([str(src)], here)
    build_index(here)
    monkeypatch.setattr(T, "READ_BATCH", 5)
    monkeypatch.setattr(T, "READ_CHARS", 20_000)
    results = []
    for ws in (here, workspace(tmp_path / "home", workers=2, engine="dask", scheduler=local_cluster)):
        with Corpus(ws) as c:
            results.append(T.themes(c, k=4, seed=1, probes=["改革"], save=False))
    a, b = results
    assert a.passages > 100 and [t.labels for t in a.themes] == [t.labels for t in b.themes]
    assert a.speech_shares == b.speech_shares and a.probes == b.probes and a.excluded == b.excluded


def test_reuse_aligned_on_dask_equals_the_local_alignment(tmp_path, corpus, local_cluster, monkeypatch, workspace):
    """Targets aligned in batches by Dask's workers give the spans aligned in this process."""
    import speechkit.reuse as R
    from speechkit.corpus import Corpus

    src = _inputs(corpus, tmp_path / "src")
    here = workspace(tmp_path / "home", workers=1)
    ingest([str(src)], here)
    monkeypatch.setattr(R, "BATCH_CHARS", 30_000)  # many small tasks
    results = []
    for ws in (here, workspace(tmp_path / "home", workers=2, engine="dask", scheduler=local_cluster)):
        with Corpus(ws) as c:
            results.append(R.reuse(c, "year:..2019", "year:2019..", lag=(0, 2)))
    a, b = results
    assert a.targets == b.targets and sum(len(t.spans) for t in a.targets) > 10


def _stored_files(home: Path) -> int:
    db = home / "corpus" / "speechkit.db"
    if not db.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
            return con.execute("SELECT count(*) FROM files WHERE status='ok'").fetchone()[0]
    except sqlite3.Error:  # created but not yet set up
        return 0


def test_a_worker_killed_mid_ingest_loses_nothing(tmp_path, corpus, workspace):
    """`dask scheduler` and two `dask worker` processes (no nanny, so a killed worker stays
    dead); `speechkit ingest --scheduler` of 150 provincial reports; kill -9 of one worker once
    files are landing. The ingest finishes on the other worker with every file stored, and the
    store equals one filled by the local pool."""
    src = tmp_path / "src"
    src.mkdir()
    files = sorted((corpus / "gov-reports" / "政府工作报告-省自治区").rglob("*.md"))[:150]
    for path in files:
        shutil.copy(path, src / f"{path.parent.name}-{path.name}")
    exe = Path(sys.executable).with_name("speechkit")
    with dask_processes(2, tmp_path / "logs") as cluster:
        home = tmp_path / "home"
        env = {**os.environ, "SPEECHKIT_SCHEDULER": cluster.address}
        run = subprocess.Popen([str(exe), "--home", str(home), "ingest", str(src)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while _stored_files(home) < 5 and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            stored_at_kill = _stored_files(home)
            assert run.poll() is None and 5 <= stored_at_kill < len(files), "the ingest ended before the kill"
            os.kill(cluster.workers[0].pid, signal.SIGKILL)
            _, err = run.communicate(timeout=300)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 0, err.decode()
        assert cluster.workers[0].wait(timeout=10) == -signal.SIGKILL
        with distributed.Client(cluster.address, timeout=30) as client:
            assert len(client.scheduler_info()["workers"]) == 1  # the rest ran on the survivor
    assert "150 seen: 150 new" in err.decode()
    reference = workspace(tmp_path / "reference", workers=2)
    ingest([str(src)], reference)
    lost = _state(load_settings(home))
    assert len(lost["files"]) == len(files) and not lost["problems"]
    assert lost == _state(reference.settings)


def test_a_file_that_kills_every_worker_is_reported_then_retried(tmp_path, corpus, monkeypatch, workspace):
    """A unit whose processing kills its worker each time: Dask gives up on it (KilledWorker,
    allowed-failures 1); ingest reports the file, stores the rest, and keeps the file as an
    error, so the next run processes it again."""
    import dask

    src = tmp_path / "src"
    src.mkdir()
    seeds = sorted((corpus / "seeds").iterdir())
    for path in seeds[:3]:
        shutil.copy(path, src)
    shutil.copy(seeds[3], src / f"poison-{seeds[3].name}")
    monkeypatch.setenv("SPEECHKIT_FAULT", "worker:unit")
    monkeypatch.setenv("SPEECHKIT_FAULT_AT", "poison-")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=":0")  # with nannies: a killed worker restarts
        try:
            first = ingest([str(src)], workspace(tmp_path / "home", workers=2, scheduler=cluster.scheduler_address))
        finally:
            cluster.close()
    # a task queued on a worker the poison kills is suspected too and may be given up with it:
    # every file given up is reported, and only those are processed again
    lost = {where for where, why in first.skipped if "was lost" in why and "run ingest again" in why}
    assert any("poison-" in where for where in lost) and len(first.skipped) == len(lost)
    assert first.files_new == 4
    monkeypatch.delenv("SPEECHKIT_FAULT")
    again = ingest([str(src)], workspace(tmp_path / "home", workers=1))
    assert again.files_changed == len(lost) and again.files_unchanged == 4 - len(lost) and not again.skipped
    with open_store(load_settings(tmp_path / "home"), create=False) as store:
        assert any("poison-" in d.source_path for d in store.documents(canonical_only=False))
