"""Train a reward model from comparison records: features once, then heads.

``train_reward_model`` turns records into the training units its loss needs
(pairs, tie pairs, rankings or rated responses; ``rewardlab.models.training.units``),
encodes every distinct (prompt, response) once through the backbone (cached
for the encoder), fits the heads (``rewardlab.models.training.loop``) and returns a
ready :class:`TrainedRewardModel` with its config and training history.

A model can continue from another one (``init``): its normalizer and head
weights are the starting point, e.g. Bradley-Terry initialized from a
regression model (Wang et al., "HelpSteer2-Preference", 2024, §4), which then
trains the regression head's weighted-sum reward Σ_a w_a r_a with BT.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import rewardlab
from rewardlab.data.modality import jsonable_response
from rewardlab.data.record import Comparison
from rewardlab.features.backbones import check_modality
from rewardlab.features.base import Backbone, ProgressCallback
from rewardlab.models.heads import MultiAttributeHead
from rewardlab.models.losses import LOSSES, Objective
from rewardlab.models.reward_model import TrainedRewardModel, trained_reward_model
from rewardlab.models.training.config import TrainConfig
from rewardlab.models.training.loop import EpochCallback, UnitFeatures, fit_units
from rewardlab.models.training.units import UnitTable, pair_units, point_units, ranking_units


@dataclass
class TrainReport:
    n_train_pairs: int
    n_val_pairs: int
    skipped_ties: int
    skipped_unranked: int
    encode_seconds: float
    fit_seconds: float
    best_epoch: list[int]
    history: list[dict[str, Any]]
    unit_kind: str = "pairs"
    skipped_unrated: int = 0
    l2: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_units(
    records: Sequence[Comparison],
    objective: Objective,
    params: dict[str, Any],
    attributes: Sequence[str] | None = None,
) -> UnitTable:
    """The units ``objective`` trains on; ``attributes`` fixes the targets' columns."""
    if objective.units in ("pairs", "ties"):
        return pair_units(
            records, objective.units == "ties", params.get("strength_from"), objective.needs_margin
        )
    if objective.units == "rankings":
        return ranking_units(records)
    if objective.outputs == "reward":  # 0/1 labels
        label = params.get("label", "label")
        table = point_units(records, (label,))
        bad = ~np.isin(table.units.target[:, 0], (0.0, 1.0))
        if bad.any():
            value = table.units.target[np.argmax(bad), 0]
            raise ValueError(
                f"field 'ratings.{label}': labels must be 0 or 1, got {value:g} for response "
                f"{str(jsonable_response(table.responses[int(np.argmax(bad))]))[:60]!r}"
            )
        return table
    return point_units(records, attributes or params.get("attributes"))


