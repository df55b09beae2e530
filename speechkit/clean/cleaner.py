"""The cleaner: a registry of named `str -> str` steps run in order to a fixed point.

Like ftfy's FIXERS: each step is pure and named, the names of the steps that changed
something are recorded on the document, and `speechkit clean FILE --explain` shows what each
one removed. Running to a fixed point makes cleaning idempotent.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from . import boilerplate, mojibake, normalize

Step = Callable[[str], str]

# Order matters once per round: repair the characters first, so the boilerplate patterns
# see real text; remove furniture before whitespace is normalised, while lines are intact.
STEPS: dict[str, Step] = {
    "normalize_newlines": normalize.normalize_newlines,
    "strip_html_tags": normalize.strip_html_tags,
    "strip_markdown": normalize.strip_markdown,
    "decode_html_entities": normalize.decode_html_entities,
    "remove_pinyin_annotations": mojibake.remove_pinyin_annotations,
    "mark_kunjinkao": mojibake.mark_kunjinkao,
    "repair_utf8_mojibake": mojibake.repair_utf8_mojibake,
    "repair_latin1_mojibake": mojibake.repair_latin1_mojibake,
    "repair_misaligned_gbk": mojibake.repair_misaligned_gbk,
    # after the repairs: a soft hyphen (0xAD) or a no-break space (0xA0) in cp1252 mojibake is
    # one of the bytes the repair reads back
    "remove_invisible_chars": normalize.remove_invisible_chars,
    "remove_control_chars": normalize.remove_control_chars,
    "strip_truncation_notices": boilerplate.strip_truncation_notices,
    "strip_outline_block": boilerplate.strip_outline_block,
    "strip_page_labels": boilerplate.strip_page_labels,
    # breadcrumbs before furniture: 首页 is both a nav word and a breadcrumb's first item
    "strip_breadcrumbs": boilerplate.strip_breadcrumbs,
    "strip_site_furniture": boilerplate.strip_site_furniture,
    "strip_teaser_lines": boilerplate.strip_teaser_lines,
    "strip_trailing_headlines": boilerplate.strip_trailing_headlines,
    "dedupe_header_lines": boilerplate.dedupe_header_lines,
    "normalize_whitespace": normalize.normalize_whitespace,
    "join_broken_lines": normalize.join_broken_lines,
}
# steps that only apply to one input format
FORMAT_ONLY = {"strip_markdown": {"markdown"}}
MAX_ROUNDS = 4
# the steps that repair characters (no line is removed): what a damaged text needs
REPAIR_STEPS = ("mark_kunjinkao", "repair_utf8_mojibake", "repair_latin1_mojibake", "repair_misaligned_gbk")


def repair_encoding(text: str) -> str:
    """Only the character repairs, to a fixed point: lines are neither removed nor joined.

    >>> repair_encoding("浣犲ソ锛屽悇浣嶄唬琛\ufffd")
    '你好，各位代表'
    """
    for _ in range(MAX_ROUNDS):
        before = text
        for name in REPAIR_STEPS:
            text = STEPS[name](text)
        if text == before:
            break
    return text


@dataclass(frozen=True)
class StepRecord:
    name: str
    removed: int
    added: int
    # up to a few (removed, added) line pairs, for --explain
    sample: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.name}(-{self.removed}/+{self.added})"


@dataclass(frozen=True)
class Cleaned:
    text: str
    original: str
    steps: tuple[StepRecord, ...] = field(default_factory=tuple)


def _record(name: str, before: str, after: str, *, explain: bool) -> StepRecord:
    removed = added = 0
    sample: list[tuple[str, str]] = []
    sm = difflib.SequenceMatcher(None, before, after, autojunk=False) if explain else None
    if sm is not None:
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal":
                continue
            removed += i2 - i1
            added += j2 - j1
            if len(sample) < 6:
                sample.append((before[i1:i2][:120], after[j1:j2][:120]))
    else:
        removed = max(0, len(before) - len(after))
        added = max(0, len(after) - len(before))
    return StepRecord(name, removed, added, tuple(sample))


def clean_text(text: str, *, kind: str = "text", explain: bool = False) -> Cleaned:
    """Run every step to a fixed point and record which ones changed the text.

    >>> c = clean_text("下载\\n打印\\n  同志们：\\n要認(rèn)清形势。")
    >>> c.text
    '同志们：\\n要認清形势。'
    >>> [s.name for s in c.steps]
    ['remove_pinyin_annotations', 'strip_site_furniture', 'normalize_whitespace']
    """
    original = text
    records: dict[str, StepRecord] = {}
    for _ in range(MAX_ROUNDS):
        changed = False
        for name, step in STEPS.items():
            if name in FORMAT_ONLY and kind not in FORMAT_ONLY[name]:
                continue
            after = step(text)
            if after != text:
                rec = _record(name, text, after, explain=explain)
                old = records.get(name)
                if old is not None:
                    rec = StepRecord(name, old.removed + rec.removed, old.added + rec.added,
                                     (old.sample + rec.sample)[:6])
                records[name] = rec
                text = after
                changed = True
        if not changed:
            break
    order = list(STEPS)
    steps = tuple(sorted(records.values(), key=lambda r: order.index(r.name)))
    return Cleaned(text=text, original=original, steps=steps)


__all__ = ["REPAIR_STEPS", "STEPS", "Cleaned", "StepRecord", "clean_text", "repair_encoding"]
