"""Region metadata against the manifests: right, empty and wrong, on tuned and held-out reports.

The region rules (speechkit/metadata.py, the division list in speechkit/data/divisions.tsv) were
tuned on the work reports of gov-reports whose region is not held out; a quarter of the regions
(every 4th in code-point order: all their years) are held out, and so are the 2026 provincial
reports of noisy-pages (other sites) and the district reports of gbk (GB2312, another level).
Each report also runs in a second form, as another source publishes it: from the salutation on,
with no title and no session line, the file name naming neither region nor year. There a region
can come only from the text's own formula (我代表广州市人民政府), so empty is often right and
wrong must stay rare.

    python bench/regions.py [--corpus DIR] [--jobs N] [--show N]

Prints, per set: reports, right, empty, wrong, and the wrong ones.
"""

from __future__ import annotations

import argparse
import csv
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speechkit.documents import RawDocument  # noqa: E402
from speechkit.pipeline import process_raw  # noqa: E402
from speechkit.settings import load_settings  # noqa: E402
from speechkit.sources import split_front_matter  # noqa: E402
from tests.heldout import held_out_regions  # noqa: E402


def cases(corpus: Path) -> list[tuple[str, str, str, str]]:
    """(set, path, expected region, form) for every report with a known region."""
    out = []
    with (corpus / "gov-reports" / "manifest.tsv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["collection"].startswith("政府工作报告")]
    held = held_out_regions(r["region"] for r in rows)
    for r in rows:
        region = "全国" if r["region"] == "中央" else r["region"]
        which = "held-out regions" if region in held else "tuned"
        path = str(corpus / "gov-reports" / r["file"])
        out.append((which, path, region, "file"))
        out.append((which + " (from the salutation)", path, region, "salutation"))
    with (corpus / "noisy-pages" / "manifest.tsv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            out.append(("held-out: noisy pages", str(corpus / "noisy-pages" / r["file"]), r["province"], "file"))
    for path in sorted((corpus / "gbk").glob("*.txt")):
        out.append(("held-out: gbk districts", str(path), "海拉尔区", "file"))
    return out


def region_of(case: tuple[str, str, str, str]) -> tuple[str, str, str, str | None, str]:
    which, path, expected, form = case
    settings = load_settings(ROOT / "indexes" / ".bench-regions")
    data = Path(path).read_bytes()
    if form == "salutation":
        _, text = split_front_matter(data.decode("utf-8"))
        start = text.find("各位代表")
        if start < 0:
            return which, path, expected, "(no salutation)", ""
        raw = RawDocument(f"/other-source/报告{abs(hash(path)) % 10**6}.txt", b"", text=text[start:].replace("**", ""))
    else:
        raw = RawDocument(path, data, kind="markdown" if path.endswith(".md") else "text")
    docs = process_raw(raw, settings)
    doc = max(docs, key=lambda d: len(d.text))
    return which, path, expected, doc.region, doc.evidence.get("region", "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--show", type=int, default=12, help="wrong and empty cases listed per set")
    args = ap.parse_args()
    todo = cases(args.corpus)
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(region_of, todo, chunksize=8))
    sets: dict[str, list[tuple]] = {}
    for r in results:
        if r[3] != "(no salutation)":
            sets.setdefault(r[0], []).append(r)
    print(f"{'set':38} {'reports':>7} {'right':>7} {'empty':>6} {'wrong':>6}  right share")
    for name, rows in sorted(sets.items()):
        right = [r for r in rows if r[3] == r[2]]
        empty = [r for r in rows if not r[3]]
        wrong = [r for r in rows if r[3] and r[3] != r[2]]
        print(f"{name:38} {len(rows):7} {len(right):7} {len(empty):6} {len(wrong):6}  {len(right) / len(rows):.3f}")
        for r in wrong[: args.show]:
            print(f"    wrong: {Path(r[1]).parent.name}/{Path(r[1]).name}: {r[2]} -> {r[3]}  [{r[4][:60]}]")
        if "salutation" not in name:
            for r in empty[: args.show]:
                print(f"    empty: {Path(r[1]).parent.name}/{Path(r[1]).name}: {r[2]}")


if __name__ == "__main__":
    main()
