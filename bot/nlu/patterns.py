"""Deterministic extraction of phones, order numbers, case numbers and scores from Chinese text.

These are exact-format things that a statistical model gets subtly wrong (one digit short, a
phone read as an order number), so they are rules, unit-tested on their own and wrapped in a Rasa
component elsewhere. Spans are offsets into the original text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from bot.cases.rules import find_case_numbers


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    value: str | int


def _fold(text: str) -> str:
    """Full-width to half-width, one character for one, so spans still line up."""
    out = []
    for ch in text:
        folded = unicodedata.normalize("NFKC", ch)
        out.append(folded if len(folded) == 1 else ch)
    return "".join(out)


# --- phones --------------------------------------------------------------------------------

# Lower-case letters may touch a phone ("电hua13812345678", "tel13812345678"); capitals start order numbers.
#: A WeChat face as the connector passes it on ("[强]", "[捂脸]", "[OK]", "[Yeah!]"; bot/wechat/faces.py):
#: a bracketed name of a few Chinese characters or an English word. Group 1 is the name.
FACE = re.compile(r"\[([\u4e00-\u9fff]{1,4}|[A-Za-z]{2,10}!?|666)\]")
#: A character that says something: Chinese, a Latin letter or a digit (not punctuation, space or emoji).
MEANINGFUL = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")

_PHONE = re.compile(
    r"(?<![0-9A-Z])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?![0-9A-Za-z])"
)


# Landlines ("021-62345678", "(0755) 8888 1234", "座机02162345678"): area code 010, 02x or 0xxx, a
# local number of 7–8 digits. Services call landlines, and a customer offering one had it taken for
# the order number. Written without a separator they look like an order number, so only after a word
# that says phone.
_LANDLINE = re.compile(
    r"(?<![0-9A-Za-z])\(?(0(?:10|2\d|[3-9]\d{2}))(?:\)\s?|[\s-]|(?<=\d))([2-9]\d{2,3})[\s-]?(\d{4})(?![0-9A-Za-z])"
)
_PHONE_WORD = re.compile(r"(电话|座机|固话|号码|tel|phone)[是为:：\s]*$", re.IGNORECASE)


def find_phones(text: str, *, phone_asked: bool = False) -> list[Span]:
    """Mainland mobiles (value ``13812345678``) and landlines (value ``021-62345678``).
    ``phone_asked``: the text answers a request for a phone, so a landline typed as bare digits
    counts (anywhere else it may be an order number)."""
    folded = _fold(text)
    spans = [
        Span(m.start(), m.end(), text[m.start() : m.end()], "".join(m.groups()))
        for m in _PHONE.finditer(folded)
    ]
    for m in _LANDLINE.finditer(folded):
        area, local = m.group(1), m.group(2) + m.group(3)
        if len(area) + len(local) not in (11, 12) or any(
            s.start < m.end() and m.start() < s.end for s in spans
        ):
            continue
        before = folded[max(0, m.start() - 8) : m.start()]
        if (
            phone_asked
            or _PHONE_WORD.search(before)
            or (not folded[m.start() : m.end()].isdigit() and not _ORDER_KEYWORD.search(before))
        ):
            spans.append(Span(m.start(), m.end(), text[m.start() : m.end()], f"{area}-{local}"))
    return sorted(spans, key=lambda s: s.start)


def normalise_phone(raw: str | None) -> str | None:
    """``13812345678`` (or ``021-62345678``) from any way of typing one phone number, else None.
    A landline typed as bare digits counts here, where a phone was asked for."""
    if not raw:
        return None
    stripped = _fold(str(raw)).strip()
    found = find_phones(stripped, phone_asked=True)
    if len(found) != 1 or found[0].start != 0 or found[0].end != len(stripped):
        return None
    return str(found[0].value)


def mask_phones_in(text: str) -> str:
    """The text with every phone in it masked: the intake's summary masked the contact phone and
    showed it in full in the description just above."""
    for span in reversed(find_phones(text)):
        text = text[: span.start] + mask_phone(str(span.value)) + text[span.end :]
    return text


def mask_phone(phone: str) -> str:
    """``138****5678`` (``021-****5678``): enough for the customer to recognise, not enough to leak."""
    if phone.startswith("0") and "-" in phone:  # a landline
        return f"{phone.split('-')[0]}-****{phone[-4:]}"
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "*" * len(phone)


# --- order numbers -------------------------------------------------------------------------

_ORDER_KEYWORD = re.compile(r"(订单|单号|运单|快递单|工单|order|no\.?|编号)", re.IGNORECASE)
_ORDER_TOKEN = re.compile(r"(?<![0-9A-Za-z])([A-Za-z]{0,6}\d[0-9A-Za-z-]{5,30})(?![0-9A-Za-z])")


def _plausible_order(token: str, after_keyword: bool) -> bool:
    compact = token.replace("-", "")
    digits = sum(c.isdigit() for c in compact)
    if not 8 <= len(compact) <= 24 or digits < 6:
        return False
    if compact.isdigit() and not after_keyword and len(compact) < 10:
        return False  # a short bare number is more likely an amount or a time
    return True


def find_order_ids(text: str) -> list[Span]:
    """Order/waybill numbers: 8–24 letters and digits, not a phone and not a case number."""
    folded = _fold(text)
    taken = [(s.start, s.end) for s in find_phones(text)]
    taken += [(s, e) for s, e, _ in find_case_numbers(folded)]
    spans = []
    for m in _ORDER_TOKEN.finditer(folded):
        if any(s < m.end() and m.start() < e for s, e in taken):
            continue
        before = folded[max(0, m.start() - 8) : m.start()]
        token = m.group(1).rstrip("-")
        if _plausible_order(token, bool(_ORDER_KEYWORD.search(before))):
            end = m.start() + len(token)
            spans.append(Span(m.start(), end, text[m.start() : end], token.upper()))
    return spans


_ORDER_LABEL = re.compile(r"^(?:我的)?(?:订单|运单|快递单|物流单|单)号?码?\s*(?:是|为)?\s*[:：]?\s*")


def normalise_order_id(raw: str | None) -> str | None:
    if not raw:
        return None
    stripped = _fold(str(raw)).strip()
    found = find_order_ids(stripped)
    if len(found) == 1:
        return str(found[0].value)
    # Typed in groups, as apps show it: "订单号是 TB 2026 1130 5566 7788" was "格式不太对".
    compact = _ORDER_LABEL.sub("", stripped).strip(" 。.!！").replace(" ", "")
    if re.fullmatch(r"[0-9A-Za-z-]{8,24}", compact) and _plausible_order(compact, True):
        return compact.upper()
    return None


# --- ratings -------------------------------------------------------------------------------

_NUMERALS = {
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
    "5": 5,
    "一": 1,
    "壹": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "贰": 2,
    "三": 3,
    "仨": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
}
_NUM = r"(100|10|[1-5]|[一壹二两俩贰三仨叁四肆五伍])"
_BEFORE = r"(?<![0-9.点时])(?<![零一二两三四五六七八九十百千万])"
# What may follow a score that has no unit: the end, a particle, punctuation or an emoji.
_AFTER = r"$|[吧啊呀哈了嘛呗咯，,。!！~～\s、]|[\U0001F000-\U0001FAFF\u2600-\u27BF]"
_END = rf"(?={_AFTER})"
_SCALE = re.compile(r"(满分|总分)\s*是?\s*[5五]\s*分?(制|的话)?|[5五]\s*分制(的话)?")
_WITH_UNIT = re.compile(rf"{_BEFORE}{_NUM}\s*(分|颗星|个星|星星|星|颗⭐|⭐|🌟)")
# After 分 these make it minutes, money, fractions or idioms (五分钟, 一分钱, 三分之一, 三分糖).
_NOT_AFTER_FEN = set("钟钱之货半开析别享配布手段类数店期区批成糖熟")
_NOT_AFTER_STAR = set("期座级球巴")
_VERB_NUM = re.compile(
    rf"(?:打分|评分|分数|满意度|打|给|评|选|rating|score)(?:是|为|的话|：|:|\s)*(?:个|一个)?\s*{_NUM}{_END}",
    re.IGNORECASE,
)
# "4/5", and out of ten or a hundred ("8/10" was displeasure to the model, and a 1); not a date
# ("3/10号师傅来的").
_FRACTION = re.compile(rf"(?<![\d./])(\d{{1,3}})\s*/\s*(5|10|100)(?=分|{_AFTER})")
_FULL_MARKS = re.compile(r"满分|满星|全五星|💯")
_ZERO = re.compile(r"(?<![0-9])(零分|0分|负分)(?!钟)")
_STAR_CHARS = "⭐★🌟"
_FILLER = r"[嗯额呃哦噢啊那就我的个，,。.、…~～\s]*"
_BARE = re.compile(rf"^{_FILLER}{_NUM}{_END}")


def _score_value(token: str) -> int | None:
    if token in ("10", "100"):
        return 5  # "10分" / "100分" means full marks to people who think out of ten or a hundred
    return _NUMERALS.get(token)


# Customers who think out of ten or a hundred: "8分" and "打个9分吧" were scored 3 from the words'
# tone, "七分" 4 and "六十分" 3. A 分 score above five is out of ten (up to 10) or out of a hundred,
# and so is every 分 score once such a scale is named ("满分10分我打6分").
_OTHER_SCALE = re.compile(
    r"(?:满分|总分)\s*是?\s*(100|一百|10|十)\s*分?(?:制|的话)?|(100|百|10|十)\s*分制(?:的话)?"
)
_WIDE_NUM = (
    r"(100|[1-9][0-9]|10|[1-9]|[二两三四五六七八九]十[一二三四五六七八九]?|十[一二三四五六七八九]"
    r"|[一壹二两俩贰三仨叁四肆五伍六七八九])"
)
_ANY_FEN = re.compile(rf"{_BEFORE}{_WIDE_NUM}\s*分")
_CN_DIGITS = {**{k: v for k, v in _NUMERALS.items() if not k.isdigit()}, "六": 6, "七": 7, "八": 8, "九": 9}


def _number(token: str) -> int | None:
    """ "8" → 8, "七" → 7, "六十" → 60, "十五" → 15."""
    if token.isdigit():
        return int(token)
    if "十" in token:
        tens, _, ones = token.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + _CN_DIGITS.get(ones, 0)
    return _CN_DIGITS.get(token)


def _out_of(number: int, scale: int) -> int | None:
    """A score out of ten or a hundred on the 1–5 scale: 9 → 5, 8 → 4, 6 → 3; 85 → 4, 60 → 3."""
    if not 0 < number <= scale:
        return None
    if scale == 10:
        return (number + 1) // 2
    return 5 if number >= 90 else 4 if number >= 80 else 3 if number >= 60 else 2 if number >= 40 else 1


def _stated_scale(folded: str) -> int | None:
    m = _OTHER_SCALE.search(folded)
    if m is None:
        return None
    return 10 if (m.group(1) or m.group(2)) in ("10", "十") else 100


def _wide_scores(t: str, scale: int | None) -> Iterator[Span]:
    """分 scores on a scale of ten or a hundred: the one named, or else the one the number implies."""
    for m in _ANY_FEN.finditer(t):
        number = _number(m.group(1))
        if number is None or t[m.end() : m.end() + 1] in _NOT_AFTER_FEN:
            continue
        if scale is None and (number <= 5 or number in (10, 100)):
            continue  # the 1–5 reading (and "10分" / "100分" as full marks) is _unit_scores'
        value = _out_of(number, scale or (10 if number < 10 else 100))
        if value is not None:
            yield Span(m.start(), m.end(), t[m.start() : m.end()], value)


def _scrub(text: str) -> str:
    """Width-folded, variation selectors blanked, scale talk ("满分5分", "10分制") masked; same length."""
    folded = _fold(text).replace("\ufe0f", " ")
    blank = lambda m: " " * (m.end() - m.start())  # noqa: E731
    return _OTHER_SCALE.sub(blank, _SCALE.sub(blank, folded))


def _unit_scores(t: str) -> Iterator[Span]:
    for m in _WITH_UNIT.finditer(t):
        number, unit = m.group(1), m.group(2)
        after = t[m.end() : m.end() + 1]
        if unit == "分" and (
            after in _NOT_AFTER_FEN or (after and after in "都不也没" and _score_value(number) == 1)
        ):
            continue
        if unit in ("星", "个星", "颗星") and after in _NOT_AFTER_STAR:
            continue
        if number == "10" and t[m.end(1) : m.end(1) + 1] == "0":
            continue
        value = _score_value(number)
        if value is not None:
            yield Span(m.start(), m.end(), t[m.start() : m.end()], value)


# A score named but not given. Each cue ends right before the score, give or take "你们" or "个":
# refused ("不会给五星的", "不值五星"), asked for by someone else ("师傅非要我打5分", "一直催我给五星"),
# meant once ("本来想给五星的，结果又坏了"), mocked ("还想要五星？做梦"), promised on a condition
# ("等修好了再给五星") or taken off ("扣了20分"). All were read as the score itself, so "不会给五星的"
# was thanked as a 5.
#: Someone pressing the customer to give a score, "让我" / "非要我" / "一直催我" / "逼着我", then
#: perhaps "当场": shared with the misconduct rule (``solicits_praise`` in bot/cases/intake.py), which
#: reads the same words before "好评" or "五星" as a worker pressing for praise.
_CUSTOMER = r"(?:我|俺|咱|客户|顾客|用户|大家)"
PRESSED_BY_OTHERS = (
    rf"(?:让|(?<![我需必只])要|叫|喊|非要|非让|硬要){_CUSTOMER}"
    rf"|(?:催|逼|求|哄|缠|要求|诱导|暗示)(?:着|了)?{_CUSTOMER}?"
)
ON_THE_SPOT = r"(?:当面|当场|现场|马上|立刻|赶紧|必须|一定|务必)"
_GIVE = rf"{ON_THE_SPOT}?(?:给|打|点|评|选|写)"
_NOT_GIVEN = re.compile(
    r"(?:"
    rf"(?:不|没|别|甭|没法|无法)(?:会|能|想|可能|打算|准备|敢|愿意|舍得)?再?{_GIVE}"
    r"|不值得?|配不上|不配|够不上|达不到|没到|不到"
    rf"|(?:{PRESSED_BY_OTHERS}|劝(?:着|了)?{_CUSTOMER}?){_GIVE}"
    rf"|(?:本来|原本|原来|本|原先)(?:是|还)?(?:想|打算|准备|要){_GIVE}"
    r"|还想要|想要|还要|要什么|凭什么|怎么可能|哪(?:能|会|敢|有)|扣(?:了|掉)?"
    r")(?:你们|你|他们|他|她|人家|师傅|了|着|个|一个|\s){0,3}$"
)
# ... or refused after it: "五星是不可能给的", "满分？别想了", "五星谈不上" (but "五星都不够" gives it).
_REFUSED_AFTER = re.compile(
    r"^[？?，,。！!\s]*(?:是|就|嘛|呢|啊|的话)?[？?，,\s]*"
    r"(?:不可能|别想|想都别想|想得美|谈不上|算不上|够不上|达不到|没戏|免谈|做梦|不配|不值)"
)
_CONDITIONAL = re.compile(r"^\s*(?:如果|要是|假如|只要|等到?)")
_CLAUSE_END = re.compile(r"[，,。.!！?？;；\n]")


def _given(t: str, span: Span) -> bool:
    """Whether the clause before the score gives it, rather than refusing, reporting or mocking it."""
    clause = _CLAUSE_END.split(t[: span.start])[-1]
    refused = _NOT_GIVEN.search(clause) or _REFUSED_AFTER.match(t[span.end :])
    return not (refused or _CONDITIONAL.match(clause))


# Between two scores: "3.5分" and "给4.5分" were read as no score (the 5 after the point is no score
# of its own) and scored 5 from the words' tone; "4到5分之间" was a 3. Half a point rounds up, as the
# midpoint of a range does. A percentage counts only as satisfaction: "满意度100%" was scored 2.
_HALF = re.compile(r"(?<![0-9.])([0-4])\s*\.\s*5\s*(?:分|颗星|个星|星)")
_RANGE = re.compile(rf"{_BEFORE}{_NUM}\s*(?:到|至|-|~|～|或)\s*{_NUM}\s*(?:分|颗星|个星|星)")
_PERCENT = re.compile(
    r"(?:满意度|满意|好评率?|评分|打分)\s*(?:是|为|有|:|：)?\s*(100|[1-9]?[0-9])\s*[%％]"
    r"|(?<![0-9.])(100|[1-9]?[0-9])\s*[%％]\s*(?:的)?(?:满意|好评)|百分(?:之)?百(?:的)?满意"
)


def _between_scores(t: str) -> Iterator[Span]:
    for m in _HALF.finditer(t):
        yield Span(m.start(), m.end(), "", int(m.group(1)) + 1)
    for m in _RANGE.finditer(t):
        low, high = _score_value(m.group(1)), _score_value(m.group(2))
        if low and high and low < high:
            yield Span(m.start(), m.end(), "", (low + high + 1) // 2)
    for m in _PERCENT.finditer(t):
        share = m.group(1) or m.group(2)
        value = _out_of(int(share), 100) if share else 5
        if value is not None:
            yield Span(m.start(), m.end(), "", value)


def _scores(t: str, scale: int | None = None) -> Iterator[Span]:
    """Every score-like span, the most explicit kind first; ``scale`` is the one the customer named."""
    if scale is not None:
        yield from _wide_scores(t, scale)
    yield from _between_scores(t)
    yield from _unit_scores(t)
    if scale is None:
        yield from _wide_scores(t, None)
    for pattern, value in ((_FULL_MARKS, 5), (_ZERO, 1)):
        for m in pattern.finditer(t):
            yield Span(m.start(), m.end(), "", value)
    for m in _FRACTION.finditer(t):
        part, whole = int(m.group(1)), int(m.group(2))
        out_of_five = 1 if part == 0 else part if whole == 5 and part <= 5 else _out_of(part, whole)
        if out_of_five is not None:
            yield Span(m.start(), m.end(), "", out_of_five)
    bare = _BARE.match(t)
    for number in [*_VERB_NUM.finditer(t), *([bare] if bare else [])]:
        score = _score_value(number.group(1)) if number.group(1) not in ("10", "100") else None
        if score:
            yield Span(number.start(1), number.end(1), "", score)
    positions = [i for i, c in enumerate(t) if c in _STAR_CHARS]
    if positions:
        yield Span(positions[0], positions[-1] + 1, "", min(len(positions), 5))


def find_rating(text: str) -> Span | None:
    """A 1–5 satisfaction score: 5分, 五星, 打四分, 满分, ⭐⭐⭐, 4/5, or a bare "3" / "三吧"; not
    one the customer refuses or reports ("不会给五星的", "师傅非要我打5分")."""
    t = _scrub(text)
    found = next((span for span in _scores(t, _stated_scale(_fold(text))) if _given(t, span)), None)
    if found is None:
        return None
    return Span(found.start, found.end, text[found.start : found.end], found.value)


def withholds_score(text: str) -> bool:
    """A score named and none given ("满分？别想了", "等用几天再给五星"): whatever the customer thinks,
    it is not that score, though the model hears praise in "满分"."""
    t = _scrub(text)
    named = list(_scores(t, _stated_scale(_fold(text))))
    return bool(named) and not any(_given(t, span) for span in named)


# --- categories named outright ("是质量问题") --------------------------------------------

_CATEGORY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("product_quality", ("质量", "产品", "东西坏", "货不对", "假货", "次品")),
    ("delivery", ("物流", "快递", "配送", "送货", "外卖", "运输", "派送")),
    ("service_attitude", ("态度", "服务差", "骂人")),  # not 客服: "我要找客服" is no category
    ("installation_repair", ("安装", "维修", "修理", "上门", "师傅")),
    ("billing", ("收费", "扣费", "扣钱", "账单", "费用", "退款", "发票", "价格", "多收")),
    ("other", ("其他", "其它", "别的")),
)


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


def english_words(text: str) -> int:
    """How many English words a message without a Chinese character has; 0 if it has one."""
    return 0 if _CJK.search(text) else len(_LATIN_WORD.findall(text))


# Parse key of the category model's reading of a message it gives no entity ("油烟机装歪了" read as
# inform): a guess, not a mention, so the entities stay free of it.
CATEGORY_GUESS = "complaint_category_guess"


def find_category_mention(text: str) -> str | None:
    """A category the customer names outright when asked; None if none or ambiguous."""
    folded = _fold(text).lower()
    hits = {cat for cat, words in _CATEGORY_WORDS if any(w in folded for w in words)}
    return hits.pop() if len(hits) == 1 else None
