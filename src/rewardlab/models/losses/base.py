"""What every loss receives, and what it declares about itself.

A loss is an :class:`Objective`: a function ``fn(batch, **params) -> (K,)``
(one mean loss per ensemble member) plus the kind of training unit it needs:

- ``"pairs"``: ordered pairs (y⁺ ≻ y⁻) from every ranking, ties left out;
- ``"ties"``: the same pairs plus tie pairs (``Comparison.tie``), flagged;
- ``"rankings"``: one (possibly partial) ranking per record, padded with a mask;
- ``"points"``: one response with a target per attribute (pointwise labels).

Batches carry rewards with the member axis first, so K members train in one
backward pass. An objective may learn parameters of its own (e.g. Davidson's
tie parameter θ), created by ``learned(n_members)`` with the member axis first.

Each loss module registers its objective in :data:`LOSSES` (one line at its
end); ``rewardlab.models.losses`` imports every module of the package, so a
new loss is its module plus its test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from rewardlab.registry import Registry

UNIT_KINDS = ("pairs", "ties", "rankings", "points")


@dataclass
class PairBatch:
    """Rewards (K, B) of chosen and rejected responses, per-pair margins (K, B)
    and, for ``"ties"`` units, a boolean (K, B) that marks tie pairs."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    margin: torch.Tensor | None = None
    tie: torch.Tensor | None = None

    @property
    def delta(self) -> torch.Tensor:
        """Δ = r(x, y⁺) − r(x, y⁻), shape (K, B)."""
        return self.chosen - self.rejected

    def nll_with_ties(self, log_win: torch.Tensor, log_tie: torch.Tensor) -> torch.Tensor:
        """Mean −log P per member, shape (K,): log P(tie) on tie pairs, log P(y⁺ ≻ y⁻)
        on the others (every pair when the batch has no tie flags)."""
        if self.tie is None:
            return -log_win.mean(dim=1)
        return -torch.where(self.tie, log_tie, log_win).mean(dim=1)


@dataclass
class RankingBatch:
    """Rewards (K, B, k) of each ranking's responses, best first.

    The first ``n_ranked`` (K, B) positions are ranked in order; the valid
    positions after them (``mask``, (K, B, k)) are unranked responses known
    to be worse than every ranked one (a partial, top-n ranking).
    """

    rewards: torch.Tensor
    mask: torch.Tensor
    n_ranked: torch.Tensor


@dataclass
class PointBatch:
    """Rewards (K, B) — or per-attribute outputs (K, B, A) — and targets (K, B, A)."""

    rewards: torch.Tensor
    target: torch.Tensor


@dataclass(frozen=True)
class Objective:
    """A loss function and the training units it consumes.

    ``unit_params`` are the ``--loss-params`` keys read when records are
    turned into units or the head is built (e.g. ``strength_from``); the
    others are passed to ``fn``. ``needs_margin``: every pair must carry a
    strength. ``outputs="attributes"``: the head predicts one value per
    attribute (multi-attribute regression).
    """

    fn: Callable[..., torch.Tensor]
    units: str = "pairs"
    outputs: str = "reward"
    needs_margin: bool = False
    unit_params: tuple[str, ...] = ()
    learned: Callable[[int], dict[str, torch.Tensor]] | None = None

    def __post_init__(self) -> None:
        if self.units not in UNIT_KINDS:
            raise ValueError(f"unit kind {self.units!r} is not one of {UNIT_KINDS}")

    def __call__(self, batch: Any, **params: Any) -> torch.Tensor:
        return self.fn(batch, **params)

    def loss_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The subset of ``params`` that ``fn`` takes."""
        return {k: v for k, v in params.items() if k not in self.unit_params}

    def initial_learned(self, n_members: int) -> dict[str, torch.Tensor]:
        """Fresh learned loss parameters (member axis first); empty if none."""
        return {} if self.learned is None else self.learned(n_members)

    @property
    def summary(self) -> str:
        """The first line of the loss module's docstring (formula source), for help texts."""
        import sys

        doc = sys.modules[self.fn.__module__].__doc__ or self.fn.__doc__ or ""
        return " ".join(doc.strip().split("\n\n")[0].split())


PAIR_PARAMS = ("strength_from",)
"""``--loss-params`` keys that shape pair units rather than the loss itself."""

LOSSES: Registry[Objective] = Registry("loss")
