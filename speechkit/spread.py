"""Policy diffusion: where a formulation was first used, how it spread across regions, and
whether the centre led or followed.

A speech *uses* a term when its matching form contains it, exactly as `search` finds it. Only
speeches whose year is known count; the ones left out are counted. Regions are the province of
a speech's region (by the official codes), or its city (prefecture) with `by="city"` or a
selection limited to city-level speeches; national speeches (level `national`) are the centre,
read from the whole corpus whatever the selection, so a local selection can still be compared
with the centre.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from .corpus import Corpus, Doc
from .csvsafe import record_rows
from .errors import SpeechkitError
from .query import Filter
from .regions import gazetteer

BY = ("region", "city", "level")
_CITY_LEVELS = ("city", "county", "district")


@dataclass
class FirstUse:
    unit: str  # the province, city or level
    year: int
    id: str
    title: str | None
    region: str | None  # the first speech's own region (a city of the province, say)
    speeches: int  # dated speeches of the unit that use the term


@dataclass
class SpreadResult:
    term: str
    by: str  # region, city or level
    units: int  # units with a dated speech in the selection: the curve's denominator
    first_uses: list[FirstUse]  # in order of first use
    never: list[str]  # units with dated speeches, none of which uses the term
    curve: list[dict[str, Any]]  # year, adopted (cumulative), share
    national: dict[str, Any] | None  # the centre's first use: year, id, title
    centre: str  # led, followed, same year, no national use, no local use
    before_centre: list[str]  # units that used it before the centre did
    speeches: int  # dated speeches read
    undated: int  # speeches of the selection left out: their year is unknown
    unplaced: int  # dated local speeches with no region (or no level) to place them
    provenance: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), **self.provenance}

    @property
    def unit(self) -> str:
        """What a unit is: province, city or level."""
        return {"region": "province", "city": "city", "level": "level"}[self.by]

    def verdict(self) -> str:
        """The centre against the first local uses, in a sentence (the CLI and the workbench say it alike).

        >>> SpreadResult("x", "region", 2, [FirstUse("甲省", 2008, "a", None, None, 1)], [], [],
        ...              {"year": 2010}, "followed", ["甲省"], 5, 0, 0).verdict()
        'the centre followed: first national use 2010, after 1 province(s): 甲省'
        """
        if self.centre == "followed":
            more = " …" if len(self.before_centre) > 12 else ""
            return (f"the centre followed: first national use {self.national['year']}, after "
                    f"{len(self.before_centre)} {self.unit}(s): {'、'.join(self.before_centre[:12])}{more}")
        if self.centre == "led":
            return (f"the centre led: first national use {self.national['year']}, first local use "
                    f"{self.first_uses[0].year}")
        if self.centre == "same year":
            return f"the centre took it up in the same year as the first {self.unit}s ({self.national['year']})"
        return self.centre

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per unit: its first use (empty for a unit that never used it)."""
        records = [asdict(f) for f in self.first_uses]
        records += [{"unit": u, "year": None, "id": None, "title": None, "region": None, "speeches": 0}
                    for u in self.never]
        if self.national:
            records.insert(0, {"unit": "全国 (national)", "year": self.national["year"], "id": self.national["id"],
                               "title": self.national["title"], "region": "全国",
                               "speeches": self.national["speeches"]})
        return record_rows(records, self.provenance, {"term": self.term, "by": self.by})


def unit_of(doc: Doc, by: str) -> str | None:
    """The unit a local speech counts for: its level, its region's province or its city.

    >>> unit_of(Doc("a", 2019, "district", None, None, None, 1, None, "海拉尔区"), "region")
    '内蒙古自治区'
    >>> unit_of(Doc("a", 2019, "district", None, None, None, 1, None, "海拉尔区"), "city")
    '呼伦贝尔市'
    """
    if by == "level":
        return doc.level
    if not doc.region:
        return None
    places = gazetteer()
    return places.prefecture_of(doc.region) if by == "city" else places.province_of(doc.region)


def spread(corpus: Corpus, term: str, *, by: str = "region", filters: list[Filter] = ()) -> SpreadResult:
    """First use of `term` in each unit of the selection, the adoption curve, the units that
    never used it, and the centre's first use against the first local ones."""
    if by not in BY:
        raise SpeechkitError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    if not term.strip():
        raise SpeechkitError("give a term: speechkit spread 营商环境")
    levels = {f.value for f in filters if isinstance(f, Filter) and f.field == "level"}
    if by == "region" and levels and levels <= set(_CITY_LEVELS):
        by = "city"  # a selection of city governments: each city is a unit
    having = corpus.containing(term)
    everything = corpus.docs()  # the centre is read from the whole corpus, whatever the selection
    selected = corpus.docs(list(filters)) if filters else everything
    dated = [d for d in selected if d.year is not None]
    # national speeches are the centre, never a unit (also by level)
    local = [d for d in dated if d.level != "national"]
    units: dict[str, list[Doc]] = defaultdict(list)
    unplaced = 0
    for d in local:
        unit = unit_of(d, by)
        if unit is None:
            unplaced += 1
        else:
            units[unit].append(d)
    first_uses = []
    for unit, docs in units.items():
        using = sorted((d.year, d.id) for d in docs if d.id in having)
        if using:
            year, doc_id = using[0]
            first = next(d for d in docs if d.id == doc_id)
            first_uses.append(FirstUse(unit, year, doc_id, first.title, first.region, len(using)))
    first_uses.sort(key=lambda f: (f.year, f.unit))
    used = {f.unit for f in first_uses}
    never = sorted(u for u in units if u not in used)
    curve = _curve(first_uses, len(units), [d.year for docs in units.values() for d in docs])
    national = _national(everything, having)
    centre, before = _centre(national, first_uses)
    return SpreadResult(term, by, len(units), first_uses, never, curve, national, centre, before,
                        len(dated), len(selected) - len(dated), unplaced, corpus.provenance())


def _curve(first_uses: list[FirstUse], units: int, years: list[int]) -> list[dict[str, Any]]:
    """Units that had used the term by each year, from the first year of the selection to its
    last (the share is of every unit with a dated speech)."""
    if not years:
        return []
    adopted_in: dict[int, int] = defaultdict(int)
    for f in first_uses:
        adopted_in[f.year] += 1
    out, total = [], 0
    for year in range(min(years), max(years) + 1):
        total += adopted_in.get(year, 0)
        out.append({"year": year, "new": adopted_in.get(year, 0), "adopted": total,
                    "share": round(total / units, 4) if units else 0.0})
    return out


def _national(docs: list[Doc], having: set[str]) -> dict[str, Any] | None:
    """The centre's first use: the earliest dated national speech (of `docs`, the whole
    corpus) that uses the term."""
    national = sorted((d.year, d.id, d.title) for d in docs if d.level == "national" and d.year is not None
                      and d.id in having)
    if not national:
        return None
    year, doc_id, title = national[0]
    return {"year": year, "id": doc_id, "title": title, "speeches": len(national)}


def _centre(national: dict[str, Any] | None, first_uses: list[FirstUse]) -> tuple[str, list[str]]:
    """Whether the centre led (its first use before every unit's), followed (some units used
    it in an earlier year: they are listed) or took it up in the same year as the first units."""
    if not first_uses:
        return "no local use", []
    if national is None:
        return "no national use", []
    before = [f.unit for f in first_uses if f.year < national["year"]]
    if before:
        return "followed", before
    return ("same year" if first_uses[0].year == national["year"] else "led"), []
