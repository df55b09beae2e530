"""Search: segmentation with the lexicon, exact phrase finding (checked against a brute-force
scan of real texts), ranking, highlights, KWIC, incremental and interrupted index builds,
stale indexes and query errors."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from speechkit.cli import cli
from speechkit.index.analysis import analyzer
from speechkit.matching import matching_form
from speechkit.query import QueryError, parse, phrases
from speechkit.search import Searcher
from speechkit.segment import Segmenter, read_lexicon
from speechkit.settings import load_settings
from speechkit.store import Store
from speechkit.workspace import Workspace

from .conftest import NATIONAL, indexed_workspace
from .conftest import run_cli as run


@pytest.fixture(scope="module")
def home(tmp_path_factory, corpus) -> Path:
    """National work reports 1954–2026, the seeds and the saved HTML pages, indexed."""
    return indexed_workspace(tmp_path_factory, "search", corpus / NATIONAL, corpus / "seeds", corpus / "html")


@pytest.fixture(scope="module")
def searcher(home):
    with Workspace(home) as ws, Searcher(ws) as s:
        yield s


@pytest.fixture(scope="module")
def canonical(home):
    with Store(load_settings(home).store_path) as store:
        return {d.id: d for d in store.documents()}


# --- segmentation ------------------------------------------------------------------------------

def test_the_saved_dictionary_segments_exactly_as_the_full_one(home, canonical):
    """A query is segmented from the index's saved dictionary (only the entries inside it are
    read) and must come out exactly as with jieba's whole dictionary loaded."""
    import random

    from speechkit.paths import Paths
    from speechkit.segment import SMALL_TEXT

    saved = Segmenter(dictionary=Paths(load_settings(home).index_dir).dictionary)
    full = Segmenter()
    rng = random.Random(7)
    texts = [matching_form(d.text) for d in canonical.values()]
    samples = [t[i:i + n] for t in rng.sample(texts, 40) for i, n in
               ((rng.randrange(max(1, len(t) - 40)), rng.randint(2, 40)) for _ in range(10))]
    samples += [term for term, _ in full.terms()[:300]] + ["营商环境", "坚持房住不炒，共建一带一路", "x"]
    for text in samples:
        assert saved._small(text) is not None
        assert saved.cut(text) == full.cut(text), text
        assert saved.positions(text) == full.positions(text), text
    words = {w for text in samples for p in full.positions(text) for w in p} | {"营商环境", "放管服", "", "x"}
    assert {w for w in words if saved.is_term(w)} == {w for w in words if full.is_term(w)}
    assert any(saved.is_term(w) for w in words) and not all(saved.is_term(w) for w in words)
    assert saved._tok is None  # jieba's own dictionary was never loaded
    assert saved._small("营" * (SMALL_TEXT + 1)) is None


def test_a_new_workspace_copies_the_machines_saved_dictionary(tmp_path, monkeypatch):
    """The dictionary is written once per machine and version and copied into each index;
    a cached copy of another version is written again, never copied."""
    import sqlite3

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seg = Segmenter()
    seg.save_dictionary(tmp_path / "a.sqlite")
    shared = tmp_path / "cache" / "speechkit" / f"dictionary-{seg.version}.sqlite"
    assert shared.read_bytes() == (tmp_path / "a.sqlite").read_bytes()
    with sqlite3.connect(shared) as db:  # a stale copy: another version's
        db.execute("UPDATE meta SET value = 'old' WHERE key = 'version'")
    Segmenter().save_dictionary(tmp_path / "b.sqlite")
    with sqlite3.connect(tmp_path / "b.sqlite") as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] == seg.version
        assert db.execute("SELECT count(*) FROM words").fetchone()[0] > 300_000
    assert Segmenter(dictionary=tmp_path / "b.sqlite").cut("优化营商环境") == seg.cut("优化营商环境")


def test_lexicon_is_large_counted_and_has_the_core_terms():
    from importlib import resources

    rows = [line.split("\t") for line in resources.files("speechkit.lexicon").joinpath("political.tsv")
            .read_text("utf-8").splitlines() if not line.startswith("#")]
    assert len(rows) >= 500
    counted = {r[0]: int(r[3]) for r in rows}
    for term in ("营商环境", "放管服", "三去一降一补", "供给侧结构性改革", "新质生产力", "高质量发展", "共同富裕",
                 "乡村振兴", "一带一路", "房住不炒", "双循环", "五位一体", "四个全面", "两个维护"):
        assert counted[term] > 0, term
    assert "六稳六保" in counted


def test_lexicon_terms_stay_whole_and_keep_their_parts():
    seg = Segmenter()
    for text, term, parts in [
        ("坚持房住不炒的定位", "房住不炒", ()),
        ("深化供给侧结构性改革", "供给侧结构性改革", ("结构性", "改革")),
        ("做好“六稳”工作", "六稳", ()),
        ("推进三去一降一补", "三去一降一补", ()),
        ("共建一带一路", "一带一路", ("一带", "一路")),
    ]:
        positions = seg.positions(matching_form(text))
        whole = [p for p in positions if p[0] == term]
        assert whole, (text, positions)
        assert set(parts) <= set(whole[0][1:])


def test_the_lexicon_does_not_split_ordinary_words(corpus):
    """Outside the places where a lexicon term occurs, segmentation is what stock jieba does."""
    import jieba

    plain = jieba.Tokenizer()
    seg = Segmenter()
    text = matching_form((corpus / NATIONAL / "2019.md").read_text("utf-8"))[:20000]
    ours = seg.cut(text)
    terms = {w for w in ours if seg.is_term(w)}
    theirs = [w for w in plain.cut(text, HMM=False) if w.strip() and not any(w in t for t in terms)]
    ours_plain = [w for w in ours if w not in terms]
    same = len(set(theirs) & set(ours_plain)) / len(set(theirs))
    assert same >= 0.99


