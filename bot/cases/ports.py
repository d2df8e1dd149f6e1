"""What the case service needs from storage; the SQL adapter and the test fake both provide it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.cases.model import Attachment, Case, CaseEvent, Status


class CaseRepository(Protocol):
    async def ensure_customer(
        self, sender_id: str, channel: str, now: datetime, phone: str | None = None
    ) -> int:
        """The customer's id, created on first contact; a newer phone replaces the old one."""

    async def customer_phone(self, sender_id: str) -> str | None: ...

    async def next_sequence(self, day: str) -> int:
        """The next case number for ``day`` (YYYYMMDD); atomic across processes."""

    async def add(self, case: Case, customer_id: int) -> Case: ...

    async def get(self, number: str, *, for_update: bool = False) -> Case | None: ...

    async def for_sender(self, sender_id: str, *, open_only: bool) -> list[Case]: ...

    async def save(self, case: Case, new_events: list[CaseEvent]) -> None:
        """Persist changed fields of an existing case and append its new audit events."""

    async def search(
        self, *, status: Status | None = None, limit: int = 50, offset: int = 0
    ) -> list[Case]: ...

    async def open_by_deadline(self, limit: int) -> list[Case]:
        """Open cases, the nearest next deadline (first response, then resolution) first."""

    async def events(self, number: str) -> list[CaseEvent]: ...

    async def events_of_kinds(self, numbers: list[str], kinds: list[str]) -> dict[str, list[CaseEvent]]:
        """Those cases' events of those kinds, oldest first, by case number (for a whole list)."""

    async def numbers_with_event(self, kind: str, since: datetime) -> list[str]:
        """Numbers of the cases with an event of ``kind`` at or after ``since``."""

    async def add_attachment(self, attachment: Attachment) -> Attachment: ...

    async def link_unfiled_attachments(self, sender_id: str, case: Case, since: datetime) -> int:
        """File the customer's recent attachments that had no open case under ``case``."""

    async def attachments(self, number: str) -> list[Attachment]: ...


class UnitOfWork(Protocol):
    @property
    def cases(self) -> CaseRepository:
        """Read-only here, so that an implementation may hold a more specific repository."""

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...
