"""Rules of the intake conversation that are about language, not about Rasa."""

from __future__ import annotations

import re
import unicodedata

from bot.cases.model import Priority
from bot.cases.rules import SlaPolicy, sounds_angry, urgent_hits
from bot.nlu.patterns import (
    ON_THE_SPOT,
    PRESSED_BY_OTHERS,
    find_category_mention,
    normalise_order_id,
    normalise_phone,
)

MAX_DESCRIPTION = 4000

_GENERIC = re.compile(
    r"^(我?(要|想|需要)?(投诉|反映|反馈)(一下|个|下)?(问题|情况)?|有(个)?问题(要反映)?|投诉|在吗|你好)[。！!？?~～，,\s]*$"
)
_CANCEL_WORDS = (
    "取消",
    "算了",
    "不投诉",
    "不用了",
    "不要了",
    "不弄了",
    "不需要了",
    "撤销",
    "撤回",
    "不办了",
    "不想投诉",
)
_NO_ORDER = re.compile(
    r"^(?:我|我这|这个|那个)?(?:订单号?|单号|运单号?)?(?:我|也|都)?"
    r"(没有|没|无|木有|没得|不知道|忘了|找不到|记不得|记不清|不记得|不清楚|丢了|删了)"
)
_TAKING_TIME = re.compile(
    r"(等一?下|等等|稍等|等会儿?|马上找|我(?:先|去)?(?:找|查|翻|看)(?:一?下|找|查|翻|看)|找找看|我去找|"
    r"想一?想|想一下|考虑一下|回忆一下)"
)
_DECLINES_PHONE = re.compile(
    r"(?:不想|不方便|不愿意?|不能|不要|没必要|能不能不|可不可以不|可以不|就不)(?:留|给|提供|告诉你?|说)?(?:你们?)?"
    r"(?:我的)?(?:电话|手机|号码|联系方式)"
    r"|(?:电话|手机号?|号码)(?:就|还是)?(?:不留|不给|不方便|不想留|是隐私|保密)"
    r"|为什么(?:一定|非得|必须|非要)?要?(?:我的?)?(?:留|给|提供)?(?:我的?)?(?:电话|手机|号码)"
    r"|(?:电话|手机号?|号码)(?:是)?(?:干嘛|干什么|做什么|有什么用|有啥用|用来干)"
    # "会不会泄露" was added to the complaint's description, and the phone question came again
    r"|(?:怕|担心|会不会|不会|会)(?:被)?(?:骚扰|泄露|泄漏|推销|拿去卖|卖给|卖掉|乱用)"
)


# "没有" / "不给" / "不想说" to "请留一个手机号": a "no" to the model, which cancelled the complaint.
_PHONE_WORD = re.compile(r"电话|手机|号码|联系方式")
_BARE_REFUSAL = re.compile(
    r"^(?:那)?(?:我)?(?:还是|就|真的|实在)?(?:没有|没|不给|不留|不想给|不想留|不想说|不说|不告诉你?|不方便)"
    r"(?:手机号?|电话|号码)?(?:了|呢|啊|吧|哦)?$"  # "还是不留了", after being told why it is asked
)


_URGING = re.compile(
    r"催|快点|快些|尽快|赶紧|抓紧|加急|抓点紧|等不及|再不(处理|管|解决|联系|给)|"
    r"还没(人)?(处理|联系|回|来|解决|弄|到|退|修|办)|怎么还(没|不)|"
    r"没人(?:理|管|回|搭理|联系|接)|不理人|(?:都)?不回(?:消息|复|话)|"  # "怎么没人理我" got "没太明白"
    r"到底(什么时候|啥时候|多久|要多久|管不管|处理不处理)|要等到什么时候|等(了)?(好几|这么|几|[一二两三四五六七八九十\d]+)(天|个?小时|周|个?星期)"
)


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _meaningful(cleaned: str) -> int:
    """How many letters and digits: punctuation and emoji say nothing of the problem."""
    return sum(c.isalnum() for c in cleaned)


def names_something(text: str) -> bool:
    """ "快递", "空调": too short to describe a problem, but a word of it, not "嗯" or "你好"."""
    cleaned = _clean(text)
    return _meaningful(cleaned) >= 2 and not _GENERIC.match(cleaned) and not is_plain_answer(cleaned)


#: A demand that says nothing yet of what it is about: "能不能给个说法", "你们到底管不管".
_BARE_DEMAND = re.compile(
    r"(?:能不能|可不可以|能否|请|麻烦)?(?:你们|你)?(?:总得|必须要?|得|要)?给(?:我们?)?(?:一个|个)?(?:说法|交代|解释|答复)"
    r"|我?要(?:一个|个)?(?:说法|交代|解释)|(?:到底)?管不管|(?:这个?|那个?)?(?:事情?)?(?:怎么|咋)(?:处理|办|解决)"
    # a threat that names nothing: "我要给你们差评" became a case's whole description
    r"|(?:我?要|我?想|必须|肯定|一定)?(?:给|打)?(?:你们|你)?(?:个|一个)?差评"
    r"|(?:我?要|我?想)?(?:投诉|举报|曝光)(?:你们|你)(?:公司|家)?"
)
_DEMAND_FILLER = re.compile(r"[这那个事情你们我吧啊呢吗呀了的啦到底\W_]")
#: A verdict on the company that names nothing: "你们公司太坑了", "什么破服务", "太让人失望了". It got
#: "这个我帮不上忙"; as a description it tells the agent nothing.
_BARE_VENT = re.compile(
    r"(?:什么|啥)(?:破|垃圾|烂|鬼)?(?:服务|公司|玩意儿?|东西|态度)"
    r"|(?:坑人|坑爹|坑|差劲|烂透|垃圾|失望|恶心|离谱|过分|无语|忽悠人|骗人)"
)
_VENT_FILLER = re.compile(r"[这那个你们家公司店服务的了啊呀吧呢吗太真好是实在简直特别非常也都让人我\W_]")


