"""Bad-input suite, part 3: bad option values for every command, and bad recipe files.

Generated from the live CLI: every number option of every command given NaN, ±Inf (and,
for integers, a value below its minimum and text that is no integer), every seed given a
negative or too large value; then a table of bad names, JSON and combinations
(:data:`OTHER`), and corrupt recipe files for every command taking ``--rewards``
(:data:`RECIPES`). Each must be ``refused`` (:mod:`bad_input_kit`), naming the option
(or the recipe file and key).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from safetensors.torch import load_file, save_file

from bad_input_kit import check, pairs_rows, plant, pool_rows, runner, write_jsonl
from rewardlab.cli.main import app
from test_bad_input_suite import tiny_model
from tiny_hf import save_causal_lm, save_encoder_rm


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("options")
    made = {
        "one": tiny_model(root / "one", 1), "three": tiny_model(root / "three", 3),
        "pairs": write_jsonl(root / "pairs.jsonl", pairs_rows()),
        "pool": write_jsonl(root / "pool.jsonl", [dict(r, answer="4") for r in pool_rows()]),
    }
    result = runner.invoke(app, ["train", "--data", str(made["pairs"]), "--backbone", "hashing",
                                 "--head", "gpm", "--out", str(root / "gpm")])
    assert result.exit_code == 0, result.output
    made["gpm"] = root / "gpm"
    made["hf"] = save_encoder_rm(root / "hf")
    made["causal"] = save_causal_lm(root / "causal")
    made["hf_nan"] = shutil.copytree(made["hf"], root / "hf-nan")
    tensors = load_file(made["hf_nan"] / "model.safetensors")
    save_file({k: v.fill_(float("nan")) for k, v in tensors.items()},
              made["hf_nan"] / "model.safetensors", metadata={"format": "pt"})
    made["hf_notok"] = shutil.copytree(made["hf"], root / "hf-notok")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (made["hf_notok"] / name).unlink()
    (root / "not-utf8.txt").write_bytes(b"{prompt} \xff {response}")
    (root / "no-placeholder.txt").write_text("rate {prompt}")
    made.update({"not_utf8": root / "not-utf8.txt", "no_placeholder": root / "no-placeholder.txt"})
    return made


@pytest.fixture(autouse=True)
def no_server(monkeypatch):
    monkeypatch.setattr("rewardlab.serve.runner.run_server", lambda *args, **kwargs: None)


# a valid command line of every command, given the fixtures and the output folder
BASE: dict[str, Callable[[dict, Path], list]] = {
    "train": lambda f, o: ["train", "--data", f["pairs"], "--backbone", "hashing",
                           "--out", o / "model"],
    "eval": lambda f, o: ["eval", "--model", f["one"], "--data", f["pairs"], "--out", o / "r.json"],
    "compare": lambda f, o: ["compare", "--model", f"{f['one']},{f['three']}", "--data",
                             f["pairs"], "--out", o / "c.json"],
    "score": lambda f, o: ["score", "--model", f["one"], "--data", f["pool"], "--out", o / "s.jsonl"],
    "bon": lambda f, o: ["bon", "--scores-column", "s", "--data", f["pool"], "--out", o / "b.json"],
    "build sft": lambda f, o: ["build", "sft", "--scores-column", "s", "--data", f["pool"],
                               "--out", o / "sft.jsonl"],
    "build pairs": lambda f, o: ["build", "pairs", "--scores-column", "s", "--data", f["pool"],
                                 "--out", o / "p.jsonl"],
    "data strength": lambda f, o: ["data", "strength", "--model", f["three"], "--data",
                                   f["pairs"], "--out", o / "a.jsonl"],
    "data digits": lambda f, o: ["data", "digits", "--out", o / "digits", "--task", "noise",
                                 "--n-pairs", "4", "--test-pairs", "2"],
    "lab overopt": lambda f, o: ["lab", "overopt", "--out", o / "lab"],
    "lab weak-to-strong": lambda f, o: ["lab", "weak-to-strong", "--out", o / "w.json"],
    "lab constrained": lambda f, o: ["lab", "constrained", "--out", o / "c.json"],
    "lab agent": lambda f, o: ["lab", "agent", "--out", o / "agent"],
    "lab agent-overopt": lambda f, o: ["lab", "agent-overopt", "--out", o / "overopt"],
    "lab diffusion": lambda f, o: ["lab", "diffusion", "--out", o / "diffusion"],
    "demo": lambda f, o: ["demo", "--out", o / "demo", "--backbone", "hashing"],
    "serve": lambda f, o: ["serve", "--model", f["one"], "--port", "0"],
    "forecast": lambda f, o: ["forecast", "--scores-column", "s", "--data", f["pool"],
                              "--gold-column", "gold", "--gold-budget", "3", "--out", o / "f.json"],
}


def live_commands() -> dict[str, list]:
    """``{"build sft": [option, …]}`` for every command of the live CLI."""
    found: dict[str, list] = {}

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = [p for p in command.params if p.opts[0].startswith("--")]

    walk(typer.main.get_command(app), [])
    return found


def number_cases() -> list:
    cases = []
    for command, params in live_commands().items():
        for param in params:
            kind = str(param.type_descriptor.annotation)
            option = param.opts[0]
            if "float" in kind:
                values = ["nan", "inf", "-inf"]
            elif "int" in kind:
                values = ["x", "1.5"]
                if param.min is not None:
                    values.append(str(param.min - 1))
                if option == "--seed":
                    values += [v for v in ("-1", str(2**32)) if v not in values]
            else:
                continue
            cases += [pytest.param(command, [option, value], 2, (option,),
                                   id=f"{command}{option}={value}") for value in values]
    return cases


def test_every_command_has_a_base_line():
    assert set(live_commands()) == set(BASE)


# (command, extra options, exit code, texts the error names)
OTHER = [
    ("train", ["--format", "nope"], 2, ("--format",)),
    ("train", ["--head", "nope"], 2, ("--head",)),
    ("train", ["--loss", "bt2"], 2, ("--loss",)),
    ("train", ["--backbone", "nope"], 2, ("--backbone",)),
    ("train", ["--backbone", "hashing,nope"], 2, ("--backbone",)),
    ("train", ["--backbone", ""], 2, ("--backbone", "at least one")),
    ("demo", ["--backbone", ","], 2, ("--backbone", "one backbone")),
    ("train", ["--l2", "inf"], 2, ("--l2",)),
    ("train", ["--l2", "-1"], 2, ("--l2",)),
    ("train", ["--l2", "x"], 2, ("--l2",)),
    ("train", ["--head-params", "{not json"], 2, ("--head-params",)),
    ("train", ["--head-params", "[1, 2]"], 2, ("--head-params",)),
    ("train", ["--head-params", '{"nope": 1}'], 2, ("--head-params",)),
    ("train", ["--head-params", '{"dropout": NaN}'], 2, ("--head-params",)),
    ("train", ["--head-params", '{"dropout": 1e999}'], 2, ("--head-params",)),
    ("train", ["--head-params", '{"dropout": 2}'], 2, ("--head-params",)),
    ("train", ["--head", "mlp", "--head-params", '{"hidden": 0}'], 2, ("--head-params",)),
    ("train", ["--head", "mlp", "--head-params", '{"hidden": "wide"}'], 2, ("--head-params",)),
    ("train", ["--loss-params", '{"nope": 1}'], 2, ("--loss-params",)),
    ("train", ["--loss-params", '{"use_margin": "yes"}'], 2, ("--loss-params",)),
    ("train", ["--loss", "label-smoothing", "--loss-params", '{"alpha": "x"}'], 2,
     ("--loss-params",)),
    ("train", ["--loss-params", '{"alpha": Infinity}'], 2, ("--loss-params",)),
    ("train", ["--init-from", "absent-model"], 1, ("absent-model",)),
    ("train", ["--ensemble", "3", "--init-from", "@one"], 1, ("--init-from", "backbone")),
    ("train", ["--head", "gpm", "--head-params", '{"nope": 1}'], 2, ("nope",)),
    ("train", ["--int8"], 2, ("--int8",)),
    ("eval", ["--suite", "nope"], 2, ("--suite",)),
    ("eval", ["--probes", "length,nope"], 2, ("--probes",)),
    ("eval", ["--format", "nope"], 2, ("--format",)),
    ("eval", ["--aggregate", "nope"], 2, ("--aggregate",)),
    ("eval", ["--dtype", "fp8"], 2, ("--dtype",)),
    ("eval", ["--device", "bogus"], 2, ("--device",)),
    ("eval", ["--device", "cuda:7"], 2, ("--device",)),
    ("eval", ["--device", "meta"], 2, ("--device",)),
    ("eval", ["--device", "cpu"], 2, ("--device", "not read by --model")),
    ("eval", ["--weights", "1"], 2, ("--weights", "not read by --model")),
    ("eval", ["--judge-rating", "yes-no"], 2, ("--judge-rating", "not read by --model")),
    ("score", ["--weights", "nan"], 2, ("--weights",)),
    ("score", ["--weights", "inf,1"], 2, ("--weights",)),
    ("score", ["--weights", "0,0"], 2, ("--weights",)),
    ("score", ["--weights", "a,b"], 2, ("--weights",)),
    ("score", ["--device", "bogus"], 2, ("--device",)),
    ("score", ["--dtype", "int8"], 2, ("--dtype",)),
    ("score", ["--aggregate", "nope"], 2, ("--aggregate",)),
    ("score", ["--rewards", "math"], 2, ("--model", "--rewards")),
    ("score", ["--model", "@gpm"], 1, ("--model", "preference model")),
    ("score", ["--model", "@one,@gpm"], 1, ("--model", "gpm", "preference model")),
    ("compare", ["--model", "@gpm,@one"], 1, ("--model", "gpm", "preference model")),
    ("data strength", ["--model", "@one"], 1, ("--model", "one member")),
    ("data strength", ["--model", "@gpm"], 1, ("--model", "two or more")),
    ("compare", ["--device", "cuda:0"], 2, ("--device",)),
    ("score", ["--model", "@hf", "--max-length", "5000"], 2, ("--max-length", "512")),
    ("score", ["--model", "judge:@causal", "--judge-rating-template", "@not_utf8"], 1,
     ("not-utf8.txt", "UTF-8")),
    ("score", ["--model", "judge:@causal", "--judge-rating-template", "@no_placeholder"], 1,
     ("no-placeholder.txt", "{response}")),
    ("score", ["--model", "judge:@causal", "--judge-rating-template", "absent.txt"], 1,
     ("absent.txt",)),
    ("score", ["--model", "judge:@causal", "--judge-pairwise-template", "absent.txt"], 2,
     ("--judge-pairwise-template", "as score reads it")),  # score rates, never compares
    ("score", ["--model", "@hf,@one", "--judge-rating", "yes-no"], 2,
     ("--judge-rating", "a Hugging Face classifier, a rewardlab model")),
    ("train", ["--data", "hf:rewardlab-tests/no-such-dataset"], 1, ("no-such-dataset",)),
    ("train", ["--backbone", "encoder:@hf_nan"], 1, ("hf-nan", "NaN")),
    ("train", ["--backbone", "encoder:@hf_notok"], 1, ("hf-notok", "tokenizer")),
    ("train", ["--backbone", "transformer:@hf_nan"], 1, ("hf-nan", "NaN")),
    ("train", ["--backbone", "transformer:@hf_notok"], 1, ("hf-notok", "tokenizer")),
    ("train", ["--backbone", "hashing,encoder:@hf_nan"], 1, ("hf-nan", "NaN")),
    ("train", ["--test-fraction", "0.9", "--val-fraction", "0.9"], 1, ("--test-fraction",)),
    ("demo", ["--n-prompts", "2", "--n-pairs", "2"], 1, ("n_prompts", "n_pairs")),
    ("compare", ["--format", "nope"], 2, ("--format",)),
    ("bon", ["--n", "0"], 2, ("--n",)),
    ("bon", ["--n", "1,x"], 2, ("--n",)),
    ("bon", ["--n", ""], 2, ("--n",)),
    ("bon", ["--model", "@one"], 2, ("--model", "--scores-column")),
    ("bon", ["--aggregate", "mean"], 2, ("--aggregate",)),
    ("bon", ["--gold-column", "nope"], 1, ("nope",)),
    ("bon", ["--reference-column", "answer"], 2, ("--reference-column",)),
    ("build sft", ["--method", "nope"], 2, ("--method",)),
    ("build sft", ["--method", "best-worst"], 2, ("--method",)),
    ("build sft", ["--method", "top1", "--k", "3"], 2, ("--k",)),
    ("build sft", ["--method", "sample", "--temperature", "0"], 2, ("--temperature",)),
    ("build sft", ["--method", "sample", "--temperature", "-1"], 2, ("--temperature",)),
    ("build sft", ["--method", "filtration", "--strategy", "nope"], 2, ("--strategy",)),
    ("build sft", ["--method", "tags", "--temperature", "2"], 2, ("--temperature",)),
    ("build sft", ["--scores-column", "nope"], 1, ("nope",)),
    # an option the chosen method does not read (issue 23 item 12, issue 25): refused, named
    ("build sft", ["--method", "top1", "--k", "3", "--temperature", "9"], 2,
     ("--k", "--temperature")),
    ("build sft", ["--method", "tags", "--conversational"], 2, ("--conversational",)),
    ("build sft", ["--method", "tags", "--threshold", "0", "--quantile", "0.5"], 2,
     ("--quantile", "--threshold")),
    ("build sft", ["--method", "filtration", "--seed", "3"], 2, ("--seed", "best-worst")),
    ("build pairs", ["--method", "best-worst", "--pairs-per-prompt", "7"], 2,
     ("--pairs-per-prompt",)),
    ("bon", ["--batch-size", "3"], 2, ("--batch-size", "--scores-column")),
    ("build pairs", ["--method", "tags"], 2, ("--method",)),
    ("build pairs", ["--method", "reward-augmented", "--template", "{prompt.__class__} {score}"],
     2, ("--template",)),
    ("build pairs", ["--method", "reward-augmented", "--template", "{prompt} {score:>99999}"],
     2, ("--template",)),
    ("build pairs", ["--method", "reward-augmented", "--template", "{prompt} {other} {score}"],
     2, ("--template",)),
    ("build pairs", ["--method", "reward-augmented", "--template", "{prompt} {score"], 2,
     ("--template",)),
    ("build pairs", ["--method", "reward-augmented", "--template", "{} {prompt} {score}"], 2,
     ("--template",)),
    ("build pairs", ["--method", "reward-augmented", "--template", "only {prompt}"], 2,
     ("--template",)),
    ("build pairs", ["--method", "reward-augmented", "--template", "{prompt!r} {score}"], 2,
     ("--template",)),
    ("build pairs", ["--method", "best-worst", "--template", "{score} {prompt}"], 2,
     ("--template",)),
    ("build pairs", ["--method", "best-worst", "--pairs-per-prompt", "2"], 2,
     ("--pairs-per-prompt",)),
    ("data strength", ["--flip-lowest", "0.1", "--drop-lowest", "0.1"], 2, ("--flip-lowest",)),
    ("data strength", ["--format", "nope"], 2, ("--format",)),
    ("data strength", ["--device", "cpu"], 2, ("--device", "not read by --model")),
    ("lab overopt", ["--optimizer", "nope"], 2, ("--optimizer",)),
    ("lab overopt", ["--pool", "nope"], 2, ("--pool",)),
    ("lab overopt", ["--backbone", "nope"], 2, ("--backbone",)),
    ("lab overopt", ["--label-noise", "nan"], 2, ("--label-noise",)),
    ("lab overopt", ["--label-noise", "0.1,inf"], 2, ("--label-noise",)),
    ("lab overopt", ["--proxy-sizes", "1e9999"], 2, ("--proxy-sizes",)),
    ("lab overopt", ["--n", "1,nan"], 2, ("--n",)),
    ("lab weak-to-strong", ["--weak", "nope"], 2, ("--weak",)),
    ("lab weak-to-strong", ["--strong", "hashing,nope:x"], 2, ("--strong",)),
    ("lab weak-to-strong", ["--label-noise", "nan"], 2, ("--label-noise",)),
    ("lab constrained", ["--label-noise", "-inf"], 2, ("--label-noise",)),
    ("lab agent", ["--queries", "nope"], 2, ("--queries",)),
    ("lab agent", ["--algorithm", "nope"], 2, ("--algorithm",)),
    ("lab agent", ["--noise", "1.5"], 2, ("--noise",)),
    ("lab agent", ["--seed", "4294967295", "--seeds", "2"], 2, ("--seeds",)),
    ("lab agent", ["--env", "NoSuchEnv-v0"], 1, ("NoSuchEnv-v0",)),
    ("lab agent", ["--labels", "@pairs"], 1, ("pairs.jsonl", "expected a .npz or .parquet file")),
    ("demo", ["--backbone", "nope"], 2, ("--backbone",)),
    ("serve", ["--port", "70000"], 2, ("port",)),
    ("serve", ["--max-batch", "0"], 2, ("max_batch",)),
    ("serve", ["--max-items", "0"], 2, ("max_items",)),
    ("serve", ["--max-chars", "-5"], 2, ("max_chars",)),
    ("serve", ["--max-body-bytes", "0"], 2, ("max_body_bytes",)),
    ("serve", ["--max-json-depth", "0"], 2, ("max_json_depth",)),
    ("serve", ["--drift-bins", "1"], 2, ("drift_bins",)),
    ("serve", ["--max-wait-ms", "-1"], 2, ("max_wait_ms",)),
    ("serve", ["--api-key-env", "REWARDLAB_TEST_NO_SUCH_VARIABLE"], 2, ("--api-key-env",)),
    ("serve", ["--device", "bogus"], 2, ("--device",)),
    ("serve", ["--weights", "1"], 2, ("--weights", "not read by --model")),
    ("serve", ["--rewards", "math"], 2, ("--model",)),
]


def resolve(value: str, fixtures: dict) -> str:
    """``value`` with every ``@name`` replaced by the fixture's path."""
    return re.sub(r"@(\w+)", lambda match: str(fixtures[match[1]]), value)


