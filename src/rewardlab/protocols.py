"""The contracts every part of rewardlab speaks.

A :class:`RewardModel` maps (prompt, response) pairs to scalar rewards. A
trained head, an ensemble with an aggregation, a transformed reward, a rule
based verifier, an LM-derived reward and a remote client all implement it, so
evaluation, best-of-n, the server and trainer adapters accept any of them.

A :class:`PreferenceModel` gives P(a ≻ b | prompt) directly; general preference
models (which can be intransitive) implement it where no scalar exists.

A :data:`Response` is whatever the generator produced: text, or an image (a
PIL image, an array, a ``pathlib.Path`` or PNG/JPEG bytes), or any other kind
registered in :mod:`rewardlab.data.modality`, which recognises and decodes
them in one place. Only decoding and featurizing look inside a response;
everything else passes responses through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np

from rewardlab.registry import Registry

Response: TypeAlias = Any
"""One generated response: a ``str`` (text; a ``str`` is never a path), an image
(``PIL.Image.Image``; an ``H×W[×C]`` ``uint8`` or [0, 1] float array; a
``pathlib.Path``; PNG/JPEG/WebP ``bytes``), or another registered modality's form.
:func:`rewardlab.data.modality.modality_of` says which; a batch holds one modality."""


@runtime_checkable
class RewardModel(Protocol):
    """Anything that scores responses to prompts.

    ``score`` returns a float array of shape ``(len(prompts),)``; higher is
    better. Rewards are only defined up to a per-prompt constant unless a model
    says otherwise.
    """

    def score(self, prompts: Sequence[str], responses: Sequence[Response]) -> np.ndarray: ...


@runtime_checkable
class UncertainRewardModel(RewardModel, Protocol):
    """A reward model that also reports per-sample spread (ensemble members or
    MC-dropout passes): ``(reward, spread)``, both of shape ``(n,)``."""

    def score_with_uncertainty(
        self, prompts: Sequence[str], responses: Sequence[Response]
    ) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class PixelRewardModel(RewardModel, Protocol):
    """A reward model of image responses that is differentiable in their pixels.

    ``score_pixels(prompts, pixels)`` takes ``pixels``, a torch tensor of shape
    ``(N, H, W, 3)`` with values in [0, 1] (``x = uint8 / 255``: one shape per
    call), and returns a torch tensor of shape ``(N,)`` through which gradients
    flow back to ``pixels``. For ``x = image / 255`` it equals
    ``score(prompts, images)`` up to the documented preprocessing difference of
    the model (exactly when no resampling happens). Gradient attacks (PGD) and
    differentiable trainers (AlignProp) use it; a model without it is attacked by
    queries alone.
    """

    def score_pixels(self, prompts: Sequence[str], pixels: Any) -> Any: ...


@runtime_checkable
class PreferenceModel(Protocol):
    """P(first ≻ second | prompt) for each triple, shape ``(n,)``, in [0, 1]."""

    def prob(
        self, prompts: Sequence[str], first: Sequence[Response], second: Sequence[Response]
    ) -> np.ndarray: ...


@runtime_checkable
class StepRewardModel(Protocol):
    """A process reward model: one reward per reasoning step (Lightman et al.,
    "Let's Verify Step by Step", 2023).

    ``score_steps`` returns one array of shape ``(n_steps,)`` per solution;
    ``split_steps`` is how the model cuts a plain response into steps (the
    server and the recipes call it when a response comes without steps;
    :func:`split_steps` is the rule of rewardlab's PRM).
    """

    def score_steps(
        self, prompts: Sequence[str], steps_list: Sequence[Sequence[str]]
    ) -> list[np.ndarray]: ...

    def split_steps(self, response: str) -> list[str]: ...


def split_steps(response: str) -> list[str]:
    """A response's steps: its non-blank lines, in order. A response without one
    (empty or blank) is one step, itself, so it gets a step's score rather than
    the vacuous score of a solution with no steps."""
    steps = [line for line in response.split("\n") if line.strip()]
    return steps or [response]


StepReduction = Callable[[np.ndarray], float]
"""Step rewards r_1 … r_K of one response (K ≥ 1) → one number."""

STEP_REDUCTIONS: Registry[StepReduction] = Registry("step reduction")
"""How the step rewards of one response give one number, shared by every user of step
rewards: the PRM's solution score, the step recipe component (``steps.reduce``), the
server's outcome reward of a PRM, guided search and steering (a partial solution's value).

- ``min``:     min_k r_k, the weakest step (Lightman et al., 2023; Math-Shepherd's
  outcome reward, Wang et al., 2024);
- ``product``: Π_k r_k, for step probabilities the chance that every step is right
  (Lightman et al., 2023);
- ``last``:    r_K (Snell et al., 2024, "Scaling LLM Test-Time Compute Optimally", score a
  partial solution in PRM beam search by its last step);
