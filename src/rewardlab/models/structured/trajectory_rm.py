"""A reward model of a decision-making agent's transitions, learned from segment preferences.

Christiano et al., "Deep reinforcement learning from human preferences", 2017:
an ensemble of K reward nets r̂_k(o, a) (here any registered head, default a
one-hidden-layer MLP, on the features of
:class:`~rewardlab.models.structured.transitions.TransitionEncoder`,
standardized by a :class:`~rewardlab.models.normalizer.Normalizer`) scores a
segment σ = ((o_1, a_1), …, (o_T, a_T)) by its predicted return, and a
preference between two segments is modelled as Bradley–Terry on the returns:

    R̂_k(σ) = Σ_t r̂_k(o_t, a_t),    P_k(σ¹ ≻ σ²) = σ(R̂_k(σ¹) − R̂_k(σ²)).

The loss is any registered pair loss (``"pairs"`` or ``"ties"`` units) on the
pair batch of segment returns: ``bt`` is the formula above, ``noisy-bt`` the
paper's assumption that a share ε of labels is random (ties as half
preferences); margins and ties work as for text. Members are trained
together, each on its own bootstrap resample of the pairs (``bootstrap``, as
in the paper), in the shared loop
(:func:`~rewardlab.models.training.early_stopping.fit_with_early_stopping`;
with validation records the epoch of the lowest mean validation loss is
kept). ``grad_penalty`` λ adds λ·E‖∇_x r̂_k(x)‖² over the standardized
transition features (:func:`~rewardlab.models.training.regularizers.gradient_penalty`).

**Termination.** After a terminal step the episode is in an absorbing state
whose reward is 0 (the environment pays nothing after it). The net sees an
extra input column that is 1 only for that state, and every step's reward is
taken relative to it, r̂_k(x) = h_k(x̂, 0) − h_k(0, 1), so a segment that
ends early scores as if padded with zero-reward absorbing steps (Kostrikov
et al., 2019, "Discriminator-Actor-Critic", absorbing states). Comparing a
segment that ends in a fall with one that does not then teaches the level of
the reward, which a policy needs to prefer staying alive.

**Normalization** (``normalize``; the paper normalizes r̂ to zero mean and a
constant standard deviation): r̃_k = (r̂_k − m_k)/s_k over the training
transitions. When every training pair compares segments of equal length the
offset of r̂ is not identified: m_k is its mean and s_k its standard
deviation. When some pair compares segments of different lengths the offset
is learned (anchored at the absorbing state) and kept: m_k = 0 and
s_k = √E[r̂_k²], so the step rewards have unit mean square without losing
their sign (a reward that is nearly constant, like CartPole's, would
otherwise be blown up by a tiny standard deviation).

``score(prompts, trajectories)`` is the mean over members of Σ_t r̃_k;
``score_members`` gives each member's (K, n) for ensembles and WCO/UWO;
``transition_rewards(observations, actions, next_observations)`` gives the
per-step reward a policy learner receives. The prompt (an environment id or
task) is not an input: a model learns one task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import rewardlab
from rewardlab.data.modality import response_digest
from rewardlab.data.record import Comparison
from rewardlab.data.trajectory import require_trajectories
from rewardlab.models.heads import HEADS
from rewardlab.models.losses import LOSSES, Objective, PairBatch
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.structured.base import STRUCTURED, StructuredFamily
from rewardlab.models.structured.storage import prefixed, read_directory, save_directory
from rewardlab.models.structured.transitions import SegmentTable, TransitionEncoder, sum_by_length
from rewardlab.models.training.config import LoopOptions
from rewardlab.models.training.early_stopping import EpochLog, fit_with_early_stopping
from rewardlab.models.training.regularizers import gradient_penalty
from rewardlab.models.training.units import RankedPairs, margins_or_none, ranked_pairs
from rewardlab.protocols import check_lengths

FORMAT = "rewardlab-trajectory-reward"


@dataclass
class TrajectoryRewardOptions(LoopOptions):
    """The shared loop options plus the ensemble (``n_members`` heads named ``head``
    with ``head_params``), the pair ``loss`` and its ``loss_params``, per-member
    ``bootstrap`` resampling, the gradient penalty λ, whether the features hold the
    next observation, the number of discrete actions (0: inferred from the data)
    and reward ``normalize``-ation."""

    epochs: int = 60
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.01
    patience: int = 8
    n_members: int = 3
    head: str = "mlp"
    head_params: dict[str, Any] = field(default_factory=lambda: {"hidden": 64, "dropout": 0.0})
    loss: str = "bt"
    loss_params: dict[str, Any] = field(default_factory=dict)
    bootstrap: bool = True
    grad_penalty: float = 0.0
    next_observation: bool = False
    n_actions: int = 0
    normalize: bool = True


class RewardNet(nn.Module):
    """K heads on [x̂, absorbing flag]; step rewards relative to the absorbing state,
    and the loss's learned parameters (``learned``)."""

    def __init__(self, head: nn.Module, learned: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.head = head
        self.learned = nn.ParameterDict({k: nn.Parameter(v) for k, v in learned.items()})

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """h_k(x, 0) for standardized features x, (K, B, d) per member or (B, d) shared."""
        return self.head(torch.cat([x, torch.zeros(*x.shape[:-1], 1, dtype=x.dtype)], dim=-1))

    def absorbing(self, dim: int) -> torch.Tensor:
        """h_k(0, 1), the heads' value of the absorbing state, (K, 1)."""
        state = torch.zeros(1, dim + 1)
        state[0, -1] = 1.0
        return self.head(state)

    def step_rewards(self, x: torch.Tensor) -> torch.Tensor:
        """r̂_k(x) = h_k(x, 0) − h_k(0, 1), (K, B)."""
        return self.raw(x) - self.absorbing(x.shape[-1])


class TrajectoryRewardModel:
    """Implements ``RewardModel``, ``UncertainRewardModel`` and ``score_members``
    on trajectory responses, and per-step ``transition_rewards``."""

    def __init__(
        self, encoder: TransitionEncoder, normalizer: Normalizer, net: RewardNet,
        scale: torch.Tensor, offset: torch.Tensor, config: dict[str, Any],
    ) -> None:
        self.encoder = encoder
        self.normalizer = normalizer
        self.net = net.eval()
        self.scale = scale
        self.offset = offset
        self.config = config
        with torch.inference_mode():  # the frozen net's constant: r̃ = (h − c_k) / s_k
            self._shift = (net.absorbing(encoder.dim)[:, 0] + offset)[:, None]

    @property
    def n_members(self) -> int:
        return int(self.scale.shape[0])

    def _member_steps(self, features: np.ndarray) -> np.ndarray:
        """Normalized member step rewards (K, T) of encoded transitions."""
        with torch.inference_mode():
            raw = self.net.raw(self.normalizer.transform(features))
            return ((raw - self._shift) / self.scale[:, None]).double().numpy()

    def member_transition_rewards(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray:
        """Each member's reward r̃_k of T transitions given as arrays, (K, T)."""
        return self._member_steps(
            self.encoder.encode_arrays(observations, actions, next_observations)
        )

    def transition_rewards(
        self, observations: np.ndarray, actions: np.ndarray | None = None,
        next_observations: np.ndarray | None = None,
    ) -> np.ndarray:
        """The reward of T transitions, (T,): the members' mean r̃."""
        return self.member_transition_rewards(observations, actions, next_observations).mean(0)

    def score_members(self, prompts: Sequence[str], responses: Sequence[Any]) -> np.ndarray:
        """Each member's predicted return Σ_t r̃_k of each trajectory, (K, n)."""
        check_lengths(prompts, responses)
        trajectories = require_trajectories(responses)
        features, lengths = self.encoder.encode_many(trajectories)
        return sum_by_length(self._member_steps(features), lengths)

    def score(self, prompts: Sequence[str], responses: Sequence[Any]) -> np.ndarray:
        return self.score_members(prompts, responses).mean(axis=0)

    def score_with_uncertainty(
        self, prompts: Sequence[str], responses: Sequence[Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mean predicted return, population std across members)."""
        members = self.score_members(prompts, responses)
        return members.mean(axis=0), members.std(axis=0)


@dataclass
class _Pairs:
    """Segment pairs as numbers into a :class:`SegmentTable`."""

    better: torch.Tensor
    worse: torch.Tensor
    tie: torch.Tensor | None
    margin: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.better)


def _pairs(expanded: RankedPairs, table: SegmentTable, objective: Objective) -> _Pairs:
    position = table.position
    better = [position[id(p.record.responses[p.better])] for p in expanded]
    worse = [position[id(p.record.responses[p.worse])] for p in expanded]
    tie = torch.tensor([p.tie for p in expanded]) if objective.units == "ties" else None
    margin = margins_or_none([np.nan if p.record.strength is None else p.record.strength
                              for p in expanded])
    if objective.needs_margin and margin is None:
        raise ValueError("this loss needs a strength on every pair (Comparison.strength)")
    return _Pairs(torch.tensor(better, dtype=torch.long), torch.tensor(worse, dtype=torch.long),
                  tie, None if margin is None else torch.from_numpy(margin))


def _segments(expanded: RankedPairs) -> list[Any]:
    segments = [p.record.responses[i] for p in expanded for i in (p.better, p.worse)]
    return require_trajectories(segments, "segments")


class SegmentPairLoss:
    """The training loss of pair numbers ``idx`` (K, b), one row per member: the pair
    batch of segment returns R̂_k(σ) = Σ_t r̂_k(x_t) over the valid steps of each
    segment, the objective on it, and λ·E‖∇_x r̂_k‖² over those steps' features."""

    def __init__(self, net: RewardNet, x: torch.Tensor, table: SegmentTable, pairs: _Pairs,
                 objective: Objective, params: dict[str, Any], grad_penalty: float) -> None:
        self.net, self.x, self.table, self.pairs = net, x, table, pairs
        self.objective, self.params, self.grad_penalty = objective, params, grad_penalty

    @classmethod
    def build(
        cls, net: RewardNet, normalizer: Normalizer, encoder: TransitionEncoder,
        expanded: RankedPairs, objective: Objective, params: dict[str, Any],
        grad_penalty: float = 0.0,
    ) -> SegmentPairLoss:
        """The loss over ``expanded`` pairs, their segments encoded and standardized."""
        table = SegmentTable(encoder, _segments(expanded))
        return cls(net, normalizer.transform(table.features), table,
                   _pairs(expanded, table, objective), objective, params, grad_penalty)

    def losses(self, idx: torch.Tensor, penalty: bool = True) -> tuple[torch.Tensor, PairBatch]:
        """Per-member loss (K,) of pairs ``idx`` (K, b), and the pair batch."""
        k = idx.shape[0]
        segments = torch.stack([self.pairs.better[idx], self.pairs.worse[idx]], dim=-1)
        rows, mask = self.table.rows(segments)  # (K, b, 2, L)
        x = self.x[rows.reshape(k, -1)]  # (K, b·2·L, d)
        use_penalty = penalty and self.grad_penalty > 0
        if use_penalty:
            x = x.detach().requires_grad_(True)
        steps = self.net.step_rewards(x)
        returns = (steps.reshape(rows.shape) * mask).sum(dim=-1)
        margin = None if self.pairs.margin is None else self.pairs.margin[idx]
        tie = None if self.pairs.tie is None else self.pairs.tie[idx]
        batch = PairBatch(returns[..., 0], returns[..., 1], margin, tie)
        losses = self.objective(batch, **self.params, **dict(self.net.learned))
        if use_penalty:
            losses = losses + self.grad_penalty * gradient_penalty(
                steps, x, mask.reshape(k, -1)
            )
        return losses, batch


def _accuracy(batch: PairBatch) -> float:
    """Share of non-tie pairs whose preferred segment has the higher return (ties ½)."""
    delta = batch.delta
    right = (delta > 0).float() + 0.5 * (delta == 0).float()
    keep = torch.ones_like(right) if batch.tie is None else (~batch.tie).float()
    return float((right * keep).sum() / keep.sum().clamp(min=1.0))


def data_fingerprint(records: Sequence[Comparison]) -> str:
    """First 16 hex characters of the sha256 over each record's prompt, response
    digests (:func:`~rewardlab.data.modality.response_digest`), ranking and tie."""
    digest = hashlib.sha256()
    for record in records:
        parts = [record.prompt, *map(response_digest, record.responses),
                 ",".join(map(str, record.ranking)), str(bool(record.tie))]
        digest.update(("\x1f".join(parts) + "\n").encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def train_trajectory_reward(
    records: Sequence[Comparison],
    backbone: Any = None,
    options: TrajectoryRewardOptions | None = None,
    val_records: Sequence[Comparison] = (),
    on_epoch: EpochLog | None = None,
) -> TrajectoryRewardModel:
    """Fit the ensemble on ranked pairs of trajectory segments.

    ``backbone`` is not used (transitions are featurized from their own arrays;
    it is taken for the structured-family contract). With ``val_records`` the
    parameters of the lowest mean validation loss are kept.
    """
    options = options or TrajectoryRewardOptions()
    objective = LOSSES.get(options.loss)
    if objective.units not in ("pairs", "ties"):
        raise ValueError(f"loss {options.loss!r} trains on {objective.units}; a trajectory "
                         "reward model takes a pair loss (pairs or ties units)")
    expanded = ranked_pairs(records, with_ties=objective.units == "ties")
    if not expanded:
        raise ValueError(f"no ranked pairs in {len(records)} records")
    val_expanded = ranked_pairs(val_records, with_ties=objective.units == "ties")
    segments = _segments(expanded)
    encoder = TransitionEncoder.infer(segments, options.n_actions,
                                      next_observation=options.next_observation)
    torch.manual_seed(options.seed)
    distinct = list({id(s): s for s in segments}.values())
    normalizer = Normalizer(encoder.dim).fit(encoder.encode_many(distinct)[0])
    k = options.n_members
    head = HEADS.get(options.head)(encoder.dim + 1, k, **options.head_params)
    net = RewardNet(head, objective.initial_learned(k))
    params = objective.loss_params(options.loss_params)
    train = SegmentPairLoss.build(net, normalizer, encoder, expanded, objective, params,
                                  options.grad_penalty)
    val = (SegmentPairLoss.build(net, normalizer, encoder, val_expanded, objective, params)
           if val_expanded else None)
    n = len(train.pairs)
    generator = torch.Generator().manual_seed(options.seed)
    sample = (torch.randint(0, n, (k, n), generator=generator) if options.bootstrap
              else torch.arange(n).expand(k, n))

    def evaluate() -> dict[str, float]:
        log = {"train_loss": float(train.losses(torch.arange(n).expand(k, n), False)[0].mean())}
        if val is not None:
            losses, batch = val.losses(torch.arange(len(val.pairs)).expand(k, -1), False)
            log["val_loss"] = float(losses.mean())
            log["val_accuracy"] = _accuracy(batch)
        return log

    fit_with_early_stopping(net, lambda idx: train.losses(sample[:, idx])[0].sum(), evaluate, n,
                            options, on_epoch)
    scale, offset, anchor = _normalization(net, train.x, expanded, options.normalize)
    config = {
        "format": FORMAT,
        "id": f"rewardlab-trajectory-{options.head}-k{k}",
        "rewardlab_version": rewardlab.__version__,
        "encoder": encoder.config(),
        "options": options.to_dict(),
        "anchor": anchor,
        "prompts": sorted({r.prompt for r in records}),
        "n_train_pairs": len(expanded),
        "n_train_transitions": int(len(train.x)),
        "skipped": expanded.skipped(),
        "data_fingerprint": data_fingerprint(records),
    }
    return TrajectoryRewardModel(encoder, normalizer, net.eval(), scale, offset, config)


def _normalization(
    net: RewardNet, x: torch.Tensor, expanded: RankedPairs, normalize: bool
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """Per-member offset m_k and scale s_k = √E[(r̂_k − m_k)²] of the step rewards over
    the training transitions, and the anchor of the reward's level: ``"absorbing"``
    (m_k = 0) when some pair compares segments of unequal length (the level is
    learned), else ``"mean"`` (m_k the mean, s_k the standard deviation)."""
    unequal = any(len(p.record.responses[p.better]) != len(p.record.responses[p.worse])
                  for p in expanded)
    anchor = "absorbing" if unequal else "mean"
    with torch.inference_mode():
        raw = net.eval().step_rewards(x)
    k = raw.shape[0]
    if not normalize:
        return torch.ones(k), torch.zeros(k), anchor
    offset = torch.zeros(k) if anchor == "absorbing" else raw.mean(dim=1)
    scale = (raw - offset[:, None]).square().mean(dim=1).sqrt().clamp(min=1e-8)
    return scale, offset, anchor


def save_trajectory_reward(model: TrajectoryRewardModel, directory: str | Path) -> Path:
    tensors = {f"net.{k}": v for k, v in model.net.state_dict().items()}
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    tensors.update({"stats.scale": model.scale, "stats.offset": model.offset})
    return save_directory(directory, tensors, model.config)


def load_trajectory_reward(
    directory: str | Path, backbone: Any = None
) -> TrajectoryRewardModel:
    """Load a saved model (``backbone`` is not used: see :func:`train_trajectory_reward`)."""
    config, tensors = read_directory(directory, FORMAT)
    encoder = TransitionEncoder.from_config(config["encoder"])
    options = TrajectoryRewardOptions(**config["options"])
    objective = LOSSES.get(options.loss)
    head = HEADS.get(options.head)(encoder.dim + 1, options.n_members, **options.head_params)
    net = RewardNet(head, objective.initial_learned(options.n_members))
    net.load_state_dict(prefixed(tensors, "net"))
    normalizer = Normalizer(encoder.dim)
    normalizer.load_state_dict(prefixed(tensors, "normalizer"))
    stats = prefixed(tensors, "stats")
    return TrajectoryRewardModel(encoder, normalizer, net, stats["scale"], stats["offset"], config)


STRUCTURED.add(
    "trajectory",
    StructuredFamily(
        TrajectoryRewardOptions, train_trajectory_reward, save_trajectory_reward,
        load_trajectory_reward, FORMAT, needs="segments",
        summary="reward net over (observation, action) steps learned from ranked trajectory "
        "segments (Christiano et al. 2017): an ensemble, returns Σ r̂",
    ),
)
