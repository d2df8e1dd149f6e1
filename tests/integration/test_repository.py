"""Case storage on a real database: SQLite always, PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.cases.model import CaseDraft, Status
from bot.cases.rules import SlaPolicy
from bot.cases.service import CaseService
from bot.db.engine import create_engine
from bot.db.handoff_store import SqlHandoffStore
from bot.db.migrate import downgrade, upgrade
from bot.db.models import metadata
from bot.db.uow import SqlUnitOfWorkFactory
from bot.handoff.errors import AlreadyInConversation
from bot.handoff.model import Agent, Handoff, Role
from bot.handoff.rules import HandoffPolicy
from bot.handoff.service import HandoffService
from tests.conftest import Clock


def draft(sender: str = "wx-1", **kw: object) -> CaseDraft:
    base = dict(
        sender_id=sender,
        channel="wechat",
        description="空调不制冷",
        category="installation_repair",
        phone="13812345678",
    )
    base.update(kw)
    return CaseDraft(**base)  # type: ignore[arg-type]


async def test_case_numbers_stay_unique_under_concurrent_creation_from_several_processes(
    migrated: str, policy: SlaPolicy, clock: Clock
) -> None:
    engines = [create_engine(migrated) for _ in range(3)]  # three "processes", each with its own pool
    services = [CaseService(SqlUnitOfWorkFactory(e), policy, clock=clock) for e in engines]
    try:
        cases = await asyncio.gather(*[services[i % 3].open_case(draft(f"wx-{i % 7}")) for i in range(30)])
    finally:
        for e in engines:
            await e.dispose()
    numbers = sorted(c.number for c in cases)
    assert numbers == [f"C20261120-{i:04d}" for i in range(1, 31)]


async def test_a_case_reads_back_as_written_with_its_audit_trail(
    migrated: str, policy: SlaPolicy, clock: Clock
) -> None:
    engine = create_engine(migrated)
    service = CaseService(SqlUnitOfWorkFactory(engine), policy, clock=clock)
    try:
        parent = await service.open_case(draft())
        child = await service.open_case(
            draft(
                description="家里一股煤气味",
                order_id="JD2026112012345",
                satisfaction="dissatisfied",
                parent_case_number=parent.number,
            )
        )
        clock.now += timedelta(hours=2)
        await service.change_status(child.number, Status.ACKNOWLEDGED, actor="agent:li", note="已电话联系")
        stored = await service.get(child.number)
        assert stored.description == "家里一股煤气味"
        assert stored.order_id == "JD2026112012345"
        assert stored.priority.value == "P1"
        assert stored.parent_case_number == parent.number
        assert stored.first_responded_at == clock.now
        assert stored.first_response_due == child.created_at + timedelta(hours=1)
        assert [(e.kind, e.to_value, e.note) for e in stored.events] == [
            ("created", "new", None),
            ("status_changed", "acknowledged", "已电话联系"),
        ]
        assert stored.events[0].data["reasons"][-1].startswith("urgent:")
        assert [c.number for c in await service.search(status=Status.ACKNOWLEDGED)] == [child.number]
        assert {c.number for c in await service.open_cases_for("wx-1")} == {parent.number, child.number}
        assert await service.known_phone("wx-1") == "13812345678"
    finally:
        await engine.dispose()


async def test_an_event_awaiting_its_sequel_is_found_and_claimed_once(
    migrated: str, policy: SlaPolicy, clock: Clock
) -> None:
    """The worker's look for resolution notices held for the night, on a real database."""
    engine = create_engine(migrated)
    service = CaseService(SqlUnitOfWorkFactory(engine), policy, clock=clock)
    try:
        held, told, old = [await service.open_case(draft(f"wx-{i}")) for i in range(3)]
        await service.record(old.number, "customer_notice_held", "夜间不打扰")
        clock.now += timedelta(days=3)
        for case in (held, told):
            await service.record(case.number, "customer_notice_held", "夜间不打扰")
        await service.record(told.number, "customer_notified", "已处理完毕")
        settled = ("customer_notice_sending", "customer_notified")
        since = clock.now - timedelta(days=2)
        assert await service.awaiting("customer_notice_held", settled_by=settled, since=since) == [
            held.number
        ]
        claims = await asyncio.gather(
            *(
                service.claim(
                    held.number, "customer_notice_held", claim="customer_notice_sending", settled_by=()
                )
                for _ in range(3)
            )
        )
        assert [c.number for c in claims if c is not None] == [held.number]  # one of three takes it
        assert await service.awaiting("customer_notice_held", settled_by=settled, since=since) == []
    finally:
        await engine.dispose()