def is_substantive_description(text: str) -> bool:
    """False for "我要投诉" and "能不能给个说法": a complaint with nothing in it yet. The second got
    "收到…我马上帮您登记投诉" and became the case's whole description."""
    cleaned = _clean(text)
    cleaned = _GREETING.sub("", cleaned) or cleaned  # "你好，我想反映个问题" named no problem yet
    if len(cleaned) < 4 or _GENERIC.match(cleaned):
        return False
    if _BARE_DEMAND.search(cleaned) and not _DEMAND_FILLER.sub("", _BARE_DEMAND.sub("", cleaned)):
        return False
    if _BARE_VENT.search(cleaned) and not _VENT_FILLER.sub("", _BARE_VENT.sub("", cleaned)):
        return False
    return _meaningful(cleaned) >= 3


_PERSON = re.compile(
    r"(?:我?要|帮我|给我)?(?:转|找|要|换|接|叫|让)(?:一下|下)?(?:个|一个|你们的?)?(?:人工|真人)(?!费)(?:客服|服务)?"
    r"|人工客服|真人客服|人工服务"
)


_CASE_NUMBER_WORD = re.compile(
    r"(?:投诉|工单|受理|案件)(?:编号|编码)|(?<!订单)(?<!快递)(?<!运单)(?<!商品)(?:编号|编码)"
    r"|(?:投诉|工单|受理|案件)单?号"
)
_WHAT_WAS_IT = re.compile(
    r"多少|是什么|是啥|是哪个|几号|忘了|忘记|找不到|记不得|记不清|来着|发我|告诉我|查一下|查查"
    r"|没(?:有)?(?:收到|拿到|看到|见到)|没(?:给|发)(?:我|过来)?"  # "我没收到编号" was filed as a complaint
)


def asks_for_case_number(text: str) -> bool:
    """ "我的投诉编号是多少来着": the customer's own cases answer it. It got "这个我帮不上忙"."""
    cleaned = _clean(text)
    return bool(_CASE_NUMBER_WORD.search(cleaned) and _WHAT_WAS_IT.search(cleaned))


def asks_for_a_person(text: str) -> bool:
    """ "…一直滴水，我要找人工": the complaint and the request for a person in one message. "客服"
    alone is not enough: "客服态度很差" is a complaint about one."""
    return bool(_PERSON.search(_clean(text)))


def without_person_request(text: str) -> str:
    """The message with the request for a person taken out: what is left describes the problem."""
    return _PERSON.sub("", _clean(text))


_WITHDRAW = re.compile(
    r"(?:撤销|撤回|撤掉|取消)(?:我的|刚才的?|那个|这个|之前的?|上次的?)?(?:投诉|工单)"
    r"|投诉(?:就|先)?(?:撤销|撤回|撤了|取消)"
    r"|投诉(?:可以)?(?:不用|不需要)(?:再)?(?:处理|管)?了"
    r"|(?:投诉|工单)(?:可以)?(?:关了|关掉|关闭)"
    r"|(?:撤销|撤回)\s*(?:投诉|编号)?\s*c\s*\d{8}",  # the answer the bot asks for: "撤销 C20261205-0007"
    re.IGNORECASE,
)


def withdraws_complaint(text: str) -> bool:
    """ "我想撤销刚才的投诉，问题已经解决了" / "那个投诉不用处理了": the customer takes back a filed
    complaint. (Inside an intake, "算了，不投诉了" cancels the one being described instead.)"""
    return bool(_WITHDRAW.search(_clean(text)))


_NO_MORE_COMPLAINING = re.compile(r"(?<!还)(?:不想|不要|不用|不打算|不)(?:再)?投诉了")


def stops_complaining(text: str) -> bool:
    """ "算了不投诉了": inside an intake it cancels the one being described (`is_cancellation`); with
    none running, it takes back the complaint just filed. It got "请问您是要投诉反映问题，还是查询之前
    投诉的进度呢？"."""
    return bool(_NO_MORE_COMPLAINING.search(_clean(text)))


_RESUMES = re.compile(
    r"(?:好了|好的|好|行了|行|可以了|ok|嗯)?[，,。\s]*"
    r"(?:继续|接着|我回来了|回来了|接着来|接着说|继续吧|继续说|继续登记|我们继续|咱们继续)[吧啊呀哈。.!！~～]*"
    r"|(?:好了|查完了|看完了|弄好了)[吧啊呀哈。.!！~～]*"
)


