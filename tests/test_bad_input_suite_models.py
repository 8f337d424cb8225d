"""Bad-input suite, part 2: every broken model folder × every command that loads a model.

The folders (:data:`VARIANTS`) are good models changed in one way: rewardlab models
(a linear model, a 3-member ensemble, a GPM, a two-backbone ensemble) with a corrupt,
mistyped or mismatched ``config.json`` or ``model.safetensors``, NaN/Inf or integer
weights, members missing; Hugging Face classifiers and judges (tiny random checkpoints,
``tiny_hf``) missing their tokenizer, weights or reward head, with NaN weights, a
corrupt file, shapes that do not fit their config, a foreign tokenizer; paths that are
files, loops or absent. Each must be ``refused`` (:mod:`bad_input_kit`): exit 1 (2 where
``serve`` checks the path as an option), one line naming the folder, nothing written.
The Hugging Face cases load transformers models and are marked ``slow``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from bad_input_kit import (
    check,
    loop,
    pairs_rows,
    plant,
    pool_rows,
    run_unprivileged,
    runner,
    write_jsonl,
)
from rewardlab.cli.main import app
from test_bad_input_suite import tiny_model
from tiny_hf import save_causal_lm, save_encoder_rm


def edit_config(**fields) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        config.update(fields)
        (folder / "config.json").write_text(json.dumps(config))

    return change


def edit_tensors(change: Callable[[str, torch.Tensor], torch.Tensor],
                 name: str = "model.safetensors") -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        tensors = load_file(folder / name)
        save_file({k: change(k, v) for k, v in tensors.items()}, folder / name,
                  metadata={"format": "pt"})

    return apply


def write(name: str, content: str | bytes) -> Callable[[Path], None]:
    data = content.encode() if isinstance(content, str) else content
    return lambda folder: (folder / name).write_bytes(data)


def remove(*names: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        for name in names:
            target = folder / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()

    return apply


def replace_with_folder(name: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        (folder / name).unlink()
        (folder / name).mkdir()

    return apply


def nan_at(prefix: str) -> Callable[[str, torch.Tensor], torch.Tensor]:
    return lambda k, v: v.fill_(float("nan")) if k.startswith(prefix) else v


def drop_tensors(prefix: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        tensors = load_file(folder / "model.safetensors")
        save_file({k: v for k, v in tensors.items() if not k.startswith(prefix)},
                  folder / "model.safetensors", metadata={"format": "pt"})

    return apply


def truncate(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes((folder / name).read_bytes()[:60])


# name: (base model, change, texts the error names besides the folder)
VARIANTS: dict[str, tuple[str, Callable[[Path], None], tuple[str, ...]]] = {
    "malformed-config": ("one", write("config.json", '{"format": \n'), ("config.json:2",)),
    "config-not-object": ("one", write("config.json", "[1, 2]"), ("config.json",)),
    "config-empty": ("one", write("config.json", ""), ("config.json",)),
    "config-nan": ("one", edit_config(feature_dim=float("nan")), ("feature_dim",)),
    "feature-dim-string": ("one", edit_config(feature_dim="33"), ("feature_dim",)),
    "feature-dim-negative": ("one", edit_config(feature_dim=-3), ()),
    "n-members-zero": ("one", edit_config(n_members=0), ()),
    "head-not-object": ("one", edit_config(head="linear"), ("head",)),
    "head-unknown": ("one", edit_config(head={"name": "nope", "params": {}}), ("nope",)),
    "head-params-unknown": ("one", edit_config(head={"name": "linear", "params": {"x": 1}}),
                            ("head",)),
    "backbone-unknown": ("one", edit_config(backbone={"kind": "nope"}), ("backbone",)),
    "aggregate-unknown": ("three", edit_config(aggregate={"name": "nope"}), ("aggregate",)),
    "format-unknown": ("one", edit_config(format="rewardlab-x"), ("rewardlab-x",)),
    "format-other": ("one", edit_config(format="something-else"), ("format",)),
    "shape-mismatch": ("one", edit_config(feature_dim=7), ("model.safetensors",)),
    "garbage-safetensors": ("one", write("model.safetensors", b"\x00" * 40),
                            ("model.safetensors",)),
    "truncated-safetensors": ("one", truncate("model.safetensors"), ("model.safetensors",)),
    "no-safetensors": ("one", remove("model.safetensors"), ("model.safetensors",)),
    "safetensors-a-folder": ("one", replace_with_folder("model.safetensors"),
                             ("model.safetensors",)),
    "config-a-folder": ("one", replace_with_folder("config.json"), ("config.json",)),
    "nan-weights": ("one", edit_tensors(nan_at("head.")), ("NaN",)),
    "inf-normalizer": ("one", edit_tensors(lambda k, v: v.fill_(float("inf"))
                                           if k.startswith("normalizer.") else v), ("infinite",)),
    "int32-weights": ("one", edit_tensors(lambda k, v: v.to(torch.int32)), ("int32",)),
    "ensemble-nan": ("three", edit_tensors(nan_at("head.weight")), ("NaN",)),
    "not-a-model": ("one", remove("config.json", "model.safetensors"), ("config.json",)),
    "gpm-without-options": ("one", write("config.json", '{"format": "rewardlab-gpm"}'),
                            ("config.json",)),
    "gpm-nan": ("gpm", edit_tensors(lambda k, v: v.fill_(float("nan"))), ("NaN",)),
    "gpm-truncated": ("gpm", truncate("model.safetensors"), ("model.safetensors",)),
    "members-missing": ("members", remove("member-1"), ("member-1",)),
    "members-not-a-list": ("members", edit_config(members="member-0"), ("members",)),
    "member-nan": ("members", lambda f: edit_tensors(nan_at("head."))(f / "member-0"), ("NaN",)),
    "member-config-broken": ("members", write("member-1/config.json", "{"), ("member-1",)),
    "hf-no-tokenizer": ("hf", remove("tokenizer.json", "tokenizer_config.json"), ("tokenizer",)),
    "hf-nan": ("hf", edit_tensors(lambda k, v: v.fill_(float("nan"))), ("NaN",)),
    "hf-no-weights": ("hf", remove("model.safetensors"), ("model.safetensors",)),
    "hf-truncated": ("hf", truncate("model.safetensors"), ()),
    "hf-bad-config": ("hf", write("config.json", "{bad"), ("config.json:1",)),
    "hf-config-nan": ("hf", edit_config(hidden_size=float("nan")), ()),
    "hf-shape-mismatch": ("hf", edit_config(hidden_size=64), ()),
    "hf-unknown-type": ("hf", edit_config(model_type="nonexistent"), ()),
    "hf-no-reward-head": ("hf", drop_tensors("classifier."), ("classifier",)),
    "hf-bad-tokenizer-json": ("hf", write("tokenizer.json", "{bad"), ("tokenizer",)),
    "hf-causal-lm": ("causal", lambda f: None, ("architectures",)),
    "hf-remote-code": ("hf", edit_config(auto_map={"AutoModelForSequenceClassification": "x.Y"}),
                       ("--trust-remote-code",)),
    "hf-foreign-tokenizer": ("hf", lambda f: edit_config(vocab_size=20)(f) or edit_tensors(
        lambda k, v: v[:20].clone() if "word_embeddings" in k else v)(f), ("tokenizer",)),
}
JUDGE_VARIANTS = {
    "judge-on-a-classifier": ("hf", lambda f: None, ("architectures",)),
    "judge-no-tokenizer": ("causal", remove("tokenizer.json", "tokenizer_config.json"),
                           ("tokenizer",)),
    "judge-nan": ("causal", edit_tensors(lambda k, v: v.fill_(float("nan"))), ("NaN",)),
    "judge-truncated": ("causal", truncate("model.safetensors"), ()),
    "judge-no-lm-head": ("causal", drop_tensors("lm_head."), ("lm_head",)),
}
PATHS = {  # a spec that is no folder at all
    "model-is-a-file": lambda root: write_jsonl(root / "model-is-a-file", [{"a": 1}]),
    "model-missing": lambda root: root / "model-missing",
    "model-symlink-loop": lambda root: loop(root / "model-symlink-loop"),
}


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bases")
    data = write_jsonl(root / "pairs.jsonl", pairs_rows(12))
    made = {"one": tiny_model(root / "one", 1), "three": tiny_model(root / "three", 3)}
    for name, backbone, extra in (("gpm", "hashing", ["--head", "gpm"]),
                                  ("members", "hashing,hashing", [])):
        result = runner.invoke(app, ["train", "--data", str(data), "--backbone", backbone,
                                     "--out", str(root / name), *extra])
        assert result.exit_code == 0, result.output
        made[name] = root / name
    made["hf"] = save_encoder_rm(root / "hf")
    made["causal"] = save_causal_lm(root / "causal")
    return made


@pytest.fixture(scope="module")
def variants(bases, tmp_path_factory) -> dict[str, str]:
    """Every broken model, as the spec to pass to --model."""
    root = tmp_path_factory.mktemp("variants")
    specs = {}
    for table, prefix in ((VARIANTS, ""), (JUDGE_VARIANTS, "judge:")):
        for name, (base, change, _named) in table.items():
            shutil.copytree(bases[base], root / name)
            change(root / name)
            specs[name] = prefix + str(root / name)
    specs["judge-absent"] = "judge:" + str(root / "judge-absent")
    for name, make in PATHS.items():
        specs[name] = str(make(root))
    return specs


def pool_file(folder: Path) -> Path:
    return write_jsonl(folder / "pool.jsonl", pool_rows())


def pairs_file(folder: Path) -> Path:
    return write_jsonl(folder / "pairs.jsonl", pairs_rows())


COMMANDS: dict[str, Callable[[str, dict, Path, Path], list]] = {
    "eval": lambda m, b, i, o: ["eval", "--model", m, "--data", pairs_file(i), "--out", o / "r.json"],
    "compare": lambda m, b, i, o: ["compare", "--model", f"{b['one']},{m}", "--data",
                                   pairs_file(i), "--out", o / "c.json"],
    "score": lambda m, b, i, o: ["score", "--model", m, "--data", pool_file(i), "--out", o / "s.jsonl"],
    "bon": lambda m, b, i, o: ["bon", "--model", m, "--data", pool_file(i), "--out", o / "b.json"],
    "build-sft": lambda m, b, i, o: ["build", "sft", "--model", m, "--data", pool_file(i),
                                     "--out", o / "sft.jsonl"],
    "build-pairs": lambda m, b, i, o: ["build", "pairs", "--model", m, "--data", pool_file(i),
                                       "--out", o / "p.jsonl"],
    "data-strength": lambda m, b, i, o: ["data", "strength", "--model", m, "--data",
                                         pairs_file(i), "--out", o / "a.jsonl"],
    "train-init-from": lambda m, b, i, o: ["train", "--data", pairs_file(i), "--backbone",
                                           "hashing", "--init-from", m, "--out", o / "model"],
    "serve": lambda m, b, i, o: ["serve", "--model", m, "--port", "0"],
}


@pytest.fixture(autouse=True)
def no_server(monkeypatch):
    """A model that loads would start a server: it returns at once (exit 0, 'accepted')."""
    monkeypatch.setattr("rewardlab.serve.runner.run_server", lambda *args, **kwargs: None)


def named_of(case: str, command: str) -> tuple[str, ...]:
    if command == "train-init-from":  # refused as a whole: it continues head models only
        return (case,)
    for table in (VARIANTS, JUDGE_VARIANTS):
        if case in table:
            return (case, *table[case][2])
    return (case,)


def params() -> list:
    slow = {*(n for n, v in VARIANTS.items() if v[0] in ("hf", "causal")), *JUDGE_VARIANTS,
            "judge-absent"}
    cases = [*VARIANTS, *JUDGE_VARIANTS, "judge-absent", *PATHS]
    return [
        pytest.param(command, case, id=f"{command}-{case}",
                     marks=[pytest.mark.slow] if case in slow else [])
        for command in COMMANDS for case in cases
        if not (case.startswith("judge") and command == "train-init-from")
    ]


@pytest.mark.parametrize(("command", "case"), params())
def test_broken_model(tmp_path, bases, variants, command, case):
    inputs = tmp_path / "in"
    inputs.mkdir()
    keep = plant(tmp_path / "out")
    args = COMMANDS[command](variants[case], bases, inputs, tmp_path / "out")
    # serve checks that --model names a folder as an option check (exit 2)
    code = (1, 2) if command == "serve" and case in PATHS else 1
    check(tmp_path, args, code, named_of(case, command), case, command, [keep])


@pytest.mark.slow  # a child process that loads torch
def test_unreadable_model_files(tmp_path, bases):
    """``config.json`` or ``model.safetensors`` without read permission, for every command
    that loads a model (one child process without root's override)."""
    cases = []
    for command, build in COMMANDS.items():
        if command == "serve":
            continue  # would start a server if the check failed; covered by the others
        for name in ("config.json", "model.safetensors"):
            root = tmp_path / f"{command}-{name}"
            model = shutil.copytree(bases["one"], root / "model")
            os.chmod(model / name, 0)
            inputs = root / "in"
            inputs.mkdir()
            keep = plant(root / "out")
            cases.append({"id": f"{command}-{name}", "root": str(root), "code": 1,
                          "named": [name], "keeps": [str(keep)],
                          "args": [str(a) for a in build(str(model), bases, inputs, root / "out")]})
    results = run_unprivileged(cases, "unreadable")
    if not results:
        pytest.skip("running as root without setpriv: file permissions cannot be tested")
    for case, (found, detail) in results.items():
        assert found == "refused", f"{case}: {found}: {detail}"
