"""Metadata with evidence: title, date and year (and where they came from), speaker, level,
region, site, url, truncation and masking. Every value is read from the text or the page;
when nothing supports a value it stays None.

Page furniture (来源/时间 lines, site names, truncation notices) is read from the original
text, because the cleaner removes it; everything about the speech itself is read from the
cleaned text of each part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .clean import resources as R
from .clean.controls import clean_field
from .regions import TIERS, Division, gazetteer


def cn_year(token: str) -> int | None:
    """二〇二六 -> 2026.

    >>> cn_year("二〇二六"), cn_year("一九七八")
    (2026, 1978)
    """
    digits = [R.CN_DIGITS.get(c) for c in token]
    if len(token) != 4 or any(d is None or d > 9 for d in digits):
        return None
    return int("".join(map(str, digits)))


def _fold_digits(s: str) -> str:
    return s.translate(str.maketrans("０１２３４５６７８９", "0123456789"))


def _iso(y: int, m: int | None, d: int | None) -> str:
    if m and d and 1 <= m <= 12 and 1 <= d <= 31:
        return f"{y:04d}-{m:02d}-{d:02d}"
    if m and 1 <= m <= 12:
        return f"{y:04d}-{m:02d}"
    return f"{y:04d}"


def date_from_match(m: re.Match[str]) -> str | None:
    gd = {k.rstrip("2"): v for k, v in m.groupdict().items() if v}
    if gd.get("y"):
        return _iso(int(gd["y"]), int(gd["m"]) if gd.get("m") else None,
                    int(gd["d"]) if gd.get("d") else None)
    if gd.get("cy"):
        y = cn_year(gd["cy"])
        if y:
            return _iso(y, R.cn_number(gd.get("cm")), R.cn_number(gd.get("cd")))
    return None


# --- page-level information -------------------------------------------------------------------

@dataclass
class PageInfo:
    page_date: str | None = None
    page_date_evidence: str | None = None
    site: str | None = None
    site_evidence: str | None = None
    url: str | None = None
    total_chars: int | None = None
    shown_chars: int | None = None
    omitted_chars: int | None = None
    truncation_evidence: list[str] = field(default_factory=list)
    news_source: str | None = None


_SECOND_LEVEL = (".gov.cn", ".com.cn", ".org.cn", ".edu.cn", ".net.cn", ".ac.cn")


def _domain(url: str) -> str | None:
    """The registered domain of a URL, so tv.cctv.com and www.cctv.com are one site.

    >>> _domain("https://tv.cctv.com/2015/01/01/x.shtml"), _domain("http://www.beijing.gov.cn/a")
    ('cctv.com', 'beijing.gov.cn')
    """
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host or re.fullmatch(r"[\d.]+", host):
        return host or None
    labels = host.split(".")
    keep = 3 if host.endswith(_SECOND_LEVEL) else 2
    return ".".join(labels[-keep:])


_SITE_NAME = R.rx("|".join(re.escape(n) for n in R.SITES))


def page_info(original: str, meta: dict[str, str]) -> PageInfo:
    """What the page says about itself: its date, site, address and any truncation."""
    info = PageInfo()
    if "(" in original or "（" in original:
        original = R.RE_PINYIN.sub("", original)  # 當(dāng)前 must read as 當前 for the notices
    lines = [x.strip() for x in original.replace("\r", "").split("\n") if x.strip()]
    edge = lines[:20] + lines[-20:]
    info.page_date, info.page_date_evidence = _page_date(edge, meta)
    info.news_source = next((m.group() for line in edge if (m := R.RE_NEWS_SOURCE.search(line))), None)
    # url: the crawler's, the saved page's, or a 链接地址 line
    info.url = meta.get("url") or next(
        (m.group() for line in edge if ("链接地址" in line or "鏈接地址" in line) and (m := R.RE_URL.search(line))),
        None)
    info.site, info.site_evidence = _site(original, lines, edge, info.url, meta)
    # truncation notices (guarded: the patterns would otherwise be tried at every position)
    for m in R.RE_TRUNC_OMITTED.finditer(original) if "省略" in original else ():
        info.omitted_chars = (info.omitted_chars or 0) + int(m.group("omitted"))
        info.truncation_evidence.append(m.group().strip()[:80])
    m = R.RE_TRUNC_TAIL.search(original) if "未完" in original else None
    if m:
        info.total_chars, info.shown_chars = int(m.group("total")), int(m.group("shown"))
        info.truncation_evidence.append(m.group().strip().split("\n")[0][:80])
    return info


def _page_date(edge: list[str], meta: dict[str, str]) -> tuple[str | None, str | None]:
    """(date, evidence): the crawler's field or <meta>, else a 时间/更新时间 line (its value may
    be on the next line), else a 范文 site's dateline."""
    if meta.get("page_date"):
        m = R.RE_ISO_DATE.search(_fold_digits(meta["page_date"]))
        if m:
            return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3))), f"page_date={meta['page_date']}"
    for i, line in enumerate(edge):
        if R.RE_LABEL.search(line) or re.match(r"^\S{2,12}(范文网|文秘网|词库|文库)\s+\d{4}-", line):
            probe = line
            label = R.RE_LABEL_LINE.match(line)
            if label and not label.group(2).strip():
                probe = line + " " + (edge[i + 1] if i + 1 < len(edge) else "")
            m = R.RE_ISO_DATE.search(_fold_digits(probe))
            if m:
                return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3))), probe[:80]
    return None, None


