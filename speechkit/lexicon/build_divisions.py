"""Build `divisions.tsv`, the administrative divisions a region must be one of.

    pip download cpca==0.5.5 --no-deps && unzip -o cpca-0.5.5-py3-none-any.whl 'cpca/resources/*'
    python -m speechkit.lexicon.build_divisions cpca/resources

Source: the National Bureau of Statistics' division codes (统计用区划代码, 2016–2017 vintage: it
still has 那曲地区 and 莱芜市) as shipped by cpca 0.5.5 (MIT) in `adcodes.csv`, with its list of
the 56 nationalities for the short forms of autonomous prefectures. Province- and prefecture-level
divisions get their short forms (广西, 沧州, 巴音郭楞); county-level ones only their full names,
since their short forms are single characters or ordinary words (沛, 城区). The NBS placeholders
(市辖区, 县, 省直辖县级行政区划) are not divisions and are left out. Names a work report of
1990–2026 uses that the NBS vintage lacks (renamed, or converted from 地区 to 市 before or after it)
are added from `FORMER` with the division they became.

Columns: code, name, tier (province, prefecture, county), parent code, short forms (comma-separated),
now (the name it has now, for a former name; else empty).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACEHOLDERS = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
# former name -> the name it has now (民政部 approvals: 思茅→普洱 2007, 襄樊→襄阳 2010, 毕节/铜仁
# 2011, 海东 2013, 日喀则/昌都 2014, 林芝/吐鲁番 2015, 山南/哈密 2016, 那曲 2017)
FORMER = {
    "思茅市": "普洱市", "襄樊市": "襄阳市", "毕节地区": "毕节市", "铜仁地区": "铜仁市", "海东地区": "海东市",
    "日喀则地区": "日喀则市", "昌都地区": "昌都市", "林芝地区": "林芝市", "吐鲁番地区": "吐鲁番市",
    "山南地区": "山南市", "哈密地区": "哈密市",
}
# renamed after the NBS vintage: the NBS row becomes the former name
RENAMED_SINCE = {"那曲地区": ("那曲市", "542400000000")}
# the official short names of the province-level divisions (简称 used in titles: 广西, 内蒙古)
PROVINCE_SHORT = {"内蒙古自治区": "内蒙古", "广西壮族自治区": "广西", "西藏自治区": "西藏",
                  "宁夏回族自治区": "宁夏", "新疆维吾尔自治区": "新疆", "香港特别行政区": "香港",
                  "澳门特别行政区": "澳门"}


def _tier(code: str) -> str:
    if code[2:] == "0" * 10:
        return "province"
    if code[4:] == "0" * 8:
        return "prefecture"
    return "county"


def short_forms(name: str, tier: str, nations: list[str]) -> list[str]:
    """The short forms of a division: a province's official one, a prefecture's name without its
    suffix (an autonomous prefecture's also without its nationalities).

    >>> short_forms("巴音郭楞蒙古自治州", "prefecture", ["蒙古族"])
    ['巴音郭楞']
    >>> short_forms("沧州市", "prefecture", [])
    ['沧州']
    """
    if tier == "province":
        if name in PROVINCE_SHORT:
            return [PROVINCE_SHORT[name]]
        return [name[:-1]] if name.endswith(("省", "市")) else []
    if tier != "prefecture":
        return []
    if name.endswith("自治州"):
        stem = name[: -len("自治州")]
        bare = sorted({n for x in nations for n in (x, x.removesuffix("族"))}, key=len, reverse=True)
        changed = True
        while changed:
            changed = False
            for n in bare:
                if len(stem) > len(n) + 1 and stem.endswith(n):
                    stem, changed = stem[: -len(n)], True
                    break
        return [stem] if len(stem) >= 2 else []
    for suffix in ("地区", "市", "盟"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return [name[: -len(suffix)]]
    return []


def build(resources: Path) -> list[list[str]]:
    with (resources / "56_nations.csv").open(encoding="utf-8") as fh:
        nations = [line.strip().split(",")[-1] for line in fh if line.strip().endswith("族")]
    with (resources / "adcodes.csv").open(encoding="utf-8") as fh:
        rows = [(r["adcode"], r["name"]) for r in csv.DictReader(fh) if r["name"] not in PLACEHOLDERS]
    out = []
    for code, name in sorted(rows):
        tier = _tier(code)
        parent = "" if tier == "province" else (code[:2] + "0" * 10 if tier == "prefecture" else code[:4] + "0" * 8)
        now = ""
        if name in RENAMED_SINCE:
            new, _ = RENAMED_SINCE[name]
            out.append([code, new, tier, parent, ",".join(short_forms(new, tier, nations)), ""])
            now = new
        out.append([code, name, tier, parent, ",".join(short_forms(name, tier, nations)), now])
    by_name = {r[1]: r for r in out}
    for old, new in FORMER.items():
        code, _, tier, parent, _, _ = by_name[new]
        out.append([code, old, tier, parent, ",".join(short_forms(old, tier, nations)), new])
    return out


def main() -> None:
    rows = build(Path(sys.argv[1]))
    with (HERE / "divisions.tsv").open("w", encoding="utf-8", newline="") as fh:
        fh.write("# administrative divisions: built by speechkit/lexicon/build_divisions.py from the NBS codes "
                 "(cpca 0.5.5, MIT)\n")
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(["code", "name", "tier", "parent", "short", "now"])
        writer.writerows(rows)
    print(f"{len(rows)} divisions written to {HERE / 'divisions.tsv'}")


if __name__ == "__main__":
    main()
