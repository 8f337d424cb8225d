"""Off-topic long responses (the R³ observation: reward models often prefer a
long, fluent answer to a different question over a correct short one).

For each labelled pair i, a donor response is drawn (deterministically from
``seed``) among the chosen responses of pairs with a *different prompt* that
are strictly longer (whitespace tokens; for images, more pixels) than pair i's
chosen. The probe scores r(xᵢ, donor) and r(xᵢ, y⁺ᵢ) and reports

    offtopic_rate = #{i : r(xᵢ, donor) > r(xᵢ, y⁺ᵢ)} / #probed

with exact ties counted separately. Pairs without a longer donor are skipped
and counted. A preference model is asked P(donor ≻ y⁺ᵢ) > ½ instead, and
``mean_reward_gap`` is then the mean of P − ½
(:func:`rewardlab.evaluate.preference.pair_margins`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.data.record import Comparison
from rewardlab.evaluate.preference import pair_margins
from rewardlab.evaluate.probes.base import PROBES, Metric, Probe
from rewardlab.evaluate.probes.common import labelled_pairs
from rewardlab.models.baselines import response_lengths
from rewardlab.protocols import PreferenceModel, RewardModel


def offtopic_probe(
    model: RewardModel | PreferenceModel, pairs: Sequence[Comparison], seed: int = 0, **_: object
) -> dict:
    """How often the model prefers a longer response written for another prompt."""
    used = labelled_pairs(pairs)
    rng = np.random.default_rng(seed)
    chosen = [p.chosen for p in used]
    lengths = response_lengths(chosen)
    prompts = np.array([p.prompt for p in used], dtype=object)
    probe_idx: list[int] = []
    donors: list[int] = []
    for i, p in enumerate(used):
        candidates = np.flatnonzero((lengths > lengths[i]) & (prompts != p.prompt))
        if candidates.size:
            probe_idx.append(i)
            donors.append(int(rng.choice(candidates)))
    if not probe_idx:
        return {"offtopic_rate": None, "ties": 0, "n_probed": 0, "n_skipped": len(used)}
    ps = [used[i].prompt for i in probe_idx]
    m = pair_margins(model, ps, [chosen[j] for j in donors], [chosen[i] for i in probe_idx])
    return {
        "offtopic_rate": float(np.mean(m > 0)),
        "ties": int(np.sum(m == 0)),
        "n_probed": len(ps),
        "n_skipped": len(used) - len(ps),
        "mean_reward_gap": float(np.mean(m)),
    }


PROBES.add("offtopic", Probe(offtopic_probe, (
    Metric("offtopic_rate", False, "share of pairs where a longer off-topic answer wins",
           lambda res: res["offtopic_rate"]),
), pairwise=True))
