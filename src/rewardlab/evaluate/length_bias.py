"""Length bias of a reward model (Singhal et al., 2023, "A Long Way to Go:
Investigating Length Correlations in RLHF").

Length is the response's first trivial statistic, as in
:class:`rewardlab.models.baselines.LengthReward`: whitespace tokens for text,
pixels for an image (:mod:`rewardlab.data.modality`).

* Pearson and Spearman correlation of reward with length over all scored
  responses (chosen and rejected).
* Accuracy (ties ½) on the pairs where the chosen is the shorter response and
  on those where it is the longer one, beside the length-only baseline's
  accuracy on the same pairs.
* Non-length reward gain (NRG, §3.1 of the paper): for two populations of
  outputs A ("before", e.g. SFT) and B ("after", e.g. PPO) put every output in
  a length bucket ⌊len / w⌋ (w = 20 tokens). With n_b the number of outputs of
  A and B together in bucket b, over the buckets that hold outputs of both:

      ΔR  = mean(r_B) − mean(r_A)
      NRG = Σ_b n_b · (mean_b(r_B) − mean_b(r_A)) / Σ_b n_b
      ratio = NRG / ΔR   (share of the gain not explained by a length shift)

  On labelled pairs A = rejected and B = chosen: the ratio says how much of
  the model's reward margin survives when length is held (roughly) fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from rewardlab.data.record import Comparison
from rewardlab.evaluate.pairwise import pair_outcomes, score_pairs
from rewardlab.models.baselines import response_lengths
from rewardlab.protocols import RewardModel


def non_length_reward_gain(
    rewards_before: Sequence[float],
    lengths_before: Sequence[float],
    rewards_after: Sequence[float],
    lengths_after: Sequence[float],
    bin_width: float = 20.0,
) -> dict:
    """ΔR, NRG (count-weighted within-bucket gain) and their ratio, with per-bucket detail."""
    ra, la = np.asarray(rewards_before, float), np.asarray(lengths_before, float)
    rb, lb = np.asarray(rewards_after, float), np.asarray(lengths_after, float)
    if ra.shape != la.shape or rb.shape != lb.shape or ra.size == 0 or rb.size == 0:
        raise ValueError("field 'lengths_after': rewards and lengths must match and be non-empty")
    if bin_width <= 0:
        raise ValueError("field 'bin_width': must be positive")
    ba, bb = np.floor(la / bin_width).astype(int), np.floor(lb / bin_width).astype(int)
    buckets = []
    for b in sorted(set(ba.tolist()) & set(bb.tolist())):
        ma, mb = ba == b, bb == b
        buckets.append({
            "start": b * bin_width,
            "n_before": int(ma.sum()),
            "n_after": int(mb.sum()),
            "gain": float(rb[mb].mean() - ra[ma].mean()),
        })
    delta = float(rb.mean() - ra.mean())
    if buckets:
        weights = np.array([x["n_before"] + x["n_after"] for x in buckets], dtype=float)
        nrg = float(np.sum(weights * [x["gain"] for x in buckets]) / weights.sum())
    else:
        nrg = float("nan")
    return {
        "delta_r": delta,
        "nrg": nrg,
        "ratio": nrg / delta if delta != 0 else float("nan"),
        "bin_width": bin_width,
        "buckets": buckets,
    }


def length_bias_report(
    chosen: Sequence[float],
    rejected: Sequence[float],
    chosen_lengths: Sequence[float],
    rejected_lengths: Sequence[float],
    bin_width: float = 20.0,
) -> dict:
    """Correlations, accuracy split by which response is longer, baseline, NRG."""
    c, r = np.asarray(chosen, float), np.asarray(rejected, float)
    lc, lr = np.asarray(chosen_lengths, float), np.asarray(rejected_lengths, float)
    if not (c.shape == r.shape == lc.shape == lr.shape) or c.size == 0:
        raise ValueError("field 'rejected_lengths': all four arrays must have the same length")
    rewards, lengths = np.concatenate([c, r]), np.concatenate([lc, lr])
    constant = np.ptp(rewards) == 0 or np.ptp(lengths) == 0
    outcomes = pair_outcomes(c, r)
    shorter, longer = lc < lr, lc > lr
    return {
        "pearson": float("nan") if constant else float(stats.pearsonr(rewards, lengths)[0]),
        "spearman": float("nan") if constant else float(stats.spearmanr(rewards, lengths)[0]),
        "accuracy": float(outcomes.mean()),
        "accuracy_chosen_shorter": float(outcomes[shorter].mean()) if shorter.any() else None,
        "accuracy_chosen_longer": float(outcomes[longer].mean()) if longer.any() else None,
        "n_chosen_shorter": int(shorter.sum()),
        "n_chosen_longer": int(longer.sum()),
        "n_equal_length": int((lc == lr).sum()),
        "length_baseline_accuracy": float(pair_outcomes(lc, lr).mean()),
        "nrg": non_length_reward_gain(r, lr, c, lc, bin_width),
    }


def evaluate_length_bias(
    model: RewardModel, pairs: Sequence[Comparison], bin_width: float = 20.0
) -> dict:
    """:func:`length_bias_report` of ``model`` on labelled pairs, with scatter data."""
    scores = score_pairs(model, pairs)
    used = [p for p in pairs if len(p.ranking) >= 2 and not p.tie]
    lc = response_lengths([p.chosen for p in used])
    lr = response_lengths([p.rejected for p in used])
    report = length_bias_report(scores.chosen, scores.rejected, lc, lr, bin_width)
    report["scatter"] = {
        "lengths": np.concatenate([lc, lr]).tolist(),
        "rewards": np.concatenate([scores.chosen, scores.rejected]).tolist(),
    }
    return report
