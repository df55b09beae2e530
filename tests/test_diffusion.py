"""Policy diffusion (`spread`) and text reuse (`reuse`) hold on the text: first uses equal a
brute-force scan of every speech, and every reused span occurs in both texts, with nothing of
the asked length missed. The code was written on 河长制 and the 2018 national report against
the provincial reports; the other terms and pairs here were not looked at while writing it."""

from __future__ import annotations

import json
import random
import urllib.parse
import urllib.request
from collections import defaultdict

import pytest

from speechkit.corpus import Corpus
from speechkit.matching import matching_form
from speechkit.query import selection_filters
from speechkit.regions import gazetteer
from speechkit.reuse import MIN_CHARS, reuse
from speechkit.workspace import Workspace

from .conftest import NATIONAL, indexed_workspace, run_cli, shot

PROVINCES = "gov-reports/政府工作报告-省自治区"
CITIES = "gov-reports/政府工作报告-主要城市"


@pytest.fixture(scope="module")
def home(tmp_path_factory, corpus):
    return indexed_workspace(tmp_path_factory, "diffusion", corpus / NATIONAL,
                             *(corpus / PROVINCES / p for p in ("浙江省", "江苏省", "贵州省", "云南省")),
                             *(corpus / CITIES / c for c in ("南京市", "杭州市", "贵阳市", "厦门市")))


@pytest.fixture(scope="module")
def texts(home):
    """Every canonical speech's metadata and matching form, read from the store."""
    with Workspace(home) as ws, Corpus(ws) as c:
        docs = {d.id: d for d in c.docs()}
        return docs, {i: matching_form(t) for i, t in c.texts(list(docs))}


def _brute_spread(texts, term, by, filters=""):
    docs, matched = texts
    chosen = selection_filters(filters)
    needle = matching_form(term)
    first: dict[str, tuple[int, str]] = {}
    count: dict[str, int] = defaultdict(int)
    units = set()
    national = [(d.year, i) for i, d in docs.items() if d.level == "national" and d.year is not None
                and needle in matched[i]]
    for i, d in docs.items():
        if d.year is None or d.level == "national" or not all(f.matches(vars(d)) for f in chosen):
            continue
        unit = gazetteer().prefecture_of(d.region) if by == "city" else gazetteer().province_of(d.region or "")
        if not d.region or unit is None:
            continue
        units.add(unit)
        if needle in matched[i]:
            count[unit] += 1
            first[unit] = min(first.get(unit, (9999, "")), (d.year, i))
    return first, count, units, min(national) if national else None


@pytest.mark.parametrize("term", ["河长制", "营商环境", "最多跑一次", "放管服", "新质生产力", "人民公社", "一网通办"])
def test_first_uses_equal_a_brute_force_scan(home, texts, term):
    with Workspace(home) as ws:
        result = ws.spread(term)
    first, count, units, national = _brute_spread(texts, term, "region")
    assert {f.unit: (f.year, f.id) for f in result.first_uses} == first
    assert {f.unit: f.speeches for f in result.first_uses} == dict(count)
    assert set(result.never) == units - set(first) and result.units == len(units)
    assert (result.national["year"], result.national["id"]) == national if national else result.national is None
    if result.curve:
        assert result.curve[-1]["adopted"] == len(first)
        for point in result.curve:
            assert point["adopted"] == sum(1 for year, _ in first.values() if year <= point["year"])
    if national and first:
        earliest = min(year for year, _ in first.values())
        want = "followed" if earliest < national[0] else "same year" if earliest == national[0] else "led"
        assert result.centre == want
        assert set(result.before_centre) == {u for u, (year, _) in first.items() if year < national[0]}


def test_random_phrases_spread_as_the_scan_says(home, texts):
    docs, matched = texts
    rng = random.Random(7)
    dated = sorted(i for i, d in docs.items() if d.year is not None and d.level != "national")
    with Workspace(home) as ws:
        for _ in range(12):
            text = matched[rng.choice(dated)]
            start = rng.randrange(0, max(1, len(text) - 6))
            phrase = text[start:start + rng.randint(2, 6)]
            if not phrase.strip():
                continue
            result = ws.spread(phrase)
            first, _, _, _ = _brute_spread(texts, phrase, "region")
            assert {f.unit: (f.year, f.id) for f in result.first_uses} == first, phrase