def resumes(text: str) -> bool:
    """ "好了，继续" after a digression: back to the open question, nothing about the problem. It was
    added to the case's description ("已补充到问题描述里📝")."""
    return bool(_RESUMES.fullmatch(_clean(text).lower()))


#: Help no longer needed: "已经没事了" / "不用派人来了" to a bot holding an open case about it.
_NO_LONGER_NEEDED = re.compile(
    r"(?:已经|现在)?没事了|(?:不用|不需要|不必)(?:再|你们)?(?:处理|管|派人(?:来|过来)?|来人?|上门|过来|修)了"
)


def no_longer_needed(text: str) -> bool:
    """ "已经没事了，不用派人来了": the customer needs no more help with what they reported."""
    return bool(_NO_LONGER_NEEDED.search(_clean(text))) and not says_still_broken(text)


#: A question about a service that is under way: "师傅几点到？" / "退款什么时候到账" / "明天能上门吗".
_ABOUT_THE_SERVICE = re.compile(
    r"师傅|上门|到家|几点|什么时候|啥时候|多久|哪天|几号|安排|预约|改约|退款|到账|赔偿|补偿|换货|退货|"
    r"发票|维修|安装|配件|零件|处理结果|处理得怎么样|联系我|回电话|回电"
)


def asks_about_the_service(text: str) -> bool:
    """Worth putting on the customer's open case when the bot itself has no answer; "今天天气怎么样"
    is not."""
    return bool(_ABOUT_THE_SERVICE.search(_clean(text)))


#: When someone or something is due: "师傅什么时候到" / "快递几点能送来" / "什么时候上门". Not
#: "退款什么时候到账" or "投诉什么时候处理": those are about a case.
_WHEN_DUE = re.compile(
    r"(?:师傅|工程师|维修的?|安装的?|修理工|快递员?|骑手|外卖|送货的?|配送员?|货|包裹|东西|人)"
    r".{0,6}?(?:什么时候|啥时候|几点|多久|何时|哪天|几号)(?:能|才|可以|会)?"
    r"(?:到(?!账)|来|过来|上门|送|送到|送来|派送)"
    r"|(?:什么时候|啥时候|几点|哪天)(?:能|才|可以|会)?(?:上门|派人|来人)"
)


def asks_for_arrival_time(text: str) -> bool:
    """ "师傅什么时候到" with no open case was answered "您目前没有处理中的投诉": CareLoop does not see
    the dispatch schedule, and the customer was asking about that, not about a complaint. Narrower
    than `asks_when_someone_comes`, which also hears "投诉什么时候处理"."""
    return bool(_WHEN_DUE.search(_clean(text)))


_PRAISE = re.compile(r"点赞|点个赞|赞一个|赞赞|好评|表扬|给力|靠谱|(?<!\d)6{3,}(?!\d)")  # "666": well done


def praises(text: str) -> bool:
    """ "给你们点个赞" / "必须好评": praise, which the model (with no feedback like it to learn from)
    heard as out of scope, answered "这个我帮不上忙". A question is not praise ("能给好评吗？")."""
    cleaned = _clean(text)
    return bool(_PRAISE.search(cleaned)) and not re.search(r"[?？吗]", cleaned)


def is_urging(text: str) -> bool:
    """ "能不能快点处理" / "怎么还没人联系我" / "催一下": the customer chases an open case (催办)."""
    return bool(_URGING.search(_clean(text)))


#: A chase and nothing else: "我想催一下", "能不能快点", "可以加急吗", "赶紧的". Not "快点发货" or "等了三天",
#: which say what is awaited.
_BARE_CHASE = re.compile(r"催|快点|快些|尽快|赶紧|抓紧|加急|抓点紧|等不及|速度")
_CHASE_FILLER = re.compile(
    r"我想|我要|帮我|给我|麻烦|能不能|能否|可不可以|可以|一下|你们|处理|进度|[想要请下一您你吗呢啊呀吧了的哈办单点再好行不]|[\W_]"
)


def only_chases(text: str) -> bool:
    cleaned = _clean(text)
    return bool(_BARE_CHASE.search(cleaned)) and not _CHASE_FILLER.sub("", _BARE_CHASE.sub("", cleaned))


#: An order, a booking or a service to call off: "我要取消我的订单", "能不能把订单取消了",
#: "明天的安装预约帮我取消一下". Not "取消我的投诉" (a withdrawal, answered elsewhere).
_CANCEL_ORDER_WORD = r"取消|退掉|撤单|不要了|不想要了"
_CANCELLED_THING = r"订单|预约|订购|安装|上门|服务|宽带|套餐|单子|这单|那单|下的单|订的|买的"
_CANCELS = re.compile(
    rf"(?:{_CANCEL_ORDER_WORD})[^，。,！!？?；;]{{0,6}}(?:{_CANCELLED_THING})"
    rf"|(?:{_CANCELLED_THING})[^，。,！!？?；;]{{0,8}}(?:{_CANCEL_ORDER_WORD})"
)
_CANCEL_FILLER = re.compile(
    rf"{_CANCEL_ORDER_WORD}|{_CANCELLED_THING}|我想|我要|帮我|给我|麻烦|能不能|能否|可不可以|可以|一下|"
    r"你们|你好|您好|谢谢|这个|那个|我的|今天|明天|后天|上午|下午|晚上|周[一二三四五六日天末]|"
    r"星期[一二三四五六日天]|[想要请下一您你吗呢啊呀吧了的哈把帮掉给我就先]|[\W_]"
)