def _site(original: str, lines: list[str], edge: list[str], url: str | None,
          meta: dict[str, str]) -> tuple[str | None, str | None]:
    """(site, evidence): the url's domain, else a known site name in the page furniture, else
    the address in a truncation notice, the crawler's field, or a domain line at the top."""
    if url and (domain := _domain(url)):
        return domain, url
    for line in edge:
        m = _SITE_NAME.search(line)
        if m and (m.start() <= 2 or line[m.start() - 1] in "(（©"):
            name = R.T2S.convert(m.group())
            return R.SITES.get(name) or name, line[:80]
    m = R.RE_TRUNC_OMITTED.search(original)
    if m and m.group("url"):
        site = _domain(m.group("url"))
        if site:
            return site, m.group().strip()[:80]
    if meta.get("site"):
        return meta["site"], f"site={meta['site']}"
    for line in lines[:5]:
        m = R.RE_DOMAIN_LINE.search(line)
        if m and len(line) < 60:
            return _domain("http://" + m.group(1)), line
    return None, None


# --- title --------------------------------------------------------------------------------------

_SALUTATION = R.rx(r"^(同志们|各位代表|尊敬的|女士们|先生们|各位|朋友们|同学们)")
_NOT_TITLE_END = tuple("。；：:，,！？!?")
_TITLE_WORDS = R.rx(
    r"(讲话|报告|发言|致辞|纲要|决议|决定|公报|规划|计划|意见|通知|条例|办法|规定|章程|发言稿|演讲|贺信|贺词|献词"
    r"|开幕辞|闭幕辞|署名文章)"
)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _title_like(line: str) -> bool:
    s = line.strip()
    return (
        2 <= len(s) <= 70 and not s.endswith(_NOT_TITLE_END) and not _SALUTATION.match(s)
        and not R.RE_DATELINE.match(s) and bool(R.RE_HAN.search(s))
    )


def tidy_title(title: str | None) -> str | None:
    """A title printed twice in a row, or letter-spaced by the page layout, once and tight.

    >>> tidy_title("2019年广州市政府工作报告2019年广州市政府工作报告")
    '2019年广州市政府工作报告'
    >>> tidy_title("2 0 1 5 年 政府工作报告"), tidy_title("省长 王清宪 讲话")
    ('2015年政府工作报告', '省长 王清宪 讲话')
    """
    if not title:
        return title
    t = title.strip()
    tokens = t.split()
    singles = sum(len(tok) == 1 for tok in tokens)
    if singles >= 3 and singles * 2 >= len(tokens):
        t = "".join(tokens)
    half = len(t) // 2
    for cut in (half, half + 1):
        a, b = t[:cut].strip(), t[cut:].strip()
        if a and a == b:
            return a
    return t


