"""Fine-tune a transformer reward model end to end on preference pairs.

Objective (Bradley & Terry, 1952; Ouyang et al., 2022; centering term of
Eisenstein et al., 2023), averaged over the K outputs of the head:

    L = mean_k [ loss(r_k(x, y⁺), r_k(x, y⁻)) + η·E[(r_k(x, y⁺) + r_k(x, y⁻))²] ]

with ``loss`` any of ``rewardlab.models.losses.LOSSES`` (default "bt":
−log σ(Δ − m)). Chosen and rejected texts of a batch go through the model in
one forward pass. Full fine-tuning or LoRA (Hu et al., 2021; ``peft``, head
trained in full); AdamW with linear decay; gradients accumulated over
``grad_accum`` micro-batches, each weighted by its share of the step's pairs,
so batch b × accumulation a equals batch a·b × accumulation 1. Weights stay
fp32 and the passes run under autocast to ``dtype`` ("auto": bf16 on CUDA
devices that support it, else fp32; fp16 with loss scaling;
:func:`rewardlab.features.device.resolve_dtype`). Dropout is disabled (a reward
model should score a text the same way twice).

The model reads exactly what it will read when it is scored: the pairs are
formatted by :func:`rewardlab.models.lm.chat.format_pairs` and tokenized by
:func:`rewardlab.features.tokens.encode` (once, before the first epoch), and each
epoch ends with a validation pass by the scorer itself
(:class:`~rewardlab.models.lm.hf_reward.HFRewardModel`, batches of
``token_budget`` padded tokens; every process scores all the validation pairs, so
all see the same loss). The epochs run in the loop every trainer shares
(:func:`rewardlab.models.training.early_stopping.run_epochs`): the monitored loss
is the validation loss (without validation pairs, the epoch's mean training loss,
averaged over processes), training stops ``patience`` epochs after the best one,
and the best epoch's weights are kept.

Runs under ``accelerate launch`` (data parallel, one process per GPU) when
``accelerate`` is installed; without it, one process on CUDA or CPU
(:mod:`rewardlab.models.lm.runtime`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import rewardlab
from rewardlab.data.record import Comparison
from rewardlab.features.base import ProgressCallback
from rewardlab.features.device import resolve_device, resolve_dtype
from rewardlab.features.tokens import encode, pad_batch
from rewardlab.models.lm.chat import format_pairs, prepare_tokenizer
from rewardlab.models.lm.hf_reward import HFRewardModel
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.runtime import DTYPE_NAMES, make_runtime, optimizer_step
from rewardlab.models.lm.transformer_config import TransformerTrainConfig
from rewardlab.models.losses import LOSSES, PairBatch
from rewardlab.models.training.early_stopping import monitored_loss, run_epochs
from rewardlab.models.training.units import PairTable, pair_table


@dataclass
class TransformerTrainReport:
    n_train_pairs: int
    n_val_pairs: int
    skipped_ties: int
    skipped_unranked: int
    device: str
    dtype: str
    n_processes: int
    train_seconds: float
    val_seconds: float
    pairs_per_second: float
    best_epoch: int
    history: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pair_objective(
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    margin: torch.Tensor | None,
    loss: str,
    loss_params: dict[str, Any],
    center_weight: float,
) -> torch.Tensor:
    """mean_k [loss_k + η·mean_b (r⁺ + r⁻)²] for rewards of shape (K, B)."""
    objective = pair_loss(loss)
    batch = PairBatch(chosen, rejected, margin)
    per_member = objective(batch, **objective.loss_params(loss_params))
    return (per_member + center_weight * ((chosen + rejected) ** 2).mean(dim=1)).mean()


def pair_loss(name: str):
    """The ``LOSSES`` objective ``name``, which must train on plain pairs."""
    objective = LOSSES.get(name)
    if objective.units != "pairs" or objective.learned is not None:
        raise ValueError(
            f"loss {name!r} trains on {objective.units!r} units"
            + (" with learned parameters" if objective.learned is not None else "")
            + "; fine-tuning a transformer supports pair losses without learned parameters"
        )
    return objective


def build_trainable_model(config: TransformerTrainConfig) -> tuple[torch.nn.Module, Any]:
    """The classifier (LoRA-wrapped when ``config.lora``) and its tokenizer, dropout off."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from rewardlab.data.errors import DataError
    from rewardlab.features.hf_load import load_pretrained, load_tokenizer, reason

    torch.manual_seed(config.seed)
    tokenizer = prepare_tokenizer(load_tokenizer(config.model))
    try:
        hf_config = AutoConfig.from_pretrained(config.model, num_labels=config.num_labels)
    except Exception as err:  # noqa: BLE001 - transformers raises many kinds for a bad config
        raise DataError(f"cannot read the config ({reason(err)})", path=config.model) from None
    for key, value in hf_config.to_dict().items():
        if "dropout" in key and isinstance(value, float):
            setattr(hf_config, key, 0.0)
    hf_config.pad_token_id = tokenizer.pad_token_id
    model = load_pretrained(  # the new reward head (and an unused pooler) may be missing
        AutoModelForSequenceClassification, config.model, tokenizer,
        missing_ok=("classifier", "score", "pooler"), config=hf_config,
    )
    if config.gradient_checkpointing:
        model.config.use_cache = False
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.lora:
        model = _with_lora(model, config)
    return model, tokenizer


