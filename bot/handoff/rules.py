"""Queue order, waiting estimates, business hours and timeouts: plain Python, tested alone."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.cases.intake import is_substantive_description, without_person_request
from bot.handoff.model import Handoff, HandoffStatus

PRIORITY_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}
INDEFINITELY = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class HandoffPolicy:
    opens: time | None = time(9, 0)
    closes: time | None = time(21, 0)
    weekdays: frozenset[int] = frozenset(range(7))  # Monday = 0
    agent_idle: timedelta = timedelta(minutes=10)
    customer_idle: timedelta = timedelta(minutes=30)
    waiting_notice: timedelta = timedelta(minutes=3)  # how often a waiting customer who writes hears back
    minutes_per_customer: float = 4.0  # a rough handling time for the wait estimate
    timezone: str = "Asia/Shanghai"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str], timezone: str = "Asia/Shanghai") -> HandoffPolicy:
        hours = env.get("HANDOFF_HOURS", "09:00-21:00").strip()
        opens = closes = None
        if hours:
            try:
                a, b = (p.strip() for p in hours.split("-"))
                opens, closes = time.fromisoformat(a), time.fromisoformat(b)
            except ValueError as exc:
                raise ValueError(f"HANDOFF_HOURS looks like 09:00-21:00, got {hours!r}") from exc
        days = env.get("HANDOFF_DAYS", "1-7").strip()
        try:
            first, _, last = days.partition("-")
            weekdays = frozenset(range(int(first) - 1, int(last or first)))
        except ValueError as exc:
            raise ValueError(f"HANDOFF_DAYS looks like 1-5 (Monday to Friday), got {days!r}") from exc

        def minutes(name: str, default: float) -> timedelta:
            raw = env.get(name, "").strip()
            return timedelta(minutes=float(raw) if raw else default)

        return cls(
            opens=opens,
            closes=closes,
            weekdays=weekdays,
            agent_idle=minutes("HANDOFF_AGENT_IDLE_MINUTES", 10),
            customer_idle=minutes("HANDOFF_CUSTOMER_IDLE_MINUTES", 30),
            waiting_notice=minutes("HANDOFF_WAITING_NOTICE_MINUTES", 3),
            timezone=timezone,
        )


_WEEKDAY_NAMES = "一二三四五六日"

#: "你们几点下班" / "人工客服什么时候在" / "客服工作时间": when people answer, which the bot knows.
_ASKS_HOURS = re.compile(
    r"几点(?:上班|下班|开门|关门|有人)|(?:上班|营业|工作|服务|在线|人工)时间|"
    r"(?:营业|上班|开门|开)到几点|几点(?:停止营业|打烊)|"  # "你们营业到几点" got "这个我帮不上忙"
    r"(?:客服|人工|你们)(?:一般|每天)?(?:几点|什么时候|啥时候)(?:上班|下班|在|有人|上线|在线|开始|结束)"
)


def asks_about_opening_hours(text: str) -> bool:
    return bool(_ASKS_HOURS.search(text))


_TRANSFER = re.compile(r"(?:转|找|要|接|叫|换)(?:一下|下)?(?:个|一个)?(?:人工|真人|客服)")


def asks_only_about_hours(text: str) -> bool:
    """ "人工客服什么时候在？" is a question the bot can answer; "几点有人工？我要转人工" is a request."""
    return asks_about_opening_hours(text) and not _TRANSFER.search(text)


#: "客服电话是多少" / "售后热线" / "怎么联系你们": how to reach the business, not a problem to file.
_CONTACT_NOUN = re.compile(
    r"(?:客服|服务|售后|投诉|人工|咨询|报修|维修|官方|你们的?|贵公司|公司)(?:的)?(?:电话|热线|号码|座机)|"
    r"热线|400电话|联系方式|联系电话|电话号码|客服号|有没有.{0,3}电话"
)
#: "怎么联系你们": asked of the business; "怎么联系人工" / "怎么才能找到真人" ask for a person (handed over).
_CONTACT_HOW = re.compile(
    r"(?:怎么|怎样|如何|咋)(?:才能|可以|能)?(?:联系|联络|找到|打给|打电话给|致电)"
    r"(?:你们|客服|商家|贵公司|公司|[\s，。！？,.!?~～呢啊呀]|$)"
)
#: A question is short; a long message that mentions a phone number tells of a problem.
_CONTACT_LONGEST = 24
_CONTACT_CUE = re.compile(
    r"多少|是什么|是啥|是几|几号|有没有|有吗|有么|给我|发我|发一下|告诉我|求|哪个|[?？吗]"
)
#: The customer's trouble with the line, or their own number: something to handle, not to answer.
_CONTACT_TROUBLE = re.compile(
    r"打不通|没人接|不接|占线|挂断|挂了|忙音|一直打|打了|空号|停机|换了|改成|改为|变了|不对|错了|\d{7,}"
)
_FILLER = re.compile(r"[\s，。！？,.!?~～、呢呀啊吧哈嘛的请问一下]")


def asks_how_to_reach_us(text: str) -> bool:
    """ "你们的客服电话是多少" is a question the bot can answer (``CARELOOP_HOTLINE``), not a request
    for a person, a complaint about the phone line ("客服电话打不通") or the customer's own number."""
    words = len(_FILLER.sub("", text))
    if _CONTACT_TROUBLE.search(text) or words > _CONTACT_LONGEST:
        return False
    if _CONTACT_HOW.search(text):
        return True
    noun = _CONTACT_NOUN.search(text)
    if noun is None:
        return False
    # "售后电话" alone asks as plainly as "售后电话是多少？"
    return bool(_CONTACT_CUE.search(text)) or words <= len(noun.group()) + 2


