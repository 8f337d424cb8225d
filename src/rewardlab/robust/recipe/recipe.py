"""A recipe as a reward model: components scored, normalized and combined.

:class:`Recipe` is a :class:`~rewardlab.protocols.ReferenceRewardModel` and a
:class:`~rewardlab.protocols.ComponentRewardModel`: ``score_components``
returns the total and each component's raw value (before normalization) for
logging. See :mod:`rewardlab.robust.recipe` for the combination methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data.errors import DataError
from rewardlab.protocols import (
    ReferenceRewardModel,
    RewardModel,
    check_lengths,
    score_with_references,
)
from rewardlab.robust.combine import ConstrainedCombiner
from rewardlab.robust.recipe.normalize import make_normalizer
from rewardlab.robust.recipe.spec import (
    COMPONENT_OPTIONS,
    CombineSpec,
    ComponentSpec,
    RecipeSpec,
)
from rewardlab.robust.recipe.steps import StepOutcomeReward
from rewardlab.robust.transforms import Clipped, LogSigmoidCentered, ZNormalized
from rewardlab.verifiers import make_verifier

ModelLoader = Callable[..., RewardModel]


class Recipe:
    """Named reward components combined into one reward.

    Args:
        components: name → reward model (verifiers included), in order.
        combine: the combination (method, options, weights of the others).
        normalize: name → ``none`` | ``batch`` | ``group`` | ``running`` (default none).
        source: where the recipe came from, for messages.
    """

    def __init__(
        self,
        components: Mapping[str, RewardModel],
        combine: CombineSpec = CombineSpec(),
        normalize: Mapping[str, str] | None = None,
        source: str = "<recipe>",
    ) -> None:
        if not components:
            raise ValueError("components: a recipe needs at least one component")
        self.components = dict(components)
        self.combine = combine
        self.source = source
        normalize = dict(normalize or {})
        for name in [*normalize, *combine.weights, *self._named_by_method()]:
            if name not in self.components:
                raise ValueError(f"{source}: no component named {name!r}")
        self.normalize = {n: normalize.get(n, "none") for n in components}
        self._normalizers = {n: make_normalizer(self.normalize[n]) for n in components}
        self.constrained_: ConstrainedCombiner | None = None
        if combine.method == "constrained":
            thresholds = combine.options["thresholds"]
            self.constrained_ = ConstrainedCombiner(
                [self.components[n] for n in thresholds], list(thresholds.values()),
                lr=combine.options["lr"], initial_multiplier=combine.options["initial_multiplier"],
            )

    def _named_by_method(self) -> list[str]:
        options = self.combine.options
        named = [options[o] for o in COMPONENT_OPTIONS if o in options]
        return named + list(options.get("thresholds", {}))

    @property
    def requires_reference(self) -> bool:
        """True when any component needs a per-sample reference."""
        return any(
            isinstance(m, ReferenceRewardModel) and m.requires_reference
            for m in self.components.values()
        )

    @property
    def batch_dependent(self) -> bool:
        """True when a sample's total depends on the samples scored with it: a component
        normalized by ``batch``, ``group`` or ``running`` (this batch included), or the
        ``constrained`` method updating λ per batch. Score each training batch in one call
        (the reward server then scores each request alone)."""
        updates = self.combine.method == "constrained" and self.combine.options.get("update")
        return bool(updates) or any(name != "none" for name in self.normalize.values())

    def score_components(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        references: Sequence[Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(total, {component: raw values})``, every array of shape ``(n,)``."""
        n = check_lengths(prompts, responses)
        raw: dict[str, np.ndarray] = {}
        for name, model in self.components.items():
            values = score_with_references(model, prompts, responses, references)
            if values.shape != (n,):
                raise ValueError(f"component {name!r} returned shape {values.shape}, want ({n},)")
            raw[name] = values
        normed = {name: self._normalizers[name](v, prompts) for name, v in raw.items()}
        return self._combined(raw, normed), raw

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        references: Sequence[Any] | None = None,
    ) -> np.ndarray:
        return self.score_components(prompts, responses, references)[0]

    def _combined(self, raw: dict[str, np.ndarray], normed: dict[str, np.ndarray]) -> np.ndarray:
        method, options = self.combine.method, self.combine.options
        total = np.zeros(len(next(iter(raw.values()))))
        used: set[str] = set()
        if method == "gate":
            passed = raw[options["gate"]] >= options["pass_threshold"]
            total += np.where(passed, normed[options["reward"]], options["otherwise"])
            used = {options["gate"], options["reward"]}
        elif method == "bonus":
            total += normed[options["reward"]] + options["alpha"] * normed[options["bonus"]]
            used = {options["reward"], options["bonus"]}
        elif method == "constrained" and self.constrained_ is not None:
            names = list(options["thresholds"])
            values = np.stack([normed[n] for n in names])
            total += self.constrained_.combine(values)
            if options["update"]:
                self.constrained_.update(values)
            used = set(names)
        for name, values in normed.items():
            if name not in used:
                total += self.combine.weights.get(name, 1.0) * values
        return total


def _read_pairs(path: Path) -> tuple[list[str], list[str]]:
    from rewardlab.data.io import read_rows

    prompts, responses = [], []
    for line, row in read_rows(path):
        for key in ("prompt", "response"):
            if not isinstance(row.get(key), str):
                raise DataError("missing or not a string", path=str(path), line=line, field=key)
        prompts.append(row["prompt"])
        responses.append(row["response"])
    return prompts, responses


def _transformed(model: RewardModel, name: str, params: dict[str, Any]) -> RewardModel:
    if name == "clip":
        return Clipped(model, float(params.get("lo", -np.inf)), float(params.get("hi", np.inf)))
    prompts, responses = _read_pairs(params["reference"])
    if name == "z_normalized":
        return ZNormalized(model, prompts, responses)
    by_prompt: dict[str, list[str]] = {}
    for p, r in zip(prompts, responses, strict=True):
        by_prompt.setdefault(p, []).append(r)
    return LogSigmoidCentered(model, by_prompt, float(params.get("quantile", 0.85)))


def _build_component(spec: ComponentSpec, source: str, loader: ModelLoader) -> RewardModel:
    key = f"components.{spec.name}"
    try:
        if spec.verifier is not None:
            return make_verifier(spec.verifier, **spec.params)
        model = loader(spec.model, aggregate=spec.aggregate, center=spec.center, **spec.params)
        if spec.steps is not None:
            model = StepOutcomeReward(model, **spec.steps)
        if spec.transform is not None:
            model = _transformed(model, *spec.transform)
        return model
    except DataError:
        raise
    except (ValueError, TypeError, OSError) as err:
        raise DataError(str(err), path=source, field=key) from None


def build_recipe(spec: RecipeSpec, loader: ModelLoader) -> Recipe:
    """The :class:`Recipe` of a checked spec; model components come from ``loader`` (the
    universal loader, :func:`rewardlab.load.load_reward_model`, for a recipe file:
    :func:`rewardlab.load.load_recipe`)."""
    components = {n: _build_component(c, spec.source, loader) for n, c in spec.components.items()}
    normalize = {n: c.normalize for n, c in spec.components.items()}
    return Recipe(components, spec.combine, normalize, spec.source)


__all__ = ["ModelLoader", "Recipe", "build_recipe"]