def title_from_filename(path: str) -> str | None:
    """A file's name as its title, when the text has none and the name reads as one.

    >>> title_from_filename("/x/2024年国务院政府工作报告.txt"), title_from_filename("/x/2019.md")
    ('2024年国务院政府工作报告', None)
    >>> title_from_filename("/x/2026_上海市_政府工作报告.txt")
    '2026上海市政府工作报告'
    """
    stem = re.sub(r"\.(txt|md|html?|gz)$", "", path.replace("\\", "/").rsplit("/", 1)[-1], flags=re.I)
    stem = re.sub(r"[_\s]+", "", stem)
    if len(R.RE_HAN.findall(stem)) >= 4 and _TITLE_WORDS.search(stem):
        return stem
    return None


def choose_title(part_title: str | None, body: str, meta_title: str | None) -> str | None:
    return tidy_title(_choose_title(part_title, body, meta_title))


def _choose_title(part_title: str | None, body: str, meta_title: str | None) -> str | None:
    first = body.split("\n", 1)[0].strip() if body else ""
    header = R.RE_FILENAME_HEADER.match(first)
    if header and not part_title:
        return header.group(2).strip()
    body_title = first if _title_like(first) and _TITLE_WORDS.search(first) else None
    meta_title = (meta_title or "").strip() or None
    if part_title:
        return part_title
    if body_title and (not meta_title or len(_squash(body_title)) > len(_squash(meta_title))):
        return body_title
    return meta_title or body_title


def drop_title_lines(body: str, title: str | None) -> str:
    """Remove the title (whole, or broken over several lines) from the top of the body."""
    if not title:
        return body
    key = _squash(title)
    lines = body.split("\n")
    i = 0
    while i < len(lines) and i < 6:
        s = _squash(lines[i])
        if s and (s in (key, key * 2) or (s in key and len(s) * 3 >= len(key)) or (i > 0 and s in key and len(s) <= 2)
                  or (key in s and len(s) <= len(key) + 12 and _title_like(lines[i]))):
            i += 1
            continue
        break
    return "\n".join(lines[i:])


# --- dates --------------------------------------------------------------------------------------

@dataclass
class DateInfo:
    date: str | None = None
    date_source: str | None = None
    year: int | None = None
    year_source: str | None = None
    year_min: int | None = None
    year_max: int | None = None
    evidence: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


_DATE_IN_PARENS = re.compile(rf"[(（]\s*(?:{R.DATE_CORE}|{R.DATE_CN})[^)）]{{0,12}}[)）]")


def body_date(text: str) -> tuple[str, str] | None:
    """A dateline near the top: （2024年5月4日）, ——2019年3月5日在…, 1979年6月27日."""
    for line in text.split("\n")[:12]:
        s = _fold_digits(line.strip())
        if len(s) > 160:
            continue
        m = None
        if len(s) <= 90:
            m = R.RE_DATELINE.match(s) or _DATE_IN_PARENS.search(s) or R.RE_DATE_ADOPTED.match(s)
        m = m or R.RE_DATELINE_INLINE.search(s)
        if m:
            d = date_from_match(m)
            if d:
                return d, line.strip()[:80]
    return None


def title_date(title: str) -> tuple[str, str] | None:
    """A full date inside a title: 长春政府工作报告（2011年12月26日 崔杰）."""
    m = R.RE_ISO_DATE.match(title)
    if m:
        return _iso(int(m.group(1)), int(m.group(2)), int(m.group(3))), m.group()
    m = re.search(R.DATE_CORE, _fold_digits(title))
    if m and m.group("m") and m.group("d"):
        return date_from_match(m) or "", m.group()
    return None


def title_year(title: str) -> tuple[int, str] | None:
    """The year a title names; a five-year plan is dated by its first year.

    >>> title_year("中华人民共和国国民经济和社会发展第十四个五年规划和2035年远景目标纲要")
    (2021, '第十四个五年规划')
    >>> title_year("杨雄市长在上海市第十四届人民代表大会第一次会议上的政府工作报告（2013年）")
    (2013, '2013年')
    """
    t = _fold_digits(title)
    m = R.RE_PLAN_TITLE.search(t)
    if m:
        if m.group(1):
            # 第十四个五年规划 is the 14th plan: FIVE_YEAR_PLANS lists them in order
            n = R.cn_number(m.group(1)) or 0
            plans = list(R.FIVE_YEAR_PLANS)
            key = plans[n - 1] if 1 <= n <= len(plans) else None
        else:
            key = R.T2S.convert(m.group(2))
        if key in R.FIVE_YEAR_PLANS:
            return R.FIVE_YEAR_PLANS[key], m.group()
    for m in R.RE_YEAR_IN_TITLE.finditer(t):
        if m.group(1):
            return int(m.group(1)), m.group()
        if m.group(2):
            return int(m.group(2)), m.group()
        y = cn_year(m.group("cy") or "")
        if y:
            return y, m.group()
    m = re.search(r"(?<!\d)((?:19|20)\d{2})(?!\d)(?!\s*年\s*\d{1,2}\s*月)", t)
    if m:
        return int(m.group(1)), m.group()
    return None


