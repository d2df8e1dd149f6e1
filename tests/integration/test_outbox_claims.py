"""Claiming due outbox retries with several workers (each its own engine, as separate processes would).

Runs on SQLite and, when DATABASE_URL is set, on PostgreSQL (``migrated``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine
from bot.db.outbox_store import SqlOutboxStore
from bot.wechat.outbox import OutboxRecord, OutboxStatus

NOW = datetime(2026, 11, 20, 2, 30, tzinfo=timezone.utc)
LEASE = timedelta(minutes=5)


@pytest.fixture
async def engines(migrated: str) -> AsyncIterator[list[AsyncEngine]]:
    """Five engines on one database: [0] sets up and checks, [1:] are the workers."""
    made = [create_engine(migrated) for _ in range(5)]
    yield made
    for engine in made:
        await engine.dispose()


def record(n: int, status: OutboxStatus = OutboxStatus.RETRYING, due: datetime | None = None) -> OutboxRecord:
    return OutboxRecord(
        channel="wechat",
        recipient=f"o_claim_{n % 17}",
        kind="text",
        payload={"msgtype": "text", "text": {"content": f"第{n}条"}},
        purpose="reply",
        status=status,
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW - timedelta(hours=1),
        attempts=3,
        next_attempt_at=(NOW - timedelta(seconds=n % 50)) if due is None else due,
    )


async def add_due(store: SqlOutboxStore, count: int) -> list[int]:
    ids = []
    for n in range(count):
        added = await store.add(record(n))
        assert added.id is not None
        ids.append(added.id)
    return ids


async def claim_all(store: SqlOutboxStore, now: datetime, batch: int) -> list[int]:
    """One worker: claim batches until nothing is due."""
    mine: list[int] = []
    while True:
        claimed = await store.claim_due(now, batch, LEASE)
        if not claimed:
            return mine
        assert all(r.status is OutboxStatus.SENDING for r in claimed)
        mine.extend(r.id for r in claimed if r.id is not None)
        # A real worker sends its batch before claiming the next, leaving the lock free meanwhile. (With
        # no pause, a pooled SQLite connection could take every batch while the others' busy handlers
        # slept: exactly once still, but not side by side.)
        await asyncio.sleep(0.01)


async def test_four_workers_claim_two_hundred_rows_exactly_once(engines: list[AsyncEngine]) -> None:
    ids = await add_due(SqlOutboxStore(engines[0]), 200)
    workers = [SqlOutboxStore(e) for e in engines[1:]]
    claims = await asyncio.gather(*(claim_all(w, NOW, batch=7) for w in workers))
    every = [i for mine in claims for i in mine]
    twice = [i for i, n in Counter(every).items() if n > 1]
    assert not twice, f"claimed more than once: {twice[:10]}"
    assert sorted(every) == sorted(ids)
    assert sum(1 for mine in claims if mine) >= 2, "the workers did not actually run side by side"
    rows = await SqlOutboxStore(engines[0]).search(status=OutboxStatus.SENDING, limit=1000)
    assert len(rows) == 200
    assert {r.next_attempt_at for r in rows} == {NOW + LEASE}


async def test_only_due_retries_and_expired_leases_are_claimed(engines: list[AsyncEngine]) -> None:
    store = SqlOutboxStore(engines[0])
    due = await store.add(record(1))
    later = await store.add(record(2, due=NOW + timedelta(minutes=1)))
    for status in (OutboxStatus.SENT, OutboxStatus.DEAD, OutboxStatus.SKIPPED, OutboxStatus.PENDING):
        await store.add(record(3, status=status, due=NOW - timedelta(hours=1)))
    [claimed] = await SqlOutboxStore(engines[1]).claim_due(NOW, 50, LEASE)
    assert claimed.id == due.id
    [claimed] = await SqlOutboxStore(engines[2]).claim_due(NOW + timedelta(minutes=2), 50, LEASE)
    assert claimed.id == later.id


async def test_a_claim_holds_until_its_lease_ends_then_is_claimed_again(engines: list[AsyncEngine]) -> None:
    """A worker killed mid-batch loses nothing: its rows come back when the lease ends."""
    ids = await add_due(SqlOutboxStore(engines[0]), 30)
    doomed, survivor = SqlOutboxStore(engines[1]), SqlOutboxStore(engines[2])
    taken = [r.id for r in await doomed.claim_due(NOW, 10, LEASE)]
    assert len(taken) == 10
    await engines[1].dispose()  # the worker dies holding 10 claims and never reports on them

    handled = await survivor.claim_due(NOW, 100, LEASE)
    assert sorted(r.id for r in handled) == sorted(set(ids) - set(taken))
    for r in handled:  # the survivor sends its share
        r.status, r.sent_at, r.next_attempt_at, r.updated_at = OutboxStatus.SENT, NOW, None, NOW
        await survivor.update(r)

    assert await survivor.claim_due(NOW + LEASE - timedelta(seconds=1), 100, LEASE) == []
    back = await survivor.claim_due(NOW + LEASE, 100, LEASE)
    assert sorted(r.id for r in back) == sorted(taken)
    assert await SqlOutboxStore(engines[3]).claim_due(NOW + LEASE + timedelta(seconds=1), 100, LEASE) == []