def run_option_case(tmp_path: Path, fixtures: dict, command: str, extra: list, code: int,
                    named: tuple) -> None:
    out = tmp_path / "out"
    keep = plant(out)
    args = [*BASE[command](fixtures, out), *(resolve(v, fixtures) for v in extra)]
    check(tmp_path, args, code, named, " ".join(extra), command, [keep])


@pytest.mark.parametrize(("command", "extra", "code", "named"), number_cases())
def test_bad_number(tmp_path, fixtures, command, extra, code, named):
    run_option_case(tmp_path, fixtures, command, extra, code, named)


@pytest.mark.parametrize(("command", "extra", "code", "named"), [
    pytest.param(*case, id=f"{case[0]} {' '.join(case[1])}") for case in OTHER])
def test_bad_option(tmp_path, fixtures, command, extra, code, named):
    run_option_case(tmp_path, fixtures, command, extra, code, named)


# --- recipe files (--rewards) -------------------------------------------------------------

GOOD = "components:\n  ok: {verifier: math}\n"
RECIPES = {
    "not-yaml": ("r.yaml", "components: [unclosed\n", ("r.yaml", "YAML")),
    "empty": ("r.yaml", "", ("r.yaml",)),
    "not-a-mapping": ("r.yaml", "- a\n- b\n", ("r.yaml", "mapping")),
    "no-components": ("r.yaml", "combine: {method: weighted_sum}\n", ("r.yaml", "components")),
    "unknown-verifier": ("r.yaml", "components:\n  a: {verifier: maths}\n",
                         ("components.a.verifier", "maths")),
    "unknown-key": ("r.yaml", "components:\n  a: {verifier: math, wieght: 2}\n",
                    ("components.a.wieght",)),
    "weight-nan": ("r.yaml", GOOD + "combine:\n  weights: {ok: .nan}\n", ("combine.weights.ok",)),
    "weight-inf": ("r.yaml", GOOD + "combine:\n  weights: {ok: .inf}\n", ("combine.weights.ok",)),
    "weight-text": ("r.yaml", GOOD + "combine:\n  weights: {ok: heavy}\n",
                    ("combine.weights.ok",)),
    "weight-unknown-component": ("r.yaml", GOOD + "combine:\n  weights: {nope: 1e-3}\n",
                                 ("combine.weights.nope",)),
    "unknown-method": ("r.yaml", GOOD + "combine: {method: multiply}\n", ("combine.method",)),
    "gate-without-reward": ("r.yaml", GOOD + "combine: {method: gate, gate: ok}\n",
                            ("combine.reward",)),
    "model-missing": ("r.yaml", "components:\n  rm: {model: absent-model}\n",
                      ("components.rm.model",)),
    "both-verifier-and-model": ("r.yaml", "components:\n  a: {verifier: math, model: x}\n",
                                ("components.a",)),
    "unknown-aggregation": ("r.yaml", "components:\n  rm: {model: ../rm, aggregate: nope}\n",
                            ("components.rm.aggregate", "nope")),
    "threshold-nan": ("r.yaml", GOOD + "combine: {method: constrained, thresholds: {ok: .nan}}\n",
                      ("combine.thresholds.ok",)),
    "bad-verifier-parameter": ("r.yaml", "components:\n  a: {verifier: math, params: {nope: 1}}\n",
                               ("components.a", "nope")),
    "json-nan": ("r.json", '{"components": {"ok": {"verifier": "math"}}, "combine": '
                 '{"weights": {"ok": NaN}}}', ("combine.weights.ok",)),
    "json-malformed": ("r.json", '{"components": ', ("r.json",)),
    "missing-file": ("absent.yaml", None, ("absent.yaml",)),
}
REWARDS_COMMANDS = {
    "score": lambda f, r, o: ["score", "--rewards", r, "--reference-column", "answer",
                              "--data", f["pool"], "--out", o / "s.jsonl"],
    "bon": lambda f, r, o: ["bon", "--rewards", r, "--reference-column", "answer",
                            "--data", f["pool"], "--out", o / "b.json"],
    "build sft": lambda f, r, o: ["build", "sft", "--rewards", r, "--reference-column", "answer",
                                  "--data", f["pool"], "--out", o / "s.jsonl"],
    "build pairs": lambda f, r, o: ["build", "pairs", "--rewards", r, "--reference-column",
                                    "answer", "--data", f["pool"], "--out", o / "p.jsonl"],
    "serve": lambda f, r, o: ["serve", "--rewards", r, "--port", "0"],
}


@pytest.mark.parametrize("case", list(RECIPES))
@pytest.mark.parametrize("command", list(REWARDS_COMMANDS))
def test_bad_recipe(tmp_path, fixtures, command, case):
    name, content, named = RECIPES[case]
    recipe = tmp_path / "in" / name
    recipe.parent.mkdir()
    shutil.copytree(fixtures["three"], tmp_path / "rm")  # ../rm from the recipe's folder
    if content is not None:
        recipe.write_text(content)
    out = tmp_path / "out"
    keep = plant(out)
    check(tmp_path, REWARDS_COMMANDS[command](fixtures, recipe, out), 1, named, case, command,
          [keep])
