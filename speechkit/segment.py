"""Segmentation: the only module that imports jieba.

One `Segmenter` owns a private `jieba.Tokenizer` loaded with the shipped political lexicon
(and a user's own, if given), and segments the matching form of a text the same way at index
and at query time. A lexicon term is kept whole, and its parts are emitted at the same
position, so 营商环境, 营商 and 环境 all find the passage.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import marshal
import os
import re
import shutil
import tempfile
from functools import cached_property, lru_cache
from importlib import resources
from math import log as _ln
from pathlib import Path
from typing import Any

from .errors import InputError

log = logging.getLogger(__name__)

# bump when the way tokens are produced changes: cached tokens and indexes then rebuild
SEGMENTER_REV = 1
SMALL_TEXT = 200  # characters: texts up to this long may use the saved dictionary (queries, terms)
# a token speechkit indexes holds one of these (punctuation and spaces are dropped)
WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # jieba logs at DEBUG on import otherwise
    return jieba


_MISSING = object()
_SYMBOLS = frozenset("+#&.%-")  # the characters of jieba's han class that are not wordlike


@lru_cache(maxsize=1)
def tokenizer_class() -> type:
    """jieba's Tokenizer with a faster no-HMM cut (the only cut speechkit makes): the word graph
    and the best route through it in one pass, each word's log probability computed once.
    It gives jieba's own words (tests compare the two on real texts of every kind); segmentation
    is most of an index build, and this cut takes 0.4 of the time of jieba's (300 reports)."""

    jieba = _jieba()
    is_letter = jieba.re_eng.match
    split_han, match_han = jieba.re_han_default.split, jieba.re_han_default.match
    wordlike = WORDLIKE.search

    class Tokenizer(jieba.Tokenizer):
        _weight: dict[str, float | None]
        _weight_total = -1

        def initialize(self, dictionary: str | None = None) -> None:
            # jieba reads its dictionary cache with marshal.load(file), which reads the file a
            # few bytes a call: 0.37 s, against 0.12 s for marshal.loads of the file's bytes (at
            # the start of every build, before its workers can fork). The same file, the same
            # rule (the default dictionary's cache is used whenever it exists); any other case,
            # or a cache that does not load, is jieba's own.
            if dictionary is None and self.dictionary is None and not self.cache_file and not self.initialized:
                path = os.path.join(self.tmp_dir or tempfile.gettempdir(), "jieba.cache")
                with self.lock:
                    if self.initialized:
                        return
                    try:
                        with open(path, "rb") as fh:
                            self.FREQ, self.total = marshal.loads(fh.read())
                    except (OSError, ValueError, EOFError, TypeError):
                        pass
                    else:
                        self.initialized = True
                        return
            super().initialize(dictionary)

        def add_word(self, word: str, freq: int | None = None, tag: str | None = None) -> None:
            self._weight_total = -1  # weights are computed again (two changes may keep the total)
            super().add_word(word, freq, tag)

        # jieba's cut calls self.__cut_DAG_NO_HMM: this name overrides it
        def _Tokenizer__cut_DAG_NO_HMM(self, sentence: str):
            self.check_initialized()
            out: list[str] = []
            _route(self, sentence, out, False, is_letter)
            yield from out

        def words(self, text: str) -> list[str]:
            """The words of jieba's no-HMM cut of `text` that hold a letter, digit or CJK
            character: `[w for w in self.cut(text, HMM=False) if WORDLIKE.search(w)]` in one
            pass, without a generator per block (131 reports, medians of 5 interleaved: 2.87 → 2.63 s)."""
            self.check_initialized()
            out: list[str] = []
            for block in split_han(text):
                if not block:
                    continue
                if match_han(block):
                    _route(self, block, out, True, is_letter)
                else:  # jieba yields these one character at a time (and whitespace runs)
                    out.extend(c for c in block if wordlike(c))
            return out

    return Tokenizer


