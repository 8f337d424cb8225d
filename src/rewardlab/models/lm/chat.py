"""Text formatting, tokenization and length-sorted batching for published models.

Formatting follows RewardBench (``rewardbench/utils.py::prepare_dialogue_from_tokenizer``
and ``models/pipeline.py``, Lambert et al., 2024):

* tokenizer with a chat template: ``apply_chat_template([user: prompt,
  assistant: response], tokenize=False)`` with no generation prompt;
  otherwise ``prompt\\n\\nresponse`` (RewardBench uses a FastChat template
  there, ``tulu`` by default; rewardlab has no such table and uses the plain
  join, as its fine-tuned models do);
* a pair whose text already carries the chat template is read as given, once
  (the chat-template mode, :data:`~rewardlab.models.lm.transformer_rm.CHAT_TEMPLATE_MODES`:
  ``auto`` detects it, ``always`` templates every pair, ``never`` none);
* the text is tokenized *with* the tokenizer's special tokens (the
  text-classification pipeline does), except that a text that already starts
  with the BOS token gets none added, so BOS is never doubled (RewardBench
  masks the duplicate instead);
* the prompt is cut from the left to fit ``max_length`` and the response is
  kept (:func:`rewardlab.models.lm.transformer_rm.join_for_model`); only a
  response longer than the budget is cut at its end.

Batches: inputs are sorted by token count (longest first, stable) and packed
while ``n · longest ≤ token_budget``, so little compute goes to padding; the
results are put back in input order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rewardlab.models.lm.transformer_rm import join_for_model, uses_chat_template


def special_token_count(tokenizer: Any) -> int:
    """How many special tokens the tokenizer adds to a single text."""
    return len(tokenizer("", add_special_tokens=True)["input_ids"])


def format_pairs(
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int,
    mode: str = "auto",
) -> list[str]:
    """The texts the model reads: its chat template if it has one (applied once, per
    ``mode``), else the plain join."""
    extra = special_token_count(tokenizer) if uses_chat_template(tokenizer) else 0
    return join_for_model(tokenizer, prompts, responses, max_length - extra, mode)


def encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids of each text, special tokens added unless the text starts with BOS."""
    bos = getattr(tokenizer, "bos_token", None)
    has_bos = [bool(bos) and t.startswith(bos) for t in texts]
    ids: list[list[int]] = [[] for _ in texts]
    for flag in (False, True):
        idx = [i for i, h in enumerate(has_bos) if h == flag]
        if not idx:
            continue
        out = tokenizer([texts[i] for i in idx], add_special_tokens=not flag,
                        truncation=True, max_length=max_length)["input_ids"]
        for i, row in zip(idx, out, strict=True):
            ids[i] = list(row)
    return ids


def token_budget_batches(lengths: Sequence[int], token_budget: int) -> Iterator[np.ndarray]:
    """Index batches, longest first, each with ``len(batch) · longest ≤ token_budget``.

    An input longer than the budget forms a batch of its own.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    start = 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = max(1, token_budget // longest)
        yield order[start : start + size]
        start += size


def pad_batch(tokenizer: Any, rows: Sequence[Sequence[int]], device: Any) -> dict[str, Any]:
    """Right-padded ``input_ids`` and ``attention_mask`` tensors on ``device``."""
    import torch

    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
