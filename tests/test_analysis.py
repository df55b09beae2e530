"""Analyses on real texts: trends equal a brute-force count, keyness finds the policy
vocabulary of the later period, clusters are reproducible and separate party documents from
work reports, similar leaves out near-duplicates, charts have Chinese glyphs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from speechkit.clusters import cluster, similar
from speechkit.corpus import Corpus
from speechkit.errors import SpeechkitError
from speechkit.keyness import collocates, compare
from speechkit.matching import matching_form
from speechkit.query import selection_filters
from speechkit.settings import load_settings
from speechkit.store import Store
from speechkit.trends import trend
from speechkit.workspace import Workspace

from .conftest import NATIONAL, indexed_workspace
from .conftest import run_cli as run


@pytest.fixture(scope="module")
def home(tmp_path_factory, corpus) -> Path:
    return indexed_workspace(tmp_path_factory, "analysis", corpus / NATIONAL,
                             corpus / "party-docs" / "党代会报告", corpus / "party-docs" / "党章")


@pytest.fixture(scope="module")
def corpus_(home):
    with Workspace(home) as ws, Corpus(ws) as c:
        yield c


def test_trend_equals_a_brute_force_count(corpus_, home):
    result = trend(corpus_, ["营商环境"], filters=selection_filters("level:national"))
    with Store(load_settings(home).store_path) as store:
        docs = [d for d in store.documents() if d.level == "national" and d.year is not None]
    for row in result.rows:
        if row.bucket == "(unknown)":
            continue
        year_docs = [d for d in docs if d.year == int(row.bucket)]
        assert row.occurrences == sum(matching_form(d.text).count("营商环境") for d in year_docs), row
        assert row.total_documents == len(year_docs)
        assert row.total_chars == sum(len(d.text) for d in year_docs)
    years = [int(r.bucket) for r in result.rows if r.bucket != "(unknown)"]
    assert years == list(range(min(years), max(years) + 1))  # empty years are rows of zero
    assert any(r.occurrences == 0 and r.total_documents == 0 for r in result.rows)
    # the store path (no index) gives the same counts
    slow = trend(corpus_, ["营商环境"], filters=selection_filters("level:national"), include_duplicates=True)
    assert [r.occurrences for r in slow.rows] == [r.occurrences for r in result.rows]


def test_trend_matches_search_totals(home):
    data = json.loads(run(home, "trend", "放管服", "--json", "--from", "2013", "--to", "2024"))
    found = json.loads(run(home, "search", "放管服", "--year", "2013..2024", "--json", "--limit", "100"))
    assert sum(r["documents"] for r in data["rows"]) == found["total"]
    assert data["corpus"] and data["segmenter"]


def test_compare_finds_the_new_policy_vocabulary_later(corpus_):
    result = compare(corpus_, selection_filters("year:2008..2012"), selection_filters("year:2019..2023"),
                     label_a="early", label_b="late", top=1000, min_freq=3)
    late = {w.word for w in result.words if w.side == "late"}
    assert {"营商环境", "放管服"} <= late
    for w in result.words:
        assert w.word not in ("的", "和", "XX", "*") and not w.word.isdigit()
        assert w.g2 >= 0
    top_late = [w for w in result.words if w.side == "late"][:5]
    assert all(w.freq_b / result.tokens[1] > w.freq_a / result.tokens[0] for w in top_late)


def test_collocates(corpus_):
    result = collocates(corpus_, "营商环境", window=5, measure="logdice")
    assert result.term_freq > 20
    words = [c.word for c in result.collocates]
    assert {"市场化", "法治化", "国际化"} <= set(words)  # 打造市场化法治化国际化营商环境
    for measure in ("mi", "ll"):
        assert collocates(corpus_, "营商环境", measure=measure).collocates


def test_clusters_are_reproducible_and_separate_party_documents(corpus_, home):
    """Same seed, same clusters; and over five seeds the clusters carry real information about
    the collection (party documents vs work reports). The quality claim is robust, not a number
    one BLAS build reaches: every seed's V-measure beats all 200 shuffles of its own labels
    (p < 0.01), and the median purity is well above the majority class. Seeds 0-4 measured
    V 0.20-0.41 against a shuffled maximum of 0.05-0.08, purity 0.75-0.90 against 0.52."""
    import random
    import statistics

    from sklearn.metrics import homogeneity_completeness_v_measure

    first = cluster(corpus_, k=4, seed=1, name="t1")
    again = cluster(corpus_, k=4, seed=1, name="t2")
    assert first.assignments == again.assignments
    with Store(load_settings(home).store_path) as store:
        truth = {d.id: ("party" if "party-docs" in d.source_path else "report") for d in store.documents()}
    ids = sorted(first.assignments)
    classes = [truth[i] for i in ids]
    majority = max(classes.count(t) for t in set(classes)) / len(ids)
    purities = []
    for seed in range(5):
        result = first if seed == 1 else cluster(corpus_, k=4, seed=seed, save=False)
        found = [result.assignments[i] for i in ids]
        v = homogeneity_completeness_v_measure(classes, found)[2]
        shuffled = found[:]
        rng = random.Random(seed)
        null = []
        for _ in range(200):
            rng.shuffle(shuffled)
            null.append(homogeneity_completeness_v_measure(classes, shuffled)[2])
        purity = sum(max(sum(1 for t, f in zip(classes, found, strict=True) if f == k and t == c) for c in set(classes))
                     for k in set(found)) / len(ids)
        print(f"seed {seed}: V-measure {v:.3f} (shuffled max {max(null):.3f}), purity {purity:.3f} "
              f"(majority class {majority:.3f})")
        assert v > max(null), f"seed {seed}: clusters no better than shuffled labels"
        purities.append(purity)
    assert statistics.median(purities) >= majority + 0.2
    for c_ in first.clusters:
        assert len(c_.labels) >= 5 and len(c_.representatives) == 3
        assert abs(sum(c_.share_by_year.values())) <= len(c_.share_by_year) + 1e-6
    saved = json.loads(run(home, "cluster", "show", "t1", "--json"))
    assert saved["k"] == 4 and saved["corpus"] == first.provenance["corpus"]
    assert (load_settings(home).index_dir / "topics" / "t1" / "assignments.csv").exists()
    auto = cluster(corpus_, k="auto", k_range=(2, 5), seed=1, name="auto")
    assert set(auto.k_scores) == {2, 3, 4, 5} and auto.k == max(auto.k_scores, key=auto.k_scores.get)


def test_cluster_auto_says_what_its_k_is_worth(corpus_, home):
    """-k auto picked k at the edge of its range with silhouette 0.08 and said nothing (topics
    did): the note is checked against the silhouettes the result itself reports."""
    from click.testing import CliRunner

    from speechkit.cli import cli

    result = cluster(corpus_, k="auto", k_range=(2, 4), save=False)
    assert ("edge of the range 2..4" in result.k_note) == (result.k in (2, 4))
    weak = result.k_scores[result.k] < 0.1
    assert ("is low" in result.k_note) == weak
    run_ = CliRunner().invoke(cli, ["--home", str(home), "cluster", "-k", "auto", "--k-range", "2..3",
                                    "--name", "edge"], catch_exceptions=False)
    shown = json.loads(run(home, "cluster", "show", "edge", "--json"))
    assert shown["k"] in (2, 3) and "edge of the range 2..3: try a wider --k-range" in run_.stderr
    assert shown["k_note"] in run_.stderr


def test_similar_leaves_out_the_document_itself(corpus_, home):
    with Store(load_settings(home).store_path) as store:
        doc = next(d for d in store.documents() if d.source_path.endswith("2019.md"))
    result = similar(corpus_, doc.id, limit=5)
    assert len(result.similar) == 5 and doc.id not in [r["id"] for r in result.similar]
    assert all((r["year"] or 0) >= 2000 for r in result.similar[:3])  # neighbours of a 2019 report are recent


def test_chart_is_a_png_with_chinese_glyphs(home, tmp_path):
    from matplotlib import font_manager

    from speechkit.plots import cjk_font

    family = cjk_font()
    path = font_manager.findfont(family, fallback_to_default=False)
    from matplotlib.ft2font import FT2Font

    font = FT2Font(path)
    assert all(font.get_char_index(ord(ch)) for ch in "营商环境每万字")
    png = tmp_path / "t.png"
    run(home, "trend", "营商环境", "放管服", "--filter", "level:national", "--plot", str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000


@pytest.mark.parametrize("by", ["year", "level"])
def test_charts_keep_time_real_and_categories_apart(corpus_, by):
    """By year, a line on a real time axis: the national reports of 1960, 1964 and 1975 stand as
    far apart as they are, and the years between (no report) are gaps, not zeros nor equal steps.
    By level, bars, not a line drawn across categories. Both axes start at 0."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speechkit.plots import draw_series, trend_series

    national = selection_filters("level:national") if by == "year" else ()
    result = trend(corpus_, ["改革", "计划"], by=by, filters=national)
    buckets, series = trend_series(result)
    fig, ax = plt.subplots()
    draw_series(ax, buckets, series)
    assert ax.get_ylim()[0] == 0
    if by == "level":
        assert not ax.lines and len(ax.patches) == 2 * len(buckets) >= 2
        assert [t.get_text() for t in ax.get_xticklabels()] == buckets
        heights = [p.get_height() for p in ax.patches]
        assert heights == [series[t][b] for t in result.terms for b in buckets]
    else:
        line = ax.lines[0]
        xs, ys = list(line.get_xdata()), list(line.get_ydata())
        have = {int(b) for b in buckets}
        assert {1960, 1964, 1975} <= have and not have & set(range(1965, 1975))
        assert xs == list(range(min(have), max(have) + 1))  # one slot per calendar year
        assert all(math.isnan(ys[xs.index(y)]) for y in range(1965, 1975))
        assert ys[xs.index(1964)] == series["改革"]["1964"]
    plt.close(fig)


