"""n-gram repetition penalty.

With the response's word n-grams g_1 … g_T (T = words − n + 1),

    rate = 1 − |{g_1 … g_T}| / T        (0 when T ≤ 0),
    R    = −weight · rate,

the share of n-grams that repeat an earlier one, as a penalty in
[−weight, 0]. This is the n-gram repetition penalty Yeo et al. (2025,
"Demystifying Long Chain-of-Thought Reasoning in LLMs") use to stop long
chains of thought from looping (theirs is applied per token; this is
its sequence-level form). No reference is needed.
"""

from __future__ import annotations

from typing import Any

from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.registry import VERIFIERS


def repetition_rate(text: str, n: int) -> float:
    """1 − distinct n-grams / n-grams of the lower-cased words (0 with no n-gram)."""
    words = text.lower().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


@VERIFIERS.register("repetition")
class RepetitionPenalty(Verifier):
    """−weight × the n-gram repetition rate."""

    name = "repetition"
    requires_reference = False
    default_timeout = None  # n-gram counting: linear in the text
    # trigrams of "a b c a b c": abc bca cab abc, 3 distinct of 4, rate 1/4
    examples = (Example("a b c d", None, 0.0), Example("a b c a b c", None, -0.25))

    def __init__(self, n: int = 3, weight: float = 1.0, failure_reward: float = 0.0) -> None:
        super().__init__(failure_reward)
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.n = n
        self.weight = weight

    def check(self, prompt: str, response: str, reference: Any) -> float:
        return -self.weight * repetition_rate(response, self.n)
