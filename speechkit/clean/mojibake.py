"""Repairs for text that went through the wrong decoder. Each is a pure `str -> str` step.

GBK damage is repaired by re-encoding the damaged run and decoding it again, choosing among
the readings with character statistics (see `speechkit.clean.charstats`). Runs without a
damage marker (U+FFFD, a `?` wedged between Han characters, 锟斤拷) are never touched, so rare
but real characters (亳州, 犇, 堃) stay as they are.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache

import ftfy

from ..matching import simplified_char as _simplified
from . import resources as R
from .charstats import char_stats, word_model

_GBK_DOUBLE = re.compile(rb"[\x81-\xfe][\x40-\x7e\x80-\xfe]")


def remove_pinyin_annotations(text: str) -> str:
    """Drop pinyin that a site injected after characters.

    >>> remove_pinyin_annotations("要認(rèn)清營商環(huán)境 (GDP)")
    '要認清營商環境 (GDP)'
    """
    return R.RE_PINYIN_BROKEN.sub("", R.RE_PINYIN.sub("", text))


def mark_kunjinkao(text: str) -> str:
    """锟斤拷 is two U+FFFD written as UTF-8 and read as GBK: turn it back into U+FFFD.

    >>> mark_kunjinkao("代表锟斤拷们")
    '代表\\ufffd\\ufffd们'
    """
    return R.RE_KUNJINKAO.sub(lambda m: "\ufffd\ufffd" * (len(m.group()) // 3), text)


def _han_share(text: str) -> float:
    return sum(bool(R.RE_HAN.match(c)) for c in text) / max(1, len(text))


def _plausibility(text: str) -> float:
    """Mean log-probability per Han character under the character bigram model."""
    stats = char_stats()
    han = [_simplified(c) for c in text if R.RE_HAN.match(c)]
    if not han:
        return -30.0
    score = stats.logp(han[0])
    for a, b in itertools.pairwise(han):
        score += stats.logp_next(a, b)
    return score / len(han)


# UTF-8 read as cp1252/Latin-1: the lead bytes of Chinese (E2-E9, EF) show as these letters
_UTF8_AS_LATIN = re.compile("[âãäåæçèéï][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                            "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039"
                            "\u203a\u20ac\u2122\ufffd]")


@lru_cache(maxsize=1)
def _gbk_lead_chars() -> re.Pattern[str]:
    """The GBK characters one of whose two bytes is a UTF-8 lead byte (E3-E9, EF): about
    2,700 of them, as one character class, so a line is measured in C, not char by char."""
    chars = set()
    for lead in range(0x81, 0xFF):
        for trail in range(0x40, 0xFF):
            raw = bytes((lead, trail))
            if trail == 0x7F or not any(0xE3 <= x <= 0xE9 or x == 0xEF for x in raw):
                continue
            with contextlib.suppress(UnicodeDecodeError):
                ch = raw.decode("gb18030")
                if len(ch) == 1 and ch.encode("gb18030") == raw:
                    chars.add(ch)
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")


_ASCII_OR_FFFD = re.compile("[\x00-\x7f\ufffd]")


def _looks_utf8_as_gbk(line: str) -> bool:
    """UTF-8 Chinese read as GBK puts a UTF-8 lead byte (E3-E9, EF) in two of every three
    double-byte characters; in real Chinese text about 1 in 10 GBK characters has such a byte.

    >>> _looks_utf8_as_gbk("鏀垮簻宸ヤ綔鎶ュ憡"), _looks_utf8_as_gbk("政府工作报告")
    (True, False)
    """
    leads = len(_gbk_lead_chars().findall(line))
    # what is left without ASCII and U+FFFD is the double-byte part (counted by removing, not
    # by listing every character: a findall over a whole report took 3 ms of every clean)
    return leads >= 3 and leads >= 0.4 * len(_ASCII_OR_FFFD.sub("", line))


def _utf8_mojibake_codec(line: str, *, looks_gbk: bool, text_is_gbk: bool) -> str | None:
    """The codec that may have produced `line` from UTF-8, if any. In a text where that
    damage is established, every line with a non-ASCII character is tried (a short line may
    not show enough lead bytes); acceptance still needs a clearly more natural reading."""
    if looks_gbk or (text_is_gbk and not line.isascii()):
        return "gb18030"  # a superset of GBK with the same bytes for GBK's characters
    if len(_UTF8_AS_LATIN.findall(line)) >= 2:
        return "cp1252"
    return None


# what cp1252 can have produced: a line may mix real Chinese with mojibake
_CP1252_RUNS = re.compile(r"([^\x00-\xff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6"
                          r"\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
                          r"\u20ac\u2122\ufffd]+)")


def _repair_utf8_line(line: str, codec: str) -> str:
    """The reading of `line` as UTF-8 bytes decoded with `codec`, or `line` itself when that
    reading does not fit the bytes or is not clearly more natural than what is there."""
    from .utf8_lattice import line_slots, read_utf8

    if codec == "cp1252":
        parts = _CP1252_RUNS.split(line)  # each run cp1252 can encode is read on its own
        slots = [line_slots(p, codec) if i % 2 == 0 and _UTF8_AS_LATIN.search(p) else None
                 for i, p in enumerate(parts)]
        readings = [read_utf8(sl, codec) if sl is not None else None for sl in slots]
        text = "".join(r.text if r else p for r, p in zip(readings, parts, strict=True))
        errors = sum(r.errors for r in readings if r)
    else:
        slots = line_slots(line, codec)
        if slots is None:
            return line
        reading = read_utf8(slots, codec)
        text, errors = reading.text, reading.errors
    if errors > max(1, len(text) // 50):
        return line  # bytes that fit no UTF-8 character: this codec did not produce the line
    known = "".join(c for c in text if not c.isascii() and c != "\ufffd")
    if _han_share(known) < 0.5 or _plausibility(known) < _plausibility(line) + 1.0:
        return line
    return text


def repair_utf8_mojibake(text: str) -> str:
    """UTF-8 bytes decoded as GBK, GB18030 or cp1252, lost bytes included, read back line by
    line (see `speechkit.clean.utf8_lattice`). A character whose lost bytes the model cannot
    decide stays U+FFFD: visible, counted, never invented.

    >>> repair_utf8_mojibake("浣犲ソ锛屽悇浣嶄唬琛\ufffd")
    '你好，各位代表'
    >>> repair_utf8_mojibake("å…¨é\ufffd¢å»ºæˆ\ufffdå°\ufffdåº·ç¤¾ä¼š")
    '全面建成小康社会'
    >>> repair_utf8_mojibake("æˆ‘ä»¬è¦\ufffdå\ufffdšæŒ\ufffdæ”¹é\ufffd©å¼€æ”¾")  # 要坚持: 3 bytes lost, undecided
    '我们\ufffd\ufffd\ufffd改革开放'
    """
    if not _UTF8_AS_LATIN.search(text) and not _looks_utf8_as_gbk(text):
        return text
    lines = text.split("\n")
    looks = [_looks_utf8_as_gbk(line) for line in lines]
    text_is_gbk = sum(looks) >= 3
    out = []
    for line, looks_gbk in zip(lines, looks, strict=True):
        codec = _utf8_mojibake_codec(line, looks_gbk=looks_gbk, text_is_gbk=text_is_gbk)
        out.append(_repair_utf8_line(line, codec) if codec else line)
    return "\n".join(out)


def repair_latin1_mojibake(text: str) -> str:
    """Runs of Latin-1/cp1252 letters that are really Chinese: UTF-8 or GBK bytes read as
    Latin-1. ftfy handles the UTF-8 case (only on these runs, so it never touches Chinese
    punctuation); GBK read as Latin-1 is re-decoded here because ftfy cannot.

    >>> repair_latin1_mojibake("他说：ÄãºÃ£¬¸÷Î»´ú±í")
    '他说：你好，各位代表'
    """
    def fix(m: re.Match[str]) -> str:
        run = m.group()
        candidates = [ftfy.fix_encoding(run)]
        for enc in ("latin-1", "cp1252"):
            with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
                candidates.append(run.encode(enc).decode("gb18030"))
        best = run
        for cand in candidates:
            if cand != run and _han_share(cand) >= 0.5 and _plausibility(cand) > -11.0 and (
                best is run or _plausibility(cand) > _plausibility(best)
            ):
                best = cand
        return best

    return R.RE_LATIN1_RUN.sub(fix, text)


# --- misaligned GBK -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Slot:
    """One byte of a damaged run: known, or a wildcard (value lost to a replacement char)."""

    value: int | None


@lru_cache(maxsize=1)
def _gbk_tables() -> tuple[list[tuple[bytes, str]], dict[int, list[tuple[int, str]]],
                           dict[int, list[tuple[int, str]]]]:
    """Plausible double-byte GBK characters: all of them by lead byte and by trail byte,
    and the most frequent ones for positions where both bytes were lost."""
    stats = char_stats()
    by_lead: dict[int, list[tuple[int, str]]] = {}
    by_trail: dict[int, list[tuple[int, str]]] = {}
    common: list[tuple[float, bytes, str]] = []
    for lead in range(0x81, 0xFF):
        for trail in itertools.chain(range(0x40, 0x7F), range(0x80, 0xFF)):
            b = bytes((lead, trail))
            try:
                ch = b.decode("gbk")
            except UnicodeDecodeError:
                continue
            if not R.RE_HAN.match(ch) and ch not in "，。、；：？！“”（）《》—…":
                continue
            by_lead.setdefault(lead, []).append((trail, ch))
            by_trail.setdefault(trail, []).append((lead, ch))
            common.append((stats.logp(_simplified(ch)), b, ch))
    common.sort(reverse=True)
    return [(b, ch) for _, b, ch in common[:_COMMON_PAIRS]], by_lead, by_trail


_WILDCARD_COST = 2.0  # prior against explanations that invent many unknown bytes
# Bounds that keep the repair linear in the text: a position where both bytes were lost is
# tried with the most frequent characters only; a site is repaired only when it is an
# isolated loss (few markers around it; dense damage is lost data, not a shifted byte); and
# the number of sites per text grows with its length.
_COMMON_PAIRS = 150
_BEAM = 16
_DENSE = 3  # markers within _DENSE_SPAN characters either side: too many to be one lost byte
_DENSE_SPAN = 20
_CHARS_PER_SITE = 300
# how much better (word-model log-probability per character) a reading must be to replace a run
_GAIN = 3.0
_GAIN_TWICE_MARKED = 0.5


def _beam_decode(slots: list[_Slot], prev: str, nxt: str, width: int = _BEAM) -> list[str]:
    """Readings of `slots` as double-byte GBK (plus ASCII bytes): a beam search under the
    character bigram model, which only has to keep the right reading among its finalists;
    the word model ranks them."""
    stats = char_stats()
    common, by_lead, by_trail = _gbk_tables()
    beams: list[tuple[float, int, str]] = [(0.0, 0, "")]
    done: list[tuple[float, str]] = []
    while beams:
        nxt_beams: list[tuple[float, int, str]] = []
        for score, pos, out in beams:
            if pos == len(slots):
                last = _simplified(out[-1]) if out else prev
                done.append((score + (stats.logp_next(last, nxt) if nxt else 0.0), out))
                continue
            a = slots[pos].value
            last = _simplified(out[-1]) if out else prev
            if a is not None and a < 0x80:
                if 0x20 <= a < 0x7F:
                    nxt_beams.append((score - 6.0, pos + 1, out + chr(a)))
                continue
            if pos + 1 >= len(slots):
                continue
            b = slots[pos + 1].value
            if a is not None and b is not None:
                try:
                    options = [bytes((a, b)).decode("gbk")]
                except UnicodeDecodeError:
                    continue
            elif a is not None:
                options = [ch for _, ch in by_lead.get(a, [])]
            elif b is not None:
                options = [ch for _, ch in by_trail.get(b, [])]
            else:
                options = [ch for _, ch in common]
            cost = _WILDCARD_COST * ((a is None) + (b is None))
            for ch in options:
                step = stats.logp_next(last, _simplified(ch)) - cost
                nxt_beams.append((score + step, pos + 2, out + ch))
        nxt_beams.sort(reverse=True)
        beams = nxt_beams[:width]
    return [o for _, o in sorted(done, reverse=True) if o]


# How a `?` may have come about: the GBK bytes of a full-width ？ folded to ASCII, or one or
# two bytes the decoder could not read.
_QUESTION_READINGS: tuple[tuple[_Slot, ...], ...] = (
    (_Slot(0xA3), _Slot(0xBF)), (_Slot(None), _Slot(None)), (_Slot(None),),
)


def _run_slots(run: str, question: tuple[_Slot, ...]) -> list[_Slot] | None:
    slots: list[_Slot] = []
    for ch in run:
        if ch == "\ufffd":
            slots.append(_Slot(None))
        elif ch == "?":
            slots.extend(question)
        else:
            try:
                slots.extend(_Slot(b) for b in ch.encode("gbk"))
            except UnicodeEncodeError:
                return None
    return slots


_DAMAGE = re.compile(rf"\ufffd|(?<=[{R.HAN}\ufffd])\?|\?(?=[{R.HAN}\ufffd])")
_PUNCT_OK = set("，。、；：？！“”（）《》—…")


def _count(ch: str) -> int:
    return char_stats().unigram.get(_simplified(ch), 0)


def _suspicious(ch: str) -> bool:
    if ch in "\ufffd?":
        return True
    if ch.isascii() and ch.isalpha():
        return True
    return bool(R.RE_HAN.match(ch)) and _count(ch) < 20000


def _is_damage(text: str, m: re.Match[str]) -> bool:
    """A marker next to characters almost never seen in real text (or next to the other kind
    of marker); so the question mark in 这是什么?我不知道 stays."""
    window = text[max(0, m.start() - 3): m.end() + 3]
    # a lost byte between everyday characters is just lost (as the UTF-8 repair leaves it); a
    # shifted GBK run shows as rare characters or the other kind of marker next to it
    other = "?" if m.group() == "\ufffd" else "\ufffd"
    return other in window or any(R.RE_HAN.match(c) and _count(c) < 3000 for c in window)


def _reading_score(text: str, wildcards: int) -> float:
    """Word-model log-probability per character, less the prior against unknown bytes."""
    simple = "".join(_simplified(c) for c in text)
    return (word_model().score(simple) - _WILDCARD_COST * wildcards) / max(1, len(text))


def _mark_residue(decoded: str) -> str:
    # a byte lost without trace leaves a stray digit or symbol between Han characters:
    # show it as U+FFFD (counted and flagged) rather than as a made-up character
    chars = list(decoded)
    for i, ch in enumerate(chars):
        if not R.RE_HAN.match(ch) and ch not in _PUNCT_OK:
            chars[i] = "\ufffd"
    return "".join(chars)


def repair_misaligned_gbk(text: str) -> str:
    """Re-decode runs damaged by a lost or extra GBK byte, shifted by one byte.

    A lost byte turns the rest of a run into rare characters until an ASCII byte resyncs the
    decoder: 嚴格日常考核 became 嚴格日�?己�. The damaged run is re-encoded, its replacement
    characters become unknown bytes, and the most natural reading is kept if it is clearly
    better than what was there.

    >>> repair_misaligned_gbk("二是嚴格日\ufffd?己\ufffd")
    '二是嚴格日常考核'
    """
    if "\ufffd" not in text and "?" not in text:
        return text
    # lines of UTF-8 read as GBK are the other repair's: guessing GBK characters into them
    # would write plausible words into garbage
    skip = {n for n, line in enumerate(text.split("\n")) if _looks_utf8_as_gbk(line)}
    starts = list(itertools.accumulate(len(line) + 1 for line in text.split("\n")))
    out: list[str] = []
    pos = 0
    budget = 5 + len(text) // _CHARS_PER_SITE
    for m in _DAMAGE.finditer(text):
        if m.start() < pos or not _is_damage(text, m):
            continue
        if skip and bisect.bisect_right(starts, m.start()) in skip:
            continue
        around = text[max(0, m.start() - _DENSE_SPAN): m.end() + _DENSE_SPAN]
        if around.count("\ufffd") + around.count("?") > _DENSE:
            continue
        budget -= 1
        if budget < 0:
            break
        start, end = m.start(), m.end()
        # widen over neighbouring garbage: rare characters, stray letters, more markers
        while start > pos and start > m.start() - 4 and _suspicious(text[start - 1]):
            start -= 1
        while end < len(text) and end < m.end() + 16 and any(
            _suspicious(c) for c in text[end:end + 3] if c != "\n"
        ) and text[end] != "\n":
            end += 1
        while end > m.end() and not _suspicious(text[end - 1]):
            end -= 1
        left = text[max(0, start - 4):start]
        right = text[end:end + 4].split("\n")[0]
        best: tuple[float, int, str] | None = None
        for s in sorted({start, m.start()}):
            run = text[s:end]
            prev = _simplified(text[s - 1]) if s > 0 else ""
            nxt = _simplified(text[end]) if end < len(text) and R.RE_HAN.match(text[end]) else ""
            for question in _QUESTION_READINGS if "?" in run else _QUESTION_READINGS[:1]:
                slots = _run_slots(run, question)
                if not slots:
                    continue
                for shift in (0, 1, -1):
                    trial = slots[shift:] if shift > 0 else ([_Slot(None), *slots] if shift < 0 else slots)
                    wild = sum(sl.value is None for sl in trial)
                    for cand in _beam_decode(trial, prev, nxt):
                        score = _reading_score(left + text[start:s] + cand + right, wild)
                        if best is None or score > best[0]:
                            best = (score, s, cand)
        if best is None:
            continue
        decoded = _mark_residue(best[2])
        han = [c for c in decoded if R.RE_HAN.match(c)]
        before = _reading_score(left + text[start:end].replace("\ufffd", "").replace("?", "") + right, 0)
        # a run marked both ways (U+FFFD and a `?`, as a GBK decoder leaves a lost byte) is
        # damage twice attested; a lone marker needs a much clearer gain: on GBK with lost
        # bytes (bench/damage.py) a gain of 1.5 wrote 183 characters of which 18 were wrong,
        # 2.0 wrote 109 with 6 wrong, 3.0 wrote 14 with none wrong (tuned on work reports,
        # the same on held-out speeches and party documents)
        run = text[start:end]
        need = _GAIN_TWICE_MARKED if "?" in run and "\ufffd" in run else _GAIN
        if len(han) >= 2 and best[0] > before + need:
            out.append(text[pos:best[1]])
            out.append(decoded)
            pos = end
    out.append(text[pos:])
    return "".join(out)

