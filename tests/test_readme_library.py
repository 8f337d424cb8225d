"""The README's "Library" block runs, and its calls write what the
commands write; the docs site's getting-started page holds the same block."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from rewardlab.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GETTING_STARTED = ROOT / "docs" / "index.md"


def library_block(document: Path = README) -> str:
    text = document.read_text(encoding="utf-8")
    section = text.split("\n## Library\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return block


def test_the_docs_site_shows_the_same_block():
    """The getting-started page of the docs site carries a copy of the block: the same text."""
    assert library_block(GETTING_STARTED) == library_block(README)


def test_the_library_block_runs_and_matches_the_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = [{"prompt": f"question {i % 7}", "chosen": f"a helpful answer number {i} " * 2,
             "rejected": f"no {i}"} for i in range(60)]
    Path("pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    trained = CliRunner().invoke(app, ["train", "--data", "pairs.jsonl", "--out", "cli-rm",
                                       "--backbone", "hashing", "--test-fraction", "0.2"])
    assert trained.exit_code == 0, trained.output
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(library_block(), str(README), "exec"), {})  # noqa: S102 - our README
    lines = printed.getvalue().splitlines()
    assert len(lines) == 3 and lines[1].startswith("accuracy=")
    rewards = json.loads(lines[2].replace("'", '"'))
    assert len(rewards["rewards"] if isinstance(rewards, dict) else rewards) == 1
    runner = CliRunner()
    # `rewardlab train` with the flags the README names wrote the same model, byte for byte,
    # and the same held-out accuracy (eval has since added its results to runs/rm/metrics.json)
    for name in ("config.json", "model.safetensors"):
        assert Path("runs/rm", name).read_bytes() == Path("cli-rm", name).read_bytes(), name
    cli_metrics = json.loads(Path("cli-rm/metrics.json").read_text())
    assert float(lines[0]) == cli_metrics["test"]["accuracy"]
    result = runner.invoke(app, ["eval", "--model", "runs/rm", "--data", "pairs.jsonl",
                                 "--out", "cli.json", "--probes", "length"])
    assert result.exit_code == 0, result.output
    assert json.loads(Path("cli.json").read_text()) == json.loads(Path("eval.json").read_text())
    # the same summary line (the terminal may wrap it: compared word by word)
    assert " ".join(lines[1].split()) in " ".join(result.output.split())