def test_cli_outputs_carry_provenance(home):
    for args in (["compare", "year:2008..2012", "year:2019..2023", "--json", "--top", "3"],
                 ["collocates", "改革", "--json", "--top", "3"]):
        data = json.loads(run(home, *args))
        assert data["corpus"] and data["segmenter"]
    rows = run(home, "compare", "year:2008..2012", "year:2019..2023", "--csv", "--top", "3").splitlines()
    assert rows[0].startswith("word,side,freq_a") and rows[0].endswith("a,b,corpus,segmenter")
    for args in (["collocates", "改革", "--top", "3"], ["diff", "year:1990", "year:2020", "--top", "3"],
                 ["trend", "改革"]):
        table = list(csv.reader(io.StringIO(run(home, *args, "--csv"))))
        data = json.loads(run(home, *args, "--json"))
        assert table[0][-2:] == ["corpus", "segmenter"] and {r[-2] for r in table[1:]} == {data["corpus"]}
        listed = data.get("collocates") or data.get("rows") or [r for k in ("new", "dropped", "more", "less")
                                                                   for r in data.get(k, [])]
        assert len(table) == len(listed) + 1 > 1
    stats = json.loads(run(home, "stats", "--json"))
    assert stats["vocabulary"]["overall"] and stats["vocabulary"]["by_year"]
    bad = run(home, "compare", "营商环境", "year:2019", code=1)
    assert "filters and title: phrases only" in bad


