"""The options a probe reads from the command line, in a light module (no torch), so the
CLI makes ``eval``'s probe flags from them.

:data:`PROBE_OPTIONS` maps a probe name (:data:`rewardlab.evaluate.probes.PROBES`)
to its options class; :func:`probe_options` gives ``run_evaluation`` the options
of the probes chosen. A probe option given without its probe is refused by the
``eval`` verb (:mod:`rewardlab.verbs.evaluate`), as is one that the pairs'
modality does not use (the text attack's query budget on image pairs, the pixel
attack's ε on text pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardlab.options import option


@dataclass(frozen=True)
class AttackOptions:
    """The attack probe: a query budget per text pair
    (:class:`~rewardlab.evaluate.probes.attack.AttackConfig`), the largest pixel
    perturbation of image pairs (:class:`~rewardlab.evaluate.probes.pixel_attack.PixelAttackConfig`)."""

    attack_budget: int = option(128, "Text pairs: queries per pair for the attack probe.", min=1)
    attack_epsilon: float = option(
        8 / 255, "Image pairs: largest L∞ perturbation of the attack probe, in [0, 1] (rounded "
        "to a multiple of 1/255; the probe also tries ε/2, ε/4, ε/8).", min=1 / 255, max=1.0)


ATTACK_READS = {"text": "attack_budget", "image": "attack_epsilon"}
"""Which attack option each response modality reads."""

PROBE_OPTIONS: dict[str, type] = {"attack": AttackOptions}
"""Probe name → the options class it reads."""


def probe_options(probes: tuple[str, ...], attack: AttackOptions) -> dict[str, dict]:
    """The keyword options of each chosen probe that has any (``run_evaluation``'s
    ``probe_options``)."""
    if "attack" not in probes:
        return {}
    return {"attack": {"budget": attack.attack_budget, "epsilon": attack.attack_epsilon}}