_PLAN_POSITION = R.rx(
    r"(十[一二三四五六]?五|[一二三四五六七八九]五)[”\"」]?(?:规划|计划)?[^。]{0,12}?"
    r"(开局之年|起步之年|第一年|承上启下|收官之年|最后一年|决胜之年)"
)
_POSITION_OFFSET = {"开局之年": 0, "起步之年": 0, "第一年": 0, "承上启下": 2, "收官之年": 4,
                    "最后一年": 4, "决胜之年": 4}


# Where in a work report a "X年是…之年" sentence sits tells which year it speaks of: in the review
# (the first 22% of the text) the year just ended, in the plan the report's own. Measured on the
# manifest's reports: sentences about the past year sit at 0-18% of the text (10th-90th
# percentile, median 1%), about the report's own year at 27-72% (median 43%). Tuned on
# provincial and national reports (wrong 67 -> 23 of 349 against the 300-character
# review-context rule); held out, city reports: 70 -> 13 of 519.
REVIEW_SHARE = 0.22


def inferred_year(text: str) -> tuple[int, str] | None:
    """The year a speech says it is given in: 2020年是…之年; 今年是…十四五…承上启下的关键一年;
    全面贯彻落实党的二十大精神的开局之年."""
    t = _fold_digits(text)
    # a work report reviews the past year before it plans the coming one: "2015年是…之年" in
    # the review speaks of the year just ended, and the report is for the year after it
    report = bool(R.RE_ON_BEHALF.search(t[:3000]))
    for m in R.RE_THIS_YEAR.finditer(t):
        sentence = m.group()
        if m.group(1):
            if report:
                past = m.start() < REVIEW_SHARE * len(t)
            else:  # in a review ("回顾"/"过去一年") the sentence describes the year just ended
                past = bool(R.RE_REVIEW_CONTEXT.search(t[max(0, m.start() - 300): m.start()]))
            return int(m.group(1)) + past, sentence.strip("。，, \n")[:60]
        c = R.RE_CONGRESS_OPENING.search(sentence)
        if c:
            return R.PARTY_CONGRESSES[R.T2S.convert(c.group(3))] + 1, sentence.strip("。，, \n")[:60]
        # the sentence runs on: 今年是…开局之年，也是实施“十四五”规划承上启下的关键一年
        tail = t[m.start(): m.end() + 60].split("。")[0]
        p = _PLAN_POSITION.search(tail)
        if p:
            start = R.FIVE_YEAR_PLANS.get(R.T2S.convert(p.group(1)))
            if start:
                return start + _POSITION_OFFSET[p.group(2)], tail.strip("。，, \n")[:60]
    return None


def structure_year(text: str) -> tuple[int, str] | None:
    """The year a report is for, from its section headings: "2022年工作安排" (this year) or
    "2021年工作回顾" (last year)."""
    t = _fold_digits(text)
    planned = [int(m.group(1) or m.group(2)) for m in R.RE_YEAR_PLANNED.finditer(t)]
    if planned:
        year = max(set(planned), key=planned.count)
        return year, R.RE_YEAR_PLANNED.search(t).group().strip()
    m = R.RE_YEAR_REVIEWED.search(t)
    if m:
        return int(m.group(1)) + 1, m.group()
    return None