def test_tfidf_counts_are_cached_per_corpus_and_selection(home, monkeypatch):
    import shutil

    from speechkit import clusters

    settings = load_settings(home)
    shutil.rmtree(settings.index_dir / "tfidf", ignore_errors=True)
    with Workspace(settings) as ws, Corpus(ws) as c:
        _, vec, fresh, _ = clusters.tfidf(c)
    reads = []
    real = clusters._content_streams
    monkeypatch.setattr(clusters, "_content_streams", lambda *a: reads.append(1) or real(*a))
    with Workspace(settings) as ws, Corpus(ws) as c:
        _, vec2, cached, _ = clusters.tfidf(c)
        assert not reads  # tokens were not read again
        assert cached.shape == fresh.shape and (cached != fresh).nnz == 0
        assert list(vec2.get_feature_names_out()) == list(vec.get_feature_names_out())
        # a document outside the matrix is weighted with the same vocabulary
        assert vec2.tfidf_.transform(vec2.transform([["改革", "改革", "发展"]])).nnz == 2
        clusters.tfidf(c, selection_filters("year:2000..2026"))  # another selection: computed
        assert reads
    assert len(list((settings.index_dir / "tfidf").iterdir())) == 2


def test_long_steps_report_progress(corpus_):
    """cluster, collocates and the vocabulary of `stats` call their progress callback up to
    the whole selection (the CLI draws it as a bar on a terminal)."""
    from speechkit.clusters import vocabulary

    for name, call in (("cluster", lambda p: cluster(corpus_, k="auto", k_range=(2, 4), save=False, progress=p)),
                       ("collocates", lambda p: collocates(corpus_, "改革", progress=p)),
                       ("vocabulary", lambda p: vocabulary(corpus_, progress=p))):
        seen = []
        call(lambda done, total, what, seen=seen: seen.append((done, total, what)))
        assert seen, name
        reading = [(d, t) for d, t, w in seen if w == "reading words"]
        if name != "cluster" or reading:  # cluster may reuse its cached counts
            assert reading and reading[-1][0] == reading[-1][1], (name, seen)
        if name == "cluster":
            assert [w for _, _, w in seen if w.startswith("k-means")] == [f"k-means, k={k}" for k in (2, 3, 4)]


