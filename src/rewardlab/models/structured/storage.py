"""A structured model on disk: ``model.safetensors`` plus ``config.json``.

Every structured model saves its tensors under prefixes (``head.*``,
``normalizer.*``, ``module.*``) and its options, backbone config and
``format`` in the JSON; the directory is written under a temporary name and
swapped into place (:func:`rewardlab.atomic.atomic_directory`). Loading reads
safetensors and JSON only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from rewardlab.atomic import atomic_directory, write_json_atomic
from rewardlab.models.io import read_model_config, read_tensors


def save_directory(directory: str | Path, tensors: dict[str, torch.Tensor], config: dict) -> Path:
    """Write ``model.safetensors`` and ``config.json`` to ``directory`` atomically."""
    from safetensors.torch import save_file

    with atomic_directory(directory) as staging:
        save_file(
            {k: v.detach().contiguous() for k, v in tensors.items()}, staging / "model.safetensors"
        )
        write_json_atomic(staging / "config.json", config)
    return Path(directory)


def read_directory(directory: str | Path, format: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(config, tensors)`` of a directory written by :func:`save_directory`."""
    _, config = read_model_config(directory, format)
    return config, read_tensors(Path(directory) / "model.safetensors")


def prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix + "."``, with the prefix removed."""
    start = len(prefix) + 1
    return {k[start:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
