"""whoosh's segment files are read in place (speechkit.index.mapped), not copied: the reader
must behave exactly like the BytesIO copy whoosh made."""

from __future__ import annotations

import io
import pickle
import random

from speechkit.index.mapped import MappedFile
from speechkit.safe_pickle import restricted_load


def test_reads_like_a_copy_under_random_seeks_and_reads() -> None:
    rng = random.Random(5)
    data = bytes(rng.randrange(256) for _ in range(5000)) + b"line one\nline two\n\nend"
    mapped, copy = MappedFile(memoryview(data)), io.BytesIO(data)
    for _ in range(3000):
        op = rng.choice(["read", "readline", "seek", "seek_cur", "seek_end", "tell", "readinto"])
        if op == "read":
            n = rng.choice([-1, 0, 1, 4, 300, 9000])
            assert mapped.read(n) == copy.read(n)
        elif op == "readline":
            n = rng.choice([-1, 3, 1000])
            assert mapped.readline(n) == copy.readline(n)
        elif op == "readinto":
            a, b = bytearray(rng.randrange(1, 50)), bytearray(0)
            b = bytearray(len(a))
            assert mapped.readinto(a) == copy.readinto(b) and a == b
        elif op == "seek":
            pos = rng.randrange(len(data) + 10)
            assert mapped.seek(pos) == copy.seek(pos)
        elif op == "seek_cur":
            off = rng.randrange(-20, 20)
            if copy.tell() + off >= 0:
                assert mapped.seek(off, io.SEEK_CUR) == copy.seek(off, io.SEEK_CUR)
        elif op == "seek_end":
            off = -rng.randrange(0, 100)
            assert mapped.seek(off, io.SEEK_END) == copy.seek(off, io.SEEK_END)
        assert mapped.tell() == copy.tell()


def test_pickles_are_read_whole_and_the_position_moves_past_them() -> None:
    small, large = (3, 7, 1.5, 0, 2, 9), {"terms": list(range(2000))}  # large spans many chunks
    data = b"HEAD" + pickle.dumps(small, 2) + pickle.dumps(large, -1) + b"TAIL"
    mapped = MappedFile(memoryview(data))
    assert mapped.read(4) == b"HEAD"
    assert mapped.load_pickle(restricted_load) == small
    assert mapped.load_pickle(restricted_load) == large
    assert mapped.read() == b"TAIL"


def test_whoosh_reads_segments_through_the_mapped_reader() -> None:
    from whoosh.filedb.structfile import BufferFile

    from speechkit.index.mapped import prepare_whoosh

    prepare_whoosh()  # what open_dir and create_in do before whoosh reads anything
    f = BufferFile(memoryview(b"\x00\x00\x00\x05abcde"), name="x.pst")
    assert isinstance(f.file, MappedFile)
    assert f.read_int() == 5 and f.read(5) == b"abcde"


def test_importing_speechkit_patches_nothing_until_an_index_is_opened(tmp_path) -> None:
    # run in a fresh interpreter: this one may have opened an index already
    import subprocess
    import sys

    probe = (
        "import pickle, speechkit, speechkit.index, speechkit.index.build, speechkit.search\n"
        "import whoosh.index, whoosh.filedb.structfile as sf\n"
        "from speechkit.safe_pickle import restricted_load\n"
        "print(sf.BufferFile.__init__.__module__, whoosh.index.pickle is pickle)\n"
        "from speechkit.index.mapped import create_in, open_dir\n"
        "from speechkit.index.analysis import schema\n"
        f"create_in(__import__('pathlib').Path({str(tmp_path)!r}), schema(None))\n"
        "print(sf.BufferFile.__init__.__module__, whoosh.index.pickle is pickle, sf.load_pickle is restricted_load)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    before, after = out.stdout.split("\n")[:2]
    assert before == "whoosh.filedb.structfile True"
    assert after == "speechkit.index.mapped False True"
