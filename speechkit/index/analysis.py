"""The whoosh side of an index: our tokenizer (the Segmenter's words, ordinal positions,
character offsets), the analyzer with stopwords, and the schema. Their import paths are pickled
into every index whoosh writes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from whoosh.analysis import StopFilter, Token, Tokenizer
from whoosh.fields import ID, NUMERIC, STORED, TEXT, Schema
from whoosh.system import pack_uint

from ..matching import matching_form
from ..segment import Segmenter, deserialize, stopwords, worker_segmenter

PRETOKENIZED = "\x1e"  # marks a value that already holds serialized tokens


class SpeechTokenizer(Tokenizer):
    """Whoosh tokenizer over our segmentation: ordinal positions (one per word; a lexicon
    term's parts share its position), character offsets into the matching form.

    Holds only plain configuration, because whoosh pickles the analyzer into the index and a
    jieba tokenizer cannot be pickled; the segmenter is built lazily in each process.
    """

    def __init__(self, user_lexicon: str | None = None) -> None:
        self.user_lexicon = user_lexicon

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpeechTokenizer) and other.user_lexicon == self.user_lexicon

    def __getstate__(self) -> dict[str, Any]:
        return {"user_lexicon": self.user_lexicon}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # unpickled from an index folder that may come from elsewhere: plain data or nothing
        lexicon = state.get("user_lexicon") if isinstance(state, dict) else None
        self.user_lexicon = lexicon if isinstance(lexicon, str) else None

    def _segmenter(self) -> Segmenter:
        return worker_segmenter(self.user_lexicon)

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "", **kwargs: Any
                 ) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:  # whoosh's contract: the whole value is one token
            items, match = [(value,)], value
        elif value.startswith(PRETOKENIZED):
            # serialized tokens carry no text to take offsets from: the index stores none
            items, match = deserialize(value[1:]), None
        else:
            match = matching_form(value)
            items = self._segmenter().positions(match)
        cursor = 0
        for pos, words in enumerate(items, start=start_pos):
            at = cursor
            if match is not None:  # each word follows the previous one in the text it was cut from
                found = match.find(words[0], cursor)
                if found >= 0:
                    at, cursor = found, found + len(words[0])
            for word in words:
                t.text = word
                t.boost = 1.0
                t.stopped = False
                if keeporiginal:
                    t.original = word
                if positions:
                    t.pos = pos
                if chars:
                    # a lexicon term's parts lie inside the word at its position
                    inner = match.find(word, at, at + len(words[0])) if match is not None else -1
                    begin = inner if inner >= 0 else at
                    t.startchar, t.endchar = start_char + begin, start_char + begin + len(word)
                yield t


def analyzer(user_lexicon: str | None = None):
    # minsize=1: whoosh drops tokens shorter than 2 by default, and 党, 国, 税 would vanish
    return SpeechTokenizer(user_lexicon) | StopFilter(stoplist=stopwords(), minsize=1, renumber=False)


class SpeechText(TEXT):
    """A TEXT field that takes our cached tokens directly.

    A value starting with PRETOKENIZED holds serialized tokens: they are counted in one pass
    (stopwords dropped) instead of being streamed token by token through the analyzer, which
    was half of whoosh's indexing time. Any other value goes through the analyzer as usual,
    so queries and titles are analysed identically. Its import path is part of the index.
    """

    def index(self, value: Any, **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if isinstance(value, str) and value.startswith(PRETOKENIZED):
            boost = self.format.field_boost
            for word, freq in counted_tokens(value):
                yield word, freq, freq * boost, freq_bytes(freq)
            return
        yield from super().index(value, **kwargs)


def counted_tokens(value: str) -> list[tuple[bytes, int]]:
    """The words of a PRETOKENIZED value with their frequencies, stopwords left out, in the
    order they first occur: what SpeechText.index gives the index (and the writer, which adds a
    document's words at once).

    >>> [(w.decode(), n) for w, n in counted_tokens(PRETOKENIZED + "营商环境|营商|环境 改革 的 改革")]
    [('营商环境', 1), ('营商', 1), ('环境', 1), ('改革', 2)]
    """
    stop = stopwords()
    # a term and its parts are both words here: count them all in C, drop stopwords after
    counts = Counter(value[1:].replace("|", " ").split())
    return [(word.encode("utf-8"), freq) for word, freq in counts.items() if word not in stop]


_FREQ_BYTES = [pack_uint(n) for n in range(1024)]


def freq_bytes(freq: int) -> bytes:
    """whoosh's value of a posting that holds its frequency (pack_uint), one bytes object for
    each small frequency.

    >>> freq_bytes(3) == pack_uint(3), freq_bytes(5000) == pack_uint(5000)
    (True, True)
    """
    return _FREQ_BYTES[freq] if freq < 1024 else pack_uint(freq)


def schema(user_lexicon: str | None = None) -> Schema:
    ana = analyzer(user_lexicon)
    return Schema(
        id=ID(unique=True, stored=True),
        # phrases are matched on the text index, so whoosh keeps frequencies only: the analyzer
        # still yields ordinal positions (its contract), the posting lists just do not store them
        title=SpeechText(analyzer=ana, phrase=False, field_boost=2.0),
        body=SpeechText(analyzer=ana, phrase=False),
        year=NUMERIC(int, stored=True, signed=False),
        date=STORED(),
    )
