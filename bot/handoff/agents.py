"""Agent accounts: argon2 password hashes, sign-in checks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.handoff.model import Agent, Role

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,64}$")
_hasher = PasswordHasher()


class AgentStore(Protocol):
    async def add_agent(self, agent: Agent, password_hash: str, now: datetime) -> Agent: ...
    async def agent_with_hash(self, username: str) -> tuple[Agent, str] | None: ...
    async def set_password_hash(self, username: str, password_hash: str) -> None: ...
    async def agents(self) -> list[Agent]: ...
    async def seen(self, username: str, at: datetime) -> None: ...
    async def set_active(self, username: str, active: bool) -> None: ...


class AgentError(ValueError):
    pass


def _verify(hashed: str, password: str) -> bool:
    """argon2 is deliberately slow: callers run this in a thread, off the event loop."""
    try:
        return bool(_hasher.verify(hashed, password))
    except (VerificationError, InvalidHashError):
        return False


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AgentService:
    def __init__(self, store: AgentStore, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    async def add(self, username: str, password: str, role: Role, display_name: str | None = None) -> Agent:
        if not USERNAME.match(username):
            raise AgentError("a username is 2-64 letters, digits, '.', '_' or '-'")
        if len(password) < 8:
            raise AgentError("a password needs at least 8 characters")
        if await self._store.agent_with_hash(username) is not None:
            raise AgentError(f"agent {username!r} already exists")
        agent = Agent(username=username, display_name=display_name or username, role=role)
        return await self._store.add_agent(
            agent, await asyncio.to_thread(_hasher.hash, password), self._clock()
        )

    async def authenticate(self, username: str, password: str) -> Agent | None:
        """The agent, or None for a wrong name or password (the two look the same)."""
        found = await self._store.agent_with_hash(username)
        if found is None:
            await asyncio.to_thread(_hasher.hash, password)  # spend the same time as a real check
            return None
        agent, hashed = found
        if not await asyncio.to_thread(_verify, hashed, password) or not agent.active:
            return None
        if _hasher.check_needs_rehash(hashed):
            await self._store.set_password_hash(username, await asyncio.to_thread(_hasher.hash, password))
        return agent

    async def set_password(self, username: str, password: str) -> None:
        if len(password) < 8:
            raise AgentError("a password needs at least 8 characters")
        if await self._store.agent_with_hash(username) is None:
            raise AgentError(f"no agent {username!r}")
        await self._store.set_password_hash(username, await asyncio.to_thread(_hasher.hash, password))

    async def set_active(self, username: str, active: bool) -> None:
        """Deactivated agents cannot sign in (and the console ends their sessions)."""
        if await self._store.agent_with_hash(username) is None:
            raise AgentError(f"no agent {username!r}")
        await self._store.set_active(username, active)

    async def get(self, username: str) -> Agent | None:
        found = await self._store.agent_with_hash(username)
        return found[0] if found else None

    async def all(self) -> list[Agent]:
        return await self._store.agents()

    async def seen(self, username: str) -> None:
        await self._store.seen(username, self._clock())
