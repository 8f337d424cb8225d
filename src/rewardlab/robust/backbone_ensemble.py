"""Ensembles whose members differ by backbone: train, score, save and load as one directory.

Eisenstein et al. (2023), "Helping or Herding? Reward Model Ensembles Mitigate
but do not Eliminate Reward Hacking", find that members differing in their
*pretraining* seed disagree far more, and so protect better against reward
hacking, than members sharing a pretrained model and differing only in the
fine-tuning seed. With frozen backbones the analogue is a different backbone
per sub-model (``encoder:A``, ``encoder:B``, ``hashing``): each spec gets its
own :class:`~rewardlab.models.reward_model.TrainedRewardModel`, trained by
:func:`~rewardlab.models.training.fit.train_reward_model` with ``config`` except for the
seed, which is ``config.seed + i`` for the i-th spec (so two entries of the
same spec still differ). A sub-model may itself have ``config.n_members``
batched heads; the ensemble's members are all of them, stacked in spec order:

    score_members(x, y) = [R_0(x, y); R_1(x, y); …]   shape (Σ_i K_i, n),

where R_i is sub-model i's ``(K_i, n)`` member rewards. ``score`` is their mean,
as for a single model; pick a robust aggregation with
:func:`rewardlab.load.load_reward_model` or
:class:`~rewardlab.robust.ensemble.AggregatedRewardModel`.

Saved layout (one directory, written under a temporary name and renamed)::

    ensemble_dir/
      config.json     {"format": "rewardlab-ensemble", "members": ["member-0", …],
                       "backbones": [...], "aggregate": {"name", "params", "center"}, …}
      member-0/       a normal model directory (rewardlab.models.io.save_model)
      member-1/
      metrics.json    (optional)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import rewardlab
from rewardlab.atomic import atomic_directory, write_json_atomic
from rewardlab.data.record import Comparison
from rewardlab.features.backbones import build_backbone
from rewardlab.features.base import ProgressCallback
from rewardlab.models.io import load_model, read_json_object, read_model_config, save_model
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.fit import TrainReport, train_reward_model
from rewardlab.protocols import check_lengths
from rewardlab.registry import UnknownNameError
from rewardlab.robust.aggregate import AGGREGATIONS

ENSEMBLE_FORMAT = "rewardlab-ensemble"
ENSEMBLE_FORMAT_VERSION = 1

SpecCallback = Callable[[int, int, str], None]
"""Called as ``on_member(i, total, spec)`` before sub-model ``i`` is trained."""


def aggregation_entry(
    aggregate: str = "mean", center: bool = False, params: dict[str, float] | None = None
) -> dict[str, Any]:
    """The ``aggregate`` entry of a config: ``{"name", "params", "center"}``, name checked."""
    AGGREGATIONS.get(aggregate)
    return {"name": aggregate, "params": dict(params or {}), "center": bool(center)}


class BackboneEnsemble:
    """Sub-models on different backbones; implements ``RewardModel`` and ``MemberScorer``.

    Args:
        models: the trained sub-models, in spec order.
        aggregation: the default aggregation recorded in the saved config
            (see :func:`aggregation_entry`); loading uses it unless told otherwise.
        reports: the training report of each sub-model, when just trained.
    """

    def __init__(
        self,
        models: Sequence[TrainedRewardModel],
        aggregation: dict[str, Any] | None = None,
        reports: Sequence[TrainReport] = (),
    ) -> None:
        if len(models) == 0:
            raise ValueError("models: a backbone ensemble needs at least one sub-model")
        self.models = tuple(models)
        self.aggregation = aggregation or aggregation_entry()
        self.reports = tuple(reports)

    @property
    def n_members(self) -> int:
        """Σ_i K_i: every head of every sub-model."""
        return sum(model.n_members for model in self.models)

    @property
    def backbones(self) -> list[dict[str, Any]]:
        return [model.config["backbone"] for model in self.models]

    @property
    def config(self) -> dict[str, Any]:
        """The ``config.json`` of the saved ensemble."""
        return {
            "format": ENSEMBLE_FORMAT,
            "format_version": ENSEMBLE_FORMAT_VERSION,
            "id": "rewardlab-ensemble-" + "+".join(b["kind"] for b in self.backbones),
            "rewardlab_version": rewardlab.__version__,
            "members": [f"member-{i}" for i in range(len(self.models))],
            "member_sizes": [model.n_members for model in self.models],
            "n_members": self.n_members,
            "backbones": self.backbones,
            "aggregate": self.aggregation,
        }

    @property
    def id(self) -> str:
        return str(self.config["id"])

    def score_members(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Every sub-model's member rewards stacked in spec order, shape ``(Σ K_i, n)``."""
        check_lengths(prompts, responses)
        return np.vstack([m.score_members(prompts, responses, progress) for m in self.models])

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Mean over all members."""
        return self.score_members(prompts, responses).mean(axis=0)

    def score_with_uncertainty(
        self, prompts: Sequence[str], responses: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mean over members, population std across members)."""
        members = self.score_members(prompts, responses)
        return members.mean(axis=0), members.std(axis=0)


