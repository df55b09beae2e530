"""The administrative divisions a region can be, and finding them in a string.

A region is always a real division: its name comes from the official list shipped in
`lexicon/divisions.tsv` (province-, prefecture- and county-level, with the short forms of the first
two: 广西, 沧州, 巴音郭楞), never from a regex's capture, so a fragment (自治州, 第九届省) or a
near miss (淮安市 for 淮南市) cannot become a value.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

TIERS = ("province", "prefecture", "county")
_MUNICIPALITIES = ("11", "12", "31", "50")  # 北京, 天津, 上海, 重庆: province-level cities


@dataclass(frozen=True)
class Division:
    name: str  # the name it has now (襄阳市 for 襄樊市)
    tier: str  # province, prefecture or county

    @property
    def level(self) -> str:
        """The level a speech of this division's government has (speechkit's levels).

        >>> division("沧州市").level, division("北京市").level, division("海拉尔区").level
        ('city', 'province', 'district')
        """
        if self.tier != "county":
            return "province" if self.tier == "province" else "city"
        return "district" if self.name.endswith("区") else "county"


@dataclass(frozen=True)
class Mention:
    division: Division
    written: str  # as the text writes it (沧州, 襄樊市)
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.written)


class Gazetteer:
    """Every name and short form of the divisions, looked up by its first two characters so that a
    scan costs one dictionary probe per character."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.names: dict[str, Division] = {}
        shorts: dict[str, list[Division]] = {}
        for r in rows:
            if r["tier"] == "county" and len(r["name"]) == 2 and r["name"].endswith("区"):
                continue  # 城区, 郊区, 矿区: real districts' names, but ordinary words in a speech
            div = Division(r["now"] or r["name"], r["tier"])
            self.names.setdefault(r["name"], div)
            for s in filter(None, r["short"].split(",")):
                shorts.setdefault(s, []).append(div)
        self.short: dict[str, Division] = {}
        for s, divs in shorts.items():
            # a short form two divisions share (吉林: the province and the city; 海南: the province and
            # the prefecture in Qinghai) means the higher one, and nothing when they are equals
            top = min(TIERS.index(d.tier) for d in divs)
            best = {d.name: d for d in divs if TIERS.index(d.tier) == top}
            if len(best) == 1 and s not in self.names:
                self.short[s] = next(iter(best.values()))
        self.written: dict[str, set[str]] = {}  # a division's name -> every way it is written
        for written in [*self.names, *self.short]:
            self.written.setdefault(self.lookup(written).name, set()).add(written)
        # each division's province and prefecture, by the NBS codes (a county's parent; the
        # districts of 北京, 上海, 天津, 重庆 have the municipality as their city)
        by_code = {r["code"]: r["now"] or r["name"] for r in rows}
        tier = {r["code"]: r["tier"] for r in rows}
        self._province: dict[str, str] = {}
        self._prefecture: dict[str, str] = {}
        for r in rows:
            name = r["now"] or r["name"]
            province = by_code.get(r["code"][:2] + "0" * 10)
            if province:
                self._province.setdefault(name, province)
            if r["tier"] == "prefecture":
                self._prefecture.setdefault(name, name)
            elif r["tier"] == "county" and tier.get(r["parent"]) == "prefecture":
                self._prefecture.setdefault(name, by_code[r["parent"]])
            elif r["tier"] != "province" and r["code"][:2] in _MUNICIPALITIES and province:
                self._prefecture.setdefault(name, province)
        for code in _MUNICIPALITIES:
            if code + "0" * 10 in by_code:
                self._prefecture.setdefault(by_code[code + "0" * 10], by_code[code + "0" * 10])
        self._by_prefix: dict[str, list[str]] = {}
        for written in sorted({*self.names, *self.short}, key=len, reverse=True):
            self._by_prefix.setdefault(written[:2], []).append(written)

    def lookup(self, written: str) -> Division | None:
        """The division a name or short form names.

        >>> gazetteer().lookup("巴音郭楞").name, gazetteer().lookup("襄樊市").name
        ('巴音郭楞蒙古自治州', '襄阳市')
        >>> gazetteer().lookup("自治州") is None
        True
        """
        return self.names.get(written) or self.short.get(written)

    def mentions(self, text: str, *, short: bool = True) -> Iterator[Mention]:
        """Divisions named in `text`, longest name first at each place, not overlapping.

        >>> [m.division.name for m in gazetteer().mentions("新疆维吾尔自治区巴音郭楞蒙古自治州")]
        ['新疆维吾尔自治区', '巴音郭楞蒙古自治州']
        """
        i, n = 0, len(text)
        while i < n - 1:
            for written in self._by_prefix.get(text[i:i + 2], ()):
                if text.startswith(written, i) and (short or written in self.names):
                    yield Mention(self.lookup(written), written, i)
                    i += len(written)
                    break
            else:
                i += 1

    def ending_at(self, text: str, end: int) -> Mention | None:
        """The longest division name ending exactly at `end` (海拉尔区 in 呼伦贝尔市海拉尔区|第十五届)."""
        for size in range(min(end, 12), 1, -1):
            written = text[end - size:end]
            div = self.names.get(written) or self.short.get(written)
            if div:
                return Mention(div, written, end - size)
        return None


    def province_of(self, name: str) -> str | None:
        """The province-level division a division (by its name or short form) belongs to.

        >>> gazetteer().province_of("海拉尔区"), gazetteer().province_of("襄樊市"), gazetteer().province_of("北京")
        ('内蒙古自治区', '湖北省', '北京市')
        """
        div = self.lookup(name)
        return self._province.get(div.name) if div else None

    def prefecture_of(self, name: str) -> str | None:
        """The prefecture-level division (the city) a division belongs to: itself for a
        prefecture, the municipality for 北京, 上海, 天津, 重庆 and their districts, None for a
        province and for a county no prefecture governs.

        >>> [gazetteer().prefecture_of(n) for n in ("海拉尔区", "沧州", "朝阳区")]
        ['呼伦贝尔市', '沧州市', '北京市']
        >>> gazetteer().prefecture_of("河北省") is None
        True
        """
        div = self.lookup(name)
        return self._prefecture.get(div.name) if div else None

    def provinces(self) -> dict[str, str]:
        """The province-level divisions and their short forms (广西壮族自治区 -> 广西)."""
        return {d.name: s for s, d in self.short.items() if d.tier == "province"}


@functools.cache
def gazetteer() -> Gazetteer:
    with resources.files("speechkit.lexicon").joinpath("divisions.tsv").open(encoding="utf-8") as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return Gazetteer(list(csv.DictReader(lines, delimiter="\t")))


def division(name: str) -> Division | None:
    """The division a name or short form names, or None.

    >>> division("广西").name, division("淮南市").name
    ('广西壮族自治区', '淮南市')
    """
    return gazetteer().lookup(name)
