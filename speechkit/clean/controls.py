"""Characters no text or field may carry to a terminal, a page or a CSV cell: terminal escape
sequences, control characters and invisible characters. Kept apart from the cleaning steps
(which compile hundreds of patterns) because every command that prints a title needs these and
nothing else: a search must not pay for loading the cleaner."""

from __future__ import annotations

import re

RE_TERMINAL_ESCAPE = re.compile(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: ESC ] … BEL or ESC \
                                r"|\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]|\x1b[@-_]")  # CSI, others
RE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# zero-width and other invisible characters
RE_INVISIBLE = re.compile("[\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")


def remove_control_chars(text: str) -> str:
    """Terminal escape sequences whole (an OSC 8 link, colours) and any other control
    character but newline and tab.

    >>> remove_control_chars("\\x1b]8;;http://x\\x1b\\\\点这里\\x1b]8;;\\x1b\\\\ \\x1b[31m红\\x1b[0m\\x07")
    '点这里 红'
    """
    if not RE_CONTROL.search(text):
        return text
    return RE_CONTROL.sub("", RE_TERMINAL_ESCAPE.sub("", text))


def clean_field(value: str) -> str:
    """A metadata value (title, URL, speaker, a crawler's field, front matter) as one plain
    line: terminal escapes, other controls and invisible characters (bidi overrides) gone,
    runs of white space one space.

    >>> clean_field("\\x1b[2J标题\\x1b[31m红\\u202e\\x07 \\n 二")
    '标题红 二'
    """
    # nearly every value is already plain: controls, invisible characters, line breaks and
    # wide spaces are all non-printable to Python, so one C-level test answers for most
    if value.isprintable() and value == value.strip() and "  " not in value:
        return value
    return " ".join(RE_INVISIBLE.sub("", remove_control_chars(value)).split())
