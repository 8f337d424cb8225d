"""Options of end-to-end fine-tuning (``rewardlab train --backbone transformer:PATH``).

The shared :class:`~rewardlab.models.training.config.ObjectiveOptions` (loop,
loss, members, centering) with this trainer's own defaults, plus the fields
below. Every epoch ends with a validation pass; training stops ``patience``
epochs after the best validation loss and the best epoch's weights are kept
(:func:`rewardlab.models.training.early_stopping.run_epochs`, as every trainer).
``dtype`` and ``token_budget`` are the scoring options of every Hugging Face
model (:class:`~rewardlab.models.lm.hub.HubModelOptions`), with the same names,
values and help; ``max_length`` is the input length the model is trained with and,
saved with it, the one it is scored with unless ``--max-length`` says otherwise.
This module imports no torch: the CLI builds its flags from these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.training.config import LoopOptions, ObjectiveOptions
from rewardlab.options import option, redefault


@dataclass(kw_only=True)
class TransformerTrainConfig(ObjectiveOptions):
    """Fine-tuning options: ``model`` (local folder or hub name), ``n_members`` K outputs
    of the head; ``lr`` None gives 2e-5 full, 1e-4 LoRA (:attr:`learning_rate`);
    ``batch_size`` pairs per micro-batch and process; ``dtype`` the autocast type of
    the forward and backward passes (weights stay fp32; "auto" is bf16 on CUDA devices
    that support it, else fp32; :func:`rewardlab.features.device.resolve_dtype`);
    ``token_budget`` the padded tokens per validation batch."""

    model: str = option(help="Folder or hub name of the sequence-classification model.",
                        cli=False)
    lora: bool = option(False, "transformer:PATH: train LoRA adapters, not all weights.")
    lora_r: int = option(16, "LoRA rank.", min=1, cli=False)
    lora_alpha: int = option(32, "LoRA scale α.", min=1, cli=False)
    lora_dropout: float = option(0.05, "LoRA dropout.", min=0.0, max=1.0, cli=False)
    lora_target_modules: list[str] = option(
        default_factory=list, help="LoRA target modules (empty: peft's default for the "
        "architecture, else every linear layer).", cli=False)
    lr: float | None = redefault(LoopOptions, "lr", None)
    weight_decay: float = redefault(LoopOptions, "weight_decay", 0.0)
    max_grad_norm: float = option(1.0, "Gradient clipping norm.", min=0.0, cli=False)
    epochs: int = redefault(LoopOptions, "epochs", 1)
    batch_size: int = redefault(LoopOptions, "batch_size", 8)
    grad_accum: int = option(1, "transformer:PATH: micro-batches per optimizer step.", min=1)
    token_budget: int = redefault(HubModelOptions, "token_budget",
                                     HubModelOptions.token_budget)
    max_length: int = option(512, "transformer:PATH: tokens per prompt + response (and the "
                             "saved model's default when it is scored).", min=8)
    dtype: str = redefault(HubModelOptions, "dtype", HubModelOptions.dtype)
    gradient_checkpointing: bool = option(False, "Recompute activations in the backward "
                                          "pass (less memory).", cli=False)
    use_accelerate: bool = option(True, "Use accelerate.Accelerator when installed.", cli=False)

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 1e-4 if self.lora else 2e-5

    @property
    def num_labels(self) -> int:
        """K outputs of the classification head (``n_members``)."""
        return self.n_members

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
