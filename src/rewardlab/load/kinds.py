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
from dataclasses import dataclass
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
    """One kind of spec: its name in messages, the option classes it reads and the fields
    of those it does not use."""

    name: str
    options: tuple[type, ...] = ()
    ignores: frozenset[str] = frozenset()

    @property
    def reads(self) -> frozenset[str]:
        """The option names this kind reads."""
        return frozenset(declared(*self.options)) - self.ignores


_TOKENIZER = frozenset({"max_length", "dtype", "device", "token_budget"})
"""What every model that scores with a tokenizer reads."""

MODEL_KINDS: dict[str, ModelKind] = {
    "rewardlab": ModelKind("a rewardlab model"),
    "transformer": ModelKind("a transformer fine-tuned by rewardlab", (HubModelOptions,),
                             frozenset(declared(HubModelOptions)) - _TOKENIZER),
    "hf": ModelKind("a Hugging Face classifier", (HubModelOptions,)),
    "judge": ModelKind("a judge", (HubModelOptions, JudgeOptions),
                       frozenset({"weights", "chat_template"})),
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


def given_options(*options: Any) -> list[tuple[str, str]]:
    """``(name, flag)`` of each field of the ``options`` instances set away from its
    default."""
    out = []
    for instance in options:
        flags = {f.name: flag_of(f) for f in option_fields(type(instance))}
        out += [(name, flags[name]) for name in given_fields(instance)]
    return out


def refuse_unread(specs: Sequence[str], given: Iterable[tuple[str, str]],
                  flag: str = "--model") -> None:
    """:class:`OptionError` naming the first option of ``given`` (``(name, flag)``) that no
    spec in ``specs`` reads; a spec of unknown kind is left to the loader's own error."""
    kinds = [model_kind(spec) for spec in specs]
    if any(k is None for k in kinds):
        return
    readers = [kind(k) for k in kinds]
    for name, option_flag in given:
        if not any(name in reader.reads for reader in readers):
            what = ", ".join(dict.fromkeys(reader.name for reader in readers))
            raise OptionError(f"{option_flag}: not read by {flag} {','.join(specs)} ({what}); "
                              "leave it out")
