"""Damaged copies of real texts (tests/damage.py): what the repair gets back, that it never
writes characters the bytes do not support, and that no damage makes cleaning slow."""

from __future__ import annotations

import random
import time

import pytest

from speechkit.clean import clean_text, repair_encoding
from speechkit.decode import decode_bytes

from .damage import BYTE_KINDS, KINDS, score, texts

# share of the original's characters that must be right after repair (measured with
# bench/damage.py on 8 texts: gbk 0.94, gb18030 0.97, cp1252 0.95, gbk as Latin-1 0.99)
RECOVERY = {"utf8_as_gbk": 0.85, "utf8_as_gb18030": 0.9, "utf8_as_cp1252": 0.85, "gbk_as_latin1": 0.98,
            "gbk_lost_bytes": 0.95}
# nothing can be recovered from these: the repair must leave them as they are
HOPELESS = ("fffd_every_5th", "question_between_han")
# a pathological input must not take minutes (the budget in bench/damage.py is 50 ms per KB;
# this guard leaves room for a slow CI machine and fails on the beam search it replaced,
# which took more than 10 minutes on 26 KB)
MS_PER_KB = 250


@pytest.fixture(scope="module")
def sample(corpus):
    repair_encoding("浣犲ソ锛屽悇浣嶄唬琛\ufffd")  # load the character model outside the timings
    picked = texts(corpus, per_source=1, max_chars=6000)
    return [picked[0], picked[-1]]  # a work report and a held-out party document


@pytest.mark.parametrize("kind", list(KINDS))
def test_repair_recovers_and_never_invents(kind, sample):
    for name, text in sample:
        damaged = KINDS[kind](text, random.Random(name))
        repaired = repair_encoding(damaged)
        s = score(text, damaged, repaired)
        print(f"{kind} {name}: {s.before:.3f} -> {s.recovery:.3f}, invented {s.invented}, U+FFFD {s.marked}")
        if kind in HOPELESS:
            assert repaired == damaged
            continue
        assert s.recovery >= RECOVERY[kind], name
        # a character read from lost bytes is either the original one or a visible U+FFFD;
        # the language model may still be wrong on a rare name: at most 1 in 1,000
        assert s.invented <= max(1, s.chars // 1000), name


@pytest.mark.parametrize("kind", list(KINDS))
def test_cleaning_damaged_text_is_fast(kind, sample):
    name, text = sample[0]
    damaged = KINDS[kind](text, random.Random(name))
    kb = len(damaged.encode("utf-8")) / 1024
    start = time.process_time()
    clean_text(damaged)
    ms_per_kb = (time.process_time() - start) * 1000 / kb
    print(f"{kind}: {ms_per_kb:.1f} ms/KB over {kb:.0f} KB")
    assert ms_per_kb < MS_PER_KB


@pytest.mark.parametrize("kind", list(BYTE_KINDS))
def test_byte_level_damage_decodes_exactly(kind, sample):
    for _, text in sample:
        data = BYTE_KINDS[kind](text)
        expected = data.decode("big5") if kind == "big5" else text  # Big5 lacks some characters
        assert decode_bytes(data).text.replace("\r\n", "\n") == expected


def test_a_simplified_line_gets_no_traditional_character_from_lost_bytes(corpus):
    # the 1983 national report read as GBK lost a byte of 术 in 尖端技术: 朮 fits the bytes left and
    # the character model reads it as 术, so only the line's own script can rule it out
    path = corpus / "gov-reports" / "政府工作报告-国务院" / "1983.md"
    line = next(x for x in path.read_text("utf-8").splitlines() if "尖端技术以及基础研究" in x)
    repaired = repair_encoding(line.encode("utf-8").decode("gbk", errors="replace"))
    from speechkit.matching import simplified_char
    assert all(simplified_char(c) == c for c in repaired), [c for c in repaired if simplified_char(c) != c]