def only_cancels(text: str) -> bool:
    """ "我要取消我的订单" was filed as a complaint, "能不能把订单取消了" thanked as a suggestion: a
    request to call something off, which only a person can do. Not when the message says more ("我要
    取消订单，你们发货太慢了" is a complaint), nor a complaint withdrawn."""
    cleaned = _clean(text)
    if not _CANCELS.search(cleaned) or re.search(r"投诉|工单", cleaned):
        return False
    return not _CANCEL_FILLER.sub("", cleaned)


#: What a chase waits for (goods, a visit, a refund), and the category it files under.
_AWAITED_BY_CATEGORY = {
    "delivery": r"发货|发出|寄出|送|到货|配送|派送|补发",
    "installation_repair": r"上门|派人|来人|师傅|修|安装|装",
    "billing": r"退款|退钱",
    "": r"退货|换货",  # goods or service? The customer is asked
}
_AWAITED = re.compile("|".join(_AWAITED_BY_CATEGORY.values()))


def chases_what_is_awaited(text: str) -> bool:
    """ "快点发货" / "能不能快点送到" / "赶紧派人来修" / "快点退款": a chase that says what is awaited.
    From a customer with nothing open it is the complaint to file; it was thanked as a suggestion,
    guessed to be a status question, or told "您目前没有处理中的投诉"."""
    cleaned = _clean(text)
    return is_urging(cleaned) and bool(_AWAITED.search(cleaned)) and not only_chases(cleaned)


def category_awaited(text: str) -> str | None:
    """The category of what "快点发货" / "快点退款" chases: the model files "赶紧给我发货" under
    product quality, and asks of "快点发货" which category it is. None if it names more than one."""
    if not chases_what_is_awaited(text):
        return None
    cleaned = _clean(text)
    clauses = [c for c in re.split(r"[\s，,。.!！?？~～、；;]+", cleaned) if c]
    if not all(is_urging(c) or _AWAITED.search(c) for c in clauses):
        return None  # "快递员态度太差，赶紧给我送过来" says more: the model reads all of it
    named = {category for category, words in _AWAITED_BY_CATEGORY.items() if re.search(words, cleaned)}
    if len(named) != 1:
        return None
    return named.pop() or None  # "" for goods to return or exchange


#: When will someone come: "什么时候派人来" / "师傅啥时候上门" / "几点能到". From a customer with a case
#: open it is about that case; heard as a complaint, it started a second intake ("请问这属于哪一类问题？").
_ASKS_WHEN = re.compile(
    r"(?:什么时候|啥时候|几点|哪天|几号|多久|何时|多长时间)(?:能|可以|会|才|再|给我|帮我)?"
    r"(?:派人|有人|来人|来|上门|到|过来|联系|回复|回电|处理|修|解决|弄|安排|答复|发|送|退|换)"
    r"|(?:师傅|人|工程师|快递员?)(?:大概|到底)?(?:什么时候|啥时候|几点|哪天|几号|何时)"
)


#: What may stand beside such a question and still say nothing new ("请问师傅大概什么时候能上门啊").
_ASKING_WORDS = re.compile(
    r"请问|问一下|想问|你们|您们|到底|究竟|大概|大约|一般|具体|今天|明天|那个|这个|"
    r"[我家的了呢啊呀吗嘛哈哦喔吧人师傅能会可以修下给帮一]"
)


def asks_when_someone_comes(text: str) -> bool:
    """ "什么时候派人来" / "师傅几点到": when the promised help comes, a question about a case. Not
    "空调坏了，什么时候派人来修", which says what is wrong: a problem to file."""
    cleaned = _clean(text)
    if not _ASKS_WHEN.search(cleaned):
        return False
    return not is_substantive_description(_ASKING_WORDS.sub("", _ASKS_WHEN.sub("", cleaned)))


#: A visit to move: "师傅能不能改到明天下午来" / "我要改预约时间" / "能推迟到周六吗". From a customer with
#: a case open it is for the person arranging the visit; it was thanked as a suggestion, or guessed at.
_RESCHEDULES = re.compile(
    r"改约|改预约|预约改|改(?:一下|下)?(?:时间|日期|到|成)|换(?:个|一个)?(?:时间|日子)|"
    r"时间(?:能不能|能|可以|可不可以)?(?:改|换|调)|推迟|延后|往后(?:推|延)|提前到|约到|改天|"
    r"(?:晚|早)(?:一|两|几)?天(?:再)?(?:来|上门|送)|"
    r"(?:明天|后天|周[一二三四五六日天末]|星期[一二三四五六日天]|下午|上午|晚上|中午|早上|\d+点)"
    r"[^，。,！!？?]{0,6}(?:再来|来|上门|过来|送|安装|修)|"
    # "我明天不在家": the visit cannot happen as booked
    r"(?:今天|明天|后天|周[一二三四五六日天末]|星期[一二三四五六日天]|下午|上午|晚上|中午|早上|那天|这几天|这周)"
    r"[^，。,！!？?]{0,4}(?:不在家|家里没人|家里没有人|没人在家|没在家|不方便|没空|没时间)"
)


