"""Reward recipes: named components (verifiers and models) and how they combine.

A recipe file (YAML or JSON; :mod:`rewardlab.robust.recipe.spec` shows one)
has two keys.

``components``: name → one of

- ``verifier: NAME`` (+ ``params``): a registered verifier
  (:data:`rewardlab.verifiers.VERIFIERS`);
- ``model: PATH`` (+ ``aggregate``, ``center``, ``params``): any model spec,
  loaded by the universal loader (:func:`rewardlab.load.load_reward_model`); optionally
  ``steps: {reduce, form, eta}`` to use a PRM as an outcome reward
  (:mod:`~rewardlab.robust.recipe.steps`: min/last/mean/sum of the step
  rewards, with Gao et al.'s Clip or Delta form) and ``transform``: one of
  ``clip: {lo, hi}``, ``z_normalized: {reference}``,
  ``log_sigmoid_centered: {reference, quantile}`` (the wrappers of
  :mod:`rewardlab.robust.transforms`; ``reference`` a JSONL of
  ``{prompt, response}``);

and, for either, ``normalize``: ``none`` (default), ``batch``, ``group``
(GRPO: per prompt) or ``running`` (:mod:`~rewardlab.robust.recipe.normalize`).

``combine`` (default ``method: weighted_sum``), with n_c the normalized
value of component c and w_c its weight in ``weights`` (default 1):

- ``weighted_sum``: R = Σ_c w_c n_c.
- ``gate``: R = n_reward if raw_gate ≥ ``pass_threshold`` (default 1) else
  ``otherwise`` (default 0), plus Σ w_c n_c over the other components: the
  model reward counts only when the verifier passes.
- ``bonus``: R = n_reward + α·n_bonus (+ the others), the verifiable bonus
  added to the reward-model score of TÜLU 3's RLVR (Lambert et al., 2024,
  "TÜLU 3: Pushing Frontiers in Open Language Model Post-Training"; α = 10
  there and by default).
- ``constrained``: R = Σ_{i ∈ thresholds} σ(λ_i) n_i (+ the others), the
  sigmoid-multiplier combination of Moskovitz et al. (2024)
  (:class:`~rewardlab.robust.combine.ConstrainedCombiner`, options
  ``thresholds``, ``lr`` 0.05, ``initial_multiplier`` 0). With ``update``
  (default true) every scored batch is taken as a training batch: λ takes one
  step after the batch's total is computed.

A recipe file is read, and a registered verifier's name stands for a
one-component recipe, by :func:`rewardlab.load.load_rewards` (this package
builds a recipe from a checked spec and a model loader, :func:`build_recipe`).
Components share each sample's reference.
"""

from rewardlab.robust.recipe.normalize import NORMALIZERS, RunningZ, batch_z, group_z
from rewardlab.robust.recipe.recipe import Recipe, build_recipe
from rewardlab.robust.recipe.spec import (
    CombineSpec,
    ComponentSpec,
    RecipeSpec,
    parse_recipe,
    read_recipe_file,
)
from rewardlab.robust.recipe.steps import StepOutcomeReward, step_outcome

__all__ = [
    "NORMALIZERS",
    "CombineSpec",
    "ComponentSpec",
    "Recipe",
    "RecipeSpec",
    "RunningZ",
    "StepOutcomeReward",
    "batch_z",
    "build_recipe",
    "group_z",
    "parse_recipe",
    "read_recipe_file",
    "step_outcome",
]
