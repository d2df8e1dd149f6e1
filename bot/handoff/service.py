"""The handoff service: queue a conversation for a person, let exactly one agent take it, carry the
agent's words to the customer through Rasa, hand back to the bot, time out the silent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol

from bot.cases.errors import CaseError, CaseNotFound
from bot.cases.model import CaseDraft, Priority
from bot.cases.service import CaseService
from bot.handoff.errors import (
    AlreadyInConversation,
    AlreadyTaken,
    HandoffNotFound,
    InvalidTransfer,
    NotYourConversation,
)
from bot.handoff.live import LiveBus
from bot.handoff.model import Agent, Handoff, HandoffStatus
from bot.handoff.rules import (
    INDEFINITELY,
    PRIORITY_RANK,
    HandoffPolicy,
    agent_gone_quiet,
    contact_before_opening,
    customer_gone_quiet,
    next_opening,
    place_in_queue,
    queue_order,
    says_more,
    wait_estimate,
    waiting_notice_due,
    within_hours,
)
from bot.timefmt import format_local

logger = logging.getLogger(__name__)
PRIORITY_BY_REASON = {
    "p1_case": "P1",
    "angry": "P2",
    "survey_bad": "P2",
    "misunderstood": "P3",
    "customer_request": "P3",
}
SAY = {
    "cancelled": "好的，已为您取消转人工，我继续为您服务😊 还有什么可以帮您？",
    "cancelled_case": "好的，已为您取消转人工。已登记的诉求（编号 {case}）客服仍会跟进。我继续为您服务😊 "
    "还有什么可以帮您？",
    "requeued": "抱歉，刚才的客服同事暂时离开了，已为您重新排队，马上有同事接待您。",
    "closed_idle": "您好，由于您长时间没有回复，本次人工服务已结束。有需要随时找我，或再次回复“转人工”。",
    "accepted": "您好，我是客服{name}，很高兴为您服务，请问有什么可以帮您？",
    # The customer has already said what is wrong, and waited: not "请问有什么可以帮您？" again.
    "accepted_case": "您好，我是客服{name}，您的诉求（编号 {case}）我已经看到了，接下来由我为您处理。",
    "transferred": "已为您转接客服{name}，请稍候。",
    "waiting_queued": "您的留言客服会看到🙋 您前面还有 {ahead} 位，预计等待约 {minutes} 分钟。"
    "回复“算了”可返回机器人服务。",
    "waiting_next": "您的留言客服会看到🙋 马上为您接通，请稍候。回复“算了”可返回机器人服务。",
    "waiting_after_hours": "您的留言已记录{case}，客服将于 {opens} 上线后第一时间处理。"
    "回复“算了”可返回机器人服务。",
    "waiting_urgent": "您的留言已记录{case}，我们会在 {due} 前与您联系。回复“算了”可返回机器人服务。",
    "waiting_unstaffed": "您的留言已记录{case}，客服同事上线后会第一时间处理。回复“算了”可返回机器人服务。",
    "waiting_safety": "⚠️ 安全第一：如有燃气泄漏请立即关闭总阀、开窗通风、不要开关电器；如有漏电请先断开总闸，"
    "不要触碰；有人受伤或起火请马上拨打120/119。已为您按最高优先级加急{case}。",
}
SAY["waiting_unstaffed_promise"] = SAY["waiting_urgent"]
#: An agent counts as at the console if a console page or its live stream touched them this recently.
ONLINE_WINDOW = timedelta(minutes=5)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class HandoffStore(Protocol):
    async def add(self, handoff: Handoff, event: tuple[str, str, str | None]) -> Handoff:
        """Raises ``AlreadyInConversation`` if the handoff is open and the customer has one open."""

    async def get(self, handoff_id: int) -> Handoff | None: ...
    async def open_for(self, sender_id: str) -> Handoff | None: ...
    async def transition(
        self,
        handoff_id: int,
        expect: list[HandoffStatus],
        values: dict,
        event: tuple[str, str, str | None],
        *,
        expect_agent: str | None = None,
    ) -> bool: ...
    async def touch(self, handoff_id: int, **values: datetime | str) -> None: ...
    async def claim_notice(self, handoff_id: int, now: datetime, quiet_since: datetime) -> bool: ...
    async def in_status(self, statuses: list[HandoffStatus], agent: str | None = None) -> list[Handoff]: ...
    async def events(self, handoff_id: int) -> list[tuple[datetime, str, str, str | None]]: ...
    async def online(self, since: datetime) -> int: ...


class Conversations(Protocol):
    """What the service needs from Rasa (bot.rasa_api.RasaClient provides it)."""

    async def append_events(
        self,
        conversation_id: str,
        events: list[dict[str, Any]],
        *,
        output_channel: str | None = None,
        execute_side_effects: bool = False,
    ) -> Any: ...

    async def trigger_intent(
        self, conversation_id: str, intent: str, entities: dict[str, Any], output_channel: str
    ) -> Any: ...


@dataclass(frozen=True)
class Ticket:
    """What the customer is told when asking for a person."""

    handoff: Handoff
    place: int
    wait_minutes: int
    open_now: bool
    opens_at: datetime | None = None
    case_number: str | None = None
    existing: bool = False
    #: After hours, the case's first-response deadline when it comes before ``opens_at``; with
    #: nobody at the console, that deadline if it is still ahead.
    contact_by: datetime | None = None
    #: Someone is at the console (in business hours nobody may be: then nobody is "about to answer").
    staffed: bool = True

    @property
    def situation(self) -> str:
        """Which of the things the customer is told (the action's first answer and the later
        notices word each its own way): ``urgent`` (after hours, but the case promises contact
        sooner), ``after_hours``, ``unstaffed`` (in hours, nobody at the console; ``_promise`` with a
        deadline), ``next`` or ``queued``."""
        if not self.open_now and self.opens_at is not None:
            return "urgent" if self.contact_by is not None else "after_hours"
        if not self.staffed:
            return "unstaffed_promise" if self.contact_by is not None else "unstaffed"
        return "next" if self.place <= 1 else "queued"

    def wording(self, tz: tzinfo) -> dict[str, Any]:
        """The values those messages fill in, times in the customer's local time."""
        return {
            "case": f"（编号 {self.case_number}）" if self.case_number else "",
            "opens": format_local(self.opens_at, tz) if self.opens_at else "",
            "due": format_local(self.contact_by, tz) if self.contact_by else "",
            "ahead": self.place - 1,
            "minutes": self.wait_minutes,
        }


