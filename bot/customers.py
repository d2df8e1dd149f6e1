"""What CareLoop knows about a customer as a WeChat follower: last message, subscription."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class CustomerStore(Protocol):
    async def record_inbound(self, sender_id: str, channel: str, at: datetime) -> None: ...

    async def set_subscribed(self, sender_id: str, channel: str, subscribed: bool, at: datetime) -> None: ...

    async def last_inbound(self, sender_id: str) -> datetime | None: ...

    async def is_unsubscribed(self, sender_id: str) -> bool: ...

    async def opt_out_of_surveys(self, sender_id: str, channel: str, at: datetime) -> bool: ...

    async def standing(self, sender_id: str) -> CustomerStanding: ...


@dataclass(frozen=True)
class CustomerStanding:
    """What decides whether CareLoop may contact a customer unprompted."""

    known: bool
    unsubscribed: bool
    opted_out: bool
    last_inbound: datetime | None
    channel: str | None


class CustomerService:
    def __init__(self, store: CustomerStore) -> None:
        self._store = store

    async def customer_wrote(self, sender_id: str, channel: str, at: datetime) -> None:
        """The start of WeChat's 48-hour window, kept in the database as well as in Redis."""
        await self._store.record_inbound(sender_id, channel, at)

    async def subscribed(self, sender_id: str, channel: str, at: datetime) -> None:
        await self._store.set_subscribed(sender_id, channel, True, at)

    async def unsubscribed(self, sender_id: str, channel: str, at: datetime) -> None:
        """No more surveys or notices to somebody who left the account."""
        await self._store.set_subscribed(sender_id, channel, False, at)

    async def last_inbound(self, sender_id: str) -> datetime | None:
        return await self._store.last_inbound(sender_id)

    async def is_unsubscribed(self, sender_id: str) -> bool:
        return await self._store.is_unsubscribed(sender_id)

    async def opt_out_of_surveys(self, sender_id: str, channel: str, at: datetime) -> bool:
        """ "别再发了": no more surveys. True if this changed anything."""
        return await self._store.opt_out_of_surveys(sender_id, channel, at)

    async def standing(self, sender_id: str) -> CustomerStanding:
        return await self._store.standing(sender_id)
