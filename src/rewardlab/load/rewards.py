"""``--rewards``: a registered verifier's name or a recipe file, as one reward model.

:func:`load_rewards` reads a verifier name as a one-component recipe and a
``.yaml``/``.yml``/``.json`` file as a recipe (:mod:`rewardlab.robust.recipe`),
whose model components are loaded by :func:`rewardlab.load.specs.load_reward_model`
(any spec). ``unsafe_no_sandbox`` reaches every component that runs code
(the code verifier); without it, a component that needs a sandbox where none
can be made is refused with one ``ValueError`` line before anything runs.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from rewardlab.load.specs import load_reward_model
from rewardlab.options import OptionError
from rewardlab.registry import UnknownNameError
from rewardlab.robust.recipe.recipe import ModelLoader, Recipe, build_recipe
from rewardlab.robust.recipe.spec import parse_recipe, read_recipe_file
from rewardlab.verifiers import VERIFIERS

RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


def load_recipe(path: str | Path, loader: ModelLoader = load_reward_model) -> Recipe:
    """Read, check and build a recipe file; model components come from ``loader``."""
    return build_recipe(read_recipe_file(path), loader)


def check_rewards_spec(spec: str) -> str:
    """``spec`` when it names a registered verifier or a recipe file (by its suffix, or an
    existing file), else :class:`~rewardlab.registry.UnknownNameError` with the verifier
    registry's did-you-mean: a typo is a bad option, found before anything is read."""
    path = Path(spec)
    if spec in VERIFIERS or path.suffix.lower() in RECIPE_SUFFIXES or path.is_file():
        return spec
    close = difflib.get_close_matches(spec, VERIFIERS.names(), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    raise UnknownNameError(
        f"unknown reward {spec!r}{hint} (give a registered verifier: "
        f"{', '.join(VERIFIERS.names())}; or a recipe file: .yaml, .yml, .json)"
    )


def rewards_modalities(spec: str) -> frozenset[str] | None:
    """The response modalities ``--rewards spec`` scores, told without loading it: a
    verifier's are text; a recipe's, those of its components (its models' by
    :func:`rewardlab.load.kinds.modalities`). ``None`` when they cannot be told (a recipe
    file that does not read: the loader then says why)."""
    from rewardlab.load.kinds import modalities

    if spec in VERIFIERS:
        return frozenset({"text"})
    try:
        recipe = read_recipe_file(spec)
    except (OSError, ValueError, ImportError):
        return None
    found: set[str] = set()
    for component in recipe.components.values():
        if component.model is None:
            found.add("text")
            continue
        modality = modalities(str(component.model))
        if modality is None:
            return None
        found |= modality
    return frozenset(found)


def load_rewards(spec: str, loader: ModelLoader = load_reward_model,
                 unsafe_no_sandbox: bool = False) -> Recipe:
    """A recipe from a registered verifier name (a one-component recipe) or a recipe file.

    ``load_rewards("math")`` scores with the math verifier alone; an unknown
    name that is not a file gets the verifier registry's did-you-mean error.
    """
    if check_rewards_spec(spec) in VERIFIERS:
        raw = {"components": {spec: {"verifier": spec}}}
        recipe = build_recipe(parse_recipe(raw, spec, Path.cwd()), loader)
    else:
        recipe = load_recipe(Path(spec), loader)
    _sandbox(recipe, unsafe_no_sandbox)
    return recipe


def _sandbox(recipe: Recipe, unsafe_no_sandbox: bool) -> None:
    """Give every component that runs code ``unsafe_no_sandbox``; ``ValueError`` when one
    needs a sandbox that cannot be made here; :class:`~rewardlab.options.OptionError` for
    ``unsafe_no_sandbox`` when no component runs code."""
    from rewardlab.verifiers.sandbox.run import SandboxUnavailable, require_sandbox

    runs_code = [c for c in recipe.components.values() if hasattr(c, "unsafe_no_sandbox")]
    if unsafe_no_sandbox and not runs_code:
        raise OptionError(f"--unsafe-no-sandbox: not read by --rewards {recipe.source} (no "
                          "component runs code); leave it out")
    for component in runs_code:
        component.unsafe_no_sandbox = component.unsafe_no_sandbox or unsafe_no_sandbox
        try:
            require_sandbox(component.unsafe_no_sandbox)
        except SandboxUnavailable as err:
            raise ValueError(str(err)) from None
