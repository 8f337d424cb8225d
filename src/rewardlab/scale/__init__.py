"""rewardlab.scale: batch scoring of whole files, locally or on a Ray cluster.

``score_file_local(model, input, output)`` and ``score_file_ray(model_dir,
input, output)`` write the same rows with the same ``reward`` column. Names
load lazily, so ``import rewardlab.scale`` does not import Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "score_file_local": "rewardlab.scale.local",
    "score_file_ray": "rewardlab.scale.ray_engine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rewardlab.scale' has no attribute {name!r}")