# --- themes over passages, and what changed between two reports (issue 10) -------------------

@pytest.fixture(scope="module")
def themes_result(corpus_):
    from speechkit.topics import themes
    return themes(corpus_, k=8, name="t8", seed=3, probes=["营商环境"], save=True)


def test_theme_labels_are_never_places_numbers_or_years(themes_result):
    import re

    from speechkit.regions import gazetteer
    places = set(gazetteer().provinces()) | set(gazetteer().provinces().values())
    for t in themes_result.themes:
        assert t.labels, t
        for label in t.labels:
            assert not re.search(r"\d|^[〇零一二三四五六七八九十百千万亿两]+[年个项亿万元]?$", label), label
            assert label not in places and not any(label.startswith(p) for p in places), label
            assert label not in ("全国", "全省", "全市", "我省", "我市", "自治区", "全区"), label
        assert len(t.representatives) == 3 and all(r["text"] for r in t.representatives)


def test_theme_labels_are_not_units_that_follow_numbers(themes_result, corpus_):
    """万千瓦 in 500万千瓦, 万公顷 in 12.5万公顷: a unit says how much, not what about. Counted
    here on the texts with a regular expression, not on the tokens the themes read."""
    import re

    texts = [matching_form(t) for _, t in corpus_.texts([d.id for d in corpus_.docs()])]
    number = r"[\d〇零一二三四五六七八九十百千万亿两多余]"   # 500万千瓦, 二百万千瓦, 1000多万千瓦
    assert themes_result.excluded.get("mostly after a number (units)", 0) > 0
    labels = {label for t in themes_result.themes for label in t.labels}
    for label in labels:
        total = sum(t.count(label) for t in texts)
        after = sum(len(re.findall(number + re.escape(label), t)) for t in texts)
        assert after <= 0.5 * total, (label, after, total)
    # and the units of these reports are found: nearly every 万千瓦 and 万公顷 follows a number
    for unit in ("万千瓦", "万公顷"):
        total = sum(t.count(unit) for t in texts)
        after = sum(len(re.findall(number + unit, t)) for t in texts)
        assert total >= 3 and after > 0.8 * total, unit
        assert unit not in labels


