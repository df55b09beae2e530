"""Properties of the cleaner on arbitrary and real text: it never raises and it is
idempotent (cleaning clean text changes nothing)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechkit.clean import clean_text
from speechkit.matching import matching_form

from .test_decode import REAL

FURNITURE = ["下载", "打印", "【字号：", "来源：人民网", "时间：2024-01-02", "相关文章", "\ufffd", "?",
             "(rèn)", "锟斤拷", "第1篇: 讲话", "……(未完,全文共100字,当前仅显示50字", "&amp;", "\u200b",
             "ä½\u00a0", "　　", "  ", "XX", "*", "目录:……", "……"]

texts = st.lists(
    st.one_of(st.sampled_from(REAL), st.sampled_from(FURNITURE), st.text(max_size=30)),
    min_size=1, max_size=12,
).map("\n".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_cleaning_never_raises_and_is_idempotent(text):
    once = clean_text(text).text
    assert clean_text(once).text == once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_matching_form_keeps_length(text):
    assert len(matching_form(text)) == len(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(REAL), st.text(alphabet="ＡＢＣｘｙｚ０１２　ABCxyz營商認GDP，。 ",
                                                         max_size=60), st.text(max_size=20)), max_size=8).map("".join))
def test_matching_form_folds_exactly_as_the_translation_table(text):
    """The fold replaces only the characters the regex finds (speed); it must equal
    translating every character through the table, on Chinese text and on mostly Latin text."""
    from speechkit.matching import _FOLD, T2S, simplified_char

    converted = T2S.convert(text)
    if len(converted) != len(text):
        converted = "".join(simplified_char(c) for c in text)
    assert matching_form(text) == converted.translate(_FOLD)
