"""Multiple-choice letter: the response's final choice against the gold letter.

Rule. The chosen letter is the last of (by position): ``\\boxed{B}``, "answer
is (B)" / "answer: B" (parentheses optional), and a parenthesized ``(B)``;
when none is present, a response that is a single letter (``"B"``, ``"B."``).
Letters are those of ``choices`` (default ``ABCDEFGHIJ``), case-insensitive.
The gold reference is a letter, optionally in parentheses. Reward 1.0 when
they are the same letter, else 0.0 (also when no letter is found).
"""

from __future__ import annotations

import re
from typing import Any

from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.registry import VERIFIERS


@VERIFIERS.register("choice")
class ChoiceVerifier(Verifier):
    """1.0 when the response's final choice letter equals the reference letter."""

    name = "choice"
    requires_reference = True
    default_timeout = None  # fixed regexes without nested repetition: linear in the text
    examples = (Example("The answer is (C).", "C", 1.0), Example("(B)", "C", 0.0),
                Example("(B)", "Z", None))  # Z is not a choice: the rule fails

    def __init__(self, choices: str = "ABCDEFGHIJ", failure_reward: float = 0.0) -> None:
        super().__init__(failure_reward)
        self.choices = choices

    def _patterns(self) -> list[re.Pattern[str]]:
        letters = re.escape(self.choices.upper() + self.choices.lower())
        return [
            re.compile(rf"\\boxed\{{\s*\(?([{letters}])\)?\s*\}}"),
            re.compile(rf"(?i)\banswer\s*(?:is|:)\s*:?\s*\(?([{letters}])\)?(?![A-Za-z])"),
            re.compile(rf"\(([{letters}])\)"),
        ]

    def chosen(self, text: str) -> str | None:
        """The final choice letter in ``text`` (upper case), or None."""
        found = [(m.end(1), m.group(1)) for p in self._patterns() for m in p.finditer(text)]
        if found:
            return max(found)[1].upper()
        bare = re.fullmatch(rf"\s*\(?([{re.escape(self.choices)}])\)?[.)]?\s*", text, re.I)
        return bare.group(1).upper() if bare else None

    def check(self, prompt: str, response: str, reference: Any) -> float:
        gold = self.chosen(str(reference))
        if gold is None:
            raise ValueError(f"reference {str(reference)[:40]!r} is not one of {self.choices!r}")
        return 1.0 if self.chosen(response) == gold else 0.0
