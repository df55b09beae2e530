"""Character-level normalisation of the display text, and the matching form used for search.

The display text keeps full-width punctuation and the original script; only the matching form
is simplified and width-folded, and it has exactly the same length, so an offset found in one
is an offset in the other.
"""

from __future__ import annotations

import html
import re

from . import resources as R
from .controls import clean_field, remove_control_chars  # noqa: F401 - steps of the cleaner, kept light in controls


def normalize_newlines(text: str) -> str:
    """CRLF and CR line ends to LF.

    >>> normalize_newlines("a\\r\\nb\\rc")
    'a\\nb\\nc'
    """
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_html_entities(text: str) -> str:
    """&nbsp; &amp; &#12290; and friends to characters.

    >>> decode_html_entities("发展&amp;改革&#12290;")
    '发展&改革。'
    """
    if "&" not in text:
        return text
    return R.RE_HTML_ENTITY.sub(lambda m: html.unescape(m.group()), text)


def remove_invisible_chars(text: str) -> str:
    """Zero-width spaces, joiners, BOMs, soft hyphens.

    >>> remove_invisible_chars("营商\\u200b环境")
    '营商环境'
    """
    return R.RE_INVISIBLE.sub("", text)


def strip_html_tags(text: str) -> str:
    """HTML that reached the text: scripts and styles go with their content; block tags
    (<br>, <p>, <details>, <summary>, …) end a line, or become a space inside a table row;
    inline tags (<span>, <a>, …) go and their text stays.

    >>> strip_html_tags("一是<b>稳增长</b><br>二是<span class='x'>惠民生</span>")
    '一是稳增长\\n二是惠民生'
    >>> strip_html_tags("| 指标 | 2023<br>2024 |\\n《决定》规定x<5")
    '| 指标 | 2023 2024 |\\n《决定》规定x<5'
    """
    if "<" not in text:
        return text
    text = R.RE_HTML_DROP_BLOCK.sub("", text)
    lines = []
    for line in text.split("\n"):
        line = R.RE_HTML_BLOCK_TAG.sub(" " if line.lstrip().startswith("|") else "\n", line)
        lines.append(R.RE_HTML_INLINE_TAG.sub("", line))
    return "\n".join(lines)


def strip_markdown(text: str) -> str:
    """The light markdown of converted government pages: emphasis, headings, quotes, notes.

    >>> strip_markdown("## 一、回顾\\n**政府工作报告**[^1]\\n*政府工作报告\\n| 指标 | 数值 |\\n|---|---|")
    '一、回顾\\n政府工作报告\\n政府工作报告\\n指标 数值\\n'
    >>> strip_markdown("> [!NOTE] 相关通知\\n> **中共中央印发《条例》**")
    '相关通知\\n中共中央印发《条例》'
    """
    text = R.RE_MD_COMMENT.sub("", text)
    text = R.RE_MD_LINK.sub(r"\1", text)
    text = R.RE_MD_HEADING.sub("", text)
    text = R.RE_MD_QUOTE.sub("", text)
    text = R.RE_MD_ALERT.sub("", text)
    text = R.RE_MD_FOOTREF.sub("", text)
    text = R.RE_MD_EMPHASIS.sub(r"\2", text)
    text = R.RE_MD_ITALIC.sub(r"\1", text)
    text = R.RE_MD_ESCAPE.sub(r"\1", text)
    text = R.RE_MD_TABLE_RULE.sub("", text)
    text = R.RE_MD_STRAY.sub("", text)
    return "\n".join(
        R.RE_MD_PIPE.sub(" ", line).strip() if line.lstrip().startswith("|") else line
        for line in text.split("\n")
    )


def normalize_whitespace(text: str) -> str:
    """One paragraph per line: lines stripped, blank lines dropped, letter-spaced titles
    joined, and layout spaces between Han characters inside paragraphs removed. Short lines
    keep their spaces (省长 王清宪 separates a role from a name).

    >>> normalize_whitespace("  政 府 工 作 报 告\\n\\n\\u3000\\u3000经 济增长稳中有进，就业形势保持稳定。")
    '政府工作报告\\n经济增长稳中有进，就业形势保持稳定。'
    """
    out = []
    for line in text.split("\n"):
        line = line.replace("\u00a0", " ").strip(" \t\u3000\u00a0\f\v")
        if not line:
            continue
        if R.RE_LETTERSPACED.match(line):
            line = "".join(line.split())
        elif len(line) > 24 or "，" in line or "。" in line:
            line = R.RE_SPACE_IN_HAN.sub("", line)
        out.append(line)
    return "\n".join(out)


_HEADING = re.compile(
    r"^\s*([一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．]|"
    r"第[一二三四五六七八九十\d]+[章节条部篇]|[一二三四五六七八九十]是|[一二三四五六七八九十]要)"
)


def join_broken_lines(text: str) -> str:
    """Join a paragraph that a page broke mid-sentence: a line ending in a Han character,
    either long (a paragraph) or a lone character, followed by a line starting with one.
    Headings are short and stay on their own lines.

    >>> join_broken_lines("受\\n疫情影响，春节假期延长。\\n一、要认清形势\\n二、要明确任务")
    '受疫情影响，春节假期延长。\\n一、要认清形势\\n二、要明确任务'
    """
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        if out and line and R.RE_HAN.match(line[0]):
            prev = out[-1]
            if prev and R.RE_HAN.match(prev[-1]) and (
                len(prev) == 1 or (len(prev) > 40 and not _HEADING.match(prev))
            ):
                out[-1] = prev + line
                continue
        out.append(line)
    return "\n".join(out)
