"""Run an evaluation suite plus probes and return one JSON-serializable results dict.

Suites: ``pairs`` (pairwise accuracy with ties ½, per category, length-only
baseline and the baseline of every trivial statistic of the responses'
modality, e.g. an image's brightness; :mod:`rewardlab.evaluate.pairwise`), ``rewardbench`` (RewardBench
v1 sections and overall; :mod:`rewardlab.evaluate.rewardbench`) and
``one-to-many`` (RewardMATH win rate and MRR;
:mod:`rewardlab.evaluate.one_to_many`). Every suite also reports the
length-only baseline on the same data and the calibration of σ(Δ) on its
(chosen, rejected) pairs. Probes are looked up in
:data:`rewardlab.evaluate.probes.PROBES`; each declares the metrics it adds
and their direction (:class:`rewardlab.evaluate.probes.Metric`).

A :class:`~rewardlab.protocols.PreferenceModel` (GPM, PAL, an LLM judge) is
asked ``prob`` wherever two responses are compared
(:mod:`rewardlab.evaluate.preference`): pairwise accuracy is P(y⁺ ≻ y⁻) > ½,
RewardBench ranks by round-robin win rate, calibration is that of its own
probabilities, and the probes ``offtopic`` and ``sycophancy`` compare through
it. The ``one-to-many`` suite and the ``length``, ``perturb`` and ``attack``
probes need a scalar reward and say so before anything runs.

Following lm-evaluation-harness, ``metrics`` is a flat name → value map and
``higher_is_better`` declares the direction of each metric: the suite's own
in :data:`SUITE_HIGHER_IS_BETTER`, the probes' from their registry entries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab import __version__
from rewardlab.data.fingerprint import fingerprint
from rewardlab.data.modality import modality_of_all
from rewardlab.data.record import Comparison
from rewardlab.evaluate.calibration import pair_calibration, preference_calibration
from rewardlab.evaluate.one_to_many import evaluate_one_to_many
from rewardlab.evaluate.pairwise import accuracy_report, compare_pairs, with_baselines
from rewardlab.evaluate.preference import is_preference_model, require_scalar
from rewardlab.evaluate.probes import PROBES
from rewardlab.evaluate.rewardbench import evaluate_rewardbench
from rewardlab.models.baselines import LengthReward
from rewardlab.protocols import PreferenceModel, RewardModel

SUITES = ("pairs", "rewardbench", "one-to-many")

SUITE_HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "length_baseline_accuracy": True,
    "rewardbench_overall": True,
    "mrr": True,
    "ece": False,
    "brier": False,
    "nll": False,
}
"""Direction of the metrics every suite and the calibration report."""


def higher_is_better() -> dict[str, bool]:
    """Direction of every metric :func:`run_evaluation` can report: the suite's and
    those each registered probe declares."""
    out = dict(SUITE_HIGHER_IS_BETTER)
    for name in PROBES:
        out.update({m.name: m.higher_is_better for m in PROBES.get(name).metrics})
    return out


def pairwise_probes() -> list[str]:
    """The probes that compare two responses and so also take a preference model."""
    return [name for name in PROBES if PROBES.get(name).pairwise]


def to_jsonable(value: Any) -> Any:
    """Numpy scalars/arrays → Python; NaN/inf → None; tuples → lists; keys → str."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _expand_groups(records: Sequence[Comparison]) -> list[Comparison]:
    """Each record → (chosen, other) pairs, one per non-chosen (RewardBench 2: incorrect) one."""
    out = []
    for r in records:
        if not r.ranking or len(r.responses) < 2:
            continue
        c = r.ranking[0]
        first_wrong = int(r.meta.get("num_correct", 0))
        for j in range(first_wrong, len(r.responses)):
            if j != c:
                out.append(Comparison(r.prompt, (r.responses[c], r.responses[j]), (0, 1),
                                      category=r.category))
    return out


