"""Pluralistic ideal-point model (PAL-A): one reward model, many annotators' tastes.

Chen et al., "PAL: Pluralistic Alignment Framework for Learning from
Heterogeneous Preferences", 2024 (arXiv:2406.08469), model A. A learned
projection f maps the normalized backbone features of (prompt, response) to
R^m; K prototype ideal points p_1..p_K live in the same space; annotator i has
mixture logits β_i ∈ R^K and ideal point

    a_i = Σ_k w_ik p_k,        w_i = softmax(β_i)

The preferred response is the one CLOSER to the annotator's ideal point:

    logit P_i(y_l ≻ y_r | x) = ‖f(x, y_r) − a_i‖ − ‖f(x, y_l) − a_i‖
    reward_i(x, y)           = −‖f(x, y) − a_i‖

Training maximizes log σ(logit) over every labelled pair, each under its
record's ``annotator`` (records without one share the annotator ``""``), in the
shared loop (``fit_with_early_stopping``): with validation records the
parameters of the lowest validation loss are kept (a validation pair of an
annotator unseen in training is judged at the population ideal point).
Querying without an annotator uses the population ideal point, the mixture of
the mean of the known annotators' weights. A new annotator is fitted few-shot
(``add_annotator``): only its β is learned, f and the prototypes stay frozen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
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

FORMAT = "rewardlab-pal"
NO_ANNOTATOR = ""
UNSEEN = -1


@dataclass
class PALOptions(LoopOptions):
    """The shared loop options plus ``k`` prototypes in a ``dim``-dimensional space
    (``hidden`` > 0 makes f an MLP) and the few-shot fit of a new annotator
    (``few_shot_epochs`` at ``few_shot_lr``)."""

    epochs: int = redefault(LoopOptions, "epochs", 60)
    lr: float = redefault(LoopOptions, "lr", 1e-2)
    weight_decay: float = redefault(LoopOptions, "weight_decay", 0.0)
    k: int = 2
    dim: int = 16
    hidden: int = 0
    few_shot_epochs: int = 300
    few_shot_lr: float = 0.1


class IdealPoints(nn.Module):
    """f, the prototypes and each annotator's mixture logits."""

    def __init__(self, in_dim: int, n_annotators: int, options: PALOptions) -> None:
        super().__init__()
        self.f = (
            nn.Linear(in_dim, options.dim)
            if options.hidden <= 0
            else nn.Sequential(
                nn.Linear(in_dim, options.hidden), nn.GELU(), nn.Linear(options.hidden, options.dim)
            )
        )
        self.prototypes = nn.Parameter(torch.randn(options.k, options.dim))
        self.logits = nn.Parameter(torch.zeros(n_annotators, options.k))

    def population(self) -> torch.Tensor:
        """The population's logits (K,): log of the mean of the annotators' softmax(β_i)."""
        return torch.log(torch.softmax(self.logits, dim=-1).mean(dim=0))

    def logits_of(self, who: torch.Tensor) -> torch.Tensor:
        """β of each annotator index in ``who`` (B,); the population's where it is −1."""
        rows = self.logits[who.clamp(min=0)]
        return torch.where((who >= 0)[:, None], rows, self.population())

    def ideal(self, logits: torch.Tensor) -> torch.Tensor:
        """a = softmax(β) @ prototypes, for logits (B, K) → (B, m)."""
        return torch.softmax(logits, dim=-1) @ self.prototypes

    def distance(self, x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(self.f(x) - self.ideal(logits), dim=-1)

    def pair_logit(self, xl: torch.Tensor, xr: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return self.distance(xr, logits) - self.distance(xl, logits)


def _annotator(record: Comparison) -> str:
    return record.annotator if record.annotator is not None else NO_ANNOTATOR


def _pair_loss(
    module: IdealPoints, xl: torch.Tensor, xr: torch.Tensor, logits: torch.Tensor
) -> torch.Tensor:
    """−mean log σ(logit) of pairs whose left response is the preferred one."""
    return -nn.functional.logsigmoid(module.pair_logit(xl, xr, logits)).mean()


class PluralisticRewardModel:
    """Implements ``RewardModel`` (population or per-annotator reward) and ``prob``."""

    def __init__(
        self,
        backbone: Backbone,
        normalizer: Normalizer,
        module: IdealPoints,
        annotators: Sequence[str],
        config: dict[str, Any],
    ) -> None:
        self.backbone = backbone
        self.normalizer = normalizer
        self.module = module.eval()
        self.annotators = list(annotators)
        self.config = config

    def _logits(self, annotators: Sequence[str | None] | None, n: int) -> torch.Tensor:
        table = self.module.logits.detach()
        population = self.module.population().detach()
        if annotators is None:
            return population.expand(n, -1)
        if len(annotators) != n:
            raise ValueError(f"annotators has {len(annotators)} items but prompts has {n}")
        index = {name: i for i, name in enumerate(self.annotators)}
        rows = []
        for name in annotators:
            if name is not None and name not in index:
                raise ValueError(
                    f"unknown annotator {name!r}; fit it first with add_annotator "
                    f"({len(self.annotators)} known)"
                )
            rows.append(population if name is None else table[index[name]])
        return torch.stack(rows) if rows else population.expand(0, -1)

    def _x(self, prompts: Sequence[str], responses: Sequence[str]) -> torch.Tensor:
        return self.normalizer.transform(self.backbone.encode(prompts, responses))

    def weights(self, annotator: str) -> np.ndarray:
        """The annotator's mixture weights softmax(β_i) over the K prototypes."""
        return self._logits([annotator], 1).softmax(-1)[0].double().numpy()

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        annotators: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """−‖f(x, y) − a_i‖ for each item's annotator (population ideal point if None)."""
        n = check_lengths(prompts, responses)
        with torch.inference_mode():
            logits = self._logits(annotators, n)
            return -self.module.distance(self._x(prompts, responses), logits).double().numpy()

    def prob(
        self,
        prompts: Sequence[str],
        first: Sequence[str],
        second: Sequence[str],
        annotators: Sequence[str | None] | None = None,
    ) -> np.ndarray:
        """P_i(first ≻ second) = σ(‖f(second) − a_i‖ − ‖f(first) − a_i‖)."""
        n = check_lengths(prompts, first, second)
        with torch.inference_mode():
            logits = self._logits(annotators, n)
            logit = self.module.pair_logit(
                self._x(prompts, first), self._x(prompts, second), logits
            )
            return torch.sigmoid(logit.double()).numpy()

    def add_annotator(
        self, name: str, records: Sequence[Comparison], options: PALOptions | None = None
    ) -> PluralisticRewardModel:
        """A new model with annotator ``name`` fitted few-shot on ``records`` (β only)."""
        if name in self.annotators:
            raise ValueError(f"annotator {name!r} is already fitted")
        options = options or PALOptions(**self.config["options"])
        pairs = ranked_pairs(records)
        if not pairs:
            raise ValueError(f"no ranked pairs in {len(records)} records for annotator {name!r}")
        module = IdealPoints(
            self.config["feature_dim"],
            len(self.annotators) + 1,
            PALOptions(**self.config["options"]),
        )
        state = dict(self.module.state_dict())
        state["logits"] = torch.cat([state["logits"], torch.zeros(1, state["logits"].shape[1])])
        module.load_state_dict(state)
        module.requires_grad_(False)
        newcomer = nn.ParameterList([nn.Parameter(torch.zeros(1, module.logits.shape[1]))])
        xl, xr = (self.normalizer.transform(a) for a in encode_pairs(pairs, self.backbone))

        def loss(idx: torch.Tensor) -> torch.Tensor:
            return _pair_loss(module, xl[idx], xr[idx], newcomer[0].expand(len(idx), -1))

        # a fixed number of epochs (patience never runs out); the best training loss is kept
        fit_with_early_stopping(
            newcomer, loss, lambda: {"train_loss": float(loss(torch.arange(len(xl))))}, len(xl),
            replace(
                options, epochs=options.few_shot_epochs, lr=options.few_shot_lr,
                weight_decay=0.0, patience=options.few_shot_epochs,
            ),
        )
        with torch.no_grad():
            module.logits[-1] = newcomer[0][0]
        config = dict(self.config, annotators=[*self.annotators, name])
        return PluralisticRewardModel(
            self.backbone, self.normalizer, module, [*self.annotators, name], config
        )


def train_pal(
    records: Sequence[Comparison],
    backbone: Backbone,
    options: PALOptions | None = None,
    val_records: Sequence[Comparison] = (),
    on_epoch: EpochLog | None = None,
) -> PluralisticRewardModel:
    """Fit f, the prototypes and every annotator's mixture on ranked records,
    keeping the parameters of the lowest validation loss when ``val_records``
    have ranked pairs (else of the lowest training loss)."""
    options = options or PALOptions()
    pairs = ranked_pairs(records)
    if not pairs:
        raise ValueError(f"no ranked pairs in {len(records)} records")
    annotators = sorted({_annotator(p.record) for p in pairs})
    index = {name: i for i, name in enumerate(annotators)}
    chosen, rejected = encode_pairs(pairs, backbone)
    val_pairs = ranked_pairs(val_records)
    torch.manual_seed(options.seed)
    normalizer = Normalizer(chosen.shape[1]).fit(np.vstack([chosen, rejected]))
    xl, xr = normalizer.transform(chosen), normalizer.transform(rejected)
    vl, vr = (
        (normalizer.transform(a) for a in encode_pairs(val_pairs, backbone))
        if val_pairs
        else (None, None)
    )
    who = torch.tensor([index[_annotator(p.record)] for p in pairs])
    val_who = torch.tensor([index.get(_annotator(p.record), UNSEEN) for p in val_pairs])
    module = IdealPoints(chosen.shape[1], len(annotators), options)

    def evaluate() -> dict[str, float]:
        log = {"train_loss": float(_pair_loss(module, xl, xr, module.logits[who]))}
        if vl is not None:
            logit = module.pair_logit(vl, vr, module.logits_of(val_who))
            log["val_loss"] = float(-nn.functional.logsigmoid(logit).mean())
            log["val_accuracy"] = float((logit > 0).float().mean())
        return log

    fit_with_early_stopping(
        module, lambda idx: _pair_loss(module, xl[idx], xr[idx], module.logits[who[idx]]),
        evaluate, len(xl), options, on_epoch,
    )
    config = {
        "format": FORMAT,
        "id": f"rewardlab-pal-k{options.k}",
        "rewardlab_version": rewardlab.__version__,
        "backbone": backbone.config(),
        "feature_dim": int(chosen.shape[1]),
        "options": options.to_dict(),
        "annotators": annotators,
        "n_train_pairs": len(pairs),
        "skipped": pairs.skipped(),
    }
    return PluralisticRewardModel(backbone, normalizer, module, annotators, config)


def save_pal(model: PluralisticRewardModel, directory: str | Path) -> Path:
    tensors = {f"module.{k}": v for k, v in model.module.state_dict().items()}
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    return save_directory(directory, tensors, dict(model.config, annotators=model.annotators))


def load_pal(directory: str | Path, backbone: Backbone | None = None) -> PluralisticRewardModel:
    """Load a saved model; ``backbone`` replaces the one rebuilt from its config."""
    config, tensors = read_directory(directory, FORMAT)
    backbone = backbone or backbone_from_config(config["backbone"])
    module = IdealPoints(
        config["feature_dim"], len(config["annotators"]), PALOptions(**config["options"])
    )
    module.load_state_dict(prefixed(tensors, "module"))
    normalizer = Normalizer(config["feature_dim"])
    normalizer.load_state_dict(prefixed(tensors, "normalizer"))
    return PluralisticRewardModel(backbone, normalizer, module, config["annotators"], config)


STRUCTURED.add(
    "pal",
    StructuredFamily(
        PALOptions, train_pal, save_pal, load_pal, FORMAT, needs="annotators",
        summary="pluralistic ideal points (PAL-A): one reward per annotator, "
        "new annotators fitted few-shot",
    ),
)
