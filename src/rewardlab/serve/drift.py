"""Drift watch: does the distribution of served rewards move away from where it started?

Monitoring the reward a policy is trained against shows reward hacking and
distribution shift as they happen (the motivation of TAME-style monitoring of
served rewards). Per route, the first ``K`` rewards served form the
*reference window*; its quantiles cut the real line into ``B`` bins of
(nearly) equal reference mass, with edges ``e_j = Q_ref(j / B)``,
``j = 1 … B−1`` (duplicate edges merged), and bin ``i`` holding the values
``x`` with ``e_i ≤ x < e_{i+1}`` (``e_0 = −∞``, ``e_B = +∞``). The *current
window* is the latest ``K`` rewards served after the reference. With
``q_i`` and ``p_i`` the shares of the reference and of the current window in
bin ``i``, each floored at ``ε = 1e-4`` so that an empty bin stays finite,
the population stability index is

    PSI = Σ_i (p_i − q_i) · ln(p_i / q_i)

(Yurdakul, "Statistical Properties of Population Stability Index", 2018;
the symmetric Kullback-Leibler divergence of the binned distributions).
PSI is 0 for identical shares; the usual reading is < 0.1 stable, 0.1–0.25 a
moderate shift, > 0.25 a large one. It is reported once the current window
is full, so it always compares ``K`` rewards with ``K`` rewards.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

EPSILON = 1e-4


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges ``Q_ref(j / bins)``, ``j = 1 … bins−1``, duplicates merged."""
    return np.unique(np.quantile(reference, np.arange(1, bins) / bins))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each of the ``len(edges) + 1`` bins (``e_i ≤ x < e_{i+1}``)."""
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=len(edges) + 1) / len(values)


def psi(current: np.ndarray, reference: np.ndarray, epsilon: float = EPSILON) -> float:
    """Σ (p_i − q_i) ln(p_i / q_i) over bin shares, each floored at ``epsilon``."""
    p = np.maximum(np.asarray(current, dtype=np.float64), epsilon)
    q = np.maximum(np.asarray(reference, dtype=np.float64), epsilon)
    return float(np.sum((p - q) * np.log(p / q)))


class RewardDrift:
    """The reference window and the current window of one route's rewards."""

    def __init__(self, reference_size: int, bins: int) -> None:
        self.reference_size = reference_size
        self.bins = bins
        self._reference: list[float] = []
        self._edges: np.ndarray | None = None
        self._ref_shares: np.ndarray | None = None
        self._current: deque[float] = deque(maxlen=reference_size)

    def observe(self, rewards: Iterable[float]) -> None:
        """Add served rewards: first to the reference, then to the current window."""
        for r in rewards:
            if self._edges is None:
                self._reference.append(float(r))
                if len(self._reference) == self.reference_size:
                    ref = np.asarray(self._reference)
                    self._edges = quantile_edges(ref, self.bins)
                    self._ref_shares = bin_shares(ref, self._edges)
            else:
                self._current.append(float(r))

    @property
    def reference_items(self) -> int:
        return len(self._reference)

    @property
    def current_items(self) -> int:
        return len(self._current)

    def psi(self) -> float | None:
        """PSI of the current window against the reference; ``None`` until both are full."""
        if self._edges is None or len(self._current) < self.reference_size:
            return None
        assert self._ref_shares is not None
        shares = bin_shares(np.asarray(self._current), self._edges)
        return psi(shares, self._ref_shares)
