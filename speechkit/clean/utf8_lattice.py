"""UTF-8 bytes that a crawler decoded with the wrong codec and `errors='replace'`, read back.

Every character of the damaged line is re-encoded with the codec that produced it, which gives
the original bytes exactly, except where the codec wrote U+FFFD: there exactly one byte is lost
(CPython's GBK, GB18030 and cp1252 decoders replace one byte at a time). What the encodings
guarantee pins most of each lost byte:

- cp1252 only fails on its five undefined bytes 0x81 0x8D 0x8F 0x90 0x9D, all of them UTF-8
  continuation bytes: at most five candidates, and the byte's place is known;
- GB18030 (and GBK, whose characters it encodes with the same bytes) only fails on bytes
  >= 0x80; UTF-8's structure (a lead E0-EF opens three bytes, 80-BF continue them) says
  whether a lost byte opened a character or continued one.

The line is decoded with a Viterbi search over the lattice of characters those constraints
allow, scored with the character bigram model. The search is linear in the line: each lost
byte gives at most `MAX_CANDIDATES` characters. A character read from lost bytes is kept only
when the model prefers it clearly over every other candidate in its context (`MARGIN`);
otherwise it stays U+FFFD, visible and counted: the repair never writes a character that the
bytes and the model do not support.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache

from ..matching import simplified_char as _simple
from . import resources as R
from .charstats import char_stats, word_model

# cp1252 leaves these undefined; everything else it decodes
CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
LOST_BYTE_VALUES = {
    "gb18030": tuple(range(0x80, 0x100)),  # also GBK's: GB18030 is its superset, byte for byte
    "cp1252": CP1252_UNDEFINED,
}
# leads of the three-byte sequences Chinese text uses: 、。 (E3), Han (E4-E9), ，：（） (EF), —… (E2)
_LEADS = (0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEF)
MAX_CANDIDATES = 64
# log-odds (nats) by which a character read from lost bytes must beat the runner-up in its
# context; below it the character stays U+FFFD. Tuned on work reports, checked on held-out
# speeches and party documents (bench/damage.py prints both).
MARGIN = 5.0
SHORTLIST = 8  # candidates the word model re-ranks, the bigram model's best in context
WINDOW = 4  # characters each side the word model sees
# adjacent characters read from lost bytes are decided together while their readings number at
# most this many (three from cp1252's five bytes each, two from GBK's); longer runs stay U+FFFD
MAX_COMBOS = 216
STATES = 8  # readings of the previous character the search keeps (a beam over the lattice)
_ERROR = -25.0  # a byte that fits no character: one U+FFFD, at a price no real reading pays

# everyday punctuation with a prior (the character model is built from words, so has none)
_PUNCT_LOGP = {"，": -3.5, "。": -4.5, "、": -5.0, "：": -6.5, "；": -7.0, "“": -6.5, "”": -6.5,
               "（": -7.0, "）": -7.0, "《": -7.0, "》": -7.0, "—": -7.5, "…": -9.0, "！": -8.5,
               "？": -8.5, "·": -9.0, "【": -9.0, "】": -9.0, "「": -10.0, "」": -10.0}


@dataclass(frozen=True)
class LatticeReading:
    text: str       # the line read back; characters that could not be decided are U+FFFD
    errors: int     # bytes that fit no UTF-8 character (a sign the codec guess is wrong)


def _unigram(ch: str) -> float:
    if ch in _PUNCT_LOGP:
        return _PUNCT_LOGP[ch]
    if R.RE_HAN.match(ch):
        return char_stats().logp(_simple(ch))
    return -12.0 if ch.isascii() and ch.isprintable() else -16.0


@lru_cache(maxsize=200_000)
def _pair(prev: str, ch: str) -> float:
    """log P(ch | prev): the bigram model between Han characters, the unigram elsewhere."""
    if prev and R.RE_HAN.match(prev) and R.RE_HAN.match(ch):
        return char_stats().logp_next(_simple(prev), _simple(ch))
    return _unigram(ch)


def _wanted(ch: str) -> bool:
    return bool(R.RE_HAN.match(ch)) or ch in _PUNCT_LOGP


@lru_cache(maxsize=4096)
def _candidates(pattern: tuple[int | None, ...], lost: tuple[int, ...]) -> tuple[str, ...]:
    """Characters whose UTF-8 bytes fit `pattern` (None = a lost byte, one of `lost`), the most
    frequent first, at most MAX_CANDIDATES."""
    options: list[bytes] = [b""]
    for pos, b in enumerate(pattern):
        if b is not None:
            values: tuple[int, ...] = (b,)
        elif pos == 0:
            values = tuple(v for v in _LEADS if v in lost)
        else:
            values = tuple(v for v in lost if 0x80 <= v <= 0xBF)
        options = [o + bytes((v,)) for o in options for v in values]
    chars = set()
    for o in options:
        try:
            ch = o.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _wanted(ch):
            chars.add(ch)
    return tuple(sorted(chars, key=lambda c: (-_unigram(c), c))[:MAX_CANDIDATES])


def _length(lead: int) -> int:
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def line_slots(line: str, codec: str) -> list[int | None] | None:
    """The bytes `codec` read to produce `line`; None where it wrote U+FFFD (one lost byte).
    None if some character cannot have come from `codec`.

    >>> line_slots("å\\ufffd„", "cp1252")
    [229, None, 132]
    """
    slots: list[int | None] = []
    for ch in line:
        if ch == "\ufffd":
            slots.append(None)
            continue
        try:
            slots.extend(ch.encode(codec))
        except UnicodeEncodeError:
            return None
    return slots


def read_utf8(slots: list[int | None], codec: str) -> LatticeReading:
    """Decode `slots` as UTF-8, choosing lost bytes with the character model (Viterbi), and
    keep a character read from lost bytes only when it wins by `MARGIN` nats in its context.

    >>> read_utf8(line_slots("å…¨é\\ufffd¢å»ºæˆ\\ufffdå°\\ufffdåº·ç¤¾ä¼š", "cp1252"), "cp1252").text
    '全面建成小康社会'
    """
    lost = LOST_BYTE_VALUES[codec]
    n = len(slots)
    # best[i]: last character -> (score, previous position, previous character, character is
    # from lost bytes). Each position holds at most MAX_CANDIDATES states, so the search is
    # linear in the line with a constant factor of STATES * MAX_CANDIDATES at worst.
    best: list[dict[str, tuple[float, int, str, tuple[str, ...]]]] = [{} for _ in range(n + 1)]
    best[0][""] = (0.0, -1, "", ())
    for i in range(n):
        states = best[i]
        if not states:
            continue
        if len(states) > STATES:
            states = dict(sorted(states.items(), key=lambda kv: kv[1][0], reverse=True)[:STATES])
        b = slots[i]
        arcs: list[tuple[int, tuple[str, ...]]] = []  # (length, characters that fit)
        if b is not None and b < 0x80:
            arcs.append((1, (chr(b),)))
        else:
            for length in ((_length(b),) if b is not None else (3,)):
                if length < 2 or i + length > n:
                    continue
                pattern = tuple(slots[i:i + length])
                if any(x is not None and not 0x80 <= x <= 0xBF for x in pattern[1:]):
                    continue
                if None in pattern:
                    cands = _candidates(pattern, lost)
                else:
                    try:
                        cands = (bytes(pattern).decode("utf-8"),)  # type: ignore[arg-type]
                    except UnicodeDecodeError:
                        cands = ()
                if cands:
                    arcs.append((length, cands))
        # always a way on: one byte read as damage, at a price no real reading pays
        lead = max(states, key=lambda c: states[c][0])
        _relax(best[i + 1], "\ufffd", states[lead][0] + _ERROR, i, lead, slots[i] is None)
        scored = [(prev, st[0]) for prev, st in states.items()]
        for length, cands in arcs:
            target = best[i + length]
            guessed = len(cands) > 1 or None in slots[i:i + length]
            for ch in cands:
                if len(scored) == 1:
                    prev, score = scored[0]
                    _relax(target, ch, score + _pair(prev, ch), i, prev, guessed)
                    continue
                top, top_prev = -math.inf, ""
                for prev, score in scored:
                    value = score + _pair(prev, ch)
                    if value > top:
                        top, top_prev = value, prev
                _relax(target, ch, top, i, top_prev, guessed)
    # back-trace the best path
    path: list[tuple[str, bool]] = []
    ch = max(best[n], key=lambda c: best[n][c][0])
    i = n
    while i > 0:
        _, prev_i, prev_ch, mark = best[i][ch]
        path.append((ch, bool(mark)))
        i, ch = prev_i, prev_ch
    path.reverse()
    return _decide(path, lost, slots)


def _relax(target: dict[str, tuple[float, int, str, tuple[str, ...]]], ch: str, score: float, i: int,
           prev: str, guessed: bool) -> None:
    old = target.get(ch)
    if old is None or score > old[0]:
        target[ch] = (score, i, prev, (ch,) if guessed else ())


def _decide(path: list[tuple[str, bool]], lost: tuple[int, ...], slots: list[int | None]) -> LatticeReading:
    """Keep the characters read from lost bytes only where the word model prefers them clearly.

    Adjacent characters read from lost bytes are decided together (坚持 and 做持 explain the
    same bytes: one at a time, each would be judged against an unknown neighbour); runs longer
    than `MAX_COMBOS` readings allow stay U+FFFD. A run is kept when its best reading, in a
    window of known characters each side, beats every other reading by `MARGIN` nats. The word model knows
    开局之年 where the bigram model only knows 开局 and 之年."""
    words = word_model()
    items = []  # (character, from lost bytes, byte pattern)
    pos = 0
    for ch, from_lost in path:
        length = 1 if ch == "\ufffd" or ord(ch) < 0x80 else len(ch.encode("utf-8"))
        items.append((ch, from_lost and ch != "\ufffd", tuple(slots[pos:pos + length])))
        pos += length
    out = [ch if not from_lost else "\ufffd" for ch, from_lost, _ in items]
    errors = sum(1 for ch, _, pattern in items if ch == "\ufffd" and None not in pattern)
    # a line written in simplified characters gets no traditional ones from lost bytes (技朮
    # for 技术: the model reads both as 术, so it cannot tell which the bytes were)
    simplified = not any(_simple(ch) != ch for ch, from_lost, _ in items if not from_lost)
    k = 0
    while k < len(items):
        if not items[k][1]:
            k += 1
            continue
        end = k
        while end < len(items) and items[end][1]:
            end += 1
        size = _shortlist_size(end - k)
        if math.prod(min(len(_candidates(items[j][2], lost)), size) for j in range(k, end)) <= MAX_COMBOS:
            reading = _decide_run(words, items, out, k, end, lost, simplified)
            if reading:
                out[k:end] = reading
        k = end
    return LatticeReading("".join(out), errors)


def _shortlist_size(run: int) -> int:
    """Candidates per character the word model re-ranks: fewer when several are decided together."""
    return SHORTLIST if run == 1 else SHORTLIST // 2


def _decide_run(words, items, out: list[str], k: int, end: int, lost: tuple[int, ...],
                simplified: bool) -> list[str] | None:
    prev = out[k - 1] if k else ""
    nxt = out[end] if end < len(out) else ""
    shortlists = []
    for j in range(k, end):
        before = prev if j == k else ""
        after = nxt if j == end - 1 else ""

        def bigram(c: str, before: str = before, after: str = after) -> float:
            return _pair(before, c) + (_pair(c, after) if after and after != "\ufffd" else 0.0)

        shortlists.append(sorted(_candidates(items[j][2], lost), key=bigram, reverse=True)[:_shortlist_size(end - k)])
    left = "".join(out[max(0, k - WINDOW):k])
    right = "".join(out[end:end + WINDOW])
    scored = sorted(((_window_score(words, left, "".join(combo), right), combo)
                     for combo in itertools.product(*shortlists)), reverse=True)
    if not scored:
        return None
    best = list(scored[0][1])
    if len(scored) > 1 and scored[0][0] - scored[1][0] < MARGIN:
        return None
    if simplified and any(_simple(c) != c for c in best):
        return None
    # numerals and punctuation are not predictable from their neighbours (四十六 or 四十八,
    # ，or ：): never choose between two of the same kind
    for j, c in enumerate(best):
        if _kind(c) != "han" and any(_kind(o) == _kind(c) and o != c for o in shortlists[j]):
            best[j] = "\ufffd"
    return best


_NUMERALS = set("〇零一二三四五六七八九十百千万亿两")


def _kind(ch: str) -> str:
    if ch in _NUMERALS:
        return "numeral"
    if ch in _PUNCT_LOGP:
        return "punctuation"
    return "han"


def _window_score(words, left: str, middle: str, right: str) -> float:
    """Word-model log-probability of `left + middle + right`; punctuation (which the word
    list lacks) splits the window and contributes its own prior."""
    text = left + middle + right
    score = 0.0
    start = 0
    for i, c in enumerate(text):
        if c in _PUNCT_LOGP:
            score += words.score(_simple_all(text[start:i])) + _PUNCT_LOGP[c]
            start = i + 1
    return score + words.score(_simple_all(text[start:]))


def _simple_all(text: str) -> str:
    return "".join(_simple(c) for c in text)
