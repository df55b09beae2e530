"""The search indexes under `DIR/indexes/`, built from the store's canonical documents.

- `whoosh/`: title and body, analysed by `analysis.SpeechTokenizer` (our tokens, ordinal positions,
  stopwords dropped with minsize=1), scored with BM25F. Used to rank.
- `text/`: the matching form of every canonical document in one UTF-8 file, a table of
  documents with their metadata and an n-gram index over it (SQLite FTS5). Used to find: a
  phrase is looked up in the n-gram index and checked on the matching forms where the index
  alone is not exact, so what `search` returns is exactly the set of documents containing the
  phrase, whatever the segmenter did at word boundaries.
- `manifest.json`: what the indexes were built from (store digest, segmenter and lexicon
  version, code version). A stale index is refused with the command that fixes it.

The modules, lowest first: `analysis` (the whoosh analyzer and schema), `writer` (a whoosh
segment writer), `text` (the exact-match index, reader and writer), `manifest` (what an index
was built from, its lock, whether it is current), `build` (`build_index`). Importing this
package loads none of them (import the module you need): a query imports `manifest` and `text` and never the writer.
Nor does it patch whoosh: every index is opened or created through `mapped.open_dir` /
`create_in`, which harden whoosh's unpickling first.
"""

from __future__ import annotations
