"""Cleaning cases as data (tests/cases/cleaning.json): pass, negative, known failure."""

from __future__ import annotations

import json

import pytest

from speechkit.clean import STEPS, clean_text

from .conftest import CASES

CLEAN_CASES = json.loads((CASES / "cleaning.json").read_text("utf-8"))["cases"]


def _run(case: dict) -> str:
    text = case.get("input_escape", case["input"])
    if case["step"] == "clean":
        return clean_text(text).text
    return STEPS[case["step"]](text)


def _params():
    for case in CLEAN_CASES:
        marks = [pytest.mark.xfail(strict=True, reason="known failure")] if case["kind"] == "known-failure" else []
        yield pytest.param(case, id=case["label"][:60], marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_cleaning_case(case):
    assert _run(case) == case["expected"]


def test_negative_cases_are_fixed_points_of_the_whole_cleaner():
    for case in CLEAN_CASES:
        if case["kind"] == "negative":
            once = clean_text(case["input"]).text
            assert clean_text(once).text == once == case["expected"]