def asks_to_reschedule(text: str) -> bool:
    """ "师傅能不能改到明天下午来": a visit to move, not a suggestion or a complaint."""
    return bool(_RESCHEDULES.search(_clean(text)))


#: Around an order number or a phone, words that only label it or correct it: "我的手机号换了，新号码…",
#: "订单号发错了，应该是…".
_ABOUT_THE_NUMBER = re.compile(
    r"联系我|找我|打我|联系方式|这是|是我|我的|手机|电话|号码|订单|单号|新的?|改成?|换成?|换了|错了|发错|写错|"
    r"应该是?|不对|更正|修改|更新|"
    # "手机号就是这个号 137…": the number itself, pointed at; it was added to the problem's description
    r"(?:就|都|也)?(?:用|打|留|是)?(?:这|那)个号?|本机|本人|机主"
)


def describes_beside_numbers(rest: str) -> bool:
    """ "订单号JD… 电视买回来就黑屏 电话138…" without its numbers: a problem, not a label or a correction.
    The model heard such a complaint as information (1.00), and the customer was asked "您是要投诉
    反映问题，还是查询…", then for the order number and the phone already given."""
    words = re.sub(r"[0-9A-Za-z\-]{5,}", "", rest)  # a number the NLU gave no place in the text
    return is_substantive_description(_ABOUT_THE_NUMBER.sub("", words))


#: A postal address: a place ("朝阳区", "建国路", "阳光小区") and then a number ("5号", "3栋2单元501").
_ADDRESS = re.compile(
    r"(?:省|市|区|县|镇|乡|街道|路|街|大道|巷|弄|胡同|村|小区|花园|公寓|大厦|苑|园)"
    r"[\u4e00-\u9fffA-Za-z0-9\-－—]{0,12}?(?:\d+|[一二三四五六七八九十百]+)\s*(?:号|栋|幢|座|单元|室|楼|层)"
)


def gives_address(text: str) -> bool:
    """ "应该是朝阳区建国路5号" / "地址：阳光小区3栋2单元501": an address, which the intake has no
    question for; it got "请问您是要投诉反映问题…" and was lost."""
    return bool(_ADDRESS.search(_clean(text)))


_PLAIN_ANSWER = re.compile(
    r"^(不用了?|不需要了?|不要了?|没有了?|没了|没事了?|不是|不对|不|没|否|好的?|嗯+|恩+|是的?|对的?|对|行|"
    r"可以|没问题|确认|确定|ok|okay|yes|no|谢谢|多谢|你|您|"
    r"啥|什么|别的|其他|其它|暂时|先|就|这样|要说|想说|说的|事|问题|都|的|了|啦|吧|呢|哦|噢|喔|啊|呀|哈)+$"
)


def is_plain_answer(text: str) -> bool:
    """ "嗯嗯好的" / "不用了谢谢": a bare yes or no. "账单不对" and "取消订单" are not, though the model
    may read them as a "no": answering those with "好的" would agree to something nobody did. An
    emoji alone ("👍") is plain too."""
    cleaned = re.sub(r"[\W_]+", "", _clean(text).lower())
    return not cleaned or bool(_PLAIN_ANSWER.match(cleaned))


#: Words that submit the summary outright; `confirms` also takes the softer "好", "行", "可以" …
_SUBMIT_WORDS = "提交|无误|正确|没错|没问题|确认|确定|对的|是的|就这样"
_SUBMITS = re.compile(rf"(?<!不)(?:{_SUBMIT_WORDS})")
_CONFIRMS = re.compile(rf"(?<!不)(?:{_SUBMIT_WORDS}|没毛病|可以|好(?!像)的?|行|ok|yes|👌|👍|✅)")


_NEGATION = re.compile(r"不|没(?!问题|毛病|错)|否|no")


def confirms(text: str) -> bool:
    """A yes to the summary: "嗯嗯" or "好的，提交吧", not "嗯嗯那个啥", which the model also heard as a
    yes, and which filed the case while the customer was still thinking."""
    folded = _clean(text).lower()
    bare_yes = is_plain_answer(text) and not _NEGATION.search(folded)  # "不行" is plain, and a no
    return bare_yes or bool(_CONFIRMS.search(folded))


def confirms_explicitly(text: str) -> bool:
    """ "确认" / "没问题，提交吧": the yes the summary needs once the customer has said something on it
    was wrong. A bare "好" to "请直接告诉我要改的内容" means "好，我说", and it filed the case unchanged."""
    folded = _clean(text).lower()
    return bool(_SUBMITS.search(folded)) and not _NEGATION.search(_SUBMITS.sub("", folded))


def is_cancellation(text: str) -> bool:
    """ "算了，不投诉了" cancels; a bare "不对" only means something is wrong."""
    cleaned = _clean(text)
    return cleaned.startswith("/deny") or any(w in cleaned for w in _CANCEL_WORDS)


def says_no_order(text: str) -> bool:
    """ "没有" / "订单号找不到了" / "我不记得订单号": the intake goes on without one."""
    return bool(_NO_ORDER.match(_clean(text)))