def _route(tok: Any, sentence: str, out: list[str], wordlike_only: bool, is_letter: Any) -> None:
    """Append the words of the best route through `sentence` (one block of jieba's
    han class) to `out`, as jieba's __cut_DAG_NO_HMM gives them; `wordlike_only`: not
    the words of "+#&.%-" alone (in that class, the only ones without a letter, digit
    or CJK character); `tok` has checked that its dictionary is loaded."""
    freq = tok.FREQ
    if tok._weight_total != tok.total:  # a word added: the total, so every weight, changed
        tok._weight, tok._weight_total = {}, tok.total
    weight = tok._weight
    logtotal = _ln(tok.total)
    n = len(sentence)
    best = [0.0] * (n + 1)
    end = [0] * n
    for k in range(n - 1, -1, -1):
        # jieba's calc: max((log(freq or 1) - logtotal + best[x + 1], x)) over the words
        # sentence[k:x + 1] in the dictionary; ties go to the longer word
        value, to = -logtotal + best[k + 1], k
        found = False
        i, frag = k, sentence[k]
        while True:
            w = weight.get(frag, _MISSING)
            if w is _MISSING:
                f = freq.get(frag)
                if f is None:       # no dictionary word starts with frag
                    break
                w = weight[frag] = _ln(f) - logtotal if f else None  # None: only a prefix
            if w is not None:
                v = w + best[i + 1]
                if not found or v >= value:
                    value, to, found = v, i, True
            i += 1
            if i >= n:
                break
            frag = sentence[k:i + 1]
        best[k], end[k] = value, to
    x, buf = 0, ""
    append = out.append
    while x < n:
        y = end[x] + 1
        word = sentence[x:y]
        if y - x == 1 and is_letter(word):
            buf += word
        else:
            if buf:
                append(buf)
                buf = ""
            if not wordlike_only or word[0] not in _SYMBOLS or WORDLIKE.search(word):
                append(word)
        x = y
    if buf:
        append(buf)


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

    def __init__(self, user_lexicon: str | os.PathLike[str] | None = None, *,
                 dictionary: str | os.PathLike[str] | None = None) -> None:
        self.user_lexicon = Path(user_lexicon) if user_lexicon else None
        if self.user_lexicon and not self.user_lexicon.is_file():
            raise InputError(f"lexicon file {self.user_lexicon} not found; pass a text file with one term per line")
        self._tok = None
        self._terms: dict[str, tuple[str, ...]] = {}
        self._is_term: dict[str, bool] = {}
        # a saved copy of the dictionary (`save_dictionary`): a short text such as a query is
        # segmented from the few entries it needs instead of loading all 350,000 (0.7 s)
        self.dictionary = Path(dictionary) if dictionary else None
        self._db: Any = None

    @cached_property
    def version(self) -> str:
        """Digest of everything that decides the tokens: lexicon files, the stopword list (the
        index leaves stopwords out, so editing it makes an index stale), jieba, this code.
        Computed once: it reads and hashes the lexicon files."""
        h = hashlib.blake2b(digest_size=8)
        h.update(_lexicon_file("political.tsv").encode())
        h.update(_lexicon_file("stopwords.txt").encode())
        if self.user_lexicon:
            h.update(self.user_lexicon.read_bytes())
        h.update(f"{SEGMENTER_REV}:{_jieba().__version__}".encode())
        return h.hexdigest()

    def terms(self) -> list[tuple[str, int | None]]:
        terms = read_lexicon(_lexicon_file("political.tsv"))
        if self.user_lexicon:
            terms += read_lexicon(self.user_lexicon.read_text("utf-8"))
        return terms

    def load(self) -> Any:
        """Load the full dictionary now (it is otherwise loaded by the first long text); the
        jieba tokenizer that holds it."""
        return self._tokenizer()

    def _tokenizer(self):
        if self._tok is None:
            tok = tokenizer_class()()
            cache = _cache_dir()
            if cache is not None:
                tok.tmp_dir = str(cache)  # jieba's dictionary cache, reused across processes
            tok.initialize()
            for term, freq in self.terms():
                tok.add_word(term, freq=freq or tok.suggest_freq(term, tune=False))
                self._terms[term] = ()
            self._tok = tok
        return self._tok

    def _parts(self, term: str) -> tuple[str, ...]:
        parts = self._terms.get(term)
        if parts == ():
            parts = _parts_in(term, self._tokenizer().FREQ)
            self._terms[term] = parts
        return parts or ()

    def cut(self, text: str) -> list[str]:
        """Word tokens of `text` (already in matching form), punctuation and spaces dropped."""
        small = self._small(text)
        tok = small[0] if small else self._tokenizer()
        return tok.words(text)

    def pieces(self, text: str) -> list[str]:
        """Every token of `text` as the segmenter cuts it, punctuation and spaces included
        (joined, they give `text` back): for showing what changed inside a sentence."""
        small = self._small(text)
        tok = small[0] if small else self._tokenizer()
        return list(tok.cut(text, HMM=False))

    def positions(self, text: str) -> list[tuple[str, ...]]:
        """One entry per word position: the word, then the parts of a lexicon term."""
        small = self._small(text)
        out = []
        if small:
            tok, terms = small
            for w in tok.words(text):
                out.append((w, *_parts_in(w, tok.FREQ)) if w in terms else (w,))
            return out
        terms = self._terms
        for w in self._tokenizer().words(text):
            out.append((w, *self._parts(w)) if w in terms else (w,))
        return out

    def is_term(self, word: str) -> bool:
        """Whether `word` is a lexicon term. Analyses ask this of every token part, so the
        answer is kept, and read from the saved dictionary while the full tokenizer is not
        loaded (one row, not a tokenizer per word: it was a third of `topics`)."""
        known = self._is_term.get(word)
        if known is None:
            db = self._saved() if self._tok is None and self.dictionary is not None else None
            if db:
                row = db["conn"].execute("SELECT term FROM words WHERE word = ?", (word,)).fetchone()
                known = bool(row and row[0])
            else:
                self._tokenizer()
                known = word in self._terms
            self._is_term[word] = known
        return known

    # --- the saved dictionary ----------------------------------------------------------------

    def save_dictionary(self, path: str | os.PathLike[str]) -> None:
        """Write the tokenizer's dictionary (jieba's words, the lexicon terms, their
        frequencies) to an SQLite file, atomically, for `Segmenter(dictionary=path)`; nothing
        to do when the file already holds this segmenter's version."""
        path = Path(path)
        if _saved_version(path) == self.version:
            return
        # the same segmenter writes the same file: one copy per machine and version, which a new
        # workspace copies (writing its 500,000 rows took 0.6 s of every first build)
        cache = _cache_dir()
        if cache is None:
            self._write_dictionary(path)
            return
        shared = cache / f"dictionary-{self.version}.sqlite"
        if _saved_version(shared) != self.version:
            self._write_dictionary(shared)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.new")
        shutil.copyfile(shared, tmp)
        os.replace(tmp, path)

    def _write_dictionary(self, path: Path) -> None:
        """The dictionary file itself, written atomically."""
        import sqlite3

        tok = self._tokenizer()
        tmp = path.with_name(f"{path.name}.{os.getpid()}.new")
        tmp.unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, freq INTEGER, term INTEGER) WITHOUT ROWID")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            db.executemany("INSERT INTO words VALUES (?, ?, ?)",
                           ((w, f, int(w in self._terms)) for w, f in tok.FREQ.items()))
            longest = max(map(len, tok.FREQ))
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("version", self.version), ("total", str(tok.total)), ("longest", str(longest))])
            db.commit()
        os.replace(tmp, path)

    def _small(self, text: str) -> tuple[Any, set[str]] | None:
        """A tokenizer holding only the dictionary entries that occur inside `text`, which
        segments it exactly as the full one does (without HMM, jieba looks up nothing else).
        None when the full tokenizer is loaded anyway, the text is long, or no current saved
        dictionary exists."""
        if self._tok is not None or self.dictionary is None or len(text) > SMALL_TEXT:
            return None
        db = self._saved()
        if db is None:
            return None
        longest = int(db["longest"])
        subs = list({text[i:j] for i in range(len(text)) for j in range(i + 1, min(len(text), i + longest) + 1)})
        freq: dict[str, int] = {}
        terms: set[str] = set()
        for start in range(0, len(subs), 900):
            chunk = subs[start:start + 900]
            for word, f, term in db["conn"].execute(
                    f"SELECT word, freq, term FROM words WHERE word IN ({','.join('?' * len(chunk))})", chunk):
                freq[word] = f
                if term:
                    terms.add(word)
        tok = tokenizer_class()()
        tok.FREQ, tok.total, tok.initialized = freq, int(db["total"]), True
        return tok, terms

    def _saved(self) -> dict[str, Any] | None:
        """The saved dictionary's connection and meta, if it holds this segmenter's version."""
        if self._db is None:
            self._db = {}
            opened = _open_saved(self.dictionary) if self.dictionary else None
            if opened is not None and opened[1].get("version") == self.version:
                self._db = {"conn": opened[0], **opened[1]}
            elif opened is not None:
                opened[0].close()
        return self._db or None