def describe_hours(policy: HandoffPolicy) -> str:
    """ "每天 09:00-21:00" / "周一至周五 09:00-18:00" / "每天24小时", as the customer reads it."""
    days = sorted(policy.weekdays)
    if len(days) == 7:
        when = "每天"
    elif days and days == list(range(days[0], days[-1] + 1)):
        when = f"周{_WEEKDAY_NAMES[days[0]]}至周{_WEEKDAY_NAMES[days[-1]]}"
    else:
        when = "、".join(f"周{_WEEKDAY_NAMES[d]}" for d in days)
    if policy.opens is None or policy.closes is None:
        return f"{when}24小时"
    return f"{when} {policy.opens:%H:%M}-{policy.closes:%H:%M}"


def queue_order(handoffs: Sequence[Handoff]) -> list[Handoff]:
    """Waiting conversations: the most urgent first, then the longest waiting."""
    waiting = [h for h in handoffs if h.status is HandoffStatus.WAITING]
    return sorted(waiting, key=lambda h: (PRIORITY_RANK.get(h.priority, 9), h.queued_at, h.id or 0))


def place_in_queue(handoff: Handoff, handoffs: Sequence[Handoff]) -> int:
    """1 = next. 0 if not waiting."""
    order = queue_order(handoffs)
    return next((i + 1 for i, h in enumerate(order) if h.id == handoff.id), 0)


def wait_estimate(place: int, agents_online: int, policy: HandoffPolicy) -> int:
    """Rough minutes until an agent takes the conversation (at least 1)."""
    agents = max(agents_online, 1)
    return max(1, math.ceil(place / agents * policy.minutes_per_customer))


def within_hours(moment: datetime, policy: HandoffPolicy) -> bool:
    if policy.opens is None or policy.closes is None:
        return True
    local = moment.astimezone(policy.tz)
    return local.weekday() in policy.weekdays and policy.opens <= local.time() < policy.closes


def next_opening(moment: datetime, policy: HandoffPolicy) -> datetime:
    """When agents are back (``moment`` itself if they are there)."""
    if within_hours(moment, policy):
        return moment
    assert policy.opens is not None
    local = moment.astimezone(policy.tz)
    for days in range(8):
        day = (local + timedelta(days=days)).date()
        start = datetime.combine(day, policy.opens, tzinfo=policy.tz)
        if start > local and start.weekday() in policy.weekdays:
            return start.astimezone(moment.tzinfo)
    raise ValueError("no business hours configured on any day")


def contact_before_opening(
    first_response_due: datetime, first_responded_at: datetime | None, opens_at: datetime, now: datetime
) -> datetime | None:
    """The case's first-response deadline when it falls before the agents are back (a P1 at night):
    the customer was promised contact by then, so "agents are back at 9" alone would contradict it.
    In hours with nobody at the console nobody knows when they are back (``opens_at`` is
    ``INDEFINITELY``): the deadline is the one promise there is. A deadline already past is not
    promised again."""
    if first_responded_at is None and now < first_response_due < opens_at:
        return first_response_due
    return None


def _whose_turn(handoff: Handoff) -> tuple[str, datetime] | None:
    """In a conversation a person holds: who owes the next word ("agent" or "customer"), and since
    when. None while it is still queued: a waiting customer owes nothing."""
    if handoff.status is not HandoffStatus.ACTIVE or handoff.accepted_at is None:
        return None
    if handoff.last_agent_at is None:
        return "agent", max(filter(None, [handoff.accepted_at, handoff.last_customer_at]))  # no word yet
    if handoff.last_customer_at and handoff.last_customer_at > handoff.last_agent_at:
        return "agent", handoff.last_customer_at
    return "customer", handoff.last_agent_at


def agent_gone_quiet(handoff: Handoff, now: datetime, policy: HandoffPolicy) -> bool:
    """The customer has been waiting for the agent's answer (or first word) too long."""
    turn = _whose_turn(handoff)
    return turn is not None and turn[0] == "agent" and now - turn[1] > policy.agent_idle


def customer_gone_quiet(handoff: Handoff, now: datetime, policy: HandoffPolicy) -> bool:
    """A customer silent too long after the agent's last word ends the conversation (the bot takes
    over again). A customer still waiting in the queue is waiting for us, not the other way round:
    that conversation stays queued, overnight included."""
    turn = _whose_turn(handoff)
    return turn is not None and turn[0] == "customer" and now - turn[1] > policy.customer_idle


def waiting_notice_due(handoff: Handoff, now: datetime, policy: HandoffPolicy) -> bool:
    """A customer who writes while queued (at night, say) hears that the message reached someone and
    where they stand, instead of silence; a long message typed as five lines gets one answer, not
    five: at most one per ``policy.waiting_notice``."""
    if handoff.status is not HandoffStatus.WAITING:
        return False
    return handoff.noticed_at is None or now - handoff.noticed_at >= policy.waiting_notice


_ASKING_WORDS = re.compile(r"我要|我想|帮我|给我|请|麻烦|一下|吧|啊|呀|呢|客服|转|找|人工|真人|谢谢")


def says_more(summary: str | None) -> bool:
    """A case opened for "转人工" read "非工作时间转人工：转人工": the words go on it only if they
    say more than the request for a person."""
    if not summary:
        return False
    rest = _ASKING_WORDS.sub("", without_person_request(summary.replace("[菜单]", "")))
    return is_substantive_description(rest)
