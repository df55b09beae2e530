"""What changed between two speeches or two selections (提法): formulations new in B, dropped
from A, used more or less, and sentences whose wording changed, with the changed words marked.

Formulations are content words and runs of two or three words (因地制宜 发展 新质生产力); a run is
listed only when it is not part of a longer listed run with the same count. Everything is ranked
by Dunning's log-likelihood (`keyness.g2`), so what matters comes first. Sentence pairs are found
through shared character bigrams (an inverted index, linear in the sentences) and compared word
by word; a pair is ranked by the keyness of the words that changed.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from .corpus import Corpus, is_content_word
from .csvsafe import record_rows
from .keyness import g2
from .matching import matching_form

MIN_COUNT = 2            # a formulation seen once may be chance
TOP = 30
PAIR_SIMILARITY = 0.5    # Dice over character bigrams for two sentences to be one sentence reworded
_COMMON_BIGRAM = 50      # bigrams in more sentences than this do not propose candidates
_SENTENCE = re.compile(r"[^。！？；!?;\n]+[。！？；!?;]?")


@dataclass
class Side:
    spec: str
    speeches: int
    words: int
    titles: list[str]


@dataclass
class DiffResult:
    a: Side
    b: Side
    new: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    more: list[dict[str, Any]]
    less: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    provenance: dict[str, str] = field(default_factory=dict)
    ranking: str = ""  # how `new` is ordered: without a current index, not by novelty

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), **self.provenance}

    def csv_rows(self) -> list[list[Any]]:
        """A header and one row per formulation: kind (new, dropped, more, less), the term, its
        counts in A and B, G², and the first dated speech that has it (new ones)."""
        records = [{"kind": kind, "term": r["term"], "a": r["a"], "b": r["b"], "g2": r["g2"],
                    "first_seen": (r.get("first_seen") or {}).get("year", "")}
                   for kind in ("new", "dropped", "more", "less") for r in getattr(self, kind)]
        return record_rows(records, self.provenance)


def _side(corpus: Corpus, spec: str) -> tuple[Side, list[str]]:
    """A speech id (or unique prefix) or a selection such as `year:2024 level:national`."""
    docs = corpus.select(spec)
    return Side(spec, len(docs), 0, [d.title or d.id for d in docs[:5]]), [d.id for d in docs]


def _grams(words: list[str]) -> Counter[str]:
    """Content words and runs of 2-3 words that start and end on a content word, joined by a
    space so a run reads as its words."""
    c: Counter[str] = Counter()
    ok = [is_content_word(w) and len(w) > 1 for w in words]
    for i, w in enumerate(words):
        if ok[i]:
            c[w] += 1
            for n in (2, 3):
                if i + n <= len(words) and ok[i + n - 1]:
                    c[" ".join(words[i:i + n])] += 1
    return c


def _formulations(here: Counter[str], there: Counter[str], text: str, *, few: bool) -> list[tuple[str, int]]:
    """What `here` has and `there` lacks: words (one mention is news when this side is a speech or
    two: a report names a new formulation once), and runs of words said at least twice, as
    written (a run read across punctuation is not one) and not inside a longer such run."""
    words = [(g, n) for g, n in here.items() if " " not in g and not there[g] and n >= (1 if few else MIN_COUNT)]
    runs = [(g, n) for g, n in here.items() if " " in g and not there[g] and n >= MIN_COUNT
            and g.replace(" ", "") in text]
    return words + _maximal(runs)


def _maximal(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Leave out a run that is part of a longer listed run with the same count."""
    inside: set[tuple[str, int]] = set()  # (a shorter run inside a listed run, that run's count)
    for g, n in items:
        words = g.split(" ")
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                if j - i < len(words):
                    inside.add((" ".join(words[i:j]), n))
    return [(g, n) for g, n in items if (g, n) not in inside]


def _absent_from(ranked: list[str], other: str, top: int, row: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows of the first `top` of `ranked` whose text `other` does not contain, the ones
    passed over because it does)."""
    rows, there = [], []
    for g in ranked:
        if len(rows) >= top:
            break
        if g.replace(" ", "") in other:
            there.append(g)
        else:
            rows.append(row(g))
    return rows, there


def _more_and_less(rows: list[dict[str, Any]], n1: int, n2: int, top: int
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows said at a higher rate in B, and at a lower one, each by log-likelihood (text counts)."""
    seen: set[str] = set()
    more, less = [], []
    for r in sorted(rows, key=lambda r: -abs(r["g2"])):
        if r["term"] in seen or not (r["a"] and r["b"]):
            continue
        seen.add(r["term"])
        rate_b, rate_a = r["b"] / max(n2, 1), r["a"] / max(n1, 1)
        if rate_b > rate_a:
            more.append(r)
        elif rate_b < rate_a:
            less.append(r)
    return more[:top], less[:top]


_NUMERAL = "[一二三四五六七八九十]+"
_HEADING = re.compile(rf"(?:[（(]{_NUMERAL}[）)]|{_NUMERAL}[、是]|第{_NUMERAL}[，、]|——)")
_LEAD = 30  # a paragraph's first sentence up to this many characters is its lead (bold in print)


