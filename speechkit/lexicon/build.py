"""Build `political.tsv`, the shipped lexicon, from the real texts.

    python -m speechkit.lexicon.build ../shared/corpus

Candidates are the hand-picked terms in `manual.txt` plus every slogan the corpus puts in
quotation marks (“放管服”) in at least MIN_DOCS documents. Each candidate is counted in the
corpus (documents and occurrences); a term the corpus never uses is dropped. Its frequency
is jieba's own suggestion for keeping it whole (`suggest_freq`), not an arbitrary large
number, so a term wins only where it actually occurs and ordinary words nearby stay as they
were (tests/test_segment.py checks that on real text).
"""

from __future__ import annotations

import collections
import gzip
import json
import logging
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIN_DOCS = 5
QUOTED = re.compile(r"“([\u4e00-\u9fff]{3,10})”")
# ordinals and counts that are ordinary words however often they are quoted (十五 = fifteen)
JUNK = re.compile(r"^[一二三四五六七八九十百千万两〇零]+[五年个次届号]?$|^第")


def _texts(corpus: Path):
    for path in sorted(corpus.rglob("*")):
        if path.suffix in (".md", ".txt") and path.name not in ("README.md",) and "seeds" not in path.parts:
            yield path.read_text("utf-8-sig", errors="replace")
    for path in sorted((corpus / "news").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line).get("content_html", "")


def build(corpus: Path) -> list[tuple[str, int, int, int, str]]:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    manual = {w for line in (HERE / "manual.txt").read_text("utf-8").splitlines()
              if not line.startswith("#") for w in line.split()}
    texts = list(_texts(corpus))
    quoted: collections.Counter[str] = collections.Counter()
    for t in texts:
        quoted.update(set(QUOTED.findall(t)))
    candidates = {w: "manual" for w in manual}
    for w, n in quoted.items():
        if n >= MIN_DOCS and not JUNK.match(w) and w not in candidates:
            candidates[w] = "quoted"
    blob = "\x00".join(texts)
    tok = jieba.Tokenizer()
    tok.initialize()
    rows = []
    for term, source in sorted(candidates.items()):
        occurrences = blob.count(term)
        if occurrences == 0 and source != "manual":
            continue  # hand-picked terms stay even when this corpus lacks them (六稳六保)
        docs = sum(1 for t in texts if term in t) if occurrences < 50_000 else len(texts)
        freq = max(tok.suggest_freq(term, tune=False), 3)
        rows.append((term, freq, docs, occurrences, source))
    return rows


def main() -> None:
    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parents[2].parent / "shared" / "corpus")
    rows = build(corpus)
    out = HERE / "political.tsv"
    with out.open("w", encoding="utf-8") as fh:
        fh.write("# term\tjieba_freq\tcorpus_docs\tcorpus_occurrences\tsource  (built by build.py)\n")
        for row in rows:
            fh.write("\t".join(map(str, row)) + "\n")
    print(f"{len(rows)} terms -> {out}")


if __name__ == "__main__":
    main()
