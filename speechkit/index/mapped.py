"""Reading whoosh's segment files in place from the memory map, without copying them.

whoosh maps a segment's compound file and hands each sub-file out as a `BufferFile`, whose
constructor wraps the mapped bytes in `BytesIO(memoryview)`: that copies the whole sub-file.
Opening a searcher therefore copied the term dictionary and every posting list (64 MB at 35,000
speeches, 1.4 GB projected at a million) and faulted every page of them in, about 0.12 s of each
search command. `patch()` gives `BufferFile` a read-only file over the same memory view instead:
a search touches only the pages of the terms it reads.

Every whoosh index speechkit opens or creates goes through `open_dir` / `create_in` here, which
apply that patch and route whoosh's unpickling through the restricted loader (`safe_pickle`):
an index folder from elsewhere must not run code when it is opened. Importing a module patches
nothing; opening an index does.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..safe_pickle import harden_whoosh

_PATCHED = False


class MappedFile(io.RawIOBase):
    """A read-only, seekable binary file over a memory view (no copy).

    >>> f = MappedFile(memoryview(b"ab\\ncd"))
    >>> f.readline(), f.read(1), f.tell(), f.seek(0), f.read()
    (b'ab\\n', b'c', 4, 0, b'ab\\ncd')
    """

    def __init__(self, view: memoryview) -> None:
        self._view = view.cast("B") if view.format != "B" else view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        data = bytes(self._view[self._pos:end])
        self._pos = max(self._pos, end)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        # pickled headers are read line by line: search in chunks rather than byte by byte
        start, limit = self._pos, len(self._view)
        if size is not None and size >= 0:
            limit = min(limit, start + size)
        pos = start
        while pos < limit:
            chunk = bytes(self._view[pos:min(limit, pos + 256)])
            cut = chunk.find(b"\n")
            if cut >= 0:
                pos += cut + 1
                break
            pos += len(chunk)
        self._pos = pos
        return bytes(self._view[start:pos])

    def load_pickle(self, loader: Callable[[Any], Any]) -> Any:
        """Unpickle the object at the position with `loader` from a bounded in-memory copy: a
        posting block's header is a small pickle, and unpickling from a Python-level file would
        call back into it for every opcode."""
        size = 256
        while True:
            # buffered: the unpickler reads ahead by `peek` rather than calling `read` per opcode
            chunk = io.BufferedReader(io.BytesIO(bytes(self._view[self._pos:self._pos + size])))
            try:
                obj = loader(chunk)
            except Exception:
                if self._pos + size >= len(self._view):
                    raise
                size *= 16  # the pickle ran past the chunk: try a larger one
                continue
            self._pos += chunk.tell()
            return obj

    def write(self, data: Any) -> int:
        raise io.UnsupportedOperation("a mapped index file is read-only")


def patch() -> None:
    """Make whoosh's `BufferFile` read through a `MappedFile` (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from whoosh.filedb import structfile
    from whoosh.filedb.structfile import BufferFile

    def __init__(self: Any, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        self._buf = buf
        self._name = name
        self.file = MappedFile(memoryview(buf))
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    def read_pickle(self: Any) -> Any:
        return self.file.load_pickle(structfile.load_pickle)  # the restricted loader (safe_pickle)

    BufferFile.__init__ = __init__
    BufferFile.read_pickle = read_pickle
    _PATCHED = True


def prepare_whoosh() -> None:
    """Restricted unpickling and in-place segment reads for whoosh (idempotent, cheap)."""
    harden_whoosh()
    patch()


def open_dir(folder: Path) -> Any:
    """whoosh's `open_dir`, prepared by `prepare_whoosh` first."""
    from whoosh import index as whoosh_index

    prepare_whoosh()
    return whoosh_index.open_dir(str(folder))


def create_in(folder: Path, schema: Any) -> Any:
    """whoosh's `create_in`, prepared by `prepare_whoosh` first."""
    from whoosh import index as whoosh_index

    prepare_whoosh()
    return whoosh_index.create_in(str(folder), schema)
