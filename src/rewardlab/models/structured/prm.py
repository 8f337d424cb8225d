"""Process reward model (PRM): a reward for every reasoning step.

Uesato et al., "Solving math word problems with process- and outcome-based
feedback", 2022; Lightman et al., "Let's Verify Step by Step", 2023. A
solution is a list of steps s_1..s_n (a response text is split on newlines,
blank lines dropped, by :func:`rewardlab.protocols.split_steps`; an empty
response is one empty step). Step k is scored from the prompt and the steps so far:
the backbone encodes the pair

    (context_k, s_k),   context_k = prompt + "\\n\\n" + "\\n".join(s_1..s_{k−1})

(the encoder keeps the whole step and cuts the context from the left when it
does not fit), a head (any registered reward head, one member) gives the logit
r_k, and p_k = σ(r_k) is the probability that step k is correct. Training
minimizes the binary cross-entropy of p_k against the step labels (1 correct,
0 wrong). The solution score is the step reduction ``reduce`` of the p_k
(:data:`rewardlab.protocols.STEP_REDUCTIONS`, default ``min``):

    min:      score = min_k p_k            (Lightman et al. use the product; the
    product:  score = Π_k p_k               minimum is the weakest-link variant)

and the predicted first error is the first k with p_k < 0.5 (None when every
step passes). ``evaluate_prm`` reports step accuracy (the share of labelled
steps where [p_k ≥ 0.5] equals the label) and first-error accuracy (the share
of solutions whose predicted first error equals the labelled one, "none"
included), beside the trivial baselines of ``prm_baselines``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import rewardlab
from rewardlab.data.formats.steps import first_wrong_step
from rewardlab.data.record import Comparison
from rewardlab.features.backbones import backbone_from_config
from rewardlab.features.base import Backbone
from rewardlab.models.heads import HEADS
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.structured.base import STRUCTURED, StructuredFamily
from rewardlab.models.structured.storage import prefixed, read_directory, save_directory
from rewardlab.models.training.config import LoopOptions
from rewardlab.models.training.early_stopping import EpochLog, fit_with_early_stopping
from rewardlab.options import option, redefault
from rewardlab.protocols import (
    OUTCOME_REDUCTION,
    STEP_REDUCTIONS,
    check_lengths,
    reduce_steps,
    split_steps,
)

FORMAT = "rewardlab-prm"


@dataclass
class PRMOptions(LoopOptions):
    """The shared loop options plus the solution's step reduction ``reduce`` and
    ``head``, a registered reward head (one member), with its ``head_params``."""

    epochs: int = redefault(LoopOptions, "epochs", 30)
    batch_size: int = redefault(LoopOptions, "batch_size", 256)
    lr: float = redefault(LoopOptions, "lr", 1e-3)
    weight_decay: float = redefault(LoopOptions, "weight_decay", 0.01)
    reduce: str = option(OUTCOME_REDUCTION, "The solution score from its step "
                         "probabilities: a step reduction (min, product, last, mean, sum).",
                         choices=lambda: STEP_REDUCTIONS, kind="step reduction",
                         old=("aggregate",))
    head: str = "mlp"
    head_params: dict[str, Any] = field(default_factory=dict)


def step_inputs(prompt: str, steps: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(contexts, steps)``: the (prompt + steps so far, step) pair of every step."""
    contexts = [
        prompt if k == 0 else f"{prompt}\n\n" + "\n".join(steps[:k]) for k in range(len(steps))
    ]
    return contexts, list(steps)


def predicted_first_error(probs: np.ndarray, threshold: float = 0.5) -> int | None:
    """The first step with p < ``threshold``, or None when all pass."""
    below = np.flatnonzero(np.asarray(probs) < threshold)
    return int(below[0]) if below.size else None


