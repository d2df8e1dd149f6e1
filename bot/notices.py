"""Telling a WeChat customer that their complaint was resolved, when it is resolved.

Before this the customer heard of it only through the satisfaction survey, two hours later, and not
at all when no survey went out (opted out of surveys, surveyed this week). The notice carries no
agent note: notes are written for colleagues, not customers."""

from __future__ import annotations

import logging
from typing import Protocol

from bot.cases.model import CATEGORY_LABELS, Case
from bot.cases.service import CaseService
from bot.handoff.model import Handoff, HandoffStatus
from bot.handoff.service import Conversations

logger = logging.getLogger(__name__)

RESOLVED = (
    "您好，您的投诉 {number}（{category}）已处理完毕✅\n"
    "如果问题还在，直接回复描述一下，我们会继续跟进；也可以随时发送“查进度”查看记录。"
)
#: Channels that can reach a customer unprompted (Rasa's REST channel only answers requests).
PUSH_CHANNELS = frozenset({"wechat"})
NOTIFIED = "customer_notified"
NOTICE_FAILED = "customer_notice_failed"


class OpenConversations(Protocol):
    async def open_for(self, sender_id: str) -> Handoff | None: ...


def resolution_notice(case: Case) -> str:
    return RESOLVED.format(number=case.number, category=CATEGORY_LABELS.get(case.category, case.category))


class ResolutionNotifier:
    """A resolution listener (``CaseService.on_resolved``). Says nothing when the customer withdrew
    the complaint (they asked for it to be dropped) or an agent holds their conversation (and tells
    them). Outside WeChat's 48-hour window the outbox holds the notice until the customer writes."""

    def __init__(self, cases: CaseService, rasa: Conversations, handoffs: OpenConversations) -> None:
        self._cases = cases
        self._rasa = rasa
        self._handoffs = handoffs

    async def __call__(self, case: Case, *, withdrawn: bool) -> str | None:
        if withdrawn or case.channel not in PUSH_CHANNELS:
            return None
        talking = await self._handoffs.open_for(case.sender_id)
        if talking is not None and talking.status is HandoffStatus.ACTIVE:
            return None  # the agent holding the conversation tells them; one waiting in the queue is told
        text = resolution_notice(case)
        event = {
            "event": "bot",
            "text": text,
            "timestamp": self._cases.now().timestamp(),
            "metadata": {"careloop": "case_resolved", "case": case.number},
        }
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
