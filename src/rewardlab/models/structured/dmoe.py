"""Double-layer mixture of experts by category (DMoERM).

Quan, "DMoERM: Recipes of Mixture-of-Experts for Effective Reward Modeling",
2024 (arXiv:2403.01197). The outer layer routes an input to the experts of
its category (task); the inner layer has M expert heads per category whose
outputs an aggregator MLP combines into the category's reward. On normalized
backbone features x̂, for category c:

    e_{c,m}(x) = u_{c,m} · x̂ + b_{c,m}                        (m = 1..M inner experts)
    r_c(x)     = w2_c · GELU(W1_c [e_{c,1}(x), …, e_{c,M}(x)] + b1_c) + b2_c

The outer router is hard when the category is known (one of the training
records' ``category`` values): r(x) = r_c(x). When it is not (no category
given, or one never seen in training) a learned softmax router over the
categories mixes them:

    g(x) = softmax(V x̂ + d),      r(x) = Σ_c g_c(x) · r_c(x)

Training minimizes the Bradley–Terry loss −log σ(r(x, y⁺) − r(x, y⁻)) with
hard routing plus the router's cross-entropy against each record's category
(records without a category train only through the router's soft mixture),
in the shared loop (``fit_with_early_stopping``): with validation records the
parameters of the lowest validation loss are kept.
The inner experts are learned jointly through the aggregator (the paper trains
them on per-capability labels first; frozen features make joint training
cheap).
"""

from __future__ import annotations

import math
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
from rewardlab.models.training.units import RankedPairs, ranked_pairs
from rewardlab.options import redefault
from rewardlab.protocols import check_lengths

FORMAT = "rewardlab-dmoe"
UNROUTED = -1


@dataclass
class DMoEOptions(LoopOptions):
    """The shared loop options plus ``n_experts`` inner experts per category,
    aggregated by an MLP of ``hidden`` units, and the weight of the router's loss."""

    weight_decay: float = redefault(LoopOptions, "weight_decay", 0.01)
    n_experts: int = 4
    hidden: int = 16
    router_weight: float = 1.0


class DMoEHead(nn.Module):
    """Per-category inner experts + aggregator, and the soft outer router."""

    def __init__(self, in_dim: int, n_categories: int, n_experts: int, hidden: int) -> None:
        super().__init__()
        c, m, h = n_categories, n_experts, hidden
        bound_d, bound_m, bound_h = (1 / math.sqrt(v) for v in (in_dim, m, h))
        self.expert_w = nn.Parameter(torch.empty(c, m, in_dim).uniform_(-bound_d, bound_d))
        self.expert_b = nn.Parameter(torch.zeros(c, m))
        self.agg_w1 = nn.Parameter(torch.empty(c, m, h).uniform_(-bound_m, bound_m))
        self.agg_b1 = nn.Parameter(torch.zeros(c, h))
        self.agg_w2 = nn.Parameter(torch.empty(c, h).uniform_(-bound_h, bound_h))
        self.agg_b2 = nn.Parameter(torch.zeros(c))
        self.router = nn.Linear(in_dim, c)

    def category_rewards(self, x: torch.Tensor) -> torch.Tensor:
        """r_c(x) for every category: (B, d) → (B, C)."""
        experts = torch.einsum("bd,cmd->bcm", x, self.expert_w) + self.expert_b
        hidden = nn.functional.gelu(
            torch.einsum("bcm,cmh->bch", experts, self.agg_w1) + self.agg_b1
        )
        return torch.einsum("bch,ch->bc", hidden, self.agg_w2) + self.agg_b2

    def forward(self, x: torch.Tensor, category: torch.Tensor) -> torch.Tensor:
        """Rewards (B,): hard-routed where ``category`` ≥ 0, router-mixed where it is −1."""
        rewards = self.category_rewards(x)
        mixed = (torch.softmax(self.router(x), dim=-1) * rewards).sum(-1)
        hard = rewards.gather(1, category.clamp(min=0)[:, None])[:, 0]
        return torch.where(category >= 0, hard, mixed)


