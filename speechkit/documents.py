"""The data that flows between stages, and the stable document id."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


def doc_id(source_path: str, record: str = "", part: int = 1) -> str:
    """Stable id from where a speech came from: file, record within a dump, part within a file.

    >>> doc_id("corpus/raw/a.txt", "", 2) == doc_id("corpus/raw/a.txt", "", 2)
    True
    >>> len(doc_id("a.txt"))
    12
    """
    key = f"{source_path}\x00{record}\x00{part}".encode()
    return hashlib.blake2b(key, digest_size=6).hexdigest()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class RawDocument:
    """Bytes of one input unit (a file, or one record of a crawler dump) plus sidecar metadata."""

    source_path: str
    data: bytes
    record: str = ""
    # "text", "markdown" or "html": decides which format steps run
    kind: str = "text"
    # metadata that came with the bytes: front matter, crawler fields, <meta> tags
    meta: dict[str, str] = field(default_factory=dict)
    # already-decoded text (JSON and CSV fields are text, not bytes)
    text: str | None = None


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    lossy: bool = False


@dataclass
class Document:
    """One speech, as stored. `text` is the cleaned display form; `original` is as decoded."""

    id: str
    source_path: str
    record: str = ""
    part: int = 1
    parts: int = 1
    title: str | None = None
    text: str = ""
    original: str = ""
    date: str | None = None
    date_source: str | None = None
    year: int | None = None
    year_source: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    speaker_role: str | None = None
    speaker_name: str | None = None
    level: str | None = None
    region: str | None = None
    site: str | None = None
    url: str | None = None
    encoding: str = "utf-8"
    lossy: bool = False
    truncated: bool = False
    shown_chars: int | None = None
    total_chars: int | None = None
    masked: int = 0
    flags: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)
    source_hash: str = ""
    text_hash: str = ""
    dup_group: str | None = None
    canonical: bool = True
    minhash: bytes | None = None
    shingles: int = 0

    def to_record(self) -> dict[str, Any]:
        """The export form: everything but the internal MinHash signature."""
        out = asdict(self)
        out.pop("minhash", None)
        out.pop("shingles", None)
        return out


# a callback for long steps: (done, total, what is being done); the CLI draws it as a bar
Progress = Callable[[int, int, str], None]