def headings(text: str) -> str:
    """The numbered headings and lead sentences of a speech, one a line, in the matching form:
    where a report states its formulations (（一）大力推进现代化产业体系建设，加快发展新质生产力).

    >>> headings("（一）加快发展新质生产力。正文。\\n积极培育未来产业。实施产业创新工程。\\n短句").split("\\n")
    ['(一)加快发展新质生产力', '积极培育未来产业']
    """
    out = []
    for line in text.split("\n"):
        line = line.strip()
        first = re.split(r"[。！？；]", line, maxsplit=1)[0]
        if _HEADING.match(line) or (len(first) <= _LEAD and len(line) > len(first) + 1):
            out.append(matching_form(first))
    return "\n".join(out)


def _bigrams(s: str) -> set[str]:
    return {s[i:i + 2] for i in range(len(s) - 1)}


def _pairs(a_sents: list[str], b_sents: list[str]) -> list[tuple[int, int, float]]:
    """(A sentence, B sentence, similarity) for B sentences that are an A sentence reworded."""
    a_match = [matching_form(s) for s in a_sents]
    b_match = [matching_form(s) for s in b_sents]
    exact = set(a_match)
    index: dict[str, list[int]] = defaultdict(list)
    a_grams = [_bigrams(s) for s in a_match]
    for i, grams in enumerate(a_grams):
        for g in grams:
            index[g].append(i)
    out = []
    used: set[int] = set()
    for j, s in enumerate(b_match):
        if s in exact:
            continue
        grams = _bigrams(s)
        votes: Counter[int] = Counter()
        for g in grams:
            hits = index.get(g)
            if hits and len(hits) <= _COMMON_BIGRAM:
                votes.update(hits)
        best, score = None, 0.0
        for i, _ in votes.most_common(5):
            dice = 2 * len(grams & a_grams[i]) / max(1, len(grams) + len(a_grams[i]))
            if dice > score:
                best, score = i, dice
        if best is not None and PAIR_SIMILARITY <= score < 1.0 and best not in used:
            used.add(best)
            out.append((best, j, score))
    return out


def diff(corpus: Corpus, a: str, b: str, *, top: int = TOP, pairs: int = TOP) -> DiffResult:
    side_a, ids_a = _side(corpus, a)
    side_b, ids_b = _side(corpus, b)
    words_a = corpus.positions(ids_a)
    words_b = corpus.positions(ids_b)
    ga: Counter[str] = Counter()
    gb: Counter[str] = Counter()
    for ws in words_a.values():
        ga.update(_grams([p[0] for p in ws]))
    for ws in words_b.values():
        gb.update(_grams([p[0] for p in ws]))
    n1 = sum(len(ws) for ws in words_a.values())
    n2 = sum(len(ws) for ws in words_b.values())
    side_a.words, side_b.words = n1, n2

    text_a = "\n".join(t for _, t in corpus.texts(ids_a))
    text_b = "\n".join(t for _, t in corpus.texts(ids_b))
    match_a, match_b = matching_form(text_a), matching_form(text_b)

    def row(g: str) -> dict[str, Any]:
        # every count a row shows is read off the texts (matching forms), not the tokens: a
        # word inside a longer token (供应链 in 产业链供应链) is still said
        s = g.replace(" ", "")
        a_n, b_n = match_a.count(s), match_b.count(s)
        return {"term": g, "a": a_n, "b": b_n, "g2": round(g2(b_n, a_n, n2, n1), 2)}

    new = _formulations(gb, ga, match_b, few=len(ids_b) <= 3)
    dropped = _formulations(ga, gb, match_a, few=len(ids_a) <= 3)
    stats = _CorpusStats(corpus)
    is_term = corpus.segmenter.is_term
    heads_b = headings(text_b)

    def salience(g: str) -> tuple[int, int, int, int, int, int]:
        """Lexicon terms, then runs said as a unit, then plain words; within each, those in B's
        headings and lead sentences, the newest to the whole corpus, the most said in B, the
        longest, the earliest in B. Every key but novelty is read off A and B alone, so a
        workspace of two speeches ranks too (novelty then ties)."""
        s = g.replace(" ", "")
        tier = 1 if " " in g else 0 if is_term(g) else 2
        first = stats.first_year(g) if tier < 2 else None
        return (tier, 0 if s in heads_b else 1, -(first or 0), -gb[g], -len(s), match_b.find(s))

    # "new" and "dropped" are claims about the other side's text: a candidate found there after
    # all (inside a longer token) is used more or less, never new; checked down the ranking until
    # `top` rows hold, so the cost is bounded by what is listed
    new_rows, shifted = _absent_from(sorted((g for g, _ in new), key=salience), match_a, top, row)
    dropped_by_g2 = sorted((g for g, _ in dropped), key=lambda g: -g2(ga[g], gb[g], n1, n2))
    dropped_rows, shifted_back = _absent_from(dropped_by_g2, match_b, top, row)
    for r in dropped_rows:
        r["g2"] = round(g2(r["a"], r["b"], n1, n2), 2)
    both = [g for g in gb if ga[g] and " " not in g and ga[g] + gb[g] >= 2 * MIN_COUNT]
    ranked_both = sorted(both, key=lambda g: -abs(g2(gb[g], ga[g], n2, n1)))[:4 * top]
    more, less = _more_and_less([row(g) for g in ranked_both + shifted + shifted_back], n1, n2, top)
    for r in new_rows[:10]:
        r["first_seen"] = corpus.first_seen(r["term"].replace(" ", ""))

    # sentences reworded, cut into words where the cached tokens cut them (no segmenter to load)
    sa, cuts_a = _sentences_and_words(corpus, ids_a, words_a)
    sb, cuts_b = _sentences_and_words(corpus, ids_b, words_b)
    weight = {g: abs(g2(gb[g], ga[g], n2, n1)) for g in set(ga) | set(gb) if " " not in g}
    changed = []
    for i, j, score in _pairs(sa, sb):
        wa, wb = cuts_a[i], cuts_b[j]
        marked, removed, added = _mark(wa, wb)
        if not removed and not added:
            continue  # only punctuation or spacing changed
        changed.append({"a": sa[i], "b": sb[j], "similarity": round(score, 3), "marked": marked,
                        "removed": removed, "added": added,
                        "weight": round(sum(weight.get(w, 0.0) for w in removed + added), 2)})
    changed.sort(key=lambda c: -c["weight"])
    ranking = ("lexicon terms, then runs of words said as a unit, then words; within each: in B's headings "
               "first, newest to the whole corpus, most said in B, longest, earliest in B"
               + ("" if stats.reader is not None else
                  " (without novelty: the index is missing or stale, run `speechkit index`)"))
    return DiffResult(side_a, side_b, new_rows, dropped_rows, more, less, changed[:pairs], corpus.provenance(),
                      ranking)


