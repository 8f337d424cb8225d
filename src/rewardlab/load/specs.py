"""Load any reward model from one spec, with the ensemble aggregation chosen at score time.

``load_reward_model(spec, aggregate, center, hub=, judge=, **params)`` accepts

* a rewardlab directory: ``config.json`` names its ``format``, a single model
  (``rewardlab-reward-model``, :func:`rewardlab.models.io.load_model`), a
  multi-backbone ensemble (``rewardlab-ensemble``,
  :mod:`rewardlab.robust.backbone_ensemble`), a structured model (GPM, PAL,
  DMoE, PRM, a trajectory reward ensemble, a success classifier;
  :func:`rewardlab.models.structured.loader_for_format`; one with
  ``score_members`` is aggregated like any ensemble when asked), or
  ``rewardlab.json`` for a fine-tuned transformer;
* a Hugging Face sequence-classification folder as published (a
  ``config.json`` without a rewardlab ``format``;
  :mod:`rewardlab.models.lm.hf_reward`), or ``hf:ORG/NAME`` resolved through
  the Hugging Face cache (:mod:`rewardlab.models.lm.hub`);
* ``judge:PATH``: an LLM judge (:mod:`rewardlab.models.lm.judge`) from a
  causal-LM folder, ``judge:hf:ORG/NAME`` or ``judge:smollm2``;
* an image reward (:mod:`rewardlab.models.image`): ``clip:PATH`` (CLIP score,
  PickScore), ``aesthetic:PATH`` (the LAION aesthetic MLP on its CLIP folder),
  ``hpsv2:PATH`` (open_clip); a Hugging Face folder or ``hf:ORG/NAME`` whose
  config says ``model_type: clip`` is read as ``clip:``. A spec ``WORD:…`` whose
  WORD is no known kind and that names no existing path is refused with the
  closest kinds (did you mean).

``hub`` (:class:`~rewardlab.models.lm.hub.HubModelOptions`: max_length,
dtype, device, token_budget, trust_remote_code, weights, chat_template) and
``judge`` (:class:`~rewardlab.models.lm.judge_options.JudgeOptions`) go to the
kinds that read them; which kind reads which is declared in
:data:`rewardlab.load.kinds.MODEL_KINDS` (a model fine-tuned by rewardlab
reads the tokenizer's ``max_length``, ``dtype``, ``device`` and
``token_budget``; a model rewardlab trained on a backbone reads none).
A Hugging Face model with several outputs is returned with its weighted
reduction, unless an ``aggregate`` is named: then its outputs are the members.
:func:`load_reward_ensemble` scores several specs as one ensemble.

A model with K > 1 members (batched
heads, backbones, or both) is wrapped in
:class:`~rewardlab.robust.ensemble.AggregatedRewardModel`, so ``score`` returns

    R(x, y) = agg_k r̃_k(x, y),   r̃_k = r_k − (per-prompt mean of r_k) if center else r_k,

with agg one of :data:`~rewardlab.robust.aggregate.AGGREGATIONS` (mean, median,
min/wco and uwo from Coste et al., 2024, "Reward Model Ensembles Help Mitigate
Overoptimization"; mean-minus-std from Eisenstein et al., 2023; brme from Yan
et al., 2024). Which aggregation: the ``aggregate`` argument, else the config's
``aggregate`` entry ``{"name", "params", "center"}``, else ``mean`` without
centering. Saved parameters apply only to the saved aggregation; ``params``
given here override them. A single-member model is returned as loaded (every
aggregation of one member is that member) unless centering is asked for; an
``aggregate`` named for a model with no members or one member (a judge, an
image reward, a one-output classifier, a single head) would change nothing and
is refused (:class:`NothingToAggregate`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rewardlab.atomic import recover
from rewardlab.data.errors import DataError
from rewardlab.models.image.specs import IMAGE_REWARDS, is_clip_config, load_image_reward
from rewardlab.models.io import FORMAT as MODEL_FORMAT
from rewardlab.models.io import load_model
from rewardlab.models.lm.hub import HF_PREFIX, HubModelOptions, is_hf_model_config
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.models.lm.transformer_rm import is_transformer_model_dir, load_transformer_model
from rewardlab.models.structured import loader_for_format, structured_formats
from rewardlab.options import OptionError
from rewardlab.protocols import RewardModel
from rewardlab.robust.aggregate import AGGREGATIONS
from rewardlab.robust.backbone_ensemble import (
    ENSEMBLE_FORMAT,
    load_backbone_ensemble,
    read_config,
    saved_aggregation,
)
from rewardlab.robust.ensemble import AggregatedRewardModel, MemberScorer, ModelEnsemble

JUDGE_PREFIX = "judge:"
ACCEPTED_SPECS = (
    "a rewardlab model directory, a Hugging Face model folder (config.json), "
    "hf:ORG/NAME, judge:PATH (a causal-LM folder, judge:hf:ORG/NAME or judge:smollm2), "
    "clip:PATH, aesthetic:PATH or hpsv2:PATH"
)
_KIND = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):")


class NothingToAggregate(OptionError):
    """An aggregation was asked of a model that has no members, or one (it would change
    nothing)."""


def spec_kind(spec: str) -> str | None:
    """The kind of ``KIND:REST`` when KIND is an image reward kind, else None; an unknown
    ``WORD:`` that names no existing path is a ``ValueError`` with the closest kinds."""
    match = _KIND.match(spec)
    if match is None:
        return None
    word = match.group(1)
    if word in IMAGE_REWARDS:
        return word
    if f"{word}:" in (HF_PREFIX, JUDGE_PREFIX) or Path(spec).exists():
        return None
    kinds = sorted([HF_PREFIX[:-1], JUDGE_PREFIX[:-1], *IMAGE_REWARDS.names()])
    close = difflib.get_close_matches(word, kinds, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"model {spec!r}: unknown model kind {word!r}{hint}; expected {ACCEPTED_SPECS}")


def check_aggregation_params(aggregate: str, params: dict[str, float]) -> None:
    """Raise ``ValueError`` naming the aggregation when it does not accept ``params``."""
    fn = AGGREGATIONS.get(aggregate)
    try:
        fn(np.zeros((2, 1)), **params)
    except TypeError:
        raise ValueError(
            f"aggregation {aggregate!r} does not take parameters {sorted(params)}"
        ) from None


def load_reward_model(
    directory: str | Path,
    aggregate: str | None = None,
    center: bool | None = None,
    hub: HubModelOptions | None = None,
    judge: JudgeOptions | None = None,
    **params: float,
) -> RewardModel:
    """A reward model from a spec (see the module doc); ensembles come aggregated."""
    spec = str(directory)
    kind = spec_kind(spec)
    if kind is not None:
        _no_members(spec, aggregate, center)
        return load_image_reward(kind, spec[len(kind) + 1 :], hub)
    if spec.startswith(JUDGE_PREFIX):
        from rewardlab.models.lm.judge import load_judge

        if aggregate is not None or center:
            raise NothingToAggregate(f"model {spec!r}: a judge has no members to aggregate")
        return load_judge(spec[len(JUDGE_PREFIX):], judge, hub)
    if spec.startswith(HF_PREFIX):
        from rewardlab.models.lm.hub import resolve_hf_name

        folder = resolve_hf_name(spec)
        if is_clip_config(read_config(folder)):
            _no_members(spec, aggregate, center)
            return load_image_reward("clip", str(folder), hub)
        return _hf_model(folder, hub, spec, aggregate, center, params)
    directory = Path(directory)
    recover(directory)  # a model left aside by a writer killed mid-swap
    if not directory.is_dir():
        raise ValueError(f"model {spec!r}: no such directory; expected {ACCEPTED_SPECS}")
    if is_transformer_model_dir(directory):
        model = load_transformer_model(directory, hub)
        if aggregate is None and not center and model.n_members == 1:
            return model
        _members_to_aggregate(spec, model.n_members, aggregate, center)
        return AggregatedRewardModel(model, aggregate=aggregate or "mean", center=bool(center),
                                     **params)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(
            f"{directory}: no config.json; expected {ACCEPTED_SPECS}"
        )
    config = read_config(directory)
    fmt = config.get("format")
    if fmt is None and is_clip_config(config):
        _no_members(spec, aggregate, center)
        return load_image_reward("clip", str(directory), hub)
    if fmt is None and is_hf_model_config(config):
        return _hf_model(directory, hub, spec, aggregate, center, params)
    load_structured = loader_for_format(fmt)
    if load_structured is not None:
        try:
            model = load_structured(directory)
        except (KeyError, TypeError) as err:  # a field missing from, or mistyped in, config.json
            raise DataError(
                f"a {fmt} model needs a different config ({type(err).__name__}: {err})",
                path=str(directory / "config.json"),
            ) from None
        if aggregate is None and not center:
            return model
        if not isinstance(model, MemberScorer):
            raise NothingToAggregate(f"{directory}: a {fmt} model has no members to aggregate")
        name = aggregate or "mean"
        check_aggregation_params(name, params)
        return AggregatedRewardModel(model, aggregate=name, center=bool(center), **params)
    if fmt == ENSEMBLE_FORMAT:
        model = load_backbone_ensemble(directory)
    elif fmt == MODEL_FORMAT:
        model = load_model(directory)
    else:
        known = ", ".join(sorted([MODEL_FORMAT, ENSEMBLE_FORMAT, *structured_formats()]))
        raise ValueError(
            f"{directory / 'config.json'}: field 'format' is {fmt!r}, expected one of {known}"
        )
    saved = saved_aggregation(config, directory / "config.json")
    name = saved["name"] if aggregate is None else aggregate
    chosen = dict(saved["params"]) if name == saved["name"] else {}
    chosen.update(params)
    check_aggregation_params(name, chosen)
    centered = saved["center"] if center is None else center
    if model.n_members == 1 and not centered:
        _members_to_aggregate(spec, 1, aggregate, center)
        return model
    return AggregatedRewardModel(model, aggregate=name, center=centered, **chosen)


def _no_members(spec: str, aggregate: str | None, center: bool | None) -> None:
    if aggregate is not None or center:
        raise NothingToAggregate(f"model {spec!r}: an image reward has no members to aggregate")


def _members_to_aggregate(spec: str, n_members: int, aggregate: str | None,
                          center: bool | None) -> None:
    """:class:`NothingToAggregate` when ``aggregate`` is named for one member, uncentered:
    every aggregation of one member is that member."""
    if aggregate is not None and n_members == 1 and not center:
        raise NothingToAggregate(
            f"model {spec!r} has one member: every aggregation of it ({aggregate!r} too) is "
            "that member")


def _hf_model(
    folder: Path,
    hub: HubModelOptions | None,
    name: str,
    aggregate: str | None,
    center: bool | None,
    params: dict[str, float],
) -> RewardModel:
    """A Hugging Face classifier; with ``aggregate`` or ``center`` its outputs are members."""
    from rewardlab.models.lm.hf_reward import load_hf_reward_model

    model = load_hf_reward_model(folder, hub, name)
    if aggregate is None and not center:
        return model
    _members_to_aggregate(name, model.n_members, aggregate, center)
    name = aggregate or "mean"
    check_aggregation_params(name, params)
    return AggregatedRewardModel(model, aggregate=name, center=bool(center), **params)


def load_reward_ensemble(
    specs: Sequence[str | Path],
    aggregate: str = "mean",
    center: bool = False,
    hub: HubModelOptions | None = None,
    judge: JudgeOptions | None = None,
    **params: float,
) -> AggregatedRewardModel:
    """Several reward models (any specs: Hub models, folders, rewardlab models, judges) as
    one ensemble; ``hub`` and ``judge`` reach every member that reads them.

    Member k is ``load_reward_model(specs[k]).score``; the reward is the
    aggregation (mean, wco, uwo, …) of the members. Published models have
    unrelated scales and offsets, so ``center=True`` (per-prompt centering,
    :func:`rewardlab.robust.ensemble.center_per_prompt`) is advised for wco
    and uwo on them.
    """
    if len(specs) < 2:
        raise ValueError("option 'models': an ensemble needs at least two models")
    check_aggregation_params(aggregate, params)
    members = [load_reward_model(spec, hub=hub, judge=judge) for spec in specs]
    return AggregatedRewardModel(ModelEnsemble(members), aggregate=aggregate, center=center,
                                 **params)


def is_rewardlab_directory(spec: str | Path) -> bool:
    """True when ``spec`` is a directory rewardlab wrote (its metrics may be saved beside it)."""
    spec_str = str(spec)
    if spec_str.startswith((HF_PREFIX, JUDGE_PREFIX)) or not Path(spec).is_dir():
        return False
    if is_transformer_model_dir(spec):
        return True
    config_path = Path(spec) / "config.json"
    if not config_path.is_file():
        return False
    try:
        return "format" in read_config(spec)
    except ValueError:
        return False


def split_specs(spec: str) -> list[str]:
    """``"A,B,C"`` → ``["A", "B", "C"]``; a spec naming an existing path stays whole."""
    if "," not in spec or Path(spec).exists():
        return [spec]
    return [part.strip() for part in spec.split(",") if part.strip()]
