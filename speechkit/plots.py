"""Charts with Chinese labels. The CJK font is found at run time (the project installs
fonts-wqy-microhei on Debian); without one, a clear error instead of boxes."""

from __future__ import annotations

from pathlib import Path

from .errors import SpeechkitError

CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC",
                "Source Han Sans SC", "SimHei", "Microsoft YaHei", "PingFang SC", "AR PL UMing CN")


def _find_family() -> str | None:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in names:
            return family
    for f in font_manager.fontManager.ttflist:
        if any(k in f.name for k in ("CJK", "Hei", "Song", "Kai", "Ming")):
            return f.name
    return None


def cjk_font() -> str:
    """The family name of an installed font that has Chinese glyphs."""
    from matplotlib import font_manager

    family = _find_family()
    if family is None:
        # matplotlib caches its font list once per user: a font installed after that first run
        # (as `.ci/install` may do) is only seen when the system font folders are read again
        for path in font_manager.findSystemFonts():
            if any(k in Path(path).name.lower() for k in ("wqy", "cjk", "notosanssc", "sourcehan", "simhei")):
                font_manager.fontManager.addfont(path)
        family = _find_family()
    if family is not None:
        return family
    raise SpeechkitError("no Chinese font found for charts; install one (Debian: apt-get install "
                         "fonts-wqy-microhei, or run `bash .ci/install`)")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = cjk_font()
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def year_of(bucket: str) -> int | None:
    """The year a bucket names, or None (a level, a role, "(unknown)").

    >>> year_of("2019"), year_of("province"), year_of("(unknown)")
    (2019, None, None)
    """
    return int(bucket) if bucket.isdigit() and len(bucket) == 4 else None


def draw_series(ax, buckets: list[str], series: dict[str, dict[str, float]]) -> None:
    """Series over years as lines on a real time axis (1960, 1964 and 1975 as far apart as they
    are; a year without speeches a gap, not a zero), over categories (levels, roles) as grouped
    bars. Both measure from 0, so heights compare."""
    import numpy as np

    years = [year_of(b) for b in buckets]
    if buckets and all(y is not None for y in years):
        every = list(range(min(years), max(years) + 1))
        for label, values in series.items():
            ys = [values.get(str(y), np.nan) for y in every]
            ax.plot(every, ys, marker="o", markersize=3, label=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        width = 0.8 / max(1, len(series))
        for n, (label, values) in enumerate(series.items()):
            xs = [i + (n - (len(series) - 1) / 2) * width for i in range(len(buckets))]
            ax.bar(xs, [values.get(b, 0.0) for b in buckets], width=width, label=label)
        ax.set_xticks(range(len(buckets)), buckets)
        if len(buckets) > 8:
            import matplotlib.pyplot as plt

            plt.setp(ax.get_xticklabels(), rotation=60, ha="right", fontsize=8)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def trend_series(result) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The buckets that have speeches (a year without any is a gap, not a zero rate) and each
    term's rate per 10,000 characters in them."""
    rows = [r for r in result.rows if r.total_documents and r.bucket != "(unknown)"]
    buckets = list(dict.fromkeys(r.bucket for r in rows))
    return buckets, {term: {r.bucket: r.rate_per_10k for r in rows if r.term == term} for term in result.terms}


def plot_trend(result, path: Path) -> Path:
    """Rates per 10,000 characters: lines on a time axis by year, bars by level or role."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120)
    draw_series(ax, *trend_series(result))
    ax.set_xlabel({"year": "年份", "level": "层级", "speaker_role": "讲话人职务"}.get(result.by, result.by))
    ax.set_ylabel("每万字出现次数")
    ax.set_title("词语趋势：" + "、".join(result.terms))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_theme_shares(data: dict, path: Path, *, by: str = "year", top: int = 8) -> Path:
    """Theme shares by year (lines on a time axis) or by level (bars) for the `top` largest
    themes, each named by its first labels."""
    plt = _pyplot()
    shares = data["share_by"][by]
    buckets = [b for b in shares if b != "(unknown)"]
    series = {f"{t['topic']}: " + "、".join(t["labels"][:3]): {b: shares[b].get(str(t["topic"]), 0.0) for b in buckets}
              for t in sorted(data["themes"], key=lambda t: -t["share"])[:top]}
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=120)
    draw_series(ax, buckets, series)
    ax.set_xlabel({"year": "年份", "level": "层级"}.get(by, by))
    ax.set_ylabel("占段落字数的比例")
    ax.set_title(f"主题比重（{data['name']}，k={data['k']}）")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_spread(result, path: Path) -> Path:
    """The adoption curve of `spread`: the share of units that had used the term, by year, as a
    step on a real time axis, with the centre's first use marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120)
    unit = {"region": "省级行政区", "city": "地级市", "level": "层级"}[result.by]
    if result.curve:
        years = [p["year"] for p in result.curve]
        ax.step(years, [p["share"] for p in result.curve], where="post", color="#1f77b4",
                label=f"已使用的{unit}比例（共 {result.units} 个）")
        ax.xaxis.get_major_locator().set_params(integer=True)
    if result.national:
        ax.axvline(result.national["year"], color="#d62728", linestyle="--",
                   label=f"中央首次使用：{result.national['year']}")
    firsts = [f.year for f in result.first_uses] + ([result.national["year"]] if result.national else [])
    if result.curve and firsts:  # decades of zeros before the first use say nothing
        ax.set_xlim(max(result.curve[0]["year"], min(firsts) - 4) - 0.5, result.curve[-1]["year"] + 0.5)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("年份")
    ax.set_ylabel(f"已使用的{unit}比例")
    ax.set_title(f"“{result.term}”的扩散")
    ax.legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
