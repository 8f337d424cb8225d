"""General preference model (GPM): preference embeddings with a skew-symmetric score.

Zhang et al., "Beyond Bradley-Terry Models: A General Preference Model for
Language Model Alignment", 2024 (arXiv:2410.02197). Each (prompt, response)
gets a unit-norm preference embedding v ∈ R^{2k} (a linear or MLP head on the
normalized backbone features, then v / ‖v‖), and

    s(y_i ≻ y_j | x) = ⟨R v_i, v_j⟩,   R = blockdiag(R_1, …, R_k),  R_l = [[0, −1], [1, 0]]
                     = Σ_l (v_i[2l] · v_j[2l+1] − v_i[2l+1] · v_j[2l])
    P(y_i ≻ y_j | x) = σ(s / τ)        (τ = 0.1 by default)

R is skew-symmetric, so s(i, j) = −s(j, i) and P(i ≻ j) + P(j ≻ i) = 1; the
probability is computed as σ(|z|) or 1 − σ(|z|) by the sign of z = s/τ, which
makes that sum exactly 1 in floating point. With k = 1, v_i = (cos θ_i, sin θ_i)
and s = sin(θ_j − θ_i): three responses 120° apart form a cycle A ≻ B ≻ C ≻ A
that no scalar reward can express. A GPM has no scalar reward, so it
implements :class:`~rewardlab.protocols.PreferenceModel` (``prob``) only.

Training minimizes −log σ(s(chosen, rejected)/τ) with AdamW, keeping the
parameters of the best validation loss (or training loss without validation).

Saved models are directories (``rewardlab.models.structured.storage``):
``model.safetensors`` with every tensor and ``config.json`` naming the format,
the backbone and the options; nothing is unpickled when loading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import rewardlab
from rewardlab.data.record import Comparison
from rewardlab.features.backbones import backbone_from_config
from rewardlab.features.base import Backbone
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.structured.base import STRUCTURED, StructuredFamily
from rewardlab.models.structured.pair_features import encode_pairs
from rewardlab.models.structured.storage import prefixed, read_directory, save_directory
from rewardlab.models.training.config import LoopOptions
from rewardlab.models.training.early_stopping import EpochLog, fit_with_early_stopping
from rewardlab.models.training.units import ranked_pairs
from rewardlab.options import redefault
from rewardlab.protocols import check_lengths

FORMAT = "rewardlab-gpm"


@dataclass
class GPMOptions(LoopOptions):
    """The shared loop options plus ``k``, the number of 2-D skew-symmetric blocks,
    ``hidden`` (> 0: an MLP head) and the temperature ``tau``."""

    weight_decay: float = redefault(LoopOptions, "weight_decay", 0.01)
    patience: int = redefault(LoopOptions, "patience", 5)
    k: int = 4
    hidden: int = 0
    tau: float = 0.1


def gpm_score(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """s = ⟨R v_first, v_second⟩ over the last axis (pairs of coordinates are blocks)."""
    return (first[..., 0::2] * second[..., 1::2] - first[..., 1::2] * second[..., 0::2]).sum(-1)


def skew_sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) computed so that ``skew_sigmoid(z) + skew_sigmoid(-z) == 1`` exactly."""
    z = np.asarray(z, dtype=np.float64)
    upper = 1.0 / (1.0 + np.exp(-np.abs(z)))
    return np.where(z >= 0, upper, 1.0 - upper)


class GPMHead(nn.Module):
    """Features (B, d) → unit-norm embeddings (B, 2k); linear or one hidden GELU layer."""

    def __init__(self, in_dim: int, k: int = 4, hidden: int = 0) -> None:
        super().__init__()
        out = 2 * k
        self.net = (
            nn.Linear(in_dim, out)
            if hidden <= 0
            else nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, out))
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.net(features), dim=-1)


