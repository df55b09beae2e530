"""Ingest end to end through the CLI: incremental runs, pruning, bad input, dumps, HTML,
near-duplicates, export, and an interrupted run that resumes."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
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
from click.testing import CliRunner

from speechkit.cli import cli
from speechkit.store import Store

from .conftest import run_cli as run


def docs(home: Path, **kw):
    with Store(home / "corpus" / "speechkit.db") as store:
        return list(store.documents(**kw))


@pytest.fixture
def seeds_copy(tmp_path: Path, corpus: Path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(corpus / "seeds", raw)
    return raw


def test_ingest_is_incremental(tmp_path, seeds_copy):
    home = tmp_path / "home"
    out = run(home, "ingest", str(seeds_copy), "--workers", "1")
    assert "5 new" in out and len(docs(home)) == 11
    out = run(home, "ingest", str(seeds_copy))
    assert "5 unchanged" in out and "0 stored" in out
    # a changed file is processed again, the others are not
    page = seeds_copy / "002_3ad32d3621ead4f4.txt"
    page.write_text(page.read_text("utf-8").replace("奋战60天", "奋战90天"), "utf-8")
    out = run(home, "ingest", str(seeds_copy))
    assert "1 changed" in out and "4 unchanged" in out
    assert any("奋战90天" in d.text for d in docs(home))
    # --prune drops speeches whose file is gone
    (seeds_copy / "004_30715ac9391e336e.txt").unlink()
    run(home, "ingest", str(seeds_copy), "--prune")
    assert len(docs(home)) == 6


def test_bad_inputs_are_reported_and_skipped(tmp_path, seeds_copy, monkeypatch):
    (seeds_copy / "empty.txt").write_bytes(b"")
    (seeds_copy / "binary.txt").write_bytes(bytes(range(256)) * 20)
    (seeds_copy / "locked.txt").write_text("同志们：今天开会。", "utf-8")
    (seeds_copy / "dump.jsonl").write_text(
        '{"text": "同志们：这是第一条。"}\n{broken json\n{"text": ""}\n{"text": "同志们：这是第四条。"}\n', "utf-8")
    real_read = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    home = tmp_path / "home"
    out = run(home, "ingest", str(seeds_copy), "--workers", "1")
    assert "empty.txt: empty file" in out
    assert "binary.txt: binary file" in out
    assert "locked.txt: permission denied" in out
    assert "broken JSON on line 2" in out
    assert "field 'text' is empty" in out
    texts = [d.text for d in docs(home)]
    assert len(texts) == 11 + 2  # the seeds and the two good records all landed
    assert any("这是第四条" in t for t in texts)
    run(home, "ingest", str(seeds_copy), "--strict", code=1)


def test_errors_are_one_line_with_a_fix(tmp_path):
    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["--home", str(home), "show", "nope"])
    assert result.exit_code == 1
    assert "run `speechkit ingest PATH` first" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["--home", str(home), "ingest", str(tmp_path / "missing")])
    assert result.exit_code != 0 and "no such file or folder" in result.output
    result = CliRunner().invoke(cli, ["--home", str(home), "ingest", str(tmp_path), "--field", "body"])
    assert "OURS=THEIRS" in result.output


def test_crawler_dumps_with_field_mapping(tmp_path, corpus):
    src = tmp_path / "dump"
    src.mkdir()
    with gzip.open(corpus / "news" / "2015.jsonl.gz", "rt", encoding="utf-8") as fh:
        lines = [next(fh) for _ in range(40)]
    with gzip.open(src / "news.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(lines)
    rows = [json.loads(x) for x in lines]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["title", "pubtime", "url", "content_html"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows[:5])
    (src / "news.csv").write_text(buf.getvalue(), "utf-8")
    home = tmp_path / "home"
    run(home, "ingest", str(src), "--field", "text=content_html", "--field", "date=pubtime", "--field", "id=id")
    stored = docs(home, canonical_only=False)
    from_jsonl = [d for d in stored if d.source_path.endswith(".gz")]
    with_text = [r for r in rows if "</p>" in r["content_html"].lower() and len(r["content_html"]) > 20]
    assert len(from_jsonl) == len(with_text)
    first = next(d for d in from_jsonl if d.record == rows[0]["id"])
    assert first.title == rows[0]["title"]
    assert first.date == "2015-01-01" and first.year == 2015 and first.date_source == "metadata"
    assert first.site == "cctv.com" and first.url == rows[0]["url"]
    assert "<p>" not in first.text and "上海市黄浦区外滩" in first.text
    # the CSV repeats five items: they are near-duplicates of the JSONL copies
    assert sum(1 for d in stored if d.source_path.endswith(".csv")) == 5
    assert sum(1 for d in stored if not d.canonical) >= 5


def test_saved_html_pages(tmp_path, corpus):
    home = tmp_path / "home"
    run(home, "ingest", str(corpus / "html"))
    (d2015,) = [d for d in docs(home) if "2015" in d.source_path]
    assert "国民经济继续健康稳定发展" in d2015.text
    assert "function" not in d2015.text and "window[" not in d2015.text
    assert d2015.url.startswith("http://www.wanzai.gov.cn/") and d2015.site == "wanzai.gov.cn"
    assert d2015.year == 2015 and d2015.title == "万载县2015年国民经济和社会发展统计公报"


def test_near_duplicates_keep_the_complete_copy_canonical(tmp_path, corpus):
    src = tmp_path / "dups"
    src.mkdir()
    report = (corpus / "gov-reports" / "政府工作报告-国务院" / "2019.md").read_text("utf-8")
    (src / "a_original.md").write_text(report, "utf-8")
    body = report.split("---\n", 2)[-1]
    page = "某某范文网 导航\n来源：网络  更新时间：2024-05-01\n" + body + "\n相关文章\n"
    (src / "b_republished.txt").write_text(page, "utf-8")
    cut = body[: len(body) // 2]
    (src / "c_truncated.txt").write_text(cut + "……(未完,全文共40000字,当前仅显示20000字,请阅读下面提示信息。", "utf-8")
    other = corpus / "gov-reports" / "政府工作报告-国务院" / "2009.md"
    (src / "d_other.md").write_text(other.read_text("utf-8"), "utf-8")
    home = tmp_path / "home"
    run(home, "ingest", str(src))
    everything = docs(home, canonical_only=False)
    by_name = {Path(d.source_path).name: d for d in everything}
    group = by_name["a_original.md"].dup_group
    assert group and by_name["b_republished.txt"].dup_group == group == by_name["c_truncated.txt"].dup_group
    assert by_name["d_other.md"].dup_group is None
    assert by_name["c_truncated.txt"].truncated and not by_name["c_truncated.txt"].canonical
    assert sum(by_name[n].canonical for n in ("a_original.md", "b_republished.txt", "c_truncated.txt")) == 1
    exported = [json.loads(x) for x in run(home, "export", stdout=True).splitlines()]
    assert len(exported) == 2
    assert len(run(home, "export", "--all", stdout=True).splitlines()) == 4


def _export(home: Path, *args: str) -> tuple[str, str]:
    """`speechkit export ARGS` as a shell sees it: the data on stdout, the summary on stderr."""
    result = CliRunner().invoke(cli, ["--home", str(home), "export", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_export_show_and_stats(seeds_home, tmp_path):
    data, said = _export(seeds_home, "--format", "jsonl")
    lines = data.splitlines()
    record = json.loads(lines[0])
    for field in ("id", "source_path", "part", "title", "text", "date", "date_source", "year",
                  "speaker_role", "speaker_name", "level", "region", "site", "url", "encoding",
                  "truncated", "masked", "flags", "dup_group", "canonical"):
        assert field in record
    # what it wrote is said, on stderr, so a pipe gets only the records
    assert said.startswith(f"exported {len(lines)} speeches (canonical copies) as JSONL") and len(lines) == 11
    rows = list(csv.DictReader(io.StringIO(_export(seeds_home, "--format", "csv")[0])))
    assert len(rows) == 11 and rows[0]["id"] == record["id"]
    # --excel: a byte order mark first, so Excel reads UTF-8; the same rows after it
    out = tmp_path / "speeches.csv"
    _, said = _export(seeds_home, "--format", "csv", "--level", "city", "--excel", "-o", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and not raw[3:].startswith(b"\xef\xbb\xbf")
    city = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert city and all(r["level"] == "city" for r in city) and city[0].keys() == rows[0].keys()
    assert f"exported {len(city)} speeches (canonical copies) in level:city as CSV to {out}" in said
    assert "byte order mark" in said

    shown = run(seeds_home, "show", record["id"][:8])
    assert record["title"] in shown and "evidence" in shown
    stats = json.loads(run(seeds_home, "stats", "--json"))
    assert stats["speeches"] == 11 and dict(stats["by_site"])["zciku.com"] == 5


def test_clean_explain(corpus):
    result = CliRunner().invoke(cli, ["clean", str(corpus / "seeds" / "003_7d5aff7611614482.txt"), "--explain"])
    assert result.exit_code == 0
    assert "strip_site_furniture" in result.output and "链接地址" in result.output
    assert result.output.rstrip().endswith("满意的答卷。")


def test_interrupted_run_resumes_without_loss(tmp_path, corpus):
    src = tmp_path / "reports"
    shutil.copytree(corpus / "gov-reports" / "政府工作报告-省自治区", src)
    total = sum(1 for _ in src.rglob("*.md"))
    home = tmp_path / "home"
    cmd = [sys.executable, "-m", "speechkit", "--home", str(home), "ingest", str(src), "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = home / "corpus" / "speechkit.db"
    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline and stored < 40:
        time.sleep(0.5)
        if db.exists():
            with contextlib.suppress(sqlite3.OperationalError):
                stored = sqlite3.connect(db).execute("SELECT COUNT(*) FROM files").fetchone()[0]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    partial = con.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    assert 0 < partial < total
    # every file recorded has all its speeches: files are committed whole
    assert con.execute("SELECT COUNT(*) FROM files f WHERE n_docs != "
                       "(SELECT COUNT(*) FROM documents d WHERE d.source_path=f.path)").fetchone()[0] == 0
    con.close()
    out = run(home, "ingest", str(src))
    assert f"{partial} unchanged" in out
    assert len(docs(home, canonical_only=False)) == total


# furniture no phrase rule was written from: a channel banner above the text, a counter and a
# closing line below it, on every page of one (invented) site
_TEMPLATE_HEAD = "吉林发布融媒矩阵"
_TEMPLATE_TAIL = ("本页累计访问人次", "吉林省政务服务中心主办 技术支持：长白山云")


def test_a_sites_template_is_stripped_wherever_it_repeats(tmp_path, corpus):
    src = sorted((corpus / "gov-reports" / "政府工作报告-省自治区" / "吉林省").glob("*.md"))[:7]
    plain, framed = tmp_path / "plain" / "jl", tmp_path / "framed" / "jl"
    plain.mkdir(parents=True)
    framed.mkdir(parents=True)
    for i, path in enumerate(src):
        text = path.read_text("utf-8")
        (plain / path.name).write_text(text, "utf-8")
        # a line on only two pages is not the site's template: it stays
        tail = "吉林省两会特别报道" if i < 2 else "\n\n".join(_TEMPLATE_TAIL)
        cut = text.index("\n---\n", 4) + 5 if text.startswith("---\n") else 0  # after the front matter
        (framed / path.name).write_text(f"{text[:cut]}{_TEMPLATE_HEAD}\n\n{text[cut:]}\n\n{tail}\n", "utf-8")
    run(tmp_path / "a", "ingest", str(plain), "--workers", "1")
    run(tmp_path / "b", "ingest", str(framed), "--workers", "1")
    a = {Path(d.source_path).name: d for d in docs(tmp_path / "a", canonical_only=False)}
    b = {Path(d.source_path).name: d for d in docs(tmp_path / "b", canonical_only=False)}
    assert set(a) == set(b)
    for name, doc in b.items():
        lines = {x.strip() for x in doc.text.split("\n")}
        assert not lines & {_TEMPLATE_HEAD, *_TEMPLATE_TAIL}, name
        # what remains is the text the page has without its frame, line for line
        assert doc.text.replace("\n吉林省两会特别报道", "") == a[name].text, name
        assert any(s.startswith("strip_site_template") for s in doc.steps), name
        assert "template" in doc.evidence
    assert sum("吉林省两会特别报道" in d.text for d in b.values()) == 2
    # the template is remembered: a new page of the site is stripped on arrival, and a re-run
    # changes nothing
    late = sorted((corpus / "gov-reports" / "政府工作报告-省自治区" / "吉林省").glob("*.md"))[-1].read_text("utf-8")
    cut = late.index("\n---\n", 4) + 5 if late.startswith("---\n") else 0
    (framed / "late.md").write_text(f"{late[:cut]}{_TEMPLATE_HEAD}\n\n{late[cut:]}", "utf-8")
    run(tmp_path / "b", "ingest", str(framed), "--workers", "1")
    new = {Path(d.source_path).name: d for d in docs(tmp_path / "b", canonical_only=False)}["late.md"]
    assert _TEMPLATE_HEAD not in new.text