def test_user_lexicon(tmp_path):
    lexicon = tmp_path / "mine.txt"
    lexicon.write_text("# mine\n夏季攻势\n", "utf-8")
    assert "夏季攻势" in [p[0] for p in Segmenter(lexicon).positions("掀起夏季攻势热潮")]
    assert read_lexicon(lexicon.read_text("utf-8")) == [("夏季攻势", None)]


def test_analyzer_pickles_and_gives_ordinal_positions():
    ana = pickle.loads(pickle.dumps(analyzer()))
    tokens = [(t.text, t.pos) for t in ana("持续优化营商环境，党的领导", positions=True)]
    assert ("营商环境", tokens[[t for t, _ in tokens].index("优化营商环境")][1]) in tokens
    assert any(t == "党的领导" for t, _ in tokens)
    positions = sorted({p for _, p in tokens})
    assert positions == list(range(positions[0], positions[0] + len(positions))) or len(positions) < len(tokens)


# --- exactness ----------------------------------------------------------------------------------

def _brute(canonical, phrase: str) -> set[str]:
    needle = matching_form(phrase)
    return {i for i, d in canonical.items() if needle in matching_form(d.text)}


def test_phrase_whole_and_sub_term_find_the_same_passage(searcher, canonical):
    doc = next(d for d in canonical.values() if d.source_path.endswith("2019.md"))
    for q in ("营商环境", '"优化营商环境"', "结构性改革", "供给侧", "供给侧结构性改革"):
        _, ids = searcher.find(q)
        assert doc.id in ids, q


def test_search_equals_brute_force_scan_on_real_terms(searcher, canonical):
    rng = random.Random(7)
    terms = ["营商环境", "放管服", "供给侧结构性改革", "新质生产力", "高质量发展", "共同富裕", "乡村振兴",
             "一带一路", "房住不炒", "双循环", "五位一体", "四个全面", "招商引资", "改革开放", "计划经济",
             "人民公社", "大跃进", "党", "税", "小康", "脱贫攻坚", "三个代表", "科学发展观", "中国梦",
             "稳中求进", "简政放权", "亿元", "GDP", "ＧＤＰ", "國家", "营商", "环境改善", "的发展"]
    # and random substrings of real text, which cut across word boundaries
    texts = [d.text for d in canonical.values()]
    for _ in range(25):
        t = rng.choice(texts)
        start = rng.randrange(0, max(1, len(t) - 8))
        piece = t[start:start + rng.randint(2, 7)].strip()
        if piece and "\n" not in piece:
            terms.append(piece)
    for term in terms:
        _, found = searcher.find(f'"{term}"')
        assert found == _brute(canonical, term), term


def test_ngram_finding_is_exact_where_a_bigram_index_is_easily_wrong(searcher, canonical):
    """Phrases the n-gram index must not get wrong: one character, ASCII, phrases across
    punctuation and spaces (checked on the text), and the trap of a bigram index without run
    ends: in 经济，济南 the pairs 经济 and 济南 sit side by side, so 经济南 would match; it must not."""
    texts = {i: matching_form(d.text) for i, d in canonical.items()}
    traps, spans = set(), set()
    for t in texts.values():
        for m in re.finditer(r"(\w)(\w)[，、。；：,](\2)(\w)", t):
            traps.add(m.group(1) + m.group(2) + m.group(4))
        for m in re.finditer(r"\w\w[，、。 ]\w\w", t):
            spans.add(m.group())
    assert len(traps) >= 10 and len(spans) >= 10  # the national reports have plenty of both
    rng = random.Random(3)
    phrases = sorted(traps)[:40] + rng.sample(sorted(spans), 20) + [
        "党", "的", "，", "。", "2", "gdp", "19", "%", "(", "2019年", "第一", "改革, 开放", "“一带一路”"]
    for phrase in phrases:
        needle = matching_form(phrase)
        want = {i for i, t in texts.items() if needle in t}
        found = {searcher.text.ids[n] for n in searcher.text.containing(needle)}
        assert found == want, phrase
    # the traps really are traps: their pairs are in the texts, next to each other
    assert any(_brute(canonical, t[:2]) & _brute(canonical, t[1:]) for t in traps)


def test_boolean_and_filters(searcher, canonical):
    def ids(q):
        return searcher.find(q)[1]

    a, b = _brute(canonical, "营商环境"), _brute(canonical, "计划经济")
    assert ids("营商环境 OR 计划经济") == a | b
    assert ids("营商环境 AND 计划经济") == a & b
    assert ids("营商环境 NOT 计划经济") == a - b
    in_range = {i for i in a if canonical[i].year and 2015 <= canonical[i].year <= 2020}
    assert ids("营商环境 year:2015..2020") == in_range
    assert ids("(营商环境 OR 放管服) level:national") == {
        i for i in a | _brute(canonical, "放管服") if canonical[i].level == "national"}
    assert ids('title:政府工作报告 year:2019') == {
        i for i, d in canonical.items() if d.year == 2019 and "政府工作报告" in (d.title or "")}


def test_ranking_highlights_and_offsets(searcher):
    result = searcher.search("营商环境", limit=5)
    assert result.total == len(searcher.find("营商环境")[1])
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    for hit in result.hits:
        assert 1 <= len(hit.passages) <= 3
        for p in hit.passages:
            for s, e in p.highlights:
                assert matching_form(p.text[s:e]) == "营商环境"
    by_date = searcher.search("营商环境", sort="date", limit=50, passages=0)
    dates = [h.date or "" for h in by_date.hits]
    assert dates == sorted(dates, reverse=True)
    # a page by date is the page of the whole selection sorted by (date, id), newest first
    for q in ("发展", "营商环境 OR 人民公社", "改革 year:1980..2000"):
        _, found = searcher.find(q)
        rows = {d["id"]: d for d in searcher.text.docs}
        whole = sorted((rows[i]["date"] or "", i) for i in found)[::-1]
        for limit, offset in ((10, 0), (7, 30), (len(found) + 5, 0)):
            page = searcher.search(q, sort="date", limit=limit, offset=offset, passages=0).hits
            assert [h.id for h in page] == [i for _, i in whole[offset:offset + limit]], (q, offset)
    page2 = searcher.search("营商环境", limit=2, offset=2, passages=0)
    assert [h.id for h in page2.hits] == [h.id for h in searcher.search("营商环境", limit=4, passages=0).hits[2:]]


