"""The one record type for preference data.

A :class:`Comparison` holds a prompt and one or more responses with what is
known about them: which is preferred (as a ranking of indices, best first),
a tie, a preference strength, per-attribute ratings per response, the
annotator, a category or subset, and reasoning steps with step labels.

Pairwise loaders put the chosen response at index 0 and set
``ranking=(0, 1)``; code must read the ranking, never assume the position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rewardlab.protocols import Response


@dataclass(frozen=True)
class Comparison:
    """A prompt, its responses and the preference information about them.

    Attributes:
        prompt: the context the responses answer (a plain string; chat
            transcripts are flattened by the loaders).
        responses: one or more candidate responses, all of one modality: texts,
            or images as the loader read them (PNG/JPEG bytes, ``Path``
            objects, arrays; :mod:`rewardlab.data.modality` decodes them).
        ranking: indices into ``responses``, best first; may be partial (only
            the top ones ranked) or empty for unlabeled/pointwise records.
        tie: the first two ranked responses are judged equally good.
        strength: preference strength or margin of the pair (e.g. HelpSteer2
            preference magnitude, an ensemble's mean reward gap).
        ratings: per response, a mapping attribute → number (pointwise labels).
        annotator: who labelled it, for pluralistic models.
        category: subset/category name (RewardBench subset, task, …).
        steps: per response, its reasoning steps (process supervision).
        step_labels: per response, a 0/1 label per step (1 = correct).
        source: ``file:line`` the record came from, for error messages.
        meta: anything else a loader wants to keep (ids, generator names).
    """

    prompt: str
    responses: tuple[Response, ...]
    ranking: tuple[int, ...] = ()
    tie: bool = False
    strength: float | None = None
    ratings: tuple[Mapping[str, float], ...] | None = None
    annotator: str | None = None
    category: str | None = None
    steps: tuple[tuple[str, ...], ...] | None = None
    step_labels: tuple[tuple[int, ...], ...] | None = None
    source: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.responses)
        if n == 0:
            raise ValueError("a Comparison needs at least one response")
        if any(not 0 <= i < n for i in self.ranking) or len(set(self.ranking)) != len(
            self.ranking
        ):
            raise ValueError(f"ranking {self.ranking} is not a set of indices into {n} responses")
        if self.ratings is not None and len(self.ratings) != n:
            raise ValueError("ratings must have one entry per response")
        if self.steps is not None and len(self.steps) != n:
            raise ValueError("steps must have one entry per response")

    @property
    def is_pair(self) -> bool:
        """Two responses with a known order (or a tie)."""
        return len(self.responses) == 2 and len(self.ranking) == 2

    @property
    def chosen(self) -> Response:
        """The best-ranked response."""
        if not self.ranking:
            raise ValueError("record has no ranking, so no chosen response")
        return self.responses[self.ranking[0]]

    @property
    def rejected(self) -> Response:
        """The second-ranked response of a pair."""
        if len(self.ranking) < 2:
            raise ValueError("record has fewer than two ranked responses")
        return self.responses[self.ranking[1]]
