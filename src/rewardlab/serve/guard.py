"""The server's outer layer: auth, bounded bodies, disconnects and request metrics.

A plain ASGI middleware (no ``BaseHTTPMiddleware``, which buffers and cannot
see a client leave). For every HTTP request it

1. answers 401 when a bearer token is required and missing or wrong (every
   route but ``/health``, and ``/metrics`` too unless ``metrics_public``);
2. answers 413 when ``Content-Length`` exceeds ``max_body_bytes``, before
   reading a byte of the body, and when a streamed (chunked) body passes the
   limit while it is read; answers 408 and closes the connection when the
   whole body has not arrived ``body_timeout_s`` seconds after the headers
   (a slowloris client trickling bytes); a body within both limits is read
   whole and handed to the app;
3. runs the app while watching the connection: if the client disconnects
   before the answer starts, the app's task is cancelled, which cancels the
   request's queued model work (:class:`~rewardlab.serve.batching.MicroBatcher`),
   and the request is counted with status 499;
4. records route, status and latency in :class:`~rewardlab.serve.metrics.ServerMetrics`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from rewardlab.serve.metrics import ServerMetrics
from rewardlab.serve.settings import ServeSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLIENT_CLOSED = 499


class _Disconnected(Exception):
    """The client went away while its body was being read."""


class _TooLarge(Exception):
    """The body is larger than the limit."""


class _TooSlow(Exception):
    """The body did not arrive in time."""


class Guard:
    """ASGI middleware; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ServeSettings,
        metrics: ServerMetrics,
        routes: frozenset[str],
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.routes = routes
        self.open_routes = frozenset(
            {"/health"} | ({"/metrics"} if settings.metrics_public else set())
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path = scope["path"]
        route = path if path in self.routes else "other"
        status = [500]
        started = [False]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                started[0] = True
            await send(message)

        try:
            if not self._authorized(scope, path):
                await _send_json(
                    send_status,
                    401,
                    {"error": "missing or wrong bearer token", "field": "Authorization"},
                    [(b"www-authenticate", b"Bearer")],
                )
                return
            try:
                body = await self._read_body(scope, receive)
            except _TooLarge:
                limit = self.settings.max_body_bytes
                await _send_json(
                    send_status,
                    413,
                    {"error": f"the request body is larger than {limit} bytes", "field": None},
                    [(b"connection", b"close")],
                )
                return
            except _TooSlow:
                limit_s = self.settings.body_timeout_s
                await _send_json(
                    send_status,
                    408,
                    {"error": f"the request body did not arrive within {limit_s:g} s",
                     "field": None},
                    [(b"connection", b"close")],
                )
                return
            except _Disconnected:
                status[0] = CLIENT_CLOSED
                return
            if not await self._run_watched(scope, body, receive, send_status, started):
                status[0] = CLIENT_CLOSED
        finally:
            self.metrics.observe_request(route, status[0], time.perf_counter() - start)

    def _authorized(self, scope: Scope, path: str) -> bool:
        key = self.settings.api_key
        if key is None or path in self.open_routes:
            return True
        header = ""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                header = value.decode("latin-1")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), key.encode()
        )

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.settings.max_body_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.strip().isdigit() and int(value) > limit:
                raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - loop.time())
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _run_watched(
        self, scope: Scope, body: bytes, receive: Receive, send: Send, started: list[bool]
    ) -> bool:
        """Run the app on ``body``; ``False`` if the client left before the answer began."""
        gone = asyncio.Event()
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        app_task = asyncio.ensure_future(self.app(scope, replay, send))
        watcher = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({app_task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            app_task.cancel()
            raise
        finally:
            if not watcher.done():
                watcher.cancel()
        if app_task.done():
            app_task.result()  # re-raise what the app raised
            return True
        gone.set()
        if started[0]:  # the answer is on its way: let it finish
            await app_task
            return True
        app_task.cancel()
        await asyncio.gather(app_task, return_exceptions=True)
        return False


async def _send_json(
    send: Send, status: int, payload: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    data = json.dumps(payload).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + headers})
    await send({"type": "http.response.body", "body": data})