def test_a_city_selection_spreads_by_city(home, texts):
    with Workspace(home) as ws:
        result = ws.spread("营商环境", filters="level:city")
    first, _, units, _ = _brute_spread(texts, "营商环境", "city", "level:city")
    assert result.by == "city" and {f.unit: (f.year, f.id) for f in result.first_uses} == first
    assert units <= {"南京市", "杭州市", "贵阳市", "厦门市"} and len(units) == 4


def test_spread_cli_says_who_led_and_what_was_left_out(home):
    data = json.loads(run_cli(home, "spread", "河长制", "--json", stdout=True))
    assert data["corpus"] and data["segmenter"] and data["centre"] in ("led", "followed", "same year")
    out = run_cli(home, "spread", "河长制")
    assert "first use of 河长制" in out and "dated speeches read; left out" in out
    rows = run_cli(home, "spread", "河长制", "--csv", stdout=True).splitlines()
    assert rows[0].startswith("unit,year,id,title,region,speeches") and len(rows) == 1 + 1 + data["units"]
    by_level = json.loads(run_cli(home, "spread", "河长制", "--by", "level", "--json", stdout=True))
    assert {f["unit"] for f in by_level["first_uses"]} <= {"national", "province", "city", "county", "district"}
    assert "give a term" in run_cli(home, "spread", " ", code=1)


def _covered_by_brute_force(target: str, source: str, length: int) -> set[int]:
    """Positions of `target` inside some passage of `length` characters that `source` contains."""
    covered: set[int] = set()
    for i in range(len(target) - length + 1):
        if target[i:i + length] in source:
            covered.update(range(i, i + length))
    return covered


def test_reuse_spans_occur_in_both_texts_and_miss_nothing(home, texts):
    docs, matched = texts
    rng = random.Random(11)
    national = sorted(i for i, d in docs.items() if d.level == "national" and d.year)
    local = sorted(i for i, d in docs.items() if d.level != "national" and d.year)
    pairs = [(rng.choice(national), rng.choice(local)) for _ in range(4)] + \
            [(rng.choice(local), rng.choice(local)) for _ in range(3)]
    for target in rng.sample(local, 5):  # a national report of the same year: passages are reused
        same = [i for i in national if docs[i].year == docs[target].year]
        if same:
            pairs.append((same[0], target))
    spans = 0
    with Workspace(home) as ws, Corpus(ws) as c:
        for source, target in pairs:
            for length in (MIN_CHARS, 16):
                result = reuse(c, source, target, min_chars=length)
                (t,) = result.targets
                covered: set[int] = set()
                for s in t.spans:
                    assert s.source == source and s.target_end - s.target_start >= length
                    assert matched[target][s.target_start:s.target_end] == s.text
                    assert matched[source][s.source_start:s.source_end] == s.text
                    covered.update(range(s.target_start, s.target_end))
                assert covered == _covered_by_brute_force(matched[target], matched[source], length)
                assert t.reused_chars == len(covered) and t.share == round(len(covered) / len(matched[target]), 4)
                spans += len(t.spans)
    assert spans > 20  # the pairs do share passages


def test_national_report_reused_in_provincial_reports_of_the_next_year(home, texts):
    docs, matched = texts
    with Workspace(home) as ws:
        result = ws.reuse("level:national", "level:province", lag=(0, 1))
    assert result.sources == sum(1 for d in docs.values() if d.level == "national" and d.year)
    by_id = {t.id: t for t in result.targets}
    assert set(by_id) == {i for i, d in docs.items() if d.level == "province" and d.year}
    for t in result.targets:
        for s in t.spans:
            assert docs[t.id].year - docs[s.source].year in (0, 1)
            assert matched[s.source][s.source_start:s.source_end] == matched[t.id][s.target_start:s.target_end]
    assert sum(t.share > 0 for t in result.targets) > len(result.targets) / 2
    ranked = [r["mean_share"] for r in result.regions]
    assert ranked == sorted(ranked, reverse=True) and {r["region"] for r in result.regions} <= \
        {"浙江省", "江苏省", "贵州省", "云南省"}
    # each region's figures are its targets' shares, recounted here
    for r in result.regions:
        mine = [t.share for t in result.targets if gazetteer().province_of(docs[t.id].region or "") == r["region"]]
        assert r["speeches"] == len(mine) and r["mean_share"] == round(sum(mine) / len(mine), 4)
        assert r["max_share"] == max(mine)