def test_theme_stability_measures_agreement_between_partitions(themes_result):
    import numpy as np

    from speechkit.topics import HOLD, match_partitions

    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 400)
    # the same partition under other names agrees fully; a partition drawn at random does not
    ari, held, best = match_partitions(a, (a + 2) % 5, 5, 5)
    assert ari == 1.0 and held.tolist() == [1.0] * 5 and best.tolist() == [3, 4, 0, 1, 2]
    b = rng.integers(0, 7, 400)
    ari, held, _ = match_partitions(a, b, 5, 7)
    assert abs(ari) < 0.05 and all(j < 0.4 for j in held)
    # each held is the best Jaccard of the theme's passages with a theme of the other, by sets
    for c in range(5):
        mine = set(np.where(a == c)[0])
        assert held[c] == max(len(mine & set(np.where(b == t)[0])) / len(mine | set(np.where(b == t)[0]))
                              for t in range(7))
    # the result: the partition's agreement with its resamples, every labelled found theme held
    assert 0 < themes_result.stability <= 1
    assert all(HOLD <= t.stability <= 1 for t in themes_result.themes if t.name is None)
    assert all(d["held"] < HOLD for d in themes_result.other["dissolved"])


def test_region_signal_is_stated_against_chance(themes_result, corpus_):
    """The AMI of each speech's main theme with its region, level and period is the one a
    direct computation from the saved speech shares gives, and the shuffled level is near 0."""
    from sklearn.metrics import adjusted_mutual_info_score

    docs = {d.id: d for d in corpus_.docs()}
    main = {i: max((c for c in shares if c != "other"), key=shares.get)
            for i, shares in themes_result.speech_shares.items() if any(c != "other" for c in shares)}
    for attr, read in (("region", lambda d: d.region), ("level", lambda d: d.level),
                       ("period", lambda d: f"{d.year - d.year % 5}–{d.year - d.year % 5 + 4}" if d.year else None)):
        pairs = [(t, read(docs[i])) for i, t in main.items() if read(docs[i])]
        if len({v for _, v in pairs}) < 2:
            assert attr not in themes_result.chance
            continue
        want = adjusted_mutual_info_score([t for t, _ in pairs], [v for _, v in pairs])
        got = themes_result.chance[attr]
        assert got["ami"] == round(want, 4) and got["speeches"] == len(pairs) and abs(got["shuffled"]) < 0.05


def test_a_seed_theme_gathers_the_passages_of_its_words(corpus_):
    from speechkit.topics import themes

    words = ["改革开放", "对外开放"]
    result = themes(corpus_, k=6, seed_themes={"开放": words}, probes=words, save=False)
    (named,) = [t for t in result.themes if t.name == "开放"]
    assert named.seed_words == words
    for word in words:  # most of the passages that hold a seed word are in the named theme
        probe = result.probes[word]
        assert probe["by_topic"].get(named.topic, 0) > 0.5 * probe["passages"], (word, probe)
    with pytest.raises(SpeechkitError, match="no passage contains"):
        themes(corpus_, k=6, seed_themes={"x": ["不存在的词语组合"]}, save=False)


