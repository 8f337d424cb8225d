"""Detection AUROC: how well a reward separates two labelled populations
(ReMoDetect; Lee et al., 2024, "ReMoDetect: Reward Models Recognize Aligned
LLM's Generations").

With rewards x₁ … x_m of the positive population (e.g. aligned-LLM text) and
z₁ … z_n of the negative one (e.g. human text), the Mann-Whitney estimate is

    AUROC = (1 / mn) Σᵢ Σⱼ [ 1(xᵢ > zⱼ) + ½ · 1(xᵢ = zⱼ) ],

the probability that a random positive outscores a random negative, ties ½.
Computed from mid-ranks: AUROC = (R₊ − m(m + 1)/2) / (mn), R₊ the rank sum of
the positives in the pooled sample.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from rewardlab.protocols import RewardModel, check_lengths


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Mann-Whitney AUROC of positive over negative scores, ties counted ½."""
    x = np.asarray(positive, dtype=np.float64)
    z = np.asarray(negative, dtype=np.float64)
    if x.size == 0 or z.size == 0:
        raise ValueError("field 'negative': both populations need at least one score")
    ranks = rankdata(np.concatenate([x, z]))  # average ranks handle ties
    m, n = x.size, z.size
    return float((ranks[:m].sum() - m * (m + 1) / 2) / (m * n))


def detection_auroc(
    model: RewardModel,
    positive_prompts: Sequence[str],
    positive_responses: Sequence[str],
    negative_prompts: Sequence[str],
    negative_responses: Sequence[str],
) -> dict:
    """Score both populations in one call and report the AUROC and mean rewards."""
    m = check_lengths(positive_prompts, positive_responses)
    check_lengths(negative_prompts, negative_responses)
    r = np.asarray(
        model.score(
            list(positive_prompts) + list(negative_prompts),
            list(positive_responses) + list(negative_responses),
        ),
        dtype=np.float64,
    )
    return {
        "auroc": auroc(r[:m], r[m:]),
        "mean_positive": float(r[:m].mean()) if m else float("nan"),
        "mean_negative": float(r[m:].mean()) if r.size > m else float("nan"),
        "n_positive": m,
        "n_negative": int(r.size - m),
    }
