"""When a message the intent model calls a complaint is only praise, or names no problem at all (plain
Python, no framework)."""

from __future__ import annotations

import re

from bot.cases.intake import safety_terms, solicits_praise
from bot.cases.rules import SlaPolicy
from bot.surveys.rules import fails_again, mocks_praise, says_it_went_wrong, says_not_done

#: How sure the satisfaction model must be before praise at first contact is taken for no complaint.
#: Of the 1,275 complaints in `data/nlu/` (which the satisfaction model never trains on), 6 are praise
#: to it at 0.9 or more, and the checks below keep every one a complaint. Of the 1,031 satisfied answers
#: in `data/satisfaction/services.tsv`, 506 are complaints to the intent model; 384 of them pass.
SURE_PRAISE = 0.9

#: Asking for something, a question, or a score named (a worker may have pressed for it: "师傅自己拿我
#: 手机点了五星" is praise to the satisfaction model): not praise alone, whatever the model hears.
_ASKS = re.compile(
    r"投诉|举报|处理|解决|退款|退货|退钱|换货|赔|补偿|必须|务必|马上|赶紧|尽快|给个说法|交代|"
    r"怎么回事|为什么|凭什么|[?？]|吗$|呢$|好评|差评|五星|5星|满分|打分|评分"
)


def only_praise(policy: SlaPolicy, text: str, label: str | None, confidence: float | None) -> bool:
    """ "嘎嘎好，师傅老实在了，修完还帮俺把厨房灯泡换了": long praise is "complain" to the intent model,
    and it was answered "收到，非常抱歉给您添麻烦了，我马上帮您登记投诉" (seen live). Sure praise that
    asks for nothing, names nothing gone wrong and no danger is thanked as feedback instead."""
    return (
        label == "satisfied"
        and (confidence or 0.0) >= SURE_PRAISE
        and not _ASKS.search(text)
        and not solicits_praise(text)
        and not mocks_praise(text)
        and not says_it_went_wrong(text)
        and not fails_again(text)
        and not safety_terms(policy, text)
    )


#: How sure the satisfaction model must be that a message is neither praise nor displeasure before a
#: "complaint" with no problem named in it is taken for none. Of the 1,573 complaints in `data/nlu/`,
#: `tests/nlu/` and `bench/data/intents_dev.tsv`, 9 are neutral to it at 0.9 or more ("还没上门",
#: "故障还在，再派人来看看"), and the words below keep every one a complaint.
SURE_NEUTRAL = 0.9

#: Something wrong, or something wanted done again, in a few words: "坏", "漏", "一直滴水", "还没",
#: "不制冷", "再派人". Not "没问题" / "没啥毛病", which say the opposite.
_FAULT = re.compile(
    r"坏|故障|失败|不行|不能|不了|漏|破|裂|凹|撞|划|碎|断|错(?!字)|差|慢|贵|脏|臭|乱|丢|缺|假|烂|维权|"
    r"还没|一直|都没|迟迟|滴水|到现在|至今|等了|催|又|再(?:派|来|修|上门)|"
    r"不(?:响|亮|动|转|热|冷|凉|制冷|出|通|对|准|合|符|够|见|清|灵|稳)|"
    r"(?<!没)(?<!没啥)(?<!没什么)(?:问题|毛病)"
)


def names_no_problem(policy: SlaPolicy, text: str, label: str | None, confidence: float | None) -> bool:
    """ "我到前台了" / "钥匙放在门口鞋柜里" / "海尔的热水器，买了三年了": the intent model calls much of
    what it does not know a complaint, and the customer was told "非常抱歉给您添麻烦了，我马上帮您登记
    投诉" (seen live). A message the satisfaction model is sure is neutral, that asks for nothing and
    names no fault, no delay and no danger, is no complaint yet."""
    return (
        label == "neutral"
        and (confidence or 0.0) >= SURE_NEUTRAL
        and not _ASKS.search(text)
        and not _FAULT.search(text)
        and not says_it_went_wrong(text)
        and not says_not_done(text)
        and not safety_terms(policy, text)
    )


#: Where and when something came from, and nothing yet of what is wrong with it: "我上个月在你们这买的
#: 洗衣机", "上周你们给我装的空调". The satisfaction model hears these as displeasure (complaints in
#: WeChat start this way), so they got "非常抱歉给您添麻烦了" before any problem was named.
_PURCHASE = re.compile(
    r"(?:我|我们|我家|俺)?(?:是|之前|当时|刚)?[^，,。！!？?\s]{0,8}?"  # when: "上个月", "前天", "双十一"
    r"(?:(?:在|从|找|让)?(?:你们|你家|贵司|贵店)[^，,。！!？?\s]{0,4}?)?"  # where: "在你们这", "你们店里"
    r"(?:给我|帮我)?(?:买|购买|订|下单|装|安装|修|维修|办|换|送)(?:了|的)+"
    r"(?:一|1|两|2)?(?:台|个|件|部|套|张|款|双|箱|份|条)?"
    r"(?P<thing>[\u4e00-\u9fffA-Za-z0-9]{2,6}?)(?:啊|呀|哈|哦|呢)?"
)
#: Or a thing at home and nothing more, a customer who sends the problem in the next message: "我家空调"
#: got "抱歉，这个我帮不上忙", and the case said only "不制冷了".
_AT_HOME = re.compile(
    r"(?:我家|我们家|家里|俺家|家中)(?:的|里的?)?(?:那台|这台|那个|这个)?"
    r"(?P<thing>[\u4e00-\u9fffA-Za-z0-9]{2,6}?)(?:啊|呀|哈|哦|呢)?"
)
_NOT_A_THING = re.compile(
    r"^[那这哪里]|[不没未无别了是在还就很太都也会要能得着过掉发好]|什么|啥|玩意|垃圾|寂寞|东西$|的$|地址|电话|号"
)


def purchase_without_problem(text: str) -> str | None:
    """What was bought, installed or repaired, or what at home, when the message says only that
    ("洗衣机"), else None."""
    cleaned = re.sub(r"[\s。.!！~～…]+$", "", text.strip())
    match = _PURCHASE.fullmatch(cleaned) or _AT_HOME.fullmatch(cleaned)
    if match is None or _ASKS.search(cleaned) or _FAULT.search(cleaned) or says_it_went_wrong(cleaned):
        return None
    thing = match["thing"]
    return None if _NOT_A_THING.search(thing) else thing