def test_theme_shares_are_shares_and_reproducible(themes_result, corpus_):
    from speechkit.topics import themes
    for shares in themes_result.speech_shares.values():
        assert abs(sum(shares.values()) - 1) < 0.01
    # the themes' shares and other's make the whole
    assert abs(sum(t.share for t in themes_result.themes) + themes_result.other["share"] - 1) < 0.01
    for row in themes_result.share_by["year"].values():
        assert abs(sum(row.values()) - 1) < 0.01
    again = themes(corpus_, k=8, name="t8b", seed=0, save=False)  # the themes do not depend on a seed
    assert [t.labels for t in again.themes] == [t.labels for t in themes_result.themes]
    assert again.speech_shares == themes_result.speech_shares
    assert [t.stability for t in again.themes] == [t.stability for t in themes_result.themes]


def test_passages_read_by_the_worker_pool_give_the_same_themes(themes_result, home, monkeypatch):
    """Batches of speeches read by two worker processes and merged in order give the themes,
    shares and probes of reading them one by one (small batches, so there are many)."""
    import speechkit.topics as T

    monkeypatch.setattr(T, "READ_BATCH", 7)
    monkeypatch.setattr(T, "READ_CHARS", 20_000)
    with Workspace(home, workers=2) as ws, Corpus(ws) as c:
        assert len(c.docs([])) >= 2 * T.READ_BATCH  # the pool is used
        pooled = T.themes(c, k=8, seed=3, probes=["营商环境"], save=False)
    assert [t.labels for t in pooled.themes] == [t.labels for t in themes_result.themes]
    assert pooled.speech_shares == themes_result.speech_shares and pooled.probes == themes_result.probes
    assert (pooled.passages, pooled.features, pooled.excluded) == \
        (themes_result.passages, themes_result.features, themes_result.excluded)


def test_passages_of_a_term_are_followed(themes_result, corpus_):
    from speechkit.topics import split_passages
    # brute force: the passages of every speech that contain the term; the themes place those
    # with enough theme words (nearly all), never more
    truth = 0
    for _, text in corpus_.texts([d.id for d in corpus_.docs()]):
        match = matching_form(text)
        truth += sum(1 for a, b in split_passages(text) if "营商环境" in match[a:b])
    probe = themes_result.probes["营商环境"]
    assert 0.8 * truth <= probe["passages"] <= truth
    assert sum(probe["by_topic"].values()) == probe["passages"]
    assert 0 < probe["top_share"] <= 1


def test_topics_cli_saves_and_shows_with_provenance(home):
    out = run(home, "topics", "-k", "6", "--name", "cli6", "--probe", "营商环境")
    assert "营商环境:" in out
    data = json.loads(run(home, "topics", "show", "cli6", "--json"))
    assert data["k"] == 6 and data["corpus"] and data["segmenter"]
    rows = list(csv.reader(io.StringIO(run(home, "topics", "show", "cli6", "--csv", stdout=True))))
    assert rows[0] == ["by", "value", "theme", "labels", "share", "themes", "corpus", "segmenter"]
    shares = data["share_by"]["year"]
    assert len(rows) - 1 == sum(len(v) for v in shares.values())
    assert all(r[0] == "year" and float(r[4]) == shares[r[1]][r[2]] and r[5] == "cli6" for r in rows[1:])
    assert {r[2] for r in rows[1:]} == {str(t["topic"]) for t in data["themes"]} | {"other"}
    assert "other" in out and "AMI" in out  # the remainder and the region signal against chance
    seeded = json.loads(run(home, "topics", "-k", "6", "--name", "cli6s", "--seed-theme", "开放=改革开放,对外开放",
                            "--json", stdout=True))
    assert [t["name"] for t in seeded["themes"] if t["name"]] == ["开放"]
    assert "NAME=WORD,WORD" in run(home, "topics", "--seed-theme", "开放", code=2)


def _national(home, year):
    with Store(load_settings(home).store_path) as store:
        rows = store.query("SELECT id FROM documents WHERE source_path LIKE ?", [f"%政府工作报告-国务院/{year}.md"])
    return rows[0]["id"]


