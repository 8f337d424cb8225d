"""Checking forecasts on the overoptimization lab, where gold is known for every prompt.

For each lab setting (backbone × proxy size × noise × reading: ``single`` or an
aggregation of the ensemble), the test pool is scored by the reading
(:func:`lab_readings`, the same library calls and seeds as
:func:`rewardlab.lab.overopt.experiment.run_overopt`). :func:`evaluate_reading`
then computes every prompt's gold curve once, the **realized** peak of the
full pool (:func:`rewardlab.lab.forecast.peaks.realized`: the first argmax over
the grid of the mean unbiased best-of-n gold, refined by the parabola through
its neighbours in log n; censored at the reach when the argmax is the reach),
and for each of S random subsets of ``budget``
prompts (without replacement) every method's forecast from that subset alone.

Scores of one forecast against the realized peak r (:func:`score`), with both
peaks clipped to [x_0, reach] (a censored realized peak counts as the reach,
and so does a censored forecast):

- ``within_factor``: max(f/r, r/f) ≤ 2 for the forecast peak f;
- ``covered``: low ≤ r ≤ high for the forecast interval;
- ``falls_correct``: the forecast's answer to "does gold fall before x_lim?"
  equals the realized curve's (:func:`rewardlab.lab.forecast.peaks.falls_before`,
  strict), and ``falls_material_correct`` the same with a fall of more than
  ``tolerance`` of the peak gain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.lab.forecast.axis import Axis, bon_axis, bon_gold_curves
from rewardlab.lab.forecast.bootstrap import Forecast
from rewardlab.lab.forecast.peaks import Realized, falls_before, realized
from rewardlab.lab.forecast.run import method_forecasts
from rewardlab.optimize.pool import PromptPool, group_by_prompt

StageCallback = Callable[[str, int, int], None]
ROUNDING = 1e-9  # relative slack of "covered": sums in another order differ in the last bits


@dataclass(frozen=True)
class LabReading:
    """One lab setting's test pool, scored by one reading of one proxy."""

    source: str
    backbone: str
    proxy_size: int
    noise: float
    aggregate: str
    pools: list[PromptPool]

    def key(self) -> dict[str, Any]:
        return {"source": self.source, "backbone": self.backbone,
                "proxy_size": self.proxy_size, "noise": self.noise,
                "aggregate": self.aggregate}


def lab_readings(config: Any, progress: StageCallback | None = None) -> Iterator[LabReading]:
    """Every reading of every proxy of an ``OveroptConfig``, trained as the lab trains them."""
    from rewardlab.features.backbones import build_backbone
    from rewardlab.lab.overopt.experiment import load_data
    from rewardlab.lab.overopt.pools import flip_labels
    from rewardlab.lab.overopt.proxies import SINGLE, read_rewards, score_pool, train_proxy

    data = load_data(config, progress)
    source = data.source
    train_config = config.train_config()
    for spec in config.backbones:
        backbone = build_backbone(spec)
        proxies = []
        jobs = [(s, k, e) for s in config.proxy_sizes for k, e in enumerate(config.noises)]
        for done, (size, k, noise) in enumerate(jobs, 1):
            seed = config.seed * 1000 + k
            train = flip_labels(data.train[:size], noise, seed)
            val = flip_labels(data.val, noise, seed + 500)
            proxies.append(train_proxy(train, val, backbone, spec, size, noise, train_config))
            if progress is not None:
                progress(f"train {spec}", done, len(jobs))
        stage = None if progress is None else (lambda d, t, s=spec: progress(f"score {s}", d, t))
        scores = score_pool(proxies, backbone, data.test, progress=stage)
        for proxy, members in zip(proxies, scores, strict=True):
            for name in (SINGLE, *config.aggregates):
                rewards = read_rewards(members, data.test.prompts, name,
                                       config.aggregate_params.get(name))
                pools = group_by_prompt(data.test.prompts, data.test.responses, rewards,
                                        gold=data.test.gold)
                yield LabReading(source, spec, proxy.size, proxy.noise, name, pools)