def _cache_dir() -> Path | None:
    """speechkit's folder in the user's cache (jieba's dictionary cache, the saved
    dictionaries), or None when it cannot be made."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "speechkit"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return cache


def _saved_version(path: Path) -> str | None:
    """The segmenter version a saved dictionary holds, or None (missing, unreadable)."""
    opened = _open_saved(path)
    if opened is None:
        return None
    opened[0].close()
    return opened[1].get("version")


def _open_saved(path: Path) -> tuple[Any, dict[str, str]] | None:
    """A read-only connection to a saved dictionary and its meta table, or None."""
    import sqlite3

    if not path.exists():
        return None
    conn = None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        return conn, dict(conn.execute("SELECT key, value FROM meta"))
    except sqlite3.Error:
        if conn is not None:
            conn.close()
        return None


def _parts_in(term: str, freq: dict[str, int]) -> tuple[str, ...]:
    """Every dictionary word and lexicon term inside `term`, never the term itself."""
    n = len(term)
    return tuple(dict.fromkeys(
        term[i:j] for i in range(n) for j in range(i + 2, n + 1) if (i, j) != (0, n) and freq.get(term[i:j])
    ))


def serialize(positions: list[tuple[str, ...]]) -> str:
    """Cached token form: positions separated by spaces, a term and its parts by `|`."""
    return " ".join("|".join(p) for p in positions)


def deserialize(data: str) -> list[tuple[str, ...]]:
    return [tuple(p.split("|")) for p in data.split(" ") if p]


_WORKER: dict[tuple[str, str], Segmenter] = {}


def _worker_key(user_lexicon: str | os.PathLike[str] | None, dictionary: str | None) -> tuple[str, str]:
    # a lexicon is named as Segmenter names it (Path), whichever spelling a caller was given
    return (str(Path(user_lexicon)) if user_lexicon else "", str(dictionary or ""))


def worker_segmenter(user_lexicon: str | None, dictionary: str | None = None) -> Segmenter:
    """One Segmenter per process and lexicon (loading jieba's dictionary takes a second): for
    worker processes, and the whoosh analyzer and segmentation in the build's own process."""
    key = _worker_key(user_lexicon, dictionary)
    if key not in _WORKER:
        _WORKER.clear()
        _WORKER[key] = Segmenter(user_lexicon, dictionary=dictionary)
    return _WORKER[key]


def share_segmenter(seg: Segmenter) -> None:
    """Make `seg` (a build's own, on jieba's full dictionary) this process's segmenter for its
    lexicon: the whoosh analyzer and in-process batches use it instead of loading the
    dictionary again, and worker processes forked after `seg.load()` inherit it instead of each
    loading it (0.75 s of CPU apiece, on two cores the start of every build)."""
    _WORKER.clear()
    _WORKER[_worker_key(seg.user_lexicon, None)] = seg


def segment_batch(items: list[tuple[str, str]], user_lexicon: str | None) -> list[tuple[str, str, str]]:
    """Worker entry point: (id, display text) -> (id, matching form, serialized tokens)."""
    from .matching import matching_form

    seg = worker_segmenter(user_lexicon)
    out = []
    for doc_id, text in items:
        match = matching_form(text)
        out.append((doc_id, match, serialize(seg.positions(match))))
    return out