def era_floor(text: str) -> tuple[int, str] | None:
    """The latest "not before" year that era markers in the text prove."""
    best: tuple[int, str] | None = None
    for pattern, year, label in R.ERA_FLOORS:
        if pattern.search(text) and (best is None or year > best[0]):
            best = (year, label)
    for m in R.RE_CONGRESS.finditer(text):
        name = R.T2S.convert(m.group(1))
        year = R.PARTY_CONGRESSES.get(name)
        # a congress is anticipated in the year before it meets
        if year and not R.RE_CONGRESS_UPCOMING.search(text[max(0, m.start() - 12): m.end()]) and (
            best is None or year - 1 > best[0]
        ):
            best = (year - 1, "党的" + name)
    for m in R.RE_PLAN_MENTION.finditer(text):
        start = R.FIVE_YEAR_PLANS.get(R.T2S.convert(m.group(1)))
        # a plan is studied and drafted for up to three years before it starts
        if start and (best is None or start - 3 > best[0]):
            best = (start - 3, m.group().strip("“”\""))
    return best


def dates(text: str, title: str | None, page: PageInfo, meta: dict[str, str], *,
          first_line: str = "") -> DateInfo:
    """Date and year with their sources. The year is the speech's: a report delivered in
    December belongs to the next year's session; a page date only bounds it from above."""
    out = DateInfo()
    _date(out, text, title, page, meta, first_line)
    if page.page_date:
        out.year_max = int(page.page_date[:4])
    floor = era_floor(text)
    if floor:
        out.year_min = floor[0]
        out.evidence["year_min"] = floor[1]
    _year(out, text, title, page)
    if out.year is not None:
        if out.year_max is not None and out.year > out.year_max + 1:
            out.flags.append("year_after_page_date")
        if out.year_min is not None and out.year < out.year_min:
            out.flags.append("year_before_era_marker")
    return out


def _date(out: DateInfo, text: str, title: str | None, page: PageInfo, meta: dict[str, str],
          first_line: str) -> None:
    """The date: a curated one (front matter, a mapped crawler field) beats one in the text (the
    dateline, else the title or a file-name header), which beats the page's."""
    m = R.RE_ISO_DATE.search(_fold_digits(meta.get("date", "")))
    if m:
        out.date = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        out.date_source, out.evidence["date"] = "metadata", f"date={meta['date']}"
        return
    found, source = body_date(text), "body"
    if not found:
        header = R.RE_FILENAME_HEADER.match(first_line)
        if header:
            found, source = title_date(header.group(1)), "title"
        elif title:
            found, source = title_date(title), "title"
    if found:
        out.date, out.date_source, out.evidence["date"] = found[0], source, found[1]
    elif page.page_date:
        out.date, out.date_source, out.evidence["date"] = page.page_date, "page", page.page_date_evidence or ""


def _year(out: DateInfo, text: str, title: str | None, page: PageInfo) -> None:
    """The speech's year: a curated date's, else the title's, else the date's (its session),
    else inferred from the text, else a news page's."""
    session: int | None = None
    if out.date and out.date_source != "page":
        session = int(out.date[:4])
        head = (title or "") + "\n".join(text.split("\n")[:6])
        if out.date[5:7] == "12" and "工作报告" in head:
            session += 1  # local congresses meet in December to adopt next year's report
    ty = title_year(title) if title else None
    if ty and session is not None and R.RE_SPEECH_TITLE.search(title or ""):
        ty = None
    if out.date_source == "metadata" and session is not None:
        # a curated date is the document's own; a year in its title names a topic
        out.year, out.year_source, out.evidence["year"] = session, "metadata", out.evidence["date"]
    elif ty:
        out.year, out.year_source, out.evidence["year"] = ty[0], "title", ty[1]
        if R.RE_NEW_YEAR_TITLE.search(title or ""):
            out.year -= 1
            out.evidence["year"] += " (a new-year message is given on 31 December)"
        if session is not None and abs(ty[0] - session) > 1:
            out.flags.append("date_conflicts_title")
    elif session is not None:
        out.year, out.year_source, out.evidence["year"] = session, out.date_source, out.evidence["date"]
    else:
        inferred = structure_year(text) or inferred_year(text)
        if inferred:
            out.year, out.year_source, out.evidence["year"] = inferred[0], "inferred", inferred[1]
        elif out.year_max is not None and page.news_source:
            # a news outlet publishes a speech within days; a 范文 site may republish it years later
            out.year, out.year_source = out.year_max, "page"
            out.evidence["year"] = f"{page.page_date_evidence} ({page.news_source})"


