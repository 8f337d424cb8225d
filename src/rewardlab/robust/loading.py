"""Load any saved reward model, with the ensemble aggregation chosen at score time.

``load_reward_model(directory, aggregate, center, **params)`` reads
``config.json`` and dispatches on its ``format``: a single model directory
(``rewardlab-reward-model``, :func:`rewardlab.models.io.load_model`) or a
multi-backbone ensemble (``rewardlab-ensemble``,
:mod:`rewardlab.robust.backbone_ensemble`). A model with K > 1 members (batched
heads, backbones, or both) is wrapped in
:class:`~rewardlab.robust.ensemble.AggregatedRewardModel`, so ``score`` returns

    R(x, y) = agg_k r̃_k(x, y),   r̃_k = r_k − (per-prompt mean of r_k) if center else r_k,

with agg one of :data:`~rewardlab.robust.aggregate.AGGREGATIONS` (mean, median,
min/wco and uwo from Coste et al., 2023, "Reward Model Ensembles Help Mitigate
Overoptimization"; mean_minus_std from Eisenstein et al., 2023; brme from Yan
et al., 2024). Which aggregation: the ``aggregate`` argument, else the config's
``aggregate`` entry ``{"name", "params", "center"}``, else ``mean`` without
centering. Saved parameters apply only to the saved aggregation; ``params``
given here override them. A single-member model is returned as loaded (every
aggregation of one member is that member) unless centering is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rewardlab.models.io import FORMAT as MODEL_FORMAT
from rewardlab.models.io import load_model
from rewardlab.models.transformer_rm import is_transformer_model_dir, load_transformer_model
from rewardlab.models.zoo import LOADERS_BY_FORMAT
from rewardlab.protocols import RewardModel
from rewardlab.robust.aggregate import AGGREGATIONS
from rewardlab.robust.backbone_ensemble import (
    ENSEMBLE_FORMAT,
    load_backbone_ensemble,
    read_config,
    saved_aggregation,
)
from rewardlab.robust.ensemble import AggregatedRewardModel


def check_aggregation_params(aggregate: str, params: dict[str, float]) -> None:
    """Raise ``ValueError`` naming the aggregation when it does not accept ``params``."""
    fn = AGGREGATIONS.get(aggregate)
    try:
        fn(np.zeros((2, 1)), **params)
    except TypeError:
        raise ValueError(
            f"aggregation {aggregate!r} does not take parameters {sorted(params)}"
        ) from None


def load_reward_model(
    directory: str | Path,
    aggregate: str | None = None,
    center: bool | None = None,
    **params: float,
) -> RewardModel:
    """A reward model from ``directory``; ensembles come aggregated (see the module doc)."""
    directory = Path(directory)
    if is_transformer_model_dir(directory):
        model = load_transformer_model(directory)
        if aggregate is None and not center and model.n_members == 1:
            return model
        return AggregatedRewardModel(model, aggregate=aggregate or "mean", center=bool(center),
                                     **params)
    config = read_config(directory)
    fmt = config.get("format")
    if fmt in LOADERS_BY_FORMAT:
        if aggregate is not None or center:
            raise ValueError(f"{directory}: a {fmt} model has no members to aggregate")
        return LOADERS_BY_FORMAT[fmt](directory)
    if fmt == ENSEMBLE_FORMAT:
        model = load_backbone_ensemble(directory)
    elif fmt == MODEL_FORMAT:
        model = load_model(directory)
    else:
        known = ", ".join(sorted([MODEL_FORMAT, ENSEMBLE_FORMAT, *LOADERS_BY_FORMAT]))
        raise ValueError(
            f"{directory / 'config.json'}: field 'format' is {fmt!r}, expected one of {known}"
        )
    saved = saved_aggregation(config, directory / "config.json")
    name = saved["name"] if aggregate is None else aggregate
    chosen = dict(saved["params"]) if name == saved["name"] else {}
    chosen.update(params)
    check_aggregation_params(name, chosen)
    centered = saved["center"] if center is None else center
    if model.n_members == 1 and not centered:
        return model
    return AggregatedRewardModel(model, aggregate=name, center=centered, **chosen)
