"""Splitting compilations (第1篇: … 第3篇:) into separate speeches."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import resources as R


@dataclass(frozen=True)
class Part:
    index: int
    title: str | None
    text: str
    # a heading number that does not follow on from the previous one, or a count promised by
    # the page (集合3篇, [5篇材料]) that the headings do not meet
    problem: str | None = None


def _number(token: str) -> int:
    return R.cn_number(token) or 0


def promised_count(header: str) -> int | None:
    """How many speeches a compilation's title promises.

    >>> promised_count("在全市项目招商推进会上的讲话2024年[5篇材料]")
    5
    >>> promised_count("区长在招商引资工作会上的讲话集合3篇(工信局招商引资方案)")
    3
    """
    m = R.RE_COMPILATION_COUNT.search(header)
    if not m:
        return None
    return _number(m.group(1) or m.group(3))


def split_compilation(text: str) -> list[Part]:
    """Split at 第N篇: headings that count up from 1; text before the first is page preamble.

    >>> [(p.index, p.title) for p in split_compilation("集合2篇\\n第1篇: 甲讲话\\n正文一\\n第2篇: 乙讲话\\n正文二")]
    [(1, '甲讲话'), (2, '乙讲话')]
    """
    heads = [m for m in R.RE_PART_HEAD.finditer(text)]
    # keep a run of headings numbered 1, 2, 3 …; a stray "第二篇：" inside a speech is text
    run: list[re.Match[str]] = []
    for m in heads:
        if _number(m.group(1)) == len(run) + 1:
            run.append(m)
    if len(run) < 2:
        return [Part(1, None, text)]
    preamble = text[: run[0].start()]
    promised = promised_count(preamble)
    problem = None
    if promised and promised != len(run):
        problem = f"title promises {promised} speeches, found {len(run)}"
    parts = []
    for i, m in enumerate(run):
        end = run[i + 1].start() if i + 1 < len(run) else len(text)
        body = text[m.end(): end].strip("\n")
        parts.append(Part(i + 1, m.group(2).strip(), body, problem))
    return parts