def _with_lora(model: torch.nn.Module, config: TransformerTrainConfig) -> torch.nn.Module:
    try:
        from peft import LoraConfig, TaskType, get_peft_model
        from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as KNOWN
    except ImportError as err:
        raise ImportError("LoRA needs peft: pip install 'rewardlab[train]'") from err
    targets: list[str] | str | None = list(config.lora_target_modules) or None
    if targets is None and model.config.model_type not in KNOWN:
        targets = "all-linear"
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=targets,
    )
    return get_peft_model(model, lora)


def pair_ids(tokenizer: Any, table: PairTable, max_length: int) -> list[tuple[list[int], list[int]]]:
    """(chosen, rejected) token ids of each pair, as the scorer reads them."""
    n = len(table)
    texts = format_pairs(tokenizer, [*table.prompts, *table.prompts],
                         [*table.chosen, *table.rejected], max_length)
    ids = encode(tokenizer, texts, max_length)
    return list(zip(ids[:n], ids[n:], strict=True))


def _loader(pairs, margins, tokenizer, config):
    def collate(indices: list[int]) -> dict[str, Any]:
        rows = [pairs[i][0] for i in indices] + [pairs[i][1] for i in indices]
        batch = {"inputs": pad_batch(tokenizer, rows)}
        if margins is not None:
            batch["margin"] = torch.from_numpy(margins[indices])
        return batch

    generator = torch.Generator().manual_seed(config.seed)
    return torch.utils.data.DataLoader(
        list(range(len(pairs))), batch_size=config.batch_size, shuffle=True,
        generator=generator, collate_fn=collate,
    )


def _rewards(model, runtime, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    inputs = {k: v.to(runtime.device) for k, v in batch["inputs"].items()}
    with runtime.autocast():
        logits = model(**inputs).logits.float()
    n = logits.shape[0] // 2
    margin = batch.get("margin")
    margin = None if margin is None else margin.to(runtime.device)[None, :]
    return logits[:n].T, logits[n:].T, margin


def _groups(loader, size: int):
    """Consecutive micro-batches, ``size`` at a time (the last group may be shorter)."""
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _step(model, runtime, optimizer, scheduler, group, config) -> float:
    total = sum(len(b["inputs"]["input_ids"]) // 2 for b in group)
    step_loss = 0.0
    for j, batch in enumerate(group):
        sync = j == len(group) - 1
        with contextlib.nullcontext() if sync else runtime.no_sync(model):
            chosen, rejected, margin = _rewards(model, runtime, batch)
            loss = pair_objective(
                chosen, rejected, margin, config.loss, config.loss_params, config.center_weight
            ) * (chosen.shape[1] / total)
            runtime.backward(loss)
        step_loss += float(loss.detach())
    runtime.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], config.max_grad_norm)
    optimizer_step(runtime, optimizer)
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return step_loss


def _validate(scorer: HFRewardModel, runtime, table: PairTable, margin, config) -> dict[str, float]:
    """Validation loss (no centering term) and accuracy (ties ½) of the scorer's rewards."""
    n = len(table)
    with runtime.autocast():
        rows = scorer.score_members([*table.prompts, *table.prompts],
                                    [*table.chosen, *table.rejected])
    scorer.model.train()
    chosen, rejected = torch.from_numpy(rows[:, :n]), torch.from_numpy(rows[:, n:])
    margins = None if margin is None else torch.from_numpy(margin).double()[None, :]
    loss = pair_objective(chosen, rejected, margins, config.loss, config.loss_params, 0.0)
    delta = (chosen - rejected).mean(dim=0)
    accuracy = ((delta > 0).double() + 0.5 * (delta == 0).double()).mean()
    return {"val_loss": float(loss), "val_accuracy": float(accuracy)}


