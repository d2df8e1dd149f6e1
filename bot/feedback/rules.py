"""When a message the intent model calls a complaint is only praise (plain Python, no framework)."""

from __future__ import annotations

import re

from bot.cases.intake import safety_terms, solicits_praise
from bot.cases.rules import SlaPolicy
from bot.surveys.rules import mocks_praise, says_it_went_wrong

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
        and not safety_terms(policy, text)
    )
