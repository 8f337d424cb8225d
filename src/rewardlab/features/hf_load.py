"""Loading a Hugging Face tokenizer or model from a folder (or a hub name), with checks.

Every Hugging Face folder rewardlab reads goes through here: a reward classifier,
published or fine-tuned by rewardlab (:mod:`rewardlab.models.lm.hf_reward`), the base
model a fine-tuning starts from (:mod:`rewardlab.models.lm.transformer_train`), a
causal LM (:mod:`rewardlab.models.lm.loading`: judges, LM-derived rewards,
generation), a CLIP folder (:mod:`rewardlab.features.clip_load`) and the frozen
encoder (:mod:`rewardlab.features.encoder`). Each problem is one
:class:`~rewardlab.data.errors.DataError` naming the folder:

* a tokenizer or model that transformers cannot read (a corrupt ``config.json``,
  ``tokenizer.json`` or safetensors file, shapes that do not fit the config, an
  unknown ``model_type``), with the first line of transformers' own message;
* a tokenizer that reads every word of :data:`PROBE` as unknown: from a folder
  without tokenizer files transformers builds an empty BERT tokenizer, which would
  read every text as ``[UNK]`` and give every text the same reward;
* weights the checkpoint lacks, which transformers would initialise at random (a base
  model without its reward head, a classifier loaded as a causal LM); ``missing_ok``
  lists the name fragments that may be missing (the untrained head of a model about
  to be fine-tuned, the unused pooler of an encoder);
* a weight holding NaN or ±Inf;
* a tokenizer with more tokens than the model embeds (a tokenizer of another model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardlab.data.errors import DataError

PROBE = "the sky is blue and the water is green"


def reason(err: BaseException) -> str:
    """``Type: first line of the message`` (at most 300 characters) of ``err``."""
    lines = str(err).strip().splitlines()
    first = lines[0] if lines else ""
    return f"{type(err).__name__}: {first[:300]}" if first else type(err).__name__


def load_tokenizer(folder: str | Path, trust_remote_code: bool = False) -> Any:
    """The tokenizer of ``folder``, checked to know at least one word of :data:`PROBE`."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
    except Exception as err:  # noqa: BLE001 - transformers raises many kinds for a bad folder
        raise DataError(f"cannot load the tokenizer ({reason(err)})", path=str(folder)) from None
    ids = tokenizer(PROBE, add_special_tokens=False)["input_ids"]
    unknown = tokenizer.unk_token_id
    if not ids or (unknown is not None and all(i == unknown for i in ids)):
        raise DataError(
            "the tokenizer reads every word as unknown; the folder lacks its tokenizer files "
            "(tokenizer.json, tokenizer_config.json, vocab.txt, …)", path=str(folder),
        )
    return tokenizer


def check_finite(model: Any, folder: str | Path) -> None:
    """A :class:`DataError` naming the first parameter of ``model`` holding NaN or ±Inf."""
    import torch

    for name, tensor in model.named_parameters():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise DataError(f"weight {name!r} holds NaN or infinite values", path=str(folder))


def load_pretrained(
    auto_class: Any, folder: str | Path, tokenizer: Any, missing_ok: tuple[str, ...] = (),
    **kwargs: Any,
) -> Any:
    """``auto_class.from_pretrained(folder, **kwargs)`` with the checks of the module doc
    (``tokenizer`` None: a model that reads no text, such as an image tower)."""
    what = auto_class.__name__.removeprefix("AutoModelFor").removeprefix("Auto")
    try:
        model, info = auto_class.from_pretrained(str(folder), output_loading_info=True, **kwargs)
    except Exception as err:  # noqa: BLE001 - transformers raises many kinds for a bad folder
        raise DataError(f"cannot load the model as {what} ({reason(err)})",
                        path=str(folder)) from None
    missing = sorted(k for k in info.get("missing_keys") or ()
                     if not any(part in k for part in missing_ok))
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise DataError(
            f"the checkpoint lacks weights of a {what} model ({shown}); transformers would "
            "initialise them at random", path=str(folder),
        )
    check_finite(model, folder)
    size = getattr(_text_embeddings(model), "num_embeddings", None)
    if tokenizer is not None and size is not None and len(tokenizer) > size:
        raise DataError(
            f"the tokenizer has {len(tokenizer)} tokens but the model embeds {size}: they do "
            "not belong together", path=str(folder),
        )
    return model


def _text_embeddings(model: Any) -> Any:
    """The token embedding of ``model`` (of its text tower for a two-tower model like CLIP)."""
    try:
        return model.get_input_embeddings()
    except NotImplementedError:
        text = getattr(model, "text_model", None)
        return None if text is None else text.get_input_embeddings()