def test_a_ranked_page_is_the_page_of_whooshs_own_full_ranking(searcher):
    """Ranking scores posting lists with numpy; the page must be the one whoosh's own search
    of every document gives, ties broken by id, for frequent words, filters and phrases cut
    across words."""
    from whoosh import query as wq

    def full(q: str) -> list[str]:
        node, found_ids = searcher.find(q)
        found = {searcher.text.by_id[i] for i in found_ids}
        words = [w for ph in phrases(node) for w in searcher.segmenter.cut(matching_form(ph.text))]
        terms = [wq.Term(f, w) for w in words for f in ("body", "title")]
        reader, by_id = searcher.whoosh.reader(), searcher.text.by_id
        scores = {}
        for score, docnum in searcher.whoosh.search(wq.Or(terms), limit=None).top_n:
            n = by_id.get(reader.stored_fields(docnum)["id"])
            if n in found:
                scores[n] = score
        ids = searcher.text.ids
        scored = sorted(scores, key=lambda n: (-scores[n], ids[n]))
        return [ids[n] for n in scored]

    for q in ("发展", "改革 year:1990..2000", "人民 level:national", "营商环境", '"结构性改革"', "党"):
        want = full(q)
        for limit, offset in ((10, 0), (5, 20), (50, 0)):
            got = [h.id for h in searcher.search(q, limit=limit, offset=offset, passages=0).hits]
            assert got == want[offset:offset + limit][:len(got)], q
            assert len(got) == max(0, min(limit, len(want) - offset)), q


def test_kwic(searcher, canonical):
    result = searcher.kwic("营商环境", width=10, sort="left")
    lines = result.lines
    total = sum(matching_form(d.text).count("营商环境") for d in canonical.values())
    assert len(lines) == total == result.total
    assert searcher.kwic("营商环境", limit=3).total == total  # a limit shows fewer, counts all
    for line in lines:
        assert matching_form(line["keyword"]) == "营商环境"
        assert len(line["left"]) <= 10 and len(line["right"]) <= 10
    assert [x["left"][::-1] for x in lines] == sorted(x["left"][::-1] for x in lines)


def test_cli_search_json_csv_kwic_explain(home):
    data = json.loads(run(home, "search", "营商环境", "--year", "2018..2020", "--json"))
    assert data["total"] == len(data["hits"]) or data["total"] > len(data["hits"])
    assert data["parsed"] == '(body:"营商环境" AND year:2018..2020)'
    assert all(2018 <= h["year"] <= 2020 for h in data["hits"]) and data["corpus"] and data["segmenter"]
    rows = run(home, "search", "放管服", "--csv").splitlines()
    assert rows[0].startswith("rank,id,title")
    kw = run(home, "kwic", "放管服", "--csv", "--limit", "5").splitlines()
    assert kw[0] == "left,keyword,right,id,date,title,region,offset,total,corpus,segmenter" and len(kw) == 6
    table = run(home, "kwic", "供给侧结构性改革", "--limit", "5").splitlines()  # an 80-column terminal
    rows = [line for line in table if line.startswith("│")]
    assert len(rows) == 5 and all("供给侧结构性改革" in r and re.search(r"\d{4}-\d\d-\d\d", r) for r in rows)
    assert max(map(cell_len, table)) <= 80
    ex = json.loads(run(home, "explain", "优化营商环境", "--json"))
    assert ex["phrases"][0]["segmented"][0] == {"token": "优化营商环境", "lexicon": True}
    assert ex["documents"] and ex["documents"][0]["found_at"]
    text = run(home, "explain", "优化营商环境")
    assert "优化营商环境*" in text and f"speech {ex['documents'][0]['id']}: matches" in text


def test_everyday_commands(home):
    """The defects a researcher met: totals under --limit, one set of selection flags on every
    command that selects, clear errors for ambiguous prefixes and bad ranges, collocates
    without the node itself."""
    everything = json.loads(run(home, "kwic", "营商环境", "--json"))
    limited = json.loads(run(home, "kwic", "营商环境", "--json", "--limit", "3"))
    assert limited["total"] == everything["total"] > 3 and limited["shown"] == 3
    assert f"{everything['total']} occurrences" in run(home, "kwic", "营商环境", "--limit", "3")
    # the same selection flags everywhere: --level as a flag equals level: in --filter
    for args in (["trend", "放管服", "--json"], ["export"], ["collocates", "改革", "--json", "--top", "5"]):
        flag = run(home, *args, "--level", "national", stdout=True)
        assert flag == run(home, *args, "--filter", "level:national", stdout=True), args
    exported = [json.loads(line) for line in run(home, "export", "--year", "2019..2020", stdout=True).splitlines()]
    assert exported and all(2019 <= r["year"] <= 2020 for r in exported)
    ids = [json.loads(line)["id"] for line in run(home, "export", stdout=True).splitlines()]
    prefix = next(a[:1] for a in ids if sum(b.startswith(a[:1]) for b in ids) > 1)
    assert "several ids" in run(home, "show", prefix, code=1)
    assert "several ids" in run(home, "explain", "营商环境", "--doc", prefix, code=1)
    assert "give more characters" not in run(home, "explain", "营商环境", "--doc", ids[0][:8])
    for bad in ("abc", "5..2", "1..4"):
        out = run(home, "cluster", "--k-range", bad, code=2)
        assert "--k-range" in out and "Traceback" not in out
    near = [c["word"] for c in json.loads(run(home, "collocates", "营商环境", "--json", "--top", "50"))["collocates"]]
    assert near and not any("营商环境" in w for w in near)