def _run_suite(
    model: RewardModel | PreferenceModel,
    records: Sequence[Comparison],
    suite: str,
    subset_mapping: Mapping[str, Sequence[str]] | None,
) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Suite result, headline metrics, and the (chosen, rejected) rewards of its pairs."""
    metrics: dict[str, float] = {}
    if suite == "pairs":
        scores = compare_pairs(model, records)
        res = with_baselines(accuracy_report(scores), records)
        metrics["accuracy"] = res["accuracy"]
        metrics["length_baseline_accuracy"] = res["length_baseline_accuracy"]
        return res, metrics, scores.chosen, scores.rejected
    if suite == "rewardbench":
        res = evaluate_rewardbench(model, records, subset_mapping)
        base = evaluate_rewardbench(LengthReward(), records, subset_mapping)
        res["length_baseline"] = {k: base[k] for k in ("per_subset", "sections", "overall")}
        metrics["rewardbench_overall"] = res["overall"]
    else:
        scalar = require_scalar(model, "suite 'one-to-many'", pairwise_probes())
        res = evaluate_one_to_many(scalar, records)
        base = evaluate_one_to_many(LengthReward(), records)
        res["length_baseline"] = {k: base[k] for k in ("accuracy", "mrr")}
        metrics["mrr"] = res["mrr"]
    metrics["accuracy"] = res["accuracy"]
    metrics["length_baseline_accuracy"] = base["accuracy"]
    chosen = np.array([c for c, rej in zip(res["scores_chosen"], res["scores_rejected"],
                                           strict=True) for _ in rej])
    rejected = np.array([x for rej in res["scores_rejected"] for x in rej])
    return res, metrics, chosen, rejected


def run_evaluation(
    model: RewardModel | PreferenceModel,
    pairs: Sequence[Comparison],
    suite: str = "pairs",
    probes: Sequence[str] = (),
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    subset_mapping: Mapping[str, Sequence[str]] | None = None,
    probe_options: Mapping[str, Mapping[str, Any]] | None = None,
    n_bins: int = 10,
) -> dict:
    """Evaluate ``model`` on ``pairs`` with ``suite`` and ``probes``; JSON-serializable result.

    ``progress`` (optional) is called with a short stage name before each
    stage. ``probe_options`` maps a probe name to extra keyword arguments. A probe
    named by an alias (``brightness``) is reported under its registered name.
    Probes that need pairs run on the (chosen, rejected) pairs of the suite
    (for one-to-many: the chosen against each rejected response).
    """
    if suite not in SUITES:
        raise ValueError(f"field 'suite': unknown {suite!r}; choose one of {SUITES}")
    chosen_probes = {PROBES.canonical(name): PROBES.get(name) for name in probes}
    for name, probe in chosen_probes.items():
        if not probe.pairwise:
            require_scalar(model, f"probe {name!r}", pairwise_probes())
    if not pairs:
        raise ValueError("field 'pairs': nothing to evaluate")
    modality = modality_of_all([r for p in pairs for r in p.responses]).name
    for name, probe in chosen_probes.items():
        probe.check_modality(name, modality)
    note = progress or (lambda _stage: None)
    note(f"suite:{suite}")
    suite_res, metrics, chosen, rejected = _run_suite(model, pairs, suite, subset_mapping)
    flat_pairs = list(pairs) if suite == "pairs" else _expand_groups(pairs)
    note("calibration")
    if is_preference_model(model):
        calib = preference_calibration(model, flat_pairs, n_bins=n_bins)
    else:
        calib = pair_calibration(chosen, rejected, n_bins=n_bins)
    metrics.update(ece=calib["ece"], brier=calib["brier"], nll=calib["nll"])
    probe_res: dict[str, dict] = {}
    options = probe_options or {}
    for name, probe in chosen_probes.items():
        note(f"probe:{name}")
        probe_res[name] = probe(model, flat_pairs, seed=seed, **dict(options.get(name, {})))
        metrics.update(probe.headline(probe_res[name]))
    directions = higher_is_better()
    return to_jsonable({
        "rewardlab_version": __version__,
        "suite": suite,
        "seed": seed,
        "n_records": len(pairs),
        "n_pairs": len(flat_pairs),
        "data_fingerprint": fingerprint(pairs),
        "metrics": metrics,
        "higher_is_better": {k: directions[k] for k in metrics},
        "suite_results": suite_res,
        "calibration": calib,
        "probes": probe_res,
    })

