"""Near-duplicate groups: MinHash LSH on character shingles, verified by containment.

Republished copies of one speech differ by a title, a truncation, a footer. Jaccard alone
misses a copy cut to half its length, so LSH only proposes candidates and a candidate joins a
group when most of the shorter text is contained in the longer one. Each group has one
canonical copy (most complete, least damaged, earliest); every copy stays as provenance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from datasketch import MinHash, MinHashLSH

from .settings import Settings
from .store import DocumentStore

# stored signatures are only comparable under the same hashing scheme: name it, never default
SCHEME = "affine32"
_NOT_CONTENT = re.compile(r"[\s\W_]+", re.UNICODE)


def _identity(value: int) -> int:
    return value


def shingle_hashes(match_text: str, k: int) -> np.ndarray:
    """32-bit hashes of the distinct character k-grams, computed in bulk with numpy
    (a polynomial over code points, then the murmur3 finaliser); datasketch hashes one
    Python object at a time, which was a third of ingest time.

    >>> len(shingle_hashes("营商，环境", 3)) == len(shingles("营商，环境", 3)) == 2
    True
    """
    s = _NOT_CONTENT.sub("", match_text)
    codes = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = len(codes) - k + 1
    if n <= 0:
        codes = np.pad(codes, (0, k - len(codes))) if len(codes) else codes
        n = 1 if len(codes) else 0
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            h = h * np.uint64(1000003) + codes[j:j + n]
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return np.unique(h & np.uint64(0xFFFFFFFF))


def shingles(match_text: str, k: int) -> set[str]:
    """Character k-grams of the text without spaces and punctuation.

    >>> sorted(shingles("营商，环境", 3))
    ['商环境', '营商环']
    """
    s = _NOT_CONTENT.sub("", match_text)
    if len(s) < k:
        return {s} if s else set()
    return {s[i:i + k] for i in range(len(s) - k + 1)}


def signature(match_text: str, settings: Settings) -> tuple[bytes, int]:
    hashes = shingle_hashes(match_text, settings.shingle_size)
    mh = MinHash(num_perm=settings.minhash_perm, seed=1, scheme=SCHEME, hashfunc=_identity)
    if len(hashes):
        mh.update_batch(hashes.tolist())
    return mh.hashvalues.astype(np.uint64).tobytes(), len(hashes)


def _minhash(blob: bytes, num_perm: int) -> MinHash:
    return MinHash(num_perm=num_perm, seed=1, scheme=SCHEME,
                   hashvalues=np.frombuffer(blob, dtype=np.uint64))


@dataclass
class _Doc:
    id: str
    mh: MinHash
    size: int
    group: str | None
    rank: tuple


def _rank(row) -> tuple:
    flags = json.loads(row["flags"] or "[]")
    damage = sum(1 for f in flags if f.startswith(("replacement_chars", "mojibake", "lossy")))
    # most complete, least damaged, earliest, then a stable tie-break
    return (bool(row["truncated"]), -(row["n"] or 0), damage + bool(row["lossy"]),
            row["masked"] or 0, row["date"] or "9999", row["id"])


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def update_groups(store: DocumentStore, settings: Settings, new_ids: Iterable[str] | None = None) -> int:
    """Group `new_ids` (default: every ungrouped document) with everything stored.
    Returns the number of documents that are non-canonical copies afterwards."""
    docs: dict[str, _Doc] = {}
    lsh = MinHashLSH(threshold=settings.lsh_threshold, num_perm=settings.minhash_perm)
    for row in store.signatures():
        if (row["shingles"] or 0) * 1 < settings.min_dedup_chars // 2:
            continue
        d = _Doc(row["id"], _minhash(row["minhash"], settings.minhash_perm), row["shingles"],
                 row["dup_group"], _rank(row))
        docs[d.id] = d
        lsh.insert(d.id, d.mh)
    todo = set(new_ids) if new_ids is not None else {i for i, d in docs.items() if d.group is None}
    uf = _Union()
    # existing groups stay together
    for d in docs.values():
        if d.group:
            uf.union(d.group, d.id)
    for doc_id in sorted(todo):
        d = docs.get(doc_id)
        if d is None:
            continue
        uf.find(doc_id)
        for other_id in lsh.query(d.mh):
            if other_id == doc_id:
                continue
            o = docs[other_id]
            j = d.mh.jaccard(o.mh)
            inter = j * (d.size + o.size) / (1 + j)
            if inter / max(1, min(d.size, o.size)) >= settings.containment:
                uf.union(doc_id, other_id)
    members: dict[str, list[str]] = {}
    for doc_id in docs:
        members.setdefault(uf.find(doc_id), []).append(doc_id)
    updates: list[tuple[str | None, bool, str]] = []
    copies = 0
    for ids in members.values():
        if len(ids) == 1:
            d = docs[ids[0]]
            if d.group is not None or d.id in todo:
                updates.append((None, True, d.id))
            continue
        ranked = sorted(ids, key=lambda i: docs[i].rank)
        group = "g" + min(ids)
        copies += len(ids) - 1
        updates.extend((group, i == ranked[0], i) for i in ids)
    store.set_groups(updates)
    return copies
