"""The shared shape of a verifier: a per-sample rule, batch scoring, and failure handling.

A verifier is a :class:`~rewardlab.protocols.ReferenceRewardModel`: ``score``
applies :meth:`Verifier.check` to every (prompt, response, reference) triple.
A rule that raises on one sample does not fail the batch: that sample gets
``failure_reward`` (default 0.0, the reward of a wrong answer) and the reason
is logged at WARNING on the ``rewardlab.verifiers`` logger with the verifier's
name and the sample index. A missing reference is not such a failure: it is
bad input and raises :class:`~rewardlab.protocols.MissingReferenceError`.

**Time bound.** Every verifier declares ``default_timeout``, seconds per
sample. When it is a number (the default, :data:`~rewardlab.verifiers.bounded.DEFAULT_TIMEOUT`),
``score`` runs ``check`` in worker processes (:mod:`rewardlab.verifiers.bounded`):
a sample that takes longer is killed and gets ``failure_reward``, with the
reason logged, in whatever thread or process ``score`` is called from (a
server's worker thread, the CLI, TRL's or verl's reward loop). ``None`` declares
a rule whose cost is linear in its text (a fixed regex without nested
repetition, ``json.loads``, a length), which runs in the calling process. The
``timeout`` parameter overrides the default of a bounded verifier; ``preload``
names modules a worker imports before its first sample.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from rewardlab.protocols import check_lengths, check_references
from rewardlab.verifiers.bounded import DEFAULT_TIMEOUT, BoundedRunner, check_timeout

LOG = logging.getLogger("rewardlab.verifiers")


@dataclass(frozen=True)
class Example:
    """A response, its reference and the reward the rule gives it; ``reward=None``: the rule
    fails on it (a bad reference, a crash), so the sample gets ``failure_reward``."""

    response: str
    reference: Any
    reward: float | None


class Verifier:
    """Base class: subclasses set ``name`` and ``requires_reference`` and implement ``check``.

    ``failure_reward`` is what a sample gets when ``check`` raises or runs out
    of time; ``timeout`` (seconds per sample, ``None``: ``default_timeout``)
    bounds each ``check`` of a verifier that declares a default timeout.
    ``needs`` lists the importers of the optional packages the rule needs
    (:mod:`rewardlab.verifiers._deps`), called when the verifier is made.

    Every verifier also declares, beside its rule, ``example_params`` (the
    parameters of a working instance, ``{}`` when every one has a default) and
    ``examples`` (:class:`Example`: at least two rewards that differ, worked out
    from the rule by hand). The contract tests of ``tests/test_conformance_kinds.py``
    score them, so a new verifier is checked without editing any test.
    """

    name = "verifier"
    requires_reference = True
    default_timeout: float | None = DEFAULT_TIMEOUT
    preload: tuple[str, ...] = ()
    needs: tuple[Callable[[], ModuleType], ...] = ()
    example_params: ClassVar[dict[str, Any]] = {}
    examples: ClassVar[tuple[Example, ...]] = ()

    def __init__(self, failure_reward: float = 0.0, timeout: float | None = None) -> None:
        self.failure_reward = float(failure_reward)
        if timeout is not None and self.default_timeout is None:
            raise ValueError(f"verifier {self.name!r} runs in-process and takes no timeout")
        self.timeout = self.default_timeout if timeout is None else check_timeout(timeout)
        self._runner: BoundedRunner | None = None

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
        triples = list(enumerate(zip(prompts, responses, refs, strict=True)))
        if self.timeout is None:
            rewards = [self.safe_check(i, p, r, ref) for i, (p, r, ref) in triples]
        else:
            outcomes = self.runner().run([(i, p, r, ref) for i, (p, r, ref) in triples])
            rewards = [
                self.failed(i, o.reason) if o.reason is not None else o.reward
                for i, o in sorted(outcomes.items())
            ]
        return np.array(rewards, dtype=np.float64)

    def runner(self) -> BoundedRunner:
        """The worker processes that run this verifier's ``check`` under ``timeout``."""
        if self.timeout is None:
            raise RuntimeError(f"verifier {self.name!r} runs in the calling process")
        runner = getattr(self, "_runner", None)
        if runner is None or runner.timeout != self.timeout:
            runner = self._runner = BoundedRunner(self, self.timeout, preload=_all_preloads())
        return runner

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its worker processes (a worker gets the rule, not the pool)."""
        return {**self.__dict__, "_runner": None}

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


def _all_preloads() -> list[str]:
    """The ``preload`` modules of every verifier class defined so far."""
    modules: list[str] = []
    classes = [Verifier]
    while classes:
        cls = classes.pop()
        modules += cls.preload
        classes += cls.__subclasses__()
    return list(dict.fromkeys(modules))
