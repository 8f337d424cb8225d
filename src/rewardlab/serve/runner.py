"""Run the reward server with uvicorn: in the foreground, or in a background thread.

:class:`BackgroundServer` binds a loopback port (port 0 lets the OS choose a
free one), starts uvicorn in a daemon thread, waits until it accepts requests
and exposes ``url``; tests and the load benchmark use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rewardlab.serve.settings import ServeSettings


def _require_uvicorn() -> Any:
    try:
        import uvicorn
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the reward server needs fastapi and uvicorn: pip install 'rewardlab[serve]'"
        ) from err
    return uvicorn


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
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)


class BackgroundServer:
    """Uvicorn in a daemon thread; use as a context manager.

    ``BackgroundServer(app, port=0)`` picks a free loopback port; ``url`` is
    ``http://127.0.0.1:<port>`` once :meth:`start` returns.
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
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level=self.log_level, lifespan="on"
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
