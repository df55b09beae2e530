"""Site furniture: navigation, page labels, notices, teasers, outlines. Pure `str -> str`.

What a page says about itself (its date, source, site, truncation counts) is read from the
original text by `speechkit.metadata` before these steps remove it.
"""

from __future__ import annotations

import re

from . import resources as R

_BOOKMARK = re.compile(r"\[bookmark:[^\]]*\]")
_ARROWS = {">", "＞", "»", "›", "/"}


def _lines(text: str) -> list[str]:
    return text.split("\n")


def strip_truncation_notices(text: str) -> str:
    """Remove the notices a site leaves where it cut a text (the cut itself is recorded
    as metadata, from the original).

    >>> strip_truncation_notices("项目\\n……(新文秘网http://x.cn省略716字,正式会员可完整阅读)……\\n门上")
    '项目\\n\\n门上'
    >>> strip_truncation_notices("按照项目 ……(未完,全文共3981字,当前仅显示2011字,请阅读下面提示信息。\\n收藏《讲话》)")
    '按照项目'
    """
    # cheap guards: the patterns start with optional dots and would be tried everywhere
    if "未完" in text:
        text = R.RE_TRUNC_TAIL.sub("", text)
    if "省略" in text:
        text = R.RE_TRUNC_OMITTED.sub("", text)
    if "未完" in text or "篇幅" in text or "过长" in text or "過長" in text:
        text = R.RE_TRUNC_GENERIC.sub("", text)
    return text


def strip_outline_block(text: str) -> str:
    """A 目录/提纲 block at the top, closed by a line of ellipses, repeats the headings.

    >>> strip_outline_block("目錄/提綱:……\\n一、形势\\n二、任务\\n……\\n同志们：")
    '同志们：'
    """
    lines = _lines(text)
    for i, line in enumerate(lines[:10]):
        if R.RE_OUTLINE_START.match(line.strip()):
            for j in range(i + 1, min(len(lines), i + 80)):
                if R.RE_OUTLINE_END.match(lines[j].strip()):
                    return "\n".join(lines[:i] + lines[j + 1:])
            break
    return text


def strip_page_labels(text: str) -> str:
    """来源：/时间：/作者：/更新时间： lines, including a label whose value sits on the next line.

    >>> strip_page_labels("标题\\n来源：网络  作者：某某  更新时间：2025-04-30\\n时间：\\n2026-02-02 09:20\\n正文")
    '标题\\n正文'
    """
    lines = _lines(text)
    out: list[str] = []
    skip_next = False
    for i, line in enumerate(lines):
        s = line.strip()
        if skip_next:
            skip_next = False
            if len(s) <= 30:
                continue
        m = R.RE_LABEL_LINE.match(s)
        if m and len(s) <= 80:
            if not m.group(2).strip() and i + 1 < len(lines):
                skip_next = True
            continue
        out.append(line)
    return "\n".join(out)


def strip_site_furniture(text: str) -> str:
    """Navigation words, share and print bars, copyright, link notices, related-article
    headers, photo captions, bookmarks.

    >>> strip_site_furniture("下载\\n打印\\n【字号：\\n】\\n各位代表：\\n相关报道：")
    '各位代表：'
    """
    if "[bookmark:" in text:
        text = _BOOKMARK.sub("", text)
    out = []
    for line in _lines(text):
        s = line.strip()
        if s in R.NAV_LINES_T:
            continue
        if s and len(s) <= 220 and any(p.match(s) for _, p in R.RE_DROP_LINE):
            continue
        out.append(line)
    return "\n".join(out)


SENTENCE_END = ("。", "！", "？", "；", "!", "?", ";", "…", "”", "’", "」", "』", "：", ":", "）", ")")
_HEADLINE_RUN = 3  # short lines in a row after the body ends: a list of links, not the speech
# a line that is only a date: the end of a signature
_CN_DIGIT = "〇零一二三四五六七八九十○"
DATEISH = re.compile(rf"^[(（]?\s*(\d{{4}}|[{_CN_DIGIT}]{{4}})\s*[-/.年]\s*[\d{_CN_DIGIT}]{{1,2}}\s*[-/.月]"
                      rf"\s*([\d{_CN_DIGIT}]{{1,3}}\s*日?)?\s*[)）]?$")


