"""Fine-tune a transformer reward model end to end on preference pairs.

Objective (Bradley & Terry, 1952; Ouyang et al., 2022; centering term of
Eisenstein et al., 2023), averaged over the K outputs of the head:

    L = mean_k [ loss(r_k(x, y⁺), r_k(x, y⁻)) + η·E[(r_k(x, y⁺) + r_k(x, y⁻))²] ]

with ``loss`` any of ``rewardlab.models.losses.LOSSES`` (default "bt":
−log σ(Δ − m)). Chosen and rejected texts of a batch go through the model in
one forward pass. Full fine-tuning or LoRA (Hu et al., 2021; ``peft``, head
trained in full); AdamW with linear decay; gradients accumulated over
``grad_accum`` micro-batches, each weighted by its share of the step's pairs,
so batch b × accumulation a equals batch a·b × accumulation 1. Precision
"auto" is bf16 autocast on CUDA devices that support it, else fp32. Dropout
is disabled (a reward model should score a text the same way twice). After
each epoch the validation accuracy (ties ½) is measured and the best epoch's
weights are kept.

Runs under ``accelerate launch`` (data parallel, one process per GPU) when
``accelerate`` is installed; without it, one process on CUDA or CPU.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

import rewardlab
from rewardlab.data.record import Comparison
from rewardlab.features.base import ProgressCallback
from rewardlab.models.lm.transformer_rm import (
    TransformerRewardModel,
    default_device,
    join_for_model,
    prepare_tokenizer,
    resolve_precision,
    tokenize,
)
from rewardlab.models.losses import LOSSES, PairBatch
from rewardlab.models.training.config import LoopOptions
from rewardlab.models.training.units import PairTable, pair_table


@dataclass(kw_only=True)
class TransformerTrainConfig(LoopOptions):
    """Hyper-parameters of end-to-end fine-tuning: the shared
    :class:`~rewardlab.models.training.config.LoopOptions` (``epochs``,
    ``batch_size``, ``lr``, ``weight_decay``, ``seed``; with its own defaults here)
    plus the fields below. Every epoch ends with a validation pass and the best
    epoch's weights are kept; ``patience`` is not used (the epochs are few).

    ``model``: local folder or hub name; ``num_labels``: K outputs of the head;
    ``lora_*``: LoRA rank, scale α, dropout and target modules (empty: peft's
    default for the architecture, else every linear layer); ``lr``: None gives
    2e-5 full, 1e-4 LoRA; ``batch_size`` pairs per micro-batch and process,
    ``grad_accum`` micro-batches per optimizer step; ``max_length`` tokens per
    joined text; ``loss``/``loss_params``: a ``LOSSES`` entry; ``center_weight``
    η; ``precision``: "auto" | "bf16" | "fp32"; ``use_accelerate``: use
    ``accelerate.Accelerator`` when installed.
    """

    model: str
    num_labels: int = 1
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(default_factory=list)
    lr: float | None = None
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    epochs: int = 1
    batch_size: int = 8
    grad_accum: int = 1
    eval_batch_size: int = 32
    max_length: int = 512
    loss: str = "bt"
    loss_params: dict[str, Any] = field(default_factory=dict)
    center_weight: float = 0.01
    seed: int = 0
    precision: str = "auto"
    gradient_checkpointing: bool = False
    use_accelerate: bool = True

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1e-4 if self.lora else 2e-5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TransformerTrainReport:
    n_train_pairs: int
    n_val_pairs: int
    skipped_ties: int
    skipped_unranked: int
    device: str
    precision: str
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


class SingleProcess:
    """The part of ``accelerate.Accelerator`` the loop uses, for one process without it."""

    num_processes = 1
    is_main_process = True

    def __init__(self, precision: str) -> None:
        self.device = default_device()
        self.precision = precision

    def prepare(self, model, *others):
        return (model.to(self.device), *others)

    def autocast(self):
        return torch.autocast(self.device.type, torch.bfloat16, enabled=self.precision == "bf16")

    def no_sync(self, model):
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip_grad_norm_(self, parameters, max_norm: float):
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def gather_for_metrics(self, value):
        return value

    def unwrap_model(self, model):
        return model


def make_runtime(config: TransformerTrainConfig, precision: str):
    """``accelerate.Accelerator`` when installed and wanted, else :class:`SingleProcess`.

    accelerate keeps one process-wide state whose precision cannot change; when an
    earlier trainer in this single process (a notebook, a test run, TRL) set another
    one, that state is reset first. Under ``accelerate launch`` (several processes)
    it is never touched.
    """
    if config.use_accelerate:
        try:
            from accelerate import Accelerator
            from accelerate.state import AcceleratorState
        except ImportError:
            return SingleProcess(precision)
        wanted = "bf16" if precision == "bf16" else "no"
        state = AcceleratorState._shared_state
        if state and state.get("_mixed_precision", wanted) != wanted:
            if state.get("num_processes", 1) > 1:
                raise ValueError(
                    f"accelerate already runs with mixed precision "
                    f"{state['_mixed_precision']!r}; this config asks for {wanted!r}"
                )
            AcceleratorState._reset_state()
        return Accelerator(mixed_precision=wanted)
    return SingleProcess(precision)


def _pair_texts(tokenizer, table: PairTable, max_length: int) -> list[tuple[str, str]]:
    chosen = join_for_model(tokenizer, table.prompts, table.chosen, max_length)
    rejected = join_for_model(tokenizer, table.prompts, table.rejected, max_length)
    return list(zip(chosen, rejected, strict=True))


def _loader(pairs, margins, tokenizer, config, batch_size: int, shuffle: bool):
    def collate(indices: list[int]) -> dict[str, Any]:
        texts = [pairs[i][0] for i in indices] + [pairs[i][1] for i in indices]
        batch = {"inputs": dict(tokenize(tokenizer, texts, config.max_length))}
        if margins is not None:
            batch["margin"] = torch.from_numpy(margins[indices])
        return batch

    generator = torch.Generator().manual_seed(config.seed)
    return torch.utils.data.DataLoader(
        list(range(len(pairs))),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator if shuffle else None,
        collate_fn=collate,
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
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return step_loss


def _validate(model, runtime, loader, config) -> dict[str, float]:
    model.eval()
    chosen_all, rejected_all, margin_all = [], [], []
    with torch.inference_mode():
        for batch in loader:
            chosen, rejected, margin = _rewards(model, runtime, batch)
            chosen_all.append(runtime.gather_for_metrics(chosen.T.contiguous()))
            rejected_all.append(runtime.gather_for_metrics(rejected.T.contiguous()))
            if margin is not None:
                margin_all.append(runtime.gather_for_metrics(margin[0].contiguous()))
    chosen, rejected = torch.cat(chosen_all).T, torch.cat(rejected_all).T
    margin = torch.cat(margin_all)[None, :] if margin_all else None
    loss = pair_objective(chosen, rejected, margin, config.loss, config.loss_params, 0.0)
    delta = (chosen - rejected).mean(dim=0)
    accuracy = ((delta > 0).float() + 0.5 * (delta == 0).float()).mean()
    model.train()
    return {"val_loss": float(loss), "val_accuracy": float(accuracy)}


def _trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


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
) -> tuple[TransformerRewardModel, TransformerTrainReport]:
    """Fine-tune ``config.model`` on the pairs of ``train_records``; keep the best epoch.

    ``progress(step, total_steps)`` is called after each optimizer step.
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
    precision = resolve_precision(config.precision)
    runtime = make_runtime(config, precision)
    model, tokenizer = build_trainable_model(config)
    train_margin, val_margin = _margins(train_table, val_table, config)
    train_pairs = _pair_texts(tokenizer, train_table, config.max_length)
    train_loader = _loader(train_pairs, train_margin, tokenizer, config, config.batch_size, True)
    val_loader = None
    if len(val_table):
        val_pairs = _pair_texts(tokenizer, val_table, config.max_length)
        val_loader = _loader(val_pairs, val_margin, tokenizer, config, config.eval_batch_size, False)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    if val_loader is None:
        model, optimizer, train_loader = runtime.prepare(model, optimizer, train_loader)
    else:
        model, optimizer, train_loader, val_loader = runtime.prepare(
            model, optimizer, train_loader, val_loader
        )
    steps_per_epoch = math.ceil(len(train_loader) / config.grad_accum)
    total_steps = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / total_steps)
    )
    history: list[dict[str, Any]] = []
    best_accuracy, best_epoch, best_state = -1.0, config.epochs, None
    train_seconds = val_seconds = 0.0
    step = 0
    model.train()
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        losses = []
        for group in _groups(train_loader, config.grad_accum):
            losses.append(_step(model, runtime, optimizer, scheduler, group, config))
            step += 1
            if progress is not None:
                progress(step, total_steps)
        train_seconds += time.perf_counter() - start
        record: dict[str, Any] = {"epoch": epoch, "train_loss": float(np.mean(losses))}
        if val_loader is not None:
            start = time.perf_counter()
            record.update(_validate(model, runtime, val_loader, config))
            val_seconds += time.perf_counter() - start
            if record["val_accuracy"] > best_accuracy:
                best_accuracy, best_epoch = record["val_accuracy"], epoch
                best_state = _trainable_state(runtime.unwrap_model(model))
        history.append(record)
    model = runtime.unwrap_model(model)
    if best_state is not None and best_epoch != config.epochs:
        _restore(model, best_state)
    model_config = {
        "id": f"rewardlab-transformer-{config.loss}" + ("-lora" if config.lora else ""),
        "rewardlab_version": rewardlab.__version__,
        "backbone": {"kind": "transformer", "model": config.model, "lora": config.lora},
        "loss": {"name": config.loss, "params": config.loss_params},
        "n_members": config.num_labels,
        "train": config.to_dict(),
        "data_fingerprint": data_fingerprint,
    }
    reward_model = TransformerRewardModel.from_model(
        model, tokenizer, model_config, config.max_length, config.eval_batch_size
    )
    report = TransformerTrainReport(
        n_train_pairs=len(train_table),
        n_val_pairs=len(val_table),
        skipped_ties=train_table.skipped_ties + val_table.skipped_ties,
        skipped_unranked=train_table.skipped_unranked + val_table.skipped_unranked,
        device=str(runtime.device),
        precision=precision,
        n_processes=runtime.num_processes,
        train_seconds=train_seconds,
        val_seconds=val_seconds,
        pairs_per_second=len(train_table) * config.epochs / max(train_seconds, 1e-9),
        best_epoch=best_epoch,
        history=history,
    )
    return reward_model, report
