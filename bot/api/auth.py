"""API-key authentication for machine clients of the ops API."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from sanic import Request
from sanic.response import HTTPResponse, json

Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


def key_is_valid(given: str | None, keys: tuple[str, ...]) -> bool:
    """Constant-time comparison against every configured key."""
    if not given:
        return False
    ok = False
    for key in keys:
        ok |= hmac.compare_digest(given.encode(), key.encode())
    return ok


def require_api_key(handler: Handler) -> Handler:
    @wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        keys = request.app.ctx.services.settings.api_keys
        if not key_is_valid(request.headers.get("x-api-key"), keys):
            return json(
                {"error": "unauthorized", "detail": "a valid X-API-Key header is required"}, status=401
            )
        return await handler(request, *args, **kwargs)

    return wrapper
