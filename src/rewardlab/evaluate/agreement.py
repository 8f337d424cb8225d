"""Agreement between reward models on a common set.

* Rank correlation of two models' rewards on the same (prompt, response)
  items: Kendall τ-b (ties corrected; Kendall, 1945) and Spearman ρ, both from
  scipy.
* Pairwise agreement rate on labelled pairs: the fraction of pairs that both
  models order the same way, sign(Δ_a) = sign(Δ_b) with Δ = r(y⁺) − r(y⁻)
  (a tie agrees only with a tie).
* Ensemble disagreement (Coste et al., 2024, "Reward Model Ensembles Help
  Mitigate Overoptimization"): for M members, the mean over samples of the
  per-sample standard deviation across members (population std, ddof = 0), and
  the fraction of pairs on which the members do not all give the same sign(Δ).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from rewardlab.data.record import Comparison
from rewardlab.evaluate.pairwise import PairScores, score_pairs
from rewardlab.protocols import RewardModel


def rank_correlation(rewards_a: Sequence[float], rewards_b: Sequence[float]) -> dict:
    """Kendall τ-b and Spearman ρ between two reward vectors on the same items."""
    a = np.asarray(rewards_a, dtype=np.float64)
    b = np.asarray(rewards_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError("field 'rewards_b': need two 1-D arrays of equal length ≥ 2")
    return {
        "kendall_tau_b": float(stats.kendalltau(a, b, variant="b").statistic),
        "spearman": float(stats.spearmanr(a, b).statistic),
        "n": int(a.size),
    }


def pairwise_agreement(delta_a: Sequence[float], delta_b: Sequence[float]) -> float:
    """Fraction of pairs where sign(Δ_a) equals sign(Δ_b)."""
    a = np.sign(np.asarray(delta_a, dtype=np.float64))
    b = np.sign(np.asarray(delta_b, dtype=np.float64))
    if a.shape != b.shape or a.size == 0:
        raise ValueError("field 'delta_b': need two non-empty arrays of equal length")
    return float(np.mean(a == b))


def ensemble_disagreement(
    member_chosen: np.ndarray, member_rejected: np.ndarray | None = None
) -> dict:
    """Mean per-sample std across members and the fraction of pairs members order differently.

    ``member_chosen`` (and ``member_rejected``) are ``(members, n)`` arrays. The
    std is taken over all scored samples (chosen and rejected together).
    """
    c = np.asarray(member_chosen, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] < 2:
        raise ValueError("field 'member_chosen': need a (members ≥ 2, n) array")
    out: dict = {"n_members": int(c.shape[0])}
    if member_rejected is None:
        out["mean_std"] = float(c.std(axis=0).mean())
        return out
    r = np.asarray(member_rejected, dtype=np.float64)
    if r.shape != c.shape:
        raise ValueError("field 'member_rejected': must have the shape of member_chosen")
    out["mean_std"] = float(np.concatenate([c, r], axis=1).std(axis=0).mean())
    signs = np.sign(c - r)
    out["order_disagreement"] = float(np.mean(np.any(signs != signs[0], axis=0)))
    out["n_pairs"] = int(c.shape[1])
    return out


def compare_models(models: Sequence[RewardModel], pairs: Sequence[Comparison]) -> dict:
    """Agreement of several models on the same pairs: per model pair and as an ensemble."""
    if len(models) < 2:
        raise ValueError("field 'models': need at least two reward models")
    return compare_scores([score_pairs(m, pairs) for m in models])


def compare_scores(scores: Sequence[PairScores]) -> dict:
    """:func:`compare_models` from each model's rewards of the same pairs (``pairwise``:
    rank correlation and pair agreement per pair of models ``"i-j"``; ``ensemble``:
    :func:`ensemble_disagreement`)."""
    if len(scores) < 2:
        raise ValueError("field 'scores': need the rewards of at least two models")
    flat = [np.concatenate([s.chosen, s.rejected]) for s in scores]
    deltas = [s.chosen - s.rejected for s in scores]
    pairwise = {}
    for i in range(len(scores)):
        for j in range(i + 1, len(scores)):
            entry = rank_correlation(flat[i], flat[j])
            entry["pair_agreement"] = pairwise_agreement(deltas[i], deltas[j])
            pairwise[f"{i}-{j}"] = entry
    ensemble = ensemble_disagreement(
        np.stack([s.chosen for s in scores]), np.stack([s.rejected for s in scores])
    )
    return {"pairwise": pairwise, "ensemble": ensemble}
