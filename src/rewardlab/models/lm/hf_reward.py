"""The one scorer of a Hugging Face sequence-classification reward model.

Any ``AutoModelForSequenceClassification`` checkpoint becomes a ``RewardModel``
through :class:`HFRewardModel`, whatever it came from: a published folder or
``hf:ORG/NAME`` (:mod:`rewardlab.models.lm.hub`), a model rewardlab fine-tuned
(a directory with ``rewardlab.json``, :mod:`rewardlab.models.lm.transformer_rm`),
or the model in memory while it is fine-tuned (its validation,
:mod:`rewardlab.models.lm.transformer_train`). So the same weights give the same
scores by every route, and the loading options
(:class:`~rewardlab.models.lm.hub.HubModelOptions`: ``max_length``, ``dtype``,
``device``, ``token_budget``, ``weights``, ``chat_template``) mean the same for
all of them. The text it reads is formatted as RewardBench formats it
(:mod:`rewardlab.models.lm.chat`: the model's chat template, else
``prompt\\n\\nresponse``; prompt cut from the left), and a text that already
carries the model's chat template is read as given, never templated twice
(``chat_template``: ``auto``, ``always``, ``never``). :meth:`HFRewardModel.score_as_sent`
scores whole texts without a prompt boundary (what LLaMA-Factory and vLLM's
classify API send) as given. Per model family:

* decoders with a chat template (Llama-3, Qwen2, Gemma, Skywork, …): the
  template, BOS once, the logit read at the last non-pad token, as the
  RewardBench pipeline does;
* models without a chat template (DeBERTa/BERT classifiers such as
  OpenAssistant's): the plain join with the tokenizer's [CLS]/[SEP] tokens.
  RewardBench renders them with a FastChat conversation template instead
  (``--chat_template``, default ``tulu``) and appends EOS, so its scores can
  differ from rewardlab's for these models;
* several outputs (``num_labels = K > 1``, multi-objective heads such as
  ArmoRM's 19 attributes): every output is a named attribute
  (``score_attributes``, names from ``config.id2label``) and the reward is

      r(x, y) = Σ_k w_k · o_k(x, y),   w_k = 1/K unless weights are given

  (RewardBench's generic pipeline would report only the largest logit; such
  models ship their own reduction, which the user passes as ``weights``).

Outputs are raw logits (``function_to_apply="none"``, as RewardBench reads
them). Texts are tokenized by :func:`rewardlab.features.tokens.encode` (special
tokens added, BOS never doubled) and scored under ``torch.inference_mode`` in
length-sorted batches of at most ``token_budget`` padded tokens; the result does
not depend on the order or the batching of the inputs beyond floating-point
rounding. The input length is ``max_length`` when given, else the model's own: the
length it was fine-tuned with (``rewardlab.json``), else the tokenizer's
``model_max_length`` at most :data:`~rewardlab.models.lm.hub.CLASSIFIER_MAX_LENGTH`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.features.device import resolve_device, resolve_dtype
from rewardlab.features.hf_load import load_pretrained, load_tokenizer
from rewardlab.features.tokens import encode, pad_batch, token_budget_batches
from rewardlab.models.lm.chat import format_pairs, prepare_tokenizer, read_as_sent
from rewardlab.models.lm.hub import (
    CLASSIFIER_MAX_LENGTH,
    HubModelOptions,
    check_max_length,
    check_remote_code,
    default_max_length,
    read_hf_config,
)
from rewardlab.protocols import check_lengths


class HFRewardModel:
    """Implements ``RewardModel`` and ``score_members`` (one row per output) for a HF classifier.

    ``config`` is what rewardlab knows of a model it fine-tuned (``rewardlab.json``: its
    id, the ``max_length`` it was trained with, its training options); empty for a
    published model.
    """

    def __init__(self, model: Any, tokenizer: Any, options: HubModelOptions | None = None,
                 name: str = "", config: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.options = options or HubModelOptions()
        self.name = name
        self.batch_progress: Callable[[int, int], None] | None = None
        """Called as ``batch_progress(done, total)`` after each forward batch of a pass."""
        self.config = dict(config or {})
        self.max_length = int(self.options.max_length or self.config.get("max_length")
                              or default_max_length(tokenizer, CLASSIFIER_MAX_LENGTH))
        k = self.n_members
        weights = self.options.weights
        if weights is not None and len(weights) != k:
            raise ValueError(
                f"option 'weights': {name} has {k} outputs, got {len(weights)} weights"
            )
        self.weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, float)

    @property
    def id(self) -> str:
        return str(self.config.get("id", self.name))

    @property
    def n_members(self) -> int:
        return int(self.model.config.num_labels)

    @property
    def attribute_names(self) -> list[str]:
        """Output names from ``id2label`` (``LABEL_k`` when the config names none)."""
        labels = getattr(self.model.config, "id2label", None) or {}
        return [str(labels.get(k, labels.get(str(k), f"LABEL_{k}"))) for k in range(self.n_members)]

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def chat_template(self) -> str:
        """The chat-template mode (``auto``, ``always`` or ``never``)."""
        return self.options.chat_template

    def texts(self, prompts: Sequence[str], responses: Sequence[str]) -> list[str]:
        """The formatted texts, one per (prompt, response)."""
        return format_pairs(self.tokenizer, prompts, responses, self.max_length,
                            self.chat_template)

    def reads_as_sent(self, prompts: Sequence[str], responses: Sequence[str]) -> list[bool]:
        """Which pairs the model reads as ``prompt + response`` exactly (already templated)."""
        return read_as_sent(self.tokenizer, prompts, responses, self.chat_template)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids the model reads for formatted texts."""
        return encode(self.tokenizer, texts, self.max_length)

    def score_members(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Every output's raw logit, shape ``(K, n)``, float64."""
        if check_lengths(prompts, responses) == 0:
            return np.zeros((self.n_members, 0), dtype=np.float64)
        return self._forward(self.texts(prompts, responses))

    def score_as_sent(self, texts: Sequence[str]) -> np.ndarray:
        """Rewards of whole texts (no prompt boundary), each read exactly as given."""
        return self.weights @ self._forward(list(texts))

    def score_with_attributes(
        self, prompts: Sequence[str], responses: Sequence[str]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(reward, {attribute: values})`` from one forward pass."""
        rows = self.score_members(prompts, responses)
        return self.weights @ rows, dict(zip(self.attribute_names, rows, strict=True))

    def _forward(self, texts: list[str]) -> np.ndarray:
        """Every output's raw logit for formatted texts, shape ``(K, n)``."""
        import torch

        if not texts:
            return np.zeros((self.n_members, 0), dtype=np.float64)
        ids = self.token_ids(texts)
        out = np.zeros((self.n_members, len(ids)), dtype=np.float64)
        with torch.inference_mode():
            batches = token_budget_batches([len(r) for r in ids], self.options.token_budget)
            for done, idx in enumerate(batches, 1):
                batch = pad_batch(self.tokenizer, [ids[i] for i in idx], self.device)
                logits = self.model(**batch).logits
                out[:, idx] = logits.float().cpu().numpy().T
                if self.batch_progress is not None:
                    self.batch_progress(done, len(batches))
        return out

    def score_attributes(
        self, prompts: Sequence[str], responses: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """Each named output, ``{id2label[k]: (n,)}``."""
        return self.score_with_attributes(prompts, responses)[1]

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """r = Σ_k w_k · o_k (the mean of the outputs by default)."""
        return self.weights @ self.score_members(prompts, responses)


def load_hf_reward_model(
    folder: str | Path, options: HubModelOptions | None = None, name: str | None = None,
    config: dict[str, Any] | None = None,
) -> HFRewardModel:
    """Load a sequence-classification checkpoint folder (``config.json`` + weights +
    tokenizer); ``config`` is rewardlab's own of a model it fine-tuned (see the class)."""
    from transformers import AutoModelForSequenceClassification

    options = options or HubModelOptions()
    hf_config = read_hf_config(folder)
    check_remote_code(folder, hf_config, options.trust_remote_code)
    archs = hf_config.get("architectures") or []
    if archs and not any("SequenceClassification" in a or "RewardModel" in a for a in archs):
        raise ValueError(
            f"{Path(folder) / 'config.json'}: architectures {archs} is not a sequence "
            f"classifier (a reward model); use judge:{folder} to judge with a causal LM"
        )
    device = resolve_device(options.device)
    remote = options.trust_remote_code
    tokenizer = prepare_tokenizer(load_tokenizer(folder, remote))
    model = load_pretrained(  # checked: readable, complete, finite (features.hf_load)
        AutoModelForSequenceClassification, folder, tokenizer,
        dtype=resolve_dtype(options.dtype, device), trust_remote_code=remote,
    )
    check_max_length(options.max_length, model, folder)
    model.config.pad_token_id = tokenizer.pad_token_id  # the id pad_batch pads with
    return HFRewardModel(model.to(device), tokenizer, options, name or str(folder), config)
