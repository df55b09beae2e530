"""Selecting documents and their tokens for the analyses.

Analyses read canonical speeches by default; a selection is a filter in the query language
(`year:2013..2017 level:province`). Tokens come from the store's cache (filled by `index`),
and any missing ones are segmented and cached here, so an analysis never disagrees with search
about what the words are.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .context import Context, require_context
from .errors import SpeechkitError
from .matching import matching_form
from .query import Filter, selection_filters
from .segment import deserialize, segment_batch, stopwords

# placeholders and noise that must never be reported as words
_NOT_A_WORD = re.compile(r"^(?:[Xx]+|\*+|[\d.,%％]+|[A-Za-z]|[^\w\u4e00-\u9fff]+)$")


def is_content_word(word: str) -> bool:
    """A word worth counting in keyness, collocates, topics and vocabulary.

    >>> [is_content_word(w) for w in ("营商环境", "的", "XX", "2019", "党")]
    [True, False, False, False, True]
    """
    return word not in stopwords() and not _NOT_A_WORD.match(word)


@dataclass
class Doc:
    id: str
    year: int | None
    level: str | None
    speaker_role: str | None
    title: str | None
    date: str | None
    chars: int
    dup_group: str | None
    region: str | None = None


class Corpus:
    """The store seen by the analyses: documents, texts and tokens of a selection."""

    def __init__(self, home: Context) -> None:
        """`home`: the workspace; its store and segmenter are used and stay open after this closes."""
        self.home = require_context(home, "Corpus")
        self.settings = self.home.settings
        self.store = self.home.store
        # the index's saved dictionary lets a few short texts (a query, sentences of a diff) be
        # cut without loading all of jieba's
        self.segmenter = self.home.segmenter

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._text_index is not None:
            self._text_index.close()

    _text_index = None

    def text_index(self):
        """The search index's matching forms when the index is current, else None (the caller
        then reads the store)."""
        from .index.manifest import check_current
        from .index.text import TextIndex

        if self._text_index is None:
            try:
                have = check_current(self.home)
                self._text_index = TextIndex(self.home.paths, have.get("text"),
                                             (have.get("stamps") or {}).get("text"))
            except SpeechkitError:
                return None
        return self._text_index

    def provenance(self) -> dict[str, str]:
        """What every exported result carries: the corpus digest and the segmenter version."""
        return self.home.provenance()

    def docs(self, filters: list[Filter] = (), *, include_duplicates: bool = False) -> list[Doc]:
        # metadata of every candidate, filtered with the same Filter.matches that search uses
        rows = self.store.metadata(canonical_only=not include_duplicates)
        return [Doc(r["id"], r["year"], r["level"], r["speaker_role"], r["title"], r["date"], r["chars"],
                    r["dup_group"], r["region"]) for r in rows if all(f.matches(r) for f in filters)]

    def select(self, spec: str) -> list[Doc]:
        """The speeches a spec names: a selection (`year:2024 level:national`: its canonical
        speeches) or one speech by its id or a unique prefix of it."""
        if ":" in spec:
            docs = self.docs(selection_filters(spec))
        else:
            d = self.store.get(spec)
            docs = [Doc(d.id, d.year, d.level, d.speaker_role, d.title, d.date, len(d.text), d.dup_group, d.region)]
        if not docs:
            raise SpeechkitError(f"{spec!r} selects no speech; check the filters with `speechkit export {spec}`")
        return docs

    def first_seen(self, term: str) -> dict[str, Any] | None:
        """The earliest dated speech of the whole corpus that contains `term` (exactly, as
        search finds it): its year, id and title, and how many dated speeches have it."""
        index = self.text_index()
        needle = matching_form(term)
        if index is not None:
            positions = index.containing_positions(needle).tolist()
            found = [(year, index.ids[n]) for n, year in zip(positions, index.values("year", positions), strict=True)
                     if year is not None]
        else:
            found = []
            docs = {d.id: d for d in self.docs()}
            for doc_id, text in self.texts(list(docs)):
                if docs[doc_id].year is not None and needle in matching_form(text):
                    found.append((docs[doc_id].year, doc_id))
        if not found:
            return None
        year, doc_id = min(found)
        title = self.store.metadata_of([doc_id])[doc_id]["title"]
        return {"year": year, "id": doc_id, "title": title, "speeches": len(found)}

    def containing(self, term: str) -> set[str]:
        """Ids of the canonical speeches whose matching form contains `term` exactly, as search
        finds them: from the index when it is current, else by reading every text."""
        needle = matching_form(term)
        if not needle:
            return set()
        index = self.text_index()
        if index is not None:
            ids = index.ids
            return {ids[n] for n in index.containing_positions(needle).tolist()}
        return {i for i, text in self.texts([d.id for d in self.docs()]) if needle in matching_form(text)}

    def regions(self) -> list[str]:
        """Every region the store's speeches name."""
        return self.store.regions()

    def texts(self, ids: list[str]) -> Iterator[tuple[str, str]]:
        return self.store.texts(ids)

    def positions(self, ids: list[str]) -> dict[str, list[tuple[str, ...]]]:
        """Token positions (a word, then a lexicon term's parts) of each document."""
        return {i: deserialize(data) for i, data in self.serialized_tokens(ids).items()}

    def tokens(self, ids: list[str]) -> dict[str, list[str]]:
        """Word tokens of each document: the word at each position, and where the word is a
        lexicon term, the lexicon terms inside it too (放管服 in 放管服改革), so a term is counted
        wherever it occurs; ordinary sub-words are not, so nothing common is counted twice."""
        is_term = self.segmenter.is_term
        out = {}
        for i, positions in self.positions(ids).items():
            words = []
            for p in positions:
                words.append(p[0])
                if len(p) > 1:
                    words.extend(w for w in p[1:] if is_term(w))
            out[i] = words
        return out

    def serialized_tokens(self, ids: list[str]) -> dict[str, str]:
        """The cached token form of each document (segmented and cached where missing)."""
        version = self.segmenter.version
        cached = self.store.cached_tokens(ids, version)
        missing = [i for i in ids if i not in cached]
        if missing:
            lexicon = str(self.segmenter.user_lexicon) if self.segmenter.user_lexicon else None
            for batch_start in range(0, len(missing), 200):
                batch = list(self.texts(missing[batch_start:batch_start + 200]))
                rows = segment_batch(batch, lexicon)
                self.store.save_tokens([(i, data) for i, _, data in rows], version)
                cached.update({i: data for i, _, data in rows})
        return {i: cached[i] for i in ids}


def digest(*parts: object) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).hexdigest()
