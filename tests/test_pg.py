"""The PostgreSQL store: the same behaviour as the SQLite file (what is stored, near-duplicate
groups, the digest indexes check, search over it), resume, --prune and bad input, and two
ingest processes writing one store at once. A throwaway cluster is started for the session
(tests/conftest.py: pg_server); without PostgreSQL these tests are skipped with the reason."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from speechkit.context import open_store
from speechkit.index.build import build_index
from speechkit.ingest import ingest
from speechkit.search import Searcher
from speechkit.settings import load_settings
from speechkit.workspace import Workspace

from .conftest import NATIONAL
from .conftest import run_cli as run
from .servers import served

TERMS = ["营商环境", "放管服", "改革开放", "党", "人民公社", '"供给侧结构性改革"', "GDP", "政府工作报告 year:2019"]


def _inputs(corpus: Path, dest: Path) -> Path:
    """The seeds, the saved HTML pages and twelve national reports, with one copy of a report
    under another name (a near-duplicate group) and one file that cannot be read."""
    shutil.copytree(corpus / "seeds", dest / "seeds")
    shutil.copytree(corpus / "html", dest / "html")
    reports = sorted((corpus / NATIONAL).glob("*.md"))[-12:]
    (dest / "reports").mkdir()
    for path in reports:
        shutil.copy(path, dest / "reports")
    shutil.copy(reports[-1], dest / "reports" / "republished.md")
    (dest / "reports" / "broken.jsonl.gz").write_bytes(b"\x1f\x8b\x08 not really gzip")
    return dest


def _state(settings) -> dict:
    with open_store(settings, create=False) as store:
        docs = {d.id: (d.canonical, d.dup_group, d.title, d.date, d.year, d.level, d.speaker_name, d.text_hash,
                       tuple(d.flags), d.source_path) for d in store.documents(canonical_only=False)}
        return {"docs": docs, "digest": store.canonical_digest(), "files": store.stored_paths(),
                "problems": [tuple(dict(p).values()) for p in store.problems()], "ungrouped": store.ungrouped()}


def test_postgresql_stores_groups_and_searches_what_sqlite_does(tmp_path, corpus, pg_url):
    src = _inputs(corpus, tmp_path / "src")
    with Workspace(tmp_path / "lite", workers=2) as w1, Workspace(tmp_path / "pg", workers=2, store=pg_url) as w2:
        a = ingest([str(src)], w1)
        b = ingest([str(src)], w2)
        assert a.speeches == b.speeches > 20 and len(a.skipped) == len(b.skipped) == 1
        state = _state(w2.settings)
        assert state == _state(w1.settings)
        assert any(not canonical for canonical, *_ in state["docs"].values())  # the republished copy
        build_index(w1)
        build_index(w2)
        with Searcher(w1) as s1, Searcher(w2) as s2:
            for q in TERMS:
                r1, r2 = s1.search(q, limit=20, passages=0), s2.search(q, limit=20, passages=0)
                assert r1.total == r2.total and [h.id for h in r1.hits] == [h.id for h in r2.hits], q
            assert s2.kwic("营商环境").total == s1.kwic("营商环境").total > 0
        # the analyses read either store alike
        assert w1.trend(["改革", "营商环境"]).rows == w2.trend(["改革", "营商环境"]).rows
        c1, c2 = w1.compare("year:..2019", "year:2020..", top=10), w2.compare("year:..2019", "year:2020..", top=10)
        assert c1.words == c2.words and len(c1.words) == 20
        # the seeds are local speeches; national speeches are the centre, not a level unit
        s1, s2 = w1.spread("招商引资", by="level"), w2.spread("招商引资", by="level")
        assert s1.first_uses == s2.first_uses and s1.curve == s2.curve and s1.first_uses
        assert s1.national == s2.national
        r1, r2 = (w.reuse("year:..2019", "year:2020..", lag=(0, 2)) for w in (w1, w2))
        assert r1.targets == r2.targets and sum(len(t.spans) for t in r1.targets) > 0


def test_postgresql_resumes_prunes_and_reports_through_the_command_line(tmp_path, corpus, pg_url):
    src = _inputs(corpus, tmp_path / "src")
    home = tmp_path / "home"
    first = run(home, "--store", pg_url, "ingest", str(src))
    assert "broken.jsonl.gz" in first
    again = run(home, "--store", pg_url, "ingest", str(src))
    assert "0 stored" in again and "unchanged" in again
    (src / "reports" / "republished.md").unlink()
    pruned = run(home, "--store", pg_url, "update", str(src), "--prune")
    assert "1 pruned" in pruned
    assert "speeches match" in run(home, "--store", pg_url, "search", "营商环境")
    # the store is the server's: a workspace without --store has none
    assert "no corpus store" in run(home, "search", "营商环境", code=1)


def test_two_ingest_processes_write_one_postgresql_store_at_once(tmp_path, corpus, pg_url):
    src = _inputs(corpus, tmp_path / "src")
    home = tmp_path / "home"
    procs = [subprocess.Popen([sys.executable, "-m", "speechkit", "--home", str(home), "--store", pg_url,
                               "ingest", "--workers", "1", str(src / part)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for part in ("reports", "seeds")]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode in (0, 1), err  # 1: the unreadable file was reported
    together = _state(load_settings(home, store=pg_url))
    with Workspace(tmp_path / "alone", workers=1) as alone:
        ingest([str(src / "reports")], alone)
        ingest([str(src / "seeds")], alone)
    assert together["docs"].keys() == _state(alone.settings)["docs"].keys()
    assert together["digest"] == _state(alone.settings)["digest"] and together["ungrouped"] == []


def test_search_on_the_server_finds_exactly_what_the_embedded_index_finds(tmp_path, corpus, pg_url, monkeypatch,
                                                                          workspace):
    """search = server: the same query language on the PostgreSQL search table; the found sets,
    totals and KWIC are the embedded index's and a brute-force scan's; a stale table is refused."""
    import random

    from speechkit.errors import IndexError_
    from speechkit.matching import matching_form
    from speechkit.search import PostgresSearcher

    src = _inputs(corpus, tmp_path / "src")
    home = tmp_path / "home"
    (home).mkdir()
    (home / "speechkit.cfg").write_text("[speechkit]\nsearch = server\n", "utf-8")
    ws = workspace(home, store=pg_url, workers=2)
    settings = ws.settings
    ingest([str(src)], ws)
    monkeypatch.setattr("speechkit.pgsearch.BULK_ROWS", 1)  # the first build's path: indexes built after the rows
    build_index(ws)
    with open_store(settings, create=False) as store:
        docs = {d.id: d for d in store.documents()}
        indexes = {r["indexname"] for r in store.db.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'search_%'")}
        # each speech's sections: its non-empty lines, in order, joined until 400 characters;
        # with the speech's number of sections; each section's characters and pairs beside it
        rows = store.db.execute("SELECT doc, n, sections, body FROM search_sections ORDER BY doc, n").fetchall()
        pairs = store.db.execute("SELECT doc, n, sections, grams FROM search_grams").fetchall()
    assert {"search_sections_body", "search_grams_grams"} <= indexes
    sections: dict[str, list[str]] = {}
    for r in rows:
        assert r["n"] == len(sections.setdefault(r["doc"], []))
        sections[r["doc"]].append(r["body"])
    canonical = {i: matching_form(d.text) for i, d in docs.items() if d.canonical}
    assert sections.keys() == {i for i, t in canonical.items() if t.strip()}
    for i, parts in sections.items():
        assert "\n".join(parts).split("\n") == [x for x in canonical[i].split("\n") if x.strip()]
        for part in parts[:-1]:  # each closes at the first line that brings it to 400 characters
            lengths = [len(x) for x in part.split("\n")]
            assert sum(lengths) >= 400 > sum(lengths[:-1]), (i, part[:40])
    assert all(r["sections"] == len(sections[r["doc"]]) for r in rows)
    assert {(r["doc"], r["n"]): (set(r["grams"]), r["sections"]) for r in pairs} == {
        (i, n): ({v[j:j + w] for w in (1, 2) for j in range(len(v) - w + 1)}, len(parts))
        for i, parts in sections.items() for n, v in enumerate(parts)}
    rng = random.Random(3)
    texts = [matching_form(d.text) for d in docs.values()]
    samples = []
    for _ in range(40):  # random substrings of real text, 1 to 6 characters, punctuation included
        t = rng.choice(texts)
        start = rng.randrange(len(t) - 6)
        samples.append(t[start:start + rng.randint(1, 6)].strip() or "党")
    queries = [*TERMS, "改革 NOT 开放", "(脱贫攻坚 OR 精准扶贫) year:2016..2020", "NOT year:2000..2030",
               'speaker:李克强 "稳中求进"', "level:national 100%", "title:政府工作报告 NOT 改革"]
    with Searcher(ws) as local, PostgresSearcher(ws) as server:
        for q in queries:
            assert server.find(q)[1] == local.find(q)[1], q
        # a ranked page decides the query's phrases on each speech's hits (one flag per phrase,
        # the sections read once): its total and speeches must be find's
        for q in ("营商环境 OR 放管服 OR 一网通办", "(营商环境 OR 放管服) NOT 审批", "改革 开放",
                  "改革 开放 NOT 一带一路", "(营商环境 OR 放管服) year:2016..", "(改革 NOT 开放) OR 扶贫",
                  "扶贫 OR (改革 开放)"):
            want = local.find(q)[1]
            page = server.search(q, limit=len(want) + 5, passages=0)
            assert page.total == len(want) > 0 and {h.id for h in page.hits} == want, q
        for phrase in samples:
            want = {i for i, d in docs.items() if matching_form(phrase) in matching_form(d.text)}
            assert server.find(f'"{phrase}"')[1] == want, phrase
        # a phrase across a line break is found in the whole text, also beside one in a paragraph
        across = next(p for p in (t[t.index("\n") - 2:t.index("\n") + 3] for t in texts if "\n" in t[3:])
                      if p.strip() == p)
        for q, needles in ((f'"{across}"', [across]), (f'营商环境 OR "{across}"', ["营商环境", across])):
            want = {i for i, d in docs.items() if any(n in matching_form(d.text) for n in needles)}
            assert server.find(q)[1] == want and server.search(q).total == len(want) > 0, q
        for q in ("营商环境", "改革 year:2015..", "党"):
            r1, r2 = local.search(q, limit=5), server.search(q, limit=5)
            assert r1.total == r2.total and len(r2.hits) == min(5, r1.total), q
            assert all(h.occurrences > 0 and h.passages for h in r2.hits), q
            assert local.kwic(q.split()[0]).lines == server.kwic(q.split()[0]).lines
        # the rank is its definition, read from the sections checked above: BM25's saturation
        # (k1 1.2, b 0.75) of the number of a speech's sections holding a phrase, against its
        # length in sections
        mean = sum(map(len, sections.values())) / len(canonical)

        def score(i: str, needles: list[str]) -> float:
            tf = sum(1 for x in sections[i] if any(n in x for n in needles))
            return tf / (tf + 1.2 * (0.25 + 0.75 * len(sections[i]) / mean))

        for q, needles in (("改革", ["改革"]), ("营商环境 OR 放管服", ["营商环境", "放管服"]),
                           ("营商环境 year:2015..", ["营商环境"]), ("改革 NOT 开放", ["改革"])):
            page = server.search(q, limit=15, passages=0)
            best = sorted((-score(i, needles), i) for i in local.find(q)[1])[:15]
            assert [(h.id, h.score) for h in page.hits] == [(i, round(-s, 4)) for s, i in best], q
        # the total comes with the page; a page past the end still has it
        for q in ("党", "改革 NOT 开放", '"政府" year:2015..'):
            total = local.search(q).total
            assert server.search(q, offset=total + 5).total == total, q
        want_total = local.search("营商环境 year:2015..").total
    # a table written under a previous layout is refused until `index` re-writes it
    with PostgresSearcher(ws) as server:
        server.server.db.execute("UPDATE search_state SET value = '1' WHERE key = 'layout'")
    with pytest.raises(IndexError_, match="speechkit index"):
        PostgresSearcher(ws)
    build_index(ws)
    with PostgresSearcher(ws) as server:
        assert server.search("营商环境 year:2015..").total == want_total
    out = json.loads(run(home, "--store", pg_url, "search", "营商环境 year:2015..", "--json"))
    assert out["total"] == want_total and out["corpus"] == settings_digest(settings)
    # the workbench searches the server's table too, without the workspace's own indexes
    pytest.importorskip("starlette", reason="the serve extra is not installed; `bash .ci/install`")
    (home / "indexes").rename(home / "indexes.away")
    try:
        with PostgresSearcher(ws) as server:
            want = server.search("党 year:2015..", limit=20)
            levels = server.facets()["level"]
        with served(home, tmp_path, env={"SPEECHKIT_STORE": pg_url}) as base:
            q = urllib.parse.urlencode({"q": "党", "year_from": "2015"})
            with urllib.request.urlopen(f"{base}/api/search?{q}") as r:
                got = json.load(r)
            with urllib.request.urlopen(f"{base}/?q=" + urllib.parse.quote("改革")) as r:
                html = r.read().decode("utf-8")
        assert got["total"] == want.total > 0 and [h["id"] for h in got["hits"]] == [h.id for h in want.hits]
        # the library answers from the same place as the CLI and the workbench (it always opened
        # the workspace's own indexes, which are away here)
        got = ws.search("党", filters="year:2015..", limit=20)
        assert got.total == want.total and [h.id for h in got.hits] == [h.id for h in want.hits]
        assert "national" in levels and all(f'value="{v}"' in html for v in levels)
    finally:
        (home / "indexes.away").rename(home / "indexes")
    # a new speech in the store and no `index`: the table is stale, and says which command fixes it
    shutil.copy(sorted((corpus / NATIONAL).glob("*.md"))[0], src / "reports" / "new.md")
    ingest([str(src)], ws)
    with pytest.raises(IndexError_, match="speechkit index"):
        PostgresSearcher(ws)
    assert "speechkit index" in run(home, "--store", pg_url, "search", "营商环境", code=1)


def test_a_search_during_a_first_build_leaves_the_large_indexes_to_the_build(tmp_path, pg_url):
    """A first build drops the two large GIN indexes and builds them after its rows; a search
    opened meanwhile must not build them again (it would index the build's rows one by one),
    and one opened after a build that died must."""
    import psycopg

    from speechkit.pgsearch import _BUILD_LOCK, _BULK_INDEXES, SearchTable

    settings = load_settings(tmp_path, store=pg_url)

    def large() -> set[str]:
        with psycopg.connect(pg_url) as db:
            return {n for (n,) in db.execute("SELECT indexname FROM pg_indexes WHERE tablename LIKE 'search_%'")
                    } & set(_BULK_INDEXES)

    with SearchTable(settings) as first:
        assert large() == set(_BULK_INDEXES)  # a new table has them
        for name in _BULK_INDEXES:
            first.db.execute(f"DROP INDEX {name}")
    with psycopg.connect(pg_url, autocommit=True) as build:  # a build between dropping and rebuilding
        build.execute("SELECT pg_advisory_lock(%s)", (_BUILD_LOCK,))
        with SearchTable(settings):
            assert large() == set()
    with SearchTable(settings):  # that build's connection ended (killed): the search repairs
        assert large() == set(_BULK_INDEXES)


def settings_digest(settings) -> str:
    with open_store(settings, create=False) as store:
        return store.canonical_digest()[0]
