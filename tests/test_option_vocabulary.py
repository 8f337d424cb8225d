"""One meaning per option name: across every command of the live CLI, an option name has one
type, one default and one help text, except the exceptions declared here with their reason.

The options of every command are read from the live CLI (as ``docs/cli.md`` is) and grouped
by name. Two kinds of exception:

- :data:`DIFFERENT_USE`: that command's option is another use of the name (a comma list of
  the settings a lab experiment compares, a different quantity), left out of the group;
- :data:`MAY_DIFFER`: the attributes that may differ for every command of that name.

An exception that no longer differs fails too, so the list only shrinks: a command whose
options move to option dataclasses (``rewardlab.options``, one field per option, one help)
loses its exceptions, and the test says which to delete.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
import typer

from rewardlab.cli.command import raw_help
from rewardlab.cli.main import app

HELP_WORDED_PER_COMMAND = (
    "the same meaning, its help worded per command; one help when the commands take the "
    "option from one options dataclass"
)
EXPERIMENT_SIZE = "an experiment's own size, its default chosen for that experiment"

DIFFERENT_USE: dict[tuple[str, str], str] = {
    # lab experiments compare settings: the option is a comma list of the values compared
    ("--aggregate", "lab overopt"): "the ensemble readings compared, a comma list (each is "
                                    "its own proxy); elsewhere the one reading of an ensemble",
    ("--backbone", "lab overopt"): "the proxy backbones compared, a comma list",
    ("--label-noise", "lab overopt"): "the label-flip rates compared, a comma list",
    ("--label-noise", "lab weak-to-strong"): "a label-flip rate given as a comma list of one",
    ("--label-noise", "lab constrained"): "a label-flip rate given as a comma list of one",
    ("--n", "lab overopt"): "best-of-n sizes, by default up to the pool size",
    ("--optimizer", "lab overopt"): "the optimizers compared, a comma list with pg",
    ("--optimizer", "lab diffusion"): "the diffusion optimizers compared, a comma list",
    ("--aggregate", "lab diffusion"): "the ensemble readings compared with member 0, a comma "
                                      "list; each is optimized on its own",
    # a default chosen for the command's own data
    ("--backbone", "demo"): "demo trains on the synthetic arena, encoder by default",
    ("--split", "eval"): "no default: RewardBench's 'filtered' with --suite rewardbench, else "
                         "'train'",
    ("--format", "eval"): "also prmbench-groups (PRMBench read as one-to-many groups)",
    ("--format", "compare"): "also prmbench-groups (PRMBench read as one-to-many groups)",
    ("--model", "compare"): "several models, each compared as its own (not one ensemble)",
    ("--model", "data strength"): "an ensemble, whose members' own scores give the strength",
    ("--out", "demo"): "a folder with a default (runs/demo): the demo runs without options",
    # another quantity under the same name: to rename (reported, not yet resolved)
    ("--batch-size", "train"): "training units per optimizer step; bon and forecast: pairs "
                               "per model call when scoring",
    ("--bootstrap", "forecast"): "bootstrap replicates over prompts (a number); train: each "
                                 "member trained on a bootstrap resample (a flag)",
    ("--max-length", "train"): "transformer:PATH tokens of prompt + response when training; "
                               "elsewhere a Hugging Face model's tokens per input when scoring",
    ("--temperature", "lab agent"): "the simulated labeller's Boltzmann temperature (0: the "
                                    "larger return wins); build sft: the softmax of sample",
    ("--loss", "lab agent"): "the agent lab's reward ensemble, noisy-bt by default",
    ("--grad-penalty", "lab agent"): "the agent lab's reward, 0 by default (train: the "
                                     "trainer's default)",
    ("--ensemble", "lab agent"): "the agent lab's reward ensemble, 3 members by default",
    ("--ensemble", "lab overopt"): "members per compared proxy, 5 by default",
    ("--ensemble", "lab diffusion"): "members of the proxy whose readings are compared, 1 by "
                                     "default",
    ("--bootstrap", "lab diffusion"): "train's flag for the lab's proxy (train's own has no "
                                      "default: each trainer family fills it), off by default",
    ("--overwrite", "lab agent"): "replace model folders under --out/models",
    ("--temperature", "lab agent-overopt"): "the simulated labeller's Boltzmann temperature, "
                                            "as in lab agent",
    ("--loss", "lab agent-overopt"): "the lab's frozen reward, noisy-bt by default",
    ("--grad-penalty", "lab agent-overopt"): "the lipschitz variant's penalty, 1 by default",
    ("--ensemble", "lab agent-overopt"): "members of the ensemble variants' reward, 5 by "
                                         "default",
    ("--aggregate-params", "lab overopt"): "parameters by aggregation, one object per reading "
                                           "compared",
    ("--dtype", "train"): "the compute type of fine-tuning, the trainer's default when not "
                          "given; elsewhere the type a Hugging Face model is scored in",
    ("--token-budget", "train"): "padded tokens per training batch, the trainer's default "
                                 "when not given; elsewhere per scoring batch",
}
"""``(option, command)`` → why that command's option is another use of the name."""

