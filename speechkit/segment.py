"""Segmentation: the only module that imports jieba.

One `Segmenter` owns a private `jieba.Tokenizer` loaded with the shipped political lexicon
(and a user's own, if given), and segments the matching form of a text the same way at index
and at query time. A lexicon term is kept whole, and its parts are emitted at the same
position, so 营商环境, 营商 and 环境 all find the passage.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path

from .errors import InputError

log = logging.getLogger(__name__)

# bump when the way tokens are produced changes: cached tokens and indexes then rebuild
SEGMENTER_REV = 1
_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs at DEBUG on import otherwise
    return jieba


def _lexicon_file(name: str) -> str:
    return resources.files("speechkit.lexicon").joinpath(name).read_text("utf-8")


def read_lexicon(text: str) -> list[tuple[str, int | None]]:
    """Terms of a lexicon file: `term [freq]` per line (tabs or spaces), `#` comments.

    >>> read_lexicon("# c\\n营商环境\\t3\\t1015\\n放管服")
    [('营商环境', 3), ('放管服', None)]
    """
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        out.append((parts[0], freq))
    return out


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    return frozenset(w for w, _ in read_lexicon(_lexicon_file("stopwords.txt")))


class Segmenter:
    """Words of the matching form, with lexicon terms whole and their parts alongside.

    >>> seg = Segmenter()
    >>> seg.cut("深化供给侧结构性改革")
    ['深化', '供给侧结构性改革']
    >>> seg.positions("坚持房住不炒，共建一带一路")
    [('坚持',), ('房住不炒',), ('共建',), ('一带一路', '一带', '一路')]
    """

    def __init__(self, user_lexicon: str | os.PathLike[str] | None = None) -> None:
        self.user_lexicon = Path(user_lexicon) if user_lexicon else None
        if self.user_lexicon and not self.user_lexicon.is_file():
            raise InputError(f"lexicon file {self.user_lexicon} not found; pass a text file with one term per line")
        self._tok = None
        self._terms: dict[str, tuple[str, ...]] = {}

    @cached_property
    def version(self) -> str:
        """Digest of everything that decides the tokens: lexicon files, jieba, this code.
        Computed once: it reads and hashes the lexicon files."""
        h = hashlib.blake2b(digest_size=8)
        h.update(_lexicon_file("political.tsv").encode())
        if self.user_lexicon:
            h.update(self.user_lexicon.read_bytes())
        h.update(f"{SEGMENTER_REV}:{_jieba().__version__}".encode())
        return h.hexdigest()

    def terms(self) -> list[tuple[str, int | None]]:
        terms = read_lexicon(_lexicon_file("political.tsv"))
        if self.user_lexicon:
            terms += read_lexicon(self.user_lexicon.read_text("utf-8"))
        return terms

    def _tokenizer(self):
        if self._tok is None:
            jieba = _jieba()
            tok = jieba.Tokenizer()
            cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "speechkit"
            try:
                cache.mkdir(parents=True, exist_ok=True)
                tok.tmp_dir = str(cache)  # jieba's dictionary cache, reused across processes
            except OSError:
                pass
            tok.initialize()
            for term, freq in self.terms():
                tok.add_word(term, freq=freq or tok.suggest_freq(term, tune=False))
                self._terms[term] = ()
            self._tok = tok
        return self._tok

    def _parts(self, term: str) -> tuple[str, ...]:
        parts = self._terms.get(term)
        if parts == ():
            # every dictionary word and lexicon term inside the term, never the term itself
            freq = self._tokenizer().FREQ
            n = len(term)
            parts = tuple(dict.fromkeys(
                term[i:j] for i in range(n) for j in range(i + 2, n + 1)
                if (i, j) != (0, n) and freq.get(term[i:j])
            ))
            self._terms[term] = parts
        return parts or ()

    def cut(self, text: str) -> list[str]:
        """Word tokens of `text` (already in matching form), punctuation and spaces dropped."""
        return [w for w in self._tokenizer().cut(text, HMM=False) if _WORDLIKE.search(w)]

    def positions(self, text: str) -> list[tuple[str, ...]]:
        """One entry per word position: the word, then the parts of a lexicon term."""
        tok = self._tokenizer()
        out = []
        for w in tok.cut(text, HMM=False):
            if not _WORDLIKE.search(w):
                continue
            out.append((w, *self._parts(w)) if w in self._terms else (w,))
        return out

    def is_term(self, word: str) -> bool:
        self._tokenizer()
        return word in self._terms


def serialize(positions: list[tuple[str, ...]]) -> str:
    """Cached token form: positions separated by spaces, a term and its parts by `|`."""
    return " ".join("|".join(p) for p in positions)


def deserialize(data: str) -> list[tuple[str, ...]]:
    return [tuple(p.split("|")) for p in data.split(" ") if p]


_WORKER: Segmenter | None = None


def segment_batch(items: list[tuple[str, str]], user_lexicon: str | None) -> list[tuple[str, str, str]]:
    """Worker entry point: (id, display text) -> (id, matching form, serialized tokens), with
    one Segmenter per process."""
    from .clean.normalize import matching_form

    global _WORKER
    if _WORKER is None or str(_WORKER.user_lexicon or "") != str(user_lexicon or ""):
        _WORKER = Segmenter(user_lexicon)
    out = []
    for doc_id, text in items:
        match = matching_form(text)
        out.append((doc_id, match, serialize(_WORKER.positions(match))))
    return out
