"""Every phrase table and compiled regex the cleaner and the metadata extractor use.

Rules are data: to teach speechkit a new site's boilerplate, add to the tables here.
Patterns written in simplified Chinese are widened with `tradify` so they also match the
traditional-script pages that 范文 sites serve (seed 001 is one).
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

from ..matching import T2S

_S2T = opencc.OpenCC("s2t")
_HAN = re.compile(r"[\u4e00-\u9fff]")


@lru_cache(maxsize=4096)
def _variants(ch: str) -> str:
    alts = {ch, _S2T.convert(ch), T2S.convert(ch)}
    alts = {a for a in alts if len(a) == 1}
    return ch if len(alts) == 1 else "[" + "".join(sorted(alts)) + "]"


def tradify(pattern: str) -> str:
    """Widen each Han character outside a character class to accept its traditional form.

    >>> tradify("来源")
    '[來来]源'
    """
    out, in_class, escaped = [], False, False
    for ch in pattern:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == "]":
            in_class = False
            out.append(ch)
        elif not in_class and _HAN.match(ch):
            out.append(_variants(ch))
        else:
            out.append(ch)
    return "".join(out)


def rx(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(tradify(pattern), flags)


HAN = r"\u4e00-\u9fff\u3400-\u4dbf"
RE_HAN = re.compile(f"[{HAN}]")

# --- whole lines that are page furniture (compared after stripping, exact match) ---------
NAV_LINES = frozenset([
    "下载", "打印", "全屏", "收藏", "加大", "还原", "减小", "】", "【", "关闭", "关闭窗口", "打印本页",
    "返回顶部", "分享", "分享:", "分享：", "首页", "相关报道", "相关报道:", "相关报道：", "相关文章",
    "推荐文章", "相关阅读", "延伸阅读", "上一篇", "下一篇", "返回", "成语", "成语首拼",
    "扫一扫在手机打开当前页", "扫一扫", "【字号：", "【字号:", "字号：", "【打印】", "【关闭】", "【收藏】",
    "A+", "A-", "大", "中", "小",
])
NAV_LINES_T = frozenset(_S2T.convert(s) for s in NAV_LINES) | NAV_LINES

# line-level patterns: the whole (stripped) line is dropped when one matches
RE_DROP_LINE = [
    # 【字号：大 中 小】 and friends on one line
    ("font_size_bar", rx(r"^【?\s*字号\s*[:：]?.{0,20}】?$")),
    ("share_bar", rx(r"^(分享到|分享)\s*[:：]?.{0,40}$")),
    ("breadcrumb", rx(r"^(您的位置|当前位置|您现在的位置|所在位置)\s*[:：].{0,120}$")),
    ("breadcrumb", rx(r"^首页\s*(>|＞|»|/).{0,120}$")),
    ("bookmark", re.compile(r"^\[bookmark:[^\]]*\]$")),
    ("copyright", rx(r"^(©|\(c\)|copyright|版权所有).{0,120}$", re.I)),
    ("friend_links", rx(r"^友情链接\s*[:：]?.{0,200}$")),
    ("link_notice", rx(r"^.{0,40}链接地址\s*[:：].{0,200}$")),
    ("link_notice", rx(r"^.{0,200}转载请(保留|注明).{0,40}$")),
    ("share_notice", rx(r"^.{0,200}由互联网用户分享整理.{0,10}$")),
    ("related", rx(r"^(相关文章|推荐文章|相关阅读|相关报道|延伸阅读|热门文章|猜你喜欢)\s*[:：]?.{0,60}$")),
    ("site_nav", rx(r"^\S{2,12}(范文网|文秘网|词库|范文|文库)\s*(导航|首页)?$")),
    ("site_nav", rx(r"^\S{1,12}\s*/\s*(www\.)?[a-z0-9-]+(\.[a-z0-9-]+)+/?$", re.I)),
    ("site_dateline", rx(r"^\S{2,12}(范文网|文秘网|词库|文库)\s+\d{4}-\d{1,2}-\d{1,2}( \d{1,2}:\d{2}(:\d{2})?)?$")),
    # 2013年04月08日08:30   来源：人民网-人民日报 / 新闻频道 来源：新华社 2016年12月31日 19:06
    ("source_dateline", rx(r"^.{0,30}\d{1,2}:\d{2}.{0,30}来源\s*[:：].{0,30}$"
                           r"|^.{0,20}来源\s*[:：].{0,30}\d{1,2}:\d{2}(:\d{2})?$")),
    ("page_counter", rx(r"^(浏览次数|点击数|阅读次数|访问量)\s*[:：]\s*\d*$")),
    ("print_bar", rx(r"^(【?(打印|关闭|收藏|打印本页|关闭窗口)】?\s*){2,}$")),
    ("photo_caption", rx(r"^.{0,60}(记者|摄影)\s*[\u4e00-\u9fff·]{2,8}\s*摄\s*$")),
    ("photo_caption", rx(r"^.{2,30}作政府工作报告。.{0,16}记者\s*\S{2,5}$")),
    ("photo_caption", rx(r"^(图为|图片来源|图片由).{0,60}$")),
    ("compilation_collect", rx(r"^收藏《.{1,80}》\)?$")),
    # families, not strings: each matches a kind of control whatever a site calls it
    # a font-size control: only size words after its label (字号/字体/文字 大 中 小 / A+ A- / 默认)
    ("font_size_bar", rx(r"^[【\[]?\s*(字号|字体|文字|字体大小|文字大小|字号大小)\s*[:：]?"
                         r"(\s*[大中小]|\s*默认|\s*标准|\s*超大|\s*[TA][+＋\-－]?|\s*[|｜/、]|\s)*[】\]]?$")),
    # a counter: 浏览次数：1234 / 阅读量 56 / 【点击：89次】 / 访问人次: 7
    ("page_counter", rx(r"^[【\[(（]?\s*(浏览|阅读|点击|访问|查看)(次数|数|量|人次|率)?\s*[:：]?\s*\d*\s*次?"
                        r"\s*[】\])）]?$")),
    # a page timestamp with hours and minutes (a speech's dateline never has them)
    ("page_timestamp", rx(r"^[【\[(（]?\s*(发布|更新|发表|上传)?(时间|日期)?\s*[:：]?\s*"
                          r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s+\d{1,2}[:：]\d{2}([:：]\d{2})?"
                          r"\s*[】\])）]?$")),
    # links marked with arrows: » 政务公开 / >> 更多 / → 返回首页 / 更多>>
    ("link_arrow", rx(r"^(>>|»|›|→|▶|►|▸|＞＞|＞)\s*[^。；！？]{1,40}$|^[^。；！？]{1,20}(>>|»|＞＞)$")),
    # a banner that sends the reader elsewhere: 点击进入专题 / 进入…专栏
    ("topic_banner", rx(r"^.{0,20}(点击|进入|查看|浏览)(进入|查看)?.{0,24}(专题|专栏|专区)[^。；]{0,10}$")),
    # a bar of channel names: 要闻 | 政务 | 服务 / 首页 · 新闻 · 公开
    ("channel_bar", rx(r"^([\u4e00-\u9fff]{2,8}\s*[|｜·•/]\s*){2,}[\u4e00-\u9fff]{2,8}$")),
    # a closing line naming the source paper or the editor: （来源：甘肃日报） / (责任编辑：王某)
    ("source_closing", rx(r"^[(（]\s*(来源|来源于|原载|转自|摘自|稿件来源|文章来源|责任编辑|编辑|校对|审核|审校|编审)"
                          r"\s*[:：]?\s*[^()（）。；]{1,30}[)）]$")),
]

# 来源/时间/作者/更新时间 lines: value captured for metadata before the line is dropped.
# One line may carry several labels: 来源：网络  作者：无殇蝶舞  更新时间：2025-04-30
PAGE_LABELS = ("来源", "时间", "作者", "更新时间", "发布时间", "发布日期", "日期", "编辑", "责任编辑",
               "文章来源", "信息来源", "发布机构", "浏览次数", "点击", "原标题", "发表时间", "稿源")
RE_LABEL = rx(r"(?:^|\s)(" + "|".join(PAGE_LABELS) + r")\s*[:：]\s*")
RE_LABEL_LINE = rx(r"^(" + "|".join(PAGE_LABELS) + r")\s*[:：]\s*(.{0,60})$")

# --- spans inside lines ---------------------------------------------------------------------
# ……(新文秘网http://jey722.cn省略716字,正式会员可完整阅读)……
RE_TRUNC_OMITTED = rx(
    r"[…\.]{0,6}\s*[(（]\s*(?P<site>[^()（）\d]{0,12}?)\s*(?P<url>https?://[^\s()（）]+)?"
    r"\s*省略\s*(?P<omitted>\d+)\s*字[^()（）]{0,30}[)）]\s*[…\.]{0,6}"
)
# ……(未完,全文共3981字,当前仅显示2011字,请阅读下面提示信息。  (runs to the end of the text)
RE_TRUNC_TAIL = rx(
    r"\s*[…\.]{0,6}\s*[(（]\s*未完\s*[,，]?\s*全文共\s*(?P<total>\d+)\s*字\s*[,，]?"
    r"\s*当前仅显示\s*(?P<shown>\d+)\s*字[\s\S]*\Z"
)
RE_TRUNC_GENERIC = rx(r"\s*[(（](未完[，,]?待续|全文未完|内容过长[^)）]{0,20}|篇幅所限[^)）]{0,20})[)）]\s*")
# a part that stops mid-sentence on an ellipsis: "他是中部地区第......"
RE_TRAILING_ELLIPSIS = re.compile(r"(\.{3,}|…{1,})\s*\Z")

# injected pinyin after a character: 認(rèn)清, 營商環(huán)境. Requires a tone mark, so (GDP),
# (a) or (试行) are never touched.
TONE_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
RE_PINYIN = re.compile(
    rf"(?<=[{HAN}])[(（]\s*(?=[a-zü{TONE_VOWELS}]*[{TONE_VOWELS}])[a-zü{TONE_VOWELS}]{{1,7}}\s*[)）]"
)
# the same annotation with its opening parenthesis lost to a decoding error: 變?yōu)
RE_PINYIN_BROKEN = re.compile(
    rf"(?<=[{HAN}])\?(?=[a-zü{TONE_VOWELS}]*[{TONE_VOWELS}])[a-zü{TONE_VOWELS}]{{1,7}}[)）]"
)

# UTF-8 bytes of two U+FFFD read as GBK
RE_KUNJINKAO = re.compile("(锟斤拷)+")
# Latin-1 letters plus the characters cp1252 puts in 0x80-0x9F
RE_LATIN1_RUN = re.compile(
    r"[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    r"\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{4,}"
)

# terminal escape sequences (colours, OSC 8 hyperlinks, window titles) and every other control
# character but newline and tab: scraped text must never drive the terminal it is printed on
# the control, escape and invisible characters live in controls.py (light to import)
from .controls import RE_CONTROL, RE_INVISIBLE, RE_TERMINAL_ESCAPE  # noqa: E402,F401

RE_HTML_ENTITY = re.compile(r"&(#\d{2,7}|#x[0-9a-fA-F]{2,6}|[a-zA-Z]{2,8});")
# a space the page layout put between two Han characters: "经 济增长"
RE_SPACE_IN_HAN = re.compile(rf"(?<=[{HAN}，。；：、！？“”（）])[ \u3000\u00a0]+(?=[{HAN}，。；：、！？“”（）])")
RE_LETTERSPACED = re.compile(rf"^(?:[{HAN}][ \u3000]+){{2,}}[{HAN}]$")

# HTML left in text (markdown conversions keep <br>, <details>, <summary>; scraped .txt keeps
# spans and paragraphs). Only HTML's own element names count as tags, so 《》 and "<5" stay.
_BLOCK_TAGS = ("address|article|aside|blockquote|br|caption|center|dd|details|dialog|div|dl|dt|fieldset|"
               "figcaption|figure|footer|form|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|summary|"
               "table|tbody|td|tfoot|th|thead|tr|ul")
_INLINE_TAGS = ("a|abbr|b|bdi|bdo|big|cite|code|data|del|dfn|em|font|i|img|input|ins|kbd|label|link|mark|"
                "meta|nobr|q|s|samp|small|span|strike|strong|sub|sup|time|tt|u|var|wbr|o:p")
RE_HTML_DROP_BLOCK = re.compile(r"<(script|style|noscript|template)\b[^>]*>.*?</\1\s*>|<!--.*?-->",
                                re.IGNORECASE | re.DOTALL)
RE_HTML_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCK_TAGS})(?:\s[^<>]*)?/?>", re.IGNORECASE)
RE_HTML_INLINE_TAG = re.compile(rf"</?(?:{_INLINE_TAGS}|script|style)(?:\s[^<>]*)?/?>", re.IGNORECASE)
RE_ANY_HTML_TAG = re.compile(rf"</?(?:{_BLOCK_TAGS}|{_INLINE_TAGS}|script|style)(?:\s[^<>]*)?/?>",
                             re.IGNORECASE)

# markdown of the converted government pages: **bold**, ## headings, > quotes, [^1] notes
RE_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
RE_MD_HEADING = re.compile(r"^#{1,6}\s+", re.M)
RE_MD_QUOTE = re.compile(r"^>\s?", re.M)
# a GitHub alert opens a quote: > [!NOTE] 相关通知 (the marker is markup; the label stays for the
# furniture rules and the site template to judge)
RE_MD_ALERT = re.compile(r"^\s*\[!(?:NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*", re.M | re.I)
RE_MD_FOOTREF = re.compile(r"\[\^\d+\](?!:)")
RE_MD_COMMENT = re.compile(r"<!--.*?-->", re.S)
RE_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
RE_MD_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
RE_MD_ESCAPE = re.compile(r"\\([*_#>\[\]()`|\\-])")
# emphasis markers left unpaired at line ends (bold spanning table rows), lone star lines,
# list bullets, table pipes
RE_MD_STRAY = re.compile(r"^\s*(?:\*{2,}|_{2,})|(?:\*{2,}|_{2,})\s*$|^\s*[*+-]\s+(?=\S)|^\*(?=\S)|(?<=\S)\*$", re.M)
RE_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.M)
RE_MD_PIPE = re.compile(r"\s*\|\s*")

# --- masking and spinning (flagged, never "fixed") ------------------------------------------
# 党的*, 20*年, *.8%, XX亿元, 第X届, x产业, **县. A star between two digits is arithmetic (3*15).
_UNITS = "年月日号亿万千百个%％余多名家户项届次"
RE_MASK = re.compile(
    # X or x runs standing for a name or number: 第X届, XX县, X等X个, 20XX年 (but not the X of a
    # slogan such as “1+X” or “415X”, nor letters inside a Latin word)
    rf"(?<![A-Za-z0-9+＋*“])(?:X{{1,10}}|x{{1,10}})(?![A-Za-z\d”]|射线|光|波段)(?=[{HAN}（(、，。“]|$)"
    rf"|(?<=[{HAN}（(])(?:X{{1,10}}|x{{1,10}})(?![A-Za-z\d”]|射线|光|波段)"
    rf"|(?<=\d)(?:X{{1,10}}|x{{1,10}})(?=[{_UNITS}])"
    # stars: 党的*, **县, 20*年, *.8% (a star between digits, 3*15, is multiplication)
    r"|(?<![\d（(])\*+(?![\d）)])|(?<=\d)\*+(?![\d）)])|(?<![\d（(])\*+(?=\d)",
    re.M,
)
# a connective standing alone as a "sentence": 总之。 首先。 — spun-text artefact
RE_STRAY_CONNECTIVE = rx(r"(?:(?<=[，,。；\n])|^)(首先|其次|再次|总之|最后|另外|此外|因此|同时|然而)。", re.M)

# --- compilations -----------------------------------------------------------------------------
CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def cn_number(token: str | None) -> int | None:
    """Small numbers in any of the ways the texts write them: 3, ３, 三, 十, 十二, 二十七.

    >>> [cn_number(t) for t in ("３", "十", "十二", "二十七", "五", "", "X")]
    [3, 10, 12, 27, 5, None, None]
    """
    if not token:
        return None
    token = token.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if token.isdigit():
        return int(token)
    if "十" in token:
        tens, _, ones = token.partition("十")
        return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS.get(ones, 0) if ones else 0)
    return CN_DIGITS.get(token)
RE_PART_HEAD = re.compile(r"^\s*第\s*([0-9０-９]{1,2}|[一二三四五六七八九十]{1,3})\s*篇\s*[:：]\s*(.{2,80})$", re.M)
RE_COMPILATION_COUNT = rx(
    r"[\[【(（]?\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*篇\s*(材料|范文)?[\]】)）]?|集合\s*(\d{1,2})\s*篇"
)
# outline block at the top of a page: 目錄/提綱:…… then headings then ……
RE_OUTLINE_START = rx(r"^(目录|提纲|目录/提纲|目录／提纲|提纲/目录)\s*[:：]?\s*[…\.]*$")
RE_OUTLINE_END = re.compile(r"^[…\.]{2,}$")

# --- metadata -----------------------------------------------------------------------------------
DATE_CORE = r"(?P<y>(?:1[89]|20)\d{2})\s*年\s*(?:(?P<m>[01]?\d)\s*月\s*(?:(?P<d>[0-3]?\d)\s*日)?)?"
CN_NUM = "〇○零一二三四五六七八九十"
DATE_CN = rf"(?P<cy>[{CN_NUM}]{{4}})年(?:(?P<cm>[{CN_NUM}]{{1,2}})月(?:(?P<cd>[{CN_NUM}]{{1,3}})日)?)?"
# a dateline: (2024年5月4日) / ——2019年3月5日在…会议上 / 2026年1月14日在… / （二〇二六年一月二十七日…）
DASHES = "—―\\-－─"
# a bare year ("2006年工作回顾") is a heading, not a dateline: a month is required unless
# a dash or parenthesis marks the line as a dateline
RE_DATELINE = rx(
    rf"^(?:[{DASHES}]+\s*[(（]?|[(（])\s*(?:{DATE_CORE}|{DATE_CN})(?:[，,、]?\s*[\u4e00-\u9fff]{{0,10}})?\s*"
    rf"(?:[)）]|在|于|召开|[，,]|$)"
    rf"|^(?:(?P<y2>(?:1[89]|20)\d{{2}})\s*年\s*(?P<m2>[01]?\d)\s*月\s*(?:(?P<d2>[0-3]?\d)\s*日)?"
    rf"|(?P<cy2>[{CN_NUM}]{{4}})年(?P<cm2>[{CN_NUM}]{{1,2}})月(?:(?P<cd2>[{CN_NUM}]{{1,3}})日)?)"
    rf"(?:[，,、]?\s*[\u4e00-\u9fff]{{0,10}})?\s*(?:[)）]|在|于|召开|[，,]|$)"
)
# a dateline inside a longer head line: …工作报告  ——1993年1月30日在海南省第一届人民代表大会…
RE_DATELINE_INLINE = rx(rf"[{DASHES}]{{1,2}}\s*(?:{DATE_CORE}|{DATE_CN})\s*(?:在|于)")
# 1993年3月22日第八届全国人民代表大会第一次会议通过
# (also after a dash: ——2023年12月31日广州市第十六届人民代表大会第四次会议通过; not in parentheses,
# which under an embedded law's title date that law, not the page: 国务院机构改革/1954.md)
RE_DATE_ADOPTED = rx(rf"^(?:[{DASHES}]+\s*)?(?:{DATE_CORE}|{DATE_CN})\s*[\u4e00-\u9fff]{{0,30}}"
                     rf"(?:会议|大会)(?:通过|批准)")
# structure of a work report: "2022年工作安排" is about the current year, "2021年工作回顾" the last
RE_YEAR_PLANNED = rx(
    r"((?:19|20)\d{2})\s*年(?:政府|经济社会发展|全省|全市|全区|全县)?(?:的)?(?:主要)?(?:工作|目标任务)(?:的)?"
    r"(?:总体要求|主要任务|主要目标|目标任务|安排|建议|部署|重点|任务)(?!已经?完成|完成情况|完成了|全面完成)"
    # a heading that ends on the year's work: 今后五年目标任务和2017年主要工作
    r"|((?:19|20)\d{2})\s*年(?:的)?(?:主要|重点)工作\s*$"
)
RE_YEAR_REVIEWED = rx(
    r"((?:19|20)\d{2})\s*年(?:及本届政府|及过去五年|和“十[一二三四五]五”(?:时期)?)?(?:政府)?(?:的)?(?:主要)?(?:工作)?(?:的)?(?:简要)?(?:回顾|总结)"
)
RE_REVIEW_CONTEXT = rx(r"回顾|过去一年|过去的一年|一年来")
RE_YEAR_IN_TITLE = re.compile(
    rf"((?:1[89]|20)\d{{2}})\s*(?:[—\-－~～至]\s*(?:1[89]|20)\d{{2}}\s*)?年(?!代|\d{{1,2}}月)"
    rf"|[(（]((?:19|20)\d{{2}})[)）]|(?P<cy>[{CN_NUM}]{{4}})年"
)
RE_ISO_DATE = re.compile(r"((?:1[5-9]|20)\d{2})[-/.年](\d{1,2})[-/.月](\d{1,2})")
# a scraper's file-name header as the first line: 2013-04-07_共同创造亚洲和世界的美好未来
RE_FILENAME_HEADER = re.compile(r"^((?:19|20)\d{2}-\d{1,2}-\d{1,2})[_\s]+(\S.{1,80})$")
# other titles name the document's year even against its date line: a work report is for
# its session year, a communiqué for the year it reports on
# a new-year message names the year it greets and is given on 31 December of the year before
RE_NEW_YEAR_TITLE = rx(r"新年(贺词|献词)")
# a speech's date line beats a year its title mentions (…关于中国主办2016年峰会的发言)
RE_SPEECH_TITLE = rx(r"讲话|发言|演讲|致辞|贺词|献词|开幕辞|闭幕辞|署名文章|谈话")
# a page that names a news outlet as its source published the speech within days
RE_NEWS_SOURCE = rx(
    r"(来源|稿源|发布机构)\s*[:：]\s*\S{0,12}"
    r"(日报|晚报|新华社|新华网|人民网|央视|中国政府网|求是|光明网|新闻网|广播电视台|人民政府)"
)
# "2020年是全区脱贫'摘帽'之年" / "今年是…开局之年"
RE_THIS_YEAR = rx(r"(?:^|[。！？\n，,])\s*(?:今年|((?:19|20)\d{2})年)\s*是[^。！？\n]{2,60}?(之年|一年)")

# five-year plans: ordinal -> first year
FIVE_YEAR_PLANS = {
    "一五": 1953, "二五": 1958, "三五": 1966, "四五": 1971, "五五": 1976, "六五": 1981,
    "七五": 1986, "八五": 1991, "九五": 1996, "十五": 2001, "十一五": 2006, "十二五": 2011,
    "十三五": 2016, "十四五": 2021, "十五五": 2026, "十六五": 2031,
}
RE_PLAN_MENTION = rx(
    r"[“\"「]?(十[一二三四五六]?五|[一二三四五六七八九]五)[”\"」]?\s*(?:规划|计划|时期|期间|末|开局|收官)"
)
# the plan itself or a report on it, not a proposal or a speech about it
RE_PLAN_TITLE = rx(
    r"(?:第([一二三四五六七八九十]{1,3})个五年(?:规划|计划)|[“\"]?(十[一二三四五六]?五|[一二三四五六七八九]五)[”\"]?\s*(?:规划|计划))"
    r"(?![^《》]*(?:建议|说明|讲话|发言))"
)
PARTY_CONGRESSES = {"十二大": 1982, "十三大": 1987, "十四大": 1992, "十五大": 1997, "十六大": 2002,
                    "十七大": 2007, "十八大": 2012, "十九大": 2017, "二十大": 2022, "二十一大": 2027}
RE_CONGRESS = rx(r"党的(十[二三四五六七八九]大|二十一?大)(?:精神|以来|和|召开|胜利|报告|提出|作出|擘画|部署|确定)")
RE_CONGRESS_UPCOMING = rx(
    r"(迎接|即将召开|将召开|要召开|召开前夕|喜迎|筹备)[^。]{0,8}党的(十[二三四五六七八九]大|二十一?大)"
)
RE_CONGRESS_OPENING = rx(r"(全面)?贯彻(落实)?党的(十[二三四五六七八九]大|二十一?大)精神的开局之年")
# lower bounds only: a mention proves the text is not older than this
ERA_FLOORS = [
    (rx(r"新时代中国特色社会主义思想"), 2017, "新时代中国特色社会主义思想"),
    (rx(r"新质生产力"), 2023, "新质生产力"),
    (rx(r"新冠|新型冠状病毒"), 2020, "新冠"),
    # the extended Spring Festival holiday of 2020
    (rx(r"疫情[^。]{0,12}春节假期延长|春节假期延长[^。]{0,12}疫情"), 2020, "疫情…春节假期延长"),
    (rx(r"中国式现代化"), 2021, "中国式现代化"),
    (rx(r"供给侧结构性改革"), 2015, "供给侧结构性改革"),
    (rx(r"科学发展观"), 2003, "科学发展观"),
]

# speaker roles, longest first so 县委书记 wins over 书记. Level follows from the role.
ROLES: list[tuple[str, str | None]] = [
    ("国家主席", "national"), ("中华人民共和国主席", "national"), ("国务院总理", "national"),
    ("国务院副总理", "national"), ("总理", "national"), ("总书记", "national"),
    ("自治区党委书记", "province"), ("自治区人民政府主席", "province"), ("自治区主席", "province"),
    ("省委书记", "province"), ("副省长", "province"), ("省长", "province"),
    ("市委书记", "city"), ("副市长", "city"), ("市长", "city"), ("州长", "city"), ("盟长", "city"),
    ("县委书记", "county"), ("副县长", "county"), ("县长", "county"), ("旗长", "county"),
    ("区委书记", "district"), ("副区长", "district"), ("区长", "district"),
    ("镇党委书记", "township"), ("镇长", "township"), ("乡长", "township"),
    ("党委书记", None), ("书记", None), ("局长", None), ("主任", None),
]
ROLE_ALT = "|".join(re.escape(r) for r, _ in sorted(ROLES, key=lambda x: -len(x[0])))
# 国务院总理　李克强 / 市委书记\n张笑东 / 海拉尔区人民政府区长　　张天喜 / 省长 王清宪 /
# 自治区代主席 雪克来提·扎克尔 (an acting head: 代 is dropped before matching, see RE_ACTING)
RE_SPEAKER_LINE = rx(
    rf"^(?P<org>[\u4e00-\u9fff]{{0,16}}?)(?P<role>{ROLE_ALT})[\s\u3000]*"
    rf"(?P<name>[\u4e00-\u9fff]{{1,8}}[·・•][\u4e00-\u9fff]{{1,8}}|"  # 雪克来提·扎克尔
    rf"[\u4e00-\u9fff](?:[\s\u3000]?[\u4e00-\u9fff]){{1,3}}|[XＸx*]{{2,4}})?\s*"
    rf"(?:[(（](?P<date>[^)）]{{4,20}})[)）])?$"
)
RE_ACTING = re.compile(r"代(?=(?:省长|市长|县长|区长|旗长|州长|盟长|主席))")
RE_ROLE_IN_TITLE = rx(
    rf"^(?P<org>[\u4e00-\u9fff]{{0,10}}?)(?P<role>{ROLE_ALT})(?P<name>[\u4e00-\u9fff]{{2,3}})?(?:同志)?在"
)
RE_NATIONAL = rx(r"全国人民代表大会|国务院总理|中华人民共和国主席|国家主席")
# the genre's own formula names the government that delivers a work report:
# 我代表国务院 / 我代表自治区人民政府 / 我代表广州市人民政府 / 我代表市政府 / 我代表浙江省革命委员会 (1979)
RE_ON_BEHALF = rx(
    r"我(?:谨)?(?:代表|受[\u4e00-\u9fff]{0,8}?)(?:(?P<national>国务院)|(?P<region>[\u4e00-\u9fff]{0,12}?)"
    r"(?P<unit>自治区|省|自治州|州|盟|市|自治县|县|旗|区)(?:人民政府|政府|革命委员会))"
)
ON_BEHALF_LEVEL = {"自治区": "province", "省": "province", "自治州": "city", "州": "city", "盟": "city",
                   "市": "city", "自治县": "county", "县": "county", "旗": "county", "区": "district"}
# the scope a speaker addresses: 全县/我县 … counted when nothing names the level outright
LEVEL_SCOPE = [("province", rx(r"全省|我省")), ("city", rx(r"全市|我市")),
               ("county", rx(r"全县|我县|全旗|我旗")), ("district", rx(r"全区|我区"))]

# known sites: name -> domain, and domains seen in boilerplate
SITES = {"三味园范文网": "sanweiyuan.com", "中词库": "zciku.com", "新文秘网": "jey722.cn",
         "华博范文网": None, "央视网": "cctv.com"}
RE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::\d+)?(?:/[^\s，。)）\"'<>]*)?")
RE_DOMAIN_LINE = re.compile(r"\b((?:www|m)\.[a-z0-9-]+(?:\.[a-z0-9-]+)+)\b", re.I)