class _CorpusStats:
    """What the ranked index knows of a word across the whole corpus: the first year a speech
    uses it. Without a current index no word has a year."""

    def __init__(self, corpus: Corpus) -> None:
        from .index.manifest import open_whoosh, read_docnum_ids, whoosh_generation
        from .provenance import read_manifest

        self.reader = None
        self.text = corpus.text_index()
        paths = corpus.home.paths
        if self.text is None or whoosh_generation(paths.whoosh) is None:
            return
        self.reader = open_whoosh(paths, read_manifest(paths)).reader()
        self.ids = read_docnum_ids(paths.whoosh, self.reader)

    def first_year(self, word: str) -> int | None:
        if self.reader is None or self.ids is None or " " in word or not self.reader.doc_frequency("body", word):
            return None
        by_id = self.text.by_id
        positions = [by_id[self.ids[d]] for d in self.reader.postings("body", word).all_ids() if self.ids[d] in by_id]
        return min((y for y in self.text.values("year", positions) if y is not None), default=None)


def _sentences_and_words(corpus: Corpus, ids: list[str], positions: dict[str, list[tuple[str, ...]]]
                         ) -> tuple[list[str], list[list[str]]]:
    """The sentences of the speeches `ids`, each with its words as written: the word boundaries
    come from the cached tokens (found in order in the matching form, a linear walk), and a
    character no token covers (punctuation) is a piece of its own."""
    sentences: list[str] = []
    cuts: list[list[str]] = []
    for doc_id, text in corpus.texts(ids):
        match = matching_form(text)
        bounds: set[int] = set()
        pos = 0
        for p in positions.get(doc_id, ()):
            at = match.find(p[0], pos)
            if at >= 0:
                pos = at + len(p[0])
                bounds.update((at, pos))
        for m in _SENTENCE.finditer(text):
            a, b = m.start(), m.end()
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if b - a < 8:
                continue
            pieces, start = [], a
            for i in range(a + 1, b + 1):
                if i == b or i in bounds or not _inside_word(i, start, bounds, match):
                    pieces.append(text[start:i])
                    start = i
            sentences.append(text[a:b])
            cuts.append(pieces)
    return sentences, cuts


def _inside_word(i: int, start: int, bounds: set[int], match: str) -> bool:
    """Whether position i continues the piece that began at `start`: yes inside a token, no
    after a character that no token began (punctuation stands alone)."""
    return start in bounds and match[i - 1].isalnum() and match[i].isalnum()


def _mark(wa: list[str], wb: list[str]) -> tuple[str, list[str], list[str]]:
    """B's words with what changed marked: [-removed-]{+added+}.

    >>> _mark(["发展", "新兴", "产业"], ["发展", "新质生产力"])[0]
    '发展[-新兴产业-]{+新质生产力+}'
    """
    out, removed, added = [], [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wa, wb, autojunk=False).get_opcodes():
        if op == "equal":
            out.append("".join(wb[j1:j2]))
            continue
        if i2 > i1:
            out.append("[-" + "".join(wa[i1:i2]) + "-]")
            removed.extend(w for w in wa[i1:i2] if is_content_word(w))
        if j2 > j1:
            out.append("{+" + "".join(wb[j1:j2]) + "+}")
            added.extend(w for w in wb[j1:j2] if is_content_word(w))
    return "".join(out), removed, added