class HandoffService:
    def __init__(
        self,
        store: HandoffStore,
        cases: CaseService,
        policy: HandoffPolicy,
        *,
        rasa: Conversations | None = None,
        bus: LiveBus | None = None,
        on_handed_back: list[Callable[[Handoff], Any]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._cases = cases
        self.policy = policy
        self._rasa = rasa
        self._bus = bus
        self._clock = clock
        #: Called after a hand-back (the survey service schedules a callback about the agent's help).
        self.on_handed_back = on_handed_back if on_handed_back is not None else []

    # --- the customer's side --------------------------------------------------------------------

    def in_hours_now(self) -> bool:
        return within_hours(self._clock(), self.policy)

    async def request(
        self,
        sender_id: str,
        channel: str,
        reason: str,
        *,
        case_number: str | None = None,
        priority: str | None = None,
        summary: str | None = None,
    ) -> Ticket:
        """Queue the conversation (or return the one already queued). Outside business hours a case
        makes sure nothing is forgotten, and so does one in hours when nobody is at the console."""
        now = self._clock()
        existing = await self._store.open_for(sender_id)
        if existing is not None:
            return await self._ticket(existing, now, existing=True)
        open_now = within_hours(now, self.policy)
        agents = await self._store.online(now - ONLINE_WINDOW)
        staffed = open_now and agents > 0
        if not staffed and case_number is None:
            # The reason stays on the handoff: its label ("P1 特急投诉") would move the case's priority.
            why = "无客服在线时转人工" if open_now else "非工作时间转人工"
            case_number = await self._case_for_later(sender_id, channel, why, summary)
        handoff = Handoff(
            sender_id=sender_id,
            channel=channel,
            reason=reason,
            priority=priority or PRIORITY_BY_REASON.get(reason, "P3"),
            status=HandoffStatus.WAITING,
            queued_at=now,
            updated_at=now,
            last_customer_at=now,
            case_number=case_number,
        )
        try:
            handoff = await self._store.add(handoff, ("queued", f"customer:{sender_id}", reason))
        except AlreadyInConversation as exc:  # an agent reached out in the same moment
            raced = await self._store.get(exc.handoff_id)
            if raced is None:
                raise
            return await self._ticket(raced, now, existing=True)
        await self._publish_queue("queued", handoff)
        return await self._ticket(handoff, now, agents=agents)

    async def _ticket(
        self, handoff: Handoff, now: datetime, existing: bool = False, agents: int | None = None
    ) -> Ticket:
        """``agents``: how many are at the console, when the caller has just counted them."""
        waiting = await self._store.in_status([HandoffStatus.WAITING])
        place = place_in_queue(handoff, waiting)
        if agents is None:
            agents = await self._store.online(now - ONLINE_WINDOW)
        open_now = within_hours(now, self.policy)
        opens_at = None if open_now else next_opening(now, self.policy)
        staffed = open_now and agents > 0
        contact_by = None
        if not staffed and handoff.case_number:
            try:
                case = await self._cases.get(handoff.case_number)
                contact_by = contact_before_opening(
                    case.first_response_due, case.first_responded_at, opens_at or INDEFINITELY, now
                )
            except CaseNotFound:
                pass
        return Ticket(
            handoff,
            place,
            wait_estimate(place, agents, self.policy),
            open_now,
            opens_at,
            handoff.case_number,
            existing,
            contact_by,
            staffed,
        )

    async def _case_for_later(
        self, sender_id: str, channel: str, why: str, summary: str | None
    ) -> str | None:
        open_cases = await self._cases.open_cases_for(sender_id)
        if open_cases:
            return open_cases[0].number
        try:
            case = await self._cases.open_case(
                CaseDraft(
                    sender_id=sender_id,
                    channel=channel,
                    source="handoff",
                    category="other",
                    phone=await self._cases.known_phone(sender_id),
                    description=why + (f"：{summary}" if says_more(summary) else ""),
                )
            )
            return case.number
        except CaseError:
            logger.exception("could not open a case to keep %s's request for a person", sender_id)
            return None

    async def open_for(self, sender_id: str) -> Handoff | None:
        return await self._store.open_for(sender_id)

    async def _follow_case_priority(self, handoff: Handoff, priority: Priority) -> bool:
        """The queue follows the case: words that made it more urgent ("家里一股煤气味") move the
        customer up. True when the case has just become a safety case (P1)."""
        if PRIORITY_RANK[priority.value] >= PRIORITY_RANK.get(handoff.priority, 9):
            return False
        await self._store.touch(handoff.id or 0, priority=priority.value)
        handoff.priority = priority.value
        return priority is Priority.P1

    async def customer_wrote(self, handoff: Handoff, text: str) -> None:
        """A message while a person holds (or is about to hold) the conversation: to the console,
        live; a customer still in the queue also hears that it arrived (``waiting_notice_due``)."""
        now = self._clock()
        await self._store.touch(handoff.id or 0, last_customer_at=now, updated_at=now)
        urgent_now = False
        if handoff.status is HandoffStatus.WAITING and handoff.case_number and not text.startswith("["):
            # "您的留言已记录（编号 …）": whoever works the case, maybe tomorrow, reads it there.
            # Photos and places join the case on their own; "[菜单] 人工" says nothing.
            try:
                case = await self._cases.add_customer_words(
                    handoff.case_number, f"等待人工时留言：{text}", actor=f"customer:{handoff.sender_id}"
                )
            except CaseError:
                logger.exception("could not add a waiting customer's words to %s", handoff.case_number)
            else:
                urgent_now = await self._follow_case_priority(handoff, case.priority)
        if self._bus:
            await self._bus.conversation(
                handoff.sender_id,
                {"type": "customer", "text": text, "at": now.isoformat(), "handoff": handoff.id},
            )
        if urgent_now:  # safety first, before where they stand
            await self._say_softly(
                handoff, SAY["waiting_safety"].format(case=f"（编号 {handoff.case_number}）")
            )
        if waiting_notice_due(handoff, now, self.policy) and await self._store.claim_notice(
            handoff.id or 0, now, now - self.policy.waiting_notice
        ):
            ticket = await self._ticket(handoff, now)
            notice = SAY[f"waiting_{ticket.situation}"].format(**ticket.wording(self.policy.tz))
            await self._say_softly(handoff, notice)

    async def cancel(self, sender_id: str) -> bool:
        """ "算了": back to the bot before anyone took the conversation."""
        handoff = await self._store.open_for(sender_id)
        if handoff is None or handoff.status is not HandoffStatus.WAITING:
            return False
        now = self._clock()
        done = await self._store.transition(
            handoff.id or 0,
            [HandoffStatus.WAITING],
            {
                "status": HandoffStatus.CANCELLED.value,
                "closed_at": now,
                "outcome": "customer_cancelled",
                "updated_at": now,
            },
            ("cancelled", f"customer:{sender_id}", None),
        )
        if done:
            # "客服仍会跟进" about a case resolved meanwhile (the customer had just been told so) is wrong
            pending = handoff.case_number and await self._cases.is_open(handoff.case_number)
            said = SAY["cancelled_case"].format(case=handoff.case_number) if pending else SAY["cancelled"]
            await self._resume(handoff, said)
            await self._publish_queue("cancelled", handoff)
        return done

    # --- the agent's side ------------------------------------------------------------------------

    async def queue(self) -> list[tuple[Handoff, int]]:
        waiting = queue_order(await self._store.in_status([HandoffStatus.WAITING]))
        return [(h, i + 1) for i, h in enumerate(waiting)]

    async def open_conversations(self) -> list[Handoff]:
        """Everyone waiting for or talking with a person."""
        return await self._store.in_status([HandoffStatus.WAITING, HandoffStatus.ACTIVE])

    async def active(self, agent: Agent | None = None) -> list[Handoff]:
        """An agent's own live conversations; everyone's for a supervisor (or when agent is None)."""
        only = None if agent is None or agent.supervisor else agent.username
        return await self._store.in_status([HandoffStatus.ACTIVE], agent=only)

    async def get(self, handoff_id: int) -> Handoff:
        handoff = await self._store.get(handoff_id)
        if handoff is None:
            raise HandoffNotFound(str(handoff_id))
        return handoff

    async def accept(self, handoff_id: int, agent: Agent) -> Handoff:
        """Exactly one agent gets a waiting conversation, however many press accept at once."""
        now = self._clock()
        won = await self._store.transition(
            handoff_id,
            [HandoffStatus.WAITING],
            {
                "status": HandoffStatus.ACTIVE.value,
                "agent": agent.username,
                "accepted_at": now,
                "last_agent_at": None,
                "updated_at": now,
            },
            ("accepted", f"agent:{agent.username}", None),
        )
        if not won:
            if await self._store.get(handoff_id) is None:
                raise HandoffNotFound(str(handoff_id))
            raise AlreadyTaken(str(handoff_id))
        handoff = await self.get(handoff_id)
        await self._publish_queue("accepted", handoff)
        greeting = SAY["accepted_case" if handoff.case_number else "accepted"]
        await self._say_softly(
            handoff, greeting.format(name=agent.display_name, case=handoff.case_number), agent=agent.username
        )
        return handoff

    async def reach_out(
        self, sender_id: str, channel: str, agent: Agent, *, case_number: str, priority: str = "P3"
    ) -> Handoff:
        """An agent starts a conversation about a case the customer never asked a person about (a
        complaint filed by the bot at night): held by that agent from the start, the bot paused. The
        agent's first words follow through ``reply``; WeChat's window is the caller's to check."""
        existing = await self._store.open_for(sender_id)
        if existing is not None:
            raise AlreadyInConversation(existing.id or 0)
        now = self._clock()
        actor = f"agent:{agent.username}"
        handoff = await self._store.add(
            Handoff(
                sender_id,
                channel,
                "agent_outreach",
                priority,
                HandoffStatus.WAITING,
                now,
                now,
                case_number=case_number,
            ),
            ("reached_out", actor, case_number),
        )
        won = await self._store.transition(
            handoff.id or 0,
            [HandoffStatus.WAITING],
            {
                "status": HandoffStatus.ACTIVE.value,
                "agent": agent.username,
                "accepted_at": now,
                "updated_at": now,
            },
            ("accepted", actor, None),
        )
        if not won:  # another agent took it from the queue in between
            raise AlreadyTaken(str(handoff.id))
        if self._rasa is not None:
            try:
                await self._rasa.append_events(sender_id, [{"event": "pause"}])
            except Exception:
                await self._store.transition(
                    handoff.id or 0,
                    [HandoffStatus.ACTIVE],
                    {
                        "status": HandoffStatus.CLOSED.value,
                        "closed_at": now,
                        "outcome": "outreach_failed",
                        "updated_at": now,
                    },
                    ("closed", "system", "the bot could not be paused"),
                )
                raise
        handoff = await self.get(handoff.id or 0)
        await self._publish_queue("accepted", handoff)
        return handoff

    def _check_holder(self, handoff: Handoff, agent: Agent) -> None:
        if handoff.status is not HandoffStatus.ACTIVE or (
            handoff.agent != agent.username and not agent.supervisor
        ):
            raise NotYourConversation(str(handoff.id))

    async def reply(self, handoff_id: int, agent: Agent, text: str) -> list[str]:
        """The agent's words go to the customer's WeChat conversation and into the transcript.
        Returns the case numbers the agent's first answer acknowledged."""
        handoff = await self.get(handoff_id)
        self._check_holder(handoff, agent)
        text = text.strip()
        if not text:
            return []
        await self._say(handoff, text, agent=agent.username)
        now = self._clock()
        await self._store.touch(handoff_id, last_agent_at=now, updated_at=now)
        if handoff.last_agent_at is not None:
            return []
        try:  # the agent's first word in this conversation
            acknowledged = await self._cases.acknowledge_by_contact(
                handoff.sender_id, actor=f"agent:{agent.username}", how="客服已在人工对话中回复客户"
            )
        except Exception:  # the reply went out; the case panel still lets the agent do it by hand
            logger.exception("could not acknowledge %s's cases after the agent's reply", handoff.sender_id)
            return []
        return [case.number for case in acknowledged]

    async def hand_back(self, handoff_id: int, agent: Agent, note: str | None = None) -> Handoff:
        """Back to the bot, which greets the customer again; a survey about the agent's help follows."""
        handoff = await self.get(handoff_id)
        self._check_holder(handoff, agent)
        now = self._clock()
        if not await self._store.transition(
            handoff_id,
            [HandoffStatus.ACTIVE],
            {
                "status": HandoffStatus.CLOSED.value,
                "closed_at": now,
                "outcome": "handed_back",
                "note": note,
                "updated_at": now,
            },
            ("handed_back", f"agent:{agent.username}", note),
        ):
            raise NotYourConversation(str(handoff_id))
        closed = replace(handoff, status=HandoffStatus.CLOSED, closed_at=now, outcome="handed_back")
        await self._resume(closed, None)
        if self._rasa is not None:
            await self._rasa.trigger_intent(
                handoff.sender_id, "EXTERNAL_handback", {}, output_channel=handoff.channel
            )
        for listener in self.on_handed_back:
            try:
                await listener(closed)
            except Exception:
                logger.exception("a hand-back listener failed for handoff %s", handoff_id)
        await self._publish_queue("handed_back", closed)
        return closed

    async def transfer(self, handoff_id: int, agent: Agent, to: Agent) -> Handoff:
        """To another agent (the holder, or a supervisor reassigning)."""
        handoff = await self.get(handoff_id)
        self._check_holder(handoff, agent)
        if not to.active or to.username == handoff.agent:
            raise InvalidTransfer(f"cannot transfer handoff {handoff_id} to {to.username}")
        now = self._clock()
        if not await self._store.transition(
            handoff_id,
            [HandoffStatus.ACTIVE],
            {"agent": to.username, "accepted_at": now, "last_agent_at": None, "updated_at": now},
            ("transferred", f"agent:{agent.username}", f"to {to.username}"),
        ):
            raise NotYourConversation(str(handoff_id))
        moved = await self.get(handoff_id)
        await self._publish_queue("transferred", moved)
        await self._say_softly(moved, SAY["transferred"].format(name=to.display_name), agent=agent.username)
        return moved

    async def history(self, handoff_id: int) -> list[tuple[datetime, str, str, str | None]]:
        return await self._store.events(handoff_id)

    # --- timeouts (the worker) -------------------------------------------------------------------

    async def enforce_timeouts(self) -> tuple[int, int]:
        """(conversations requeued from a silent agent, conversations ended for a silent customer)."""
        now = self._clock()
        requeued = ended = 0
        for handoff in await self._store.in_status([HandoffStatus.WAITING, HandoffStatus.ACTIVE]):
            if customer_gone_quiet(handoff, now, self.policy):
                if await self._store.transition(
                    handoff.id or 0,
                    [handoff.status],
                    {
                        "status": HandoffStatus.CLOSED.value,
                        "closed_at": now,
                        "outcome": "customer_idle",
                        "updated_at": now,
                    },
                    ("closed", "system", "customer silent"),
                ):
                    await self._resume(handoff, SAY["closed_idle"])
                    await self._publish_queue("closed", handoff)
                    ended += 1
            elif agent_gone_quiet(handoff, now, self.policy):
                if await self._store.transition(
                    handoff.id or 0,
                    [HandoffStatus.ACTIVE],
                    {
                        "status": HandoffStatus.WAITING.value,
                        "agent": None,
                        "accepted_at": None,
                        "reason": "agent_timeout",
                        "updated_at": now,
                    },
                    ("requeued", "system", f"{handoff.agent} silent"),
                    expect_agent=handoff.agent,
                ):
                    await self._say(handoff, SAY["requeued"])
                    await self._publish_queue("requeued", handoff)
                    requeued += 1
        return requeued, ended

    # --- talking through Rasa --------------------------------------------------------------------

    async def _say(self, handoff: Handoff, text: str, agent: str | None = None) -> None:
        """A bot turn sent through the customer's channel and written to the transcript."""
        now = self._clock()
        if self._rasa is not None:
            event = {
                "event": "bot",
                "text": text,
                "timestamp": now.timestamp(),
                "metadata": {"agent": agent} if agent else {"careloop": "handoff"},
            }
            await self._rasa.append_events(
                handoff.sender_id, [event], output_channel=handoff.channel, execute_side_effects=True
            )
        if self._bus:
            await self._bus.conversation(
                handoff.sender_id,
                {"type": "agent" if agent else "bot", "agent": agent, "text": text, "at": now.isoformat()},
            )

    async def _say_softly(self, handoff: Handoff, text: str, agent: str | None = None) -> None:
        """A courtesy message whose failure must not undo what was already decided."""
        try:
            await self._say(handoff, text, agent=agent)
        except Exception:
            logger.exception("handoff %s: could not tell the customer %r", handoff.id, text)

    async def _resume(self, handoff: Handoff, text: str | None) -> None:
        """Rasa needs `resume` and then `action_listen` to answer again."""
        if self._rasa is not None:
            await self._rasa.append_events(
                handoff.sender_id, [{"event": "resume"}, {"event": "action", "name": "action_listen"}]
            )
        if text:
            await self._say(handoff, text)
        if self._bus:
            await self._bus.conversation(
                handoff.sender_id, {"type": "status", "status": "bot", "at": self._clock().isoformat()}
            )

    async def _publish_queue(self, what: str, handoff: Handoff) -> None:
        if self._bus:
            await self._bus.queue_changed({"event": what, "handoff": handoff.id, "sender": handoff.sender_id})
