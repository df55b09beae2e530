"""Whether an index's files are those its build wrote.

A build records, in the manifest, each published file's size and SHA-256 digest and the file
system's stamp of it (size, modification and change times, inode). A reader checks every
file's size; a file whose stamp is the recorded one has not been written since the build and
is trusted; any other is hashed once and compared with its digest (a folder copied elsewhere,
a file written in place, a flipped bit written through the file system). What a reader has
hashed is remembered in the user's cache, so a copied index is hashed once, not per query.
`speechkit index --check` hashes every file whatever its stamp (damage below the file system).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..atomic import write_bytes

Sums = Mapping[str, list[Any]]  # file name -> [size, digest]


def file_sum(path: Path) -> list[Any]:
    """[size, SHA-256 digest (its first 32 hex digits)] of a file, read in 1 MB blocks.
    SHA-256 runs at about 1.1 GB/s here (CPU instructions), blake2b at 0.44."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return [path.stat().st_size, h.hexdigest()[:32]]


def stamp(path: Path) -> list[int]:
    """What the file system says of a file: size, mtime and ctime (ns), inode. Any write
    through the file system changes the ctime, which no program can set back."""
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def folder_sums(folder: Path, names: Iterable[str], previous: Sums | None = None,
                previous_stamps: Mapping[str, list[int]] | None = None) -> dict[str, list[Any]]:
    """Sums of `names` in `folder`; a file that the previous build recorded and that still has
    the recorded stamp keeps its digest (whoosh never rewrites a segment file in place)."""
    out = {}
    for name in names:
        path = folder / name
        if previous and previous_stamps and name in previous and previous_stamps.get(name) == stamp(path):
            out[name] = list(previous[name])
        else:
            out[name] = file_sum(path)
    return out


def _cache_file() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "speechkit" / "verified.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_file().read_text("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def damaged_files(folder: Path, sums: Sums, stamps: Mapping[str, list[int]] | None = None, *,
                  always_hash: bool = False) -> list[str]:
    """The files of `folder` that are missing or differ from `sums` (sizes always; contents
    when the stamp is not the recorded one, or with `always_hash`)."""
    bad, cache, learned = [], None, {}
    for name, (size, digest) in sums.items():
        path = folder / name
        try:
            now = stamp(path)
        except OSError:
            bad.append(name)
            continue
        if now[0] != size:
            bad.append(name)
            continue
        if not always_hash and stamps and stamps.get(name) == now:
            continue
        key = f"{path.resolve()}\t{digest}"
        if not always_hash:
            cache = _read_cache() if cache is None else cache
            if cache.get(key) == now:
                continue
        if file_sum(path)[1] != digest:
            bad.append(name)
        else:
            learned[key] = now
    if learned:
        try:  # only a cache: a read-only home or a full disk costs a second hash next time
            cache = _read_cache() if cache is None else cache
            cache.update(learned)
            if len(cache) > 5000:  # bounded: the oldest entries go first
                cache = dict(list(cache.items())[-5000:])
            _cache_file().parent.mkdir(parents=True, exist_ok=True)
            write_bytes(_cache_file(), json.dumps(cache).encode())
        except OSError:
            pass
    return bad
