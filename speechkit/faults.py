"""Named crash points for the fault-injection tests (tests/test_faults.py).

`crash_point("index:after-whoosh-commit")` ends the process on the spot, as kill -9 would, when
the environment variable SPEECHKIT_FAULT names that point; otherwise it costs one dictionary
look-up. The points sit between the writes whose order makes a build or a save safe, so a test
can show that a crash at each of them leaves the previous answer or the new one, never a wrong
one, and that a rerun repairs.
"""

from __future__ import annotations

import os

POINTS = (
    "ingest:before-grouping",      # every file stored, near-duplicates not grouped yet
    "index:after-whoosh-commit",   # whoosh committed, text index and manifest still the old ones
    "index:after-whoosh-swap",     # a rebuilt whoosh folder in place, the rest old
    "swap:whoosh",                 # inside the folder swap: the old folder moved aside, the new not in
    "swap:text",
    "index:before-manifest",       # everything written but the manifest
    "cluster:after-assignments",   # one of a clustering's files written
    "cache:after-write",           # a TF-IDF cache entry written, not yet renamed into place
    "worker:unit",                 # a worker about to process an input unit (SPEECHKIT_FAULT_AT: which)
)


def crash_point(name: str, where: str = "") -> None:
    """End the process here if SPEECHKIT_FAULT names this point (and, when SPEECHKIT_FAULT_AT
    is set, `where` contains it: one file can be made to kill every worker that takes it)."""
    if os.environ.get("SPEECHKIT_FAULT") == name and os.environ.get("SPEECHKIT_FAULT_AT", "") in where:
        os._exit(86)
