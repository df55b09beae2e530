"""Golden cases for the five seed pages (tests/cases/seeds.json): what stays, what goes,
and what the page tells us about each speech."""

from __future__ import annotations

import json
import re

import pytest

from speechkit.clean import resources as R
from speechkit.store import Store

from .conftest import CASES

CASES_SEEDS = json.loads((CASES / "seeds.json").read_text("utf-8"))["speeches"]


@pytest.fixture(scope="module")
def docs(seeds_home):
    from speechkit.settings import load_settings

    with Store(load_settings(seeds_home).store_path) as store:
        return {(d.source_path.rsplit("/", 1)[-1], d.part): d for d in store.documents(canonical_only=False)}


def test_seeds_give_eleven_speeches(docs):
    assert len(docs) == 11
    assert sorted(docs) == sorted((c["file"], c["part"]) for c in CASES_SEEDS)


@pytest.mark.parametrize("case", CASES_SEEDS, ids=lambda c: f"{c['file'][:3]}-{c['part']}")
def test_seed_speech(case, docs):
    doc = docs[(case["file"], case["part"])]
    assert doc.parts == case["parts"]
    assert doc.title == case["title"]
    if "starts_with" in case:
        assert doc.text.startswith(case["starts_with"]), doc.text[:80]
    if "ends_with" in case:
        assert doc.text.endswith(case["ends_with"]), doc.text[-80:]
    for s in case.get("keep", []):
        assert s in doc.text, f"lost real text: {s!r}"
    for s in case.get("gone", []):
        assert s not in doc.text, f"boilerplate survived: {s!r}"
    if case.get("no_pinyin"):
        assert not R.RE_PINYIN.search(doc.text)
        assert not re.search(f"[{R.TONE_VOWELS}]", doc.text)
    for key, want in case.get("meta", {}).items():
        assert getattr(doc, key) == want, f"{key}: {getattr(doc, key)!r} != {want!r}"
    if "masked_at_least" in case:
        assert doc.masked >= case["masked_at_least"]
        assert "masked" in doc.flags
    for flag in case.get("flags_include", []):
        assert any(f.split(":")[0] == flag for f in doc.flags), doc.flags


def test_every_extracted_value_has_evidence(docs):
    for doc in docs.values():
        for field in ("year", "date", "site"):
            if getattr(doc, field) is not None:
                assert doc.evidence.get(field), (doc.id, field)
        if doc.speaker_role:
            assert doc.evidence.get("speaker"), doc.id
        if doc.truncated:
            assert doc.evidence.get("truncated"), doc.id


def test_title_is_not_repeated_at_the_top_of_the_text(docs):
    for doc in docs.values():
        first = doc.text.split("\n", 1)[0]
        assert first != doc.title


def test_truncated_seed_records_counts_and_the_notice_is_gone(docs):
    doc = docs[("001_54bfe9e7dd3fbf4f.txt", 1)]
    assert (doc.shown_chars, doc.total_chars) == (2011, 3981)
    assert "未完" in doc.evidence["truncated"]
    # the damaged run that could not be recovered is kept visible and counted, not dropped
    assert any(f.startswith("replacement_chars") for f in doc.flags) == ("\ufffd" in doc.text)


@pytest.mark.parametrize("line,date", [
    ("——2023年12月31日广州市第十六届人民代表大会第四次会议通过", "2023-12-31"),  # adopted, after a dash
    ("——2019年3月5日在第十三届全国人民代表大会第二次会议上", "2019-03-05"),
    ("（2024年5月4日）", "2024-05-04"),
])
def test_datelines(line, date):
    from speechkit.metadata import body_date

    assert body_date(line + "\n各位代表：")[0] == date
