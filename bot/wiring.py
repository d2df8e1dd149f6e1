"""The one place that builds services from settings. Building connects to nothing."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cases.rules import SlaPolicy
from bot.cases.service import CaseService
from bot.config import Settings
from bot.customers import CustomerService
from bot.db.customer_store import SqlCustomerStore
from bot.db.engine import create_engine
from bot.db.feedback_store import SqlFeedbackStore
from bot.db.handoff_store import SqlHandoffStore
from bot.db.survey_store import SqlSurveyStore
from bot.db.uow import SqlUnitOfWorkFactory
from bot.feedback.service import FeedbackService
from bot.handoff.agents import AgentService
from bot.handoff.live import LiveBus
from bot.handoff.model import Handoff
from bot.handoff.rules import HandoffPolicy, next_opening
from bot.handoff.service import HandoffService
from bot.notices import ResolutionNotifier
from bot.rasa_api import RasaClient
from bot.redis_client import create_redis
from bot.surveys.rules import SurveyPolicy, next_allowed
from bot.surveys.service import SurveyService


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    policy: SlaPolicy
    cases: CaseService
    feedback: FeedbackService
    customers: CustomerService
    surveys: SurveyService
    handoffs: HandoffService
    agents: AgentService
    rasa: RasaClient
    bus: LiveBus
    notices: ResolutionNotifier

    async def close(self) -> None:
        await self.rasa.close()
        await self.bus.close()
        await self.engine.dispose()


def build_services(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Services:
    settings = settings or Settings.from_env()
    engine = engine or create_engine(settings.database_url)
    policy = SlaPolicy.load(settings.sla_policy_path)
    on_duty = HandoffPolicy.from_env(os.environ, settings.timezone)
    cases = CaseService(
        SqlUnitOfWorkFactory(engine),
        policy,
        timezone_name=settings.timezone,
        next_opening=functools.partial(next_opening, policy=on_duty),
    )
    customers = CustomerService(SqlCustomerStore(engine))
    survey_policy = SurveyPolicy.from_env(os.environ, settings.timezone)
    surveys = SurveyService(
        SqlSurveyStore(engine),
        customers,
        cases,
        survey_policy,
        template_configured=bool(settings.wechat.template_id),
    )
    cases.on_resolved.append(surveys.schedule_for_case)
    rasa = RasaClient(settings.rasa_url, settings.rasa_token)
    bus = LiveBus(create_redis(settings.redis_url))
    handoff_store = SqlHandoffStore(engine)
    handoffs = HandoffService(handoff_store, cases, on_duty, rasa=rasa, bus=bus)

    async def survey_the_agents_help(handoff: Handoff) -> None:
        await surveys.schedule_for_agent(handoff.sender_id, handoff.channel, handoff.agent or "agent")

    handoffs.on_handed_back.append(survey_the_agents_help)
    notices = ResolutionNotifier(
        cases,
        rasa,
        handoffs,
        customers,
        template_configured=bool(settings.wechat.template_id),
        next_allowed=functools.partial(next_allowed, policy=survey_policy),  # the surveys' quiet hours
    )
    cases.on_resolved.append(notices)
    return Services(
        settings=settings,
        engine=engine,
        policy=policy,
        cases=cases,
        feedback=FeedbackService(SqlFeedbackStore(engine)),
        customers=customers,
        surveys=surveys,
        handoffs=handoffs,
        agents=AgentService(handoff_store),
        rasa=rasa,
        bus=bus,
        notices=notices,
    )
