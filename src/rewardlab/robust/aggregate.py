"""Aggregations of ensemble member scores: ``(K, n)`` member rewards → ``(n,)``.

Each function takes ``member_scores`` with one row per ensemble member
(``r_1 … r_K``) and one column per (prompt, response), and returns one reward
per column. Spread statistics are across members, population form (ddof=0):

- ``mean``:            R = (1/K) Σ_k r_k
- ``median``:          R = median_k r_k
- ``min`` / ``wco``:   R = min_k r_k  — worst-case optimization (Coste et al.,
  2024, "Reward Model Ensembles Help Mitigate Overoptimization").
- ``uwo``:             R = mean − λ·Var, Var = (1/K) Σ_k (r_k − mean)²,
  λ = 0.5 by default — uncertainty-weighted optimization (Coste et al., 2024).
- ``mean-minus-std``:  R = mean − λ·Std, λ = 1.0 by default (Eisenstein et al.,
  2023, "Helping or Herding? Reward Model Ensembles Mitigate but do not
  Eliminate Reward Hacking").
- ``brme``:            R = (1 − w)·mean + w·min, w = 0.5 by default — the
  nominal/worst-case mix of Reward-Robust RLHF (Yan et al., 2024, "Reward-Robust
  RLHF in LLMs"). The paper writes λ·r_nominal + (1 − λ)·r_min with r_nominal
  taken from its Bayesian ensemble; with point-estimate members the nominal
  reward here is the ensemble mean and w = 1 − λ.

Members are exchangeable (independently seeded or trained copies), so every
aggregation is invariant to the order of the rows, and with K = 1 it returns
that member; ``tests/test_conformance.py`` checks both for every registered one.

All functions are registered in :data:`AGGREGATIONS` so callers pick one by name
(``--aggregate uwo``); :func:`aggregate` does the lookup and the call.

An aggregation with parameters declares them as an options dataclass
(:class:`UwoParams`, :class:`MeanMinusStdParams`, :class:`BrmeParams`), attached to
the registered function (:func:`params_of`); its keyword defaults are read from
there. :class:`AggregateOptions` is the ``--aggregate`` / ``--aggregate-params``
pair of every command that reads an ensemble: the parameters are checked against
the chosen aggregation's declaration (:func:`check_params`), so ``--aggregate uwo
--aggregate-params '{"lam": 1}'`` is the one way in and an unknown or ill-typed
parameter is refused by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.options import OptionError, check, from_mapping, json_object, json_text, option
from rewardlab.registry import Registry

Aggregation = Callable[..., np.ndarray]

AGGREGATIONS: Registry[Aggregation] = Registry("aggregation")


@dataclass(frozen=True)
class UwoParams:
    """The parameter of ``uwo``."""

    lam: float = option(0.5, "λ of UWO = mean − λ·Var.", min=0.0)


@dataclass(frozen=True)
class MeanMinusStdParams:
    """The parameter of ``mean_minus_std``."""

    lam: float = option(1.0, "λ of mean − λ·Std.", min=0.0)


@dataclass(frozen=True)
class BrmeParams:
    """The parameter of ``brme``."""

    w: float = option(0.5, "w of (1 − w)·mean + w·min.", min=0.0, max=1.0)


def takes(params: type) -> Callable[[Aggregation], Aggregation]:
    """Declare the parameters of an aggregation (its options dataclass)."""

    def mark(fn: Aggregation) -> Aggregation:
        fn.params = params  # type: ignore[attr-defined]
        return fn

    return mark


def params_of(name: str) -> type | None:
    """The options dataclass of aggregation ``name``'s parameters (``None``: it takes none)."""
    return getattr(AGGREGATIONS.get(name), "params", None)


def check_params(name: str, params: Mapping[str, Any],
                 what: str = "--aggregate-params") -> dict[str, Any]:
    """``params`` of aggregation ``name`` checked against its declaration (unknown keys,
    types and bounds refused with an :class:`~rewardlab.options.OptionError` naming
    ``what``); returns them as given."""
    declared = params_of(name)
    if declared is None:
        if params:
            raise OptionError(f"{what}: aggregation {name!r} takes no parameters, got "
                              f"{dict(params)}")
        return {}
    from_mapping(declared, params, f"{what}: aggregation {name!r}")
    return dict(params)


