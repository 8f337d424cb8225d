"""Reading and checking a reward recipe file (YAML or JSON).

A recipe names its components and how they combine::

    components:
      correct: {verifier: math}                       # a registered verifier
      fmt:     {verifier: format, params: {partial_credit: true}}
      rm:      {model: runs/rm, aggregate: uwo,        # a model directory, through
                normalize: group,                      # load_reward_model
                transform: {clip: {lo: -3, hi: 3}}}
      prm:     {model: runs/prm, steps: {reduce: min, form: clip, eta: 0.5}}
    combine:
      method: gate            # weighted-sum | gate | bonus | constrained
      gate: correct
      reward: rm
      weights: {fmt: 0.2}

Model paths are relative to the recipe's folder. Every mistake is one
:class:`~rewardlab.data.errors.DataError` naming the file and the key
(``components.rm.verifier``), with did-you-mean suggestions for unknown names.
What each key means is documented in :mod:`rewardlab.robust.recipe`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError
from rewardlab.protocols import OUTCOME_REDUCTION, STEP_REDUCTIONS
from rewardlab.registry import Registry, UnknownNameError
from rewardlab.robust.aggregate import AGGREGATIONS
from rewardlab.robust.recipe.normalize import NORMALIZERS
from rewardlab.robust.recipe.steps import FORMS
from rewardlab.verifiers import VERIFIERS

COMPONENT_KEYS = ("verifier", "model", "params", "aggregate", "center", "transform", "normalize",
                  "steps")
STEP_KEYS = {"reduce": OUTCOME_REDUCTION, "form": "none", "eta": 0.0}
TRANSFORMS: Registry[tuple[str, ...]] = Registry("transform")
"""A component's ``transform`` → the keys it takes (the wrappers of
:mod:`rewardlab.robust.transforms`); the underscore spellings are aliases."""
TRANSFORMS.add("clip", ("lo", "hi"))
TRANSFORMS.add("z-normalized", ("reference",), aliases=("z_normalized",))
TRANSFORMS.add("log-sigmoid-centered", ("reference", "quantile"),
               aliases=("log_sigmoid_centered",))

METHODS: Registry[dict[str, Any]] = Registry("combination method")
"""``combine.method`` → ``{option: default}`` (``None`` marks a required option)."""
METHODS.add("weighted-sum", {}, aliases=("weighted_sum",))
METHODS.add("gate", {"gate": None, "reward": None, "pass_threshold": 1.0, "otherwise": 0.0})
METHODS.add("bonus", {"reward": None, "bonus": None, "alpha": 10.0})
METHODS.add("constrained",
            {"thresholds": None, "lr": 0.05, "initial_multiplier": 0.0, "update": True})
# options that name components
COMPONENT_OPTIONS = ("gate", "reward", "bonus")


@dataclass(frozen=True)
class ComponentSpec:
    """One component: a verifier (``verifier`` + ``params``) or a model directory."""

    name: str
    verifier: str | None = None
    model: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    aggregate: str | None = None
    center: bool | None = None
    transform: tuple[str, dict[str, Any]] | None = None
    normalize: str = "none"
    steps: dict[str, Any] | None = None


@dataclass(frozen=True)
class CombineSpec:
    """How components combine: ``method``, its ``options`` and weights of the other components."""

    method: str = "weighted-sum"
    weights: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecipeSpec:
    """A checked recipe; ``source`` is the file (or the name) it came from."""

    source: str
    components: dict[str, ComponentSpec]
    combine: CombineSpec


class _Where:
    """Builds DataErrors that name the recipe file and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, message: str) -> DataError:
        return DataError(message, path=self.source, field=key)

    def unknown(self, key: str, name: str, known: list[str], what: str) -> DataError:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return self.error(key, f"unknown {what} {name!r}{hint} (known: {', '.join(known)})")

    def mapping(self, key: str, value: Any, allowed: tuple[str, ...] | None = None) -> dict:
        if not isinstance(value, Mapping):
            raise self.error(key, f"expected a mapping, got {type(value).__name__}")
        if allowed is not None:
            for name in value:
                if name not in allowed:
                    raise self.unknown(f"{key}.{name}", str(name), list(allowed), "key")
        return dict(value)

    def number(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise self.error(key, f"expected a finite number, got {value!r}")
        return float(value)


FLOAT_1_2 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)[eE][-+]?[0-9]+
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)
"""YAML 1.2's floats: PyYAML follows YAML 1.1, whose floats need a dot, so it reads
``1e-3`` as the string "1e-3"; a recipe reads it as the number 0.001."""


def _yaml_loader(yaml: Any) -> type:
    """PyYAML's SafeLoader that also reads YAML 1.2 floats (:data:`FLOAT_1_2`)."""

    class RecipeLoader(yaml.SafeLoader):
        pass

    RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:float", FLOAT_1_2, list("-+0123456789."))
    return RecipeLoader


