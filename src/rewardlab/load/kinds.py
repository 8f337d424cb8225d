"""Which loading options each kind of model spec reads, declared once, and the one refusal.

Every spec is one of the kinds of :data:`MODEL_KINDS`, told apart from the spec
text and the folder's config files, before any weights are read
(:func:`model_kind`). Each kind declares the option classes it reads and, of
those, the fields it does not use (as the trainers of ``train`` do,
:data:`rewardlab.verbs.train.TRAINERS`):

* ``rewardlab``: a model rewardlab trained on a backbone (heads, ensembles,
  structured models): none of the loading options;
* ``transformer``: a model rewardlab fine-tuned end to end (``rewardlab.json``):
  it scores with its tokenizer, so ``max_length``, ``dtype``, ``device`` and
  ``token_budget`` of :class:`~rewardlab.models.lm.hub.HubModelOptions`;
* ``hf``: a Hugging Face sequence classifier (a folder or ``hf:ORG/NAME``): every
  :class:`~rewardlab.models.lm.hub.HubModelOptions` field;
* ``judge``: ``judge:PATH``: the causal LM's loading options and
  :class:`~rewardlab.models.lm.judge_options.JudgeOptions`;
* ``clip``, ``aesthetic``, ``hpsv2``: the image rewards, what each declares in
  :data:`rewardlab.models.image.specs.IMAGE_REWARDS` (``reads``).

:func:`refuse_unread` is the rule: a loading option set away from its default
that no spec of the list reads is an :class:`~rewardlab.options.OptionError`
naming the option and the specs, before anything is loaded; an option that one
member of a comma list reads reaches that member.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab.models.lm.hub import HF_PREFIX, HubModelOptions
from rewardlab.models.lm.judge_options import JudgeOptions
from rewardlab.options import OptionError, declared, flag_of, given_fields, option_fields

JUDGE_PREFIX = "judge:"
LOADING_OPTIONS = (HubModelOptions, JudgeOptions)
"""Every loading option class; a command offers their fields as flags."""


@dataclass(frozen=True)
class ModelKind:
    """One kind of spec: its name in messages, the option classes it reads, the fields of
    those it does not use, and the fields read by one way of scoring only (``score``: a
    reward per response; ``prob``: a preference between two)."""

    name: str
    options: tuple[type, ...] = ()
    ignores: frozenset[str] = frozenset()
    read_by: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def reads(self) -> frozenset[str]:
        """The option names this kind reads."""
        return frozenset(declared(*self.options)) - self.ignores

    def reads_for(self, name: str, uses: frozenset[str]) -> bool:
        """Whether this kind reads option ``name`` when scored through the methods ``uses``."""
        return name in self.reads and bool(self.read_by.get(name, ALL_USES) & uses)


ALL_USES = frozenset({"score", "prob"})
"""The ways a command may score: ``score`` (a reward per response), ``prob`` (a preference
between two responses)."""


_TOKENIZER = frozenset({"max_length", "dtype", "device", "token_budget"})
"""What every model that scores with a tokenizer reads."""

MODEL_KINDS: dict[str, ModelKind] = {
    "rewardlab": ModelKind("a rewardlab model"),
    "transformer": ModelKind("a transformer fine-tuned by rewardlab", (HubModelOptions,),
                             frozenset(declared(HubModelOptions)) - _TOKENIZER),
    "hf": ModelKind("a Hugging Face classifier", (HubModelOptions,)),
    "judge": ModelKind("a judge", (HubModelOptions, JudgeOptions),
                       frozenset({"weights", "chat_template"}),
                       {"rating_template": frozenset({"score"}), "rating": frozenset({"score"}),
                        "pairwise_template": frozenset({"prob"})}),
}
"""Spec kind → what it reads; image kinds are added from their registry (:func:`kind`)."""


def kind(name: str) -> ModelKind:
    """The :class:`ModelKind` called ``name`` (an image reward kind from its registry)."""
    if name in MODEL_KINDS:
        return MODEL_KINDS[name]
    from rewardlab.models.image.specs import IMAGE_REWARDS

    entry = IMAGE_REWARDS.get(name)
    return ModelKind(f"an image reward ({name}:)", (HubModelOptions,),
                     frozenset(declared(HubModelOptions)) - entry.reads)


def model_kind(spec: str) -> str | None:
    """The kind of ``spec`` (a key of :data:`MODEL_KINDS` or an image kind), read from the
    spec and its folder's config without loading weights; ``None`` when the spec names
    nothing loadable (the loader then says why)."""
    from rewardlab.atomic import recover
    from rewardlab.load.specs import spec_kind
    from rewardlab.models.image.specs import is_clip_config
    from rewardlab.models.lm.hub import is_hf_model_config
    from rewardlab.models.lm.transformer_rm import is_transformer_model_dir
    from rewardlab.robust.backbone_ensemble import read_config

    image = spec_kind(spec)
    if image is not None:
        return image
    if spec.startswith(JUDGE_PREFIX):
        return "judge"
    if spec.startswith(HF_PREFIX):
        from rewardlab.models.lm.hub import resolve_hf_name

        return "clip" if is_clip_config(read_config(resolve_hf_name(spec))) else "hf"
    folder = Path(spec)
    recover(folder)
    if not folder.is_dir():
        return None
    if is_transformer_model_dir(folder):
        return "transformer"
    if not (folder / "config.json").is_file():
        return None
    config = read_config(folder)
    if config.get("format") is None:
        if is_clip_config(config):
            return "clip"
        return "hf" if is_hf_model_config(config) else None
    return "rewardlab"


def modalities(spec: str) -> frozenset[str] | None:
    """The response modalities ``spec`` scores (``text``, ``image``; a comma list: its
    members'), told from the spec and its folder's config without loading weights: an image
    reward scores images; a Hugging Face classifier, a judge and a fine-tuned transformer
    score text; a rewardlab model what its backbones featurize. ``None`` when a member's
    cannot be told (the loader then decides)."""
    from rewardlab.load.specs import split_specs

    found: set[str] = set()
    for member in split_specs(spec):
        name = model_kind(member)
        if name is None:
            return None
        if name == "rewardlab":
            modality = _backbone_modalities(member)
            if modality is None:
                return None
            found |= modality
        else:
            found.add("text" if name in MODEL_KINDS else "image")
    return frozenset(found)


def _backbone_modalities(folder: str) -> frozenset[str] | None:
    """What the backbones named in a rewardlab model's config featurize (``None`` when the
    config names none that is registered)."""
    from rewardlab.features.backbones import BACKBONES
    from rewardlab.robust.backbone_ensemble import read_config

    config = read_config(folder)
    backbones = config.get("backbones") or [config.get("backbone")]
    kinds = [b.get("kind") if isinstance(b, dict) else None for b in backbones]
    if not kinds or any(k not in BACKBONES for k in kinds):
        return None
    return frozenset(BACKBONES.get(k).modality for k in kinds)


def given_options(*options: Any) -> list[tuple[str, str]]:
    """``(name, flag)`` of each field of the ``options`` instances set away from its
    default."""
    out = []
    for instance in options:
        flags = {f.name: flag_of(f) for f in option_fields(type(instance))}
        out += [(name, flags[name]) for name in given_fields(instance)]
    return out


def refuse_unread(specs: Sequence[str], given: Iterable[tuple[str, str]],
                  uses: Iterable[str] = ALL_USES, flag: str = "--model") -> None:
    """:class:`OptionError` naming the first option of ``given`` (``(name, flag)``) that no
    spec in ``specs`` reads when scored through ``uses`` (the command's ways of scoring:
    ``score`` reads a judge's rating template, ``prob`` its pairwise one); a spec of
    unknown kind is left to the loader's own error."""
    unread = unread_by(specs, given, uses)
    if unread:
        readers = [kind(model_kind(spec)) for spec in specs]  # type: ignore[arg-type]
        what = ", ".join(dict.fromkeys(reader.name for reader in readers))
        uses = frozenset(uses)
        how = "" if uses == ALL_USES else f" as {' and '.join(sorted(uses))} reads it"
        raise OptionError(f"{unread[0][1]}: not read by {flag} {','.join(specs)} "
                          f"({what}){how}; leave it out")


def unread_by(specs: Sequence[str], given: Iterable[tuple[str, str]],
              uses: Iterable[str] = ALL_USES) -> list[tuple[str, str]]:
    """The options of ``given`` (``(name, flag)``) that no spec in ``specs`` reads when
    scored through ``uses``; none when a spec's kind is unknown (the loader then says why)."""
    kinds = [model_kind(spec) for spec in specs]
    if any(k is None for k in kinds):
        return []
    readers = [kind(k) for k in kinds]  # type: ignore[arg-type]
    uses = frozenset(uses)
    return [(name, flag) for name, flag in given
            if not any(reader.reads_for(name, uses) for reader in readers)]