def length_reading(folder: str) -> LabReading:
    """All 805 AlpacaEval instructions with every candidate, gold = the GPT-4-turbo judge's
    preference, proxy = the response's word count: a proxy known to be hacked (the judge
    prefers long answers only up to a point), no training involved."""
    from rewardlab.data.formats import load_alpaca_eval_pool
    from rewardlab.lab.overopt.pools import words

    rows = load_alpaca_eval_pool(folder)
    responses = [row["response"] for row in rows]
    pools = group_by_prompt([row["prompt"] for row in rows], responses, words(responses),
                            gold=np.array([row["gold"] for row in rows], dtype=np.float64))
    return LabReading("alpaca-eval-all", "words", 0, 0.0, "length", pools)


def score(
    forecast: Forecast, truth: Realized, axis: Axis, falls_limit: float, tolerance: float
) -> dict[str, Any]:
    """One forecast against the realized peak (see the module docstring)."""
    first, reach = float(axis.x[0]), axis.reach
    f = float(np.clip(forecast.estimate.peak, first, reach))
    r = float(np.clip(truth.peak, first, reach))
    low, high = forecast.interval
    curve = forecast.estimate.curve
    return {
        "peak": f,
        "interval": [low, high],
        "censored": forecast.estimate.censored,
        "within_factor": bool(max(f / r, r / f) <= 2.0),
        "covered": bool(low * (1 - ROUNDING) <= r <= high * (1 + ROUNDING)),
        "falls": falls_before(axis, curve, falls_limit),
        "falls_correct": falls_before(axis, curve, falls_limit)
        == falls_before(axis, truth.curve, falls_limit),
        "falls_material_correct": falls_before(axis, curve, falls_limit, tolerance)
        == falls_before(axis, truth.curve, falls_limit, tolerance),
    }


def evaluate_reading(
    pools: Sequence[PromptPool],
    budget: int,
    subsets: int,
    replicates: int,
    level: float,
    seed: int,
    falls_limit: float = 64.0,
    tolerance: float = 0.05,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Realized peak of the full pool and S subset forecasts per method, scored (best-of-n)."""
    if budget > len(pools):
        raise ValueError(f"field 'budget': {budget} prompts asked for, the pool has {len(pools)}")
    axis = bon_axis(min(len(p) for p in pools))
    curves = bon_gold_curves(pools, axis, progress)
    truth = realized(axis, curves)
    rng = np.random.default_rng([seed, 11])
    trials: dict[str, list[dict[str, Any]]] = {}
    for s in range(subsets):
        rows = np.sort(rng.choice(len(pools), size=budget, replace=False))
        for name, forecast in method_forecasts(axis, curves[rows], replicates, level,
                                               seed * 1000 + s).items():
            if isinstance(forecast, str):
                trials.setdefault(name, []).append({"error": forecast})
            else:
                trials.setdefault(name, []).append(
                    score(forecast, truth, axis, falls_limit, tolerance)
                )
    return {
        "prompts": len(pools),
        "reach": axis.reach,
        "realized": {
            "peak": truth.peak,
            "grid_peak": truth.grid_peak,
            "censored": truth.censored,
            "gain": float(truth.curve.max()),
            "falls": falls_before(axis, truth.curve, falls_limit),
            "falls_material": falls_before(axis, truth.curve, falls_limit, tolerance),
            "curve": [float(v) for v in truth.curve],
        },
        "n": [float(n) for n in axis.x],
        "trials": trials,
    }


METRICS = ("within_factor", "covered", "falls_correct", "falls_material_correct")


def summarize(settings: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per method: the share of trials meeting each metric, over all settings and split by
    whether the realized peak is censored."""
    out: dict[str, dict[str, Any]] = {}
    methods = sorted({name for s in settings for name in s["trials"]})
    for name in methods:
        groups: dict[str, list[dict[str, Any]]] = {"all": [], "censored": [], "interior": []}
        errors = 0
        for setting in settings:
            part = "censored" if setting["realized"]["censored"] else "interior"
            for trial in setting["trials"].get(name, []):
                if "error" in trial:
                    errors += 1
                    continue
                groups["all"].append(trial)
                groups[part].append(trial)
        out[name] = {
            group: {"trials": len(trials), **{
                m: (float(np.mean([t[m] for t in trials])) if trials else None) for m in METRICS
            }}
            for group, trials in groups.items()
        }
        out[name]["errors"] = errors
    return out
