"""The options of an LLM judge (``judge:PATH``), in a light module: the CLI makes its
``--judge-*`` flags from :class:`JudgeOptions` without importing torch.

A judge also reads the Hugging Face loading options it shares with every causal
LM (:class:`~rewardlab.models.lm.hub.HubModelOptions`: ``max_length``,
``dtype``, ``device``, ``token_budget``, ``trust_remote_code``); what it reads
is declared in :data:`rewardlab.load.kinds.MODEL_KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardlab.options import check, option

RATINGS = ("scale", "yes-no")
"""How a judge rates one response: the expected 1-10 rating, or P(Yes)."""


@dataclass(frozen=True)
class JudgeOptions:
    """Judge settings: template files (None = the shipped defaults) and the rating kind."""

    pairwise_template: str | None = option(
        None, "Judges: pairwise prompt file with {prompt}, {response_a}, {response_b}.",
        flag="--judge-pairwise-template", metavar="PATH")
    rating_template: str | None = option(
        None, "Judges: rating prompt file with {prompt}, {response}.",
        flag="--judge-rating-template", metavar="PATH")
    rating: str = option("scale", "Judges: scale (the expected 1-10 rating) | yes-no (P(Yes)).",
                         flag="--judge-rating", choices=lambda: RATINGS, kind="rating")
    max_field_tokens: int = option(
        512, "Judges: longest prompt/response in tokens (longer ones are cut).",
        flag="--judge-max-field-tokens", min=1)

    def __post_init__(self) -> None:
        check(self)
