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
(records without a category train only through the router's soft mixture).
The inner experts are learned jointly through the aggregator (the paper trains
them on per-capability labels first; frozen features make joint training
cheap).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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
from rewardlab.models.structured.storage import prefixed, read_directory, save_directory
from rewardlab.protocols import check_lengths

FORMAT = "rewardlab-dmoe"
UNROUTED = -1


@dataclass
class DMoEOptions:
    """``n_experts`` inner experts per category, aggregated by an MLP of ``hidden`` units."""

    n_experts: int = 4
    hidden: int = 16
    router_weight: float = 1.0
    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0


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
        features = np.asarray(self.backbone.encode(prompts, responses), np.float32)
        return self.normalizer(torch.from_numpy(features))

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


def _pairs(records: Sequence[Comparison]) -> list[tuple[str | None, str, str, str]]:
    out = []
    for record in records:
        if record.tie or len(record.ranking) < 2:
            continue
        for a, better in enumerate(record.ranking):
            for worse in record.ranking[a + 1 :]:
                out.append(
                    (
                        record.category,
                        record.prompt,
                        record.responses[better],
                        record.responses[worse],
                    )
                )
    return out


def train_dmoe(
    records: Sequence[Comparison],
    backbone: Backbone,
    options: DMoEOptions | None = None,
    val_records: Sequence[Comparison] = (),
) -> MixtureRewardModel:
    """Fit experts, aggregators and router on ranked records (fixed epochs).

    ``val_records`` are not used for model selection; score them to report
    held-out accuracy.
    """
    del val_records
    options = options or DMoEOptions()
    pairs = _pairs(records)
    if not pairs:
        raise ValueError(f"no ranked pairs in {len(records)} records")
    categories = sorted({p[0] for p in pairs if p[0] is not None}) or [""]
    index = {name: i for i, name in enumerate(categories)}
    prompts = [p[1] for p in pairs]
    both = backbone.encode(prompts + prompts, [p[2] for p in pairs] + [p[3] for p in pairs])
    torch.manual_seed(options.seed)
    generator = torch.Generator().manual_seed(options.seed)
    normalizer = Normalizer(both.shape[1]).fit(both)
    with torch.no_grad():
        x = normalizer(torch.from_numpy(np.asarray(both, np.float32)))
    xc, xr = x[: len(pairs)], x[len(pairs) :]
    labels = [index[p[0]] if p[0] is not None else UNROUTED for p in pairs]
    if categories == [""]:
        labels = [0] * len(pairs)
    cat = torch.tensor(labels, dtype=torch.long)
    head = DMoEHead(both.shape[1], len(categories), options.n_experts, options.hidden)
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=options.lr, weight_decay=options.weight_decay
    )
    for _ in range(options.epochs):
        order = torch.randperm(len(pairs), generator=generator)
        for start in range(0, len(pairs), options.batch_size):
            idx = order[start : start + options.batch_size]
            c = cat[idx]
            loss = -nn.functional.logsigmoid(head(xc[idx], c) - head(xr[idx], c)).mean()
            known = c >= 0
            if known.any() and len(categories) > 1:
                route = head.router(torch.cat([xc[idx][known], xr[idx][known]]))
                loss = loss + options.router_weight * nn.functional.cross_entropy(
                    route, torch.cat([c[known], c[known]])
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    config = {
        "format": FORMAT,
        "id": f"rewardlab-dmoe-{len(categories)}x{options.n_experts}",
        "rewardlab_version": rewardlab.__version__,
        "backbone": backbone.config(),
        "feature_dim": int(both.shape[1]),
        "options": asdict(options),
        "categories": categories,
        "n_train_pairs": len(pairs),
    }
    return MixtureRewardModel(backbone, normalizer, head.eval(), categories, config)


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
