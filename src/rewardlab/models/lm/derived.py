"""Rewards read off causal language models, no reward training needed.

Every reward renders (prompt, response) with the LM's chat template — user
message = prompt, assistant message = response; an HH-RLHF transcript
``\\n\\nHuman: … \\n\\nAssistant: …`` becomes its list of turns — and sums
log-probabilities over the response tokens only (prompt tokens are masked):
log π(y|x) = Σ_t log π(y_t | x, y_<t), including the template's end-of-turn
tokens, so how a response ends counts too.

- DPO implicit reward (Rafailov et al. 2023, "Direct Preference Optimization:
  Your Language Model is Secretly a Reward Model"):
  r(x, y) = β · [log π(y|x) − log π_ref(y|x)].
- Density-ratio reward (Xu et al. 2024, "CDR: Customizable Density Ratios of
  Strong-over-weak LLMs for Preference Annotation", arXiv:2411.02481, later
  "Dr.SoW"): r(x, y) = log π_strong(y|x) − log π_weak(y|x), the same formula
  with β = 1 and a better-aligned model over a less-aligned one.
- Follow-up likelihood reward (Zhang et al. 2024, "Aligning Language Models
  Using Follow-up Likelihood as Reward Signal"):
  r(x, y) = mean_j log π(f⁺_j | x, y) − mean_j log π(f⁻_j | x, y), the
  log-probability of positive follow-up user turns (f⁺: "Thanks, that's
  exactly what I needed.") minus that of negative ones (f⁻: "That's not what I
  asked for."). One model suffices; the prefix (x, y) runs once and its KV
  cache is shared by all follow-ups.
- Implicit process reward (Cui et al. 2025, "Process Reinforcement through
  Implicit Rewards", PRIME): per token r_t = β · log π(y_t|y_<t)/π_ref(y_t|y_<t);
  a step's reward is the sum over its tokens (steps are the lines of the
  solution), and ``score`` is the sum over all steps.

Which two models: any two Hugging Face causal LMs (:class:`LMScorer` wraps
each, with its own tokenizer). Offline, rewardlab has one real checkpoint,
SmolLM2-135M-Instruct, so its benchmark pairs it with
:func:`~rewardlab.models.lm.loading.truncated_copy` — the same network cut to
its first layers — as π_ref / π_weak: a strictly weaker LM of the same
family and tokenizer, the "strong over weak" situation CDR describes, though
the gap is in depth rather than in alignment.

Long inputs: the response keeps at most ``max_length − min_context`` tokens
(its tail is cut), then the context is cut from the left to fit
``max_length``; tokens cut from a response contribute nothing (FLR adds the
few tokens of the next user-turn header on top). Rows are left-padded with
explicit position ids and batched by length; only the logits of target
positions are computed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.protocols import check_lengths

SENTINEL = "\x00RESPONSE\x00"
TURN = re.compile(r"\n\n(Human|Assistant):")
POSITIVE_FOLLOWUPS = (
    "Thanks, that's exactly what I needed.",
    "Great answer, thank you!",
    "Perfect, that helps a lot.",
)
NEGATIVE_FOLLOWUPS = (
    "That's not what I asked for.",
    "This answer is wrong.",
    "That doesn't help at all.",
)


def to_messages(prompt: str) -> list[dict[str, str]]:
    """Chat messages of a prompt: an HH-RLHF transcript's turns, else one user turn.

    A transcript starts with a turn marker (the leading blank line may be
    missing); the trailing empty ``\\n\\nAssistant:`` of a prompt is dropped.
    """
    parts = TURN.split(prompt if prompt.startswith("\n\n") else "\n\n" + prompt)
    if len(parts) < 3 or parts[0].strip():
        return [{"role": "user", "content": prompt}]
    messages = []
    for speaker, text in zip(parts[1::2], parts[2::2], strict=True):
        role = "user" if speaker == "Human" else "assistant"
        if text.strip():
            messages.append({"role": role, "content": text.strip()})
    return messages or [{"role": "user", "content": prompt}]


def render_parts(tokenizer: Any, messages: list[dict[str, str]], roles: Sequence[str]) -> list[str]:
    """The template text around the contents of new turns of ``roles`` after ``messages``.

    Renders ``messages`` plus one turn per role whose content is a sentinel
    and splits at the sentinels: for ``roles=("assistant",)`` the result is
    ``[everything up to the assistant header, the end-of-turn text]``.
    Without a chat template, turns are written ``"{role}: {content}\\n"``.
    """
    turns = [*messages, *({"role": role, "content": SENTINEL} for role in roles)]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(turns, tokenize=False)
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in turns)
    parts = text.split(SENTINEL)
    if len(parts) != len(roles) + 1:
        raise ValueError("the chat template does not reproduce message content verbatim")
    return parts


@dataclass
class LMScoringConfig:
    """How LM log-probabilities are batched and truncated (where the model runs and in which
    dtype is the loader's business: :func:`rewardlab.models.lm.loading.load_causal_lm`).

    Attributes:
        batch_size: sequences per forward pass.
        max_length: most tokens of context + response in one sequence.
        min_context: context tokens always kept when a response is long.
    """

    batch_size: int = 8
    max_length: int = 512
    min_context: int = 64


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def _left_pad(rows: Sequence[list[int]], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row) :] = torch.tensor(row, dtype=torch.long)
        mask[i, width - len(row) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids, mask, positions


def _gather_logprobs(logits: Any, targets: Any) -> Any:
    """log softmax(logits)[targets] without materializing the whole log-softmax."""
    logits = logits.float()
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return picked - logits.logsumexp(-1)


class LMScorer:
    """A causal LM and its tokenizer, answering log-probability questions about responses."""

    def __init__(self, model: Any, tokenizer: Any, config: LMScoringConfig | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or LMScoringConfig()

    @classmethod
    def from_path(cls, path: str | None = None, config: LMScoringConfig | None = None,
                  hub: Any = None) -> LMScorer:
        """Load a causal LM (default: the cached SmolLM2-135M-Instruct) with the loading
        options ``hub`` (:func:`rewardlab.models.lm.loading.load_causal_lm`)."""
        from rewardlab.models.lm.loading import load_causal_lm

        model, tokenizer = load_causal_lm(path, hub)
        return cls(model, tokenizer, config)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id or 0)

    def encode(
        self, prompt: str, pieces: Sequence[str], close: bool = True
    ) -> tuple[list[int], list[list[int]]]:
        """Context ids and the ids of each response piece (end-of-turn joins the last
        piece when ``close``), truncated to ``config.max_length``."""
        before, after = render_parts(self.tokenizer, to_messages(prompt), ["assistant"])
        context = _ids(self.tokenizer, before)
        piece_ids = [_ids(self.tokenizer, p) for p in pieces]
        if close and piece_ids:
            piece_ids[-1] = piece_ids[-1] + _ids(self.tokenizer, after)
        budget = self.config.max_length - min(len(context), self.config.min_context)
        kept, out = 0, []
        for ids in piece_ids:
            take = ids[: max(budget - kept, 0)]
            out.append(take)
            kept += len(take)
        context = context[max(len(context) - (self.config.max_length - kept), 0) :]
        return context, out

    def token_logprobs(
        self, contexts: Sequence[list[int]], targets: Sequence[list[int]]
    ) -> list[np.ndarray]:
        """log π(target_t | context, target_<t) for each target token, one array per row.

        Rows are left-padded (positions counted from each row's first real
        token) and sorted by length into batches; only the logits of the
        target positions are computed (``logits_to_keep``).
        """
        import torch

        n = check_lengths(contexts, targets)
        out: list[np.ndarray] = [np.zeros(0)] * n
        order = sorted(range(n), key=lambda i: len(contexts[i]) + len(targets[i]))
        size = self.config.batch_size
        with torch.inference_mode():
            for start in range(0, n, size):
                rows = [i for i in order[start : start + size] if targets[i]]
                if not rows:
                    continue
                seqs = [list(contexts[i]) + list(targets[i]) for i in rows]
                if any(not contexts[i] for i in rows):
                    raise ValueError("every target needs at least one context token before it")
                ids, mask, pos = _left_pad(seqs, self.pad_id)
                keep = max(len(targets[i]) for i in rows) + 1
                logits = self.model(
                    input_ids=ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    position_ids=pos.to(self.device),
                    logits_to_keep=keep,
                ).logits
                lp = _gather_logprobs(logits[:, :-1], ids[:, -keep + 1 :].to(logits.device))
                for row, i in enumerate(rows):
                    out[i] = (
                        lp[row, lp.shape[1] - len(targets[i]) :].cpu().numpy().astype(np.float64)
                    )
        return out

    def response_logprobs(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """log π(y|x) of each response, shape (n,)."""
        check_lengths(prompts, responses)
        encoded = [self.encode(p, [r]) for p, r in zip(prompts, responses, strict=True)]
        lps = self.token_logprobs([c for c, _ in encoded], [t[0] for _, t in encoded])
        return np.array([lp.sum() for lp in lps], dtype=np.float64)

    def step_logprobs(
        self, prompts: Sequence[str], steps_list: Sequence[Sequence[str]], separator: str = "\n"
    ) -> list[np.ndarray]:
        """Per step, the sum of its token log-probs; steps are joined by ``separator``
        (which belongs to the step before it) and the turn is left open."""
        check_lengths(prompts, steps_list)
        contexts, targets, bounds = [], [], []
        for prompt, steps in zip(prompts, steps_list, strict=True):
            pieces = [s + separator for s in steps[:-1]] + list(steps[-1:])
            context, ids = self.encode(prompt, pieces, close=False)
            contexts.append(context)
            targets.append([t for piece in ids for t in piece])
            bounds.append(np.cumsum([0] + [len(piece) for piece in ids]))
        lps = self.token_logprobs(contexts, targets)
        return [
            np.array(
                [lp[a:b].sum() for a, b in zip(edges[:-1], edges[1:], strict=True)],
                dtype=np.float64,
            )
            for lp, edges in zip(lps, bounds, strict=True)
        ]

    def followup_logprobs(
        self, prompts: Sequence[str], responses: Sequence[str], followups: Sequence[str]
    ) -> np.ndarray:
        """log π(f_j | x, y, next user header) for each row and follow-up, shape (n, m).

        The prefix runs once per batch; its KV cache is repeated for the m
        follow-ups, which run together in one more forward pass.
        """
        import torch

        n = check_lengths(prompts, responses)
        follow = [_ids(self.tokenizer, f) for f in followups]
        m, width = len(follow), max(len(f) for f in follow)
        prefixes = []
        for prompt, response in zip(prompts, responses, strict=True):
            parts = render_parts(self.tokenizer, to_messages(prompt), ["assistant", "user"])
            context, (resp,) = self.encode(prompt, [response], close=False)
            prefixes.append(context + resp + _ids(self.tokenizer, parts[1]))
        f_ids = torch.full((m, width), self.pad_id, dtype=torch.long)
        f_mask = torch.zeros((m, width), dtype=torch.long)
        for j, f in enumerate(follow):
            f_ids[j, : len(f)] = torch.tensor(f, dtype=torch.long)
            f_mask[j, : len(f)] = 1
        out = np.zeros((n, m), dtype=np.float64)
        device = self.device
        with torch.inference_mode():
            for start in range(0, n, self.config.batch_size):
                rows = list(range(start, min(start + self.config.batch_size, n)))
                ids, mask, pos = _left_pad([prefixes[i] for i in rows], self.pad_id)
                first = self.model(
                    input_ids=ids.to(device),
                    attention_mask=mask.to(device),
                    position_ids=pos.to(device),
                    use_cache=True,
                    logits_to_keep=1,
                )
                cache = first.past_key_values
                cache.batch_repeat_interleave(m)
                b = len(rows)
                tiled = f_ids.repeat(b, 1)
                full_mask = torch.cat([mask.repeat_interleave(m, 0), f_mask.repeat(b, 1)], dim=1)
                f_pos = pos[:, -1:].repeat_interleave(m, 0) + 1 + torch.arange(width)
                logits = self.model(
                    input_ids=tiled.to(device),
                    attention_mask=full_mask.to(device),
                    position_ids=f_pos.to(device),
                    past_key_values=cache,
                ).logits
                all_logits = torch.cat(
                    [first.logits[:, -1:].repeat_interleave(m, 0), logits[:, :-1]], dim=1
                )
                lp = _gather_logprobs(all_logits, tiled.to(all_logits.device)).cpu()
                sums = (lp * f_mask.repeat(b, 1)).sum(-1).reshape(b, m)
                out[start : start + b] = sums.numpy()
        return out


@dataclass
class LogRatioReward:
    """r(x, y) = β · [log π_num(y|x) − log π_den(y|x)] (DPO implicit reward; CDR with β = 1)."""

    numerator: LMScorer
    denominator: LMScorer
    beta: float = 1.0

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        num = self.numerator.response_logprobs(prompts, responses)
        den = self.denominator.response_logprobs(prompts, responses)
        return self.beta * (num - den)


def dpo_implicit_reward(policy: LMScorer, reference: LMScorer, beta: float = 0.1) -> LogRatioReward:
    """Rafailov et al. 2023: β · log π(y|x)/π_ref(y|x); β = 0.1 as in the paper's experiments."""
    if beta <= 0:
        raise ValueError(f"field 'beta': must be > 0, got {beta}")
    return LogRatioReward(policy, reference, beta)


def density_ratio_reward(strong: LMScorer, weak: LMScorer) -> LogRatioReward:
    """Xu et al. 2024 (CDR / Dr.SoW): log π_strong(y|x) − log π_weak(y|x)."""
    return LogRatioReward(strong, weak, 1.0)


@dataclass
class FollowUpReward:
    """FLR (Zhang et al. 2024): mean log π(f⁺|x, y) − mean log π(f⁻|x, y)."""

    scorer: LMScorer
    positive: tuple[str, ...] = POSITIVE_FOLLOWUPS
    negative: tuple[str, ...] = NEGATIVE_FOLLOWUPS

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        if not self.positive or not self.negative:
            raise ValueError(
                "FollowUpReward needs at least one positive and one negative follow-up"
            )
        lp = self.scorer.followup_logprobs(prompts, responses, [*self.positive, *self.negative])
        k = len(self.positive)
        return lp[:, :k].mean(axis=1) - lp[:, k:].mean(axis=1)


@dataclass
class ImplicitProcessReward:
    """PRIME (Cui et al. 2025): step reward β · Σ_{t ∈ step} log π(y_t|·)/π_ref(y_t|·)."""

    policy: LMScorer
    reference: LMScorer
    beta: float = 0.05
    separator: str = "\n"

    def score_steps(
        self, prompts: Sequence[str], steps_list: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """One array of step rewards per solution, shape (n_steps,)."""
        num = self.policy.step_logprobs(prompts, steps_list, self.separator)
        den = self.reference.step_logprobs(prompts, steps_list, self.separator)
        return [self.beta * (a - b) for a, b in zip(num, den, strict=True)]

    def split_steps(self, response: str) -> list[str]:
        """The response's steps: its pieces between ``separator``s."""
        return response.split(self.separator)

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """Sum of the step rewards of each response split at ``separator``."""
        steps = [self.split_steps(r) for r in responses]
        return np.array([s.sum() for s in self.score_steps(prompts, steps)], dtype=np.float64)
