"""The shared shape of a verifier: a per-sample rule, batch scoring, and failure handling.

A verifier is a :class:`~rewardlab.protocols.ReferenceRewardModel`: ``score``
applies :meth:`Verifier.check` to every (prompt, response, reference) triple.
A rule that raises on one sample does not fail the batch: that sample gets
``failure_reward`` (default 0.0, the reward of a wrong answer) and the reason
is logged at WARNING on the ``rewardlab.verifiers`` logger with the verifier's
name and the sample index. A missing reference is not such a failure: it is
bad input and raises :class:`~rewardlab.protocols.MissingReferenceError`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.protocols import check_lengths, check_references

LOG = logging.getLogger("rewardlab.verifiers")


class Verifier:
    """Base class: subclasses set ``name`` and ``requires_reference`` and implement ``check``.

    ``failure_reward`` is what a sample gets when ``check`` raises.
    """

    name = "verifier"
    requires_reference = True

    def __init__(self, failure_reward: float = 0.0) -> None:
        self.failure_reward = float(failure_reward)

    def check(self, prompt: str, response: str, reference: Any) -> float:
        """The reward of one response (``reference`` is ``None`` for reference-free rules)."""
        raise NotImplementedError

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        references: Sequence[Any] | None = None,
    ) -> np.ndarray:
        n = check_lengths(prompts, responses)
        if self.requires_reference:
            refs = check_references(references, n, "reference", f"verifier {self.name!r}")
        else:
            refs = [None] * n if references is None else list(references)
            check_lengths(prompts, refs)
        triples = zip(prompts, responses, refs, strict=True)
        return np.array(
            [self.safe_check(i, p, r, ref) for i, (p, r, ref) in enumerate(triples)],
            dtype=np.float64,
        )

    def safe_check(self, index: int, prompt: str, response: str, reference: Any) -> float:
        """``check`` with a crash turned into ``failure_reward`` and a logged reason."""
        try:
            return float(self.check(prompt, response, reference))
        except Exception as err:  # noqa: BLE001 - one bad sample must not fail the batch
            return self.failed(index, err)

    def failed(self, index: int, reason: BaseException | str) -> float:
        """Log why sample ``index`` failed and return ``failure_reward``."""
        LOG.warning(
            "verifier %r failed on sample %d (reward %s): %s",
            self.name,
            index,
            self.failure_reward,
            reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}",
        )
        return self.failure_reward
