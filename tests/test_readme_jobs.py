"""The README's job sections run (issue 30): each command of each job, as written, on tiny
files made here under the names the README uses (``prefs.jsonl``, ``pool.jsonl``,
``models/my-rm``, ``hf:ORG/NAME`` in a local Hugging Face cache, …), in the order the
section gives them, and writes the outputs it names.

What the test changes, and why, is stated in :data:`PLACEHOLDERS` (a placeholder gets a
tiny concrete value), :data:`SMALLER` (sizes appended so that a lab run takes seconds) and
:data:`NOT_RUN` (a command that serves until stopped).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rewardlab.cli.main import app
from test_readme import README_JOBS
from tiny_hf import fill_hub_cache, save_encoder_rm

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDERS = {"hf:ORG/NAME": "hf:readme-tests/tiny-rm", "--pool FILE": "--pool pool.jsonl"}
"""Placeholders of the README, the concrete tiny value each gets here."""
SMALLER = {
    ("lab", "overopt"): ["--proxy-sizes", "60", "--ensemble", "2", "--aggregate", "mean"],
    ("lab", "overopt", "synthetic"): ["--n-prompts", "240", "--test-prompts", "4",
                                      "--val-prompts", "20", "--pool-size", "16"],
}
"""Sizes appended to a lab run: the README's own command, on a pool this test's size."""
NOT_RUN = {"serve": "serves until stopped; the app it runs is tested in tests/test_serve_*.py "
                    "and by the README's library block"}

PROMPTS = [f"What is {i} + {i}?" for i in range(8)]


def _rows(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def make_files(root: Path, hub: Path) -> None:
    """The tiny inputs the README's commands name."""
    prefs = [{"prompt": p, "chosen": f"The answer is {2 * i}. " * (1 + j % 2),
              "rejected": f"no idea {j}"} for i, p in enumerate(PROMPTS) for j in range(6)]
    _rows(root / "prefs.jsonl", prefs)
    _rows(root / "pairs.jsonl", prefs)
    _rows(root / "rewardbench.jsonl", [{**row, "subset": "math-prm"} for row in prefs[:12]])
    _rows(root / "responses.jsonl", [{"prompt": p, "response": f"It is {2 * i}."}
                                     for i, p in enumerate(PROMPTS)])
    _rows(root / "gsm8k.jsonl", [{"prompt": p, "response": f"The answer is {2 * i}.",
                                  "answer": str(2 * i)} for i, p in enumerate(PROMPTS)])
    _rows(root / "pool.jsonl", [  # 120 prompts: forecast's default gold budget is 100
        {"prompt": f"What is {i} + {i}?", "response": f"The answer is {2 * i + k % 3}. "
         * (1 + k % 4), "gold": float(k % 3 == 0) - 0.1 * (k % 4), "answer": str(2 * i)}
        for i in range(120) for k in range(8)])
    encoder = save_encoder_rm(root / "models" / "my-rm")
    save_encoder_rm(root / "models" / "deberta", seed=1)
    fill_hub_cache(hub, "readme-tests/tiny-rm", encoder)


def job_commands() -> list[tuple[str, str]]:
    """``(job, command line)`` of every ``rewardlab`` line of the README's job sections."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### (.+?)\n(.*?)(?=^##|\Z)", text, re.S | re.M))
    found = []
    for job in README_JOBS:
        title = next(t for t in sections if t.startswith(job))
        (block,) = re.findall(r"```bash\n(.*?)```", sections[title], re.S)
        found += [(job, line) for line in block.splitlines() if line.startswith("rewardlab ")]
    return found


def concrete(line: str) -> list[str]:
    """The command's words with its comment dropped, placeholders filled and lab sizes
    appended."""
    for placeholder, value in PLACEHOLDERS.items():
        line = line.replace(placeholder, value)
    words = shlex.split(line, comments=True)[1:]
    if words[:2] == ["lab", "overopt"]:
        words += SMALLER[("lab", "overopt")]
        if "--pool" not in words:
            words += SMALLER[("lab", "overopt", "synthetic")]
    return words


def outputs(words: list[str]) -> list[str]:
    return [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("--out", "--html")]


def test_every_job_command_is_run_or_says_why_not():
    commands = job_commands()
    assert {job for job, _ in commands} == set(README_JOBS)
    skipped = [line for _, line in commands if line.split()[1] in NOT_RUN]
    assert len(skipped) < len(commands) // 2


@pytest.mark.slow
@pytest.mark.parametrize("job", README_JOBS)
def test_a_job_section_runs_on_tiny_data(job, tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path, hub)
    recipes = tmp_path / "docs" / "recipes"
    recipes.mkdir(parents=True)
    (recipes / "math_plus_rm.yaml").write_text(
        (ROOT / "docs" / "recipes" / "math_plus_rm.yaml").read_text())
    runner = CliRunner()
    ran = 0
    # the sections after "Train" use runs/rm: train it first, as a reader of the README would
    if job != README_JOBS[0]:
        trained = runner.invoke(app, ["train", "--data", "prefs.jsonl", "--out", "runs/rm"])
        assert trained.exit_code == 0, trained.output
    for _, line in (c for c in job_commands() if c[0] == job):
        words = concrete(line)
        if words[0] in NOT_RUN:
            continue
        result = runner.invoke(app, words)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        for path in outputs(words):
            assert Path(path).exists(), f"{line}: wrote no {path}"
        ran += 1
    assert ran >= 1, job
    assert CHECKS[job](tmp_path), job


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


CHECKS = {  # what the README says each job's outputs hold
    README_JOBS[0]: lambda root: all(isinstance(r["reward"], float)
                                     for r in _jsonl(root / "scored.jsonl")),
    README_JOBS[1]: lambda root: "length" in json.loads((root / "audit.json").read_text())[
        "probes"],
    README_JOBS[2]: lambda root: [r["reward"] for r in _jsonl(root / "checked.jsonl")]
    == [1.0] * len(PROMPTS),  # every final answer equals its reference
    README_JOBS[3]: lambda root: {"proxy", "gold"} <= set(json.dumps(
        json.loads((root / "bon.json").read_text())).replace('"', " ").split()),
    README_JOBS[4]: lambda root: all({"prompt", "chosen", "rejected"} <= set(r)
                                     for r in _jsonl(root / "pairs.jsonl")),
}
