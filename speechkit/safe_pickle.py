"""whoosh unpickles its table of contents, segment list, block headers and stored fields when
an index is opened. A pickle can run any code, and researchers share index folders: every
unpickling whoosh does goes through `restricted_loads`, which admits only the exact classes an
index built by speechkit contains and refuses everything else with a clear error instead of
running it. Admitting whole packages is not a restriction: any admitted class whose constructor
opens a file (speechkit's own spool did, with "w+b") turns a planted index into a way to create
or truncate files. None of the classes below does I/O when built or unpickled.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from .errors import SpeechkitError

# what whoosh writes into an index with speechkit's schema (index.analysis.schema): the table of
# contents (schema, codec, segments) and the posting blocks; recorded by opening, searching and
# updating built indexes, and held by tests/test_safety.py
INDEX_CLASSES = frozenset({
    ("whoosh.fields", "Schema"), ("whoosh.fields", "ID"), ("whoosh.fields", "NUMERIC"),
    ("whoosh.fields", "STORED"), ("whoosh.fields", "TEXT"),
    ("whoosh.formats", "Existence"), ("whoosh.formats", "Frequency"), ("whoosh.formats", "Positions"),
    ("whoosh.analysis.analyzers", "CompositeAnalyzer"), ("whoosh.analysis.filters", "StopFilter"),
    ("whoosh.analysis.tokenizers", "IDTokenizer"),
    ("whoosh.codec.whoosh3", "W3Codec"), ("whoosh.codec.whoosh3", "W3Segment"),
    ("speechkit.index.analysis", "SpeechText"), ("speechkit.index.analysis", "SpeechTokenizer"),
})
_SAFE = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("builtins", "range"), ("builtins", "bytearray"), ("builtins", "object"), ("builtins", "int"),
    ("builtins", "float"), ("builtins", "str"), ("builtins", "bytes"), ("builtins", "bool"),
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"),
    ("_codecs", "encode"),  # how protocol 2 writes bytes
    ("copyreg", "_reconstructor"), ("array", "array"), ("array", "_array_reconstructor"),
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"),
}


class UnsafeIndexError(SpeechkitError):
    """An index holds a pickled object that no index speechkit builds contains."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # protocol-2 pickles (whoosh writes its table of contents with one) name Python 2 modules
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _SAFE or (module, name) in INDEX_CLASSES:
            return super().find_class(module, name)
        raise UnsafeIndexError(
            f"refusing to open an index that holds a pickled {module}.{name}: it was not built by "
            "speechkit (only open indexes you built); remove the indexes/ folder and run `speechkit index`")


@contextmanager
def trusting(*classes: tuple[str, str]) -> Iterator[None]:
    """Admit more (module, name) classes meanwhile: for opening an index another tool built
    (bench/search.py's baseline pickles jieba's ChineseTokenizer in its schema)."""
    added = set(classes) - _SAFE
    _SAFE.update(added)
    try:
        yield
    finally:
        _SAFE.difference_update(added)


def restricted_loads(data: bytes, *args: Any, **kwargs: Any) -> Any:
    # through a buffered reader: the unpickler then reads ahead with `peek` (from a bare BytesIO
    # it calls `read` once per opcode: a posting block took 26 µs to load, against 8)
    return _Restricted(io.BufferedReader(io.BytesIO(data))).load()


def restricted_load(file: Any, *args: Any, **kwargs: Any) -> Any:
    return _Restricted(file).load()


class _PickleShim(ModuleType):
    """Stands in for the `pickle` module inside whoosh: loading is restricted, the rest is pickle's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(pickle, name)

    loads = staticmethod(restricted_loads)
    load = staticmethod(restricted_load)
    Unpickler = _Restricted


_HARDENED = False


def harden_whoosh() -> None:
    """Route every unpickling in whoosh's modules through the restricted unpickler (idempotent)."""
    global _HARDENED
    if _HARDENED:
        return
    import importlib

    shim = _PickleShim("pickle")
    for name in ("whoosh.compat", "whoosh.index", "whoosh.filedb.structfile", "whoosh.filedb.fileindex",
                 "whoosh.codec.whoosh3", "whoosh.codec.whoosh2", "whoosh.codec.plaintext", "whoosh.multiproc",
                 "whoosh.legacy"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # not every version ships every module
            continue
        for attr, value in (("loads", restricted_loads), ("load", restricted_load),
                            ("load_pickle", restricted_load), ("pickle", shim)):
            if hasattr(module, attr):
                setattr(module, attr, value)
    _HARDENED = True
