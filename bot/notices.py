"""Telling a WeChat customer that their complaint was resolved, when it is resolved.

Before this the customer heard of it only through the satisfaction survey, two hours later, and not
at all when no survey went out (opted out of surveys, surveyed this week). The notice carries no
agent note: notes are written for colleagues, not customers.

WeChat lets the account write to a customer for 48 hours after their last message; most complaints
are resolved later than that. Outside the window the notice goes as the configured template message,
and where none is configured the case's history says the customer could not be told, so that an
agent calls them instead of believing they know.

A case resolved at night (a batch from the dispatch system, an agent on the late shift) is told
when the survey's quiet hours end, as a survey would be: the case's history says so, and the
worker sends it (``send_held``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.cases.model import CATEGORY_LABELS, PUSH_CHANNELS, Case, Status
from bot.cases.service import CaseService
from bot.customers import CustomerStanding
from bot.handoff.model import Handoff, HandoffStatus
from bot.handoff.service import Conversations
from bot.surveys.rules import Delivery, choose_delivery
from bot.timefmt import format_local

logger = logging.getLogger(__name__)

RESOLVED = (
    "您好，您的投诉 {number}（{category}）已处理完毕✅\n"
    "如果问题还在，直接回复描述一下，我们会继续跟进；也可以随时发送“查进度”查看记录。"
)
TEMPLATE_FIRST = "您好，您的投诉已处理完毕✅"
TEMPLATE_REMARK = "如果问题还在，直接回复本公众号描述一下，我们会继续跟进。"
#: Why a customer could not be told, as the agent reading the case's history needs it.
UNREACHABLE_NOTES = {
    "outside_48h_window_no_template": (
        "客户超过 48 小时没有发消息，微信不允许再主动发消息（未配置模板消息）：请电话告知客户"
    ),
    "unsubscribed": "客户已取消关注公众号，无法通过微信告知：请电话告知客户",
}
NOTIFIED = "customer_notified"
NOTICE_FAILED = "customer_notice_failed"
HELD = "customer_notice_held"  # resolved in quiet hours: told when they end
SENDING = "customer_notice_sending"  # a worker took the held notice
SETTLED = (SENDING, NOTIFIED, NOTICE_FAILED)
#: A held notice older than this is not sent any more (the worker was down for days).
HELD_FOR = timedelta(days=2)


class OpenConversations(Protocol):
    async def open_for(self, sender_id: str) -> Handoff | None: ...


class Standings(Protocol):
    async def standing(self, sender_id: str) -> CustomerStanding: ...


def resolution_notice(case: Case) -> str:
    return RESOLVED.format(number=case.number, category=_category(case))


def _category(case: Case) -> str:
    return CATEGORY_LABELS.get(case.category, case.category)


class ResolutionNotifier:
    """A resolution listener (``CaseService.on_resolved``). Says nothing when the customer withdrew
    the complaint (they asked for it to be dropped) or an agent holds their conversation (and tells
    them)."""

    def __init__(
        self,
        cases: CaseService,
        rasa: Conversations,
        handoffs: OpenConversations,
        customers: Standings,
        *,
        template_configured: bool = False,
        next_allowed: Callable[[datetime], datetime] | None = None,
    ) -> None:
        self._cases = cases
        self._rasa = rasa
        self._handoffs = handoffs
        self._customers = customers
        self._template_configured = template_configured
        #: The end of the quiet hours a moment falls in, or the moment itself (the survey policy's).
        self._next_allowed = next_allowed or (lambda moment: moment)

    async def __call__(self, case: Case, *, withdrawn: bool) -> str | None:
        if withdrawn or case.channel not in PUSH_CHANNELS:
            return None
        now = self._cases.now()
        opens = self._next_allowed(now)
        if opens > now:
            when = format_local(opens, self._cases.tz)
            await self._cases.record(case.number, HELD, f"夜间不打扰：{when} 后告知客户")
            return None
        return await self._notify(case)

    async def send_held(self) -> int:
        """The worker's round: notices held for the night go out once it is over, each once even
        with several workers (a claim under the case's lock), and not for a case reopened since."""
        now = self._cases.now()
        if self._next_allowed(now) > now:
            return 0
        sent = 0
        for number in await self._cases.awaiting(HELD, settled_by=SETTLED, since=now - HELD_FOR):
            case = await self._cases.claim(number, HELD, claim=SENDING, settled_by=(NOTIFIED, NOTICE_FAILED))
            if case is None:
                continue
            if case.status not in (Status.RESOLVED, Status.CLOSED):
                await self._cases.record(case.number, NOTICE_FAILED, "案件已重新打开，不再告知客户已处理")
                continue
            sent += await self._notify(case) is not None
        return sent

    async def _notify(self, case: Case) -> str | None:
        talking = await self._handoffs.open_for(case.sender_id)
        if talking is not None and talking.status is HandoffStatus.ACTIVE:
            # The agent holding the conversation tells them (one waiting in the queue is told).
            await self._cases.record(case.number, NOTICE_FAILED, "客服正在与客户对话：请由客服告知客户")
            return None
        standing = await self._customers.standing(case.sender_id)
        delivery, reason = choose_delivery(
            standing.last_inbound, self._cases.now(), template_configured=self._template_configured
        )
        if standing.unsubscribed:
            delivery, reason = Delivery.UNREACHABLE, "unsubscribed"
        if delivery is Delivery.UNREACHABLE:
            why = reason or ""
            await self._cases.record(case.number, NOTICE_FAILED, UNREACHABLE_NOTES.get(why, why))
            return None
        text = resolution_notice(case)
        event: dict[str, Any] = {
            "event": "bot",
            "text": text,
            "timestamp": self._cases.now().timestamp(),
            "metadata": {"careloop": "case_resolved", "case": case.number},
        }
        if delivery is Delivery.TEMPLATE:
            text = f"（模板消息）{TEMPLATE_FIRST} 投诉 {case.number}（{_category(case)}） {TEMPLATE_REMARK}"
            event["text"] = None  # the template alone goes out: a text would only be refused
            event["data"] = {"custom": self._template(case)}
        try:
            await self._rasa.append_events(
                case.sender_id, [event], output_channel=case.channel, execute_side_effects=True
            )
        except Exception as exc:  # the case stays resolved; its history says the customer was not told
            logger.exception("could not tell %s that case %s was resolved", case.sender_id, case.number)
            await self._cases.record(case.number, NOTICE_FAILED, f"{type(exc).__name__}: {exc}"[:500])
            return None
        await self._cases.record(case.number, NOTIFIED, text)
        return text

    def _template(self, case: Case) -> dict[str, Any]:
        """The configured template's fields (first / keyword1 / keyword2 / remark), as the survey's."""
        return {
            "template": {
                "data": {
                    "first": {"value": TEMPLATE_FIRST},
                    "keyword1": {"value": f"投诉 {case.number}（{_category(case)}）"},
                    "keyword2": {"value": format_local(self._cases.now(), self._cases.tz)},
                    "remark": {"value": TEMPLATE_REMARK},
                }
            }
        }
