"""Async Redis clients from a URL; creating one does not connect."""

from __future__ import annotations

import redis.asyncio as aioredis


def create_redis(url: str) -> aioredis.Redis:
    return aioredis.from_url(url, decode_responses=True, health_check_interval=30)
