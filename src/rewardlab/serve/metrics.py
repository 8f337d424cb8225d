"""Server metrics in the Prometheus text exposition format (version 0.0.4).

Written by hand, no ``prometheus_client``: counters and cumulative histograms.
A histogram with upper bounds ``b_1 < ... < b_k`` exposes, per label set,
``name_bucket{le="b_j"} = #{observations x : x <= b_j}``, the ``+Inf`` bucket
(= ``name_count``) and ``name_sum`` (Prometheus docs, "Exposition formats" and
"Histograms and summaries"). Exposed:

- ``rewardlab_requests_total{route, status}``: requests by route and HTTP status;
- ``rewardlab_request_errors_total{route, type}``: 4xx (``client``) and 5xx
  (``server``) answers;
- ``rewardlab_request_latency_seconds{route}``: histogram of request latency;
- ``rewardlab_batch_size{kind}``: histogram of items per model call;
- ``rewardlab_batch_requests{kind}``: histogram of requests merged per call;
- ``rewardlab_batch_failures_total{kind}``: model calls that raised;
- ``rewardlab_reward{route}``: histogram of the rewards served;
- ``rewardlab_reward_psi{route}``: population stability index of the latest
  ``K`` rewards against the first ``K`` (:mod:`rewardlab.serve.drift`), once
  both windows are full; ``rewardlab_reward_reference_items{route}`` and
  ``rewardlab_reward_window_items{route}`` say how full they are.

A request whose client disconnected before the answer is counted with status
499 (nginx's "client closed request").
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence

from rewardlab.serve.drift import RewardDrift

LabelKey = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
REWARD_BUCKETS = (-10.0, -5.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 5.0, 10.0)


def escape_label(value: str) -> str:
    """Escape a label value: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(key: LabelKey, extra: tuple[str, str] | None = None) -> str:
    pairs = list(key) + ([extra] if extra else [])
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in pairs) + "}"


def _number(x: float) -> str:
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help_text = help_text
        self.values: dict[LabelKey, float] = defaultdict(float)

    def inc(self, labels: LabelKey, amount: float = 1.0) -> None:
        self.values[labels] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} counter"]
        for key in sorted(self.values):
            lines.append(f"{self.name}{_labels(key)} {_number(self.values[key])}")
        return lines


class Gauge:
    """A value that can go up and down, per label set."""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help_text = help_text
        self.values: dict[LabelKey, float] = {}

    def set(self, labels: LabelKey, value: float) -> None:
        self.values[labels] = value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} gauge"]
        for key in sorted(self.values):
            lines.append(f"{self.name}{_labels(key)} {_number(self.values[key])}")
        return lines


class Histogram:
    """Cumulative buckets, sum and count per label set."""

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError("histogram buckets must be strictly increasing")
        self.name = name
        self.help_text = help_text
        self.buckets = tuple(float(b) for b in buckets)
        self.counts: dict[LabelKey, list[int]] = {}
        self.sums: dict[LabelKey, float] = defaultdict(float)

    def observe(self, labels: LabelKey, value: float) -> None:
        counts = self.counts.setdefault(labels, [0] * (len(self.buckets) + 1))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1
        self.sums[labels] += value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help_text}", f"# TYPE {self.name} histogram"]
        for key in sorted(self.counts):
            counts = self.counts[key]
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                le = ("le", _number(bound))
                lines.append(f"{self.name}_bucket{_labels(key, le)} {count}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(self.sums[key])}")
            lines.append(f"{self.name}_count{_labels(key)} {counts[-1]}")
        return lines


class ServerMetrics:
    """All metrics of one server; safe to update from several threads."""

    def __init__(self, drift_reference: int = 1000, drift_bins: int = 10) -> None:
        self._lock = threading.Lock()
        self.drift_reference = drift_reference
        self.drift_bins = drift_bins
        self.drift: dict[str, RewardDrift] = {}
        self.rewards = Histogram("rewardlab_reward", "Rewards served, by route.", REWARD_BUCKETS)
        self.requests = Counter("rewardlab_requests_total", "Requests by route and HTTP status.")
        self.errors = Counter(
            "rewardlab_request_errors_total", "Requests answered 4xx (client) or 5xx (server)."
        )
        self.latency = Histogram(
            "rewardlab_request_latency_seconds", "Request latency in seconds.", LATENCY_BUCKETS
        )
        self.batch_size = Histogram("rewardlab_batch_size", "Items per model call.", BATCH_BUCKETS)
        self.batch_requests = Histogram(
            "rewardlab_batch_requests", "Requests merged into one model call.", BATCH_BUCKETS
        )
        self.batch_failures = Counter(
            "rewardlab_batch_failures_total", "Model calls that raised an exception."
        )

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests.inc((("route", route), ("status", str(status))))
            self.latency.observe((("route", route),), seconds)
            if status >= 400:
                kind = "server" if status >= 500 else "client"
                self.errors.inc((("route", route), ("type", kind)))

    def observe_batch(self, kind: str, items: int, jobs: int, ok: bool) -> None:
        with self._lock:
            self.batch_size.observe((("kind", kind),), items)
            self.batch_requests.observe((("kind", kind),), jobs)
            if not ok:
                self.batch_failures.inc((("kind", kind),))

    def observe_rewards(self, route: str, rewards: Iterable[float]) -> None:
        """Rewards served on ``route``: into the histogram and the drift watch."""
        values = [float(r) for r in rewards]
        with self._lock:
            for r in values:
                self.rewards.observe((("route", route),), r)
            if route not in self.drift:
                self.drift[route] = RewardDrift(self.drift_reference, self.drift_bins)
            self.drift[route].observe(values)

    def _drift_gauges(self) -> list[Gauge]:
        psi = Gauge(
            "rewardlab_reward_psi",
            "Population stability index of the latest rewards against the first ones.",
        )
        ref = Gauge("rewardlab_reward_reference_items", "Rewards in the drift reference window.")
        cur = Gauge("rewardlab_reward_window_items", "Rewards in the current drift window.")
        for route, drift in self.drift.items():
            key = (("route", route),)
            ref.set(key, drift.reference_items)
            cur.set(key, drift.current_items)
            value = drift.psi()
            if value is not None:
                psi.set(key, value)
        return [psi, ref, cur]

    def render(self) -> str:
        """The whole exposition, ending with a newline."""
        with self._lock:
            parts: list[Counter | Gauge | Histogram] = [self.requests, self.errors, self.latency]
            parts += [self.batch_size, self.batch_requests, self.batch_failures, self.rewards]
            parts += self._drift_gauges()
            return "\n".join(line for metric in parts for line in metric.render()) + "\n"
