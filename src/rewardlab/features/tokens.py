"""Token ids and batches: the one way rewardlab tokenizes texts and batches them for a model.

Every Hugging Face model rewardlab runs on text (a reward classifier scoring or
being fine-tuned, a judge, the frozen sentence encoder) goes through here:

* :func:`encode`: each text tokenized *with* the tokenizer's special tokens (the
  text-classification pipeline does), except that a text that already starts with
  the BOS token gets none added, so BOS is never doubled (a chat template that
  writes BOS itself; RewardBench masks the duplicate instead); cut at its end to
  ``max_length`` tokens;
* :func:`token_budget_batches`: inputs sorted by token count (longest first,
  stable) and packed while ``n · longest ≤ token_budget`` (and ``n ≤ max_rows``
  when given), so little compute goes to padding; an input longer than the budget
  forms a batch of its own. Callers put the results back in input order;
* :func:`pad_batch`: right-padded ``input_ids`` and ``attention_mask``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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


def token_budget_batches(lengths: Sequence[int], token_budget: int,
                         max_rows: int | None = None) -> list[np.ndarray]:
    """Index batches, longest first, each with ``len(batch) · longest ≤ token_budget`` and at
    most ``max_rows`` inputs; every batch holds at least one input."""
    if token_budget < 1 or (max_rows is not None and max_rows < 1):
        raise ValueError(f"token_budget and max_rows must be >= 1, got {token_budget}, "
                         f"{max_rows}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = max(1, token_budget // longest)
        if max_rows is not None:
            size = min(size, max_rows)
        batches.append(order[start : start + size])
        start += size
    return batches


def pad_batch(tokenizer: Any, rows: Sequence[Sequence[int]], device: Any = "cpu") -> dict[str, Any]:
    """Right-padded ``input_ids`` (with the tokenizer's pad id) and ``attention_mask`` tensors
    on ``device``."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(list(r), dtype=torch.long)
        mask[i, : len(r)] = 1
    return {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
