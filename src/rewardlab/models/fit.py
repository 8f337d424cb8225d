"""Train a reward model from comparison records: features once, then heads.

``train_reward_model`` expands records to pairs, encodes every distinct
(prompt, response) once through the backbone (cached for the encoder), fits
the heads (``rewardlab.models.train``) and returns a ready
:class:`TrainedRewardModel` with its config and training history.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import rewardlab
from rewardlab.data.record import Comparison
from rewardlab.features.base import Backbone, ProgressCallback
from rewardlab.models.pairs import PairTable, pair_table
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.train import EpochCallback, PairFeatures, TrainConfig, fit_heads


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

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pair_features(
    backbone: Backbone, tables: Sequence[PairTable], progress: ProgressCallback | None = None
) -> list[PairFeatures]:
    """Encode all tables' pairs with one backbone call; split back per table."""
    prompts: list[str] = []
    responses: list[str] = []
    for table in tables:
        prompts += table.prompts + table.prompts
        responses += table.chosen + table.rejected
    features = backbone.encode(prompts, responses, progress)
    out, start = [], 0
    for table in tables:
        n = len(table)
        out.append(
            PairFeatures(
                features[start : start + n], features[start + n : start + 2 * n], table.margins()
            )
        )
        start += 2 * n
    return out


def train_reward_model(
    train_records: Sequence[Comparison],
    backbone: Backbone,
    config: TrainConfig | None = None,
    val_records: Sequence[Comparison] = (),
    data_fingerprint: str | None = None,
    encode_progress: ProgressCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> tuple[TrainedRewardModel, TrainReport]:
    """Fit a (possibly ensemble) reward model on ``train_records``.

    Early stopping watches ``val_records`` when given, else the training loss.
    """
    config = config or TrainConfig()
    train_table, val_table = pair_table(train_records), pair_table(val_records)
    if len(train_table) == 0:
        raise ValueError(
            f"no trainable pairs in {len(train_records)} records "
            f"({train_table.skipped_ties} ties, {train_table.skipped_unranked} unranked)"
        )
    start = time.perf_counter()
    train_features, val_features = pair_features(
        backbone, [train_table, val_table], encode_progress
    )
    encoded = time.perf_counter()
    if train_features.margin is None or config.loss_params.get("use_margin") is False:
        val_features.margin = None
    elif val_features.margin is None:
        val_features.margin = np.zeros(len(val_features), np.float32)
    result = fit_heads(
        train_features, val_features if len(val_features) else None, config, on_epoch
    )
    fitted = time.perf_counter()
    model_config = {
        "id": f"rewardlab-{config.head}-{config.loss}",
        "rewardlab_version": rewardlab.__version__,
        "backbone": backbone.config(),
        "feature_dim": int(train_features.chosen.shape[1]),
        "head": {"name": config.head, "params": config.head_params},
        "loss": {"name": config.loss, "params": config.loss_params},
        "n_members": config.n_members,
        "train": config.to_dict(),
        "data_fingerprint": data_fingerprint,
    }
    model = TrainedRewardModel(backbone, result.normalizer, result.head, model_config)
    report = TrainReport(
        n_train_pairs=len(train_table),
        n_val_pairs=len(val_table),
        skipped_ties=train_table.skipped_ties + val_table.skipped_ties,
        skipped_unranked=train_table.skipped_unranked + val_table.skipped_unranked,
        encode_seconds=encoded - start,
        fit_seconds=fitted - encoded,
        best_epoch=result.best_epoch,
        history=result.history,
    )
    return model, report
