"""The survey service: schedules callbacks, decides when and how to send them, records answers and
turns bad ones into remediation."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from bot.cases.errors import CaseError, IllegalTransition
from bot.cases.model import CATEGORIES, PUSH_CHANNELS, Case, CaseDraft, Status
from bot.cases.service import CaseService
from bot.customers import CustomerService, CustomerStanding
from bot.surveys.errors import InvalidServiceEvent, SurveyNotFound
from bot.surveys.model import SERVICE_LABELS, SERVICE_TYPES, ServiceEvent, Survey, SurveyChange, SurveyStatus
from bot.surveys.rules import (
    Delivery,
    SurveyPolicy,
    check_transition,
    choose_delivery,
    first_send_time,
    in_quiet_hours,
    is_bad,
    next_allowed,
    score_from_satisfaction,
)

logger = logging.getLogger(__name__)
LATE_ANSWERS = timedelta(days=7)
SERVICE_CATEGORY = {
    "repair": "installation_repair",
    "installation": "installation_repair",
    "maintenance": "installation_repair",
    "delivery": "delivery",
    "retail": "product_quality",
    "cleaning": "service_attitude",
    "agent": "service_attitude",
    "telecom": "other",
    "case": "other",
    "other": "other",
}


def _about(survey: Survey) -> str:
    """How a case opened by a survey ends its description: "（维修服务，服务人员：李师傅，回访#15）"."""
    who = f"，服务人员：{survey.technician}" if survey.technician else ""
    return f"（{SERVICE_LABELS.get(survey.service_type, '服务')}{who}，{_tag(survey)}"


def _tag(survey: Survey) -> str:
    """The end of ``_about``, which finds the case again after words were added to its description."""
    return f"回访#{survey.id}）"


def remediation_category(heard: str | None, service_type: str) -> str:
    """What the answer names ("送来的东西是坏的" on a delivery: product_quality), else the service's
    own. "other" is no answer: the model says it of vague words ("太差了"), and a delivery case filed
    as "other" reaches the wrong team with a lower priority."""
    if heard in CATEGORIES and heard != "other":
        return heard
    return SERVICE_CATEGORY.get(service_type, "other")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class SurveyStore(Protocol):
    async def add_service_event(self, event: ServiceEvent) -> tuple[ServiceEvent, bool]: ...
    async def survey_for_service_event(self, service_event_id: int) -> Survey | None: ...
    async def add(self, survey: Survey) -> Survey: ...  # once per service event: a repeat returns the first
    async def get(self, survey_id: int) -> Survey | None: ...
    async def save(
        self, survey: Survey, changes: list[SurveyChange], *, expect: SurveyStatus | None = None
    ) -> bool: ...
    async def latest_for(self, sender_id: str, statuses: list[SurveyStatus]) -> Survey | None: ...
    async def recent_contact(self, sender_id: str, since: datetime) -> bool: ...
    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[Survey]: ...
    async def claim_reminders(
        self, sent_before: datetime, now: datetime, limit: int, lease: timedelta
    ) -> list[Survey]: ...
    async def claim_expired(
        self, sent_before: datetime, now: datetime, limit: int, lease: timedelta
    ) -> list[Survey]: ...
    async def release(self, survey_id: int) -> None: ...
    async def search(
        self, *, status: SurveyStatus | None = None, sender_id: str | None = None, limit: int = 100
    ) -> list[Survey]: ...
    async def for_stats(self, since: datetime, until: datetime) -> list[Survey]: ...


@dataclass(frozen=True)
class Plan:
    """What to do with a due survey now."""

    action: str  # send | postpone | unreachable | cancel
    delivery: Delivery | None = None
    until: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Conversation:
    """Where the customer's conversation stands (from the Rasa tracker)."""

    busy_reason: str | None = None  # intake_in_progress | with_agent | survey_in_progress


@dataclass(frozen=True)
class AnswerOutcome:
    survey: Survey | None
    score: int | None
    bad: bool
    late: bool = False
    remediation_case: Case | None = None
    reopened_case: Case | None = None


