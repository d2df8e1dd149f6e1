"""The worker: jobs that run on a schedule rather than in answer to a message.

- outbox: retry WeChat messages that failed transiently, with backoff, until sent or dead;
- with ``WECHAT_OUTBOUND=queue``, send the replies the Rasa server queued (bot/wechat/outbound.py), at once;
- surveys: start due satisfaction surveys in Rasa (trigger_intent), postpone or give up as the rules say;
- survey_reminders: one reminder after 24 h without an answer, expiry after 72 h;
- handoffs: a conversation an agent left unanswered goes back to the queue, a silent customer's ends.
Several workers may run at once; every job claims its rows safely (see the stores).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from bot.cases.model import PUSH_CHANNELS
from bot.config import Settings
from bot.db.outbox_store import SqlOutboxStore
from bot.rasa_api import RasaClient
from bot.redis_client import create_redis
from bot.wechat.gateway import WeChatGateway
from bot.wiring import build_services

if TYPE_CHECKING:
    from bot.handoff.service import HandoffService
    from bot.notices import ResolutionNotifier
    from bot.surveys.model import Survey
    from bot.surveys.service import Conversation, SurveyService

logger = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Job(Protocol):
    name: str

    async def run_once(self, now: datetime) -> int:
        """Do what is due; return how many items were handled."""


class OutboxRetries:
    name = "outbox"

    def __init__(
        self,
        store: SqlOutboxStore,
        gateway: WeChatGateway,
        batch: int = 50,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._batch = batch
        self._lease = lease

    async def run_once(self, now: datetime) -> int:
        claimed = await self._store.claim_due(now, self._batch, self._lease)
        for record in claimed:
            if record.channel == "wechat":
                await self._gateway.retry(record)
        return len(claimed)


class Worker:
    def __init__(self, jobs: list[Job], interval: float = 2.0) -> None:
        self._jobs = jobs
        self._interval = interval
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run_once(self) -> dict[str, int]:
        done = {}
        for job in self._jobs:
            try:
                done[job.name] = await job.run_once(utcnow())
            except Exception:  # one failing job must not stop the others
                logger.exception("worker job %s failed", job.name)
                done[job.name] = -1
        return done

    async def run_forever(self) -> None:
        logger.info("worker running: %s", ", ".join(j.name for j in self._jobs))
        while not self._stopping.is_set():
            done = await self.run_once()
            if any(n > 0 for n in done.values()):
                logger.info("worker: %s", done)
                continue  # there may be more due right away
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
            except asyncio.TimeoutError:
                pass


async def main(settings: Settings | None = None) -> None:
    settings = settings or Settings.from_env()
    services = build_services(settings)
    redis = create_redis(settings.redis_url)
    jobs: list[Job] = []
    session = None
    replies = None
    if settings.wechat.configured:
        from bot.wechat.outbound import DirectOutbound, OutboundQueue, sender
        from bot.wechat.runtime import build_gateway

        session, gateway, customers = build_gateway(settings, services, redis)
        jobs.append(OutboxRetries(SqlOutboxStore(services.engine), gateway))
        if settings.wechat.outbound == "queue":  # the Rasa server queues its replies for us
            replies = sender(OutboundQueue(redis), DirectOutbound(gateway, customers))
            replies.start()
    rasa = services.rasa
    jobs += [
        HeldNotices(services.notices),
        SurveyDispatch(services.surveys, rasa),
        SurveyReminders(services.surveys, rasa),
        HandoffTimeouts(services.handoffs),
    ]
    worker = Worker(jobs)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, worker.stop)
    try:
        await worker.run_forever()
    finally:
        if replies is not None:
            await replies.stop()
        await redis.close()
        if session is not None:
            session.close()
        await services.close()


async def conversation_of(rasa: RasaClient, sender_id: str) -> Conversation:
    """Is the customer in the middle of something the survey must not interrupt?"""
    from bot.surveys.service import Conversation

    tracker = await rasa.tracker(sender_id)
    loop = (tracker.get("active_loop") or {}).get("name")
    if tracker.get("paused"):
        return Conversation("with_agent")
    if loop == "complaint_form":
        return Conversation("intake_in_progress")
    if loop == "survey_form":
        return Conversation("survey_in_progress")
    return Conversation(None)


class SurveyDispatch:
    """Due surveys: decide (consent, attention, quiet hours, window) and start them in Rasa."""

    name = "surveys"

    def __init__(
        self,
        surveys: SurveyService,
        rasa: RasaClient,
        batch: int = 50,
        max_attempts: int = 5,
        concurrency: int = 8,
    ) -> None:
        self._surveys = surveys
        self._rasa = rasa
        self._batch = batch
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)

    async def run_once(self, now: datetime) -> int:
        claimed = await self._surveys.claim_due(self._batch)
        # Each survey is a different customer: they may start side by side. A failure leaves its
        # survey leased; the lease runs out and the survey is tried again.
        results = await asyncio.gather(
            *(self._dispatch(survey) for survey in claimed), return_exceptions=True
        )
        for survey, result in zip(claimed, results, strict=True):
            if isinstance(result, BaseException):
                logger.error("survey %s could not be dispatched: %r", survey.id, result)
        return len(claimed)

    async def _dispatch(self, survey: Survey) -> None:
        from bot.rasa_api import RasaError
        from bot.surveys.model import SurveyStatus

        async with self._slots:
            try:
                conversation = await conversation_of(self._rasa, survey.sender_id)
                plan = await self._surveys.plan_for(survey, conversation)
                if plan.action == "cancel":
                    await self._surveys.give_up(survey, SurveyStatus.CANCELLED, plan.reason or "cancelled")
                elif plan.action == "postpone":
                    assert plan.until is not None
                    await self._surveys.postpone(survey, plan.until, plan.reason or "postponed")
                elif plan.action == "unreachable":
                    await self._surveys.give_up(
                        survey, SurveyStatus.UNREACHABLE, plan.reason or "unreachable"
                    )
                else:
                    assert plan.delivery is not None
                    await self._rasa.trigger_intent(
                        survey.sender_id,
                        "EXTERNAL_survey_start",
                        {"survey_id": str(survey.id), "survey_delivery": plan.delivery.value},
                        output_channel=survey.channel,
                    )
            except RasaError as exc:
                logger.warning(
                    "survey %s: Rasa unavailable (%s); attempt %s", survey.id, exc, survey.attempts
                )
                if survey.attempts >= self._max_attempts:
                    await self._surveys.give_up(survey, SurveyStatus.FAILED, f"rasa: {str(exc)[:100]}")
                else:
                    await self._surveys.release(survey)


class HeldNotices:
    """Resolution notices held for the night go out when the quiet hours end. It runs before the
    surveys, which wait for the same moment: "已处理完毕" comes before "请为这次处理打个分"."""

    name = "notices"

    def __init__(self, notices: ResolutionNotifier) -> None:
        self._notices = notices

    async def run_once(self, now: datetime) -> int:
        return await self._notices.send_held()  # an index lookup by kind and time, nothing at night


class HandoffTimeouts:
    """Agents gone quiet: back to the queue. Customers gone quiet: back to the bot."""

    name = "handoffs"

    def __init__(self, handoffs: HandoffService) -> None:
        self._handoffs = handoffs

    async def run_once(self, now: datetime) -> int:
        requeued, ended = await self._handoffs.enforce_timeouts()
        return requeued + ended


class SurveyReminders:
    """One reminder after 24 h without an answer; expiry after 72 h."""

    name = "survey_reminders"

    def __init__(self, surveys: SurveyService, rasa: RasaClient, batch: int = 50) -> None:
        self._surveys = surveys
        self._rasa = rasa
        self._batch = batch

    async def run_once(self, now: datetime) -> int:
        from bot.rasa_api import RasaError
        from bot.surveys.rules import Delivery, choose_delivery

        handled = await self._surveys.expire_due()
        for survey in await self._surveys.claim_reminders(self._batch):
            handled += 1
            try:
                conversation = await conversation_of(self._rasa, survey.sender_id)
                if conversation.busy_reason in ("intake_in_progress", "with_agent"):
                    await self._surveys.release(survey)  # try again on a later round
                    continue
                complaint = await self._surveys.complaint_since(survey)
                if complaint:
                    await self._surveys.mark_reminded(
                        survey.id or 0, f"no reminder: the customer complained since ({complaint})"
                    )
                    continue
                standing = await self._surveys._customers.standing(survey.sender_id)
                if standing.last_inbound and survey.sent_at and standing.last_inbound > survey.sent_at:
                    # They saw the question and wrote back ("师傅几点能再来一趟？"), maybe more than once:
                    # "打扰一下～之前邀请您评价…" a day later would be the same question a third time.
                    await self._surveys.mark_reminded(
                        survey.id or 0, "no reminder: the customer has written since the question"
                    )
                    continue
                delivery, _ = choose_delivery(
                    standing.last_inbound,
                    now,
                    template_configured=self._surveys.template_configured,
                    can_push=survey.channel in PUSH_CHANNELS,
                )
                if delivery is Delivery.UNREACHABLE or standing.opted_out or standing.unsubscribed:
                    await self._surveys.mark_reminded(survey.id or 0)  # nothing may be sent; no second try
                    continue
                await self._rasa.trigger_intent(
                    survey.sender_id,
                    "EXTERNAL_survey_reminder",
                    {"survey_id": str(survey.id), "survey_delivery": delivery.value},
                    output_channel=survey.channel,
                )
            except RasaError as exc:
                logger.warning("survey %s reminder: Rasa unavailable (%s)", survey.id, exc)
                await self._surveys.release(survey)
        return handled
