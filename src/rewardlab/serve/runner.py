"""Run the reward server with uvicorn: in the foreground, or in a background thread.

:class:`BackgroundServer` binds a loopback port (port 0 lets the OS choose a
free one), starts uvicorn in a daemon thread, waits until it accepts requests
and exposes ``url``; tests and the load benchmark use it.

**Header timeout.** uvicorn closes an idle keep-alive connection after
``timeout_keep_alive`` (5 s) but cancels that timer at the first byte of the
next request, and sets none on a new connection, so a client that sends its
request line and headers a byte at a time (slowloris) holds the connection
forever; h11's ``max_incomplete_event_size`` bounds the size of the headers,
not their time. Both servers here therefore run uvicorn's h11 protocol with
one addition (:func:`header_timeout_protocol`): a timer armed when a
connection opens and when each answer ends, cleared when a request's headers
are complete, that closes the connection when it fires. The body has its own
bound, in :class:`~rewardlab.serve.guard.Guard`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from rewardlab.serve.settings import ServeSettings

LOG = logging.getLogger("rewardlab.serve")


def _require_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the reward server needs fastapi and uvicorn: pip install 'rewardlab[serve]'"
        ) from err
    return uvicorn


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers take over ``seconds``.

    The time counts from when the connection opens, or from the end of the
    previous answer on a kept-alive connection, until the headers are complete.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # the request's headers are in
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                LOG.info("closed a connection from %s: no complete request headers in %g s",
                         self.client, seconds)
                self.transport.close()

    return HeaderTimeoutProtocol


def run_server(
    model: object,
    settings: ServeSettings,
    log_level: str = "info",
    decode_image: Callable[[bytes], Any] | None = None,
) -> None:
    """Serve ``model`` on ``settings.host:settings.port`` until interrupted (``decode_image``:
    see :func:`rewardlab.serve.app.create_app`)."""
    uvicorn = _require_uvicorn()
    from rewardlab.serve.app import create_app

    app = create_app(model, settings, decode_image)
    http = header_timeout_protocol(settings.header_timeout_s)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level, http=http)


class BackgroundServer:
    """Uvicorn in a daemon thread; use as a context manager.

    ``BackgroundServer(app, port=0)`` picks a free loopback port; ``url`` is
    ``http://127.0.0.1:<port>`` once :meth:`start` returns. The header timeout
    is the app's ``state.settings`` one (:func:`~rewardlab.serve.app.create_app`
    sets it), else the default.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        log_level: str = "warning",
        startup_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None or not self._server.started:
            raise RuntimeError("the server is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        uvicorn = _require_uvicorn()
        state = getattr(self.app, "state", None)
        settings = getattr(state, "settings", None) or ServeSettings()
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level=self.log_level,
            lifespan="on",
            http=header_timeout_protocol(settings.header_timeout_s),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="rewardlab-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.host}:{self.port} failed to start")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server did not start within {self.startup_timeout} s")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