# --- speaker, level, region -----------------------------------------------------------------------

ROLE_LEVEL = dict(R.ROLES)
_NOT_NAMES = {"同志", "同志们", "讲话", "致辞", "发言", "在全", "代表", "报告", "作政", "作报", "主持"}


@dataclass
class Speaker:
    role: str | None = None
    name: str | None = None
    org: str | None = None
    evidence: str | None = None


def _name(raw: str | None) -> str | None:
    if not raw:
        return None
    name = _squash(raw)
    if re.fullmatch(r"[\u4e00-\u9fff]{1,8}[·・•][\u4e00-\u9fff]{1,8}", name):
        return name.replace("・", "·").replace("•", "·")
    if not (2 <= len(name) <= 4) or name in _NOT_NAMES or re.search(r"[XＸx*]", name):
        return None
    return name


def speaker(text: str, title: str | None) -> Speaker:
    lines = [x.strip() for x in text.split("\n")[:14]]
    for i, line in enumerate(lines):
        for piece in [line, *line.split(" ")[1:]] if len(line) <= 80 else []:
            piece = piece.strip()
            if len(piece) > 40:
                continue
            shown, piece = piece, R.RE_ACTING.sub("", piece)
            m = R.RE_SPEAKER_LINE.match(_fold_digits(piece)) or R.RE_SPEAKER_LINE.match(
                re.sub(r"^.*?(会议上|大会上)\s*", "", piece)
            )
            if not m:
                continue
            role = R.T2S.convert(m.group("role"))
            name = _name(m.group("name"))
            if name is None and i + 1 < len(lines):
                nm = re.match(r"^([\u4e00-\u9fff]{2,4})\s*(?:[(（][^)）]*[)）])?$", lines[i + 1])
                name = _name(nm.group(1)) if nm else None
            if name or m.group("org") or len(piece) <= 8:
                return Speaker(role, name, m.group("org") or None, shown)
    # a name alone between the dateline and the salutation (——二〇〇三年一月八日在…会议上 / 王鸿举 /
    # 各位代表：): the speaker, role unstated
    for i in range(1, len(lines) - 1):
        if R.RE_DATELINE.search(lines[i - 1]) and lines[i + 1].endswith(("：", ":")):
            name = _name(lines[i]) if re.fullmatch(r"[\u4e00-\u9fff·・•\s\u3000]{2,17}", lines[i]) else None
            if name:
                return Speaker(None, name, None, lines[i])
    if title:
        m = R.RE_ROLE_IN_TITLE.search(title)
        if m:
            return Speaker(R.T2S.convert(m.group("role")), _name(m.group("name")),
                           m.group("org") or None, title)
    return Speaker()


# 在哈尔滨市十二届人大一次会议上 / 在云南省第九届人民代表大会第六次会议上: the division named
# right before the session is the one whose congress it is
_SESSION = R.rx(r"第?[一二三四五六七八九十\d]+届(?:人民代表大会|人大)")
# what follows a county's name in a title that is about its government (海拉尔区2012年政府工作报告)
_COUNTY_TITLE = R.rx(r"\s*(?:\d{4}年|人民政府|政府|人民代表大会|人大|第|党委|委员会|委|国民经济|工作报告|[—－（(-]|$)")
# a region read off its count in the text needs this many mentions, and twice the next one's
MIN_MENTIONS = 3


def _fits(div: Division, level: str | None) -> bool:
    """Whether a division can be the region of a speech at `level` (None: any level)."""
    if level is None or div.level == level:
        return True
    if level == "city" and div.tier == "province":
        return div.name.endswith("市")  # 我代表市人民政府 in Beijing, Shanghai, Tianjin, Chongqing
    if level == "city" and div.tier == "county":
        return div.name.endswith("市")  # a county-level city (昆山市)
    if level == "district":
        return div.name.endswith("自治区")  # 全区 in Guangxi, Tibet, Ningxia, Xinjiang, Inner Mongolia
    return False