def _checked(cls: type, name: str, **values: Any) -> Any:
    return check(cls(**values), names=lambda f: f"aggregation {name!r}: option {f.name!r}")


def _names() -> list[str]:
    return AGGREGATIONS.names()


@dataclass(frozen=True)
class AggregateOptions:
    """How a command reads an ensemble: the aggregation and its parameters."""

    aggregate: str | None = option(
        None, "Aggregation of an ensemble (a saved ensemble or a comma list of --model specs): "
        "{aggregations}; default mean.", choices=_names, kind="aggregation")
    aggregate_params: dict[str, Any] = option(
        default_factory=dict, help="Parameters of --aggregate as JSON, e.g. '{\"lam\": 1.0}' "
        "(uwo, mean_minus_std) or '{\"w\": 0.3}' (brme).",
        parse=json_object, format=json_text, metavar="JSON")

    def name(self) -> str:
        """The aggregation used (``mean`` when none is named)."""
        return self.aggregate or "mean"

    def params(self) -> dict[str, Any]:
        """The checked parameters (:func:`check_params`)."""
        return check_params(self.name(), self.aggregate_params)


def as_member_matrix(member_scores: np.ndarray) -> np.ndarray:
    """``member_scores`` as a finite float64 ``(K, n)`` array with K ≥ 1, or ``ValueError``."""
    scores = np.asarray(member_scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(
            f"member_scores must have shape (K members, n samples) with K >= 1, "
            f"got shape {scores.shape}"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("member_scores contains NaN or infinite values")
    return scores


@AGGREGATIONS.register("mean")
def mean(member_scores: np.ndarray) -> np.ndarray:
    """R = (1/K) Σ_k r_k."""
    return as_member_matrix(member_scores).mean(axis=0)


@AGGREGATIONS.register("median")
def median(member_scores: np.ndarray) -> np.ndarray:
    """R = median over members (mean of the two middle values when K is even)."""
    return np.median(as_member_matrix(member_scores), axis=0)


@AGGREGATIONS.register("min")
def worst_case(member_scores: np.ndarray) -> np.ndarray:
    """WCO (Coste et al., 2024): R = min_k r_k."""
    return as_member_matrix(member_scores).min(axis=0)


AGGREGATIONS.add("wco", worst_case)


@AGGREGATIONS.register("uwo")
@takes(UwoParams)
def uwo(member_scores: np.ndarray, lam: float = UwoParams.lam) -> np.ndarray:
    """UWO (Coste et al., 2024): R = mean − λ·Var, population variance (ddof=0)."""
    _checked(UwoParams, "uwo", lam=lam)
    scores = as_member_matrix(member_scores)
    return scores.mean(axis=0) - lam * scores.var(axis=0, ddof=0)


@AGGREGATIONS.register("mean-minus-std", aliases=("mean_minus_std",))
@takes(MeanMinusStdParams)
def mean_minus_std(member_scores: np.ndarray, lam: float = MeanMinusStdParams.lam) -> np.ndarray:
    """Eisenstein et al. (2023): R = mean − λ·Std, population std (ddof=0)."""
    _checked(MeanMinusStdParams, "mean_minus_std", lam=lam)
    scores = as_member_matrix(member_scores)
    return scores.mean(axis=0) - lam * scores.std(axis=0, ddof=0)


@AGGREGATIONS.register("brme")
@takes(BrmeParams)
def brme(member_scores: np.ndarray, w: float = BrmeParams.w) -> np.ndarray:
    """Reward-Robust RLHF (Yan et al., 2024): R = (1 − w)·mean + w·min."""
    _checked(BrmeParams, "brme", w=w)
    scores = as_member_matrix(member_scores)
    return (1.0 - w) * scores.mean(axis=0) + w * scores.min(axis=0)


def aggregate(member_scores: np.ndarray, name: str = "mean", **params: float) -> np.ndarray:
    """Apply the aggregation registered as ``name`` (did-you-mean error on a typo)."""
    return AGGREGATIONS.get(name)(member_scores, **params)
