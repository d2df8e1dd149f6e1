"""Where actions get their services: built lazily on first use, replaceable by tests."""

from __future__ import annotations

import asyncio

from bot.wiring import Services, build_services

_services: Services | None = None
_lock = asyncio.Lock()


async def get_services() -> Services:
    global _services
    if _services is None:
        async with _lock:
            if _services is None:
                _services = build_services()
    return _services


def use_services(services: Services | None) -> None:
    """Tests hand in services built on a test database (or reset with None)."""
    global _services
    _services = services
