"""Format rules by regular expression, with optional partial credit.

Rule. 1.0 when the whole response matches ``pattern`` (``re.fullmatch``, dot
matches newline); the default is the reasoning format of DeepSeek-R1 (Guo et
al., 2025, "DeepSeek-R1: Incentivizing Reasoning Capability in LLMs via
Reinforcement Learning"): ``<think>…</think>`` then ``<answer>…</answer>``, each exactly once.
Otherwise 0.0, or with ``partial_credit``

    r = partial_scale · (number of ``parts`` that occur exactly once) / len(parts),

so a response that gets some tags right earns part of the reward but always
less than a full match (``partial_scale`` < 1; default 0.5). The default parts
are the four tags. No reference is needed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.registry import VERIFIERS

THINK_ANSWER = (
    r"\s*<think>(?:(?!</?think>).)*</think>\s*<answer>(?:(?!</?answer>).)*</answer>\s*"
)
THINK_ANSWER_PARTS = ("<think>", "</think>", "<answer>", "</answer>")


@VERIFIERS.register("format")
class FormatVerifier(Verifier):
    """1.0 for a full match of ``pattern``; else 0.0 or partial credit (module doc)."""

    name = "format"
    requires_reference = False
    examples = (Example("<think>a</think> <answer>b</answer>", None, 1.0),
                Example("<answer>b</answer>", None, 0.0))

    def __init__(
        self,
        pattern: str = THINK_ANSWER,
        partial_credit: bool = False,
        parts: Sequence[str] = THINK_ANSWER_PARTS,
        partial_scale: float = 0.5,
        failure_reward: float = 0.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(failure_reward, timeout)
        if not 0.0 <= partial_scale < 1.0:
            raise ValueError(f"partial_scale must be in [0, 1), got {partial_scale}")
        if partial_credit and not parts:
            raise ValueError("parts: partial credit needs at least one part")
        try:
            self.pattern = re.compile(pattern, re.DOTALL)
            self.parts = [re.compile(p, re.DOTALL) for p in parts]
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        self.partial_credit = partial_credit
        self.partial_scale = partial_scale

    def check(self, prompt: str, response: str, reference: Any) -> float:
        if self.pattern.fullmatch(response):
            return 1.0
        if not self.partial_credit:
            return 0.0
        once = sum(len(p.findall(response)) == 1 for p in self.parts)
        return self.partial_scale * once / len(self.parts)