def _restore(model, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in state:
                param.copy_(state[name])


def _margins(train: PairTable, val: PairTable, config) -> tuple[np.ndarray | None, ...]:
    train_margin = train.margins()
    if train_margin is None or config.loss_params.get("use_margin") is False:
        return None, None
    val_margin = val.margins()
    return train_margin, np.zeros(len(val), np.float32) if val_margin is None else val_margin


def train_transformer_reward_model(
    train_records: Sequence[Comparison],
    config: TransformerTrainConfig,
    val_records: Sequence[Comparison] = (),
    progress: ProgressCallback | None = None,
    data_fingerprint: str | None = None,
) -> tuple[HFRewardModel, TransformerTrainReport]:
    """Fine-tune ``config.model`` on the pairs of ``train_records``; keep the best epoch.

    ``progress(step, total_steps)`` is called after each optimizer step (``total_steps``
    counts every epoch; early stopping may end sooner).
    """
    if config.batch_size < 1 or config.grad_accum < 1 or config.epochs < 1:
        raise ValueError("batch_size, grad_accum and epochs must be at least 1")
    train_table, val_table = pair_table(train_records), pair_table(val_records)
    if len(train_table) == 0:
        raise ValueError(
            f"no trainable pairs in {len(train_records)} records "
            f"({train_table.skipped_ties} ties, {train_table.skipped_unranked} unranked)"
        )
    if pair_loss(config.loss).needs_margin and train_table.margins() is None:
        raise ValueError(f"loss {config.loss!r} needs a preference strength on every pair")
    dtype = resolve_dtype(config.dtype, resolve_device(None))
    runtime = make_runtime(config, dtype)
    model, tokenizer = build_trainable_model(config)
    train_margin, val_margin = _margins(train_table, val_table, config)
    train_loader = _loader(pair_ids(tokenizer, train_table, config.max_length), train_margin,
                           tokenizer, config)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    model, optimizer, train_loader = runtime.prepare(model, optimizer, train_loader)
    steps_per_epoch = math.ceil(len(train_loader) / config.grad_accum)
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / total_steps)
    )
    unwrapped = runtime.unwrap_model(model)
    scoring = HubModelOptions(token_budget=config.token_budget)
    model_config = {
        "id": f"rewardlab-transformer-{config.loss}" + ("-lora" if config.lora else ""),
        "rewardlab_version": rewardlab.__version__,
        "backbone": {"kind": "transformer", "model": config.model, "lora": config.lora},
        "loss": {"name": config.loss, "params": config.loss_params},
        "n_members": config.num_labels,
        "max_length": config.max_length,
        "train": config.to_dict(),
        "data_fingerprint": data_fingerprint,
    }
    seconds = {"train": 0.0, "val": 0.0}
    steps = [0]

    def run_epoch(epoch: int) -> dict[str, Any]:
        start = time.perf_counter()
        model.train()
        losses = []
        for group in _groups(train_loader, config.grad_accum):
            losses.append(_step(model, runtime, optimizer, scheduler, group, config))
            steps[0] += 1
            if progress is not None:
                progress(steps[0], total_steps)
        seconds["train"] += time.perf_counter() - start
        # the mean over processes: each stops at the same epoch when it is monitored
        mean = runtime.reduce(torch.tensor(float(np.mean(losses)), device=runtime.device), "mean")
        log: dict[str, Any] = {"epoch": epoch, "train_loss": float(mean)}
        if len(val_table):
            start = time.perf_counter()
            scorer = HFRewardModel(unwrapped, tokenizer, scoring, config=model_config)
            log.update(_validate(scorer, runtime, val_table, val_margin, config))
            seconds["val"] += time.perf_counter() - start
        return log

    def trainable() -> dict[str, torch.Tensor]:
        return {n: p for n, p in unwrapped.named_parameters() if p.requires_grad}

    stopped = run_epochs(run_epoch, monitored_loss, trainable, epochs=config.epochs,
                         patience=config.patience, per_member=False, keep_on="cpu")
    best_epoch, history = stopped.best_epoch[0], stopped.history
    if best_epoch != len(history):
        _restore(unwrapped, stopped.best_state)
    reward_model = HFRewardModel(unwrapped, tokenizer, scoring, model_config["id"], model_config)
    report = TransformerTrainReport(
        n_train_pairs=len(train_table),
        n_val_pairs=len(val_table),
        skipped_ties=train_table.skipped_ties + val_table.skipped_ties,
        skipped_unranked=train_table.skipped_unranked + val_table.skipped_unranked,
        device=str(runtime.device),
        dtype=DTYPE_NAMES[dtype],
        n_processes=runtime.num_processes,
        train_seconds=seconds["train"],
        val_seconds=seconds["val"],
        pairs_per_second=len(train_table) * len(history) / max(seconds["train"], 1e-9),
        best_epoch=best_epoch,
        history=history,
    )
    return reward_model, report
