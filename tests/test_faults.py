"""Fault injection: the process is killed at named points between the writes of ingest, index,
cluster and the TF-IDF cache (speechkit/faults.py), or interrupted, or given a file that takes
too long. After each: a command answers with the previous result or the new one, or says in
one line which command repairs it; the rerun repairs; nothing is counted twice.

The reference for "right" is always a clean build of the same store in the same test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from speechkit.faults import POINTS

from .conftest import NATIONAL, run_cli

QUERIES = ("改革", "经济建设", '"人民生活" year:1990..2010', "营商环境 OR 放管服")


def cli(home: Path, *args: str, fault: str | None = None, env: dict[str, str] | None = None,
        **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env or {}), "SPEECHKIT_FAULT": fault or ""}
    return subprocess.run([sys.executable, "-m", "speechkit", "--home", str(home), *args],
                          capture_output=True, text=True, env=env, timeout=600, **kw)


def answers(home: Path) -> list[tuple[int, list[str]]]:
    """Exact total and ranked ids of each query (in-process, so a failure shows its output)."""
    out = []
    for q in QUERIES:
        data = json.loads(run_cli(home, "search", q, "--json", "--limit", "50"))
        out.append((data["total"], [h["id"] for h in data["hits"]]))
    return out


def whoosh_docs(home: Path) -> int:
    from whoosh import index as whoosh_index
    with whoosh_index.open_dir(str(home / "indexes" / "whoosh")).reader() as r:
        return r.doc_count()


def canonical(home: Path) -> int:
    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:
        return db.execute("SELECT COUNT(*) FROM documents WHERE canonical=1").fetchone()[0]


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode not in (0, 86), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and all(w in lines[0] for w in words), proc.stderr


@pytest.fixture
def reports(tmp_path: Path, corpus: Path) -> Path:
    """Twelve national work reports, in a folder the test may change."""
    src = tmp_path / "src"
    src.mkdir()
    for path in sorted((corpus / NATIONAL).glob("*.md"))[-12:]:
        shutil.copy(path, src / path.name)
    return src


@pytest.fixture
def built(tmp_path: Path, reports: Path) -> Path:
    home = tmp_path / "home"
    run_cli(home, "ingest", str(reports), "--workers", "1")
    run_cli(home, "index")
    return home


def _change(reports: Path) -> None:
    """A new speech and a changed one, so an incremental build adds and updates."""
    first = sorted(reports.glob("*.md"))[0]
    first.write_text(first.read_text("utf-8").replace("各位代表", "各位代表", 1) + "\n营商环境继续改善。\n", "utf-8")
    extra = sorted(reports.glob("*.md"))[1].read_text("utf-8").replace("政府工作报告", "政府工作报告（补）", 1)
    (reports / "extra.md").write_text(extra + "\n放管服改革深入推进。\n", "utf-8")


def test_every_point_is_reachable_and_named():
    # the points the tests below kill at are the ones the code declares
    source = "\n".join(p.read_text("utf-8") for p in Path(__file__).parent.parent.joinpath("speechkit").rglob("*.py"))
    for point in POINTS:
        if point.startswith("swap:"):
            assert 'crash_point("swap:" + dest.name)' in source
        else:
            assert f'crash_point("{point}"' in source, point  # with or without the unit it names


@pytest.mark.parametrize("point", ["index:after-whoosh-commit", "index:before-manifest", "swap:text"])
def test_an_incremental_build_killed_midway_is_repaired_by_the_rerun(built, reports, point, tmp_path):
    _change(reports)
    run_cli(built, "ingest", str(reports), "--workers", "1")
    killed = cli(built, "index", fault=point)
    assert killed.returncode == 86, killed.stderr
    # the store moved on and the index did not say so: the answer is a one-line error, never a
    # count from a half-written index
    one_line_error(cli(built, "search", "改革"), "speechkit index")
    run_cli(built, "index")
    # a clean build of the same store gives the same answers; nothing was added twice
    clean = tmp_path / "clean"
    shutil.copytree(built / "corpus", clean / "corpus")
    run_cli(clean, "index")
    assert answers(built) == answers(clean)
    assert whoosh_docs(built) == canonical(built) == whoosh_docs(clean)


@pytest.mark.parametrize("point", ["swap:whoosh", "index:after-whoosh-swap"])
def test_a_rebuild_killed_in_the_folder_swap_is_repaired(built, point):
    before = answers(built)
    killed = cli(built, "index", "--rebuild", fault=point)
    assert killed.returncode == 86, killed.stderr
    if point == "swap:whoosh":
        assert not (built / "indexes" / "whoosh").exists()  # the window the test is about
        one_line_error(cli(built, "search", "改革"), "speechkit index")
    else:  # the new whoosh folder with the old manifest: same store, so the same answers
        assert answers(built) == before
    run_cli(built, "index")
    assert answers(built) == before
    assert whoosh_docs(built) == canonical(built)


def test_a_damaged_text_index_is_refused_and_repaired(built):
    before = answers(built)
    blob = built / "indexes" / "text" / "matching.txt"
    data = blob.read_bytes()
    blob.write_bytes(data[: len(data) // 3])  # a copy that lost the end of the file
    one_line_error(cli(built, "search", "改革"), "damaged", "speechkit index")
    run_cli(built, "index")  # the store did not change: the build still checks and rewrites it
    assert answers(built) == before
    # same size, other bytes: caught by the digest `index` checks
    data = bytearray(blob.read_bytes())
    data[len(data) // 2: len(data) // 2 + 6] = "改革改".encode()
    blob.write_bytes(bytes(data))
    run_cli(built, "index")
    assert answers(built) == before
    (built / "indexes" / "text" / "meta.json").unlink()
    one_line_error(cli(built, "search", "改革"), "speechkit index")
    run_cli(built, "index")
    assert answers(built) == before
    codes = built / "indexes" / "text" / "codes.bin"  # the filters' columns: cut short
    codes.write_bytes(codes.read_bytes()[:-4])
    one_line_error(cli(built, "search", "改革 level:national"), "damaged", "speechkit index")
    run_cli(built, "index")
    assert answers(built) == before


def _flip(path: Path, at: float = 0.5) -> None:
    """One bit of `path` flipped, its size unchanged (what a bad copy or a disk does)."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x10
    path.write_bytes(bytes(data))


