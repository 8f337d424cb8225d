"""Where a Hugging Face model comes from and how it may be loaded.

``hf:ORG/NAME`` is resolved through the Hugging Face cache (``HF_HUB_CACHE``,
laid out as ``models--ORG--NAME/snapshots/<revision>/…`` with ``refs/main``):
the cached snapshot is used as is, so it works offline
(``HF_HUB_OFFLINE=1``) whenever the cache holds it. Only when the cache lacks
it and the hub is reachable is it downloaded, because the user asked for a
hub name. A local folder is used directly.

Remote code: a ``config.json`` with an ``auto_map`` entry needs the model's own
Python code. Loading it runs that code, so it is refused unless the user
passes ``trust_remote_code=True`` (``--trust-remote-code``).

Checks on load (:func:`rewardlab.features.hf_load.load_tokenizer`,
:func:`~rewardlab.features.hf_load.load_pretrained`), each a
:class:`~rewardlab.data.errors.DataError` naming the folder: a tokenizer or model
that transformers cannot read (a corrupt ``config.json``, ``tokenizer.json`` or
safetensors file, shapes that do not fit the config); a tokenizer that reads
every word as unknown (transformers builds an empty BERT tokenizer from a
folder without tokenizer files, which would score every text as ``[UNK]``); a
tokenizer with more tokens than the model embeds; weights the checkpoint lacks
(transformers would initialise them at random: a base model without its reward
head, a classifier loaded as a judge); weights holding NaN or ±Inf. A
``device`` that does not exist on this machine is refused when the options are
made (:func:`check_device`), a ``max_length`` beyond the model's positions when
it is loaded (:func:`check_max_length`).

:class:`HubModelOptions` holds the loading options every Hugging Face model
shares (the CLI turns its fields into flags).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.options import OptionError, check, option

HF_PREFIX = "hf:"
DTYPES = ("auto", "bf16", "fp16", "fp32")
CHAT_TEMPLATE_MODES = ("auto", "always", "never")
"""When a model's chat template is applied to a (prompt, response) pair: ``auto`` once
unless the text already carries it, ``always``, ``never``
(:mod:`rewardlab.models.lm.transformer_rm`)."""
TRUST_FLAG = "--trust-remote-code"


def parse_weights(text: str) -> tuple[float, ...] | None:
    """``--weights w1,w2,…`` as numbers (empty text: none given), checked by
    :func:`check_weights`."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    try:
        weights = tuple(float(part) for part in parts) or None
    except ValueError:
        raise OptionError(f"--weights: expected comma-separated finite numbers, not all zero, "
                          f"got {text!r}") from None
    check_weights(weights)
    return weights


def check_weights(weights: tuple[float, ...] | None) -> None:
    """:class:`~rewardlab.options.OptionError` unless ``weights`` are finite numbers, not all
    zero (a zero reward is no reward)."""
    if weights is None:
        return
    if not all(math.isfinite(w) for w in weights) or not any(weights):
        shown = ",".join(f"{w:g}" for w in weights)
        raise OptionError(
            f"--weights: expected comma-separated finite numbers, not all zero, got {shown!r}"
        )


def _device(text: str) -> str:
    """``--device TEXT`` when it names a device of this machine (:func:`check_device`)."""
    try:
        check_device(text)
    except ValueError as err:
        raise ValueError(str(err).replace("option 'device'", "--device", 1)) from None
    return text


@dataclass(frozen=True)
class HubModelOptions:
    """How a Hugging Face model (a classifier, a judge, an image reward, a transformer
    fine-tuned by rewardlab) is loaded and batched; which kind reads which field is
    declared by the loader (:data:`rewardlab.load.kinds.MODEL_KINDS`).

    ``weights``: for several outputs, the reward is ``Σ_k weights[k] · out_k``;
    ``max_length`` defaults to the tokenizer's ``model_max_length`` capped at 2048
    (RewardBench's ``--max_length``); a batch holds as many inputs, sorted by
    length, as fit ``n · longest ≤ token_budget``.
    """

    max_length: int | None = option(
        None, "Tokens per input (default: the tokenizer's, at most 2048).", min=8)
    dtype: str = option("auto", "auto | bf16 | fp16 | fp32 (auto = bf16 on CUDA, fp32 on CPU).",
                        choices=lambda: DTYPES, kind="dtype")
    device: str | None = option(
        None, "Torch device, cpu | cuda | cuda:N | mps (default: CUDA if present).",
        parse=_device)
    token_budget: int = option(
        16384, "Padded tokens per batch (inputs sorted by length).", min=1)
    trust_remote_code: bool = option(
        False, "Allow a Hugging Face model whose config runs its own code (auto_map).")
    weights: tuple[float, ...] | None = option(
        None, "Multi-output models: reward = sum of w_k * output_k, given as w1,w2,… "
        "(default: the mean of the outputs).", parse=parse_weights,
        format=lambda w: ",".join(f"{x:g}" for x in w), metavar="W1,W2,…")
    chat_template: str = option(
        "auto", "Reward models with a chat template: auto (apply it once, unless the text "
        "already carries it: then read the text as sent) | always | never.",
        choices=lambda: CHAT_TEMPLATE_MODES, kind="chat-template mode")

    def __post_init__(self) -> None:
        check(self, names=lambda field: f"option {field.name!r}")
        if self.device is not None:
            check_device(self.device)
        check_weights(self.weights)


