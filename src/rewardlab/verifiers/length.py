"""DAPO's soft overlong penalty (Yu et al., 2025, "DAPO: An Open-Source LLM
Reinforcement Learning System at Scale", Eq. 13).

With L the response length, L_max the maximum length and L_cache the soft
punishment interval:

    R(L) = 0                           if L ≤ L_max − L_cache
         = (L_max − L_cache − L) / L_cache   if L_max − L_cache < L ≤ L_max
         = −1                          if L > L_max

Length is counted in ``unit``: ``words`` (whitespace-separated, default),
``chars``, or the tokens of a ``length_fn`` (e.g. ``lambda s:
len(tokenizer(s).input_ids)``), which takes precedence. No reference is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.registry import VERIFIERS

UNITS: dict[str, Callable[[str], int]] = {"words": lambda s: len(s.split()), "chars": len}


def overlong_penalty(length: int, max_length: int, cache_length: int) -> float:
    """R(L) of the module docstring."""
    soft = max_length - cache_length
    if length <= soft:
        return 0.0
    if length <= max_length:
        return (soft - length) / cache_length
    return -1.0


@VERIFIERS.register("overlong")
class OverlongPenalty(Verifier):
    """DAPO's soft overlong penalty, in [−1, 0]."""

    name = "overlong"
    requires_reference = False
    default_timeout = None  # a length: linear in the text (and length_fn may not pickle)
    example_params: ClassVar[dict[str, Any]] = {"max_length": 10, "cache_length": 2}
    # soft limit 10 − 2 = 8 words: 9 words cost (8 − 9)/2, 12 words the whole −1
    examples = (Example("one two three", None, 0.0), Example("w " * 9, None, -0.5),
                Example("w " * 12, None, -1.0))

    def __init__(
        self,
        max_length: int,
        cache_length: int,
        unit: str = "words",
        length_fn: Callable[[str], int] | None = None,
        failure_reward: float = 0.0,
    ) -> None:
        super().__init__(failure_reward)
        if not 0 < cache_length <= max_length:
            raise ValueError(
                f"need 0 < cache_length <= max_length, got {cache_length} and {max_length}"
            )
        if length_fn is None and unit not in UNITS:
            raise ValueError(f"unit must be one of {sorted(UNITS)}, got {unit!r}")
        self.max_length = max_length
        self.cache_length = cache_length
        self.unit = unit
        self.length_fn = length_fn or UNITS[unit]

    def check(self, prompt: str, response: str, reference: Any) -> float:
        return overlong_penalty(self.length_fn(response), self.max_length, self.cache_length)
