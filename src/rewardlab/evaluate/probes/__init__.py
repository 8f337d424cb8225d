"""Probes: name → callable ``(model, pairs, **opts) -> dict``, looked up with did-you-mean errors.

``length`` (length bias and NRG), ``offtopic`` (longer answers to other
prompts), ``perturb`` (format/style perturbations), ``sycophancy`` (agreeing
with false claims) and ``attack`` (black-box token-insertion search).
``offtopic`` and ``sycophancy`` also take a preference model (they compare
two responses); ``length``, ``perturb`` and ``attack`` need a scalar reward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rewardlab.data.record import Comparison
from rewardlab.evaluate.length_bias import evaluate_length_bias
from rewardlab.evaluate.preference import require_scalar
from rewardlab.evaluate.probes.attack import attack_probe
from rewardlab.evaluate.probes.offtopic import offtopic_probe
from rewardlab.evaluate.probes.perturb import perturb_probe
from rewardlab.evaluate.probes.sycophancy import sycophancy_probe
from rewardlab.protocols import RewardModel
from rewardlab.registry import Registry

PROBES: Registry[Callable[..., dict]] = Registry("probe")


def length_probe(
    model: RewardModel, pairs: Sequence[Comparison], bin_width: float = 20.0, **_: object
) -> dict:
    """Length-bias report (correlations, split accuracy, baseline, NRG) on the pairs."""
    return evaluate_length_bias(require_scalar(model, "probe 'length'"), pairs, bin_width)


PROBES.add("length", length_probe)
PROBES.add("offtopic", offtopic_probe)
PROBES.add("perturb", perturb_probe)
PROBES.add("sycophancy", sycophancy_probe)
PROBES.add("attack", attack_probe)

__all__ = ["PROBES", "length_probe"]
