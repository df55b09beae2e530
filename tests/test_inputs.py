"""The input stage has one owner (`sources.read_units` + `pipeline.to_text`), used by `ingest`
and `clean` alike: dumps in any encoding, relative paths, saved pages, unreadable folders, a
changed field mapping, and records skipped in an earlier run."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from .conftest import run_cli as run


@pytest.fixture(scope="module")
def speeches(corpus) -> list[tuple[str, str]]:
    """(title, text) of three real speeches."""
    out = []
    for path in sorted((corpus / "speeches").glob("*.txt"))[:3]:
        out.append((path.stem.split("_", 1)[1], path.read_text("utf-8-sig")))
    return out


def _csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _texts(home: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:
        return [r[0] for r in db.execute("SELECT text FROM documents ORDER BY id")]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_gbk_dumps_go_through_the_decoder(tmp_path, speeches, suffix):
    rows = [{"content": text, "headline": title} for title, text in speeches]
    body = _csv(rows) if suffix == ".csv" else "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    dump = tmp_path / f"dump{suffix}"
    dump.write_bytes(body.encode("gb18030"))  # a Windows crawler's dump
    home = tmp_path / "home"
    run(home, "ingest", str(dump), "--field", "text=content", "--field", "title=headline", "--strict")
    texts = _texts(home)
    assert len(texts) == 3
    assert all("习近平" in t or "同志" in t or "朋友" in t for t in texts)


def test_a_huge_csv_cell_is_one_speech(tmp_path, speeches):
    text = "\n".join(t for _, t in speeches) * 16  # over the csv module's 131,072-character default
    assert len(text) > 131_072
    dump = tmp_path / "big.csv"
    dump.write_text(_csv([{"text": text}]), "utf-8")
    home = tmp_path / "home"
    run(home, "ingest", str(dump), "--strict")
    assert len(_texts(home)) == 1


def test_a_relative_path_with_dotdot_finds_its_files(tmp_path, corpus, monkeypatch):
    shutil.copytree(corpus / "seeds", tmp_path / "raw")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    out = run(tmp_path / "home", "ingest", "../raw")
    assert len(_texts(tmp_path / "home")) >= 5, out


def test_clean_reads_a_saved_page_as_ingest_does(tmp_path, corpus):
    """`clean` shows what `ingest` stores: the page's main text, not its navigation."""
    page = next((corpus / "html").glob("*.htm*"))
    out = run(tmp_path, "clean", str(page))
    assert "<script" not in out and "<div" not in out
    run(tmp_path, "ingest", str(page))
    stored = set("\n".join(_texts(tmp_path)).split("\n"))
    extra = [line for line in out.splitlines() if line.strip() and line not in stored]
    assert len(extra) <= 2, extra  # at most the title lines, which the store keeps apart


def test_clean_splits_a_dump_into_records(tmp_path, speeches):
    dump = tmp_path / "d.jsonl"
    dump.write_text("".join(json.dumps({"body": t}, ensure_ascii=False) + "\n" for _, t in speeches), "utf-8")
    out = run(tmp_path, "clean", str(dump), "--field", "text=body")
    assert out.count("== line") == 3


def test_an_unreadable_folder_is_reported(tmp_path, corpus, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(corpus / "seeds", raw / "ok")
    (raw / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path="."):  # root reads every folder, so deny one the way chmod 000 would
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    out = run(tmp_path / "home", "ingest", str(raw), "--strict", code=1)
    assert "locked" in out and "folder not read" in out
    assert len(_texts(tmp_path / "home")) >= 5  # the readable files still land


def test_a_corrected_field_mapping_is_not_unchanged(tmp_path, speeches):
    dump = tmp_path / "d.jsonl"
    dump.write_text("".join(json.dumps({"content": t, "text": "x"}, ensure_ascii=False) + "\n"
                            for _, t in speeches), "utf-8")
    home = tmp_path / "home"
    run(home, "ingest", str(dump))  # the default mapping reads the wrong column ("x")
    assert len(_texts(home)) <= 3 and all(len(t) < 5 for t in _texts(home))
    out = run(home, "ingest", str(dump), "--field", "text=content")
    assert "1 changed" in out
    assert sorted(len(t) > 500 for t in _texts(home)) == [True] * 3


def test_strict_fails_again_on_a_rerun_with_known_bad_records(tmp_path, speeches):
    dump = tmp_path / "d.jsonl"
    dump.write_text(json.dumps({"text": speeches[0][1]}, ensure_ascii=False) + "\n{broken\n", "utf-8")
    home = tmp_path / "home"
    run(home, "ingest", str(dump), "--strict", code=1)
    out = run(home, "ingest", str(dump), "--strict", code=1)
    assert "broken JSON" in out


def test_force_reprocesses_unchanged_files(tmp_path, corpus):
    home = tmp_path / "home"
    run(home, "ingest", str(corpus / "seeds"))
    out = run(home, "ingest", str(corpus / "seeds"), "--force")
    assert "0 unchanged" in out
