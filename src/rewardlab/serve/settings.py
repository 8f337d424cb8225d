"""Settings of the reward server, in one dataclass.

The server merges concurrent requests into one forward pass of at most
``max_batch`` items, waiting at most ``max_wait_ms`` for a batch to fill
(dynamic batching as in NVIDIA Triton's ``max_queue_delay_microseconds`` and
Clipper, Crankshaw et al., NSDI 2017). ``max_items`` and ``max_chars`` bound
one request, ``max_body_bytes`` its body (checked against ``Content-Length``
and while the body streams in, before any parsing) and ``max_json_depth`` the
nesting of its JSON. ``api_key`` (when set) must be sent as
``Authorization: Bearer`` on every route but ``/health`` (and ``/metrics``
when ``metrics_public``). ``strip_suffixes`` are end-of-turn texts removed
from the end of each response on every route, wherever the model does not
read the text as sent (``None``: :data:`END_OF_TURN_TEXTS` and the served
tokenizer's EOS text; ``()``: none). ``drift_reference`` served rewards per route form the
reference window of the drift watch and ``drift_bins`` its bins
(:mod:`rewardlab.serve.drift`).

Timing. ``header_timeout_s`` bounds how long a connection may take to send a
request's line and headers, counted from when it opens or its previous answer
ends; ``body_timeout_s`` how long the whole body may take once the headers are
in (a slowloris client, which trickles bytes to hold a connection, is cut:
:mod:`rewardlab.serve.runner`, :mod:`rewardlab.serve.guard`). The header
bound is the 10 s the CIS NGINX Benchmark (5.2.1) recommends for
``client_header_timeout`` (nginx's default: 60 s). nginx's
``client_body_timeout`` restarts with every read, so a trickle of one byte a
minute never ends; here the whole body must arrive within 60 s, far more than
a trainer on the same network needs (a 32 MiB body at 1 MB/s takes 34 s).
Timings out of range are refused: ``max_wait_ms`` above
:data:`MAX_WAIT_MS` (a batch that waits longer than 10 s for company never
answers in time), a timeout that is not a positive finite number of seconds
up to :data:`MAX_TIMEOUT_S`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

END_OF_TURN_TEXTS = ("<|im_end|>", "<|eot_id|>", "</s>", "<|endoftext|>")
"""The end-of-turn texts of the common chat formats (ChatML/Qwen, Llama 3, Llama 2 and
Mistral, GPT-2 style), stripped by default besides the served tokenizer's own EOS."""


def default_suffixes(eos: str | None) -> tuple[str, ...]:
    """:data:`END_OF_TURN_TEXTS` plus ``eos`` (the served tokenizer's EOS text) when new."""
    return END_OF_TURN_TEXTS + ((eos,) if eos and eos not in END_OF_TURN_TEXTS else ())


@dataclass
class ServeSettings:
    """Where the server listens and how it batches, bounds and watches requests."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch: int = 64
    max_wait_ms: float = 5.0
    api_key: str | None = None
    max_items: int = 4096
    max_chars: int = 100_000
    max_body_bytes: int = 32 * 1024 * 1024
    max_json_depth: int = 400
    metrics_public: bool = False
    strip_suffixes: tuple[str, ...] | None = None
    drift_reference: int = 1000
    drift_bins: int = 10
    header_timeout_s: float = 10.0
    body_timeout_s: float = 60.0

    def validate(self) -> ServeSettings:
        """Raise ``ValueError`` naming the first field out of range; return ``self``."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        for name in (
            "max_batch",
            "max_items",
            "max_chars",
            "max_body_bytes",
            "max_json_depth",
            "drift_reference",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if isinstance(self.drift_bins, bool) or not isinstance(self.drift_bins, int):
            raise ValueError(f"drift_bins must be an integer, got {self.drift_bins!r}")
        if not 2 <= self.drift_bins <= self.drift_reference:
            raise ValueError(
                f"drift_bins must be in [2, drift_reference={self.drift_reference}], "
                f"got {self.drift_bins}"
            )
        _check_number("max_wait_ms", self.max_wait_ms, 0.0, MAX_WAIT_MS, low_ok=True)
        for name in ("header_timeout_s", "body_timeout_s"):
            _check_number(name, getattr(self, name), 0.0, MAX_TIMEOUT_S, low_ok=False)
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key must be a non-empty string or None")
        if self.strip_suffixes is not None and not all(
            isinstance(s, str) and s for s in self.strip_suffixes
        ):
            raise ValueError(
                f"strip_suffixes must be non-empty strings, got {self.strip_suffixes!r}"
            )
        return self


MAX_WAIT_MS = 10_000.0
"""The longest ``max_wait_ms`` accepted (10 s)."""

MAX_TIMEOUT_S = 3600.0
"""The longest header or body timeout accepted (an hour)."""


def _check_number(name: str, value: object, low: float, high: float, low_ok: bool) -> None:
    """``ValueError`` unless ``value`` is a finite number in [low, high] (or (low, high])."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = math.isfinite(value) and (value >= low if low_ok else value > low) and value <= high
    if not ok:
        bracket = "[" if low_ok else "("
        raise ValueError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value!r}")
