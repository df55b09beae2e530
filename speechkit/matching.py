"""The matching form of a text: what segmentation, search and counting see.

Simplified script, ASCII width, lower case, and the same length as the text, so an offset in one
is an offset in the other. Its own module so that a query can be normalised without importing
the cleaner.
"""

from __future__ import annotations

from functools import lru_cache

import opencc

T2S = opencc.OpenCC("t2s")  # the one traditional-to-simplified converter

# width folding and case folding as one translation table: full-width ASCII (Ａ，１) to
# ASCII, the ideographic space to a space, A-Z to a-z. Every mapping is one character to one
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FOLD.update({0x3000: 0x20})
_FOLD.update({cp: cp + 32 for cp in range(0x41, 0x5B)})
_FOLD.update({cp: cp - 0xFEE0 + 32 for cp in range(0xFF21, 0xFF3B)})


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
    return converted.translate(_FOLD)
