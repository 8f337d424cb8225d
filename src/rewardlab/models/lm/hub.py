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
made (:func:`rewardlab.features.device.check_device`), a ``max_length`` beyond the
model's positions when it is loaded (:func:`check_max_length`).

:class:`HubModelOptions` is the one home of the options every Hugging Face model
shares (``--max-length``, ``--dtype``, ``--device``, ``--token-budget``,
``--trust-remote-code``, ``--weights``, ``--chat-template``): each is an
:func:`~rewardlab.options.option` field with its help and constraint, and the CLI
makes its flags from them. The default input lengths are :data:`CLASSIFIER_MAX_LENGTH`
and :data:`JUDGE_MAX_LENGTH`. This module imports no torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.features.device import DTYPES, check_device
from rewardlab.options import OptionError, check, option

HF_PREFIX = "hf:"
CHAT_TEMPLATE_MODES = ("auto", "always", "never")
"""When a model's chat template is applied to a (prompt, response) pair: ``auto`` once
unless the text already carries it, ``always``, ``never`` (:mod:`rewardlab.models.lm.chat`)."""
TRUST_FLAG = "--trust-remote-code"

CLASSIFIER_MAX_LENGTH = 2048
"""A reward classifier's input length when ``max_length`` is not given and the model says
none of its own: the tokenizer's ``model_max_length`` capped here (RewardBench's
``--max_length``). A model fine-tuned by rewardlab says its own: the ``max_length`` it was
trained with (``rewardlab.json``; :class:`~rewardlab.models.lm.transformer_config.
TransformerTrainConfig`'s default is 512)."""
JUDGE_MAX_LENGTH = 4096
"""A judge's input length when ``max_length`` is not given: the tokenizer's
``model_max_length`` capped here (a judging prompt holds a prompt and two responses)."""


def default_max_length(tokenizer: Any, cap: int) -> int:
    """The tokenizer's ``model_max_length``, at most ``cap``."""
    return min(int(tokenizer.model_max_length), cap)


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
    return check_device(text)



@dataclass(frozen=True)
class HubModelOptions:
    """How a Hugging Face model (a reward classifier, a judge, an image reward, a transformer
    fine-tuned by rewardlab) is loaded and batched; which kind reads which field is declared
    by the loader (:data:`rewardlab.load.kinds.MODEL_KINDS`). Each field is checked when the
    options are made (:class:`~rewardlab.options.OptionError` naming the flag).

    ``weights``: for several outputs, the reward is ``Σ_k weights[k] · out_k``; a batch
    holds as many inputs, sorted by length, as fit ``n · longest ≤ token_budget``."""

    max_length: int | None = option(
        None, "Hugging Face models: tokens per input (default: the model's own, the length a "
        "rewardlab model was fine-tuned with, else the tokenizer's, at most 2048 for a reward "
        "model and 4096 for a judge).", min=8)
    dtype: str = option(
        "auto", "Hugging Face models: auto | bf16 | fp16 | fp32 (auto = bf16 on a CUDA device "
        "that supports it, else fp32).", choices=lambda: DTYPES, kind="dtype")
    device: str | None = option(
        None, "Hugging Face models: torch device, cpu | cuda | cuda:N | mps (default: CUDA if "
        "present).", parse=_device)
    token_budget: int = option(
        16384, "Hugging Face models: padded tokens per batch (inputs sorted by length).", min=1)
    trust_remote_code: bool = option(
        False, "Allow a Hugging Face model whose config runs its own code (auto_map).")
    weights: tuple[float, ...] | None = option(
        None, "Multi-output Hugging Face models: reward = sum of w_k * output_k, given as "
        "w1,w2,… (default: the mean of the outputs).", parse=parse_weights,
        format=lambda w: "" if w is None else ",".join(f"{x:g}" for x in w), metavar="W1,W2,…")
    chat_template: str = option(
        "auto", "Hugging Face reward models with a chat template: auto (apply it once, unless "
        "the text already carries it: then read the text as sent) | always | never.",
        choices=lambda: CHAT_TEMPLATE_MODES, kind="chat-template mode")

    def __post_init__(self) -> None:
        if isinstance(self.weights, list):
            object.__setattr__(self, "weights", tuple(self.weights))
        check(self)
        if self.device is not None:
            check_device(self.device)
        check_weights(self.weights)


def check_max_length(max_length: int | None, model: Any, folder: str | Path) -> None:
    """:class:`OptionError` when ``max_length`` is longer than the model has positions for
    (an input that long would index past its position embeddings)."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if max_length is not None and isinstance(limit, int) and max_length > limit:
        raise OptionError(
            f"--max-length: {max_length} tokens is more than the {limit} positions of {folder}"
        )


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
    from rewardlab.data.io import read_json_object  # not at CLI start-up

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