@dataclass(frozen=True)
class EventIntake:
    event: ServiceEvent
    survey: Survey | None
    created: bool


def plan(
    survey: Survey,
    standing: CustomerStanding,
    conversation: Conversation,
    now: datetime,
    policy: SurveyPolicy,
    *,
    template_configured: bool,
    case_open_again: bool = False,
) -> Plan:
    """The send-time decision, in the order the rules rank: consent, attention, hour, window.
    ``case_open_again``: the survey's case was reopened after it was scheduled ("还是不脱水"), and
    "您的投诉…的处理已经完成，想请您打分" would be false; its next resolution schedules a new one."""
    if case_open_again:
        return Plan("cancel", reason="case_reopened")
    if standing.unsubscribed:
        return Plan("cancel", reason="unsubscribed")
    if standing.opted_out:
        return Plan("cancel", reason="opted_out")
    if conversation.busy_reason:
        return Plan("postpone", until=now + policy.busy_postpone, reason=conversation.busy_reason)
    if in_quiet_hours(now, policy):
        return Plan("postpone", until=next_allowed(now, policy), reason="quiet_hours")
    delivery, reason = choose_delivery(
        standing.last_inbound,
        now,
        template_configured=template_configured,
        can_push=survey.channel in PUSH_CHANNELS,
    )
    if delivery is Delivery.UNREACHABLE:
        return Plan("unreachable", reason=reason)
    return Plan("send", delivery=delivery, reason=reason)


