"""Bad-input suite, part 4: every output path that must not be written, for every command
that writes, checked before any work.

A file output (``--out``, ``--html``) that is a folder, a pipe, a device, a symbolic-link
loop, or lies under a file; a model folder (``train --out``, ``demo --out``) that is a
file, a device, a link, a folder of the user's files, or a saved model with the user's
files beside it; a results folder (``lab overopt --out``) that is a file or holds a folder
where a result goes. Every case gives inputs that do not exist (and the lab experiments
fail the test if they start), so a refusal that names the output proves the output was
checked first. Each must be ``refused`` (:mod:`bad_input_kit`) with the user's files intact.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import rewardlab.lab.agent.experiment as agent_module
import rewardlab.lab.agent.overopt as agent_overopt_module
import rewardlab.lab.demo as demo_module
import rewardlab.lab.diffusion.experiment as diffusion_module
import rewardlab.lab.overopt as overopt_module
import rewardlab.lab.overopt.components as components_module
import rewardlab.lab.weak_to_strong as w2s_module
from bad_input_kit import (
    MINE,
    check,
    dangling,
    device,
    fifo,
    loop,
    pairs_rows,
    plant,
    run_unprivileged,
    runner,
    write_jsonl,
)
from rewardlab.cli.main import app
from test_bad_input_suite import tiny_model


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch):
    def started(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")

    for module, name in ((overopt_module, "run_overopt"), (w2s_module, "run_weak_to_strong"),
                         (components_module, "run_components"), (demo_module, "run_demo"),
                         (agent_module, "run_agent_lab"),
                         (agent_overopt_module, "run_agent_overopt"),
                         (diffusion_module, "run_diffusion_lab")):
        monkeypatch.setattr(module, name, started)


ABSENT = "absent-input.jsonl"
# command: (option, args given the output path and an absent input)
FILE_OUTPUTS: dict[str, tuple[str, Callable[[Path, Path], list]]] = {
    "eval": ("--out", lambda o, a: ["eval", "--model", a.parent / "absent-model", "--data", a,
                                    "--out", o]),
    "eval-html": ("--html", lambda o, a: ["eval", "--model", a.parent / "absent-model",
                                          "--data", a, "--out", a.parent / "r.json", "--html", o]),
    "compare": ("--out", lambda o, a: ["compare", "--model", f"{a}-1,{a}-2", "--data", a,
                                       "--out", o]),
    "score": ("--out", lambda o, a: ["score", "--model", a.parent / "absent-model", "--data", a,
                                     "--out", o]),
    "bon": ("--out", lambda o, a: ["bon", "--scores-column", "s", "--data", a, "--out", o]),
    "build-sft": ("--out", lambda o, a: ["build", "sft", "--scores-column", "s", "--data", a,
                                         "--out", o]),
    "build-pairs": ("--out", lambda o, a: ["build", "pairs", "--scores-column", "s", "--data", a,
                                           "--out", o]),
    "data-strength": ("--out", lambda o, a: ["data", "strength", "--model",
                                             a.parent / "absent-model", "--data", a, "--out", o]),
    "lab-weak-to-strong": ("--out", lambda o, a: ["lab", "weak-to-strong", "--out", o]),
    "lab-constrained": ("--out", lambda o, a: ["lab", "constrained", "--out", o]),
}


def is_a_folder(path: Path) -> Path:
    plant(path)
    return path


# name: (make the output path in the folder "out" that holds the user's file, texts named)
FILE_CASES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "is-a-folder": (lambda o: is_a_folder(o / "target"), ("is a folder",)),
    "fifo": (lambda o: fifo(o / "target"), ("pipe",)),
    "device": (lambda o: device(o / "target"), ("device",)),
    "symlink-loop": (lambda o: loop(o / "target"), ("loop",)),
    "under-a-file": (lambda o: o / "keep.txt" / "target", ("not a folder",)),
    "under-a-fifo": (lambda o: fifo(o / "pipe") / "target", ("not a folder",)),
}
FOLDER_OUTPUTS: dict[str, Callable[[Path, Path], list]] = {
    "train": lambda o, a: ["train", "--data", a, "--backbone", "hashing", "--out", o],
    "demo": lambda o, a: ["demo", "--backbone", "hashing", "--out", o],
    "lab-overopt": lambda o, a: ["lab", "overopt", "--out", o],
    "lab-agent": lambda o, a: ["lab", "agent", "--out", o],
    "lab-agent-overopt": lambda o, a: ["lab", "agent-overopt", "--out", o],
    "lab-diffusion": lambda o, a: ["lab", "diffusion", "--out", o],
}
FOLDER_CASES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "is-a-file": (lambda o: write_jsonl(o / "target", [{"a": 1}]), ("is a file",)),
    "fifo": (lambda o: fifo(o / "target"), ("pipe",)),
    "device": (lambda o: device(o / "target"), ("device",)),
    "symlink-loop": (lambda o: loop(o / "target"), ("loop",)),
    "under-a-file": (lambda o: o / "keep.txt" / "target", ("not a folder",)),
}


def params(outputs: dict, cases: dict) -> list:
    return [pytest.param(command, case, id=f"{command}-{case}")
            for command in outputs for case in cases]


@pytest.mark.parametrize(("command", "case"), params(FILE_OUTPUTS, FILE_CASES))
def test_file_output(tmp_path, command, case):
    out = tmp_path / "out"
    keep = plant(out)
    make, named = FILE_CASES[case]
    option, build = FILE_OUTPUTS[command]
    target = make(out)
    keeps = [keep, *([target / "keep.txt"] if case == "is-a-folder" else [])]
    check(tmp_path, build(target, tmp_path / ABSENT), 1, (option, "target", *named), case,
          command, keeps)


@pytest.mark.parametrize(("command", "case"), params(FOLDER_OUTPUTS, FOLDER_CASES))
def test_folder_output(tmp_path, command, case):
    out = tmp_path / "out"
    keep = plant(out)
    make, named = FOLDER_CASES[case]
    check(tmp_path, FOLDER_OUTPUTS[command](make(out), tmp_path / ABSENT), 1,
          ("--out", "target", *named), case, command, [keep])


def test_dangling_link_output_is_written_through_nothing_lost(tmp_path):
    """A dangling symbolic link as ``--out`` is replaced by the file; nothing else moves."""
    pool = write_jsonl(tmp_path / "pool.jsonl", [{"prompt": "p", "response": "r", "s": 1.0}])
    target = dangling(tmp_path / "out.jsonl")
    result = runner.invoke(app, ["build", "sft", "--scores-column", "s", "--data", str(pool),
                                 "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert target.is_file() and not target.is_symlink()


# --- model folders: the user's files are never deleted -----------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """A saved model of every kind train writes (linear, 3 members, GPM, two backbones)."""
    root = tmp_path_factory.mktemp("saved")
    data = write_jsonl(root / "pairs.jsonl", pairs_rows(12))
    made = {"linear": tiny_model(root / "linear", 1), "three": tiny_model(root / "three", 3)}
    for name, backbone, extra in (("gpm", "hashing", ["--head", "gpm"]),
                                  ("members", "hashing,hashing", [])):
        result = runner.invoke(app, ["train", "--data", str(data), "--backbone", backbone,
                                     "--out", str(root / name), *extra])
        assert result.exit_code == 0, result.output
        made[name] = root / name
    fake = root / "fake-format"
    fake.mkdir()
    (fake / "config.json").write_text(json.dumps({"format": "rewardlab-x"}))
    made["fake-format"] = fake
    return made


MODEL_FOLDER_CASES = {
    # name: (saved model to copy or None, where the user's file goes, texts named)
    "user-folder": (None, "notes.txt", ("no rewardlab model", "notes.txt", "--overwrite")),
    "user-subfolder": (None, "data/notes.txt", ("no rewardlab model", "data", "--overwrite")),
    "fake-format": ("fake-format", "notes.txt", ("no rewardlab model", "notes.txt")),
    **{f"{kind}-and-user-file": (kind, "notes.txt", ("a saved model and other files",
                                                     "notes.txt", "--overwrite"))
       for kind in ("linear", "three", "gpm", "members")},
    "members-and-file-inside-a-member": ("members", "member-0/notes.txt",
                                         ("member-0/notes.txt",)),
    "linear-and-user-folder": ("linear", "runs/a.json", ("runs",)),
}


@pytest.mark.parametrize("command", ["train", "demo"])
@pytest.mark.parametrize("case", list(MODEL_FOLDER_CASES))
def test_model_folder_with_the_users_files(tmp_path, saved, command, case):
    base, user_file, named = MODEL_FOLDER_CASES[case]
    out = tmp_path / "out"
    model = out / "model" if command == "demo" else out
    if base is None:
        model.mkdir(parents=True)
    else:
        shutil.copytree(saved[base], model)
    (model / user_file).parent.mkdir(parents=True, exist_ok=True)
    (model / user_file).write_text(MINE)
    args = FOLDER_OUTPUTS[command](out, tmp_path / ABSENT)
    check(tmp_path, args, 1, ("--out", *named), case, command, [model / user_file])


def test_a_link_to_a_model_folder_is_refused(tmp_path, saved):
    shutil.copytree(saved["linear"], tmp_path / "real")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    check(tmp_path, FOLDER_OUTPUTS["train"](tmp_path / "link", tmp_path / ABSENT), 1,
          ("--out", "symbolic link"), "symlink-to-a-folder", "train")


@pytest.mark.parametrize("where", ["current", "parent"])
def test_the_current_folder_is_refused(tmp_path, monkeypatch, where):
    work = tmp_path / "work"
    work.mkdir()
    plant(work)
    monkeypatch.chdir(work)
    out = work if where == "current" else tmp_path
    check(tmp_path, FOLDER_OUTPUTS["train"](out, tmp_path / ABSENT), 1,
          ("--out", "current folder"), f"holds-the-{where}-folder", "train", [work / "keep.txt"])


@pytest.mark.parametrize("name", ["results.json", "report.html"])
def test_lab_results_folder_holding_a_folder_where_a_result_goes(tmp_path, name):
    out = tmp_path / "out"
    plant(out / name)
    check(tmp_path, ["lab", "overopt", "--out", out], 1, ("--out", name, "is a folder"),
          f"{name}-a-folder", "lab-overopt", [out / name / "keep.txt"])


@pytest.mark.parametrize("name", ["results.json", "report.html", "curves_random.png",
                                  "pairs/random_seed1.npz"])
def test_agent_results_folder_holding_a_folder_where_a_result_goes(tmp_path, name):
    out = tmp_path / "out"
    plant(out / name)
    check(tmp_path, ["lab", "agent", "--out", out], 1, ("--out", name, "is a folder"),
          f"{name.replace('/', '-')}-a-folder", "lab-agent", [out / name / "keep.txt"])


def test_agent_refuses_a_model_folder_of_the_users_files(tmp_path):
    out = tmp_path / "out"
    plant(out / "models" / "random_seed2")
    check(tmp_path, ["lab", "agent", "--out", out], 1, ("random_seed2", "--overwrite"),
          "model-folder-of-user-files", "lab-agent", [out / "models" / "random_seed2" / "keep.txt"])


@pytest.mark.parametrize("name", ["report.json", "summary.md"])
def test_demo_folder_holding_a_folder_where_a_result_goes(tmp_path, name):
    out = tmp_path / "out"
    plant(out / name)
    check(tmp_path, ["demo", "--backbone", "hashing", "--out", out], 1,
          ("--out", name, "is a folder"), f"{name}-a-folder", "demo", [out / name / "keep.txt"])


def test_eval_refuses_a_model_whose_metrics_cannot_be_written(tmp_path, saved):
    model = shutil.copytree(saved["linear"], tmp_path / "model")
    plant(model / "metrics.json")
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs_rows())
    check(tmp_path, ["eval", "--model", model, "--data", data, "--out", tmp_path / "r.json"], 1,
          ("--model", "metrics.json", "is a folder"), "metrics-a-folder", "eval",
          [model / "metrics.json" / "keep.txt"])


@pytest.mark.slow  # a child process that loads torch
def test_unwritable_output_folders(tmp_path):
    """An output folder without write permission, for every command that writes (one child
    process where root's override of permissions does not apply)."""
    cases = []
    outputs = {**{k: v[1] for k, v in FILE_OUTPUTS.items()}, **FOLDER_OUTPUTS}
    for command, build in outputs.items():
        root = tmp_path / command
        locked = root / "locked"
        keep = plant(locked)
        os.chmod(locked, 0o555)
        cases.append({"id": command, "root": str(root), "code": 1, "named": ["permission denied"],
                      "keeps": [str(keep)],
                      "args": [str(a) for a in build(locked / "target", root / ABSENT)]})
        if command in FILE_OUTPUTS:  # an existing output file in that folder: replaced by rename
            cases.append({"id": f"{command}-existing", "root": str(root), "code": 1,
                          "named": ["permission denied"], "keeps": [str(keep)],
                          "args": [str(a) for a in build(keep, root / ABSENT)]})
    results = run_unprivileged(cases, "unwritable-folder")
    for command in outputs:
        os.chmod(tmp_path / command / "locked", 0o755)
    if not results:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    for command, (found, detail) in results.items():
        assert found == "refused", f"{command}: {found}: {detail}"