def train_reward_model(
    train_records: Sequence[Comparison],
    backbone: Backbone,
    config: TrainConfig | None = None,
    val_records: Sequence[Comparison] = (),
    data_fingerprint: str | None = None,
    encode_progress: ProgressCallback | None = None,
    on_epoch: EpochCallback | None = None,
    init: TrainedRewardModel | None = None,
    on_fold: ProgressCallback | None = None,
) -> tuple[TrainedRewardModel, TrainReport]:
    """Fit a (possibly ensemble) reward model on ``train_records``.

    Early stopping watches ``val_records`` when given, else the training loss.
    ``init`` continues from a trained model (same backbone and member count).
    ``encode_progress(done, total)``, ``on_fold(done, folds)`` (the cross-validation of
    ``l2="auto"``) and ``on_epoch(epoch, epochs, record)`` follow the long phases in turn.
    """
    config = config or TrainConfig()
    objective = LOSSES.get(config.loss)
    if init is not None:
        _check_init(init, backbone, config)
    init_attrs = getattr(init.head, "attributes", None) if init is not None else None
    train_table = build_units(train_records, objective, config.loss_params, init_attrs)
    if len(train_table.units) == 0:
        raise ValueError(
            f"no trainable {objective.units} for loss {config.loss!r} in {len(train_records)} "
            f"records ({train_table.skipped_ties} ties, {train_table.skipped_unranked} unranked, "
            f"{train_table.skipped_unrated} unrated)"
        )
    val_table = build_units(val_records, objective, config.loss_params, train_table.attributes)
    check_modality(backbone, train_table.responses + val_table.responses)
    start = time.perf_counter()
    features = backbone.encode(
        train_table.prompts + val_table.prompts,
        train_table.responses + val_table.responses,
        encode_progress,
    )
    n = len(train_table.prompts)
    train = UnitFeatures(features[:n], train_table.units, prompt_groups(train_table))
    val = UnitFeatures(features[n:], val_table.units)
    encoded = time.perf_counter()
    if train.units.margin is None or config.loss_params.get("use_margin") is False:
        val.units.margin = None
    elif val.units.margin is None:
        val.units.margin = np.zeros(len(val), np.float32)
    head, normalizer, head_config = _initial_head(init, objective, config, train_table, features)
    free = (backbone.length_column,) if hasattr(backbone, "length_column") else ()
    result = fit_units(train, val if len(val) else None, config, on_epoch, head, normalizer, free,
                       on_fold)
    fitted = time.perf_counter()
    model_config = {
        "id": f"rewardlab-{head_config['name']}-{config.loss}",
        "rewardlab_version": rewardlab.__version__,
        "backbone": backbone.config(),
        "feature_dim": int(features.shape[1]),
        "head": head_config,
        "loss": {
            "name": config.loss,
            "params": config.loss_params,
            "learned": {k: v.tolist() for k, v in result.learned.items()},
        },
        "n_members": config.n_members,
        "train": config.to_dict(),
        "l2": {
            "value": result.l2,
            "free_columns": list(free),
            "selection": result.l2_selection.to_dict() if result.l2_selection else None,
        },
        "data_fingerprint": data_fingerprint,
    }
    if init is not None:
        model_config["init_from"] = {
            "id": init.id,
            "loss": init.config.get("loss", {}).get("name"),
            "data_fingerprint": init.config.get("data_fingerprint"),
        }
    model = trained_reward_model(backbone, result.normalizer, result.head, model_config)
    report = TrainReport(
        n_train_pairs=len(train_table.units),
        n_val_pairs=len(val_table.units),
        skipped_ties=train_table.skipped_ties + val_table.skipped_ties,
        skipped_unranked=train_table.skipped_unranked + val_table.skipped_unranked,
        encode_seconds=encoded - start,
        fit_seconds=fitted - encoded,
        best_epoch=result.best_epoch,
        history=result.history,
        unit_kind=objective.units,
        skipped_unrated=train_table.skipped_unrated + val_table.skipped_unrated,
        l2=model_config["l2"],
    )
    return model, report


def prompt_groups(table: UnitTable) -> np.ndarray:
    """Each unit's prompt, as an integer id: the groups cross-validation keeps whole."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(table.prompts[row], len(ids)) for row in table.units.index[:, 0]])


def _check_init(init: TrainedRewardModel, backbone: Backbone, config: TrainConfig) -> None:
    if init.backbone.config() != backbone.config():
        raise ValueError(
            f"init model backbone {init.backbone.config()} differs from {backbone.config()}"
        )
    if init.n_members != config.n_members:
        raise ValueError(
            f"init model has {init.n_members} members, training asks for {config.n_members}"
        )


def _initial_head(init, objective: Objective, config: TrainConfig, table: UnitTable, features):
    """(head or None, normalizer or None, head config to save); None = fresh from config."""
    if init is not None:
        return copy.deepcopy(init.head), copy.deepcopy(init.normalizer), dict(init.config["head"])
    if objective.outputs == "attributes":
        torch.manual_seed(config.seed)
        head = MultiAttributeHead(
            features.shape[1],
            config.n_members,
            attributes=table.attributes,
            weights=config.loss_params.get("weights"),
            base=config.head,
            base_params=config.head_params,
        )
        return head, None, {"name": "multi-attribute", "params": head.params()}
    return None, None, {"name": config.head, "params": config.head_params}
