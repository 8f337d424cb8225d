"""String match against the reference: exact, or after normalization.

- ``exact``: 1.0 when ``response.strip() == reference.strip()``.
- ``normalized``: 1.0 when the two are equal after the SQuAD normalization
  (Rajpurkar et al., 2016, "SQuAD: 100,000+ Questions for Machine
  Comprehension of Text", official evaluation script): lower case, punctuation
  removed, the articles a/an/the removed, whitespace collapsed.

Both take an optional ``pattern``: a regular expression whose first group is
the part of the response to compare (its last match); a response where it
does not match scores 0. A reference may also be a list of accepted answers.
"""

from __future__ import annotations

import re
import string
from typing import Any

from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.registry import VERIFIERS

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lower, drop punctuation and articles, collapse whitespace."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


class _Match(Verifier):
    requires_reference = True

    def __init__(
        self, pattern: str | None = None, failure_reward: float = 0.0, timeout: float | None = None
    ) -> None:
        super().__init__(failure_reward, timeout)
        self.pattern = pattern

    def canonical(self, text: str) -> str:
        raise NotImplementedError

    def check(self, prompt: str, response: str, reference: Any) -> float:
        if self.pattern is not None:
            matches = list(re.finditer(self.pattern, response, re.DOTALL))
            if not matches:
                return 0.0
            last = matches[-1]
            response = last.group(1) if last.groups() else last.group(0)
        golds = [reference] if isinstance(reference, str) else list(reference)
        answer = self.canonical(response)
        return 1.0 if any(answer == self.canonical(str(g)) for g in golds) else 0.0


@VERIFIERS.register("exact")
class ExactMatch(_Match):
    """1.0 when the (extracted) response equals the reference, whitespace at the ends aside."""

    name = "exact"
    examples = (Example("  Paris \n", "Paris", 1.0), Example("paris", "Paris", 0.0))

    def canonical(self, text: str) -> str:
        return text.strip()


@VERIFIERS.register("normalized")
class NormalizedMatch(_Match):
    """1.0 when the (extracted) response equals the reference after SQuAD normalization."""

    name = "normalized"
    examples = (Example("The Paris!", "paris", 1.0), Example("Rome", "paris", 0.0))

    def canonical(self, text: str) -> str:
        return normalize_answer(text)