- ``mean``:    (1/K) Σ_k r_k;
- ``sum``:     Σ_k r_k, the return (Gao et al., 2024; PRIME's implicit outcome reward).

**The empty response.** A response always has at least one step: :func:`split_steps`
makes an empty or blank response one step (itself), which the model scores like any
other, so no reduction ever stands for "no steps" with a vacuous value (1 for ``min``
or ``product``, 0 for ``sum``). Step rewards of no step are a caller's error:
:func:`reduce_steps` raises ``ValueError``.
"""

OUTCOME_REDUCTION = "min"
"""The default for a whole response's outcome (PRM score, recipes, the server): the
weakest step, as Lightman et al. and Math-Shepherd grade solutions."""

SEARCH_REDUCTION = "last"
"""The default for a partial solution's value in guided search and steering (Snell et
al., 2024 found the last step's prediction the best PRM beam-search value)."""

STEP_REDUCTIONS.add("min", lambda r: float(r.min()))
STEP_REDUCTIONS.add("product", lambda r: float(r.prod()))
STEP_REDUCTIONS.add("last", lambda r: float(r[-1]))
STEP_REDUCTIONS.add("mean", lambda r: float(r.mean()))
STEP_REDUCTIONS.add("sum", lambda r: float(r.sum()))


def reduce_steps(step_rewards: Any, name: str = OUTCOME_REDUCTION) -> float:
    """The step reduction ``name`` of one response's step rewards (see
    :data:`STEP_REDUCTIONS`); ``ValueError`` for no step rewards,
    :class:`~rewardlab.registry.UnknownNameError` (did-you-mean) for an unknown name."""
    reduction = STEP_REDUCTIONS.get(name)
    rewards = np.asarray(step_rewards, dtype=np.float64).reshape(-1)
    if rewards.size == 0:
        raise ValueError(
            "no step rewards: a response has at least one step (split_steps makes an empty "
            "response one empty step), so score that step"
        )
    return reduction(rewards)


def check_lengths(prompts: Sequence[str], *others: Sequence[Any]) -> int:
    """Raise ``ValueError`` unless every sequence has ``len(prompts)`` items."""
    n = len(prompts)
    for i, seq in enumerate(others, start=1):
        if len(seq) != n:
            raise ValueError(
                f"argument {i} has {len(seq)} items but prompts has {n}; they must match"
            )
    return n


@runtime_checkable
class ReferenceRewardModel(RewardModel, Protocol):
    """A reward that judges each response against a per-sample reference (ground truth).

    ``score(prompts, responses, references)`` takes one reference per sample (a
    gold answer, a letter, test cases, a JSON Schema, …; ``None`` where there is
    none). ``requires_reference`` says whether every sample must have one (a
    verifier) or whether references are only passed through (a recipe whose
    components need none). Call it through :func:`score_with_references`, which
    passes references only to models that take them.
    """

    requires_reference: bool

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[Response],
        references: Sequence[Any] | None = None,
    ) -> np.ndarray: ...


@runtime_checkable
class ComponentRewardModel(Protocol):
    """A reward built from named parts (a recipe): the total and each part's values.

    ``score_components`` returns ``(total, {name: values})``, every array of
    shape ``(n,)``, so trainers can log each part (OpenRLHF ``extra_logs``, TRL
    ``log_metric``).
    """

    def score_components(
        self,
        prompts: Sequence[str],
        responses: Sequence[Response],
        references: Sequence[Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]: ...


class MissingReferenceError(ValueError):
    """A reward that needs a reference (ground truth) got none for some sample."""


def missing_reference(reference: Any) -> bool:
    """True for no reference: ``None`` or a blank string (OpenRLHF sends ``""`` for
    every sample when its ``--label_key`` is unset)."""
    return reference is None or (isinstance(reference, str) and not reference.strip())


def check_references(
    references: Sequence[Any] | None, n: int, field: str = "reference", who: str = "this reward"
) -> list[Any]:
    """The references as a list of ``n``, or one :class:`MissingReferenceError` naming ``field``
    when one is missing (:func:`missing_reference`).

    ``field`` is what the caller calls the reference (OpenRLHF ``labels``, a
    dataset or JSONL column), so the message tells the user what to add.
    """
    if references is None:
        raise MissingReferenceError(
            f"{who} needs a reference for every sample in field {field!r}, but none was given"
        )
    refs = list(references)
    if len(refs) != n:
        raise ValueError(f"field {field!r} has {len(refs)} items but there are {n} samples")
    missing = [i for i, ref in enumerate(refs) if missing_reference(ref)]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" …" if len(missing) > 5 else "")
        raise MissingReferenceError(
            f"{who} needs a reference in field {field!r}; samples {shown} have none "
            f"({len(missing)} of {n})"
        )
    return refs


def score_with_references(
    model: RewardModel,
    prompts: Sequence[str],
    responses: Sequence[Response],
    references: Sequence[Any] | None = None,
    field: str = "reference",
) -> np.ndarray:
    """Score any reward model, passing ``references`` only to models that take them.

    A :class:`ReferenceRewardModel` with ``requires_reference`` gets the
    references checked first (one :class:`MissingReferenceError` naming
    ``field`` when any is missing); one without it gets them as given; any
    other :class:`RewardModel` is scored as ``model.score(prompts, responses)``.
    """
    n = check_lengths(prompts, responses)
    if isinstance(model, ReferenceRewardModel):
        if model.requires_reference:
            references = check_references(references, n, field, type(model).__name__)
        elif references is not None:
            check_lengths(prompts, references)
        return np.asarray(model.score(prompts, responses, references), dtype=np.float64)
    return np.asarray(model.score(prompts, responses), dtype=np.float64)


def score_components(
    model: RewardModel,
    prompts: Sequence[str],
    responses: Sequence[Response],
    references: Sequence[Any] | None = None,
    field: str = "reference",
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(total, {component: values})`` for any reward model (``{}`` for a plain one).

    A :class:`ComponentRewardModel` (a recipe) reports its parts; references
    are handled as in :func:`score_with_references`.
    """
    if isinstance(model, ComponentRewardModel):
        n = check_lengths(prompts, responses)
        if getattr(model, "requires_reference", False):
            references = check_references(references, n, field, type(model).__name__)
        total, parts = model.score_components(prompts, responses, references)
        return np.asarray(total, dtype=np.float64), parts
    return score_with_references(model, prompts, responses, references, field), {}