def read_recipe_file(path: str | Path) -> RecipeSpec:
    """Read and check a ``.yaml``/``.yml``/``.json`` recipe."""
    path = Path(path)
    where = _Where(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise where.error("", f"cannot read the recipe: {err.strerror}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError("YAML recipes need PyYAML: pip install 'rewardlab[verify]'") from None
        try:
            raw = yaml.load(text, Loader=_yaml_loader(yaml))  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as err:
            raise where.error("", f"not valid YAML: {err}") from None
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"not valid JSON: {err.msg}", path=str(path), line=err.lineno) from None
    return parse_recipe(raw, str(path), path.parent)


def parse_recipe(raw: Any, source: str, base_dir: Path) -> RecipeSpec:
    """Check a recipe's parsed content; model paths resolve against ``base_dir``."""
    where = _Where(source)
    top = where.mapping("", raw, ("components", "combine"))
    if "components" not in top:
        raise where.error("components", "a recipe needs at least one component")
    comps = where.mapping("components", top["components"])
    if not comps:
        raise where.error("components", "a recipe needs at least one component")
    components = {str(n): _component(where, str(n), c, base_dir) for n, c in comps.items()}
    combine = _combine(where, top.get("combine", {}), list(components))
    return RecipeSpec(source, components, combine)


def _component(where: _Where, name: str, raw: Any, base_dir: Path) -> ComponentSpec:
    key = f"components.{name}"
    spec = where.mapping(key, raw, COMPONENT_KEYS)
    if ("verifier" in spec) == ("model" in spec):
        raise where.error(key, "give exactly one of 'verifier' (a registered name) or 'model'")
    params = where.mapping(f"{key}.params", spec.get("params", {}))
    normalize = spec.get("normalize", "none")
    if normalize not in NORMALIZERS:
        raise where.unknown(f"{key}.normalize", str(normalize), list(NORMALIZERS), "normalization")
    if "verifier" in spec:
        verifier = str(spec["verifier"])
        try:
            VERIFIERS.get(verifier)
        except UnknownNameError as err:
            raise where.error(f"{key}.verifier", str(err)) from None
        for option in ("aggregate", "center", "transform", "steps"):
            if option in spec:
                raise where.error(f"{key}.{option}", "only model components take this option")
        return ComponentSpec(name, verifier=verifier, params=params, normalize=normalize)
    model = base_dir / str(spec["model"])
    if not model.exists():
        raise where.error(f"{key}.model", f"no model at {model}")
    transform = None
    if "transform" in spec:
        t = where.mapping(f"{key}.transform", spec["transform"])
        if len(t) != 1:
            raise where.error(f"{key}.transform", f"give one transform of {', '.join(TRANSFORMS)}")
        (t_name, t_params), = t.items()
        if str(t_name) not in TRANSFORMS:
            raise where.unknown(f"{key}.transform.{t_name}", str(t_name), TRANSFORMS.names(),
                                "key")
        t_name = TRANSFORMS.canonical(str(t_name))
        t_params = where.mapping(f"{key}.transform.{t_name}", t_params, TRANSFORMS.get(t_name))
        if "reference" in t_params:
            t_params["reference"] = base_dir / str(t_params["reference"])
        transform = (t_name, t_params)
    steps = None
    if "steps" in spec:
        steps = {**STEP_KEYS, **where.mapping(f"{key}.steps", spec["steps"], tuple(STEP_KEYS))}
        if steps["reduce"] not in STEP_REDUCTIONS:
            raise where.unknown(f"{key}.steps.reduce", str(steps["reduce"]),
                                STEP_REDUCTIONS.names(), "step reduction")
        if steps["form"] not in FORMS:
            raise where.unknown(f"{key}.steps.form", str(steps["form"]), list(FORMS), "form")
        steps["eta"] = where.number(f"{key}.steps.eta", steps["eta"])
    center = spec.get("center")
    aggregate = spec.get("aggregate")
    if aggregate is not None and str(aggregate) not in AGGREGATIONS:
        raise where.unknown(f"{key}.aggregate", str(aggregate), list(AGGREGATIONS), "aggregation")
    return ComponentSpec(name, model=model, params=params, aggregate=aggregate,
                         center=None if center is None else bool(center), transform=transform,
                         normalize=normalize, steps=steps)


def _combine(where: _Where, raw: Any, names: list[str]) -> CombineSpec:
    spec = where.mapping("combine", raw)
    method = str(spec.pop("method", "weighted-sum"))
    if method not in METHODS:
        raise where.unknown("combine.method", method, METHODS.names(), "combination method")
    method = METHODS.canonical(method)
    allowed = ("weights", *METHODS.get(method))
    where.mapping("combine", spec, allowed)

    def component(key: str, value: Any) -> str:
        if str(value) not in names:
            raise where.unknown(key, str(value), names, "component")
        return str(value)

    weights = {
        component(f"combine.weights.{n}", n): where.number(f"combine.weights.{n}", w)
        for n, w in where.mapping("combine.weights", spec.get("weights", {})).items()
    }
    options: dict[str, Any] = {}
    for option, default in METHODS.get(method).items():
        key = f"combine.{option}"
        if option not in spec:
            if default is None:
                raise where.error(key, f"the {method} method needs this option")
            options[option] = default
        elif option in COMPONENT_OPTIONS:
            options[option] = component(key, spec[option])
        elif option == "thresholds":
            thresholds = where.mapping(key, spec[option])
            if not thresholds:
                raise where.error(key, "give a threshold for at least one component")
            options[option] = {component(f"{key}.{n}", n): where.number(f"{key}.{n}", v)
                               for n, v in thresholds.items()}
        elif option == "update":
            options[option] = bool(spec[option])
        else:
            options[option] = where.number(key, spec[option])
    return CombineSpec(method, weights, options)
