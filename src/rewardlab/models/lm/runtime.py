"""Where the fine-tuning loop runs: ``accelerate.Accelerator`` or one plain process.

:func:`make_runtime` gives ``accelerate.Accelerator`` when it is installed and
wanted (data parallel under ``accelerate launch``, one process per GPU), else
:class:`SingleProcess`, the part of the Accelerator's interface the loop of
:mod:`rewardlab.models.lm.transformer_train` uses: ``prepare``, ``autocast`` (to the
compute dtype of :func:`rewardlab.features.device.resolve_dtype`), ``no_sync``,
``backward``, ``clip_grad_norm_``, ``unwrap_model``, ``reduce``. fp16 scales the
loss (``torch.amp.GradScaler``: scale before backward, unscale before clipping,
skip a step with infinite gradients), as accelerate does.
"""

from __future__ import annotations

import contextlib

import torch

from rewardlab.features.device import resolve_device
from rewardlab.models.lm.transformer_config import TransformerTrainConfig

DTYPE_NAMES = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}


class SingleProcess:
    """The part of ``accelerate.Accelerator`` the loop uses, for one process without it;
    fp16 scales the loss (``torch.amp.GradScaler``) as accelerate does."""

    num_processes = 1
    is_main_process = True

    def __init__(self, dtype: torch.dtype) -> None:
        self.device = resolve_device(None)
        self.dtype = dtype
        self.grad_scaler = (torch.amp.GradScaler(self.device.type)
                            if dtype == torch.float16 else None)
        self.optimizer = None

    def prepare(self, model, optimizer, *others):
        self.optimizer = optimizer
        return (model.to(self.device), optimizer, *others)

    def autocast(self):
        return torch.autocast(self.device.type, self.dtype, enabled=self.dtype != torch.float32)

    def no_sync(self, model):
        return contextlib.nullcontext()

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.grad_scaler is None else self.grad_scaler.scale(loss)).backward()

    def clip_grad_norm_(self, parameters, max_norm: float):
        if self.grad_scaler is not None:
            self.grad_scaler.unscale_(self.optimizer)
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm)

    def unwrap_model(self, model):
        return model

    def reduce(self, tensor: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
        return tensor


def optimizer_step(runtime, optimizer) -> None:
    """``optimizer.step()``; through the loss scaler of a :class:`SingleProcess` in fp16
    (accelerate's prepared optimizer scales on its own)."""
    scaler = getattr(runtime, "grad_scaler", None)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()


def make_runtime(config: TransformerTrainConfig, dtype: torch.dtype):
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
            return SingleProcess(dtype)
        wanted = "no" if dtype == torch.float32 else DTYPE_NAMES[dtype]
        state = AcceleratorState._shared_state
        if state and state.get("_mixed_precision", wanted) != wanted:
            if state.get("num_processes", 1) > 1:
                raise ValueError(
                    f"accelerate already runs with mixed precision "
                    f"{state['_mixed_precision']!r}; this config asks for {wanted!r}"
                )
            AcceleratorState._reset_state()
        return Accelerator(mixed_precision=wanted)
    return SingleProcess(dtype)
