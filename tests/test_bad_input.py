"""Bad input to every command: one ``error:`` line naming the file, line and field (or the
option), the right exit code, no traceback, and no output left behind.

Three families, each crossed with every command that could meet it:

- bad data files (malformed JSON, bytes that are not UTF-8, truncated and non-gzip
  ``.gz``, nesting too deep, records over the limits, a line that is not an object,
  a broken CSV or Parquet file, a missing file, an unknown extension);
- bad saved models (malformed or mistyped ``config.json``, broken safetensors,
  tensors that do not fit the config, a folder that is not a model);
- bad options (out of range, ignored by the chosen model, refused combinations).

Exit codes: 1 bad input, 2 bad option (click's usage error).
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.features.hashing import HashingBackbone
from rewardlab.models.heads import HEADS
from rewardlab.models.io import save_model
from rewardlab.models.normalizer import Normalizer
from rewardlab.models.reward_model import TrainedRewardModel

runner = CliRunner()

PAIR = {"prompt": "What is 2+2?", "chosen": "It is 4.", "rejected": "It is 5."}
POOL = {"prompt": "What is 2+2?", "response": "It is 4.", "s": 1.0, "gold": 1.0}


def tiny_model(n_members: int) -> TrainedRewardModel:
    backbone = HashingBackbone(8)
    config = {
        "feature_dim": backbone.dim, "n_members": n_members,
        "head": {"name": "linear", "params": {}}, "backbone": backbone.config(),
    }
    return TrainedRewardModel(
        backbone, Normalizer(backbone.dim), HEADS.get("linear")(backbone.dim, n_members), config
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """A good single model, a good 3-member ensemble, and broken copies of the first."""
    root = tmp_path_factory.mktemp("models")
    good = save_model(tiny_model(1), root / "good")
    made = {"good": good, "ensemble": save_model(tiny_model(3), root / "ensemble")}

    def broken(name: str, change: Callable[[Path], None]) -> None:
        target = root / name
        shutil.copytree(good, target)
        change(target)
        made[name] = target

    def edit_config(**fields) -> Callable[[Path], None]:
        def change(folder: Path) -> None:
            config = json.loads((folder / "config.json").read_text())
            config.update(fields)
            (folder / "config.json").write_text(json.dumps(config))

        return change

    broken("malformed-config", lambda f: (f / "config.json").write_text('{"format": \n'))
    broken("config-not-object", lambda f: (f / "config.json").write_text("[1, 2]"))
    broken("feature-dim-string", edit_config(feature_dim="33"))
    broken("head-not-object", edit_config(head="linear"))
    broken("wrong-format", edit_config(format="something-else"))
    broken("shape-mismatch", edit_config(feature_dim=7))
    broken("garbage-safetensors", lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 40))
    broken(
        "truncated-safetensors",
        lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:60]),
    )
    broken("no-safetensors", lambda f: (f / "model.safetensors").unlink())
    broken("gpm-without-options", lambda f: (f / "config.json").write_text(
        json.dumps({"format": "rewardlab-gpm"})))
    empty = root / "not-a-model"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    made["not-a-model"] = empty
    return made


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run_bad(
    tmp_path: Path, args: list, code: int, *expected: str
) -> str:
    """Invoke the CLI; check the exit code, one error line holding ``expected``, no
    traceback and no new file anywhere under ``tmp_path``. Returns the error line."""
    before = snapshot(tmp_path)
    result = runner.invoke(app, [str(a) for a in args])
    output = result.output
    assert "Traceback" not in output, output
    assert result.exit_code == code, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    assert not output.rstrip().endswith("Aborted!"), output
    for text in expected:
        assert text in errors[0], errors[0]
    assert snapshot(tmp_path) == before, errors[0]
    return errors[0]


# --- bad data files, for every command that reads one -------------------------------------

def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def deep(level: int) -> str:
    return "[" * level + "]" * level


FIRST = {"pairs": PAIR, "pool": POOL}


def data_case(name: str, first: dict, folder: Path) -> tuple[Path, list[str], list[str]]:
    """(file, global options, expected texts) of the bad data file ``name``."""
    good = json.dumps(first)
    prefix = folder / "in"
    if name == "malformed-json":
        return write(Path(f"{prefix}.jsonl"), f'{good}\n{{"prompt": \n'), [], [
            "in.jsonl:2:", "malformed JSON"]
    if name == "not-utf8":
        path = write(Path(f"{prefix}.jsonl"), good.encode() + b'\n{"prompt": "\xff\xfe"}\n')
        return path, [], ["in.jsonl:2:", f"byte offset {len(good) + 1 + 12}", "UTF-8"]
    if name == "truncated-gz":
        path = Path(f"{prefix}.jsonl.gz")
        data = gzip.compress(("\n".join([good] * 400) + "\n").encode())
        return write(path, data[: len(data) // 2]), [], ["in.jsonl.gz:", "gzip"]
    if name == "not-gzip":
        return write(Path(f"{prefix}.jsonl.gz"), good + "\n"), [], ["in.jsonl.gz:1:", "gzip"]
    if name == "too-deep":
        row = dict(first, extra=json.loads(deep(50)))
        return write(Path(f"{prefix}.jsonl"), f"{good}\n{json.dumps(row)}\n"), [
            "--max-depth", "20"], ["in.jsonl:2:", "field 'extra", "nesting", "--max-depth"]
    if name == "nesting-beyond-json":
        text = f'{good}\n{{"prompt": {deep(100_000)}}}\n'
        return write(Path(f"{prefix}.jsonl"), text), [], ["in.jsonl:2:", "nesting too deep"]
    if name == "text-too-long":
        row = dict(first, prompt="x" * 300)
        return write(Path(f"{prefix}.jsonl"), f"{good}\n{json.dumps(row)}\n"), [
            "--max-chars", "200"], ["in.jsonl:2:", "field 'prompt'", "300 characters", "200"]
    if name == "line-too-long":
        row = dict(first, prompt="x" * 3000)
        return write(Path(f"{prefix}.jsonl"), f"{good}\n{json.dumps(row)}\n"), [
            "--max-line-bytes", "1000", "--max-chars", "100000"], [
            "in.jsonl:2:", "bytes", "--max-line-bytes"]
    if name == "too-many-items":
        row = dict(first, extra=list(range(50)))
        return write(Path(f"{prefix}.jsonl"), f"{good}\n{json.dumps(row)}\n"), [
            "--max-items", "10"], ["in.jsonl:2:", "field 'extra'", "50 items"]
    if name == "not-an-object":
        return write(Path(f"{prefix}.jsonl"), f"{good}\n[1, 2]\n"), [], [
            "in.jsonl:2:", "expected a JSON object"]
    if name == "csv-extra-cells":
        header = ",".join(first)
        cells = ",".join(str(v) for v in first.values())
        return write(Path(f"{prefix}.csv"), f"{header}\n{cells}\n{cells},extra\n"), [], [
            "in.csv:3:", "cells"]
    if name == "json-not-a-list":
        return write(Path(f"{prefix}.json"), '{"items": []}'), [], ["in.json:", '"data"']
    if name == "bad-parquet":
        return write(Path(f"{prefix}.parquet"), b"PAR1 not really"), [], ["in.parquet", "Parquet"]
    if name == "unknown-extension":
        return write(Path(f"{prefix}.txt"), good), [], ["in.txt", "unsupported file type"]
    if name == "missing-file":
        return Path(f"{prefix}-absent.jsonl"), [], ["in-absent.jsonl", "no such file"]
    raise AssertionError(name)


DATA_CASES = [
    "malformed-json", "not-utf8", "truncated-gz", "not-gzip", "too-deep",
    "nesting-beyond-json", "text-too-long", "line-too-long", "too-many-items", "not-an-object",
    "csv-extra-cells", "json-not-a-list", "bad-parquet", "unknown-extension", "missing-file",
]

# command: (kind of rows it reads, args given the data file, the models and the output folder)
DATA_COMMANDS: dict[str, tuple[str, Callable[[Path, dict, Path], list]]] = {
    "train": ("pairs", lambda d, m, o: [
        "train", "--data", d, "--backbone", "hashing", "--out", o / "model"]),
    "eval": ("pairs", lambda d, m, o: [
        "eval", "--model", m["good"], "--data", d, "--out", o / "r.json"]),
    "compare": ("pairs", lambda d, m, o: [
        "compare", "--model", f"{m['good']},{m['ensemble']}", "--data", d, "--out", o / "c.json"]),
    "score": ("pool", lambda d, m, o: [
        "score", "--model", m["good"], "--data", d, "--out", o / "s.jsonl"]),
    "bon": ("pool", lambda d, m, o: [
        "bon", "--scores-column", "s", "--data", d, "--out", o / "b.json"]),
    "build-sft": ("pool", lambda d, m, o: [
        "build", "sft", "--scores-column", "s", "--data", d, "--out", o / "sft.jsonl"]),
    "build-pairs": ("pool", lambda d, m, o: [
        "build", "pairs", "--model", m["good"], "--data", d, "--out", o / "p.jsonl"]),
    "data-strength": ("pairs", lambda d, m, o: [
        "data", "strength", "--model", m["ensemble"], "--data", d, "--out", o / "a.jsonl"]),
}


@pytest.mark.parametrize("case", DATA_CASES)
@pytest.mark.parametrize("command", list(DATA_COMMANDS))
def test_bad_data_file(tmp_path, models, command, case):
    kind, build = DATA_COMMANDS[command]
    path, global_options, expected = data_case(case, FIRST[kind], tmp_path)
    run_bad(tmp_path, [*global_options, *build(path, models, tmp_path / "out")], 1, *expected)


# --- bad saved models, for every command that loads one ----------------------------------

MODEL_CASES = {
    "malformed-config": ["config.json:2:", "malformed JSON"],
    "config-not-object": ["config.json", "expected a JSON object"],
    "feature-dim-string": ["config.json", "field 'feature_dim'", "expected int"],
    "head-not-object": ["config.json", "field 'head'", "expected dict"],
    "wrong-format": ["config.json", "field 'format'"],
    "shape-mismatch": ["model.safetensors", "do not match config.json"],
    "garbage-safetensors": ["model.safetensors", "not a valid safetensors file"],
    "truncated-safetensors": ["model.safetensors", "not a valid safetensors file"],
    "no-safetensors": ["model.safetensors", "missing"],
    "gpm-without-options": ["gpm-without-options/config.json"],
    "not-a-model": ["not-a-model", "no config.json"],
}


def pairs_file(folder: Path) -> Path:
    return write(folder / "pairs.jsonl", "\n".join(json.dumps(PAIR) for _ in range(3)) + "\n")


def folder_with_a_file(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write(folder / "keep.txt", "mine")
    return folder


def pool_file(folder: Path) -> Path:
    rows = [dict(POOL, response=f"answer {i}", s=float(i)) for i in range(3)]
    return write(folder / "pool.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")


MODEL_COMMANDS: dict[str, Callable[[Path, dict, Path], list]] = {
    "eval": lambda m, ms, t: ["eval", "--model", m, "--data", pairs_file(t), "--out", t / "r.json"],
    "compare": lambda m, ms, t: [
        "compare", "--model", f"{ms['good']},{m}", "--data", pairs_file(t), "--out", t / "c.json"],
    "score": lambda m, ms, t: [
        "score", "--model", m, "--data", pool_file(t), "--out", t / "s.jsonl"],
    "bon": lambda m, ms, t: ["bon", "--model", m, "--data", pool_file(t), "--out", t / "b"],
    "build-sft": lambda m, ms, t: [
        "build", "sft", "--model", m, "--data", pool_file(t), "--out", t / "s.jsonl"],
    "data-strength": lambda m, ms, t: [
        "data", "strength", "--model", m, "--data", pairs_file(t), "--out", t / "a.jsonl"],
    "train-init-from": lambda m, ms, t: [
        "train", "--data", pairs_file(t), "--backbone", "hashing", "--init-from", m,
        "--out", t / "new-model"],
    "serve": lambda m, ms, t: ["serve", "--model", m, "--port", "0"],
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
@pytest.mark.parametrize("command", list(MODEL_COMMANDS))
def test_bad_saved_model(tmp_path, models, command, case):
    if command == "train-init-from" and case == "not-a-model":
        expected = ["not-a-model"]
    else:
        expected = MODEL_CASES[case]
    run_bad(tmp_path, MODEL_COMMANDS[command](models[case], models, tmp_path), 1, *expected)


# --- bad options --------------------------------------------------------------------------

def train_args(tmp_path: Path, *extra: str) -> list:
    return ["train", "--data", pairs_file(tmp_path), "--backbone", "hashing",
            "--out", tmp_path / "model", *extra]


TRAIN_OPTION_CASES = [
    # (extra options, exit code, texts the error names)
    (["--epochs", "0"], 2, "--epochs"),
    (["--epochs", "-1"], 2, "--epochs"),
    (["--batch-size", "0"], 2, "--batch-size"),
    (["--ensemble", "0"], 2, "--ensemble"),
    (["--lr", "0"], 2, "--lr"),
    (["--lr", "-0.1"], 2, "--lr"),
    (["--val-fraction", "1.5"], 2, "--val-fraction"),
    (["--test-fraction", "-0.1"], 2, "--test-fraction"),
    (["--lat-steps", "0"], 2, "--lat-steps"),
    (["--grad-penalty", "-1"], 2, "--grad-penalty"),
    (["--l2", "nan"], 2, "--l2"),
    (["--head-params", "{not json"], 2, "--head-params"),
    (["--head", "gpm", "--loss", "margin-bt"], 2, "--loss"),
    (["--head", "gpm", "--ensemble", "3"], 2, "--ensemble"),
    (["--head", "pal", "--l2", "0.1"], 2, "--l2"),
    (["--head", "dmoe", "--bootstrap"], 2, "--bootstrap"),
    (["--head", "prm", "--grad-penalty", "0.1"], 2, "--grad-penalty"),
    (["--head", "gpm", "--epochs", "3", "--head-params", '{"epochs": 2}'], 2, "--epochs"),
    (["--head", "mlp", "--lora"], 2, "--lora"),
    (["--max-length", "64"], 2, "--max-length"),
    (["--backbone", "hashing,hashing", "--grad-accum", "2"], 2, "--grad-accum"),
    (["--backbone", "transformer:absent", "--head", "mlp"], 2, "--head"),
    (["--backbone", "transformer:absent", "--l2", "0.1"], 2, "--l2"),
    (["--int8"], 2, "--int8"),
]


@pytest.mark.parametrize(("extra", "code", "named"), TRAIN_OPTION_CASES)
def test_bad_train_option(tmp_path, extra, code, named):
    run_bad(tmp_path, train_args(tmp_path, *extra), code, named)


def test_train_head_options_are_refused_before_the_data_is_read(tmp_path, models):
    args = ["train", "--data", tmp_path / "absent.jsonl", "--backbone", "hashing",
            "--head", "dmoe", "--init-from", models["good"], "--out", tmp_path / "m"]
    run_bad(tmp_path, args, 2, "--init-from", "--head dmoe")


def test_out_refuses_a_folder_that_is_not_a_model(tmp_path):
    out = tmp_path / "work"
    out.mkdir()
    (out / "keep").write_text("x")
    line = run_bad(tmp_path, [*train_args(tmp_path)[:-2], "--out", out], 1, "--out", "--overwrite")
    assert "work" in line
    assert (out / "keep").read_text() == "x"


def test_out_refuses_the_current_folder(tmp_path, monkeypatch):
    (tmp_path / "keep").write_text("x")
    monkeypatch.chdir(tmp_path)
    args = [*train_args(tmp_path)[:-2], "--out", ".", "--overwrite"]
    run_bad(tmp_path, args, 1, "--out", "current folder")
    assert (tmp_path / "keep").read_text() == "x"


def test_out_refuses_a_file_and_a_path_under_a_file(tmp_path):
    base = train_args(tmp_path)[:-2]
    run_bad(tmp_path, [*base, "--out", tmp_path / "pairs.jsonl"], 1, "--out", "is a file")
    run_bad(tmp_path, [*base, "--out", tmp_path / "pairs.jsonl" / "m"], 1, "--out", "cannot create")


OTHER_OPTION_CASES: list[tuple[str, Callable[[Path, dict], list], int, tuple[str, ...]]] = [
    ("bon-n-zero", lambda t, m: [
        "bon", "--scores-column", "s", "--data", pool_file(t), "--out", t / "b.json",
        "--n", "0"], 2, ("--n",)),
    ("bon-n-text", lambda t, m: [
        "bon", "--scores-column", "s", "--data", pool_file(t), "--out", t / "b.json",
        "--n", "1,x"], 2, ("--n",)),
    ("bon-model-and-column", lambda t, m: [
        "bon", "--model", m["good"], "--scores-column", "s", "--data", pool_file(t),
        "--out", t / "b.json"], 2, ("--model", "--scores-column")),
    ("bon-missing-column", lambda t, m: [
        "bon", "--scores-column", "nope", "--data", pool_file(t), "--out", t / "b.json"],
        1, ("pool.jsonl:1", "nope")),
    ("bon-batch-size", lambda t, m: [
        "bon", "--model", m["good"], "--data", pool_file(t), "--out", t / "b.json",
        "--batch-size", "0"], 2, ("--batch-size",)),
    ("sft-unknown-method", lambda t, m: [
        "build", "sft", "--method", "nope", "--scores-column", "s", "--data",
        pool_file(t), "--out", t / "s.jsonl"], 2, ("--method", "nope")),
    ("sft-method-of-pairs", lambda t, m: [
        "build", "sft", "--method", "best-worst", "--scores-column", "s", "--data",
        pool_file(t), "--out", t / "s.jsonl"], 2, ("--method", "build pairs")),
    ("sft-k-zero", lambda t, m: [
        "build", "sft", "--method", "topk", "--k", "0", "--scores-column", "s",
        "--data", pool_file(t), "--out", t / "s.jsonl"], 2, ("--k",)),
    ("sft-quantile", lambda t, m: [
        "build", "sft", "--quantile", "1.5", "--scores-column", "s",
        "--data", pool_file(t), "--out", t / "s.jsonl"], 2, ("--quantile",)),
    ("pairs-per-prompt", lambda t, m: [
        "build", "pairs", "--pairs-per-prompt", "0", "--scores-column", "s",
        "--data", pool_file(t), "--out", t / "p.jsonl"], 2, ("--pairs-per-prompt",)),
    ("strength-flip-range", lambda t, m: [
        "data", "strength", "--model", m["ensemble"], "--data", pairs_file(t),
        "--out", t / "a.jsonl", "--flip-lowest", "2"], 2, ("--flip-lowest",)),
    ("strength-flip-and-drop", lambda t, m: [
        "data", "strength", "--model", m["ensemble"], "--data", pairs_file(t),
        "--out", t / "a.jsonl", "--flip-lowest", "0.1", "--drop-lowest", "0.1"], 2,
        ("--flip-lowest", "--drop-lowest")),
    ("strength-not-pairs", lambda t, m: [
        "data", "strength", "--model", m["ensemble"], "--data", pool_file(t),
        "--out", t / "a.jsonl"], 1, ("pool.jsonl:1", "field 'ranking'")),
    ("strength-empty", lambda t, m: [
        "data", "strength", "--model", m["ensemble"], "--data", write(t / "e.jsonl", ""),
        "--out", t / "a.jsonl"], 1, ("e.jsonl",)),
    ("score-empty", lambda t, m: [
        "score", "--model", m["good"], "--data", write(t / "e.jsonl", "\n"),
        "--out", t / "s.jsonl"], 1, ("e.jsonl", "no rows")),
    ("score-missing-response", lambda t, m: [
        "score", "--model", m["good"], "--data", write(t / "x.jsonl", '{"prompt": "a"}\n'),
        "--out", t / "s.jsonl"], 1, ("x.jsonl:1", "field 'response'")),
    ("score-response-number", lambda t, m: [
        "score", "--model", m["good"],
        "--data", write(t / "x.jsonl", '{"prompt": "a", "response": "b"}\n{"prompt": "a", '
                                        '"response": 3}\n'),
        "--out", t / "s.jsonl"], 1, ("x.jsonl:2", "field 'response'")),
    ("score-output-is-a-folder", lambda t, m: [
        "score", "--model", m["good"], "--data", pool_file(t), "--out", m["not-a-model"]],
        1, ("not-a-model", "cannot write")),
    ("score-output-under-a-file", lambda t, m: [
        "score", "--model", m["good"], "--data", pool_file(t),
        "--out", t / "pool.jsonl" / "s.jsonl"], 1, ("s.jsonl", "cannot write")),
    ("score-unknown-aggregate", lambda t, m: [
        "score", "--model", m["ensemble"], "--data", pool_file(t), "--out", t / "s.jsonl",
        "--aggregate", "nope"], 2, ("--aggregate", "nope")),
    ("eval-unknown-probe", lambda t, m: [
        "eval", "--model", m["good"], "--data", pairs_file(t), "--out", t / "r.json",
        "--probes", "nope"], 2, ("--probes", "nope")),
    ("eval-attack-budget", lambda t, m: [
        "eval", "--model", m["good"], "--data", pairs_file(t), "--out", t / "r.json",
        "--attack-budget", "0"], 2, ("--attack-budget",)),
    ("eval-unknown-format", lambda t, m: [
        "eval", "--model", m["good"], "--data", pairs_file(t), "--out", t / "r.json",
        "--format", "nope"], 2, ("--format", "nope")),
    ("eval-output-under-a-file", lambda t, m: [
        "eval", "--model", m["good"], "--data", pairs_file(t),
        "--out", t / "pairs.jsonl" / "r.json"], 1, ("r.json", "cannot write")),
    ("compare-one-model", lambda t, m: [
        "compare", "--model", str(m["good"]), "--data", pairs_file(t), "--out", t / "c.json"],
        2, ("--model",)),
    ("demo-label-noise", lambda t, m: [
        "demo", "--out", t / "demo", "--backbone", "hashing", "--label-noise", "2"],
        2, ("--label-noise",)),
    ("demo-out-not-a-model", lambda t, m: [
        "demo", "--out", folder_with_a_file(t / "demo" / "model").parent, "--backbone",
        "hashing"], 1, ("--out", "model", "--overwrite")),
    ("serve-no-folder", lambda t, m: ["serve", "--model", t / "absent"], 2, ("--model",)),
    ("serve-bad-port", lambda t, m: ["serve", "--model", m["good"], "--port", "70000"],
        2, ("port",)),
    ("global-max-chars", lambda t, m: [
        "--max-chars", "0", "score", "--model", m["good"], "--data", pool_file(t),
        "--out", t / "s.jsonl"], 2, ("--max-chars",)),
    ("unknown-command", lambda t, m: ["nope"], 2, ("nope",)),
    ("missing-option", lambda t, m: ["score", "--model", m["good"]], 2, ("--data",)),
    ("lab-overopt-noise", lambda t, m: [
        "lab", "overopt", "--out", t / "lab", "--label-noise", "x"], 2, ("--label-noise",)),
]


@pytest.mark.parametrize(("name", "build", "code", "named"), OTHER_OPTION_CASES,
                         ids=[case[0] for case in OTHER_OPTION_CASES])
def test_bad_option_or_input(tmp_path, models, name, build, code, named):
    run_bad(tmp_path, build(tmp_path, models), code, *named)


# --- what the error path does besides ------------------------------------------------------

def test_a_bug_is_one_line_and_its_traceback_is_behind_debug(tmp_path, models, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr("rewardlab.verbs.loading.load_source", broken)
    args = ["score", "--model", models["good"], "--data", pool_file(tmp_path),
            "--out", tmp_path / "s.jsonl"]
    line = run_bad(tmp_path, args, 70, "internal error: KeyError", "--debug")
    assert "a bug" in line
    result = runner.invoke(app, ["--debug", *[str(a) for a in args]])
    assert isinstance(result.exception, KeyError)


def test_score_writes_strict_json(tmp_path, models):
    rows = '{"prompt": "a", "response": "b", "x": NaN}\n{"prompt": "a", "response": "c", ' \
           '"x": [Infinity, -Infinity, 1.5]}\n'
    source = write(tmp_path / "in.jsonl", rows)
    result = runner.invoke(app, ["score", "--model", str(models["good"]), "--data", str(source),
                                 "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "out.jsonl").read_text()
    assert "NaN" not in text and "Infinity" not in text
    parsed = [json.loads(line, parse_constant=lambda c: pytest.fail(c)) for line in text.split("\n")
              if line]
    assert [row["x"] for row in parsed] == [None, [None, None, 1.5]]
    assert all(isinstance(row["reward"], float) for row in parsed)


def test_limits_come_from_the_environment_too(tmp_path, models, monkeypatch):
    monkeypatch.setenv("REWARDLAB_MAX_CHARS", "5")
    source = write(tmp_path / "in.jsonl", '{"prompt": "abcdef", "response": "b"}\n')
    run_bad(tmp_path, ["score", "--model", models["good"], "--data", source,
                       "--out", tmp_path / "o.jsonl"], 1, "in.jsonl:1:", "field 'prompt'",
            "REWARDLAB_MAX_CHARS")


def test_global_options_end_with_the_run(tmp_path, models):
    from rewardlab.data.limits import Limits, current_limits

    source = write(tmp_path / "in.jsonl", '{"prompt": "abcdef", "response": "b"}\n')
    run_bad(tmp_path, ["--max-chars", "5", "score", "--model", models["good"], "--data", source,
                       "--out", tmp_path / "o.jsonl"], 1, "field 'prompt'", "--max-chars")
    assert current_limits() == Limits()
