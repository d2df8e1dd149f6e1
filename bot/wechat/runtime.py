"""Everything the WeChat connector uses at run time, built once per process on server start."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as aioredis

from bot.config import Settings
from bot.customers import CustomerService
from bot.db.outbox_store import SqlOutboxStore
from bot.redis_client import create_redis
from bot.surveys.model import SURVEY_QUESTION
from bot.wechat.front import CallbackDesk, verifier_for
from bot.wechat.gateway import OnLost, WeChatGateway
from bot.wechat.inbox import Inbox
from bot.wechat.outbound import DirectOutbound, Outbound, OutboundQueue, QueuedOutbound
from bot.wechat.outbox import OutboxRecord
from bot.wechat.session import WeChatSession
from bot.wiring import Services, build_services

logger = logging.getLogger(__name__)


def build_gateway(
    settings: Settings, services: Services, redis: aioredis.Redis
) -> tuple[WeChatSession, WeChatGateway, CustomerService]:
    """The gateway and what it leans on; shared by the connector and the worker."""
    customers = services.customers
    session = WeChatSession(settings.wechat, settings.redis_url)
    gateway = WeChatGateway(
        session,
        redis,
        SqlOutboxStore(services.engine),
        template_id=settings.wechat.template_id,
        last_inbound_from_db=customers.last_inbound,
        on_lost=survey_question_lost(services),
    )
    return session, gateway, customers


def survey_question_lost(services: Services) -> OnLost:
    """A survey question WeChat would not take makes its survey unreachable (issue: a 45015 left it
    "sent", reminded a day later and expired, and the template fallback never ran)."""

    async def on_lost(record: OutboxRecord) -> None:
        if record.purpose == SURVEY_QUESTION:
            await services.surveys.question_lost(record.recipient, record.reason or "not delivered")

    return on_lost


@dataclass
class WeChatRuntime:
    settings: Settings
    services: Services
    redis: aioredis.Redis
    session: WeChatSession
    gateway: WeChatGateway
    inbox: Inbox
    desk: CallbackDesk
    customers: CustomerService
    outbound: Outbound

    @classmethod
    def build(cls, settings: Settings) -> WeChatRuntime:
        services = build_services(settings)
        redis = create_redis(settings.redis_url)
        session, gateway, customers = build_gateway(settings, services, redis)
        inbox = Inbox(redis)
        desk = CallbackDesk(verifier_for(settings), inbox, announce=False)
        outbound: Outbound = (
            QueuedOutbound(gateway, OutboundQueue(redis))
            if settings.wechat.outbound == "queue"
            else DirectOutbound(gateway, customers)
        )
        return cls(settings, services, redis, session, gateway, inbox, desk, customers, outbound)

    async def close(self) -> None:
        await self.redis.close()
        self.session.close()
        await self.services.close()