def kwic_total(home: Path, term: str) -> int:
    return json.loads(run_cli(home, "kwic", term, "--json", "--limit", "1"))["total"]


@pytest.mark.parametrize("name", ["ids.txt", "matching.txt", "offsets.bin", "titles.json"])
def test_a_flipped_bit_in_the_text_index_is_refused_never_a_wrong_total(built, name):
    """One flipped bit in ids.txt gave 56 occurrences instead of 58, in matching.txt 57."""
    before, total = answers(built), kwic_total(built, "改革")
    _flip(built / "indexes" / "text" / name)
    for args in (("kwic", "改革"), ("search", "改革")):
        one_line_error(cli(built, *args), "damaged", "speechkit index")
    one_line_error(cli(built, "index", "--check"), "damaged", name, "speechkit index")
    run_cli(built, "index")  # a plain build repairs it
    assert kwic_total(built, "改革") == total and answers(built) == before
    assert "whole" in cli(built, "index", "--check").stderr


@pytest.mark.parametrize("damage", ["truncated segment", "flipped segment", "flipped toc", "lost toc"])
def test_a_damaged_ranked_index_is_refused_in_one_line_and_repaired(built, damage):
    """A truncated .seg made search print only "Aborted!" and `index` crash; a flipped bit in
    the TOC gave a raw UnpicklingError."""
    before = answers(built)
    folder = built / "indexes" / "whoosh"
    seg = max(folder.glob("*.seg"), key=lambda p: p.stat().st_size)
    toc = next(folder.glob("_MAIN_*.toc"))
    if damage == "truncated segment":
        seg.write_bytes(seg.read_bytes()[: seg.stat().st_size // 2])
    elif damage == "flipped segment":
        _flip(seg, 0.3)
    elif damage == "flipped toc":
        _flip(toc, 0.4)
    else:
        toc.unlink()
    one_line_error(cli(built, "search", "改革"), "speechkit index")
    if damage != "lost toc":  # diff reads the ranked index for novelty: checked before it opens it
        one_line_error(cli(built, "diff", "year:2023", "year:2024"), "speechkit index")
    checked = cli(built, "index", "--check")
    one_line_error(checked, "damaged", "speechkit index")
    repaired = cli(built, "index")
    assert repaired.returncode == 0, repaired.stderr
    assert answers(built) == before and whoosh_docs(built) == canonical(built)
    assert cli(built, "index", "--check").returncode == 0


@pytest.mark.parametrize("name", ["speechkit-positions.bin", "speechkit-ids.json"])
def test_a_damaged_docnum_map_is_not_believed(built, name):
    """The maps from whoosh's document numbers to our speeches are caches beside the segments:
    a flipped bit in one scored a speech as another. Each carries a digest; a map that does not
    match it is read again from whoosh's own stored ids, so the answers stay the same."""
    before = answers(built)
    path = built / "indexes" / "whoosh" / name
    data = bytearray(path.read_bytes())
    if name.endswith(".bin"):
        start = data.index(b"\n") + 1  # the header stays readable: the numbers change
        for k in range(40):
            data[start + (len(data) - start) * k // 40] ^= 0x01
    else:
        at = data.index(b'"ids": ["') + 9  # one character of the first id
        data[at] = ord("0") if data[at] != ord("0") else ord("1")
        (path.parent / "speechkit-positions.bin").unlink()  # the ids are read when it is missing
    path.write_bytes(bytes(data))
    assert answers(built) == before


def test_the_live_generation_is_read_off_file_names_as_whoosh_reads_it(built, reports):
    from whoosh import index as whoosh_index

    from speechkit.index.manifest import whoosh_generation

    folder = built / "indexes" / "whoosh"
    _change(reports)
    run_cli(built, "update", str(reports))  # an incremental commit: a newer generation
    assert whoosh_generation(folder) == whoosh_index.open_dir(str(folder)).latest_generation() > 1
    assert whoosh_generation(folder.parent / "missing") is None


def test_a_copied_index_is_hashed_once_and_trusted(built, tmp_path):
    """A folder copied elsewhere has new stamps: its files are hashed on the first search and
    remembered (the user's cache), and the answers are the same."""
    before = answers(built)
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    assert cli(copy, "search", "改革", env={"XDG_CACHE_HOME": str(tmp_path / "cache")}).returncode == 0
    assert (tmp_path / "cache" / "speechkit" / "verified.json").is_file()
    assert answers(copy) == before


def test_a_damaged_manifest_is_a_one_line_error(built):
    manifest = built / "indexes" / "manifest.json"
    manifest.write_text(manifest.read_text("utf-8")[:40], "utf-8")
    one_line_error(cli(built, "search", "改革"), "manifest", "speechkit index --rebuild")
    run_cli(built, "index", "--rebuild")
    assert answers(built)[0][0] > 0


def test_a_clustering_killed_while_saving_leaves_the_previous_one_whole(built):
    run_cli(built, "cluster", "-k", "3", "--name", "t", "--seed", "1")
    folder = built / "indexes" / "topics" / "t"
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    killed = cli(built, "cluster", "-k", "4", "--name", "t", "--seed", "1", fault="cluster:after-assignments")
    assert killed.returncode == 86, killed.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == saved  # k=3, all three files
    leftovers = list(folder.parent.glob(".new-*"))
    assert leftovers
    # a leftover of a killed run is removed by the next save once it is old enough to be
    # nobody's work in progress
    for p in leftovers:
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    run_cli(built, "cluster", "-k", "4", "--name", "t", "--seed", "1")
    assert json.loads((folder / "clusters.json").read_text("utf-8"))["k"] == 4
    assert not list(folder.parent.glob(".new-*"))


def test_a_cache_write_killed_midway_is_ignored_and_cleaned(built):
    killed = cli(built, "cluster", "-k", "3", "--name", "c", fault="cache:after-write")
    assert killed.returncode == 86, killed.stderr
    caches = [p for p in (built / "indexes").rglob(".new-*") if p.is_dir()]
    assert caches
    for p in caches:
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    run_cli(built, "cluster", "-k", "3", "--name", "c")
    assert not [p for p in (built / "indexes").rglob(".new-*") if p.is_dir()]


def _copies(home: Path) -> int:
    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:
        return db.execute("SELECT COUNT(*) FROM documents WHERE canonical=0").fetchone()[0]


def test_grouping_left_undone_by_a_killed_ingest_is_found_from_the_store(tmp_path, reports, corpus):
    home = tmp_path / "home"
    run_cli(home, "ingest", str(reports), "--workers", "1")
    copies = tmp_path / "copies"
    shutil.copytree(reports, copies)
    for p in copies.glob("*.md"):  # republished copies: a site's line above the same text
        p.write_text("转载自中国政府网\n\n" + p.read_text("utf-8"), "utf-8")
    killed = cli(home, "ingest", str(copies), "--workers", "1", fault="ingest:before-grouping")
    assert killed.returncode == 86, killed.stderr
    assert _copies(home) == 0  # stored, not grouped
    # another, unrelated ingest finishes in between: it groups what the killed run left
    other = tmp_path / "other"
    shutil.copytree(corpus / "seeds", other)
    run_cli(home, "ingest", str(other), "--workers", "1")
    n = len(list(reports.glob("*.md")))
    assert _copies(home) == n
    # and the rerun of the killed ingest changes nothing
    run_cli(home, "ingest", str(copies), "--workers", "1")
    assert _copies(home) == n


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_sigint_to_the_main_process_stops_ingest_and_its_workers(tmp_path, corpus):
    src = tmp_path / "src"
    shutil.copytree(corpus / "gov-reports" / "政府工作报告-省自治区", src)
    home = tmp_path / "home"
    proc = subprocess.Popen([sys.executable, "-m", "speechkit", "--home", str(home), "ingest", str(src),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = _children(proc.pid)
    assert workers, "the pool never started"
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)  # the main process only, as `kill -INT PID` does
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("ingest hung after SIGINT")
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    time.sleep(0.5)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and "Z" not in Path(f"/proc/{w}/stat").read_text().rsplit(")", 1)[1].split()[0]]
    assert not alive, f"workers left running: {alive}"
    # the rerun resumes to the same corpus as one uninterrupted run
    run_cli(home, "ingest", str(src), "--workers", "2")
    clean = tmp_path / "clean"
    run_cli(clean, "ingest", str(src), "--workers", "2")
    assert canonical(home) == canonical(clean)
    with sqlite3.connect(home / "corpus" / "speechkit.db") as a, \
            sqlite3.connect(clean / "corpus" / "speechkit.db") as b:
        q = "SELECT id, text_hash, canonical FROM documents ORDER BY id"
        assert a.execute(q).fetchall() == b.execute(q).fetchall()


def test_a_file_over_its_time_budget_is_skipped_and_the_batch_goes_on(tmp_path, corpus, monkeypatch):
    import speechkit.ingest as ingest_module

    src = tmp_path / "src"
    shutil.copytree(corpus / "seeds", src)
    real = ingest_module.process_raw

    def slow_on_one(raw, settings, templates=None):
        if Path(raw.source_path).name.startswith("003_"):
            time.sleep(30)  # a pathological file
        return real(raw, settings, templates)

    monkeypatch.setattr(ingest_module, "process_raw", slow_on_one)
    home = tmp_path / "home"
    home.mkdir()
    (home / "speechkit.cfg").write_text("[speechkit]\nmax_file_seconds = 1\n", "utf-8")
    t0 = time.time()
    out = run_cli(home, "ingest", str(src), "--workers", "1")
    assert time.time() - t0 < 25
    assert "took more than 1 s" in out
    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:
        paths = [r[0] for r in db.execute("SELECT DISTINCT source_path FROM documents")]
    assert len(paths) == 4 and not any("/003_" in p for p in paths)


def test_a_config_file_that_is_not_utf8_is_a_one_line_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "speechkit.cfg").write_bytes("[speechkit]\n# 工作线程\nworkers = 1\n".encode("gbk"))
    one_line_error(cli(home, "stats"), "speechkit.cfg", "UTF-8")


def test_deep_nesting_in_a_query_is_a_one_line_error(built):
    proc = cli(built, "search", "(" * 300 + "改革" + ")" * 300)
    one_line_error(proc, "nested")


def test_a_speech_over_the_text_limit_is_skipped_and_the_rest_lands(tmp_path, corpus):
    src = tmp_path / "src"
    shutil.copytree(corpus / "seeds", src)
    speech = (corpus / NATIONAL / "2024.md").read_text("utf-8")
    (src / "book.txt").write_text(speech * (2_200_000 // len(speech.encode())), "utf-8")  # 2 MB
    home = tmp_path / "home"
    home.mkdir()
    (home / "speechkit.cfg").write_text("[speechkit]\nmax_text_mb = 1\n", "utf-8")
    out = run_cli(home, "ingest", str(src), "--workers", "1")
    assert any("book.txt" in x and "more than 1 MB" in x for x in out.splitlines()), out
    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:
        assert db.execute("SELECT COUNT(DISTINCT source_path) FROM documents").fetchone()[0] == 5


@pytest.mark.parametrize("command, engine", [("ingest", "local"), ("index", "local"), ("ingest", "dask")])
def test_workers_end_with_a_main_process_killed_outright(tmp_path, corpus, command, engine):
    """kill -9 of `ingest` or `index` leaves no worker behind, and a pipeline reading the
    command's output sees its end (orphans kept the parent's stdout open, so a reader hung).
    Also with a local Dask cluster's worker processes (`--engine dask`)."""
    if engine == "dask":
        pytest.importorskip("distributed", reason="the dask extra is not installed")
    import psutil

    src = tmp_path / "src"
    src.mkdir()
    for path in sorted((corpus / "gov-reports" / "政府工作报告-省自治区").rglob("*.md"))[:400]:
        shutil.copy(path, src / path.name)
    home = tmp_path / "home"
    if command == "index":
        run_cli(home, "ingest", str(src), "--workers", "1")
    args = [sys.executable, "-m", "speechkit", "--home", str(home), command, "--workers", "2", "--engine", engine]
    proc = subprocess.Popen(args + ([str(src)] if command == "ingest" else []),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while time.monotonic() < deadline and proc.poll() is None:
            children = psutil.Process(proc.pid).children(recursive=True)
            if len(children) >= 2:
                break
            time.sleep(0.05)
        assert len(children) >= 2 and proc.poll() is None, "the workers never started"
        time.sleep(0.5)  # at work
        proc.kill()
        proc.wait(10)
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, f"{len(alive)} workers outlived the killed {command}"
        proc.stdout.read()  # returns: no orphan holds the pipe
    finally:
        for child in psutil.Process().children(recursive=True):
            if child.pid != os.getpid():
                child.kill()
