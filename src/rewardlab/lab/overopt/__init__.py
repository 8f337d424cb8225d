"""The overoptimization lab: gold vs proxy reward under best-of-n, the exact
KL-regularized optimum and the policy-gradient path (Gao et al. 2023; Coste et
al. 2024), and constrained component rewards (Moskovitz et al., 2024,
``components``). ``run_overopt(OveroptConfig(...))`` runs it;
``report.write_report`` writes the JSON, the HTML report and the PNGs.

``run_overopt`` is imported on first use (it pulls in torch), so the CLI and
``pools`` load fast; ``OveroptConfig`` (:mod:`rewardlab.lab.overopt.config`) is light.
"""

from typing import Any

from rewardlab.lab.overopt.config import OveroptConfig
from rewardlab.lab.overopt.pools import SyntheticPoolConfig

__all__ = ["OveroptConfig", "SyntheticPoolConfig", "run_overopt"]


def __getattr__(name: str) -> Any:
    if name == "run_overopt":
        from rewardlab.lab.overopt import experiment

        return getattr(experiment, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
