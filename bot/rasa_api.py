"""Client for the Rasa server's HTTP API (one module, typed errors), used by the worker and the
agent console: trigger an intent, read a tracker, append events, pause and resume."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)


class RasaError(Exception):
    """The Rasa server refused or failed a call."""


class RasaUnavailable(RasaError):
    """Network trouble or a 5xx: try again later."""


class RasaRejected(RasaError):
    """A 4xx: the request itself is wrong (unknown intent, bad token)."""


class RasaClient:
    def __init__(self, base_url: str, token: str = "", timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> Any:
        query = dict(params or {})
        if self._token:
            query["token"] = self._token
        try:
            async with self._http().request(method, f"{self._base}{path}", params=query, json=json) as resp:
                body = await resp.json(content_type=None) if resp.content_length != 0 else None
                if resp.status >= 500:
                    raise RasaUnavailable(f"{method} {path}: HTTP {resp.status}: {body}")
                if resp.status >= 400:
                    raise RasaRejected(f"{method} {path}: HTTP {resp.status}: {body}")
                return body
        except aiohttp.ClientError as exc:
            raise RasaUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        except TimeoutError as exc:
            raise RasaUnavailable(f"{method} {path}: timed out") from exc

    @staticmethod
    def _conversation(conversation_id: str) -> str:
        return f"/conversations/{quote(conversation_id, safe='')}"

    async def trigger_intent(
        self, conversation_id: str, intent: str, entities: dict[str, Any], output_channel: str
    ) -> Any:
        """Start something the bot says unprompted (a survey, a reminder), on a named channel."""
        return await self._call(
            "POST",
            f"{self._conversation(conversation_id)}/trigger_intent",
            params={"output_channel": output_channel, "include_events": "NONE"},
            json={"name": intent, "entities": entities},
        )

    async def tracker(self, conversation_id: str, include_events: str = "NONE") -> dict[str, Any]:
        return await self._call(
            "GET", f"{self._conversation(conversation_id)}/tracker", params={"include_events": include_events}
        )

    async def append_events(
        self,
        conversation_id: str,
        events: list[dict[str, Any]],
        *,
        output_channel: str | None = None,
        execute_side_effects: bool = False,
    ) -> Any:
        params = {"include_events": "NONE"}
        if output_channel:
            params["output_channel"] = output_channel
        if execute_side_effects:
            params["execute_side_effects"] = "true"
        return await self._call(
            "POST", f"{self._conversation(conversation_id)}/tracker/events", params=params, json=events
        )
