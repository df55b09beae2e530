"""All-or-nothing writes: a reader sees the old file or folder, or the new one, never half."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .faults import crash_point


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, rename it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON, all or nothing (`write_bytes`)."""
    write_bytes(path, json.dumps(data, ensure_ascii=False).encode("utf-8"))


def replace_dir(new: Path, dest: Path) -> None:
    """Put the folder `new` at `dest`. The previous `dest` is renamed aside before and removed
    after, so at every moment one whole copy is in place.

    >>> import tempfile; root = Path(tempfile.mkdtemp())
    >>> (root / "new").mkdir(); _ = (root / "new" / "f").write_text("2")
    >>> (root / "dest").mkdir(); _ = (root / "dest" / "f").write_text("1")
    >>> replace_dir(root / "new", root / "dest")
    >>> (root / "dest" / "f").read_text(), sorted(p.name for p in root.iterdir())
    ('2', ['dest'])
    """
    old = dest.with_name(dest.name + ".old")
    recover_dir(dest)
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.replace(dest, old)
    crash_point("swap:" + dest.name)
    os.replace(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def recover_dir(dest: Path) -> bool:
    """After a crash inside `replace_dir` (the old folder moved aside, the new one not yet in
    place), put the old folder back. Only a writer holding the folder's lock may call this.
    Returns whether anything was put back."""
    old = dest.with_name(dest.name + ".old")
    if not dest.exists() and old.is_dir():
        os.replace(old, dest)
        return True
    return False


# a folder being written is hidden (.new-…); one left by a killed run is removed after this long
# (a younger one may belong to a run still writing)
_UNFINISHED_AGE_S = 3600


@contextlib.contextmanager
def new_folder(dest: Path) -> Iterator[Path]:
    """Write a folder's files into a hidden folder beside `dest`, then put it at `dest` whole
    (`replace_dir`); on an error it is removed. Leftovers of killed runs older than an hour
    are removed first."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for p in dest.parent.glob(".new-*"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > _UNFINISHED_AGE_S:
                shutil.rmtree(p, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".new-{dest.name}-"))
    try:
        yield tmp
        replace_dir(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
