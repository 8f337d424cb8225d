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

from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np

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