def test_diff_lists_new_formulations_of_2024(corpus_, home):
    from speechkit.diff import diff
    result = diff(corpus_, _national(home, 2023), _national(home, 2024), top=100)
    new = [r["term"] for r in result.new]
    assert "新质生产力" in new
    # the brute-force truth: each listed word is in the 2024 report and not in the 2023 one
    with Store(load_settings(home).store_path) as store:
        a, b = (store.get(_national(home, y)).text for y in (2023, 2024))
    for term in new:
        if " " not in term:
            assert matching_form(term) in matching_form(b)
    assert "新质生产力" not in a
    first = next(r for r in result.new if r["term"] == "新质生产力").get("first_seen")
    assert first is None or first["year"] >= 2023
    assert result.changed and all("[-" in c["marked"] or "{+" in c["marked"] for c in result.changed)


def _claims_hold(result, a_text: str, b_text: str) -> None:
    """Every claim of a diff read off the two texts by brute force: "new" absent from A's
    matching form, "dropped" absent from B's, every count a count of the text, "more" and
    "less" by the rates those counts give."""
    a, b = matching_form(a_text), matching_form(b_text)
    for kind in ("new", "dropped", "more", "less"):
        for r in getattr(result, kind):
            s = r["term"].replace(" ", "")
            assert (r["a"], r["b"]) == (a.count(s), b.count(s)), (kind, r)
    assert all(r["a"] == 0 and r["b"] > 0 for r in result.new)
    assert all(r["b"] == 0 and r["a"] > 0 for r in result.dropped)
    n1, n2 = result.a.words, result.b.words
    assert all(r["b"] / n2 > r["a"] / n1 for r in result.more)
    assert all(r["b"] / n2 < r["a"] / n1 for r in result.less)


def test_diff_claims_hold_on_the_texts(corpus_, home):
    """On 2023 → 2024, 10 of 200 "new" formulations were in the 2023 text (化债, 供应链 inside
    longer tokens) and 30 of 200 "dropped" ones in the 2024 text (失业 7 → 0, said twice)."""
    from speechkit.diff import diff

    result = diff(corpus_, _national(home, 2023), _national(home, 2024), top=200)
    with Store(load_settings(home).store_path) as store:
        a, b = (store.get(_national(home, y)).text for y in (2023, 2024))
    _claims_hold(result, a, b)
    assert len(result.new) == len(result.dropped) == 200
    new = [r["term"] for r in result.new]
    assert "新质生产力" in new[:5]
    # what the token counts had listed wrongly is now counted as used more or less
    said = {r["term"]: r for r in result.more + result.less}
    for term in ("化债", "供应链", "失业"):
        assert term not in new and term not in [r["term"] for r in result.dropped]
    assert said["失业"]["b"] == matching_form(b).count("失业") > 0


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory, corpus) -> Path:
    """A workspace holding only the 2023 and 2024 national reports: "newest to the corpus"
    ties for everything, and ranking fell back on code points (新质生产力 was 58th)."""
    src = tmp_path_factory.mktemp("two-src")
    for year in (2023, 2024):
        (src / f"{year}.md").write_bytes((corpus / NATIONAL / f"{year}.md").read_bytes())
    return indexed_workspace(tmp_path_factory, "two", src)


def test_diff_ranks_salient_formulations_first_on_two_reports(two_reports):
    data = json.loads(run(two_reports, "diff", "year:2023 title:政府工作报告", "year:2024 title:政府工作报告",
                          "--top", "200", "--json"))
    new = [r["term"] for r in data["new"]]
    assert "新质生产力" in new[:10], new[:20]
    with Store(load_settings(two_reports).store_path) as store:
        texts = {d.year: d.text for d in store.documents()}
    b = matching_form(texts[2024])
    assert all(r["a"] == 0 and r["b"] == b.count(r["term"].replace(" ", "")) for r in data["new"])


