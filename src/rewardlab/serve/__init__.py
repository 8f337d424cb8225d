"""rewardlab.serve: an HTTP reward server every RL framework can call, and its client.

``create_app(model, settings)`` builds the FastAPI app (:mod:`.app`);
``RemoteRewardModel(url)`` is a ``RewardModel`` that scores through it
(:mod:`.client`). Names load lazily, so ``import rewardlab.serve`` needs
neither fastapi nor httpx.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BackgroundServer": "rewardlab.serve.runner",
    "RemoteError": "rewardlab.serve.client",
    "RemoteRewardModel": "rewardlab.serve.client",
    "ServeSettings": "rewardlab.serve.settings",
    "create_app": "rewardlab.serve.app",
    "run_server": "rewardlab.serve.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rewardlab.serve' has no attribute {name!r}")