_UNSURE = re.compile(
    r"^(?:我)?(?:也|真|是真的)?(?:不知道|不清楚|不确定|说不好|说不清|搞不清|分不清|不懂|不会选|不好说|随便|都行|都可以|"
    r"你看着办|你们看着办|看着办|你定|你们定|你帮我选|帮我选)"
    r"(?:怎么选|选哪个|选哪一个|该选哪个|是哪类|是哪一类|属于哪类|属于哪一类|算哪类|算哪一类)?(?:吧|啊|呀|呢|哎|诶|哦)?$"
)


_NONE_FITS = re.compile(
    r"^(?:好像|感觉|应该)?(?:都不是|都不对|都不像|都不算|都不太像|都没有|没有|没|没有合适的|没有对应的|没有符合的|"
    r"哪个都不是|哪个都不对|哪个都不像|不属于这些|不在这里面|这里面没有|里面没有|以上都不是|上面都不是|都不沾边)"
    r"(?:吧|啊|呀|呢|哎|诶|哦|耶)?$"
)


def _letters(text: str) -> str:
    """The text without spaces and punctuation, for rules that match a whole short answer."""
    return re.sub(r"[\W_]+", "", _clean(text))


def unsure_of_category(text: str) -> bool:
    """ "不知道怎么选" / "随便" / "都不是" / "没有" to "这属于哪一类问题？": sorting the complaint is our
    job, not the customer's; it was answered "这个我帮不上忙" and asked again, and a bare "没有" (a
    "no" to the model) cancelled the whole complaint."""
    folded = _letters(text)
    return bool(_UNSURE.match(folded) or _NONE_FITS.match(folded))


_OWN_CATEGORY = re.compile(
    r"^(?:是|属于|算|应该是|应该算)?[\u4e00-\u9fff]{1,6}?的?(?:问题|方面|那块|这块|类|故障|毛病)"
    r"(?:吧|啊|呀|呢|哈)?$"
)


def names_own_category(text: str) -> bool:
    """ "网络问题" / "是信号方面的" to "这属于哪一类问题？": the customer's own label for the problem,
    one the menu does not have. Asking again only got it back; the agent files it."""
    folded = _letters(text).removesuffix("的")
    return bool(_OWN_CATEGORY.match(folded)) and not _NO_LABEL.search(folded)


#: A question or a yes/no in the label's place: "什么问题", "没问题", "有问题" name no kind of problem.
_NO_LABEL = re.compile(
    r"什么|啥|哪|怎|^(?:是|属于|算)?(?:没|有|大|小|这个|那个|这|那)?的?(?:问题|方面|类|故障|毛病)"
)


def names_only_a_category(text: str) -> bool:
    """ "产品质量" / "是物流的问题" while the order number is asked: a category, not more about the
    problem (it was added to the description)."""
    return bool(find_category_mention(text)) and len(_letters(text)) <= 6


_CATEGORY_WORD = re.compile(r"类别|分类|类型|归类")


def is_about_the_category(text: str) -> bool:
    """ "类别应该是物流" / "是物流的问题": the category, which has a question of its own, not words to
    add to the description."""
    return bool(_CATEGORY_WORD.search(_clean(text))) or names_only_a_category(text)


def asks_for_time(text: str) -> bool:
    """ "等一下我找找" / "订单号我查一下": the customer is looking for the number. It is no wrong
    number, and no request for a person ("等一下" once reached the model as one)."""
    cleaned = _clean(text)
    return not any(c.isascii() and c.isalnum() for c in cleaned) and bool(_TAKING_TIME.search(cleaned))


#: Where a customer looks for a number, and the words around it: what "稍等，我翻翻聊天记录" is made of.
_WHILE_LOOKING = re.compile(
    r"订单号?|运单号?|单号|手机号?|号码|聊天记录|记录|短信|邮件|相册|截图|手机|一下|好的|马上|"
    r"[我先再在上里下吧啊呀哈哦噢嗯好找翻查看]"
)


def says_more_than_wait(text: str) -> bool:
    """ "等等，墙上还发霉了，这个也写上": a wait word, and more about the problem after it. Taken for
    a search alone, it was placed nowhere, and a person was called with the intake lost."""
    return is_substantive_description(_WHILE_LOOKING.sub("", _TAKING_TIME.sub("", _clean(text))))


_PREFERS_WECHAT = re.compile(
    r"(?:微信|公众号|这里|这儿|这边|在这|网上|线上)(?:上|里|里面)?(?:直接)?(?:联系|找|说|聊|沟通|回复|通知|回我|留言|告诉)"
)


_BARE_NEVER_MIND = re.compile(r"^(?:那|那就|那还是|哎|唉|嗯)?算了(?:吧|啦|呗|哈)?$")


def only_never_mind(text: str) -> bool:
    """ "那算了": "never mind", with nothing to say what about; "算了，不投诉了" says it."""
    return bool(_BARE_NEVER_MIND.match(_letters(text)))


def prefers_wechat(text: str) -> bool:
    """ "不留电话，微信联系我" / "有事在这里说就行": the customer wants to be reached in this chat,
    which WeChat allows (a person writes from the console); a number is not the only way."""
    cleaned = _clean(text)
    return not any(c.isdigit() for c in cleaned) and bool(_PREFERS_WECHAT.search(cleaned))