class SurveyService:
    def __init__(
        self,
        store: SurveyStore,
        customers: CustomerService,
        cases: CaseService,
        policy: SurveyPolicy,
        *,
        template_configured: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._customers = customers
        self._cases = cases
        self.policy = policy
        self.template_configured = template_configured
        self._clock = clock

    # --- where surveys come from ---------------------------------------------------------------

    async def record_service_event(self, event: ServiceEvent) -> EventIntake:
        """Idempotent by external id: a repeated post changes nothing and says so."""
        now = self._clock()
        validate_service_event(event, now)
        stored, created = await self._store.add_service_event(replace(event, received_at=now))
        if not created:
            existing = await self._store.survey_for_service_event(stored.id or 0)
            if existing is not None:
                return EventIntake(stored, existing, False)
            # The first post stored the event but its survey is not there (yet, or ever: it failed).
            # Scheduling here is safe: the store keeps one survey per event, so a race yields one.
        survey = await self._schedule(
            sender_id=stored.sender_id,
            channel=stored.channel,
            subject="service",
            service_type=stored.service_type,
            technician=stored.technician,
            completed_at=stored.completed_at,
            service_event_id=stored.id,
        )
        return EventIntake(stored, survey, created)

    async def schedule_for_case(self, case: Case, *, withdrawn: bool = False) -> Survey:
        """A resolved case gets a callback about how it was handled, unless the customer had
        withdrawn the complaint: the survey is kept, cancelled, to show why nobody was asked.

        The delay counts from when the customer hears of the resolution: a case resolved at 23:00 is
        told at 09:00 (bot/notices.py), and its survey came in the same minute instead of at 11:00."""
        resolved = case.resolved_at or self._clock()
        return await self._schedule(
            refusal="withdrawn" if withdrawn else None,
            sender_id=case.sender_id,
            channel=case.channel,
            subject="case",
            service_type="case",
            technician=case.owner,
            completed_at=next_allowed(resolved, self.policy),
            case_number=case.number,
        )

    async def schedule_for_agent(self, sender_id: str, channel: str, agent: str) -> Survey:
        """A conversation a person handled gets a callback about the person's help."""
        return await self._schedule(
            sender_id=sender_id,
            channel=channel,
            subject="agent",
            service_type="agent",
            technician=agent,
            completed_at=self._clock(),
        )

    async def _schedule(
        self,
        *,
        sender_id: str,
        channel: str,
        subject: str,
        service_type: str,
        technician: str | None,
        completed_at: datetime,
        service_event_id: int | None = None,
        case_number: str | None = None,
        refusal: str | None = None,
    ) -> Survey:
        now = self._clock()
        due = max(first_send_time(completed_at, self.policy), now)
        survey = Survey(
            sender_id=sender_id,
            channel=channel,
            subject=subject,
            service_type=service_type,
            technician=technician,
            service_event_id=service_event_id,
            case_number=case_number,
            status=SurveyStatus.SCHEDULED,
            due_at=due,
            created_at=now,
            updated_at=now,
        )
        if refusal is None:
            standing = await self._customers.standing(sender_id)
            if standing.unsubscribed:
                refusal = "unsubscribed"
            elif standing.opted_out:
                refusal = "opted_out"
            elif await self._store.recent_contact(sender_id, due - self.policy.frequency):
                refusal = "frequency_cap"
        if refusal:
            survey.status, survey.reason = SurveyStatus.CANCELLED, refusal
            survey.history = [
                SurveyChange(now, None, SurveyStatus.SCHEDULED.value, "created"),
                SurveyChange(now, SurveyStatus.SCHEDULED.value, SurveyStatus.CANCELLED.value, refusal),
            ]
        else:
            survey.history = [SurveyChange(now, None, SurveyStatus.SCHEDULED.value, f"due {due.isoformat()}")]
        return await self._store.add(survey)

    # --- sending (the worker) ------------------------------------------------------------------

    async def claim_due(self, limit: int = 50, lease: timedelta = timedelta(minutes=5)) -> list[Survey]:
        return await self._store.claim_due(self._clock(), limit, lease)

    async def plan_for(self, survey: Survey, conversation: Conversation) -> Plan:
        standing = await self._customers.standing(survey.sender_id)
        return plan(
            survey,
            standing,
            conversation,
            self._clock(),
            self.policy,
            template_configured=self.template_configured,
            case_open_again=await self._case_open_again(survey),
        )

    async def _case_open_again(self, survey: Survey) -> bool:
        if survey.subject != "case" or not survey.case_number:
            return False
        return await self._cases.is_open(survey.case_number)

    async def postpone(self, survey: Survey, until: datetime, reason: str) -> None:
        # ``attempts`` counts failed tries in a row; waiting out quiet hours or a busy chat is not one.
        await self._move(survey, SurveyStatus.SCHEDULED, reason, due_at=until, attempts=0)

    async def give_up(self, survey: Survey, status: SurveyStatus, reason: str) -> None:
        await self._move(survey, status, reason)

    async def mark_sent(self, survey_id: int, via: str) -> Survey | None:
        """scheduled → sent, exactly once: the caller sends only if this returns the survey."""
        survey = await self._store.get(survey_id)
        if survey is None or survey.status is not SurveyStatus.SCHEDULED:
            return None
        now = self._clock()
        updated = replace(
            survey, status=SurveyStatus.SENT, sent_at=now, sent_via=via, updated_at=now, reason=None
        )
        change = SurveyChange(now, SurveyStatus.SCHEDULED.value, SurveyStatus.SENT.value, f"via {via}")
        return updated if await self._store.save(updated, [change], expect=SurveyStatus.SCHEDULED) else None

    async def question_lost(self, sender_id: str, reason: str) -> Survey | None:
        """The channel could not deliver the survey's first question (WeChat's 45015 when our own
        clock still saw the 48-hour window open; a dead letter): nobody was asked, so the survey is
        unreachable, not "sent", and no reminder follows. An answered survey is not "sent": it stands."""
        survey = await self._store.latest_for(sender_id, [SurveyStatus.SENT])
        if survey is None:
            return None
        await self._move(survey, SurveyStatus.UNREACHABLE, f"question not delivered: {reason}"[:128])
        return survey

    async def release(self, survey: Survey) -> None:
        await self._store.release(survey.id or 0)

    async def claim_reminders(self, limit: int = 50) -> list[Survey]:
        now = self._clock()
        return await self._store.claim_reminders(
            now - self.policy.reminder_after, now, limit, timedelta(minutes=5)
        )

    async def mark_reminded(self, survey_id: int, reason: str = "no answer after 24 h") -> Survey | None:
        survey = await self._store.get(survey_id)
        if survey is None or survey.status is not SurveyStatus.SENT:
            return None
        now = self._clock()
        updated = replace(survey, status=SurveyStatus.REMINDED, reminded_at=now, updated_at=now)
        change = SurveyChange(now, SurveyStatus.SENT.value, SurveyStatus.REMINDED.value, reason)
        return updated if await self._store.save(updated, [change], expect=SurveyStatus.SENT) else None

    async def complaint_since(self, survey: Survey) -> str | None:
        """The case a customer opened after the survey was sent, if any: they have told us how it
        went in their own way, and "please rate our service" would be a poor reply to a complaint."""
        if survey.sent_at is None:
            return None
        for case in await self._cases.cases_for(survey.sender_id):
            if case.source != "survey" and case.created_at >= survey.sent_at:
                return case.number
        return None

    async def expire_due(self, limit: int = 200) -> int:
        now = self._clock()
        expired = 0
        for survey in await self._store.claim_expired(
            now - self.policy.expire_after, now, limit, timedelta(minutes=5)
        ):
            await self._move(survey, SurveyStatus.EXPIRED, "no answer after 72 h")
            expired += 1
        return expired

    # --- answers -------------------------------------------------------------------------------

    async def awaiting_answer(self, sender_id: str) -> Survey | None:
        """The survey a rating or feedback from this customer answers: open, or expired lately."""
        survey = await self._store.latest_for(sender_id, [SurveyStatus.SENT, SurveyStatus.REMINDED])
        if survey is not None:
            return survey
        expired = await self._store.latest_for(sender_id, [SurveyStatus.EXPIRED])
        if expired is not None and expired.sent_at and self._clock() - expired.sent_at <= LATE_ANSWERS:
            return expired
        return None

    async def last_bad_answer(
        self, sender_id: str, within: timedelta = timedelta(minutes=30)
    ) -> Survey | None:
        """The customer's survey answered badly in the last ``within`` (or last added to): where more
        words about it belong. An older one is not: a complaint hours later is a new one."""
        survey = await self._store.latest_for(sender_id, [SurveyStatus.ANSWERED])
        if survey is None or not is_bad(survey.score, survey.satisfaction):
            return None
        return survey if self._clock() - survey.updated_at <= within else None

    async def answer(
        self,
        sender_id: str,
        *,
        survey_id: int | None,
        rating: int | None,
        label: str | None,
        confidence: float | None,
        comment: str | None,
        category: str | None = None,
        phone: str | None = None,
    ) -> AnswerOutcome:
        """Record an answer; a bad one reopens the resolved case or opens a remediation case."""
        survey = await self._store.get(survey_id) if survey_id else await self.awaiting_answer(sender_id)
        if survey is None or survey.sender_id != sender_id:
            raise SurveyNotFound(f"no survey awaiting an answer from {sender_id}")
        if survey.status is SurveyStatus.ANSWERED:
            return AnswerOutcome(survey, survey.score, is_bad(survey.score, survey.satisfaction))
        check_transition(survey.id, survey.status, SurveyStatus.ANSWERED)
        score = rating if rating is not None else score_from_satisfaction(label, confidence, comment or "")
        late = survey.status is SurveyStatus.EXPIRED
        now = self._clock()
        answered = replace(
            survey,
            status=SurveyStatus.ANSWERED,
            answered_at=now,
            score=score,
            satisfaction=label,
            comment=(comment or "").strip()[:4000] or None,
            updated_at=now,
        )
        bad = is_bad(score, label)
        remediation = reopened = None
        if bad:
            remediation, reopened = await self._remediate(answered, category, phone)
            answered.remediation_case_number = remediation.number if remediation else None
        change = SurveyChange(
            now,
            survey.status.value,
            SurveyStatus.ANSWERED.value,
            ("late " if late else "") + f"score {score}",
        )
        await self._store.save(answered, [change])
        return AnswerOutcome(answered, score, bad, late, remediation, reopened)

    async def answered_lately(
        self, sender_id: str, within: timedelta = timedelta(minutes=30)
    ) -> Survey | None:
        """The customer's survey answered in the last ``within``: a score or a word more just after
        belongs to it."""
        survey = await self._store.latest_for(sender_id, [SurveyStatus.ANSWERED])
        if survey is None or survey.answered_at is None or self._clock() - survey.answered_at > within:
            return None
        return survey

    async def correct_score(
        self, sender_id: str, rating: int, within: timedelta = timedelta(minutes=30)
    ) -> AnswerOutcome | None:
        """ "4分吧" just after an answer in words that the model scored 2: the customer's own number
        is the score the figures count. A case their words opened stays open (they did say what was
        wrong); a low number after a good guess opens one. None: no survey answered that lately."""
        survey = await self.answered_lately(sender_id, within)
        if survey is None:
            return None
        now = self._clock()
        was_bad = is_bad(survey.score, survey.satisfaction)
        if survey.score == rating:
            return AnswerOutcome(survey, rating, was_bad)
        updated = replace(survey, score=rating, updated_at=now)
        bad = is_bad(rating, updated.satisfaction)
        remediation = reopened = None
        if bad and not was_bad:
            remediation, reopened = await self._remediate(updated, None, None)
            updated.remediation_case_number = remediation.number if remediation else None
        answered = SurveyStatus.ANSWERED.value
        change = SurveyChange(now, answered, answered, f"score {survey.score} → {rating}, the customer's own")
        await self._store.save(updated, [change], expect=SurveyStatus.ANSWERED)
        return AnswerOutcome(updated, rating, bad, remediation_case=remediation, reopened_case=reopened)

    async def add_comment(
        self,
        sender_id: str,
        survey_id: int,
        comment: str | None,
        *,
        label: str | None = None,
        actor_note: str = "回访留言",
    ) -> AnswerOutcome:
        """The comment that follows a score recorded on its own (the score counts even if none comes).

        On a bad answer the comment also goes to the case that follows it up, as a note."""
        survey = await self._store.get(survey_id)
        if survey is None or survey.sender_id != sender_id or survey.status is not SurveyStatus.ANSWERED:
            raise SurveyNotFound(f"no answered survey {survey_id} from {sender_id}")
        bad = is_bad(survey.score, survey.satisfaction)
        words = (comment or "").strip()[:4000]
        if not words:
            return AnswerOutcome(survey, survey.score, bad)
        now = self._clock()
        updated = replace(
            survey,
            comment=f"{survey.comment}\n{words}" if survey.comment else words,
            satisfaction=label or survey.satisfaction,
            updated_at=now,
        )
        # "3" and then "快递员放门口就走了": the comment says what the middling score did not, and its
        # words open the case (its description), so they are not added to it again below.
        turned_bad = not bad and is_bad(updated.score, updated.satisfaction)
        remediation = reopened = None
        if turned_bad:
            remediation, reopened = await self._remediate(updated, None, None)
            updated.remediation_case_number = remediation.number if remediation else None
        answered = SurveyStatus.ANSWERED.value
        reason = "comment: dissatisfied" if turned_bad else "comment"
        await self._store.save(
            updated, [SurveyChange(now, answered, answered, reason)], expect=SurveyStatus.ANSWERED
        )
        if turned_bad:
            return AnswerOutcome(
                updated, updated.score, True, remediation_case=remediation, reopened_case=reopened
            )
        actor = f"survey:{survey.id}"
        try:
            if survey.remediation_case_number:  # the case this answer opened: the words belong in it
                await self._cases.add_customer_words(
                    survey.remediation_case_number, f"{actor_note}：{words}", actor=actor
                )
            elif bad and survey.subject == "case" and survey.case_number:  # the customer's own case
                await self._cases.add_note(survey.case_number, f"{actor_note}：{words}", actor=actor)
        except CaseError:
            logger.exception("could not add survey %s's comment to its case", survey.id)
        return AnswerOutcome(updated, updated.score, bad)

    async def _remediate(
        self, survey: Survey, category: str | None, phone: str | None
    ) -> tuple[Case | None, Case | None]:
        actor = f"survey:{survey.id}"
        text = survey.comment or "（未留言）"
        if survey.subject == "case" and survey.case_number:
            try:
                case = await self._cases.get(survey.case_number)
                if case.status in (Status.RESOLVED, Status.CLOSED):
                    case = await self._cases.change_status(
                        case.number,
                        Status.REOPENED,
                        actor=actor,
                        note=f"回访不满意（{survey.score}分）：{text}",
                    )
                return None, await self._cases.escalate(case, actor=actor, why="回访不满意，提高优先级")
            except (CaseError, IllegalTransition):
                logger.exception("could not reopen case %s after survey %s", survey.case_number, survey.id)
        said = f"：{survey.comment}" if survey.comment else ""  # a bare score: the comment may follow
        asked = await self._question_case(survey)
        if asked is not None:
            # "师傅几点能再来？" opened a case a minute ago; a second one for the same service would
            # have two people calling the customer about one visit.
            try:
                case = await self._cases.add_customer_words(
                    asked.number, f"回访不满意（{survey.score}分）{said}", actor=actor
                )
                return await self._cases.escalate(case, actor=actor, why="回访不满意，提高优先级"), None
            except CaseError:
                logger.exception("could not add survey %s's answer to case %s", survey.id, asked.number)
        draft = CaseDraft(
            sender_id=survey.sender_id,
            channel=survey.channel,
            source="survey",
            escalate=True,
            description=f"回访不满意（{survey.score}分）{said}{_about(survey)}",
            category=remediation_category(category, survey.service_type),
            phone=phone or await self._cases.known_phone(survey.sender_id),
            satisfaction=survey.satisfaction,
            parent_case_number=survey.case_number,
        )
        return await self._cases.open_case(draft), None

    async def _question_case(self, survey: Survey) -> Case | None:
        """The open case a question asked during this survey opened (``question_asked``), if any."""
        try:
            cases = await self._cases.open_cases_for(survey.sender_id)
        except CaseError:
            return None
        return next((c for c in cases if c.source == "survey" and _tag(survey) in c.description), None)

    async def question_asked(self, survey_id: int, text: str) -> Case | None:
        """ "师傅几点能再来一趟？" to the score question, from a customer with no open case: the bot has
        no answer, and "这个我帮不上忙" reached nobody. The question becomes a case about the surveyed
        service, for a person to answer; the survey goes on."""
        survey = await self._store.get(survey_id)
        if survey is None:
            return None
        draft = CaseDraft(
            sender_id=survey.sender_id,
            channel=survey.channel,
            source="survey",
            description=f"回访时客户提问：{text}{_about(survey)}",
            category=SERVICE_CATEGORY.get(survey.service_type, "other"),
            phone=await self._cases.known_phone(survey.sender_id),
            parent_case_number=survey.case_number,
        )
        return await self._cases.open_case(draft)

    async def decline(self, survey_id: int, words: str | None = None) -> bool:
        """ "不想评": the survey ends here, without a reminder; what the customer said is the reason."""
        survey = await self._store.get(survey_id)
        if survey is None or not survey.status.awaiting_answer:
            return False
        reason = f"declined: {words.strip()}" if words and words.strip() else "declined"
        await self._move(survey, SurveyStatus.CANCELLED, reason[:128])
        return True

    async def opt_out(self, sender_id: str, channel: str) -> int:
        """No more surveys: the customer is marked and every pending survey cancelled."""
        await self._customers.opt_out_of_surveys(sender_id, channel, self._clock())
        cancelled = 0
        for survey in await self._store.search(sender_id=sender_id, limit=1000):
            if survey.status in (SurveyStatus.SCHEDULED, SurveyStatus.SENT, SurveyStatus.REMINDED):
                await self._move(survey, SurveyStatus.CANCELLED, "opted_out")
                cancelled += 1
        return cancelled

    async def get(self, survey_id: int) -> Survey:
        survey = await self._store.get(survey_id)
        if survey is None:
            raise SurveyNotFound(str(survey_id))
        return survey

    async def search(self, **kwargs: Any) -> list[Survey]:
        return await self._store.search(**kwargs)

    # --- figures -------------------------------------------------------------------------------

    async def stats(self, group_by: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Response rate, average score and CSAT (share of 4–5) per week, service type or technician."""
        groups: dict[str, list[Survey]] = defaultdict(list)
        for survey in await self._store.for_stats(since, until):
            groups[group_key(survey, group_by, self.policy)].append(survey)
        rows = []
        for key in sorted(groups):
            surveys = groups[key]
            scores = [s.score for s in surveys if s.status is SurveyStatus.ANSWERED and s.score is not None]
            answered = sum(s.status is SurveyStatus.ANSWERED for s in surveys)
            rows.append(
                {
                    group_by: key,
                    "sent": len(surveys),
                    "answered": answered,
                    "response_rate": round(answered / len(surveys), 4) if surveys else None,
                    "average_score": round(sum(scores) / len(scores), 2) if scores else None,
                    "csat": round(sum(s >= 4 for s in scores) / len(scores), 4) if scores else None,
                    "remediation_cases": sum(1 for s in surveys if s.remediation_case_number),
                }
            )
        return rows

    # --- internals -----------------------------------------------------------------------------

    async def _move(
        self,
        survey: Survey,
        to: SurveyStatus,
        reason: str,
        *,
        due_at: datetime | None = None,
        attempts: int | None = None,
    ) -> None:
        check_transition(survey.id, survey.status, to)
        now = self._clock()
        updated = replace(
            survey,
            status=to,
            reason=reason,
            updated_at=now,
            due_at=due_at or survey.due_at,
            attempts=survey.attempts if attempts is None else attempts,
        )
        await self._store.save(
            updated, [SurveyChange(now, survey.status.value, to.value, reason)], expect=survey.status
        )


def group_key(survey: Survey, group_by: str, policy: SurveyPolicy) -> str:
    if group_by == "week":
        local = (survey.sent_at or survey.created_at).astimezone(policy.tz)
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "service_type":
        return survey.service_type
    if group_by == "technician":
        return survey.technician or "(none)"
    raise ValueError(f"cannot group by {group_by!r}")


def validate_service_event(event: ServiceEvent, now: datetime) -> None:
    if not event.external_id or len(event.external_id) > 128:
        raise InvalidServiceEvent("external_id", "required, at most 128 characters")
    if not event.sender_id or len(event.sender_id) > 128:
        raise InvalidServiceEvent("openid", "required, at most 128 characters")
    if event.service_type not in SERVICE_TYPES:
        raise InvalidServiceEvent("service_type", f"one of {list(SERVICE_TYPES)}")
    if event.completed_at.tzinfo is None:
        raise InvalidServiceEvent("completed_at", "needs a time zone (ISO 8601 with offset)")
    if event.completed_at > now + timedelta(minutes=5):
        raise InvalidServiceEvent("completed_at", "is in the future")
    if event.technician is not None and len(event.technician) > 64:
        raise InvalidServiceEvent("technician", "at most 64 characters")
    if event.order_id is not None and len(event.order_id) > 64:
        raise InvalidServiceEvent("order_id", "at most 64 characters")
    if not event.channel or len(event.channel) > 32:
        raise InvalidServiceEvent("channel", "required, at most 32 characters")
