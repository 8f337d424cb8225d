"""Save and load a trained reward model as a directory.

Layout::

    model_dir/
      config.json        backbone, head, loss, training config, data fingerprint
      model.safetensors  head parameters ("head.*") and normalizer ("normalizer.*")
      metrics.json       metrics of its last evaluation (optional)

The directory is written under a temporary name and swapped into place
(:func:`rewardlab.atomic.atomic_directory`), so a crash never leaves a
half-written model and the path holds the old or the new one throughout.
Loading reads safetensors and JSON only (nothing is unpickled) and needs no
network for local backbones; a malformed file, a field of the wrong type or a
tensor of the wrong shape is a :class:`~rewardlab.data.errors.DataError` naming
the file and the field; so is a tensor that is not a floating-point one or holds
NaN or ±Inf (:func:`read_tensors`): such a model would score every text as NaN,
and the strict JSON outputs would write those scores as ``null``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardlab.atomic import atomic_directory, recover, write_json_atomic
from rewardlab.data.errors import DataError
from rewardlab.data.io import read_json_object
from rewardlab.features.backbones import backbone_from_config
from rewardlab.models.heads import HEADS
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.reward_model import TrainedRewardModel, trained_reward_model

FORMAT = "rewardlab-reward-model"
FORMAT_VERSION = 1
CONFIG_FILES = ("config.json", "rewardlab.json")  # batched/structured/ensemble, transformer


def read_tensors(path: Path) -> dict[str, Any]:
    """The tensors of a safetensors file; a :class:`DataError` naming it when it is not
    one, or naming the first tensor that is not floating-point or holds NaN or ±Inf."""
    import torch
    from safetensors.torch import load_file

    if not path.is_file():
        raise DataError("missing: the model folder is incomplete", path=str(path))
    try:
        tensors = load_file(path)
    except Exception as err:  # safetensors raises its own error type for every bad header
        raise DataError(f"not a valid safetensors file ({err})", path=str(path)) from None
    for name, tensor in tensors.items():
        if not tensor.is_floating_point():
            raise DataError(
                f"tensor {name!r} is {str(tensor.dtype).removeprefix('torch.')}; model weights "
                "are floating-point", path=str(path),
            )
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise DataError(
                f"tensor {name!r} holds {bad} NaN or infinite value(s) of {tensor.numel()}; "
                "the model would score every text as NaN", path=str(path),
            )
    return tensors


def field_of(config: dict[str, Any], name: str, kind: type | tuple[type, ...], path: Path) -> Any:
    """``config[name]`` checked to be of ``kind`` (``bool`` never passes for ``int``)."""
    value = config.get(name)
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        value = None
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(
            f"expected {names}, got {type(value).__name__ if name in config else 'nothing'}",
            path=str(path), field=name,
        )
    return value


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


def read_model_config(
    directory: str | Path, format: str, config_name: str = "config.json"
) -> tuple[Path, dict[str, Any]]:
    """``(path, config)`` of the saved model in ``directory`` whose config names ``format``.

    A folder left aside by a writer killed mid-swap is put back first; a missing
    config is ``FileNotFoundError``, a malformed one or another format one error
    naming the file and the field.
    """
    directory = Path(directory)
    recover(directory)
    path = directory / config_name
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a rewardlab model: no {config_name}")
    config = read_json_object(path)
    if config.get("format") != format:
        raise ValueError(f"{path}: field 'format' is {config.get('format')!r}, not {format!r}")
    return path, config


def load_model(directory: str | Path) -> TrainedRewardModel:
    """Load a model saved by :func:`save_model`."""
    directory = Path(directory)
    config_path, config = read_model_config(directory, FORMAT)
    feature_dim = field_of(config, "feature_dim", int, config_path)
    n_members = field_of(config, "n_members", int, config_path)
    head_cfg = field_of(config, "head", dict, config_path)
    backbone_cfg = field_of(config, "backbone", dict, config_path)
    name = field_of(head_cfg, "name", str, config_path)
    params = head_cfg.get("params", {})
    if not isinstance(params, dict):
        raise DataError("expected an object", path=str(config_path), field="head.params")
    tensors_path = directory / "model.safetensors"
    tensors = read_tensors(tensors_path)
    try:
        head = HEADS.get(name)(feature_dim, n_members, **params)
    except (TypeError, ValueError, KeyError) as err:
        raise DataError(f"cannot build the head: {err}", path=str(config_path), field="head") from None
    normalizer = Normalizer(feature_dim)
    try:
        head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
        normalizer.load_state_dict(
            {k[11:]: v for k, v in tensors.items() if k.startswith("normalizer.")}
        )
    except RuntimeError as err:
        first = " ".join(str(err).split())[:300]
        raise DataError(
            f"tensors do not match config.json: {first}", path=str(tensors_path)
        ) from None
    try:
        backbone = backbone_from_config(backbone_cfg)
    except (TypeError, ValueError, KeyError) as err:
        raise DataError(str(err), path=str(config_path), field="backbone") from None
    return trained_reward_model(backbone, normalizer, head, config)
