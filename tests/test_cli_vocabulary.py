"""One CLI vocabulary: the same option names everywhere, old spellings as deprecated aliases,
the trainer contract at the command line, and help made from the registries."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rewardlab.cli.choices import fill_placeholders
from rewardlab.cli.command import expand_help, rewrite_renamed
from rewardlab.cli.main import app
from rewardlab.cli.reference import cli_commands, render_command

runner = CliRunner()
COMMANDS = cli_commands()
CLI = Path(__file__).resolve().parents[1] / "src" / "rewardlab" / "cli"

READS_DATA = [("train",), ("eval",), ("compare",), ("score",), ("bon",), ("build", "sft"),
              ("build", "pairs"), ("data", "strength"), ("lab", "overopt"), ("forecast",)]
ENSEMBLE_MODEL = [("eval",), ("score",), ("serve",), ("bon",), ("build", "sft"),
                  ("build", "pairs"), ("forecast",)]
VOCABULARY = {
    # shared: input data, output, model spec and its loading flags, ensemble reading, sizes
    "--data", "--out", "--format", "--split", "--model", "--aggregate", "--aggregate-params",
    "--n", "--seed",
    "--rewards", "--reference-column", "--unsafe-no-sandbox", "--max-length", "--dtype",
    "--device", "--token-budget",
    "--trust-remote-code", "--weights", "--chat-template", "--judge-pairwise-template",
    "--judge-rating-template",
    "--judge-rating", "--judge-max-field-tokens", "--help",
    # train
    "--overwrite", "--backbone", "--head", "--head-params", "--loss", "--loss-params",
    "--init-from", "--grad-penalty", "--lat-eps", "--lat-steps", "--ensemble", "--bootstrap",
    "--epochs", "--lr", "--batch-size", "--lora", "--grad-accum", "--center-weight", "--int8",
    "--l2", "--test-fraction", "--val-fraction", "--min-gap", "--pairs-per-instruction",
    "--ties-below-gap", "--weight-decay", "--patience",
    # eval
    "--suite", "--probes", "--html", "--attack-budget", "--attack-epsilon", "--image-column",
    "--uncertainty", "--attributes",
    # demo
    "--n-prompts", "--n-pairs", "--label-noise", "--length-correlation",
    # serve
    "--host", "--port", "--max-batch", "--max-wait-ms", "--api-key-env", "--max-items",
    "--max-chars", "--max-body-bytes", "--max-json-depth", "--metrics-public", "--strip-suffix",
    "--drift-reference", "--drift-bins",
    "--header-timeout", "--body-timeout",
    # data strength
    "--flip-lowest", "--drop-lowest", "--margins",
    # data digits
    "--task", "--test-pairs", "--size-correlation",
    # bon and build
    "--scores-column", "--gold-column", "--method", "--k", "--quantile", "--threshold",
    "--temperature", "--strategy", "--conversational", "--pairs-per-prompt", "--template",
    # lab
    "--pool", "--optimizer", "--pg-steps", "--pg-beta", "--pg-lr", "--pg-group", "--pg-clip",
    "--proxy-sizes", "--uwo-lambda", "--pool-size", "--test-prompts", "--val-prompts",
    "--max-test-prompts", "--weak", "--strong", "--weak-pairs", "--transfer-pairs",
    "--proxy-size", "--lagrange-lr",
    # forecast
    "--gold-budget", "--gold-model", "--level", "--falls-before",
    # lab agent
    "--env", "--algorithm", "--steps", "--iterations", "--comparisons", "--queries", "--seeds",
    "--segment-length", "--labels", "--eval-episodes", "--noise",
    # lab agent-overopt
    "--checkpoints", "--random-episodes", "--sampled", "--variants",
    # lab diffusion (its generator, proxy and optimizers)
    "--sample-steps", "--eval-prompts", "--proxy-noise", "--bon-pool",
    "--draft-k", "--draft-lr", "--draft-updates", "--draft-batch", "--ddpo-lr",
    "--ddpo-updates", "--ddpo-batch", "--ddpo-clip", "--ddpo-epochs", "--fk-particles",
    "--fk-lambdas", "--fk-resample-every", "--reno-lr", "--reno-updates", "--reno-grad-clip",
    "--reno-reg", "--d3po-lr", "--d3po-updates", "--d3po-batch", "--d3po-beta", "--d3po-eps",
    "--eval-every", "--channels", "--train-steps",
    "--gen-batch-size", "--gen-lr", "--label-accuracy", "--train-timesteps", "--gen-seed",
}
"""Every option name the CLI may use: a new name must be added here on purpose."""

RENAMED = [
    (path, old, new)
    for path, command in COMMANDS.items()
    for old, new in getattr(command, "renamed", {}).items()
]
EXAMPLE_VALUES = {"--data": "in.jsonl", "--out": "o", "--model": "a,b", "--n": "1,2",
                  "--n-prompts": "7", "--backbone": "hashing", "--pairs-per-instruction": "3",
                  "--label-noise": "0.1"}


def names(command) -> set[str]:
    return {name for p in command.params for name in (*p.opts, *p.secondary_opts)}


def test_every_option_name_is_in_the_vocabulary():
    """A new ``--input`` (or any name outside the vocabulary) fails here."""
    outside = sorted(
        f"rewardlab {' '.join(path)} {name}"
        for path, command in COMMANDS.items() for name in names(command) - VOCABULARY
        if not name.startswith("--no-")
    )
    assert not outside, f"{outside}: not in the CLI vocabulary"


def test_old_spellings_are_no_options_anywhere():
    old = {"--input", "--output", "--models", "--ns", "--prompts", "--backbones", "--candidates"}
    assert not old & set().union(*(names(c) for c in COMMANDS.values()))
    assert {old for _, old, _ in RENAMED} == old | {"--pairs-per-prompt", "--noise"}
    # --noise: the lab's label-flip rate, now --label-noise as in demo and data digits; lab
    # agent keeps its own --noise (the share of labels answered at random: another quantity)


@pytest.mark.parametrize("path", READS_DATA, ids=" ".join)
def test_commands_that_read_data_call_it_data(path):
    assert "--data" in names(COMMANDS[path])


@pytest.mark.parametrize("path", [p for p in COMMANDS if p != ("serve",)], ids=" ".join)
def test_commands_that_write_call_it_out(path):
    assert "--out" in names(COMMANDS[path])


@pytest.mark.parametrize("path", ENSEMBLE_MODEL, ids=" ".join)
def test_commands_taking_an_ensemble_model_take_aggregate(path):
    assert {"--model", "--aggregate"} <= names(COMMANDS[path])


def param_of(command, option: str):
    return next(p for p in command.params if option in p.opts)


@pytest.mark.parametrize(("path", "old", "new"), RENAMED,
                         ids=[f"{' '.join(p)} {o}" for p, o, _ in RENAMED])
def test_an_old_spelling_works_with_one_deprecation_line(path, old, new, capsys):
    command = COMMANDS[path]
    required = [a for p in command.params if p.required and new not in p.opts
                for a in (p.opts[0], "x")]
    ctx = command.make_context(" ".join(path), [old, EXAMPLE_VALUES[new], *required])
    value = ctx.params[param_of(command, new).name]  # a comma list arrives parsed
    shown = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    assert shown == EXAMPLE_VALUES[new]
    assert capsys.readouterr().err == f"warning: {old} is deprecated; use {new}\n"


@pytest.mark.parametrize(("path", "old", "new"), RENAMED,
                         ids=[f"{' '.join(p)} {o}" for p, o, _ in RENAMED])
def test_old_and_new_spelling_together_are_refused(path, old, new):
    value = EXAMPLE_VALUES[new]
    result = runner.invoke(app, [*path, old, value, new, value])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '{new}': {old} is the old spelling of {new}; give one of them"
    ]


def test_rewrite_by_hand(capsys):
    assert rewrite_renamed(["--ns", "1,2", "--out", "o"], {"--ns": "--n"}) == [
        "--n", "1,2", "--out", "o"]
    assert rewrite_renamed(["--ns=4", "--", "--ns"], {"--ns": "--n"}) == ["--n", "4", "--", "--ns"]
    # a repeated old list flag becomes one comma list, with one deprecation line
    assert rewrite_renamed(["--models", "a", "--data", "d", "--models", "b"],
                           {"--models": "--model"}) == ["--model", "a,b", "--data", "d"]
    assert capsys.readouterr().err.splitlines() == [
        "warning: --ns is deprecated; use --n", "warning: --ns is deprecated; use --n",
        "warning: --models is deprecated; use --model"]
    assert rewrite_renamed(["--data", "d"], {"--models": "--model"}) == ["--data", "d"]


def test_a_deprecated_alias_runs_the_command_the_same(tmp_path):
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(
        json.dumps({"prompt": f"q{i % 2}", "response": "r" * (i + 1), "s": float(i),
                    "gold": float(i % 3)}) + "\n" for i in range(6)))
    args = ["bon", "--scores-column", "s", "--gold-column", "gold", "--n", "1,2"]
    new = runner.invoke(app, [*args, "--data", str(pool), "--out", str(tmp_path / "new.json")])
    old = runner.invoke(app, [*args, "--candidates", str(pool), "--out", str(tmp_path / "old.json")])
    assert new.exit_code == old.exit_code == 0, old.output
    assert "warning: --candidates is deprecated; use --data" in old.stderr
    assert "warning:" not in new.stderr
    curve = json.loads((tmp_path / "old.json").read_text())["curve"]
    assert curve == json.loads((tmp_path / "new.json").read_text())["curve"]
    # q0 proxies 0, 2, 4 with gold 0, 2, 1: best-of-1 = mean gold 1; q1 proxies 1, 3, 5, gold
    # 1, 0, 2: 1. Best-of-2 without replacement picks the higher proxy of two of three:
    # q0 (gold of rank 2 or 3: (2 + 1 + 1)/3 = 4/3), q1 ((0 + 2 + 2)/3 = 4/3)
    assert [round(point["gold"], 6) for point in curve] == [1.0, round(4 / 3, 6)]


def missing(tmp_path: Path) -> str:
    return str(tmp_path / "no-such-data.jsonl")


def test_a_misspelled_head_fails_before_the_data_is_read(tmp_path):
    result = runner.invoke(app, ["train", "--head", "gpmm", "--data", missing(tmp_path),
                                 "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "did you mean 'gpm'" in line and "no-such-data" not in line
    for name in ("dmoe", "gpm", "pal", "prm", "linear", "mlp", "multi-attribute"):
        assert name in line


@pytest.mark.parametrize(("extra", "said"), [
    (["--loss", "bluh"], "unknown loss 'bluh'"),
    (["--backbone", "hashng"], "did you mean 'hashing'"),
    (["--format", "prmbench-groups"], "unknown data format 'prmbench-groups'"),
])
def test_unknown_names_fail_before_the_data_is_read(tmp_path, extra, said):
    result = runner.invoke(app, ["train", "--data", missing(tmp_path),
                                 "--out", str(tmp_path / "m"), *extra])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert said in line and "no-such-data" not in line


@pytest.mark.parametrize(("args", "option", "said"), [
    (["eval", "--model", "m", "--aggregate", "wcoo"], "--aggregate", "did you mean 'wco'"),
    (["eval", "--model", "m", "--probes", "length,lenght"], "--probes", "did you mean 'length'"),
    (["eval", "--model", "m", "--format", "trll"], "--format", "did you mean 'trl'"),
    (["compare", "--model", "a,b", "--format", "hh-rlfh"], "--format", "did you mean 'hh-rlhf'"),
    (["score", "--model", "m", "--aggregate", "uwoo"], "--aggregate", "did you mean 'uwo'"),
    (["bon", "--model", "m", "--n", "1", "--aggregate", "meen"], "--aggregate", "'mean'"),
    (["build", "sft", "--scores-column", "s", "--method", "topp"], "--method", "'topk'"),
    (["build", "pairs", "--scores-column", "s", "--method", "best-wrst"], "--method",
     "'best-worst'"),
    (["data", "strength", "--model", "a,b", "--format", "rewardbench3"], "--format",
     "'rewardbench'"),
])
def test_every_command_refuses_an_unknown_name_naming_the_option(tmp_path, args, option, said):
    """Registry names given as options are checked when the options are parsed: exit 2,
    one line naming the option, before the (missing) data or model is opened."""
    result = runner.invoke(app, [*args, "--data", missing(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert f"'{option}'" in line and said in line and "no-such-data" not in line


@pytest.mark.parametrize("head", ["gpm", "pal", "dmoe", "prm"])
@pytest.mark.parametrize(("extra", "flag"), [
    (["--loss", "davidson"], "--loss"), (["--ensemble", "3"], "--ensemble"),
    (["--init-from", "m"], "--init-from"), (["--l2", "0.1"], "--l2"),
])
def test_a_structured_model_refuses_what_it_cannot_honour(tmp_path, head, extra, flag):
    result = runner.invoke(app, ["train", "--head", head, "--backbone", "hashing", "--data",
                                 missing(tmp_path), "--out", str(tmp_path / "m"), *extra])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: Invalid value for '{flag}': not read by --head {head} (structured training); "
        "leave it out"
    ]


def test_every_family_config_extends_the_shared_loop_options():
    from rewardlab.models.lm.transformer_config import TransformerTrainConfig
    from rewardlab.models.structured import STRUCTURED
    from rewardlab.models.training.config import LOOP_OPTION_NAMES, LoopOptions, TrainConfig

    SHARED_OPTIONS = LOOP_OPTION_NAMES
    configs = [TrainConfig, TransformerTrainConfig,
               *(STRUCTURED.get(name).options for name in STRUCTURED)]
    for config in configs:
        assert issubclass(config, LoopOptions), config
        assert set(SHARED_OPTIONS) <= {f.name for f in dataclasses.fields(config)}
    # the transformer trainer keeps its own defaults
    config = TransformerTrainConfig(model="m")
    assert (config.epochs, config.batch_size, config.lr, config.weight_decay) == (1, 8, None, 0.0)


def test_the_transformer_trainer_takes_the_shared_options(tmp_path, monkeypatch):
    import importlib

    from rewardlab.models.lm.transformer_config import TransformerTrainConfig

    train_verb = importlib.import_module("rewardlab.verbs.train")

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"q{i}", "chosen": f"good answer {i}",
                                        "rejected": f"bad {i}"}) + "\n" for i in range(10)))
    seen = []

    def fake_fine_tune(spec, config, *_args):
        seen.append(config)
        raise SystemExit(0)

    monkeypatch.setitem(train_verb._FITS, "transformer", fake_fine_tune)
    base = ["train", "--backbone", "transformer:some/model", "--data", str(data)]
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "a"), "--epochs", "3",
                                 "--lr", "0.01", "--batch-size", "4", "--seed", "5"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*base, "--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    given, default = seen
    assert (given.model, given.epochs, given.lr, given.batch_size, given.seed) == (
        "some/model", 3, 0.01, 4, 5)
    defaults = TransformerTrainConfig(model="some/model")
    assert (default.epochs, default.lr, default.batch_size, default.seed) == (
        defaults.epochs, defaults.lr, defaults.batch_size, defaults.seed)


def test_help_lists_what_the_registries_hold(monkeypatch):
    from rewardlab.models.heads import HEADS
    from rewardlab.models.losses import LOSSES
    from rewardlab.models.structured import STRUCTURED
    from rewardlab.robust.aggregate import AGGREGATIONS

    command = COMMANDS[("train",)]
    expand_help(command.params)
    train = "\n".join(param.help or "" for param in command.params)
    for name in [*LOSSES.names(), *HEADS.names(), *STRUCTURED.names()]:
        assert name in train
    assert f"bt ({LOSSES.get('bt').summary.split(' (')[0]})" in train
    # the committed reference words them generically, so registering one keeps it current
    reference = "\n".join(render_command(("train",), command))
    loss_row = next(line for line in reference.splitlines() if line.startswith("| `--loss`"))
    assert "any registered loss" in loss_row and "plackett-luce" not in loss_row
    # a newly registered component appears without editing any help text
    monkeypatch.setitem(AGGREGATIONS._items, "new-reading", AGGREGATIONS.get("mean"))
    assert "new-reading" in fill_placeholders("{aggregations}")
    assert fill_placeholders("uses {score} and {prompt}") == "uses {score} and {prompt}"


def test_eval_has_two_prmbench_names(tmp_path):
    from rewardlab.verbs.evaluate import load_records

    row = {"idx": 1, "original_question": "q", "modified_question": "q",
           "original_process": ["a", "b"], "modified_process": ["a", "c"],
           "error_steps": [2], "classification": "counterfactual"}
    path = tmp_path / "prmbench.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (pair,) = load_records(str(path), "prmbench")  # the data-format loader, as in train
    assert pair.step_labels is not None and pair.ranking == (0, 1)
    (group,) = load_records(str(path), "prmbench-groups")  # one-to-many groups
    assert group.responses == ("a\nb", "a\nc") and group.ranking == (0,)


def test_no_command_module_imports_another():
    for module in CLI.glob("*_cmd.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        others = {name for name in imported
                  if name.startswith("rewardlab.cli.") and name.endswith("_cmd")}
        assert not others, f"{module.name} imports {others}"