async def test_long_and_hostile_text_is_stored_verbatim(
    migrated: str, policy: SlaPolicy, clock: Clock
) -> None:
    engine = create_engine(migrated)
    service = CaseService(SqlUnitOfWorkFactory(engine), policy, clock=clock)
    hostile = "'); DROP TABLE cases; -- 😡" + "投诉" * 1900
    try:
        case = await service.open_case(draft(description=hostile))
        assert (await service.get(case.number)).description == hostile
    finally:
        await engine.dispose()


async def test_a_failed_unit_of_work_leaves_no_trace(migrated: str, policy: SlaPolicy, clock: Clock) -> None:
    engine = create_engine(migrated)
    uow = SqlUnitOfWorkFactory(engine)
    try:
        async with uow() as unit:
            await unit.cases.next_sequence("20261120")
            await unit.cases.ensure_customer("wx-9", "wechat", clock.now, "13812345678")
            # no commit: as if the process died here
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT count(*) FROM customers"))).scalar() == 0
            assert (await conn.execute(sa.text("SELECT count(*) FROM case_number_sequences"))).scalar() == 0
    finally:
        await engine.dispose()


async def test_migrations_match_the_models_and_go_both_ways(migrated: str) -> None:
    engine = create_engine(migrated)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
        assert diff == []
        await downgrade(migrated)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        assert not {"cases", "customers", "case_events"} & set(tables)
        await upgrade(migrated)
    finally:
        await engine.dispose()


async def test_a_customers_last_inbound_time_is_created_then_only_moves_forward(migrated: str) -> None:
    from datetime import datetime, timezone

    from bot.db.customer_store import SqlCustomerStore

    engine = create_engine(migrated)
    store = SqlCustomerStore(engine)
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    try:
        assert await store.last_inbound("wx-new") is None
        await store.record_inbound("wx-new", "wechat", t0)  # first message: the customer row is created
        assert await store.last_inbound("wx-new") == t0
        await store.record_inbound("wx-new", "wechat", t0 + timedelta(minutes=5))
        assert await store.last_inbound("wx-new") == t0 + timedelta(minutes=5)
        await store.record_inbound("wx-new", "wechat", t0 + timedelta(minutes=1))  # late: ignored
        assert await store.last_inbound("wx-new") == t0 + timedelta(minutes=5)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(sa.text("SELECT count(*) FROM customers WHERE sender_id = 'wx-new'"))
            ).scalar()
        assert rows == 1
    finally:
        await engine.dispose()


class _StaleFirstRead:
    """Another process's view of the handoffs: its first look finds nothing open, as it would if it
    read just before this process's insert committed."""

    def __init__(self, store: SqlHandoffStore) -> None:
        self._store, self._stale = store, True

    async def open_for(self, sender_id: str) -> Handoff | None:
        if self._stale:
            self._stale = False
            return None
        return await self._store.open_for(sender_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_an_agent_reaching_out_and_the_customer_asking_for_a_person_at_once_make_one_conversation(
    migrated: str, policy: SlaPolicy, clock: Clock
) -> None:
    """Two processes each saw no conversation open and each opened one: the customer's messages went
    to one agent and the console's to another."""
    console_db, bot_db = create_engine(migrated), create_engine(migrated)
    cases = CaseService(SqlUnitOfWorkFactory(console_db), policy, clock=clock)
    hours = HandoffPolicy(opens=None, closes=None)
    agent = Agent("li", "李娜", Role.AGENT)
    try:
        case = await cases.open_case(draft("wx-race"))
        console = HandoffService(SqlHandoffStore(console_db), cases, hours, clock=clock)
        bot = HandoffService(_StaleFirstRead(SqlHandoffStore(bot_db)), cases, hours, clock=clock)  # type: ignore[arg-type]
        outreach = await console.reach_out("wx-race", "wechat", agent, case_number=case.number)
        ticket = await bot.request("wx-race", "wechat", "customer_request")
        assert ticket.existing and ticket.handoff.id == outreach.id  # the customer joins the agent's

        await console.hand_back(outreach.id or 0, agent)
        late = HandoffService(_StaleFirstRead(SqlHandoffStore(console_db)), cases, hours, clock=clock)  # type: ignore[arg-type]
        queued = await bot.request("wx-race", "wechat", "customer_request")
        with pytest.raises(AlreadyInConversation) as raised:
            await late.reach_out("wx-race", "wechat", agent, case_number=case.number)
        assert raised.value.handoff_id == queued.handoff.id
        async with console_db.connect() as conn:
            query = sa.text("SELECT status FROM handoffs WHERE sender_id = 'wx-race' ORDER BY id")
            rows = (await conn.execute(query)).scalars().all()
        assert rows == ["closed", "waiting"]
    finally:
        await console_db.dispose()
        await bot_db.dispose()