class MixtureRewardModel:
    """Implements ``RewardModel``; ``score`` takes optional per-item ``categories``."""

    def __init__(
        self,
        backbone: Backbone,
        normalizer: Normalizer,
        head: DMoEHead,
        categories: Sequence[str],
        config: dict[str, Any],
    ) -> None:
        self.backbone = backbone
        self.normalizer = normalizer
        self.head = head.eval()
        self.categories = list(categories)
        self.config = config

    def _x(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        return self.normalizer.transform(self.backbone.encode(prompts, responses))

    def _index(self, categories: Sequence[str | None] | None, n: int) -> torch.Tensor:
        if categories is None:
            return torch.full((n,), UNROUTED)
        if len(categories) != n:
            raise ValueError(f"categories has {len(categories)} items but prompts has {n}")
        index = {name: i for i, name in enumerate(self.categories)}
        return torch.tensor(
            [index.get(c, UNROUTED) if c is not None else UNROUTED for c in categories],
            dtype=torch.long,
        )

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        categories: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """r(x): the category's expert group, or the router's mixture when unknown."""
        n = check_lengths(prompts, responses)
        with torch.inference_mode():
            return (
                self.head(self._x(prompts, responses), self._index(categories, n)).double().numpy()
            )

    def route(self, prompts: Sequence[str], responses: Sequence[str]) -> list[str]:
        """The router's most likely category of each item."""
        check_lengths(prompts, responses)
        with torch.inference_mode():
            best = self.head.router(self._x(prompts, responses)).argmax(-1)
        return [self.categories[i] for i in best.tolist()]


def _category_index(pairs: RankedPairs, categories: Sequence[str]) -> torch.Tensor:
    """Each pair's category index; ``UNROUTED`` where the record's category is None
    or not among ``categories``; 0 for all when the training data had no category."""
    if list(categories) == [""]:
        return torch.zeros(len(pairs), dtype=torch.long)
    index = {name: i for i, name in enumerate(categories)}
    return torch.tensor(
        [index.get(p.record.category, UNROUTED) for p in pairs], dtype=torch.long
    )


def _loss(
    head: DMoEHead, xc: torch.Tensor, xr: torch.Tensor, c: torch.Tensor, router_weight: float
) -> torch.Tensor:
    """BT loss with hard routing, plus ``router_weight`` × the router's cross-entropy
    on the pairs with a known category (when there are several categories)."""
    loss = -nn.functional.logsigmoid(head(xc, c) - head(xr, c)).mean()
    known = c >= 0
    if known.any() and head.router.out_features > 1:
        route = head.router(torch.cat([xc[known], xr[known]]))
        loss = loss + router_weight * nn.functional.cross_entropy(
            route, torch.cat([c[known], c[known]])
        )
    return loss


def train_dmoe(
    records: Sequence[Comparison],
    backbone: Backbone,
    options: DMoEOptions | None = None,
    val_records: Sequence[Comparison] = (),
    on_epoch: EpochLog | None = None,
) -> MixtureRewardModel:
    """Fit experts, aggregators and router on ranked records, keeping the
    parameters of the lowest validation loss when ``val_records`` have ranked
    pairs (else of the lowest training loss)."""
    options = options or DMoEOptions()
    pairs = ranked_pairs(records)
    if not pairs:
        raise ValueError(f"no ranked pairs in {len(records)} records")
    categories = sorted({p.record.category for p in pairs if p.record.category is not None})
    categories = categories or [""]
    chosen, rejected = encode_pairs(pairs, backbone)
    both = np.vstack([chosen, rejected])
    val_pairs = ranked_pairs(val_records)
    torch.manual_seed(options.seed)
    normalizer = Normalizer(both.shape[1]).fit(both)
    xc, xr = normalizer.transform(chosen), normalizer.transform(rejected)
    vc, vr = (
        (normalizer.transform(a) for a in encode_pairs(val_pairs, backbone))
        if val_pairs
        else (None, None)
    )
    cat = _category_index(pairs, categories)
    val_cat = _category_index(val_pairs, categories)
    head = DMoEHead(both.shape[1], len(categories), options.n_experts, options.hidden)
    weight = options.router_weight

    def evaluate() -> dict[str, float]:
        log = {"train_loss": float(_loss(head, xc, xr, cat, weight))}
        if vc is not None:
            log["val_loss"] = float(_loss(head, vc, vr, val_cat, weight))
            log["val_accuracy"] = float((head(vc, val_cat) > head(vr, val_cat)).float().mean())
        return log

    fit_with_early_stopping(
        head, lambda idx: _loss(head, xc[idx], xr[idx], cat[idx], weight), evaluate, len(xc),
        options, on_epoch,
    )
    config = {
        "format": FORMAT,
        "id": f"rewardlab-dmoe-{len(categories)}x{options.n_experts}",
        "rewardlab_version": rewardlab.__version__,
        "backbone": backbone.config(),
        "feature_dim": int(both.shape[1]),
        "options": options.to_dict(),
        "categories": categories,
        "n_train_pairs": len(pairs),
        "skipped": pairs.skipped(),
    }
    return MixtureRewardModel(backbone, normalizer, head, categories, config)


def save_dmoe(model: MixtureRewardModel, directory: str | Path) -> Path:
    tensors = {f"head.{k}": v for k, v in model.head.state_dict().items()}
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    return save_directory(directory, tensors, model.config)


def load_dmoe(directory: str | Path, backbone: Backbone | None = None) -> MixtureRewardModel:
    """Load a saved model; ``backbone`` replaces the one rebuilt from its config."""
    config, tensors = read_directory(directory, FORMAT)
    backbone = backbone or backbone_from_config(config["backbone"])
    options = config["options"]
    head = DMoEHead(
        config["feature_dim"], len(config["categories"]), options["n_experts"], options["hidden"]
    )
    head.load_state_dict(prefixed(tensors, "head"))
    normalizer = Normalizer(config["feature_dim"])
    normalizer.load_state_dict(prefixed(tensors, "normalizer"))
    return MixtureRewardModel(backbone, normalizer, head, config["categories"], config)


STRUCTURED.add(
    "dmoe",
    StructuredFamily(
        DMoEOptions, train_dmoe, save_dmoe, load_dmoe, FORMAT, needs="categories",
        summary="double-layer mixture of experts (DMoERM): expert groups per category, "
        "a learned router when the category is unknown",
    ),
)