def train_backbone_ensemble(
    train_records: Sequence[Comparison],
    backbone_specs: Sequence[str],
    config: TrainConfig | None = None,
    val_records: Sequence[Comparison] = (),
    data_fingerprint: str | None = None,
    aggregation: dict[str, Any] | None = None,
    on_member: SpecCallback | None = None,
) -> BackboneEnsemble:
    """Train one sub-model per backbone spec (seed ``config.seed + i``) on the same records."""
    if len(backbone_specs) == 0:
        raise ValueError("backbone_specs: give at least one backbone spec")
    config = config or TrainConfig()
    models, reports = [], []
    for i, spec in enumerate(backbone_specs):
        if on_member is not None:
            on_member(i, len(backbone_specs), spec)
        model, report = train_reward_model(
            train_records,
            build_backbone(spec),
            replace(config, seed=config.seed + i),
            val_records,
            data_fingerprint=data_fingerprint,
        )
        models.append(model)
        reports.append(report)
    return BackboneEnsemble(models, aggregation, reports)


def save_backbone_ensemble(
    ensemble: BackboneEnsemble, directory: str | Path, metrics: dict | None = None
) -> Path:
    """Write ``ensemble`` to ``directory`` as one unit (replacing what was there)."""
    config = ensemble.config
    with atomic_directory(directory) as staging:
        for name, model in zip(config["members"], ensemble.models, strict=True):
            save_model(model, staging / name)
        write_json_atomic(staging / "config.json", config)
        if metrics is not None:
            write_json_atomic(staging / "metrics.json", metrics)
    return Path(directory)


def read_config(directory: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a model or ensemble directory, or a clear error."""
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a rewardlab model: no config.json")
    return read_json_object(path)


def saved_aggregation(config: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The config's ``aggregate`` entry checked (default: mean, no centering)."""
    saved = config.get("aggregate")
    if saved is None:
        return aggregation_entry()
    if (
        not isinstance(saved, dict)
        or not isinstance(saved.get("name", "mean"), str)
        or not isinstance(saved.get("params", {}), dict)
        or not isinstance(saved.get("center", False), bool)
    ):
        raise ValueError(
            f"{path}: field 'aggregate': expected {{\"name\": str, \"params\": object, "
            f"\"center\": bool}}, got {saved!r}"
        )
    try:
        return aggregation_entry(
            saved.get("name", "mean"), saved.get("center", False), saved.get("params")
        )
    except UnknownNameError as err:
        raise ValueError(f"{path}: field 'aggregate.name': {err}") from None


def load_backbone_ensemble(directory: str | Path) -> BackboneEnsemble:
    """Load an ensemble saved by :func:`save_backbone_ensemble`."""
    directory = Path(directory)
    path, config = read_model_config(directory, ENSEMBLE_FORMAT)
    members = config.get("members")
    if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
        raise ValueError(f"{path}: field 'members': expected a non-empty list of folder names")
    for name in members:
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"{path}: field 'members': {name!r} is not a plain folder name")
    aggregation = saved_aggregation(config, path)
    return BackboneEnsemble([load_model(directory / name) for name in members], aggregation)