@pytest.mark.parametrize("query,message", [
    ("(营商环境", "unclosed parenthesis"), ('"营商', "unclosed quote"), ("yr:2020", "unknown field"),
    ("year:2020..2010", "runs backwards"), ("AND 营商", "needs a term"),
])
def test_malformed_queries_give_one_line_errors(home, query, message):
    with pytest.raises(QueryError, match=message):
        parse(query)
    out = run(home, "search", query, code=2)
    assert message in out and "Traceback" not in out and len(out.strip().splitlines()) == 1


# --- building -----------------------------------------------------------------------------------

def test_incremental_update_and_stale_index(tmp_path, corpus):
    home = tmp_path / "home"
    src = tmp_path / "src"
    shutil.copytree(corpus / "seeds", src)
    run(home, "update", str(src))
    assert "3 speeches match" in run(home, "search", "营商环境")
    extra = src / "extra.md"
    extra.write_text((corpus / NATIONAL / "2019.md").read_text("utf-8"), "utf-8")
    run(home, "ingest", str(src))
    stale = CliRunner().invoke(cli, ["--home", str(home), "search", "营商环境"])
    assert stale.exit_code == 1 and "run `speechkit index`" in stale.output
    out = CliRunner().invoke(cli, ["--home", str(home), "index"]).output
    assert "1 added" in out and "0 segmented" not in out and "11 unchanged" in out
    assert "4 speeches match" in run(home, "search", "营商环境")
    extra.write_text(extra.read_text("utf-8").replace("营商环境", "经商环境"), "utf-8")
    out = CliRunner().invoke(cli, ["--home", str(home), "update", str(src)]).output
    assert "1 updated" in out
    assert "3 speeches match" in run(home, "search", "营商环境")
    assert "1 speeches match" in run(home, "search", "经商环境")
    extra.unlink()
    out = CliRunner().invoke(cli, ["--home", str(home), "update", str(src), "--prune"]).output
    assert "1 removed" in out
    assert "0 speeches match" in run(home, "search", "经商环境")
    # a change made outside speechkit's code (here: SQL on the store) is seen too: freshness is
    # checked by a generation that triggers bump on every write, not by speechkit's own calls
    import sqlite3

    with sqlite3.connect(home / "corpus" / "speechkit.db") as db:
        db.execute("UPDATE documents SET title = title || '·' WHERE rowid = (SELECT min(rowid) FROM documents)")
    stale = CliRunner().invoke(cli, ["--home", str(home), "search", "营商环境"])
    assert stale.exit_code == 1 and "run `speechkit index`" in stale.output


def test_an_incremental_ngram_index_finds_what_a_fresh_one_finds(tmp_path, corpus):
    """Removing, changing and adding speeches patches the n-gram index (a contentless FTS5
    table forgets a row only when given exactly the tokens it was given); a stale row would be
    found again."""
    import sqlite3

    home = tmp_path / "home"
    src = tmp_path / "src"
    src.mkdir()
    reports = sorted((corpus / NATIONAL).glob("*.md"))
    for path in reports[-6:]:
        shutil.copy(path, src)
    run(home, "update", str(src))
    # a whole build inserts without merging and optimizes once; the file it leaves merges again
    with contextlib.closing(sqlite3.connect(home / "indexes" / "text" / "ngrams.sqlite")) as db:
        assert db.execute("SELECT v FROM ngrams_config WHERE k = 'automerge'").fetchone() == (4,)
    first, second = sorted(src.glob("*.md"))[:2]
    first.unlink()  # the first row: the rows are no longer 1..n
    second.write_text(second.read_text("utf-8").replace("改革", "变革"), "utf-8")
    shutil.copy(reports[-7], src)
    out = run(home, "update", str(src), "--prune")
    assert "1 removed" in out and "1 updated" in out and "1 added" in out
    terms = ["改革", "变革", "党", "营商环境", "，改", "2019", "政府工作报告"]
    with Workspace(home) as ws, Searcher(ws) as s:
        assert not s.text._dense
        patched = {t: {s.text.ids[n] for n in s.text.containing(t)} for t in terms}
        scanned = {t: {s.text.ids[n] for n in s.text._scan(t)} for t in terms}
        titles = {s.text.ids[n] for n in s.text.containing("政府工作报告", "title")}
    assert patched == scanned
    assert patched["变革"] and len(patched["改革"]) == 5  # the changed report lost every 改革
    _assert_positions_are_whooshs(home)
    run(home, "index", "--rebuild")
    with Workspace(home) as ws, Searcher(ws) as s:
        assert {t: {s.text.ids[n] for n in s.text.containing(t)} for t in terms} == patched
        assert {s.text.ids[n] for n in s.text.containing("政府工作报告", "title")} == titles


def test_ngram_rows_inserted_as_speeches_come_equal_rows_written_in_one_go(tmp_path, corpus):
    """The build announces the speeches it will segment and hands over their matching forms
    as workers return them, in any order; a speech announced but never handed over (its old
    row deleted) is made from the store. Every n-gram instance (term, row, column, offset), the
    matching file, offsets and rows must be those of the index written in one go."""
    import sqlite3

    from speechkit.index.text import NGRAMS, Spool, TextIndexWriter, write_text_index
    from speechkit.paths import Paths

    src = tmp_path / "src"
    src.mkdir()
    for path in sorted((corpus / NATIONAL).glob("*.md"))[-5:]:
        shutil.copy(path, src)
    home = tmp_path / "home"
    run(home, "ingest", str(src))

    def instances(folder: Path) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(folder / NGRAMS)) as db:
            db.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, ngrams, 'instance')")
            return db.execute("SELECT term, doc, col, offset FROM temp.v ORDER BY 1, 2, 3, 4").fetchall()

    with Workspace(home) as ws:
        docs = {r["id"]: dict(r) for r in ws.store.metadata()}
        texts = dict(ws.store.texts(list(docs)))
        ids = list(docs)
        one_go, streamed = Paths(tmp_path / "one"), Paths(tmp_path / "streamed")
        for paths in (one_go, streamed):
            paths.root.mkdir()
        spool = Spool(one_go.root / "fresh")
        for i in ids:
            spool.add(i, matching_form(texts[i]))
        try:
            write_text_index(one_go, docs, spool, ws.store, reuse=False)
        finally:
            spool.close()
        writer = TextIndexWriter(streamed, docs, ws.store, reuse=False, fresh=ids)
        try:
            for i in reversed(ids[1:]):  # the first never comes
                writer.add(i, matching_form(texts[i]))
            writer.finish()
        finally:
            writer.close()
        assert len(ids) == 5 and instances(one_go.text)
        assert instances(streamed.text) == instances(one_go.text)
        # an update of the streamed index: a speech announced as changed that never comes
        writer = TextIndexWriter(streamed, docs, ws.store, reuse=True, fresh=[ids[2]])
        try:
            writer.finish()
        finally:
            writer.close()
    assert instances(streamed.text) == instances(one_go.text)
    for name in ("matching.txt", "offsets.bin", "rowids.bin", "ids.txt", "titles.json"):
        assert (streamed.text / name).read_bytes() == (one_go.text / name).read_bytes(), name


