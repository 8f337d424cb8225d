"""The contracts every part of rewardlab speaks.

A :class:`RewardModel` maps (prompt, response) pairs to scalar rewards. A
trained head, an ensemble with an aggregation, a transformed reward, a rule
based verifier, an LM-derived reward and a remote client all implement it, so
evaluation, best-of-n, the server and trainer adapters accept any of them.

A :class:`PreferenceModel` gives P(a ≻ b | prompt) directly; general preference
models (which can be intransitive) implement it where no scalar exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class RewardModel(Protocol):
    """Anything that scores responses to prompts.

    ``score`` returns a float array of shape ``(len(prompts),)``; higher is
    better. Rewards are only defined up to a per-prompt constant unless a model
    says otherwise.
    """

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class UncertainRewardModel(RewardModel, Protocol):
    """A reward model that also reports per-sample spread (ensemble members or
    MC-dropout passes): ``(reward, spread)``, both of shape ``(n,)``."""

    def score_with_uncertainty(
        self, prompts: Sequence[str], responses: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class PreferenceModel(Protocol):
    """P(first ≻ second | prompt) for each triple, shape ``(n,)``, in [0, 1]."""

    def prob(
        self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]
    ) -> np.ndarray: ...


def check_lengths(prompts: Sequence[str], *others: Sequence[str]) -> int:
    """Raise ``ValueError`` unless every sequence has ``len(prompts)`` items."""
    n = len(prompts)
    for i, seq in enumerate(others, start=1):
        if len(seq) != n:
            raise ValueError(
                f"argument {i} has {len(seq)} items but prompts has {n}; they must match"
            )
    return n
