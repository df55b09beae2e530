"""Regions come from the official division list: the cases the issue found wrong, on real texts."""

from __future__ import annotations

import json

import pytest

from speechkit.documents import RawDocument
from speechkit.metadata import region_and_level
from speechkit.pipeline import process_raw
from speechkit.settings import load_settings


@pytest.mark.parametrize("region, head", [
    ("巴音郭楞蒙古自治州", "自治州州长 艾尔肯·吐尼亚孜"),  # was 自治州, the speaker line's org
    ("沧州市", "市长 王文龙"), ("淮南市", "市长 张孜"), ("池州市", "市长 郑永"), ("淮安市", "市长 史志军"),
    ("襄樊市", "市长 王君"),  # a former name: the division it became (襄阳市)
])
def test_the_title_names_a_division_whole(corpus, region, head):
    """The region is the division the title names, whole, whatever the speaker line's org says;
    near neighbours in the list (沧州/池州, 淮南/淮安) stay apart. The body is a real city report's
    (宁波 2016, which names no city in full), under the title and speaker line a site would add."""
    from speechkit.metadata import speaker

    body = (corpus / "gov-reports/政府工作报告-主要城市/宁波市/2016.md").read_text("utf-8")
    text = head + "\n\n" + body[body.index("各位代表"):].replace("我代表市人民政府", "我代表州人民政府"
                                                               if "州州长" in head else "我代表市人民政府")
    title = f"{region}2016年政府工作报告"
    got, level, evidence = region_and_level(text, title, speaker(text, title))
    want = "襄阳市" if region == "襄樊市" else region
    assert (got, level) == (want, "city"), evidence
    assert region in evidence["region"]


@pytest.mark.parametrize("rel, region, not_", [
    ("政府工作报告-省自治区/云南省/2003.md", "云南省", "第九届省"),  # 我代表第九届省人民政府
    ("政府工作报告-省自治区/广西壮族自治区/2003.md", "广西壮族自治区", "第九届自治区"),
    ("政府工作报告-省自治区/贵州省/2020.md", "贵州省", "重庆市"),  # title 2020年《政府工作报告》
    ("政府工作报告-省自治区/江西省/2022.md", "江西省", None),  # its evidence was "政府工作报告"
    ("政府工作报告-主要城市/哈尔滨市/2003.md", "哈尔滨市", None),  # 在哈尔滨市十二届人大一次会议上
], ids=["云南2003", "广西2003", "贵州2020", "江西2022", "哈尔滨2003"])
def test_reports_the_issue_found_wrong(corpus, tmp_path, rel, region, not_):
    path = corpus / "gov-reports" / rel
    doc = process_raw(RawDocument(str(path), path.read_bytes(), kind="markdown"), load_settings(tmp_path))[0]
    assert doc.region == region, (doc.region, doc.evidence.get("region"), "was", not_)
    said = doc.evidence["region"]
    assert region in said or region.removesuffix("省") in said or "广西" in said, said


def test_a_crawlers_region_field_counts_only_when_it_is_a_division(tmp_path, corpus):
    """A dump's region column is used when the text names none, as a division of the list (沧州 is
    沧州市); a value that is not one (自治州, 本市) is dropped, not kept as a fragment."""
    from click.testing import CliRunner

    from speechkit.cli import cli
    from speechkit.store import Store

    body = (corpus / "gov-reports/政府工作报告-主要城市/宁波市/2016.md").read_text("utf-8")
    body = body[body.index("各位代表"):].replace("宁波", "本市")
    dump = tmp_path / "dump.jsonl"
    dump.write_text("\n".join(json.dumps({"id": str(n), "text": body[: 3000 + n], "region": value}, ensure_ascii=False)
                              for n, value in enumerate(["沧州", "自治州", "本市"])), "utf-8")
    res = CliRunner().invoke(cli, ["--home", str(tmp_path / "h"), "ingest", str(dump)])
    assert res.exit_code == 0, res.output
    with Store(tmp_path / "h" / "corpus" / "speechkit.db") as s:
        rows = {r["record"]: (r["region"], json.loads(r["evidence"]).get("region"))
                for r in s.query("SELECT record, region, evidence FROM documents")}
    assert rows["0"] == ("沧州市", "crawler field region: 沧州"), rows
    assert rows["1"] == (None, None) and rows["2"] == (None, None), rows


@pytest.mark.parametrize("name, province, city", [
    # written from the map, not from the code: county-level cities under their prefecture,
    # districts of the four municipalities, a prefecture-level city without districts, and
    # county-level cities the province governs directly (no prefecture)
    ("义乌市", "浙江省", "金华市"), ("昆山市", "江苏省", "苏州市"), ("喀什市", "新疆维吾尔自治区", "喀什地区"),
    ("浦东新区", "上海市", "上海市"), ("海淀区", "北京市", "北京市"), ("渝中区", "重庆市", "重庆市"),
    ("东莞市", "广东省", "东莞市"), ("仙桃市", "湖北省", None), ("济源市", "河南省", None),
    ("石河子市", "新疆维吾尔自治区", None),
])
def test_each_division_knows_its_province_and_city(name, province, city):
    from speechkit.regions import gazetteer

    assert gazetteer().province_of(name) == province
    assert gazetteer().prefecture_of(name) == city
