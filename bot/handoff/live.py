"""Live updates for the console through Redis pub/sub: a conversation's new turns, queue changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

PREFIX = "careloop:handoff"
QUEUE = f"{PREFIX}:queue"


def conversation_channel(sender_id: str) -> str:
    return f"{PREFIX}:live:{sender_id}"


class LiveBus:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def close(self) -> None:
        await self._redis.close()

    async def conversation(self, sender_id: str, event: dict[str, Any]) -> None:
        await self._redis.publish(conversation_channel(sender_id), json.dumps(event, ensure_ascii=False))

    async def queue_changed(self, event: dict[str, Any]) -> None:
        await self._redis.publish(QUEUE, json.dumps(event, ensure_ascii=False))

    async def listen(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        """Events published on ``channel`` from now on (until the caller stops iterating)."""
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(channel)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield json.loads(message["data"])
        finally:
            await pubsub.unsubscribe(channel)
            await pubsub.close()