def _assert_positions_are_whooshs(home: Path) -> None:
    """The saved docnum <-> position arrays say what whoosh's stored ids say; a file that
    describes another whoosh generation is not used."""
    from speechkit.index.manifest import POSITIONS

    with Workspace(home) as ws, Searcher(ws) as s:
        reader = s.whoosh.reader()
        want_pos = [-1] * reader.doc_count_all()
        for docnum, fields in reader.iter_docs():  # live documents only
            want_pos[docnum] = s.text.by_id[fields["id"]]
        assert reader.has_deletions()  # the update left deleted documents in whoosh's segments
        to_pos, to_docnum = s._positions()
        assert list(to_pos) == want_pos
        assert sorted(to_docnum) == sorted(d for d, n in enumerate(want_pos) if n >= 0)
        assert all(want_pos[d] == n for n, d in enumerate(to_docnum))
        first = s.search("改革", limit=20, passages=0).hits
    saved = s.paths.whoosh / POSITIONS
    data = saved.read_bytes()
    head, rest = data.split(b"\n", 1)
    saved.write_bytes(head.replace(b'"generation": ', b'"generation": 9') + b"\n" + rest)
    with Workspace(home) as ws, Searcher(ws) as s:
        assert list(s._positions()[0]) == want_pos  # rebuilt from whoosh's ids, not read
        assert s.search("改革", limit=20, passages=0).hits == first


def test_an_index_with_nothing_to_do_rewrites_nothing(tmp_path, corpus):
    """`speechkit index` on a current index leaves the exact-match files as they are (it used
    to copy and hash all of them). The incremental tests above show changes still land."""
    home = tmp_path / "home"
    run(home, "update", str(corpus / "seeds"))
    text = home / "indexes" / "text"
    before = {p.name: p.stat().st_ino for p in text.iterdir()}
    assert "0 added, 0 updated" in run(home, "index")
    assert {p.name: p.stat().st_ino for p in text.iterdir()} == before


def test_reindexing_never_resegments_unchanged_documents(home):
    out = CliRunner().invoke(cli, ["--home", str(home), "index", "--rebuild"]).output
    assert "(0 segmented)" in out