class ProcessRewardModel:
    """Implements ``RewardModel`` and ``StepRewardModel``: ``score_steps`` gives the
    per-step probabilities, ``split_steps`` how a response is cut into steps."""

    def __init__(
        self,
        backbone: Backbone,
        normalizer: Normalizer,
        head: torch.nn.Module,
        config: dict[str, Any],
    ) -> None:
        self.backbone = backbone
        self.normalizer = normalizer
        self.head = head.eval()
        self.config = config

    @property
    def reduce(self) -> str:
        """The step reduction of the solution score (``aggregate`` in models saved before
        the step reductions had one name)."""
        options = self.config["options"]
        return str(options.get("reduce", options.get("aggregate", OUTCOME_REDUCTION)))

    def step_probs_from_features(self, features: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = self.normalizer.transform(features)
            return torch.sigmoid(self.head(x[None])[0].double()).numpy()

    def score_steps(
        self, prompts: Sequence[str], steps_list: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """p_k for every step of every solution (one array per solution)."""
        check_lengths(prompts, steps_list)
        contexts: list[str] = []
        steps: list[str] = []
        for prompt, solution in zip(prompts, steps_list, strict=True):
            c, s = step_inputs(prompt, solution)
            contexts += c
            steps += s
        probs = (
            self.step_probs_from_features(self.backbone.encode(contexts, steps))
            if steps
            else np.zeros(0)
        )
        bounds = np.cumsum([0] + [len(s) for s in steps_list])
        return [probs[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    def split_steps(self, response: str) -> list[str]:
        """The steps of a response: :func:`rewardlab.protocols.split_steps`."""
        return split_steps(response)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Solution scores: the step reduction ``reduce`` of the step probabilities."""
        check_lengths(prompts, responses)
        per_step = self.score_steps(prompts, [self.split_steps(r) for r in responses])
        return np.array([reduce_steps(p, self.reduce) for p in per_step])

    def first_errors(
        self, prompts: Sequence[str], steps_list: Sequence[Sequence[str]]
    ) -> list[int | None]:
        return [predicted_first_error(p) for p in self.score_steps(prompts, steps_list)]


@dataclass
class StepTable:
    """Labelled solutions flattened: one (prompt, steps, labels) per response."""

    prompts: list[str] = field(default_factory=list)
    steps: list[tuple[str, ...]] = field(default_factory=list)
    labels: list[tuple[int, ...]] = field(default_factory=list)
    skipped_unlabelled: int = 0

    def __len__(self) -> int:
        return len(self.prompts)


def step_table(records: Sequence[Comparison]) -> StepTable:
    """Every response that has steps and step labels; others are counted, not kept."""
    table = StepTable()
    for record in records:
        if record.steps is None or record.step_labels is None:
            table.skipped_unlabelled += 1
            continue
        for steps, labels in zip(record.steps, record.step_labels, strict=True):
            if len(steps) != len(labels):
                raise ValueError(
                    f"{record.source or 'record'}: field 'step_labels': {len(labels)} labels "
                    f"for {len(steps)} steps"
                )
            table.prompts.append(record.prompt)
            table.steps.append(tuple(steps))
            table.labels.append(tuple(int(v) for v in labels))
    return table


def _step_arrays(table: StepTable, backbone: Backbone) -> tuple[np.ndarray, np.ndarray]:
    contexts: list[str] = []
    steps: list[str] = []
    for prompt, solution in zip(table.prompts, table.steps, strict=True):
        c, s = step_inputs(prompt, solution)
        contexts += c
        steps += s
    labels = np.array([v for row in table.labels for v in row], np.float32)
    return backbone.encode(contexts, steps), labels


def _bce(head: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(head(x[None])[0], y)


def fit_step_head(
    features: np.ndarray,
    labels: np.ndarray,
    options: PRMOptions,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: EpochLog | None = None,
) -> tuple[Normalizer, torch.nn.Module]:
    """Fit a normalizer and a one-member head on step features and 0/1 labels."""
    if len(features) == 0:
        raise ValueError("no labelled steps")
    torch.manual_seed(options.seed)
    normalizer = Normalizer(features.shape[1]).fit(features)
    x = normalizer.transform(features)
    vx = normalizer.transform(val[0]) if val and len(val[0]) else None
    y = torch.from_numpy(labels).float()
    vy = torch.from_numpy(val[1]).float() if vx is not None else None
    head = HEADS.get(options.head)(features.shape[1], 1, **options.head_params)

    def evaluate() -> dict[str, float]:
        log = {"train_loss": float(_bce(head, x, y))}
        if vx is not None:
            logits = head(vx[None])[0]
            log["val_loss"] = float(
                torch.nn.functional.binary_cross_entropy_with_logits(logits, vy)
            )
            log["val_accuracy"] = float(((logits >= 0).float() == vy).float().mean())
        return log

    fit_with_early_stopping(
        head, lambda idx: _bce(head, x[idx], y[idx]), evaluate, len(x),
        options, on_epoch,
    )
    return normalizer, head


def train_prm(
    records: Sequence[Comparison],
    backbone: Backbone,
    options: PRMOptions | None = None,
    val_records: Sequence[Comparison] = (),
    on_epoch: EpochLog | None = None,
) -> ProcessRewardModel:
    """Fit a PRM on every step-labelled response of ``records``."""
    options = options or PRMOptions()
    STEP_REDUCTIONS.get(options.reduce)  # did-you-mean before any work
    table = step_table(records)
    if len(table) == 0:
        raise ValueError(f"no step-labelled responses in {len(records)} records")
    features, labels = _step_arrays(table, backbone)
    val_table = step_table(val_records)
    val = _step_arrays(val_table, backbone) if len(val_table) else None
    normalizer, head = fit_step_head(features, labels, options, val, on_epoch)
    config = {
        "format": FORMAT,
        "id": f"rewardlab-prm-{options.head}",
        "rewardlab_version": rewardlab.__version__,
        "backbone": backbone.config(),
        "feature_dim": int(features.shape[1]),
        "options": options.to_dict(),
        "n_train_solutions": len(table),
        "n_train_steps": int(len(labels)),
        "skipped_unlabelled": table.skipped_unlabelled,
    }
    return ProcessRewardModel(backbone, normalizer, head, config)


def evaluate_prm(model: ProcessRewardModel, records: Sequence[Comparison]) -> dict[str, Any]:
    """Step accuracy and first-error accuracy on step-labelled records, with the
    trivial baselines of :func:`prm_baselines` under ``"baselines"``."""
    table = step_table(records)
    if len(table) == 0:
        raise ValueError(f"no step-labelled responses in {len(records)} records")
    probs = model.score_steps(table.prompts, table.steps)
    correct_steps = sum(
        int(((p >= 0.5) == np.array(y, bool)).sum())
        for p, y in zip(probs, table.labels, strict=True)
    )
    n_steps = sum(len(y) for y in table.labels)
    first_hits = sum(
        predicted_first_error(p) == first_wrong_step(y)
        for p, y in zip(probs, table.labels, strict=True)
    )
    all_correct = sum(first_wrong_step(y) is None for y in table.labels)
    return {
        "step_accuracy": correct_steps / n_steps,
        "first_error_accuracy": first_hits / len(table),
        "n_solutions": len(table),
        "n_steps": n_steps,
        "share_all_correct": all_correct / len(table),
        "baselines": prm_baselines(table.labels),
    }


def prm_baselines(labels: Sequence[Sequence[int]]) -> dict[str, dict[str, float]]:
    """Accuracies of predictions that ignore the text, on the step labels ``labels``.

    ``all_correct`` passes every step: step accuracy = share of steps labelled 1,
    first-error accuracy = share of solutions with no wrong step.
    ``best_constant`` is the best single answer chosen with hindsight on these
    labels: step accuracy max(q, 1 − q) for that share q, first-error accuracy
    the share of the most common first-error position (``None`` included).
    A PRM has learned something only where it beats both.
    """
    n_steps = sum(len(y) for y in labels)
    if n_steps == 0:
        raise ValueError("no labelled steps")
    share_correct = sum(sum(y) for y in labels) / n_steps
    first = Counter(first_wrong_step(y) for y in labels)
    return {
        "all_correct": {
            "step_accuracy": share_correct,
            "first_error_accuracy": first[None] / len(labels),
        },
        "best_constant": {
            "step_accuracy": max(share_correct, 1 - share_correct),
            "first_error_accuracy": max(first.values()) / len(labels),
        },
    }


def prm_summary(metrics: dict[str, Any]) -> str:
    """One line for a report of :func:`evaluate_prm`'s result."""
    base = metrics["baselines"]
    return (
        f"held-out step accuracy {metrics['step_accuracy']:.4f}, first-error accuracy "
        f"{metrics['first_error_accuracy']:.4f} on {metrics['n_solutions']} solutions "
        f"({metrics['n_steps']} steps); baselines: all steps correct "
        f"{base['all_correct']['step_accuracy']:.4f} / "
        f"{base['all_correct']['first_error_accuracy']:.4f}, best constant "
        f"{base['best_constant']['step_accuracy']:.4f} / "
        f"{base['best_constant']['first_error_accuracy']:.4f}"
    )


def save_prm(model: ProcessRewardModel, directory: str | Path) -> Path:
    tensors = {f"head.{k}": v for k, v in model.head.state_dict().items()}
    tensors.update({f"normalizer.{k}": v for k, v in model.normalizer.state_dict().items()})
    return save_directory(directory, tensors, model.config)


def load_prm(directory: str | Path, backbone: Backbone | None = None) -> ProcessRewardModel:
    """Load a saved model; ``backbone`` replaces the one rebuilt from its config."""
    config, tensors = read_directory(directory, FORMAT)
    backbone = backbone or backbone_from_config(config["backbone"])
    options = config["options"]
    head = HEADS.get(options["head"])(config["feature_dim"], 1, **options["head_params"])
    head.load_state_dict(prefixed(tensors, "head"))
    normalizer = Normalizer(config["feature_dim"])
    normalizer.load_state_dict(prefixed(tensors, "normalizer"))
    return ProcessRewardModel(backbone, normalizer, head, config)


STRUCTURED.add(
    "prm",
    StructuredFamily(
        PRMOptions, train_prm, save_prm, load_prm, FORMAT, needs="steps",
        summary="process reward model: a probability per reasoning step, "
        "the solution scored by a step reduction (default its weakest step)",
    ),
)