def _most_named(text: str, level: str) -> tuple[Division, str] | None:
    """The division of `level` the text names most often, when it is named at least MIN_MENTIONS
    times and twice as often as any other: a government speaks of its own region. A short form
    counts only for a division the text also names in full, since many are parts of ordinary
    words (长治 in 长治久安, 大同 in 世界大同); a province's (甘肃, 广西) counts alone, except in a
    city's speech (a city's report says 上海 more often than its own name in full)."""
    counts: dict[str, int] = {}
    forms: dict[str, set[str]] = {}
    divs: dict[str, Division] = {}
    for m in gazetteer().mentions(text):
        if _fits(m.division, level):
            name = m.division.name
            counts[name] = counts.get(name, 0) + 1
            forms.setdefault(name, set()).add(m.written)
            divs[name] = m.division
    full = gazetteer().names

    def counted(name: str) -> bool:
        return bool(forms[name] & full.keys()) or (divs[name].tier == "province" and level != "city")

    ranked = sorted(((k, v) for k, v in counts.items() if counted(k)), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < MIN_MENTIONS or (len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]):
        return None
    name, n = ranked[0]
    runner = f", next {ranked[1][0]} ×{ranked[1][1]}" if len(ranked) > 1 else ""
    return divs[name], f"{'/'.join(sorted(forms[name]))} named ×{n} in the text{runner}"


def _in_title(title: str, level: str | None) -> tuple[Division, str] | None:
    """The most specific division a title names that fits the level (深圳市 in 深圳市学习广东省…).
    A short form counts only where the title starts (广西2023年政府工作报告, 沧州：…): elsewhere it is
    often part of another name or word (北京师范大学, 大同, 安康); a county's name only before what
    names its government or a report (海拉尔区2012年政府工作报告, not 论解放区战场)."""
    bare = re.sub(r"^\d{4}年", "", _fold_digits(title))
    found: list[Division] = []
    for m in gazetteer().mentions(bare):
        div = m.division
        if m.written not in gazetteer().names and m.start != 0:
            continue
        if div.tier == "county" and not _COUNTY_TITLE.match(bare, m.end):
            continue
        if _fits(div, level):
            found.append(div)
    deepest = max((TIERS.index(d.tier) for d in found), default=None)
    named = {d.name: d for d in found if TIERS.index(d.tier) == deepest}
    # several divisions of one tier (天津市委、福建省委、浙江省委…) name no one region
    return (next(iter(named.values())), title) if len(named) == 1 else None


def _level_in_scope(text: str, title: str | None) -> tuple[str | None, str]:
    """The level the scope words say (全省, 我县: in the title, else 3+ times in the text and
    twice as often as any other scope), with what said it."""
    for lv, pattern in R.LEVEL_SCOPE:
        if title and pattern.search(title):
            return lv, title
    counts = sorted(((len(p.findall(text)), lv, p) for lv, p in R.LEVEL_SCOPE), reverse=True)
    if counts[0][0] >= 3 and counts[0][0] >= 2 * counts[1][0]:
        return counts[0][1], f"{counts[0][0]}× " + counts[0][2].search(text).group()
    return None, ""


def region_and_level(text: str, title: str | None, spk: Speaker, claimed: str | None = None
                     ) -> tuple[str | None, str | None, dict[str, str]]:
    """Region and level, each with the text that says so. A region is always a division of the
    official list (speechkit/regions.py); `claimed` is a crawler's region field, used when the text
    itself names none."""
    evidence: dict[str, str] = {}
    lines = text.split("\n")
    head = "\n".join(lines[:12])
    level, said, found = _stated_level(lines, head, spk)
    if said:
        evidence["level"] = said
    if level == "national":
        evidence["region"] = evidence["level"]
        return "全国", level, evidence
    if found is None:
        found = _named_division(head, title, spk, claimed, level)
    if found is None and level is None:
        level, scope = _level_in_scope(text, title)
        if scope:
            evidence["level"] = scope
    if found is None and level is not None:
        found = _most_named(text, level)
    if found is None:
        return None, level, evidence
    div, evidence["region"] = found
    if level is None:
        level = div.level
        evidence["level"] = evidence["region"]
    elif level in ("city", "district") and div.tier == "province":
        # 北京、上海、天津、重庆 are province-level municipalities; 全区 in an autonomous region
        level = "province"
    return div.name, level, evidence


