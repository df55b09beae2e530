"""The matching form of a text: what segmentation, search and counting see.

Simplified script, ASCII width, lower case, and the same length as the text, so an offset in one
is an offset in the other. Its own module so that a query can be normalised without importing
the cleaner.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

T2S = opencc.OpenCC("t2s")  # the one traditional-to-simplified converter

# width folding and case folding as one translation table: full-width ASCII (Ａ，１) to
# ASCII, the ideographic space to a space, A-Z to a-z. Every mapping is one character to one
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20})
_FOLD.update({cp: cp + 32 for cp in range(0x41, 0x5B)})
_FOLD.update({cp: cp - 0xFEE0 + 32 for cp in range(0xFF21, 0xFF3B)})


# str.translate looks every character up in the table (about 200 ns each); the characters it
# changes are rare in Chinese text, so they are found by a regex and only they are replaced
_FOLD_STR = {chr(a): chr(b) for a, b in _FOLD.items()}
_FOLDABLE = re.compile("[" + "".join(re.escape(c) for c in sorted(_FOLD_STR)) + "]")


def _fold(text: str) -> str:
    found = len(_FOLDABLE.findall(text))
    if found * 20 > len(text):  # mostly Latin or full-width text: the table is cheaper
        return text.translate(_FOLD)
    return _FOLDABLE.sub(lambda m: _FOLD_STR[m.group()], text) if found else text


@lru_cache(maxsize=65536)
def simplified_char(ch: str) -> str:
    """One character in simplified script (itself where OpenCC would change the length).

    >>> simplified_char("營"), simplified_char("亳")
    ('营', '亳')
    """
    simple = T2S.convert(ch)
    return simple if len(simple) == 1 else ch


def matching_form(text: str) -> str:
    """Simplified, width-folded, lower-cased; the same length as `text`, so an offset in one
    is an offset in the other (full NFKC is not used: it can change the length).

    >>> matching_form("認清營商環境，ＧＤＰ２０２４")
    '认清营商环境,gdp2024'
    """
    converted = T2S.convert(text)
    if len(converted) != len(text):  # a phrase rule changed the length: go char by char
        converted = "".join(simplified_char(c) for c in text)
    return _fold(converted)