DEVICE_KINDS = "cpu, cuda, cuda:N or mps"


def check_device(device: str) -> None:
    """Raise ``ValueError`` (``option 'device': …``) unless ``device`` is cpu, an existing
    CUDA device or an available mps device."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"option 'device': {device!r} is not a device ({DEVICE_KINDS})"
        ) from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (parsed.index or 0) >= count:
            raise ValueError(
                f"option 'device': {device!r} does not exist on this machine "
                f"({count} CUDA device(s) visible)"
            )
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"option 'device': {device!r} is not available on this machine")
    elif parsed.type != "cpu":
        raise ValueError(f"option 'device': {device!r} is not supported ({DEVICE_KINDS})")


def check_max_length(max_length: int | None, model: Any, folder: str | Path) -> None:
    """``ValueError`` when ``max_length`` is longer than the model has positions for (an
    input that long would index past its position embeddings)."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if max_length is not None and isinstance(limit, int) and max_length > limit:
        raise ValueError(
            f"option 'max_length': {max_length} tokens is more than the {limit} positions of "
            f"{folder}"
        )


def resolve_device(device: str | None) -> Any:
    import torch

    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(dtype: str, device: Any) -> Any:
    """``auto`` → bfloat16 on a CUDA device, float32 elsewhere; the others map directly."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype]


def resolve_hf_name(spec: str) -> Path:
    """The local snapshot folder of ``hf:ORG/NAME`` (cache first; download only when online).

    ``HF_HUB_CACHE`` and ``HF_HUB_OFFLINE`` are read when called, not when
    huggingface_hub was imported.
    """
    from huggingface_hub import snapshot_download

    name = spec[len(HF_PREFIX):] if spec.startswith(HF_PREFIX) else spec
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"model {spec!r}: expected hf:ORG/NAME")
    cache = os.environ.get("HF_HUB_CACHE") or None
    try:
        return Path(snapshot_download(name, cache_dir=cache, local_files_only=True))
    except Exception:  # noqa: BLE001 - any cache miss falls through to the hub
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            raise ValueError(
                f"model {spec!r}: not in the Hugging Face cache "
                f"({cache or 'the default cache'}) and HF_HUB_OFFLINE is set"
            ) from None
    try:
        return Path(snapshot_download(name, cache_dir=cache))
    except Exception as err:  # noqa: BLE001 - unreachable hub, unknown or gated repo …
        raise ValueError(
            f"model {spec!r}: not in the Hugging Face cache and not downloadable "
            f"({type(err).__name__}); download it once or pass a local folder"
        ) from None


def read_hf_config(folder: str | Path) -> dict[str, Any]:
    """``config.json`` of a Hugging Face model folder, or a one-line error naming it."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no config.json; not a Hugging Face model folder")
    from rewardlab.models.io import read_json_object  # torch: not at CLI start-up

    return read_json_object(path)


def is_hf_model_config(config: dict[str, Any]) -> bool:
    """A transformers config (it names a ``model_type`` or ``architectures``)."""
    return "model_type" in config or "architectures" in config


def check_remote_code(folder: str | Path, config: dict[str, Any], trust: bool) -> None:
    """Refuse a config that needs the model's own code unless ``trust`` is set."""
    if "auto_map" in config and not trust:
        raise ValueError(
            f"{Path(folder) / 'config.json'}: this model runs its own code (auto_map); "
            f"pass {TRUST_FLAG} if you trust it"
        )
