"""Save and load a trained reward model as a directory.

Layout::

    model_dir/
      config.json        backbone, head, loss, training config, data fingerprint
      model.safetensors  head parameters ("head.*") and normalizer ("normalizer.*")
      metrics.json       metrics of its last evaluation (optional)

The directory is written under a temporary name and renamed into place, so a
crash never leaves a half-written model. Loading reads safetensors and JSON
only (nothing is unpickled) and needs no network for local backbones.
"""

from __future__ import annotations

import json
from pathlib import Path

from rewardlab.atomic import atomic_directory, write_json_atomic
from rewardlab.features.base import backbone_from_config
from rewardlab.models.heads import HEADS
from rewardlab.models.reward_model import TrainedRewardModel
from rewardlab.models.train import Normalizer

FORMAT = "rewardlab-reward-model"
FORMAT_VERSION = 1


def save_model(
    model: TrainedRewardModel, directory: str | Path, metrics: dict | None = None
) -> Path:
    """Write ``model`` to ``directory`` (replacing an existing model there)."""
    from safetensors.torch import save_file

    tensors = {f"head.{k}": v.contiguous() for k, v in model.head.state_dict().items()}
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    config = dict(model.config, format=FORMAT, format_version=FORMAT_VERSION)
    with atomic_directory(directory) as staging:
        save_file(tensors, staging / "model.safetensors")
        write_json_atomic(staging / "config.json", config)
        if metrics is not None:
            write_json_atomic(staging / "metrics.json", metrics)
    return Path(directory)


def save_metrics(directory: str | Path, metrics: dict) -> None:
    """Record the metrics of the model's latest evaluation beside it."""
    write_json_atomic(Path(directory) / "metrics.json", metrics)


def load_model(directory: str | Path) -> TrainedRewardModel:
    """Load a model saved by :func:`save_model`."""
    from safetensors.torch import load_file

    directory = Path(directory)
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{directory} is not a rewardlab model: no config.json")
    config = json.loads(config_path.read_text())
    if config.get("format") != FORMAT:
        raise ValueError(f"{config_path}: field 'format' is {config.get('format')!r}, not {FORMAT!r}")
    tensors = load_file(directory / "model.safetensors")
    head_cfg = config["head"]
    head = HEADS.get(head_cfg["name"])(
        config["feature_dim"], config["n_members"], **head_cfg.get("params", {})
    )
    head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
    normalizer = Normalizer(config["feature_dim"])
    normalizer.load_state_dict(
        {k[11:]: v for k, v in tensors.items() if k.startswith("normalizer.")}
    )
    backbone = backbone_from_config(config["backbone"])
    return TrainedRewardModel(backbone, normalizer, head, config)
