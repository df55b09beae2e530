"""Slow checks, outside the default run (`python -m pytest -m slow`): the whole news dump,
and the benchmark scripts."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from speechkit.ingest import ingest
from speechkit.workspace import Workspace

from .conftest import ROOT

pytestmark = pytest.mark.slow


def test_whole_news_dump_ingests(tmp_path, corpus):
    dumps = sorted((corpus / "news").glob("*.jsonl.gz"))
    records = 0
    for p in dumps:
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            records += sum(1 for _ in fh)
    report = ingest([str(p) for p in dumps], Workspace(tmp_path),
                    field_map={"text": "content_html", "date": "pubtime", "title": "title", "url": "url", "id": "id"})
    assert all(why == "no visible text" for _, why in report.skipped)
    assert report.speeches + len(report.skipped) == records


def test_ingest_benchmark_runs():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest.py"), "--limit", "40"],
                         capture_output=True, text=True, check=True).stdout
    assert "speed-up 2 vs 1 worker(s)" in out