MAY_DIFFER: dict[str, tuple[frozenset[str], str]] = {
    "--data": (frozenset({"type", "help"}), "what the command reads: a dataset (a file, a "
               "folder or hf:NAME: text) or a candidate pool (a file: a path)"),
    "--method": (frozenset({"default", "help"}), "each command's own registry of methods "
                 "(sft, pairs, forecast), its help listing them"),
    "--out": (frozenset({"help"}), "what the command writes there: a JSON or JSONL file, or "
              "a folder (a model, a report with figures)"),
    "--proxy-sizes": (frozenset({"default", "help"}), "training pairs per proxy, a comma "
                      "list, drawn from each lab's own task (text pools by source, or the "
                      "digits gold task), with that task's default"),
    "--seed": (frozenset({"help"}), "what the seed draws is the command's own"),
    "--n-prompts": (frozenset({"default", "help"}), EXPERIMENT_SIZE),
    "--n-pairs": (frozenset({"default", "help"}), EXPERIMENT_SIZE),
    "--length-correlation": (frozenset({"default", "help"}), EXPERIMENT_SIZE),
    "--pool-size": (frozenset({"default"}), EXPERIMENT_SIZE),
    "--test-prompts": (frozenset({"default"}), EXPERIMENT_SIZE),
    "--pg-beta": (frozenset({"default"}), EXPERIMENT_SIZE),
    "--pg-lr": (frozenset({"default"}), EXPERIMENT_SIZE),
    "--pg-steps": (frozenset({"default"}), EXPERIMENT_SIZE),
    "--comparisons": (frozenset({"default", "help"}), EXPERIMENT_SIZE),
    "--eval-episodes": (frozenset({"default", "help"}), EXPERIMENT_SIZE),
    "--steps": (frozenset({"default", "help"}), EXPERIMENT_SIZE),
    "--seeds": (frozenset({"help"}), HELP_WORDED_PER_COMMAND),
    "--gold-column": (frozenset({"help"}), HELP_WORDED_PER_COMMAND),
    "--html": (frozenset({"help"}), HELP_WORDED_PER_COMMAND),
    "--rewards": (frozenset({"help"}), HELP_WORDED_PER_COMMAND),
    "--label-noise": (frozenset({"help"}), HELP_WORDED_PER_COMMAND),
    "--format": (frozenset({"help"}), HELP_WORDED_PER_COMMAND),
    "--model": (frozenset({"help"}), "the one spec help, then what the command does with an "
                "ensemble or a preference model"),
}
"""Option → the attributes (``type``, ``default``, ``help``) that may differ, and why."""

ATTRIBUTES = ("type", "default", "help")


def live_options() -> dict[str, dict[str, tuple[str, str, str]]]:
    """``{option: {command: (type, default, help)}}`` over every command of the live CLI."""
    found: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        for param in command.params:
            if param.opts and param.opts[0].startswith("--"):
                kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
                found[param.opts[0]][" ".join(path)] = (
                    str(kind), repr(param.default), raw_help(param) or "")

    walk(typer.main.get_command(app), [])
    return found


OPTIONS = live_options()
SHARED = sorted(option for option, by in OPTIONS.items() if len(by) > 1)


def differing(by_command: dict[str, tuple[str, str, str]]) -> set[str]:
    return {name for i, name in enumerate(ATTRIBUTES)
            if len({values[i] for values in by_command.values()}) > 1}


@pytest.mark.parametrize("option", SHARED)
def test_an_option_name_has_one_type_default_and_help(option):
    kept = {command: values for command, values in OPTIONS[option].items()
            if (option, command) not in DIFFERENT_USE}
    allowed = MAY_DIFFER.get(option, (frozenset(), ""))[0]
    found = differing(kept)
    assert found <= allowed, (
        f"{option} differs in {sorted(found - allowed)} across "
        + "; ".join(f"{c}: {v}" for c, v in kept.items())
    )


def test_every_exception_is_still_needed():
    stale = []
    for (option, command), _ in DIFFERENT_USE.items():
        by = OPTIONS.get(option, {})
        if command not in by:
            stale.append(f"{option} of {command}: no such option")
            continue
        others = {c: v for c, v in by.items() if (option, c) not in DIFFERENT_USE}
        if others and all(v == by[command] for v in others.values()):
            stale.append(f"{option} of {command}: now the same as the others")
    for option, (attributes, _) in MAY_DIFFER.items():
        kept = {c: v for c, v in OPTIONS.get(option, {}).items()
                if (option, c) not in DIFFERENT_USE}
        unused = attributes - differing(kept)
        if unused:
            stale.append(f"{option}: {sorted(unused)} no longer differ")
    assert not stale, f"remove from the exceptions: {stale}"


def test_the_walk_sees_the_shared_options():
    assert {"--data", "--out", "--model", "--seed", "--aggregate"} <= set(SHARED)
    assert len(OPTIONS["--model"]) >= 5
