"""Settings of the reward server, in one dataclass.

The server merges concurrent requests into one forward pass of at most
``max_batch`` items, waiting at most ``max_wait_ms`` for a batch to fill
(dynamic batching as in NVIDIA Triton's ``max_queue_delay_microseconds`` and
Clipper, Crankshaw et al., NSDI 2017). ``max_items`` and ``max_chars`` bound
one request; ``api_key`` (when set) must be sent as ``Authorization: Bearer``
on every route but ``/health``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ServeSettings:
    """Where the server listens and how it batches and bounds requests."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 64
    max_wait_ms: float = 5.0
    api_key: str | None = None
    max_items: int = 4096
    max_chars: int = 100_000

    def validate(self) -> ServeSettings:
        """Raise ``ValueError`` naming the first field out of range; return ``self``."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        for name in ("max_batch", "max_items", "max_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.max_wait_ms >= 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key must be a non-empty string or None")
        return self
