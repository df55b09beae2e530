"""What an index was built from (store digest, segmenter and lexicon version, code version),
whether it is current, the lock that stops a second writer, and the whoosh document numbers'
ids. Light: every query reads these."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import pickle
import re
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..atomic import write_bytes
from ..context import Context
from ..errors import IndexError_
from ..paths import Paths
from ..provenance import read_manifest
from .integrity import damaged_files, folder_sums, stamp
from .mapped import open_dir
from .text import text_index_intact

DOCNUM_IDS = "speechkit-ids.json"
POSITIONS = "speechkit-positions.bin"


@contextlib.contextmanager
def locked(paths: Paths) -> Iterator[None]:
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexError_(f"another `speechkit index` is writing {paths.root}; wait for it to finish") from exc
        yield


def read_hashes(paths: Paths, manifest: dict[str, Any]) -> dict[str, str]:
    """id -> what it was indexed as; indexes built before 0.2 kept these in the manifest."""
    try:
        return json.loads(paths.hashes.read_text("utf-8"))
    except (OSError, ValueError):
        return manifest.get("hashes", {})


def docnum_ids_record(generation: int, ids: list[str | None]) -> dict[str, Any]:
    """What `speechkit-ids.json` holds: the ids, the whoosh generation they describe, and their
    digest, so that a damaged file is not believed (a wrong id would put hits on other speeches)."""
    return {"generation": generation, "ids": ids, "digest": ids_digest(json.dumps(ids).encode())}


def read_docnum_ids(folder: Path, reader: Any) -> list[str | None] | None:
    """The saved ids if they describe `reader`'s segments (same generation and size) and are as
    written (their digest), else None: the caller reads them from whoosh's stored fields."""
    try:
        saved = json.loads((folder / DOCNUM_IDS).read_text("utf-8"))
        ids = saved["ids"]
        if (saved["generation"] != reader.generation() or len(ids) != reader.doc_count_all()
                or saved["digest"] != ids_digest(json.dumps(ids).encode())):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ids


def ids_digest(ids: bytes) -> str:
    """What ties a positions file to the exact-match index's order of documents (`ids.txt`), and
    what shows that a saved map is as written."""
    return hashlib.blake2b(ids, digest_size=16).hexdigest()


def save_positions(folder: Path, generation: int, docnum_ids: list[str | None], ids: bytes) -> None:
    """Write, beside whoosh's segments, each whoosh document number's position in the exact-match
    index and each position's document number (-1: none), as two int32 arrays after a header
    naming what they describe. A query reads them as they are: the id list and the two dicts a
    query built from it grew with the corpus (about 30 ms at 35,000 speeches, most of a second
    at a million)."""
    order = ids.decode("utf-8").split("\n") if ids else []
    at = {doc_id: n for n, doc_id in enumerate(order)}
    to_pos = array("i", (at.get(i, -1) if i is not None else -1 for i in docnum_ids))
    to_docnum = array("i", [-1]) * len(order)
    for docnum, n in enumerate(to_pos):
        if n >= 0:
            to_docnum[n] = docnum
    body = to_pos.tobytes() + to_docnum.tobytes()
    header = json.dumps({"generation": generation, "ids": ids_digest(ids), "docnums": len(to_pos),
                         "positions": len(to_docnum), "byteorder": sys.byteorder,
                         "digest": ids_digest(body)}).encode() + b"\n"
    write_bytes(folder / POSITIONS, header + body)


def read_positions(folder: Path, generation: int, ids: bytes) -> tuple[array, array] | None:
    """(position of each docnum, docnum of each position) if the saved file describes whoosh's
    `generation` and this order of documents and is as written (its digest: a flipped bit would
    score one speech as another), else None (the caller maps them the slow way)."""
    try:
        data = (folder / POSITIONS).read_bytes()
        cut = data.index(b"\n")
        head = json.loads(data[:cut])
        if (head["generation"] != generation or head["ids"] != ids_digest(ids)
                or head["byteorder"] != sys.byteorder or head["digest"] != ids_digest(data[cut + 1:])):
            return None
        to_pos, to_docnum = array("i"), array("i")
        split = cut + 1 + 4 * head["docnums"]
        to_pos.frombytes(data[cut + 1:split])
        to_docnum.frombytes(data[split:])
    except (OSError, ValueError, KeyError):
        return None
    return (to_pos, to_docnum) if len(to_docnum) == head["positions"] else None


