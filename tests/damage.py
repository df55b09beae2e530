"""Damaged copies of real texts, made the way real crawls damage them, and a scorer that says
how much of the original a repair got back and whether it wrote characters the bytes do not
support. Used by tests/test_damage.py and bench/damage.py.

Every kind keeps newlines (they are ASCII bytes in every encoding involved), so a damaged text
lines up with its original line by line.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HAN = re.compile(r"[\u4e00-\u9fff]")


def _utf8_read_as(codec: str) -> Callable[[str, random.Random], str]:
    def damage(text: str, rng: random.Random) -> str:
        return text.encode("utf-8").decode(codec, errors="replace")
    return damage


def _gbk_lost_bytes(text: str, rng: random.Random) -> str:
    """A GBK file that lost one byte in about every 400 (a misaligned double-byte run)."""
    raw = bytearray(text.encode("gb18030"))
    for pos in sorted(rng.sample(range(len(raw)), max(1, len(raw) // 400)), reverse=True):
        if raw[pos] >= 0x80:
            del raw[pos]
    return bytes(raw).decode("gbk", errors="replace")


def _every_fifth_replaced(text: str, rng: random.Random) -> str:
    return "".join("\ufffd" if i % 5 == 4 and c != "\n" else c for i, c in enumerate(text))


def _question_between_han(text: str, rng: random.Random) -> str:
    return re.sub(r"(?<=[\u4e00-\u9fff])(?=[\u4e00-\u9fff])", "?", text)


def _gbk_read_as_latin1(text: str, rng: random.Random) -> str:
    return text.encode("gb18030").decode("latin-1")


# text-level damage: the cleaner is what must repair it
KINDS: dict[str, Callable[[str, random.Random], str]] = {
    "utf8_as_gbk": _utf8_read_as("gbk"),
    "utf8_as_gb18030": _utf8_read_as("gb18030"),
    "utf8_as_cp1252": _utf8_read_as("cp1252"),
    "gbk_as_latin1": _gbk_read_as_latin1,
    "gbk_lost_bytes": _gbk_lost_bytes,
    "fffd_every_5th": _every_fifth_replaced,
    "question_between_han": _question_between_han,
}

# byte-level damage: decoding is what must get the text back
BYTE_KINDS: dict[str, Callable[[str], bytes]] = {
    "utf8_bom": lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
    "utf16_bom": lambda t: t.encode("utf-16"),
    "utf16le_no_bom": lambda t: t.encode("utf-16-le"),
    "gb18030": lambda t: t.encode("gb18030"),
    "big5": lambda t: t.encode("big5", errors="replace"),
}


def texts(corpus: Path, *, per_source: int = 2, max_chars: int = 9000) -> list[tuple[str, str]]:
    """(name, text) from several kinds of source: national and local work reports, speeches,
    party documents, each cut at a line end near `max_chars` (about 25 KB of UTF-8)."""
    picks = []
    for folder in ("gov-reports/政府工作报告-国务院", "gov-reports", "speeches", "party-docs/党代会报告"):
        files = sorted(p for p in (corpus / folder).rglob("*") if p.suffix in (".txt", ".md"))
        rng = random.Random(folder)
        for path in rng.sample(files, min(per_source, len(files))):
            text = path.read_text("utf-8-sig", errors="replace").replace("\r\n", "\n")
            text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
            if len(text) > max_chars:
                text = text[: text.rfind("\n", 0, max_chars)]
            picks.append((f"{folder}/{path.name}", text))
    return picks


@dataclass
class Score:
    chars: int = 0          # characters in the original
    damaged_ok: int = 0     # of them, still right in the damaged text
    repaired_ok: int = 0    # of them, right after repair
    written: int = 0        # characters the repair wrote (not in the damaged text at that place)
    invented: int = 0       # of those, neither right nor visibly marked as lost (U+FFFD)
    marked: int = 0         # U+FFFD in the repaired text

    def add(self, other: Score) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def recovery(self) -> float:
        return self.repaired_ok / max(1, self.chars)

    @property
    def before(self) -> float:
        return self.damaged_ok / max(1, self.chars)


def _equal_positions(a: str, b: str) -> set[int]:
    """Positions of `b` that line up with an equal character of `a`."""
    out: set[int] = set()
    for op, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.update(range(j1, j2))
    return out


def score(original: str, damaged: str, repaired: str) -> Score:
    """Compare line by line: how much of the original is back, and what the repair wrote that
    is neither the original character nor a visible U+FFFD (an invented character)."""
    s = Score()
    olines, dlines, rlines = original.split("\n"), damaged.split("\n"), repaired.split("\n")
    if not len(olines) == len(dlines) == len(rlines):
        raise AssertionError("a repair must keep the line structure")
    for o, d, r in zip(olines, dlines, rlines, strict=True):
        s.chars += len(o)
        s.damaged_ok += len(_equal_positions(o, d))
        right = _equal_positions(o, r)
        s.repaired_ok += len(right)
        written = set(range(len(r))) - _equal_positions(d, r)
        s.written += len(written)
        s.marked += r.count("\ufffd")
        s.invented += sum(1 for j in written - right if r[j] != "\ufffd")
    return s