# an enumerated item (一、 (二) 3. ⒋ ⑤) or a table row (粮 食 万吨 45262 -2.1) belongs to the document
ITEM = re.compile(r"^\s*([一二三四五六七八九十]+、|[(（][一二三四五六七八九十\d]+[)）]|\d+\s*[.、．)]|[⒈-⒛①-⑳])")
_TABLE_ROW = re.compile(r"\s-?\d[\d.,%]*\s.*\s-?\d[\d.,%]*(\s|$)")


def _headline_like(line: str) -> bool:
    s = line.strip()
    return (0 < len(s) <= 40 and not s.endswith(SENTENCE_END) and bool(R.RE_HAN.search(s))
            and not DATEISH.match(s) and not R.RE_SPEAKER_LINE.match(s) and not ITEM.match(s)
            and not _TABLE_ROW.search(" " + s + " "))


def strip_trailing_headlines(text: str) -> str:
    """A list of headlines after the body ends (related articles, the channel's latest
    stories): three or more short lines without sentence punctuation at the very end, after a
    line that ends a sentence. A signature (机关 + date) is never such a list: dates and
    speaker lines stop it.

    >>> strip_trailing_headlines("谢谢大家！\\n我省召开经济工作会议\\n2025年春耕生产工作部署\\n省领导调研重点项目")
    '谢谢大家！'
    >>> strip_trailing_headlines("谢谢大家！\\n某某市人民政府\\n2024年1月5日")
    '谢谢大家！\\n某某市人民政府\\n2024年1月5日'
    """
    lines = text.rstrip("\n").split("\n")
    i = len(lines)
    while i > 0 and (_headline_like(lines[i - 1]) or not lines[i - 1].strip()):
        i -= 1
    run = [x for x in lines[i:] if x.strip()]
    if len(run) < _HEADLINE_RUN or i == 0 or not lines[i - 1].strip().endswith(SENTENCE_END):
        return text
    return "\n".join(lines[:i])


def strip_breadcrumbs(text: str) -> str:
    """A breadcrumb spread over lines: 首页 / > / 政府信息公开 / > / 政府工作报告.

    >>> strip_breadcrumbs("首页\\n>\\n政府信息公开\\n>\\n省政府工作报告\\n各位代表：")
    '各位代表：'
    """
    lines = _lines(text)
    drop: set[int] = set()
    for i, line in enumerate(lines):
        if line.strip() in _ARROWS and 0 < i < len(lines) - 1:
            before, after = lines[i - 1].strip(), lines[i + 1].strip()
            if len(before) <= 20 and len(after) <= 20:
                drop.update((i - 1, i, i + 1))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop) if drop else text


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def strip_teaser_lines(text: str) -> str:
    """A listing teaser repeats the start of the text and ends in an ellipsis.

    >>> strip_teaser_lines("讲话今天召开全市招商会议，主要任务...\\n讲话\\n今天召开全市招商会议，主要任务是部署。")
    '讲话\\n今天召开全市招商会议，主要任务是部署。'
    """
    lines = _lines(text)
    for i, line in enumerate(lines[:12]):
        s = line.strip()
        m = re.search(r"(\.{3,}|…+)$", s)
        if not m or len(s) < 20:
            continue
        head = _squash(s[: m.start()])[-40:]
        rest = _squash("".join(lines[i + 1:]))
        if len(head) >= 15 and head in rest:
            return "\n".join(lines[:i] + lines[i + 1:])
    return text


def dedupe_header_lines(text: str) -> str:
    """A site prints the title (and dateline) more than once above the text: keep the last.

    >>> dedupe_header_lines("开放型经济发言稿\\n开放型经济发言稿\\n同志们：")
    '开放型经济发言稿\\n同志们：'
    """
    lines = _lines(text)
    head = [_squash(x) for x in lines[:15]]
    drop = set()
    for i, s in enumerate(head):
        if s and len(s) <= 120 and s in head[i + 1:]:
            drop.add(i)
    return "\n".join(line for i, line in enumerate(lines) if i not in drop) if drop else text