def check_current(home: Context) -> dict[str, Any]:
    """The manifest of `home`'s index if it is current (built from this store, lexicon and
    speechkit version); otherwise a one-line error with the fix."""
    have = read_manifest(home.paths, required=True)
    want = home.expected_manifest()
    if have.get("segmenter") != want["segmenter"] or have.get("code") != want["code"]:
        raise IndexError_("the index was built with another lexicon or speechkit version; "
                          "run `speechkit index --rebuild`")
    if have.get("store") != want["store"]:
        raise IndexError_("the store has changed since the index was built; run `speechkit index`")
    return have


_TOC = re.compile(r"_MAIN_(\d+)\.toc")


def whoosh_generation(folder: Path) -> int | None:
    """The latest generation of the whoosh index in `folder`, read off its tables of contents'
    file names as whoosh finds it, or None when there is none. Nothing is opened: whoosh's
    `exists_in` unpickles the table of contents, before any check of its files could run."""
    gens = [int(m.group(1)) for n in (whoosh_files(folder) if folder.is_dir() else ()) if (m := _TOC.fullmatch(n))]
    return max(gens, default=None)


def whoosh_files(folder: Path) -> list[str]:
    """whoosh's own files in its folder: tables of contents and segments. (speechkit's docnum
    maps beside them say which generation and order of ids they describe and are not used
    when they describe another.)"""
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.startswith(("MAIN_", "_MAIN_"))
                  and not p.name.endswith("WRITELOCK"))


def _whoosh_damage(paths: Paths, manifest: dict[str, Any], *, always_hash: bool = False) -> list[str]:
    """The recorded whoosh files that are damaged or missing, when the folder is the one the
    manifest describes. A folder holding files of another build (one killed after it committed
    or swapped its folder in, before it wrote the manifest) is not judged by this manifest:
    the build that follows rebuilds it."""
    sums = manifest.get("whoosh")
    if not sums or not paths.whoosh.is_dir():
        return []
    if set(whoosh_files(paths.whoosh)) - set(sums):
        return []
    return damaged_files(paths.whoosh, sums, (manifest.get("stamps") or {}).get("whoosh"), always_hash=always_hash)


def record_files(paths: Paths, manifest: dict[str, Any], old: dict[str, Any]) -> None:
    """Put each published file's size, digest and stamp in `manifest` (index.integrity); the
    text index's sums are already there. Whoosh's unchanged segment files keep their digests."""
    old_stamps = old.get("stamps") or {}
    manifest["whoosh"] = folder_sums(paths.whoosh, whoosh_files(paths.whoosh), old.get("whoosh"),
                                     old_stamps.get("whoosh"))
    manifest["stamps"] = {"text": {name: stamp(paths.text / name) for name in manifest.get("text") or {}},
                          "whoosh": {name: stamp(paths.whoosh / name) for name in manifest["whoosh"]}}


def damaged_parts(paths: Paths, manifest: dict[str, Any], *, always_hash: bool = False) -> dict[str, list[str]]:
    """{"whoosh" | "text": damaged or missing files} of the index `manifest` describes (empty
    when whole). Indexes built before the manifest recorded whoosh's files: their text part."""
    stamps = manifest.get("stamps") or {}
    out: dict[str, list[str]] = {}
    bad = _whoosh_damage(paths, manifest, always_hash=always_hash)
    if bad:
        out["whoosh"] = bad
    if manifest.get("text"):
        bad = damaged_files(paths.text, manifest["text"], stamps.get("text"), always_hash=always_hash)
        if bad:
            out["text"] = bad
    elif not text_index_intact(paths, None):
        out["text"] = ["(a file of the exact-match index)"]
    return out


def damage_error(paths: Paths, part: str, names: list[str]) -> IndexError_:
    folder = paths.whoosh if part == "whoosh" else paths.text
    return IndexError_(f"the index file {folder / names[0]} is damaged or missing"
                       + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")
                       + "; run `speechkit index` to repair it")


def open_whoosh(paths: Paths, manifest: dict[str, Any]) -> Any:
    """The ranked index, its files checked against `manifest` first; damage is a one-line error
    naming the repair (whoosh's own errors for a truncated or altered file were a bare
    "Aborted!" or a traceback)."""
    bad = _whoosh_damage(paths, manifest)  # before whoosh reads (unpickles) anything
    if bad:
        raise damage_error(paths, "whoosh", bad)
    if whoosh_generation(paths.whoosh) is None:
        raise IndexError_(f"the ranked index in {paths.whoosh} is missing (an interrupted "
                          "build); run `speechkit index` to repair it")
    try:
        return open_dir(paths.whoosh)
    except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError, pickle.UnpicklingError,
            struct.error, zlib.error) as exc:
        raise damage_error(paths, "whoosh", [f"(whoosh: {type(exc).__name__})"]) from None
