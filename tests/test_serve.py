"""`speechkit serve` in a real browser: Playwright drives Debian's chromium (Playwright's own
browser download is not available offline) against a server started on a free 127.0.0.1 port
and stopped by pid. Every figure a page shows is checked against the CLI's JSON/CSV for the
same query; screenshots of each view are saved under the test's tmp folder (artifacts)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .conftest import NATIONAL, run_cli, shot
from .servers import served

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed; `bash .ci/install`")
HOSTILE = ("<p>营商环境 测试 <script>window.__pwned = 1</script> "
           "<img src=x onerror=\"window.__pwned = 2\"> 结束</p>")


@pytest.fixture(scope="module")
def workbench(tmp_path_factory, corpus):
    """The national reports, the seeds and a hostile scraped page, indexed and served."""
    home = tmp_path_factory.mktemp("serve")
    src = home / "src"
    src.mkdir()
    for path in sorted((corpus / NATIONAL).glob("*.md")):
        shutil.copy(path, src)
    shutil.copytree(corpus / "seeds", src / "seeds")
    (src / "hostile.html").write_text(
        "<html><head><title>优化营商环境<script>window.__pwned=3</script></title></head><body><article>"
        + HOSTILE * 30 + "</article></body></html>", "utf-8")
    run_cli(home, "ingest", str(src))
    run_cli(home, "index")
    with served(home, home) as base:
        yield home, base


def test_search_with_a_year_filter_then_a_document(workbench, page):
    home, base = workbench
    page.goto(base + "/")
    page.fill("input[name=q]", "营商环境")
    page.fill("input[name=year_from]", "2015")
    page.fill("input[name=year_to]", "2024")
    page.click("button[type=submit]")
    page.wait_for_selector("#total")
    want = json.loads(run_cli(home, "search", "营商环境", "--year", "2015..2024", "--limit", "20", "--json"))
    assert int(page.inner_text("#total")) == want["total"] > 3
    titles = page.locator(".hit a.title").all_inner_texts()
    assert titles == [h["title"] or "(untitled)" for h in want["hits"]]
    assert page.locator(".hit .region").all_inner_texts() == [h["region"] or "" for h in want["hits"]]
    with page.expect_download() as got:
        page.click("#csv")
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text("utf-8"))))
    # every matching speech, not the page's 20
    assert [r["id"] for r in rows[:20]] == [h["id"] for h in want["hits"]] and len(rows) == want["total"]
    assert set(page.locator(".passage mark").all_inner_texts()) == {"营商环境"}
    assert "year_from=2015" in page.url and "q=" in page.url  # the state is in the URL
    shot(page, "search")
    page.locator(".hit a.title").first.click()
    page.wait_for_selector("#metadata")
    first = want["hits"][0]
    assert page.inner_text("#doc-title") == (first["title"] or "(untitled)")
    assert first["id"] in page.inner_text("#metadata") and str(first["year"]) in page.inner_text("#metadata")
    tfidf = home / "indexes" / "tfidf"
    before = sorted(tfidf.rglob("*")) if tfidf.exists() else []
    page.click("text=similar speeches")
    page.wait_for_selector("#similar")
    assert (sorted(tfidf.rglob("*")) if tfidf.exists() else []) == before  # read-only: no cache written
    want_similar = json.loads(run_cli(home, "similar", first["id"], "--json"))["similar"]
    assert page.locator("#similar a").all_inner_texts()[:5] == [d["title"] or d["id"] for d in want_similar][:5]
    assert page.locator("#similar td.region").all_inner_texts()[:5] == [d["region"] or "" for d in want_similar][:5]
    page.go_back()
    page.wait_for_selector("#metadata")
    marks = page.locator("#text mark").all_inner_texts()
    assert marks and set(marks) == {"营商环境"} and len(marks) == first["occurrences"]
    shot(page, "document")


def test_kwic_sorts_and_its_csv_is_the_clis(workbench, page, tmp_path):
    home, base = workbench
    page.goto(base + "/kwic?" + urllib.parse.urlencode({"term": "改革开放", "year_from": "1990"}))
    page.wait_for_selector("#kwic")
    page.click("#sort-left")
    page.wait_for_url("**sort=left**")
    want = json.loads(run_cli(home, "kwic", "改革开放", "--year", "1990..", "--sort", "left", "--json"))
    assert int(page.inner_text("#total")) == want["total"] > 20
    lefts = page.locator("#kwic td.left").all_inner_texts()
    assert lefts == [line["left"].strip() for line in want["lines"]][:len(lefts)]
    regions = page.locator("#kwic td.region").all_inner_texts()
    assert regions == [line["region"] or "" for line in want["lines"]][:len(regions)] and "全国" in regions
    shot(page, "kwic")
    with page.expect_download() as got:
        page.click("#csv")
    downloaded = Path(got.value.path()).read_text("utf-8")
    cli = run_cli(home, "kwic", "改革开放", "--year", "1990..", "--sort", "left", "--csv")
    rows = list(csv.reader(io.StringIO(downloaded)))
    assert rows == list(csv.reader(io.StringIO(cli))) and len(rows) == want["total"] + 1 > 201
    # every line, however many: the download stopped at 500
    with urllib.request.urlopen(base + "/kwic.csv?" + urllib.parse.urlencode({"term": "改革"})) as r:
        every = list(csv.reader(io.StringIO(r.read().decode("utf-8"))))
    assert len(every) - 1 == json.loads(run_cli(home, "kwic", "改革", "--limit", "1", "--json"))["total"] > 1000
    page.click("a[rel=next]")
    page.wait_for_url("**page=2**")
    second = json.loads(run_cli(home, "kwic", "改革开放", "--year", "1990..", "--sort", "left", "--offset", "200",
                                "--limit", "200", "--json"))
    assert page.locator("#kwic td.right").all_inner_texts() == [line["right"].strip() for line in second["lines"]]
    assert f"showing 201–{min(400, want['total'])}" in page.inner_text("main")


def test_trend_chart_has_a_point_per_year_with_speeches(workbench, page):
    home, base = workbench
    page.goto(base + "/trend?" + urllib.parse.urlencode({"terms": "改革 小康"}))
    page.wait_for_selector("#chart")
    want = json.loads(run_cli(home, "trend", "改革", "小康", "--json"))
    for term in ("改革", "小康"):
        rows = {int(r["bucket"]): r["rate_per_10k"] for r in want["rows"]
                if r["term"] == term and str(r["bucket"]).isdigit() and r["total_documents"]}
        points = page.locator(f"g.series[data-term='{term}'] circle.point")
        got = {int(points.nth(i).get_attribute("data-year")): float(points.nth(i).get_attribute("data-value"))
               for i in range(points.count())}
        assert got == pytest.approx(rows) and len(got) > 40
    # each legend entry is drawn in its series' colour (they were all grey: svg text's fill won)
    # and shows its whole label inside the page
    legend = page.locator("#legend li")
    assert [t.strip() for t in legend.all_inner_texts()] == ["改革", "小康"]
    swatches = [legend.nth(i).evaluate("e => getComputedStyle(e.querySelector('line')).stroke") for i in range(2)]
    series = [page.locator(f"g.series[data-term='{t}'] path").first.evaluate("e => getComputedStyle(e).stroke")
              for t in ("改革", "小康")]
    assert swatches == series and len(set(series)) == 2 and "rgb(68, 68, 68)" not in series
    width = page.evaluate("document.documentElement.clientWidth")
    assert all(legend.nth(i).evaluate("e => e.getBoundingClientRect().right") <= width for i in range(2))
    shot(page, "trend")
    page.click("#measure-count")
    page.wait_for_url("**measure=count**")
    points = page.locator("g.series[data-term='小康'] circle.point")
    counts = {int(r["bucket"]): r["occurrences"] for r in want["rows"]
              if r["term"] == "小康" and str(r["bucket"]).isdigit() and r["total_documents"]}
    assert {int(points.nth(i).get_attribute("data-year")): float(points.nth(i).get_attribute("data-value"))
            for i in range(points.count())} == counts
    # the download is the CLI's CSV, row for row (two writers had drifted apart before)
    with urllib.request.urlopen(base + "/trend.csv?" + urllib.parse.urlencode({"terms": "改革 小康"})) as r:
        served = list(csv.reader(io.StringIO(r.read().decode("utf-8"))))
    assert served == list(csv.reader(io.StringIO(run_cli(home, "trend", "改革", "小康", "--csv", stdout=True))))
    assert served[0][-2:] == ["corpus", "segmenter"] and len(served) == len(want["rows"]) + 1


def test_compare_and_topics_views_show_what_the_cli_computes(workbench, page):
    home, base = workbench
    a, b = "year:1978..1995", "year:2013..2026"
    page.goto(base + "/compare?" + urllib.parse.urlencode({"a": a, "b": b, "top": "15"}))
    page.wait_for_selector("#side-1")
    want = json.loads(run_cli(home, "compare", a, b, "--top", "15", "--json"))
    # a slow page says it is working while the next one loads: here the form's submission is
    # stopped in the page, so the banner stays to be seen
    page.locator("form.query").evaluate("f => f.addEventListener('submit', e => e.preventDefault())")
    page.fill("input[name=top]", "16")
    page.click("button[type=submit]")
    page.wait_for_timeout(1200)
    assert page.locator("#busy").is_visible() and int(page.inner_text("#busy-seconds")) >= 1
    shot(page, "busy")
    page.goto(base + "/compare?" + urllib.parse.urlencode({"a": a, "b": b, "top": "15"}))
    page.wait_for_selector("#side-1")
    for n, side in ((1, a), (2, b)):
        words = page.locator(f"#side-{n} td:first-child a").all_inner_texts()
        assert words == [w["word"] for w in want["words"] if w["side"] == side] and len(words) == 15
    shot(page, "compare")
    with urllib.request.urlopen(base + "/compare.csv?" + urllib.parse.urlencode({"a": a, "b": b, "top": "15"})) as r:
        served = list(csv.reader(io.StringIO(r.read().decode("utf-8"))))
    cli = list(csv.reader(io.StringIO(run_cli(home, "compare", a, b, "--top", "15", "--csv", stdout=True))))
    assert served == cli and [row[0] for row in served[1:]] == [w["word"] for w in want["words"]]
    run_cli(home, "topics", "--name", "t", "-k", "4")
    model = json.loads((home / "indexes" / "topics" / "t" / "themes.json").read_text("utf-8"))
    page.goto(base + "/topics?" + urllib.parse.urlencode({"name": "t", "show": "1"}))
    page.wait_for_selector("#themes")
    cells = page.locator("#themes tr:not(#other) td:nth-child(5)").all_inner_texts()
    assert cells == ["、".join(t["labels"]) for t in model["themes"]]
    held = page.locator("#themes tr:not(#other) td:nth-child(6)").all_inner_texts()
    assert held == [str(t["stability"]) for t in model["themes"]] and model["stability"] is not None
    # the remainder is shown as such, with its share
    assert page.locator("#other td:nth-child(3)").inner_text() == f"{model['other']['share']:.3f}"
    points = page.locator("#chart circle.point")
    got = {int(points.nth(i).get_attribute("data-year")): float(points.nth(i).get_attribute("data-value"))
           for i in range(points.count())}
    assert got == pytest.approx({int(y): v["1"] for y, v in model["share_by"]["year"].items()}) and len(got) > 40
    assert page.locator("#stale").count() == 0  # built from the corpus the page reads
    # its CSV has the CLI's columns and rows (they had different columns), both levels and years
    with urllib.request.urlopen(base + "/topics.csv?name=t") as r:
        served_rows = list(csv.reader(io.StringIO(r.read().decode("utf-8"))))
    cli_rows = list(csv.reader(io.StringIO(run_cli(home, "topics", "show", "t", "--csv", stdout=True))))
    assert served_rows[0] == cli_rows[0] and [r for r in served_rows if r[0] == "year"] == cli_rows[1:]
    shot(page, "topics")


def test_hostile_text_is_shown_never_run(workbench, page):
    _, base = workbench
    page.goto(base + "/?q=" + urllib.parse.quote("测试"))
    page.wait_for_selector(".hit")
    page.locator(".hit a.title").first.click()
    page.wait_for_selector("#text")
    assert page.evaluate("window.__pwned") is None and not page.dialogs
    assert page.locator("#text script, #text img, .hit img").count() == 0
    with urllib.request.urlopen(base + "/?q=" + urllib.parse.quote("<script>alert(1)</script>")) as r:
        assert b"<script>alert(1)" not in r.read()


def test_api_and_errors(workbench, seeds_home, tmp_path):
    home, base = workbench
    q = urllib.parse.urlencode({"q": "营商环境", "year_from": "2015"})
    with urllib.request.urlopen(f"{base}/api/search?{q}") as r:
        got = json.load(r)
    want = json.loads(run_cli(home, "search", "营商环境", "--year", "2015..", "--limit", "20", "--json"))
    assert got["total"] == want["total"] and [h["id"] for h in got["hits"]] == [h["id"] for h in want["hits"]]
    # a CSV for Excel starts with a byte order mark; the plain one does not
    with urllib.request.urlopen(f"{base}/search.csv?{q}&excel=1") as r, urllib.request.urlopen(
            f"{base}/search.csv?{q}") as plain:
        excel, raw = r.read(), plain.read()
    assert excel == b"\xef\xbb\xbf" + raw and raw.startswith(b"rank,id,title")
    # a chain of a thousand NOTs is NOT or nothing (it was a RecursionError and HTTP 500);
    # `%` and `_` are not id prefixes (as LIKE wildcards they matched any id)
    chained = urllib.parse.urlencode({"q": "NOT " * 1000 + "营商环境", "year_from": "2015"})
    with urllib.request.urlopen(f"{base}/api/search?{chained}") as r:
        assert json.load(r)["total"] == got["total"]
    for path, status in (("/api/search?q=" + urllib.parse.quote("(营商"), 400), ("/doc/nosuchid", 404),
                         ("/api/doc/%25", 404), ("/api/doc/_", 404), ("/api/doc/%25%25", 404)):
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(base + path)
        assert exc.value.code == status
    # two server processes answer alike (each opens the indexes itself)
    with served(home, tmp_path, "--workers", "2") as base2:
        for _ in range(4):
            with urllib.request.urlopen(f"{base2}/api/search?{q}") as r:
                assert json.load(r)["hits"] == got["hits"]
    # a workspace whose index is missing: a page naming the command that fixes it, not a 500
    with served(seeds_home, tmp_path) as base2:  # ingested, never indexed
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(base2 + "/?q=" + urllib.parse.quote("营商环境"))
        assert exc.value.code == 503 and b"speechkit index" in exc.value.read()


def test_the_readmes_curl_commands_work_as_written(workbench):
    """The documented `curl '…?q=营商环境'` got HTTP 400 (raw UTF-8 in the request line): each
    call docs/workbench.md shows is run as written, against the workbench, and answers JSON."""
    import shlex
    import subprocess

    home, base = workbench
    readme = (Path(__file__).resolve().parent.parent / "docs" / "workbench.md").read_text("utf-8")
    calls = [line.split("  #")[0] for line in readme.splitlines() if line.startswith("curl -G ")]
    assert len(calls) >= 4
    for call in calls:
        args = shlex.split(call.replace("http://127.0.0.1:8765", base))
        done = subprocess.run([args[0], "-sS", "--fail", *args[1:]], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (call, done.stderr)
        assert json.loads(done.stdout), call
    search = next(c for c in calls if "/api/search" in c)
    got = json.loads(subprocess.run(["curl", "-sS", *shlex.split(search.replace("http://127.0.0.1:8765", base))[1:]],
                                    capture_output=True, text=True, timeout=120).stdout)
    want = json.loads(run_cli(home, "search", "营商环境", "--year", "2015..2020", "--level", "province", "--json"))
    assert got["total"] == want["total"]


def test_a_lexicon_workspace_answers_alike_everywhere(tmp_path, corpus):
    """A workspace indexed with a user lexicon: `Workspace`, the CLI (flag before or after the
    command, or the `lexicon` setting), `serve` and `serve --workers 2` give the same totals.
    `serve` had no lexicon (every search: "built with another lexicon"), its workers got only
    HOME and STORE, and `Workspace(h, lexicon=F).index()` wrote a title analyzer without it."""
    from whoosh import index as whoosh_index

    from speechkit.workspace import Workspace

    src = tmp_path / "src"
    src.mkdir()
    for path in sorted((corpus / NATIONAL).glob("20*.md"))[-8:]:
        shutil.copy(path, src / path.name)
    lexicon = tmp_path / "mine.txt"
    lexicon.write_text("稳中求进工作总基调\n高质量发展首要任务\n", "utf-8")
    home = tmp_path / "home"
    with Workspace(home, lexicon=lexicon) as ws:
        ws.ingest([src])
        ws.index()
        total = ws.search("高质量发展").total
    assert total >= 8
    title = whoosh_index.open_dir(str(home / "indexes" / "whoosh")).schema["title"].analyzer
    assert title[0].user_lexicon == str(lexicon)  # the title analyzer has the lexicon too
    flag = ("--lexicon", str(lexicon))
    for args in ((*flag, "search", "高质量发展"), ("search", "高质量发展", *flag)):
        assert json.loads(run_cli(home, *args, "--json"))["total"] == total
    run_cli(home, "search", "高质量发展", code=1)  # without it: the index is another lexicon's
    (home / "speechkit.cfg").write_text("[speechkit]\nlexicon = ../mine.txt\n", "utf-8")  # relative to HOME
    assert json.loads(run_cli(home, "search", "高质量发展", "--json"))["total"] == total
    (home / "speechkit.cfg").unlink()
    q = urllib.parse.urlencode({"q": "高质量发展"})
    for extra in ((), ("--workers", "2")):
        with served(home, tmp_path, "--lexicon", str(lexicon), *extra) as base:
            for _ in range(3 if extra else 1):
                with urllib.request.urlopen(f"{base}/api/search?{q}") as r:
                    assert json.load(r)["total"] == total, extra
