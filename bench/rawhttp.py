"""A load generator's HTTP client that costs this machine next to nothing.

The benches run the servers and the load generator on the same two cores, so every millisecond the
client spends is taken from the servers it measures. Here a request is a ready-made byte string
(built before the clock starts) written on a kept-alive connection, and the answer is read by its
Content-Length: no URL parsing, header objects or cookie jars per request, as an HTTP library has.
Only what the benches' servers (Sanic) answer is understood: HTTP/1.1 with a Content-Length.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse

#: Sanic closes a connection idle for 5 s; one idle this long is replaced rather than reused, so a
#: request never goes out on a connection the server is closing.
IDLE_LIMIT_S = 3.0


def post_request(url: str, body: bytes, content_type: str) -> bytes:
    """A POST of ``body`` to ``url`` (with its query, if any), as bytes ready to write."""
    where = urllib.parse.urlsplit(url)
    target = f"{where.path}?{where.query}" if where.query else where.path
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {where.netloc}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def open(self) -> None:
        """Connect now (a connection is otherwise opened by its first request, on the clock)."""
        self.close()
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._last_used = time.monotonic()

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """(status, body) of one ready-made request."""
        if self._writer is None or time.monotonic() - self._last_used > IDLE_LIMIT_S:
            await self.open()
        assert self._reader is not None and self._writer is not None
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        pairs = (line.partition(b":") for line in lines[1:] if line)
        fields = {name.strip().lower(): value.strip() for name, _, value in pairs}
        if b"content-length" not in fields:
            raise RuntimeError(f"no Content-Length in the answer: {lines[0]!r}")
        body = await self._reader.readexactly(int(fields[b"content-length"]))
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        self._last_used = time.monotonic()
        return int(lines[0].split()[1]), body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


class Pool:
    """Connections to one server, each used by one customer at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._free: list[Connection] = []

    def acquire(self) -> Connection:
        return self._free.pop() if self._free else Connection(self.host, self.port)

    def release(self, conn: Connection) -> None:
        self._free.append(conn)

    def close(self) -> None:
        for conn in self._free:
            conn.close()
        self._free.clear()
