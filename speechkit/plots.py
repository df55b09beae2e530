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


def plot_trend(result, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    family = cjk_font()
    plt.rcParams["font.family"] = family
    plt.rcParams["axes.unicode_minus"] = False
    fig, ax = plt.subplots(figsize=(10, 5), dpi=120)
    for term in result.terms:
        rows = [r for r in result.rows if r.term == term and r.bucket != "(unknown)"]
        ax.plot([r.bucket for r in rows], [r.rate_per_10k for r in rows], marker="o", label=term)
    ax.set_xlabel({"year": "年份", "level": "层级", "speaker_role": "讲话人职务"}.get(result.by, result.by))
    ax.set_ylabel("每万字出现次数")
    ax.set_title("词语趋势：" + "、".join(result.terms))
    ax.legend()
    if len(result.rows) > 12:
        plt.setp(ax.get_xticklabels(), rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_theme_shares(data: dict, path: Path, *, by: str = "year", top: int = 8) -> Path:
    """Lines of theme share by year (or level) for the `top` largest themes, each named by its
    first labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = cjk_font()
    plt.rcParams["axes.unicode_minus"] = False
    shares = data["share_by"][by]
    buckets = list(shares)
    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=120)
    for t in sorted(data["themes"], key=lambda t: -t["share"])[:top]:
        c = str(t["topic"])
        ax.plot(buckets, [shares[b].get(c, 0.0) for b in buckets], marker="o",
                label=f"{c}: " + "、".join(t["labels"][:3]))
    ax.set_xlabel({"year": "年份", "level": "层级"}.get(by, by))
    ax.set_ylabel("占段落字数的比例")
    ax.set_title(f"主题比重（{data['name']}，k={data['k']}）")
    ax.legend(fontsize=8)
    if len(buckets) > 12:
        plt.setp(ax.get_xticklabels(), rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