def test_interrupted_build_leaves_the_previous_index_usable(tmp_path, corpus):
    home = tmp_path / "home"
    home.mkdir()
    # a small memory budget: the killed build has already written segments of its own
    (home / "speechkit.cfg").write_text("[speechkit]\nindex_memory_mb = 1\n", "utf-8")
    run(home, "update", str(corpus / "seeds"))
    before = run(home, "search", "招商引资", "--csv")
    src = tmp_path / "more"
    src.mkdir()
    for path in sorted((corpus / "gov-reports" / "政府工作报告-省自治区").rglob("*.md"))[:150]:
        shutil.copy(path, src / f"{path.parent.name}-{path.name}")
    run(home, "ingest", str(src))
    cmd = [sys.executable, "-m", "speechkit", "--home", str(home), "index", "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = home / "corpus" / "speechkit.db"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill it in the middle of segmenting
        time.sleep(0.3)
        with contextlib.suppress(Exception), Store(db) as store:
            if store.query("SELECT COUNT(*) FROM tokens")[0][0] >= 40:
                break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the old index still opens; it is refused as stale (never served half-written) until rebuilt
    stale = CliRunner().invoke(cli, ["--home", str(home), "search", "招商引资"])
    assert "run `speechkit index`" in stale.output
    with Workspace(home) as ws, Searcher(ws, check=False) as s:
        assert s.search("招商引资", passages=0).total == len(before.splitlines()) - 1
    out = CliRunner().invoke(cli, ["--home", str(home), "index"]).output
    added, segmented = (int(x) for x in re.search(r"(\d+) added.*\((\d+)\s+segmented", out, re.S).groups())
    assert added >= 140 and segmented < added  # what the killed run segmented was kept
    after = run(home, "search", "招商引资", "--csv", "--limit", "1000")
    assert len(after.splitlines()) > len(before.splitlines())
    ids = [row.split(",")[1] for row in after.splitlines()[1:]]
    assert len(ids) == len(set(ids))  # no speech indexed twice


def _postings_by_id(ix) -> tuple[dict, dict, list]:
    """Every posting as (field, term) -> {document id: weight}, every field length by id, and
    each posting block's length and compression level."""
    compression: list[tuple[int, int]] = []
    with ix.searcher() as s:
        reader = s.reader()
        ids = {docnum: fields["id"] for docnum, fields in reader.iter_docs()}
        postings = {}
        for field in ("title", "body", "year"):
            for term in reader.lexicon(field):
                m = reader.postings(field, term)
                got, blocks = {}, []
                while m.is_active():
                    if getattr(m, "_i", None) == 0 and hasattr(m, "_compression"):  # a block's first
                        compression.append((m._blocklength, m._compression))  # (not inlined)
                    got[ids[m.id()]] = m.weight()
                    # each posting's block: its statistics (block-max scoring reads them)
                    blocks.append((m.block_max_weight(), m.block_min_length(), m.block_max_length()))
                    m.next()
                info = reader.term_info(field, term)  # block statistics use the field lengths
                postings[(field, term)] = (got, info.min_length(), info.max_length(), info.max_weight(), blocks)
        lengths = {(ids[d], f): reader.doc_field_length(d, f) for d in ids for f in ("title", "body")}
    return {k: v for k, v in postings.items() if v[0]}, lengths, compression


@pytest.mark.parametrize("blocklimit", [128, 8])
def test_our_writer_writes_what_whooshs_own_writer_writes(home, tmp_path, monkeypatch, blocklimit):
    """The in-memory posting pool must not change the index: the same documents through our
    writer and through whoosh's default writer give the same postings, weights, lengths and
    block statistics, also after deletions, updates and a merge of segments (which reorders
    docnums). Blocks of 8 postings (whoosh's are 128) put many terms across several blocks."""
    from whoosh import index as whoosh_index
    from whoosh.codec.whoosh3 import W3Codec

    monkeypatch.setattr(W3Codec.__init__, "__defaults__", (blocklimit, 3, 1))

    from speechkit.index.analysis import schema
    from speechkit.index.build import document_fields
    from speechkit.index.writer import COMPRESS_FROM, Writer

    settings = load_settings(home)
    seg = Segmenter()
    with Store(settings.store_path) as store:
        rows = [dict(r) for r in store.query("SELECT id, title, year, date FROM documents WHERE canonical=1")]
        tokens = store.cached_tokens([r["id"] for r in rows], seg.version)
    assert len(tokens) == len(rows) > 50
    first, later = rows[:-12], rows[-12:]
    indexes = {}
    for name, make in (("ours", lambda ix: Writer(ix, settings.index_memory_mb)), ("whoosh", lambda ix: ix.writer())):
        (tmp_path / name).mkdir()
        ix = whoosh_index.create_in(str(tmp_path / name), schema())
        w = make(ix)
        for r in first:
            w.add_document(**document_fields(r, tokens[r["id"]]))
        w.commit()
        w = make(ix)
        for r in later[:6]:  # new documents in a second segment
            w.add_document(**document_fields(r, tokens[r["id"]]))
        for r in first[:5]:  # deletions
            w.delete_by_term("id", r["id"])
        for r in first[5:10]:  # updates: another document's tokens under this id
            w.update_document(**document_fields(r, tokens[later[-1]["id"]]))
        w.commit()
        w = make(ix)
        for r in later[6:]:
            w.add_document(**document_fields(r, tokens[r["id"]]))
        w.commit(optimize=True)  # merges every segment, deleted documents dropped
        indexes[name] = _postings_by_id(whoosh_index.open_dir(str(tmp_path / name)))
    ours, theirs = indexes["ours"], indexes["whoosh"]
    if blocklimit == 8:  # terms of several blocks, with statistics that differ between blocks
        assert any(len(set(v[4])) > 1 for v in theirs[0].values())
    assert ours[1] == theirs[1]
    assert ours[0].keys() == theirs[0].keys()
    assert ours[0] == theirs[0]
    assert all(r["id"] not in ours[0][("body", "发展".encode())][0] for r in first[:5])
    # ours compresses a block of COMPRESS_FROM postings or more, whoosh's every block
    assert theirs[2] and all(level == 3 for _, level in theirs[2])
    assert ours[2] and all(level == (3 if n >= COMPRESS_FROM else 0) for n, level in ours[2])
    if blocklimit == 128:
        assert {level for _, level in ours[2]} == {0, 3}


def test_numpy_bm25_gives_whooshs_scores_across_segments_and_deletions(canonical, tmp_path):
    """speechkit.index.bm25 reads whoosh's posting blocks and length bytes itself: its scores
    must be those whoosh's own search gives, on an index of three segments with deleted
    documents, for frequent, rare, title-only and absent words."""
    import numpy as np
    from whoosh import index as whoosh_index
    from whoosh import query as wq
    from whoosh import scoring

    from speechkit.index.analysis import schema
    from speechkit.index.bm25 import Scorer

    docs = sorted(canonical.values(), key=lambda d: d.id)[:45]
    ix = whoosh_index.create_in(str(tmp_path), schema())
    for part in (docs[:15], docs[15:30], docs[30:]):
        w = ix.writer()
        for d in part:
            w.add_document(id=d.id, title=d.title or "", body=d.text)
        w.commit(merge=False)
    w = ix.writer()
    for d in docs[::7]:
        w.delete_by_term("id", d.id)
    w.commit(merge=False)
    with ix.searcher(weighting=scoring.BM25F()) as s:
        assert len(s.leaf_searchers()) == 3 and s.reader().has_deletions()
        scorer = Scorer(s)
        for words in (["发展"], ["改革", "开放"], ["人民公社"], ["政府工作报告"], ["没有这个词语"]):
            terms = [(f, w) for w in words for f in ("body", "title")]
            want = np.zeros(s.doc_count_all())
            for score, docnum in s.search(wq.Or([wq.Term(f, w) for f, w in terms]), limit=None).top_n:
                want[docnum] = score
            got = scorer.scores(terms)
            assert np.allclose(got, want, rtol=1e-12, atol=0), words
            assert ((got > 0) == (want > 0)).all(), words


def test_a_small_memory_budget_writes_several_segments_and_ranks_the_same(home, searcher, tmp_path, workspace):
    from whoosh import index as whoosh_index

    from speechkit.index.build import build_index

    shutil.copytree(home / "corpus", tmp_path / "corpus")
    ws = workspace(tmp_path, index_memory_mb=1)  # ~33k postings a segment
    build_index(ws)
    assert len(whoosh_index.open_dir(str(ws.settings.index_dir / "whoosh"))._segments()) >= 3
    with Searcher(ws) as small:
        for q in ("营商环境", '"全面建成小康社会"', "改革 NOT 开放", "人民公社 OR 粮食"):
            want = searcher.search(q, limit=200, passages=0)
            got = small.search(q, limit=200, passages=0)
            assert got.total == want.total > 0
            assert [(h.id, round(h.score, 4)) for h in got.hits] == [(h.id, round(h.score, 4)) for h in want.hits]


def test_the_tokenizer_keeps_whooshs_contract():
    # character offsets point at each token in the text; tokenize=False gives the value whole
    text = "坚持优化营商环境，深化放管服改革。"
    tokens = [(t.text, t.startchar, t.endchar) for t in analyzer()(text, chars=True, positions=True)]
    assert tokens and all(text[s:e] == w for w, s, e in tokens), tokens
    assert ("放管服", text.index("放管服"), text.index("放管服") + 3) in tokens
    from speechkit.index.analysis import SpeechTokenizer
    whole = [(t.text, t.startchar, t.endchar) for t in SpeechTokenizer()(text, chars=True, tokenize=False)]
    assert whole == [(text, 0, len(text))]


def test_csv_outputs_and_export_carry_provenance(tmp_path, seeds_home):
    import csv as _csv
    import io
    import shutil

    from .conftest import run_cli
    home = tmp_path / "ws"
    shutil.copytree(seeds_home, home)
    run_cli(home, "index")
    digest = json.loads(run_cli(home, "search", "招商引资", "--json"))["corpus"]
    for args in (("search", "招商引资", "--csv"), ("kwic", "招商引资", "--csv"), ("export", "--format", "csv")):
        rows = list(_csv.DictReader(io.StringIO(run_cli(home, *args, stdout=True))))
        assert rows and all(r["corpus"] == digest for r in rows), args
    record = json.loads(run_cli(home, "export", stdout=True).splitlines()[0])
    assert record["corpus"] == digest


def test_the_stopword_list_is_part_of_the_segmenter_version(monkeypatch):
    import speechkit.segment as seg
    before = seg.Segmenter().version
    real = seg._lexicon_file
    monkeypatch.setattr(seg, "_lexicon_file", lambda name: real(name) + ("\n工作" if name == "stopwords.txt" else ""))
    assert seg.Segmenter().version != before


def test_filters_read_by_column_equal_filters_read_by_row(searcher):
    # Filter.select (columns), Filter.matches (rows, used by the analyses) and the index's
    # masks (select on the codes the build saved, or on codes made from meta.json for an index
    # built before them: what search uses) are one definition, on every document of the index
    import numpy as np

    from speechkit.index.text import TextIndex
    from speechkit.query import parse
    cols = searcher.text.columns
    rows = searcher.text.rows
    older = TextIndex(searcher.paths, None)
    older.__dict__["_saved_codes"] = {}  # as if built without codes.json / codes.bin
    assert searcher.text._saved_codes
    for spec in ("year:2010..2015", "year:..1990", "level:national", "speaker:总理", "region:全国", "site:gov"):
        flt = parse(spec)
        want = {n for n, r in enumerate(rows) if flt.matches(r)}
        assert 0 < len(want) < len(rows), spec
        assert flt.select(cols) == want, spec
        for index in (searcher.text, older):
            assert set(np.flatnonzero(index.matching_mask(flt)).tolist()) == want, spec
    older.close()


def test_facets_are_the_distinct_values_of_the_documents(searcher):
    # read from the filters' codes; the rows are meta.json's
    from speechkit.search import FACETS
    rows = searcher.text.rows
    facets = searcher.facets()
    for name, column in FACETS:
        assert facets[name] == sorted({r[column] for r in rows if r[column]})[:500], name
    assert facets["level"] and facets["region"]
    years = [r["year"] for r in rows if r["year"]]
    assert facets["years"] == [min(years), max(years)]


def test_a_chain_of_nots_is_parsed_without_recursion(home):
    """1,000 NOTs gave a RecursionError traceback: NOT NOT x is x."""
    def total(query: str) -> int:
        return json.loads(run(home, "search", query, "--json"))["total"]

    assert total("NOT " * 1000 + "营商环境") == total("营商环境") > 0
    assert total("NOT " * 1001 + "营商环境") == total("NOT 营商环境") > 0


def test_what_every_user_hits_is_answered_in_one_line(home):
    """Flags with a bad value were a 30-line traceback; --home after the command was "No such
    option"; a quoted kwic term was an "empty phrase"; OR in kwic and * in search gave 0."""
    from click.testing import CliRunner

    from speechkit.cli import cli

    def fails(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--home", str(home), *args])
        assert result.exit_code != 0 and result.exc_info[0] is SystemExit, result.output
        lines = [x for x in result.output.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
        return lines[0]

    for cmd in (("search", "营商环境"), ("kwic", "营商环境"), ("trend", "营商环境")):
        assert "level must be one of" in fails(*cmd, "--level", "provincial")
        assert "2019..2023" in fails(*cmd, "--year", "20x5")
    assert "kwic lines up one phrase" in fails("kwic", "营商环境 OR 放管服")
    assert "no wildcards" in fails("search", "营商*")
    plain = json.loads(run(home, "kwic", "营商环境", "--json"))["total"]
    assert plain > 0
    for quoted in ('"营商环境"', "“营商环境”"):
        assert json.loads(run(home, "kwic", quoted, "--json"))["total"] == plain
    # the root's options after the command, and one name for "how many rows"
    result = CliRunner().invoke(cli, ["search", "营商环境", "--home", str(home), "--json", "--limit", "2"])
    assert result.exit_code == 0 and len(json.loads(result.output)["hits"]) == 2, result.output
    assert len(json.loads(run(home, "search", "营商环境", "--json", "--top", "3"))["hits"]) == 3
    assert len(json.loads(run(home, "collocates", "营商环境", "--json", "--limit", "4"))["collocates"]) == 4


def test_both_searchers_offer_the_search_backend_interface(tmp_path):
    """CLI, workbench and library hold a `SearchBackend`: the embedded and the PostgreSQL
    searchers take the same arguments for every method of it; a stage given bare settings
    says how to make the one context object."""
    import inspect

    from speechkit.corpus import Corpus
    from speechkit.search import PostgresSearcher, SearchBackend

    methods = [n for n, v in vars(SearchBackend).items() if callable(v) and not n.startswith("_")]
    assert {"find", "search", "kwic", "facets", "close"} <= set(methods)
    for cls in (Searcher, PostgresSearcher):
        for name in methods:
            want = inspect.signature(getattr(SearchBackend, name))
            assert inspect.signature(getattr(cls, name)).parameters.keys() == want.parameters.keys(), (cls, name)
    for stage in (Searcher, PostgresSearcher, Corpus):
        with pytest.raises(TypeError, match=r"Workspace\(settings\)"):
            stage(load_settings(tmp_path))


def test_the_dictionary_cache_loads_as_jiebas_own(tmp_path, monkeypatch):
    """speechkit's tokenizer reads jieba's dictionary cache in one read (marshal.loads), not
    jieba's marshal.load(file): the same words and total as jieba's own reading, from a cache
    jieba wrote; without a cache, or with a damaged one, jieba's own initialize builds it."""
    import jieba

    from speechkit.segment import tokenizer_class

    def loaded(cls: type) -> object:
        tok = cls()
        tok.tmp_dir = str(tmp_path)
        tok.initialize()
        return tok

    built = loaded(tokenizer_class())  # no cache yet: jieba builds the dictionary and writes one
    assert (tmp_path / "jieba.cache").is_file() and len(built.FREQ) > 300_000
    theirs = loaded(jieba.Tokenizer)
    with monkeypatch.context() as m:  # ours never reads it jieba's way
        m.setattr("marshal.load", lambda fh: pytest.fail("marshal.load(file) was called"))
        ours = loaded(tokenizer_class())
    assert ours.FREQ == theirs.FREQ == built.FREQ and ours.total == theirs.total == built.total
    (tmp_path / "jieba.cache").write_bytes(b"\x00damaged")
    again = loaded(tokenizer_class())
    assert again.FREQ == built.FREQ and again.total == built.total


def test_the_fast_cut_gives_jiebas_own_words(corpus):
    """speechkit's no-HMM cut (word graph and best route in one pass) against jieba's own
    Tokenizer holding the same dictionary, lexicon included, on whole real texts of every kind
    (reports of the 1950s and of 2026, statistics with numbers and Latin letters, noisy pages,
    news) and on edge cases; and again after a word is added to both."""
    import gzip
    import itertools
    import json

    import jieba

    from speechkit.matching import matching_form
    from speechkit.segment import WORDLIKE, tokenizer_class

    gov = corpus / "gov-reports"
    national = gov / "政府工作报告-国务院"
    files = [*sorted(national.glob("19[56]*"))[:3], *sorted(national.glob("202*"))[-2:],
             *sorted((gov / "国家统计局年度统计").iterdir())[:2], *sorted((corpus / "noisy-pages").rglob("*.*"))[:4],
             *sorted((gov / "政府工作报告-主要城市").iterdir())[-2:]]
    texts = [matching_form(p.read_text("utf-8", errors="replace")) for p in files if p.is_file()]
    with gzip.open(sorted((corpus / "news").glob("*.jsonl.gz"))[-1], "rt", encoding="utf-8") as fh:
        texts += [matching_form(json.loads(line).get("content_html") or "") for line in itertools.islice(fh, 60)]
    texts += ["", "x", "〇", "GDP增长6.5%，CPI上涨2%", "abc123中国", "５Ｇ", "营商环境" * 3, "\n\n 。，", "😀改革"]
    assert sum(map(len, texts)) > 200_000
    fast = Segmenter().load()
    plain = jieba.Tokenizer()
    plain.FREQ, plain.total, plain.initialized = dict(fast.FREQ), fast.total, True
    assert type(fast) is tokenizer_class() and type(plain) is not type(fast)
    texts += ["a-b", "-", "+-%", "C++和C#", "10-20%", "__init__", "3.5%以上", "\r\n\r\n"]
    for text in texts:
        words = list(plain.cut(text, HMM=False))
        assert list(fast.cut(text, HMM=False)) == words, text[:80]
        # what speechkit indexes: the words holding a letter, digit or CJK character
        assert fast.words(text) == [w for w in words if WORDLIKE.search(w)], text[:80]
    for tok in (fast, plain):  # a new word changes every weight: none may come from before it
        tok.add_word("高水平对外开放新局面", freq=50_000)
    sample = "推动形成高水平对外开放新局面，稳步扩大制度型开放。"
    assert "高水平对外开放新局面" in list(fast.cut(sample, HMM=False))
    for text in [sample, *texts[:5]]:
        assert list(fast.cut(text, HMM=False)) == list(plain.cut(text, HMM=False))


def test_a_title_given_as_tokens_is_indexed_as_the_analyzer_indexes_it(canonical):
    """The build hands whoosh each title's tokens (document_fields with the segmenter): the
    words, frequencies, weights and values must be those the title's analyzer gives."""
    from speechkit.index.analysis import schema
    from speechkit.index.build import document_fields

    seg = Segmenter()
    field = schema()["title"]
    titles = sorted({d.title for d in canonical.values() if d.title})
    titles += ["关于的的是在和了 2024年 GDP", "营商环境 营商环境 放管服", "第一篇"]
    assert len(titles) > 20
    for title in titles:
        row = {"id": "x", "title": title, "year": None, "date": None}
        given = document_fields(row, "", seg)["title"]
        assert given != title and sorted(field.index(given)) == sorted(field.index(title)), title
    assert document_fields({"id": "x", "title": None, "year": 1, "date": None}, "", seg)["title"] == ""
