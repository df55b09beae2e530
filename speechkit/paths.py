"""Where everything of a workspace's indexes lives: DIR/indexes/…"""

from __future__ import annotations

from pathlib import Path


class Paths:
    """Where the parts of an index live under `DIR/indexes/`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.whoosh = root / "whoosh"
        self.text = root / "text"
        self.manifest = root / "manifest.json"
        self.hashes = root / "hashes.json"
        self.lock = root / ".lock"
        # the segmenter's dictionary, so a query is segmented without loading all of jieba's
        self.dictionary = root / "dictionary.sqlite"
        self.topics = root / "topics"      # saved clusterings and themes, one folder each
        self.tfidf = root / "tfidf"        # cached count matrices of the analyses
