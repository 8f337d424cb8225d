"""A success classifier as a reward: P(success | observation) from labelled states.

Yang et al., "Robot Fine-Tuning Made Easy: Pre-Training Rewards and Policies
for Autonomous Real-World Reinforcement Learning" (RoboFuME), 2023: a
classifier of task success trained on states labelled success or failure
is the reward of the fine-tuning RL. Here K heads (default one MLP) map the
standardized observation x̂ to a logit ℓ_k(o), trained with the registered
``bce`` loss

    L = −[y log σ(ℓ) + (1 − y) log σ(−ℓ)]

on every labelled observation: a record's responses are trajectories whose
``step_labels`` give a 0/1 label per observation. With ``bootstrap`` each
member trains on its own resample of the states; with validation records
the epoch of the lowest mean validation loss is kept.

The reward of a step is the success probability of the state it reaches,
p(s) = (1/K) Σ_k σ(ℓ_k(s)) with s = o_{t+1} when the trajectory (or call)
has next observations and s = o_t otherwise; ``score`` is Σ_t p over a
trajectory, ``score_members`` each member's Σ_t σ(ℓ_k).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import rewardlab
from rewardlab.data.record import Comparison
from rewardlab.data.trajectory import Trajectory, require_trajectories
from rewardlab.models.heads import HEADS
from rewardlab.models.losses import LOSSES, PointBatch
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.structured.base import STRUCTURED, StructuredFamily
from rewardlab.models.structured.storage import prefixed, read_directory, save_directory
from rewardlab.models.structured.trajectory_rm import data_fingerprint
from rewardlab.models.structured.transitions import TransitionEncoder, sum_by_length
from rewardlab.models.training.config import LoopOptions
from rewardlab.models.training.early_stopping import EpochLog, fit_with_early_stopping
from rewardlab.protocols import check_lengths

FORMAT = "rewardlab-success-classifier"


@dataclass
class SuccessOptions(LoopOptions):
    """The shared loop options plus ``n_members`` heads named ``head`` with
    ``head_params`` and per-member ``bootstrap`` resampling of the states."""

    epochs: int = 60
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.01
    patience: int = 8
    n_members: int = 1
    head: str = "mlp"
    head_params: dict[str, Any] = field(default_factory=lambda: {"hidden": 64, "dropout": 0.0})
    bootstrap: bool = False


class SuccessClassifier:
    """Implements ``RewardModel`` and ``score_members`` on trajectories;
    ``success_probability`` of observations and per-step ``transition_rewards``."""

    def __init__(self, encoder: TransitionEncoder, normalizer: Normalizer,
                 head: torch.nn.Module, config: dict[str, Any]) -> None:
        self.encoder = encoder
        self.normalizer = normalizer
        self.head = head.eval()
        self.config = config

    def member_probabilities(self, observations: np.ndarray) -> np.ndarray:
        """σ(ℓ_k(o)) of each member for T observations, (K, T)."""
        features = self.encoder.encode_arrays(np.asarray(observations))
        with torch.inference_mode():
            return torch.sigmoid(self.head(self.normalizer.transform(features))).double().numpy()

    def success_probability(self, observations: np.ndarray) -> np.ndarray:
        """P(success | o) for T observations, (T,): the members' mean."""
        return self.member_probabilities(observations).mean(axis=0)

    def transition_rewards(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray:
        """P(success) of the state each step reaches (``next_observations`` when given)."""
        return self.success_probability(
            observations if next_observations is None else next_observations
        )

    def score_members(self, prompts: Sequence[str], responses: Sequence[Any]) -> np.ndarray:
        """Σ_t σ(ℓ_k(s_t)) of each trajectory for each member, (K, n)."""
        check_lengths(prompts, responses)
        trajectories = require_trajectories(responses)
        if not trajectories:
            return np.zeros((self.n_members, 0))
        states = np.concatenate([_states(t) for t in trajectories])
        lengths = np.array([len(t) for t in trajectories])
        return sum_by_length(self.member_probabilities(states), lengths)

    @property
    def n_members(self) -> int:
        return int(self.config["options"]["n_members"])

    def score(self, prompts: Sequence[str], responses: Sequence[Any]) -> np.ndarray:
        return self.score_members(prompts, responses).mean(axis=0)


def _states(trajectory: Trajectory) -> np.ndarray:
    """The states a trajectory's steps reach: next observations when it has them."""
    if trajectory.next_observations is not None:
        return trajectory.next_observations
    return trajectory.observations


def labelled_states(records: Sequence[Comparison]) -> tuple[list[Trajectory], np.ndarray]:
    """The trajectories of ``records`` and their observations' 0/1 labels (ΣT,).

    Every response must be a trajectory with one label per observation in the
    record's ``step_labels``; a mismatch is a ``ValueError`` naming the record."""
    trajectories, labels = [], []
    for i, record in enumerate(records):
        where = record.source or f"record {i}"
        if record.step_labels is None:
            raise ValueError(f"{where}: field 'step_labels': a success classifier needs a 0/1 "
                             "label per observation")
        for trajectory, row in zip(require_trajectories(record.responses), record.step_labels,
                                   strict=True):
            if len(row) != len(trajectory) or any(v not in (0, 1) for v in row):
                raise ValueError(f"{where}: field 'step_labels': expected {len(trajectory)} "
                                 f"labels of 0 or 1, got {len(row)}")
            trajectories.append(trajectory)
            labels.extend(int(v) for v in row)
    return trajectories, np.asarray(labels, dtype=np.float32)


def train_success_classifier(
    records: Sequence[Comparison],
    backbone: Any = None,
    options: SuccessOptions | None = None,
    val_records: Sequence[Comparison] = (),
    on_epoch: EpochLog | None = None,
) -> SuccessClassifier:
    """Fit P(success | observation) on the labelled observations of ``records``
    (``backbone`` is not used: observations are their own features)."""
    options = options or SuccessOptions()
    trajectories, labels = labelled_states(records)
    if not len(labels):
        raise ValueError(f"no labelled observations in {len(records)} records")
    encoder = TransitionEncoder.infer(trajectories, use_actions=False)
    features = np.concatenate([encoder.encode_arrays(t.observations) for t in trajectories])
    torch.manual_seed(options.seed)
    normalizer = Normalizer(encoder.dim).fit(features)
    x, y = normalizer.transform(features), torch.from_numpy(labels)
    k, n = options.n_members, len(labels)
    head = HEADS.get(options.head)(encoder.dim, k, **options.head_params)
    bce = LOSSES.get("bce")
    generator = torch.Generator().manual_seed(options.seed)
    sample = (torch.randint(0, n, (k, n), generator=generator) if options.bootstrap
              else torch.arange(n).expand(k, n))
    val = None
    if val_records:
        val_trajectories, val_labels = labelled_states(val_records)
        val_x = normalizer.transform(np.concatenate(
            [encoder.encode_arrays(t.observations) for t in val_trajectories]))
        val = (val_x, torch.from_numpy(val_labels))

    def loss(idx: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        logits = head(xs[idx])  # (K, b)
        return bce(PointBatch(logits, ys[idx][..., None]))

    def evaluate() -> dict[str, float]:
        log = {"train_loss": float(loss(torch.arange(n).expand(k, n), x, y).mean())}
        if val is not None:
            every = torch.arange(len(val[1])).expand(k, -1)
            log["val_loss"] = float(loss(every, *val).mean())
            right = (head(val[0]) > 0).float() == val[1]
            log["val_accuracy"] = float(right.float().mean())
        return log

    fit_with_early_stopping(head, lambda idx: loss(sample[:, idx], x, y).sum(), evaluate, n,
                            options, on_epoch)
    config = {
        "format": FORMAT,
        "id": f"rewardlab-success-{options.head}-k{k}",
        "rewardlab_version": rewardlab.__version__,
        "encoder": encoder.config(),
        "options": options.to_dict(),
        "prompts": sorted({r.prompt for r in records}),
        "n_train_states": n,
        "positive_rate": float(labels.mean()),
        "data_fingerprint": data_fingerprint(records),
    }
    return SuccessClassifier(encoder, normalizer, head, config)


def save_success_classifier(model: SuccessClassifier, directory: str | Path) -> Path:
    tensors = {f"head.{k}": v for k, v in model.head.state_dict().items()}
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    return save_directory(directory, tensors, model.config)


def load_success_classifier(directory: str | Path, backbone: Any = None) -> SuccessClassifier:
    """Load a saved classifier (``backbone`` is not used)."""
    config, tensors = read_directory(directory, FORMAT)
    encoder = TransitionEncoder.from_config(config["encoder"])
    options = SuccessOptions(**config["options"])
    head = HEADS.get(options.head)(encoder.dim, options.n_members, **options.head_params)
    head.load_state_dict(prefixed(tensors, "head"))
    normalizer = Normalizer(encoder.dim)
    normalizer.load_state_dict(prefixed(tensors, "normalizer"))
    return SuccessClassifier(encoder, normalizer, head, config)


STRUCTURED.add(
    "success",
    StructuredFamily(
        SuccessOptions, train_success_classifier, save_success_classifier,
        load_success_classifier, FORMAT, needs="labelled_states",
        summary="success classifier (RoboFuME): P(success | observation) from labelled "
        "states; a step's reward is the success probability of the state it reaches",
    ),
)
