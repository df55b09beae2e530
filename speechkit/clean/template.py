"""A site's template: short lines that repeat in the lead or tail block of many of its pages.

The phrase rules in `resources.RE_DROP_LINE` describe furniture families by their wording; this
signal does not depend on wording. A site prints the same channel name, counter, banner or
closing line on every page, so a short line that is not a sentence and recurs in the first or
last lines of many pages of one site is its furniture, whatever it says. Salutations (各位代表：),
datelines, speaker lines, enumerated headings and the page's own title are never template.

`ingest` counts candidates per site (or per folder when a page names no site) over everything
stored and strips what qualifies (`speechkit.templates`). Pure functions here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from . import resources as R
from .boilerplate import DATEISH, ITEM, SENTENCE_END

BLOCK = 12        # lines at each end of a text that can hold a template line
MAX_CHARS = 40    # longer lines are text, not furniture
MIN_PAGES = 5     # a template line recurs on at least this many pages of the site …
MIN_SHARE = 0.3   # … and on at least this share of them
# an issuing body signs its documents (中华人民共和国国家统计局): the signature is the document's
# the structure of a document (第一章 总则, 附则) recurs across documents of one genre
_STRUCTURE = re.compile(r"^(第[一二三四五六七八九十百零〇\d]+[章节条编部分篇]|总则|总纲|附则|序言|前言|后记)")
# a heading naming a document (国务院机构改革方案, 关于…的决定) heads the text it names, in every
# report that carries it; a label (相关通知) is short
_DOCUMENT_HEADING = re.compile(
    r"^.{4,}(方案|报告|决定|决议|说明|意见|通知|规定|条例|办法|纲要|公报|讲话|规划|建议|章程)$")
_ORGAN = re.compile(r"(政府|委员会|常委会|办公厅|办公室|党委|人大|政协|局|部|院|厅|署|会)$")


def _squash(line: str) -> str:
    return "".join(line.split())


def _eligible(line: str, title: str, speaker: str) -> bool:
    s = _squash(line)
    if not s or len(s) > MAX_CHARS or s.endswith(SENTENCE_END) or _ORGAN.search(s):
        return False
    if R.RE_OUTLINE_START.match(s) or _STRUCTURE.match(s) or _DOCUMENT_HEADING.match(s):
        return False
    if speaker and speaker in s:
        return False
    if DATEISH.match(s) or ITEM.match(line.strip()) or R.RE_SPEAKER_LINE.match(line.strip()):
        return False
    if R.RE_DATELINE.search(line) or R.RE_DATE_ADOPTED.search(line.strip()):
        return False
    t = _squash(title or "")
    # the title (or a part of it) repeats on a site's pages of one genre: it is not furniture
    return not (t and (s in t or t in s))


def candidates(text: str, title: str | None = None, speaker: str | None = None) -> set[str]:
    """Short non-sentence lines of the lead and tail blocks, squashed of whitespace; the page's
    title and speaker, organ signatures and outline headings are not candidates.

    >>> sorted(candidates("长江日报客户端\\n各位代表：\\n现在我代表市人民政府作报告。\\n扫码下载"))
    ['扫码下载', '长江日报客户端']
    """
    lines = [x for x in text.split("\n") if x.strip()]
    block = lines[:BLOCK] + lines[max(BLOCK, len(lines) - BLOCK):]
    return {_squash(x) for x in block if _eligible(x, title or "", speaker or "")}


def find_template(pages: Iterable[set[str]], known: Iterable[str] = ()) -> frozenset[str]:
    """Lines that recur on at least MIN_PAGES pages and MIN_SHARE of all `pages` (each page's
    candidate set), plus the `known` template of the site (a template only grows between
    runs, since stripped pages no longer show it).

    >>> sorted(find_template([{"本网讯", "a"}] * 5 + [{"b"}] * 4))
    ['a', '本网讯']
    """
    counts: Counter[str] = Counter()
    n = 0
    for page in pages:
        counts.update(page)
        n += 1
    need = max(MIN_PAGES, MIN_SHARE * n)
    return frozenset(line for line, c in counts.items() if c >= need) | frozenset(known)


def strip_template(text: str, template: frozenset[str]) -> tuple[str, list[str]]:
    """Drop template lines from the lead and tail blocks; return the text and what went.

    >>> strip_template("本网讯\\n同志们：\\n要抓落实。\\n本网讯", frozenset({"本网讯"}))
    ('同志们：\\n要抓落实。', ['本网讯', '本网讯'])
    """
    if not template:
        return text, []
    lines = text.split("\n")
    filled = [i for i, x in enumerate(lines) if x.strip()]
    block = set(filled[:BLOCK] + filled[max(BLOCK, len(filled) - BLOCK):])
    gone = [i for i in sorted(block) if _squash(lines[i]) in template]
    if not gone:
        return text, []
    drop = set(gone)
    kept = "\n".join(x for i, x in enumerate(lines) if i not in drop).strip("\n")
    return kept, [_squash(lines[i]) for i in gone]
