"""Decoding: strict candidates in order, GB18030 for GB2312 files, Big5, UTF-16, BOMs,
and the round trip decode(encode(s)) == s on real text."""

from __future__ import annotations

import codecs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speechkit.decode import decode_bytes
from speechkit.errors import DocumentProblem

from .conftest import SHARED


def _real_lines() -> list[str]:
    lines = []
    for path in sorted((SHARED / "gov-reports" / "政府工作报告-国务院").glob("20*.md"))[:6]:
        lines += [x for x in path.read_text("utf-8").split("\n") if len(x) > 20]
    for path in sorted((SHARED / "speeches").glob("*.txt"))[:6]:
        lines += [x.strip() for x in path.read_text("utf-8-sig").split("\n") if len(x.strip()) > 20]
    return lines


REAL = _real_lines()


def test_gb2312_files_decode_as_gb18030(corpus):
    for path in sorted((corpus / "gbk").glob("*.txt")):
        d = decode_bytes(path.read_bytes())
        assert d.encoding == "gb18030" and not d.lossy
        assert "政" in d.text and "\r\n" in d.text


def test_bom_utf8_speeches(corpus):
    path = sorted((corpus / "speeches").glob("*.txt"))[0]
    d = decode_bytes(path.read_bytes())
    assert d.encoding == "utf-8" and not d.text.startswith("\ufeff")


def test_big5_is_not_mistaken_for_gb18030(corpus):
    text = "今天，我們在這裡召開縣開放工作領導小組第二次全體會議，主要任務是進一步分解全縣招商引資目標任務。"
    d = decode_bytes(text.encode("big5"))
    assert d.encoding == "big5" and d.text == text


def test_utf16_without_bom():
    text = REAL[0]
    assert decode_bytes(text.encode("utf-16-le")).text == text


@pytest.mark.parametrize("data,reason", [(b"", "empty"), (b"\x00\x01\x02\x03" * 100, "binary")])
def test_bad_bytes_are_a_document_problem(data, reason):
    with pytest.raises(DocumentProblem, match=reason):
        decode_bytes(data)


ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-32"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REAL), st.integers(0, 40), st.integers(10, 200), st.sampled_from(ENCODINGS))
def test_round_trip_on_real_text(line, start, length, encoding):
    s = line[start:start + length]
    if len(s) < 10:
        s = line
    assert decode_bytes(s.encode(encoding)).text == s


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(REAL))
def test_round_trip_big5_for_traditional_text(line):
    from opencc import OpenCC

    trad = OpenCC("s2t").convert(line)
    try:
        data = trad.encode("big5")
    except UnicodeEncodeError:
        return  # characters outside Big5 cannot be written in it at all
    assert decode_bytes(data).text == trad


def test_bom_table_is_complete():
    assert decode_bytes(codecs.BOM_UTF16_BE + "代表".encode("utf-16-be")).text == "代表"