def test_selections_take_title_phrases(corpus_, home):
    """`year:2023 level:national` also pulled in the 国务院机构改革方案; title: narrows it."""
    from speechkit.diff import diff

    report = f"title:{matching_form('政府工作报告')}"
    result = diff(corpus_, f"year:2023 level:national {report}", f"year:2024 level:national {report}")
    assert result.a.speeches == result.b.speeches == 1
    assert result.a.titles == ["政府工作报告"]
    assert json.loads(run(home, "compare", "year:2023 title:政府工作报告", "year:2024 title:政府工作报告",
                          "--json"))["docs"] == [1, 1]


def test_a_speech_diffed_with_itself_shows_nothing(corpus_, home):
    from speechkit.diff import diff
    doc = _national(home, 2024)
    result = diff(corpus_, doc, doc)
    assert not (result.new or result.dropped or result.more or result.less or result.changed)


def test_diff_cli(home):
    out = run(home, "diff", _national(home, 2023), _national(home, 2024), "--top", "100")
    assert "新质生产力" in out and "new in B" in out


def test_trend_shows_where_the_corpus_first_has_a_term(corpus_, home):
    result = trend(corpus_, ["新质生产力", "营商环境"])
    # brute force: the earliest dated speech whose text has the term
    with Store(load_settings(home).store_path) as store:
        docs = [(d.year, d.id) for d in store.documents() if d.year and "新质生产力" in matching_form(d.text)]
    assert result.first_seen["新质生产力"]["year"] == min(docs)[0]
    assert result.first_seen["新质生产力"]["speeches"] == len(docs)
    assert "first seen" in run(home, "trend", "新质生产力")


def test_topics_where_no_theme_holds_say_so_and_chart_nothing(seeds_home):
    """The README's main command ends with `topics -k 3` on the five seeds (11 speeches): no
    theme holds there; the output says so and what to do, with no by-year table of years alone."""
    out = run(seeds_home, "topics", "-k", "3", "--name", "few")
    assert "no theme holds on" in out and "a smaller -k" in out
    assert "by year" not in out


def test_the_readme_library_example_runs(tmp_path, corpus, monkeypatch):
    # the README's Library example, exactly as written, on the sample corpus (corpus/raw)
    import re
    import shutil

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    code = re.search(r"## Library\n.*?```python\n(.*?)```", readme, re.S).group(1)
    assert "speechkit.Workspace" in code and "from speechkit." not in code  # the public API only
    shutil.copytree(corpus / "seeds", tmp_path / "corpus" / "raw")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPEECHKIT_HOME", str(tmp_path / "work"))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["report"].speeches == 11
    assert scope["hits"].total >= 2
    assert scope["changes"].to_json()["corpus"]
    assert scope["themes"].k == 8


def test_a_workspace_opens_its_store_and_segmenter_once_and_sees_new_speeches(tmp_path, corpus):
    """Searcher and Corpus given a Workspace use its store and segmenter (and leave them open);
    the provenance follows the store when speeches are added through the same workspace."""
    import shutil

    from speechkit import Workspace
    from speechkit.search import Searcher

    src = tmp_path / "src"
    shutil.copytree(corpus / "seeds", src)
    with Workspace(tmp_path / "home", workers=1) as ws:
        ws.ingest([src])
        ws.index()
        with Searcher(ws) as s, ws.corpus() as c:
            assert s.store is ws.store is c.store and s.segmenter is ws.segmenter is c.segmenter
            before = c.provenance()
        assert ws.search("营商环境").total == 3  # the store is still open
        shutil.copy(corpus / NATIONAL / "2019.md", src)
        ws.ingest([src])
        with ws.corpus() as c:
            after = c.provenance()
        assert after["corpus"] != before["corpus"]
        assert int(after["documents_in_corpus"]) == int(before["documents_in_corpus"]) + 1
        with pytest.raises(SpeechkitError, match="speechkit index"):
            ws.search("营商环境")
        ws.index()
        assert ws.search("营商环境").total == 4