class GeneralPreferenceModel:
    """Implements ``PreferenceModel``: P(first ≻ second | prompt) = σ(⟨R v₁, v₂⟩ / τ)."""

    def __init__(
        self, backbone: Backbone, normalizer: Normalizer, head: GPMHead, config: dict[str, Any]
    ) -> None:
        self.backbone = backbone
        self.normalizer = normalizer
        self.head = head.eval()
        self.config = config

    @property
    def tau(self) -> float:
        return float(self.config["options"]["tau"])

    def embed_features(self, features: np.ndarray) -> torch.Tensor:
        """Preference embeddings (n, 2k), float64, of backbone features."""
        with torch.inference_mode():
            x = self.normalizer.transform(features)
            return self.head(x).double()

    def embed(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        check_lengths(prompts, responses)
        return self.embed_features(self.backbone.encode(prompts, responses)).numpy()

    def prob_from_features(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        scores = gpm_score(self.embed_features(first), self.embed_features(second)).numpy()
        return skew_sigmoid(scores / self.tau)

    def prob(
        self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]
    ) -> np.ndarray:
        check_lengths(prompts, first, second)
        return self.prob_from_features(
            self.backbone.encode(prompts, first), self.backbone.encode(prompts, second)
        )


def _loss(head: GPMHead, xc: torch.Tensor, xr: torch.Tensor, tau: float) -> torch.Tensor:
    return -nn.functional.logsigmoid(gpm_score(head(xc), head(xr)) / tau).mean()


def fit_gpm_head(
    chosen: np.ndarray,
    rejected: np.ndarray,
    options: GPMOptions,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: EpochLog | None = None,
) -> tuple[Normalizer, GPMHead]:
    """Fit normalizer and embedding head on (chosen, rejected) feature pairs."""
    if len(chosen) == 0:
        raise ValueError("no training pairs")
    torch.manual_seed(options.seed)
    normalizer = Normalizer(chosen.shape[1]).fit(np.vstack([chosen, rejected]))
    xc, xr = normalizer.transform(chosen), normalizer.transform(rejected)
    vc, vr = (
        (normalizer.transform(a) for a in val) if val is not None and len(val[0]) else (None, None)
    )
    head = GPMHead(chosen.shape[1], options.k, options.hidden)

    def evaluate() -> dict[str, float]:
        log = {"train_loss": float(_loss(head, xc, xr, options.tau))}
        if vc is not None:
            log["val_loss"] = float(_loss(head, vc, vr, options.tau))
            log["val_accuracy"] = float((gpm_score(head(vc), head(vr)) > 0).float().mean())
        return log

    fit_with_early_stopping(
        head, lambda idx: _loss(head, xc[idx], xr[idx], options.tau), evaluate, len(xc),
        options, on_epoch,
    )
    return normalizer, head


def train_gpm(
    records: Sequence[Comparison],
    backbone: Backbone,
    options: GPMOptions | None = None,
    val_records: Sequence[Comparison] = (),
    on_epoch: EpochLog | None = None,
) -> GeneralPreferenceModel:
    """Fit a GPM on the pairs implied by ``records``' rankings."""
    options = options or GPMOptions()
    pairs = ranked_pairs(records)
    if not pairs:
        raise ValueError(f"no ranked pairs in {len(records)} records")
    chosen, rejected = encode_pairs(pairs, backbone)
    val = encode_pairs(ranked_pairs(val_records), backbone) if val_records else None
    normalizer, head = fit_gpm_head(chosen, rejected, options, val, on_epoch)
    config = {
        "format": FORMAT,
        "id": f"rewardlab-gpm-k{options.k}",
        "rewardlab_version": rewardlab.__version__,
        "backbone": backbone.config(),
        "feature_dim": int(chosen.shape[1]),
        "options": options.to_dict(),
        "n_train_pairs": int(len(chosen)),
        "skipped": pairs.skipped(),
    }
    return GeneralPreferenceModel(backbone, normalizer, head, config)


def save_gpm(model: GeneralPreferenceModel, directory: str | Path) -> Path:
    tensors = {f"head.{k}": v for k, v in model.head.state_dict().items()}
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    return save_directory(directory, tensors, model.config)


def load_gpm(directory: str | Path, backbone: Backbone | None = None) -> GeneralPreferenceModel:
    """Load a saved model; ``backbone`` replaces the one rebuilt from its config."""
    config, tensors = read_directory(directory, FORMAT)
    backbone = backbone or backbone_from_config(config["backbone"])
    options = config["options"]
    head = GPMHead(config["feature_dim"], options["k"], options["hidden"])
    head.load_state_dict(prefixed(tensors, "head"))
    normalizer = Normalizer(config["feature_dim"])
    normalizer.load_state_dict(prefixed(tensors, "normalizer"))
    return GeneralPreferenceModel(backbone, normalizer, head, config)


STRUCTURED.add(
    "gpm",
    StructuredFamily(
        GPMOptions, train_gpm, save_gpm, load_gpm, FORMAT, needs="rankings",
        summary="general preference model: skew-symmetric preference embeddings, "
        "P(a ≻ b) without a scalar reward (can be intransitive)",
    ),
)
