"""What a probe is: an audit of a model on labelled pairs, and the metrics it declares.

A :class:`Probe` is called as ``probe(model, pairs, seed=…, **options) -> dict``
(its full report, kept under ``probes.<name>`` in the evaluation results) and
declares its headline metrics: each :class:`Metric` has a name, its direction
(``higher_is_better``, as every metric of lm-evaluation-harness declares) and
how its value is read from the report. :func:`rewardlab.evaluate.suite.run_evaluation`
adds those values to the flat ``metrics`` map and their directions to
``higher_is_better``, and the HTML report draws the arrows from them.

A probe that only compares two responses (``pairwise=True``) also takes a
preference model; the others need a scalar reward. A probe that edits or builds
responses of one kind (text perturbations, pixel attacks) names the modalities
it takes (``modalities``, :mod:`rewardlab.data.modality`); the suite refuses
it on data of another kind before anything runs. Each probe module registers
its probe in :data:`PROBES` (one line at its end);
``rewardlab.evaluate.probes`` imports every module of the package, so a new
probe is its module plus its test.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.data.record import Comparison
from rewardlab.registry import Registry


@dataclass(frozen=True)
class Metric:
    """One headline number of a probe: ``read(report)`` gives it (``None`` when undefined)."""

    name: str
    higher_is_better: bool
    summary: str
    read: Callable[[Mapping[str, Any]], float | None]


@dataclass(frozen=True)
class Probe:
    """A probe function, the metrics it reports and whether a preference model can take it."""

    run: Callable[..., dict]
    metrics: tuple[Metric, ...]
    pairwise: bool = False
    modalities: tuple[str, ...] | None = None
    """The response modalities the probe can take (``("text",)``); None: any."""

    def __post_init__(self) -> None:
        names = [m.name for m in self.metrics]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a probe declares one or more distinct metrics, got {names}")

    def __call__(self, model: Any, pairs: Sequence[Comparison], **options: Any) -> dict:
        return self.run(model, pairs, **options)

    def headline(self, report: Mapping[str, Any]) -> dict[str, float | None]:
        """The declared metrics read from this probe's ``report``, in declaration order."""
        return {m.name: m.read(report) for m in self.metrics}

    def check_modality(self, name: str, modality: str) -> None:
        """``ValueError`` naming the probe when it cannot take ``modality`` responses."""
        if self.modalities is not None and modality not in self.modalities:
            raise ValueError(
                f"probe {name!r} takes {' or '.join(self.modalities)} responses; "
                f"these responses are {modality}"
            )

    @property
    def summary(self) -> str:
        """The first paragraph of the probe module's docstring, for help texts."""
        doc = sys.modules[self.run.__module__].__doc__ or self.run.__doc__ or ""
        return " ".join(doc.strip().split("\n\n")[0].split())


PROBES: Registry[Probe] = Registry("probe")
