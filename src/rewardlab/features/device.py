"""Where a Hugging Face model runs and in which floating-point type: one vocabulary, one rule.

Every model rewardlab runs through transformers (a reward classifier, a judge or
another causal LM, a CLIP tower, a model being fine-tuned) names its type with one
of :data:`DTYPES` and gets it from :func:`resolve_dtype`:

* ``auto``: bfloat16 on a CUDA device that supports it, float32 elsewhere (CPU,
  MPS, older GPUs), as TRL's ``bf16`` default and RewardBench's ``--torch_dtype``
  resolve on such machines;
* ``bf16``, ``fp16``, ``fp32``: bfloat16, float16, float32.

A scorer loads its weights in that type; the trainer keeps float32 weights and
computes in that type under autocast (:mod:`rewardlab.models.lm.transformer_train`).

A device is ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; one that does not exist on
this machine is refused by :func:`check_device`, and ``None`` means CUDA when
present, else CPU (:func:`resolve_device`). torch is imported only when called.
"""

from __future__ import annotations

from typing import Any

from rewardlab.options import OptionError

DTYPES = ("auto", "bf16", "fp16", "fp32")
"""The floating-point types a model can run in (``auto``: see the module doc)."""
DEVICE_KINDS = "cpu, cuda, cuda:N or mps"


def check_device(device: str) -> str:
    """``device`` when it is cpu, an existing CUDA device or an available mps device, else
    :class:`~rewardlab.options.OptionError` (``--device: …``)."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise OptionError(f"--device: {device!r} is not a device ({DEVICE_KINDS})") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (parsed.index or 0) >= count:
            raise OptionError(f"--device: {device!r} does not exist on this machine "
                             f"({count} CUDA device(s) visible)")
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise OptionError(f"--device: {device!r} is not available on this machine")
    elif parsed.type != "cpu":
        raise OptionError(f"--device: {device!r} is not supported ({DEVICE_KINDS})")
    return device


def resolve_device(device: str | None) -> Any:
    """The torch device of ``device``: as given, else CUDA when present, else CPU."""
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(name: str, device: Any) -> Any:
    """The torch dtype of a :data:`DTYPES` name on ``device`` (a torch device)."""
    import torch

    if name not in DTYPES:
        raise OptionError(f"--dtype: {name!r} is not one of {', '.join(DTYPES)}")
    if name == "auto":
        bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if bf16 else torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]