def test_reuse_cli(home, texts):
    docs, _ = texts
    national = sorted(i for i, d in docs.items() if d.level == "national" and d.year == 2018)
    provincial = sorted(i for i, d in docs.items() if d.region == "浙江省" and d.year == 2018 and d.level == "province")
    out = run_cli(home, "reuse", national[0], provincial[0])
    assert "reused" in out
    rows = run_cli(home, "reuse", national[0], provincial[0], "--csv", stdout=True).splitlines()
    assert rows[0].startswith("target,target_title") and rows[0].endswith("min_chars,corpus,segmenter")
    data = json.loads(run_cli(home, "reuse", "--source", "level:national", "--target", "region:浙江",
                              "--lag", "0..1", "--json", stdout=True))
    assert data["lag"] == [0, 1] and data["corpus"]
    assert "give the source and the target" in run_cli(home, "reuse", national[0], code=2)
    assert "LO..HI" in run_cli(home, "reuse", national[0], provincial[0], "--lag", "x", code=2)
    assert "selects no speech" in run_cli(home, "reuse", "year:1800", provincial[0], code=1)


@pytest.fixture(scope="module")
def server(home):
    from .servers import served

    with served(home, home) as base:
        yield base


def test_spread_page_shows_what_the_cli_computes(home, server, page):
    want = json.loads(run_cli(home, "spread", "营商环境", "--json", stdout=True))
    page.goto(server + "/spread?" + urllib.parse.urlencode({"term": "营商环境"}))
    page.wait_for_selector("#grid")
    rows = page.locator("#grid tr[data-unit]")
    got = {rows.nth(i).get_attribute("data-unit"): rows.nth(i).get_attribute("data-first") for i in range(rows.count())}
    expected = {f["unit"]: str(f["year"]) for f in want["first_uses"]} | {u: "" for u in want["never"]}
    if want["national"]:
        expected["全国 (centre)"] = str(want["national"]["year"])
    assert got == expected
    # each row's dark cell sits in the column of its first use, and every later cell is shaded
    years = [int(t) for t in page.locator("#grid tr").first.locator("th span").all_inner_texts()]
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td:not(.unit)")
        classes = [cells.nth(k).get_attribute("class") for k in range(cells.count())]
        first = rows.nth(i).get_attribute("data-first")
        assert classes == ["" if not first or y < int(first) else "first" if y == int(first) else "using"
                           for y in years]
    points = page.locator("#chart circle.point")
    curve = {p["year"]: p["share"] for p in want["curve"]}
    assert all(float(points.nth(i).get_attribute("data-value")) == curve[int(points.nth(i).get_attribute("data-year"))]
               for i in range(points.count())) and points.count() > 5
    if want["national"]:
        assert page.locator("#marker").get_attribute("data-year") == str(want["national"]["year"])
    assert want["centre"].split()[0] in page.inner_text("#verdict")
    assert f"{want['undated']}" == page.inner_text("#undated")
    shot(page, "spread")
    with urllib.request.urlopen(server + "/api/spread?" + urllib.parse.urlencode({"term": "营商环境"})) as r:
        assert json.loads(r.read()) == want