_ON_FILE_SOURCE = re.compile(
    r"绑定|注册|下单|预留|收货人|订单(?:上|里)|系统里|账号|账户|会员|你们(?:那|那边|那里|这边)?(?:有|能查|查得到|知道)"
    r"|(?:留|给|填|登记|说)过|上次|之前|以前|原来"
)
_PHONE_WORD = re.compile(r"电话|手机|联系方式|(?<![单编])号")  # not 订单号 / 编号
_ALREADY_GIVEN = re.compile(
    r"^(?:我)?(?:之前|上次|以前|下单时?|下单的时候)?(?:已经)?(?:留|给|填|说)过(?:了)?[呀啊的吧哦嘛]?$"
)


def refers_to_number_on_file(text: str) -> bool:
    """ "手机号就是我微信绑定的那个" / "下单时留过了": a number the customer thinks we have. WeChat does
    not give an official account the customer's phone, and it was answered "这个号码好像不太对"."""
    cleaned = _clean(text)
    if any(c.isdigit() for c in cleaned):
        return False
    letters = _letters(cleaned)
    return bool(_ALREADY_GIVEN.match(letters)) or bool(
        _ON_FILE_SOURCE.search(cleaned) and _PHONE_WORD.search(cleaned)
    )


def declines_phone(text: str, *, named: bool = False) -> bool:
    """ "我不想留电话" / "为什么一定要手机号": a worry about the number, not a cancelled complaint
    (the model hears a "no", and a "no" in the intake used to cancel it). ``named``: only where the
    phone is named ("不给" is a refusal of the phone only when the phone is asked for)."""
    cleaned = _clean(text)
    if any(c.isdigit() for c in cleaned):
        return False
    bare = _BARE_REFUSAL.match(_letters(cleaned))
    return bool(_DECLINES_PHONE.search(cleaned) or (bare and (not named or _PHONE_WORD.search(cleaned))))


def safety_terms(policy: SlaPolicy, text: str) -> list[str]:
    """The P1 (safety) words in a complaint, so the bot can give safety advice at once."""
    folded = _clean(text)
    return urgent_hits(policy, Priority.P1, folded)


_GREETING = re.compile(
    r"^(?:(?:你好|您好|你们好|哈喽|哈啰|嗨|喂|在吗|在不在|亲|客服|对了|hello|hi)[呀啊吗么哈]?[，,。.!！?？~～\s]+)+",
    re.IGNORECASE,
)


#: A labelled number closing the message: "…还把墙打坏了，订单号JD2026113012345，电话135…". It has a
#: line of its own in the summary and on the case, and a phone corrected later left the old one here.
_TRAILING_NUMBER = re.compile(
    r"[，,。.;；\s]*(?:(?P<order>(?:我的)?(?:订单号?|单号|运单号|订单编号))|(?:联系)?(?:电话|手机号?|号码))"
    r"[：:是为\s]*(?P<number>[A-Za-z0-9\s+-]{7,30})[。.!！\s]*$"
)


#: The same opening the message: "手机号13812345678，空调不制冷".
_LEADING_NUMBER = re.compile(
    r"^\s*(?:(?P<order>(?:我的)?(?:订单号?|单号|运单号|订单编号))|(?:我的)?(?:联系)?(?:电话|手机号?|号码))"
    r"[：:是为\s]*(?P<number>[A-Za-z0-9\s+-]{7,30}?)\s*[，,。.;；]+"
)


def without_numbers_on_file(text: str, order_id: str | None, phone: str | None) -> str:
    """The description without the order number and phone that close or open it, when the case has
    its own (the same, or the one the customer corrected it to)."""
    for pattern, closing in ((_TRAILING_NUMBER, True), (_LEADING_NUMBER, False)):
        while (found := pattern.search(text)) is not None:
            number = found["number"]
            if found["order"]:
                kept = order_id and normalise_order_id(number)
            else:
                kept = phone and normalise_phone(number)
            rest = text[: found.start()] if closing else text[found.end() :]
            if not kept or not is_substantive_description(rest):
                break
            text = rest
    return text


def trim_description(text: str) -> str:
    """The case's description: without the opening "你好，" (an agent reads the problem first) and
    capped in length."""
    cleaned = text.strip()
    stripped = _GREETING.sub("", cleaned)
    cleaned = stripped if is_substantive_description(stripped) else cleaned
    return cleaned if len(cleaned) <= MAX_DESCRIPTION else cleaned[: MAX_DESCRIPTION - 1] + "…"


_REWRITE = re.compile(
    r"^(?:不对|不是|错了|说错了)?[，,。\s]*"
    r"(?:(?:把)?(?:问题|投诉|描述|问题描述|投诉内容|情况)(?:描述)?(?:要|帮我|请)?"
    r"(?:改一下|改成|改为|修改为|修改一下|更正为|更正一下|换成|应该是|重新描述一下|重新描述)"
    r"|重新描述一下|重新描述|(?<=[对是了][，,。\s])(?:问题|情况)(?:应该)?是)"
    r"[：:，,。\s]*"
)