def _stated_level(lines: list[str], head: str, spk: Speaker) -> tuple[str | None, str, tuple[Division, str] | None]:
    """(level, what says it, the division the formula names): the genre's formula (我代表省人民政府),
    a national body in the opening lines or a national leader speaking, or the speaker's role."""
    behalf = R.RE_ON_BEHALF.search("\n".join(lines[:40]))
    if behalf:
        # the genre's formula outranks a mention of 全国人民代表大会 in a local report's opening
        if behalf.group("national"):
            return "national", behalf.group(), None
        m = gazetteer().ending_at(behalf.string, behalf.end("unit"))
        found = (m.division, behalf.group()) if m and m.start >= behalf.start("region") else None
        return R.ON_BEHALF_LEVEL[behalf.group("unit")], behalf.group(), found
    national = R.RE_NATIONAL.search(head)
    if national or spk.role in ("国务院总理", "总理", "国家主席", "中华人民共和国主席"):
        return "national", national.group() if national else (spk.role or ""), None
    if spk.role and ROLE_LEVEL.get(spk.role):
        return ROLE_LEVEL[spk.role], spk.evidence or spk.role, None
    return None, "", None


def _named_division(head: str, title: str | None, spk: Speaker, claimed: str | None,
                    level: str | None) -> tuple[Division, str] | None:
    """The division (of `level`, when known) named by the congress in the dateline, the title,
    the speaker's organisation, or else a crawler's region field; with what names it."""
    for s in _SESSION.finditer(head):
        m = gazetteer().ending_at(head, s.start())
        if m and _fits(m.division, level):
            line_end = head.find("\n", s.end())
            line = head[head.rfind("\n", 0, m.start) + 1: line_end if line_end >= 0 else None]
            return m.division, line.strip()
    found = _in_title(title, level) if title else None
    if found is None and spk.org:
        m = next(gazetteer().mentions(spk.org, short=False), None)
        if m and m.start == 0 and _fits(m.division, level):
            found = m.division, spk.evidence or spk.org
    if found is None and claimed:
        div = gazetteer().lookup(clean_field(claimed) or "")
        if div and _fits(div, level):
            found = div, f"crawler field region: {claimed}"
    return found


# --- flags ----------------------------------------------------------------------------------------

def masked_count(text: str) -> int:
    """Placeholders a 范文 site put in place of names and numbers.

    >>> masked_count("在党的*即将召开前夕，20*年完成XX亿元，3*15+N，“1+X”“415X”政策，第X届")
    4
    """
    if "X" not in text and "x" not in text and "*" not in text:
        return 0
    return len(R.RE_MASK.findall(text))


def stray_connectives(text: str) -> int:
    """Connectives standing alone as a sentence (总之。), left by text spinners.

    >>> stray_connectives("肯定成果的同时，总之。更要看到差别。")
    1
    """
    return len(R.RE_STRAY_CONNECTIVE.findall(text))


# --- one speech -----------------------------------------------------------------------------------

@dataclass
class Description:
    """What a speech's text, title and page say about it: date, speaker, region and level, the
    quality flags, and the evidence for each."""

    dates: DateInfo
    speaker: Speaker
    region: str | None
    level: str | None
    masked: int
    flags: list[str]
    evidence: dict[str, str]


def describe(body: str, title: str | None, page: PageInfo, meta: dict[str, str], *, first_line: str = "",
             template_evidence: str = "") -> Description:
    """Every metadata field of one speech (its body after cleaning and splitting), with evidence."""
    d = dates(body, title, page, meta, first_line=first_line)
    flags, evidence = list(d.flags), dict(d.evidence)
    spk = speaker(body, title)
    if spk.evidence:
        evidence["speaker"] = spk.evidence
    region, level, ev = region_and_level(body, title, spk, meta.get("region"))
    evidence.update(ev)
    if page.site_evidence:
        evidence["site"] = page.site_evidence
    if template_evidence:
        evidence["template"] = template_evidence
    masked = masked_count(body) + masked_count(title or "")
    if masked:
        flags.append("masked")
    stray = stray_connectives(body)
    if stray:
        flags.append(f"stray_connectives:{stray}")
    fffd = body.count("\ufffd")
    if fffd:
        flags.append(f"replacement_chars:{fffd}")
    return Description(d, spk, region, level, masked, flags, evidence)
