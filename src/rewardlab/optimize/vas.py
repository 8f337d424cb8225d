"""Value-augmented sampling: decode with β · V added to the logits of the top-k tokens.

Han et al. 2024, "Value Augmented Sampling for Language Model Alignment and
Personalization" (VAS). A value function V estimates the reward a
continuation of the base policy π_base will reach from a state s (the prompt
and the tokens so far). Decoding picks the next token among the k most likely
under π_base with scores

    score(a) = log π_base(a | s) + β · V(s ∘ a),    a ∈ top-k(π_base(· | s)),

then samples from softmax(score / T) (greedy when T = 0). The LM stays frozen.

Here V is a small head (linear or MLP) on the frozen LM's last hidden state
at the last token of s ∘ a, fitted by least squares regression to Monte-Carlo
returns: for a sampled continuation y of x with reward r(x, y) (reward only at
the end, no discount), every prefix state (x, y_≤t), t = 0 … |y|, gets
target r(x, y). Several rewards compose at run time: each has its own head
V_j and weight w_j, and V = Σ_j w_j V_j — the paper's multi-reward
personalization — so changing the weights needs no refit.

Each decode step runs the k candidates as one batch on the repeated KV cache
(k one-token rows) to get their hidden states and keeps the chosen row's cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class ValueFitConfig:
    """How a value head is fitted.

    Attributes:
        head: ``linear`` or ``mlp`` (one hidden layer, ``hidden`` units, tanh).
        hidden: MLP width.
        epochs: full-batch Adam steps.
        lr: Adam learning rate.
        weight_decay: L2 penalty.
        seed: initialization seed.
    """

    head: str = "linear"
    hidden: int = 64
    epochs: int = 300
    lr: float = 1e-2
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.head not in ("linear", "mlp"):
            raise ValueError(f"field 'head': expected 'linear' or 'mlp', got {self.head!r}")


def make_value_head(dim: int, config: ValueFitConfig) -> Any:
    """A fresh head mapping hidden states (…, dim) to values (…, 1)."""
    import torch

    torch_gen = torch.Generator().manual_seed(config.seed)
    if config.head == "linear":
        head = torch.nn.Linear(dim, 1)
    else:
        head = torch.nn.Sequential(
            torch.nn.Linear(dim, config.hidden), torch.nn.Tanh(), torch.nn.Linear(config.hidden, 1)
        )
    with torch.no_grad():
        for param in head.parameters():
            param.copy_(torch.randn(param.shape, generator=torch_gen) * 0.01)
    return head


def last_hidden(model: Any, **inputs: Any) -> tuple[Any, Any]:
    """``(outputs, last-layer hidden states (B, L, d))`` of one forward pass."""
    out = model(**inputs, output_hidden_states=True)
    return out, out.hidden_states[-1]


def prefix_states(model: Any, context: list[int], response: list[int]) -> Any:
    """Hidden states of the states (x, y_≤t), t = 0 … |y|: shape (|y| + 1, d)."""
    import torch

    ids = torch.tensor([context + response], dtype=torch.long, device=model.device)
    with torch.inference_mode():
        _, hidden = last_hidden(model, input_ids=ids)
    return hidden[0, len(context) - 1 :].float().cpu()


def fit_value_head(
    model: Any,
    tokenizer: Any,
    contexts: Sequence[list[int]],
    responses: Sequence[str],
    rewards: Sequence[float],
    config: ValueFitConfig | None = None,
) -> Any:
    """Regress MC returns on prefix hidden states; returns the fitted head (eval mode).

    ``contexts`` are token ids of the rendered prompts (e.g.
    ``TransformersGenerator.context_ids``), ``responses`` the sampled
    continuations and ``rewards`` their rewards.
    """
    import torch

    config = config or ValueFitConfig()
    if not len(contexts) == len(responses) == len(rewards):
        raise ValueError("contexts, responses and rewards must have the same length")
    if not contexts:
        raise ValueError("fit_value_head needs at least one rollout")
    features, targets = [], []
    for context, response, reward in zip(contexts, responses, rewards, strict=True):
        ids = list(tokenizer(response, add_special_tokens=False)["input_ids"])
        states = prefix_states(model, list(context), ids)
        features.append(states)
        targets.append(torch.full((len(states),), float(reward)))
    x, y = torch.cat(features), torch.cat(targets)
    head = make_value_head(x.shape[1], config)
    optimizer = torch.optim.Adam(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(head(x).squeeze(-1), y)
        loss.backward()
        optimizer.step()
    return head.eval()


def collect_rollouts(
    generator: Any, reward: Any, prompts: Sequence[str], n: int
) -> tuple[list[list[int]], list[str], np.ndarray]:
    """Sample ``n`` continuations per prompt from a ``TransformersGenerator`` and score them:
    ``(contexts, responses, rewards)`` ready for :func:`fit_value_head`."""
    contexts, responses, prompt_of = [], [], []
    for prompt in prompts:
        context = generator.context_ids(prompt)
        for text in generator.generate(prompt, n):
            contexts.append(context)
            responses.append(text)
            prompt_of.append(prompt)
    rewards = np.asarray(reward.score(prompt_of, responses), dtype=np.float64)
    return contexts, responses, rewards


@dataclass
class VASConfig:
    """Decoding settings: β, the top-k candidates, temperature (0 = greedy), length, seed."""

    beta: float = 1.0
    top_k: int = 10
    temperature: float = 1.0
    max_new_tokens: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"field 'top_k': must be >= 1, got {self.top_k}")
        if self.temperature < 0:
            raise ValueError(f"field 'temperature': must be >= 0, got {self.temperature}")


class ValueAugmentedSampler:
    """A :class:`~rewardlab.optimize.generate.Generator` decoding with Σ_j w_j V_j added.

    ``heads`` maps a reward name to its fitted head; ``weights`` (name → w_j,
    default 1 each) can be replaced per call of :meth:`generate`.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        heads: dict[str, Any],
        weights: dict[str, float] | None = None,
        config: VASConfig | None = None,
        context_ids: Callable[[str], list[int]] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.heads = heads
        self.weights = weights or dict.fromkeys(heads, 1.0)
        self.config = config or VASConfig()
        self.context_ids = context_ids

    def value(self, hidden: Any, weights: dict[str, float]) -> Any:
        """Σ_j w_j V_j(h) for hidden states (…, d) → (…)."""
        unknown = sorted(set(weights) - set(self.heads))
        if unknown:
            raise ValueError(
                f"weights name unknown value heads {unknown}; have {sorted(self.heads)}"
            )
        total = 0.0
        for name, weight in weights.items():
            total = total + weight * self.heads[name](hidden.float()).squeeze(-1)
        return total

    def decode(self, context: list[int], weights: dict[str, float], seed: int) -> list[int]:
        """Token ids of one continuation of ``context``."""
        import torch

        cfg = self.config
        rng = torch.Generator().manual_seed(seed)
        eos = self.tokenizer.eos_token_id
        device = self.model.device
        tokens: list[int] = []
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([context], device=device), use_cache=True, logits_to_keep=1
            )
            logits, cache = out.logits[0, -1].float(), out.past_key_values
            for _ in range(cfg.max_new_tokens):
                logp = logits.log_softmax(-1)
                top = logp.topk(min(cfg.top_k, logp.shape[-1]))
                k = len(top.indices)
                cache.batch_repeat_interleave(k)
                out, hidden = last_hidden(
                    self.model,
                    input_ids=top.indices[:, None],
                    past_key_values=cache,
                    use_cache=True,
                )
                scores = top.values + cfg.beta * self.value(hidden[:, -1], weights)
                if cfg.temperature == 0:
                    pick = int(scores.argmax())
                else:
                    probs = (scores / cfg.temperature).softmax(-1).cpu()
                    pick = int(torch.multinomial(probs, 1, generator=rng))
                token = int(top.indices[pick])
                if token == eos:
                    break
                tokens.append(token)
                cache.batch_select_indices(torch.tensor([pick], device=device))
                logits, cache = out.logits[pick, -1].float(), out.past_key_values
        return tokens

    def generate(self, prompt: str, n: int, weights: dict[str, float] | None = None) -> list[str]:
        """``n`` continuations; ``weights`` overrides the per-reward weights for this call."""
        if self.context_ids is None:
            raise ValueError(
                "generate(prompt, …) needs context_ids (e.g. a TransformersGenerator's)"
            )
        context = self.context_ids(prompt)
        chosen = self.weights if weights is None else weights
        return [
            self.tokenizer.decode(self.decode(context, chosen, self.config.seed + i)).strip()
            for i in range(n)
        ]
