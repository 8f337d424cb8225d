"""A trained reward model: a backbone, a feature normalizer and K heads.

``score`` is the mean over members (the plain reward of a single model);
``score_members`` gives every member's reward for robust aggregation
(``rewardlab.robust``); ``score_with_uncertainty`` gives the spread across
members, or, for a single model whose head has dropout, across MC-dropout
passes (Gal & Ghahramani, 2016; as used for reward uncertainty in UPO/UP-RLHF).

A backbone that also computes its features in torch from a pixel tensor
(``encode_pixels(prompts, pixels) -> (n, d)``, differentiable; an image
backbone) makes the model a :class:`PixelTrainedRewardModel`, whose
``score_pixels`` is the same mean member reward as a function of the pixels
(:class:`~rewardlab.protocols.PixelRewardModel`; gradient attacks and
AlignProp use it). :func:`trained_reward_model` picks the class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rewardlab.features.backbones import check_modality
from rewardlab.features.base import Backbone, ProgressCallback
from rewardlab.protocols import Response, check_lengths


class TrainedRewardModel:
    """Implements ``RewardModel`` and ``UncertainRewardModel``."""

    def __init__(
        self,
        backbone: Backbone,
        normalizer: torch.nn.Module,
        head: torch.nn.Module,
        config: dict[str, Any],
        mc_passes: int = 20,
    ) -> None:
        self.backbone = backbone
        self.normalizer = normalizer
        self.head = head.eval()
        self.config = config
        self.mc_passes = mc_passes

    @property
    def n_members(self) -> int:
        return int(self.config["n_members"])

    @property
    def id(self) -> str:
        return str(self.config.get("id", "rewardlab-model"))

    def features(
        self,
        prompts: Sequence[str],
        responses: Sequence[Response],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        check_lengths(prompts, responses)
        check_modality(self.backbone, responses)
        return self.backbone.encode(prompts, responses, progress)

    def rewards_from_features(self, features: np.ndarray, dropout: bool = False) -> np.ndarray:
        """Member rewards (K, n) of precomputed backbone features."""
        self.head.train(dropout)
        with torch.inference_mode():
            x = self.normalizer.transform(features)
            rewards = self.head(x.expand(self.n_members, -1, -1)).double().numpy()
        self.head.eval()
        return rewards

    def score_members(
        self,
        prompts: Sequence[str],
        responses: Sequence[Response],
        progress: ProgressCallback | None = None,
    ) -> np.ndarray:
        """Every member's reward, shape (K, n)."""
        return self.rewards_from_features(self.features(prompts, responses, progress))

    def score(self, prompts: Sequence[str], responses: Sequence[Response]) -> np.ndarray:
        return self.score_members(prompts, responses).mean(axis=0)

    def score_with_uncertainty(
        self, prompts: Sequence[str], responses: Sequence[Response]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mean reward, population std across members or MC-dropout passes)."""
        features = self.features(prompts, responses)
        members = self.rewards_from_features(features)
        if self.n_members > 1 or not self.has_dropout():
            return members.mean(axis=0), members.std(axis=0)
        torch.manual_seed(0)
        passes = np.stack(
            [self.rewards_from_features(features, dropout=True)[0] for _ in range(self.mc_passes)]
        )
        return members[0], passes.std(axis=0)

    def has_dropout(self) -> bool:
        """Whether the head has dropout, so one member still gives a spread (MC dropout)."""
        return any(
            isinstance(m, torch.nn.Dropout) and m.p > 0 for m in self.head.modules()
        )


class PixelTrainedRewardModel(TrainedRewardModel):
    """A trained model over a backbone with ``encode_pixels``: also a ``PixelRewardModel``."""

    def score_pixels(self, prompts: Sequence[str], pixels: torch.Tensor) -> torch.Tensor:
        """mean_k r_k for N×H×W×3 pixels in [0, 1], differentiable in ``pixels``."""
        return self.score_members_pixels(prompts, pixels).mean(dim=0)

    def score_members_pixels(self, prompts: Sequence[str], pixels: torch.Tensor
                             ) -> torch.Tensor:
        """Every member's r_k, shape (K, N), differentiable in ``pixels`` (what ``score_pixels``
        averages; an aggregation of the ensemble reads it)."""
        check_lengths(prompts, pixels)
        self.head.eval()
        features = self.backbone.encode_pixels(prompts, pixels)  # type: ignore[attr-defined]
        x = self.normalizer(features.float())
        return self.head(x.expand(self.n_members, -1, -1))


def trained_reward_model(
    backbone: Backbone, normalizer: torch.nn.Module, head: torch.nn.Module,
    config: dict[str, Any],
) -> TrainedRewardModel:
    """A :class:`PixelTrainedRewardModel` when ``backbone`` has ``encode_pixels``, else a
    :class:`TrainedRewardModel`."""
    kind = PixelTrainedRewardModel if hasattr(backbone, "encode_pixels") else TrainedRewardModel
    return kind(backbone, normalizer, head, config)
