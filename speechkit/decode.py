"""Bytes to text. Strict candidates in a fixed order; the first strict success wins.

Order: BOM, UTF-8, GB18030, Big5, UTF-16, then charset-normalizer (recorded as lossy if it
needed replacement characters). GB2312 and GBK are never used as labels: GB18030 is their
superset, and real "GB2312" files routinely contain GBK-only characters.
"""

from __future__ import annotations

import codecs
import logging
import re

from charset_normalizer import from_bytes

from .documents import Decoded
from .errors import DocumentProblem

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Characters any real Chinese text is full of. Used only to choose between GB18030 and Big5,
# which both accept most double-byte sequences, so "strict success" cannot tell them apart.
_COMMON = set(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之"
    "年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理"
    "心她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高"
    "间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老"
    "给世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女"
    "变四神总何电数安少报才结反受目太量再感建务做接必场件计管期市直德资命山金指克许统区保至队形"
    "社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象完设式色路记南品住告类求据程"
    "北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每"
    "济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质"
    "團們個來時會說對過還這發後國經動實現與為關開進產體當點學將應從種並話長區務領導設總項環營縣"
)

_CANDIDATES = ("utf-8", "gb18030", "big5")


def _common_ratio(text: str) -> float:
    """Share of everyday characters among the non-ASCII letters (private-use and rare
    characters count against a reading)."""
    wide = [c for c in text if ord(c) > 0x7F and (c.isalpha() or "\ue000" <= c <= "\uf8ff")]
    if not wide:
        return 0.0
    return sum(c in _COMMON for c in wide) / len(wide)


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def _has_controls(text: str) -> bool:
    return len(_CONTROLS.findall(text)) > len(text) // 20


def _utf16(data: bytes) -> Decoded | None:
    """UTF-16 without a BOM, accepted only when it reads as natural Chinese."""
    if len(data) < 4 or len(data) % 2:
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        text = _strict(data, encoding)
        if text is not None and not _has_controls(text) and _common_ratio(text) > 0.3:
            return Decoded(text, "utf-16")
    return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_bytes(data: bytes) -> Decoded:
    """Decode with the first strict success and say which encoding won.

    >>> decode_bytes("各位代表".encode("gb18030")).encoding
    'gb18030'
    >>> decode_bytes("\\ufeff各位代表".encode("utf-8")).text
    '各位代表'
    """
    if not data:
        raise DocumentProblem("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict(data, encoding)
            if text is not None:
                return Decoded(text.lstrip("\ufeff"), encoding.replace("-sig", ""))
    if b"\x00" in data[:4096]:
        # NUL bytes: UTF-16 text written without a BOM, or a binary file
        wide = _utf16(data)
        if wide is not None:
            return wide
        raise DocumentProblem("binary file (NUL bytes), not text")
    for encoding in _CANDIDATES:
        text = _strict(data, encoding)
        if text is None:
            continue
        if encoding == "gb18030":
            # Big5 text also decodes "strictly" as GB18030, into rare characters. Prefer Big5
            # only when it is clearly the more natural reading.
            big5 = _strict(data, "big5")
            if big5 is not None and _common_ratio(big5) > _common_ratio(text) + 0.2:
                return Decoded(big5, "big5")
        if encoding != "utf-8" and _has_controls(text) and _common_ratio(text) < 0.2:
            # a "strict success" full of control characters is UTF-16 without a BOM
            wide = _utf16(data)
            if wide is not None:
                return wide
        return Decoded(text, encoding)
    wide = _utf16(data)
    if wide is not None:
        return wide
    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise DocumentProblem("undecodable bytes: no encoding fits (binary file?)")
    encoding = best.encoding
    if encoding in ("gb2312", "gbk", "hz"):
        encoding = "gb18030"
    text = data.decode(encoding, errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 20):
        raise DocumentProblem(f"undecodable bytes: best guess {encoding} leaves too many gaps")
    log.debug("charset-normalizer chose %s", encoding)
    return Decoded(text, encoding, lossy="\ufffd" in text)
