"""Damaged text: recovery per kind of damage, characters invented, and the cost per KB.

Real texts from ../shared/corpus are damaged the way crawls damage them (tests/damage.py:
UTF-8 read as GBK / GB18030 / cp1252 with replacement, GBK read as Latin-1, GBK with lost
bytes, every 5th character replaced, `?` between all Han characters) and repaired with the
character repairs (`speechkit.clean.repair_encoding`); the whole cleaner is timed as well.
Rules were tuned on the work reports ("tune") and are reported separately on speeches and
party documents ("held out"). Byte-level kinds (BOM, UTF-16, GB18030, Big5) go through
`speechkit.decode.decode_bytes`.

    python bench/damage.py [--corpus DIR] [--per-source N] [--chars N]

Prints, per kind: recovery before → after (share of the original's characters that are
right), characters the repair wrote that are neither right nor U+FFFD (invented), U+FFFD left,
and the worst milliseconds per KB of input over the texts of that kind (target: <= 50).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speechkit.clean import clean_text, repair_encoding, utf8_lattice  # noqa: E402
from speechkit.decode import decode_bytes  # noqa: E402
from tests.damage import BYTE_KINDS, KINDS, Score, score, texts  # noqa: E402

HELD_OUT = ("speeches", "party-docs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--per-source", type=int, default=2, help="texts from each of the 4 sources")
    ap.add_argument("--chars", type=int, default=9000, help="characters per text (9000 = about 25 KB)")
    ap.add_argument("--margin", type=float, help="override utf8_lattice.MARGIN (for tuning on the tune split)")
    ap.add_argument("--kinds", default="", help="comma-separated kinds to run (default: all)")
    args = ap.parse_args()
    if args.margin is not None:
        utf8_lattice.MARGIN = args.margin
    sample = texts(args.corpus, per_source=args.per_source, max_chars=args.chars)
    repair_encoding("浣犲ソ锛屽悇浣嶄唬琛\ufffd")  # load the character model outside the timings
    print(f"{len(sample)} texts, {sum(len(t) for _, t in sample)} characters; "
          f"held out: {', '.join(HELD_OUT)}")
    print(f"{'kind':22} {'split':8} {'before':>7} {'after':>7} {'invented':>8} {'U+FFFD':>7} "
          f"{'repair ms/KB':>12} {'clean ms/KB':>11}")
    worst_all = 0.0
    for kind, damage in KINDS.items():
        if args.kinds and kind not in args.kinds.split(","):
            continue
        totals: dict[str, Score] = defaultdict(Score)
        worst = defaultdict(float)
        for name, text in sample:
            split = "held out" if name.startswith(HELD_OUT) else "tune"
            damaged = damage(text, random.Random(name))
            kb = len(damaged.encode("utf-8")) / 1024
            t0 = time.perf_counter()
            repaired = repair_encoding(damaged)
            t1 = time.perf_counter()
            clean_text(damaged)
            t2 = time.perf_counter()
            totals[split].add(score(text, damaged, repaired))
            worst[split, "repair"] = max(worst[split, "repair"], (t1 - t0) * 1000 / kb)
            worst[split, "clean"] = max(worst[split, "clean"], (t2 - t1) * 1000 / kb)
        for split in ("tune", "held out"):
            s = totals[split]
            print(f"{kind:22} {split:8} {s.before:7.3f} {s.recovery:7.3f} {s.invented:8d} {s.marked:7d} "
                  f"{worst[split, 'repair']:12.1f} {worst[split, 'clean']:11.1f}")
            worst_all = max(worst_all, worst[split, "repair"], worst[split, "clean"])
    for kind, encode in BYTE_KINDS.items():
        if args.kinds and kind not in args.kinds.split(","):
            continue
        ok = total = 0
        for _, text in sample:
            data = encode(text)
            expected = data.decode("big5") if kind == "big5" else text
            total += 1
            ok += decode_bytes(data).text.replace("\r\n", "\n") == expected
        print(f"{kind:22} {'all':8} decoded exactly: {ok}/{total}")
    print(f"worst cost: {worst_all:.1f} ms/KB (target <= 50)")


if __name__ == "__main__":
    main()