def rewritten_description(text: str) -> str | None:
    """ "问题描述改一下：电视屏幕有两条竖线" / "不对，问题是…": the customer replaces the description
    rather than adding to it. The new description, or None."""
    words = text.strip()  # the customer's own words are kept as typed (no NFKC: "，" stays "，")
    match = _REWRITE.match(words)
    if not match:
        return None
    rest = words[match.end() :].strip()
    return rest if is_substantive_description(rest) else None


_STILL_BROKEN = re.compile(
    r"(还是|仍然|依然|又|再次|照样|还)(没|不|坏|漏|出(了|现)?(问题|故障)|老样子|一样)|没(有)?修好|没(有)?解决|"
    r"问题还在|毛病还在|问题依旧|毛病依旧|故障依旧|还在(漏|响|滴)|还没好|跟(之前|以前|原来|上次)一样"
)


def says_still_broken(text: str) -> bool:
    """ "还是不脱水" / "又漏水了" / "根本没修好" / "问题依旧": the problem of a finished case is back.
    ("问题依旧" and "还在漏" started a second intake until the ninth session of 2026-12-06.)"""
    return bool(_STILL_BROKEN.search(_clean(text)))


_MISCONDUCT = re.compile(
    r"骂人|骂我|辱骂|爆粗口|说脏话|动手|打人|打我|推我|威胁|恐吓|索要|要红包|收红包|要好处费|私下收|"
    r"乱收费|多(收|要)了?我?的?[\d一二两三四五六七八九十百千几]*(块|元|钱)|乱加价|偷(了|走)|顺走|摔(坏|了)|骚扰"
)


# Pressing the customer for a good review (索要好评), which many service businesses forbid; the
# survey is where customers say it, and "师傅走之前非要我打5分" was recorded as a 5 and thanked.
_SOLICITS = re.compile(
    rf"(?:{PRESSED_BY_OTHERS}){ON_THE_SPOT}?(?:给|打|点|写|评|刷)?(?:他们?|她|师傅|我们)?(?:个|一个|了)?"
    r"(?:好评|五星|5星|五颗星|满分|高分|[5五]分)|好评返现|给好评就?返"
)
_DENIED = re.compile(r"(?:没|没有|不|别|不会|从不)$")


def solicits_praise(text: str) -> bool:
    """ "师傅非要我打5分" / "一直催我给五星好评": a worker asked for the good score; "师傅没让我给好评"
    is praise."""
    cleaned = _clean(text)
    return any(not _DENIED.search(cleaned[: m.start()]) for m in _SOLICITS.finditer(cleaned))


#: Money a worker asked for or took beyond the bill: "师傅要了50块辛苦费", "问我要红包", "多收了我100块".
#: Told calmly in a survey ("装好了，但是师傅要了50块辛苦费") it was praise to the model (0.66), a 4.
_TIP = r"辛苦费|小费|茶水费|红包|好处费|烟钱|买烟钱|跑腿费|喝水钱|感谢费"
_AMOUNT = r"[\d一二两三四五六七八九十百千几]"
_EXTRA_MONEY = re.compile(
    rf"(?<!没有)(?<![没不别])(?:要|收|拿|讨|索要)了?(?:我|我们)?的?{_AMOUNT}*(?:块|元)?钱?的?(?:{_TIP})"
    rf"|(?<!没有)(?<![没不别])(?:多收|多要|多拿|乱收|加收|另收|额外收)了?(?:我|我们)?的?{_AMOUNT}+(?:块|元)"
)


def takes_extra_money(text: str) -> bool:
    """A worker asked for or took money beyond the bill, which a business wants to hear of however
    pleasantly it is put. "师傅没要辛苦费" and "不用给红包" are not that."""
    return bool(_EXTRA_MONEY.search(_clean(text)))


def misconduct_told_pleasantly(text: str) -> bool:
    """Misconduct customers report in words that sound pleased, so the satisfaction model misses it:
    a good review pressed for ("非要我给五星好评") or money beyond the bill ("师傅要了50块辛苦费")."""
    return solicits_praise(text) or takes_extra_money(text)


def names_misconduct(text: str, satisfaction: str | None) -> bool:
    """ "师傅态度很差，还骂人" reads like a verdict, and the model calls it feedback; but a worker who
    swore, threatened, overcharged, took something or pressed for a good review is a complaint to act
    on. Only an unhappy message counts, "师傅很好，没有乱收费" praises, except that pressing for a
    good review ("非要我给五星好评") or money beyond the bill is reported in words that sound pleased."""
    unhappy = satisfaction == "dissatisfied" and bool(_MISCONDUCT.search(_clean(text)))
    return unhappy or misconduct_told_pleasantly(text)


#: How sure the satisfaction model must be of displeasure to call it strong.
STRONG_DISPLEASURE = 0.8


def strongly_displeased(satisfaction: str | None, confidence: float | None) -> bool:
    return satisfaction == "dissatisfied" and (confidence or 0.0) >= STRONG_DISPLEASURE


def is_angry(text: str, satisfaction: str | None, confidence: float | None) -> bool:
    """Strong displeasure, not just a complaint: angry words, threats or shouting, and the NLU hearing
    a dissatisfied customer. Such customers are handed to a person."""
    return strongly_displeased(satisfaction, confidence) and sounds_angry(text)