def test_reuse_pages_show_what_the_cli_computes(home, server, page):
    query = {"source": "level:national", "target": "level:province", "lag": "0..1"}
    want = json.loads(run_cli(home, "reuse", "--source", query["source"], "--target", query["target"], "--lag", "0..1",
                              "--json", stdout=True))
    page.goto(server + "/reuse?" + urllib.parse.urlencode(query))
    page.wait_for_selector("#targets")
    rows = page.locator("#targets tr[data-id]")
    assert rows.count() == min(50, len(want["targets"]))
    for i in range(rows.count()):
        t = want["targets"][i]
        assert rows.nth(i).get_attribute("data-id") == t["id"]
        assert rows.nth(i).locator("td.share").inner_text() == f"{t['share'] * 100:.1f}%"
    shot(page, "reuse")
    # the first target side by side with its first source: every passage marked on both sides
    page.locator("#targets a.pair").first.click()
    page.wait_for_selector("#pairs")
    top = want["targets"][0]
    source = top["spans"][0]["source"]
    pair = json.loads(run_cli(home, "reuse", source, top["id"], "--json", stdout=True))["targets"][0]
    marks = page.locator("#pairs tr[data-target]")
    assert marks.count() == len(pair["spans"]) > 0
    for i, span in enumerate(pair["spans"]):
        row = marks.nth(i)
        assert row.get_attribute("data-target") == f"{span['target_start']}-{span['target_end']}"
        left, right = row.locator("td mark").all_inner_texts()
        # the page shows a line break inside a passage as a space
        assert "".join(matching_form(left).split()) == "".join(matching_form(right).split()) == \
            "".join(span["text"].split())
    shot(page, "reuse-pair")
    with urllib.request.urlopen(server + "/api/reuse?" + urllib.parse.urlencode(query)) as r:
        assert json.loads(r.read()) == want
    with urllib.request.urlopen(server + "/reuse.csv?" + urllib.parse.urlencode(query)) as r:
        served_rows = r.read().decode("utf-8")
    cli_rows = run_cli(home, "reuse", "--source", query["source"], "--target", query["target"], "--lag", "0..1",
                       "--csv", stdout=True)
    assert served_rows.splitlines() == cli_rows.splitlines()


def test_reuse_on_the_worker_pool_equals_one_process(home, monkeypatch):
    import speechkit.reuse as R

    monkeypatch.setattr(R, "BATCH_CHARS", 200_000)  # many tasks, so the pool is used
    results = []
    for workers in (1, 2):
        with Workspace(home, workers=workers) as ws:
            results.append(ws.reuse("level:national", "region:浙江", lag=(0, 1)))
    assert results[0].targets == results[1].targets and sum(len(t.spans) for t in results[0].targets) > 50


def test_a_passage_many_sources_share_is_a_formula_not_a_candidate(home, monkeypatch):
    """With the cap at 1 source, a passage of the national reports that several of them share
    picks no candidate; the spans still found are exact, and fewer; the count is reported."""
    import speechkit.reuse as R

    with Workspace(home) as ws:
        whole = ws.reuse("level:national", "region:浙江", lag=(0, 1))
        monkeypatch.setattr(R, "FORMULA_SOURCES", 1)
        capped = ws.reuse("level:national", "region:浙江", lag=(0, 1))
    assert whole.formulae < capped.formulae
    assert sum(t.reused_chars for t in capped.targets) < sum(t.reused_chars for t in whole.targets)
    spans = {(t.id, s.source, s.target_start, s.target_end) for t in whole.targets for s in t.spans}
    assert {(t.id, s.source, s.target_start, s.target_end) for t in capped.targets for s in t.spans} <= spans


def test_by_level_the_centre_is_the_national_speeches_not_a_level(home, texts):
    docs, matched = texts
    with Workspace(home) as ws:
        result = ws.spread("营商环境", by="level")
    first: dict[str, tuple[int, str]] = {}
    for i, d in docs.items():
        if d.year is not None and d.level and d.level != "national" and "营商环境" in matched[i]:
            first[d.level] = min(first.get(d.level, (9999, "")), (d.year, i))
    national = min((d.year, i) for i, d in docs.items() if d.level == "national" and d.year is not None
                   and "营商环境" in matched[i])
    assert {f.unit: (f.year, f.id) for f in result.first_uses} == first and "national" not in first
    assert (result.national["year"], result.national["id"]) == national
    assert result.centre in ("led", "followed", "same year") and result.verdict().startswith("the centre")
