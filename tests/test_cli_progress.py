"""The CLI's terminal manners: quiet on a closed pipe, honest progress bars, no third-party
bars or warnings, and bars that advance under a pseudo-terminal on long commands."""

from __future__ import annotations

import os
import subprocess
import sys

CLI = [sys.executable, "-m", "rewardlab.cli.main"]


def env() -> dict[str, str]:
    here = os.path.join(os.path.dirname(__file__), "..", "src")
    return {**os.environ, "PYTHONPATH": os.path.abspath(here), "OMP_NUM_THREADS": "1"}


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run the CLI with stdout a pipe whose reader has already gone (``… | head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([*CLI, *args], stdout=write, stderr=subprocess.PIPE, text=True,
                              env=env(), timeout=120)
    finally:
        os.close(write)


def test_output_into_a_closed_pipe_exits_quietly(tmp_path):
    # a command's own output (typer.echo after the work): exit 141, nothing on stderr
    done = run_into_closed_pipe("data", "digits", "--out", str(tmp_path / "d"), "--n-pairs", "2",
                                "--test-pairs", "2", "--n-prompts", "4")
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
    assert (tmp_path / "d" / "train.jsonl").exists()  # the work itself was done
    # --help into a closed pipe: rich stops quietly (its own exit 1), no internal error
    done = run_into_closed_pipe("serve", "--help")
    assert done.returncode in (1, 141) and done.stderr == "", (done.returncode, done.stderr)


def draw_bars(monkeypatch, *calls: tuple[str, int, int | None]) -> str:
    """What ``progress_bars()`` draws on a (recording) terminal for ``calls``."""
    from rich.console import Console

    from rewardlab.cli import common

    screen = Console(record=True, force_terminal=True, width=100)
    monkeypatch.setattr(common, "console", screen)
    with common.progress_bars() as progress:
        for call in calls:
            progress(*call)
    return screen.export_text()


def test_a_bar_with_an_unknown_total_shows_its_count_not_none(monkeypatch):
    text = draw_bars(monkeypatch, ("scoring", 0, None), ("scoring", 7, None),
                     ("epochs", 3, 10))
    assert "None" not in text
    assert "scoring" in text and " 7 " in text  # the count so far, alone
    assert "3/10" in text                       # a known total: done/total


def test_no_bars_under_quiet_or_off_a_terminal(monkeypatch):
    from rich.console import Console

    from rewardlab.cli import common

    monkeypatch.setenv("REWARDLAB_QUIET", "1")
    assert draw_bars(monkeypatch, ("epochs", 3, 10)) == ""
    monkeypatch.delenv("REWARDLAB_QUIET")
    assert "3/10" in draw_bars(monkeypatch, ("epochs", 3, 10))
    log = Console(record=True, force_terminal=False, width=100)  # stderr into a file or pipe
    monkeypatch.setattr(common, "console", log)
    with common.progress_bars() as progress:
        progress("epochs", 3, 10)
    assert log.export_text() == ""


def run_in_terminal(*args: str, timeout: float = 240) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; its exit code and all it
    drew (escape sequences and carriage returns included)."""
    import pty
    import select

    master, slave = pty.openpty()
    process = subprocess.Popen([*CLI, *args], stdin=subprocess.DEVNULL, stdout=slave,
                               stderr=slave, env={**env(), "COLUMNS": "120", "TERM": "xterm"})
    os.close(slave)
    chunks = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                process.kill()
                raise AssertionError(f"no output for {timeout} s: {b''.join(chunks)[-2000:]!r}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def plain(screen: str) -> str:
    """``screen`` without its colours and styles."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", screen)


def counts_drawn(screen: str, phase: str) -> set[tuple[int, int]]:
    """Every ``done/total`` drawn on a line of the bar of ``phase``."""
    import re

    lines = re.split(r"[\r\n]|\x1b\[\??[0-9;]*[A-Za-z]", plain(screen))  # cursor moves split
    return {(int(m[1]), int(m[2])) for line in lines if phase in line
            for m in [re.search(r" (\d+)/(\d+) ", line)] if m}


def assert_advances(screen: str, phase: str, passes: bool = False) -> None:
    """The bar of ``phase`` was drawn at two different counts of one total (``passes``: of
    some total; a phase whose every pass has a total of its own)."""
    drawn = counts_drawn(screen, phase)
    totals = {total for _done, total in drawn}
    assert len(totals) >= 1 if passes else len(totals) == 1, (phase, drawn)
    assert any(len({done for done, t in drawn if t == total}) >= 2 for total in totals), (
        phase, drawn)


def test_demo_shows_every_phase_advancing_on_a_terminal(tmp_path):
    code, screen = run_in_terminal(
        "demo", "--n-prompts", "40", "--n-pairs", "200", "--backbone", "hashing",
        "--out", str(tmp_path / "demo"))
    assert code == 0, screen[-3000:]
    for phase in ("encode", "l2 folds", "epochs", "held-out pairs", "scoring candidates"):
        assert_advances(screen, phase)
    assert "None" not in screen
    # the summary rendered for the terminal: its Markdown table drawn, not printed raw
    text = plain(screen)
    assert "|---|" not in text and "**" not in text
    assert "Spearman ρ" in text and "─" * 20 in text and " • held-out accuracy" in text


def test_train_shows_its_epochs_advancing_on_a_terminal(tmp_path):
    import json

    from rewardlab.data.synthetic import ArenaConfig, generate_arena, preference_pairs

    arena = generate_arena(ArenaConfig(n_prompts=30, candidates_per_prompt=4, seed=0))
    pairs = preference_pairs(arena, 120, label_noise=0.1, seed=0)
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(
        json.dumps({"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}) + "\n"
        for p in pairs))
    code, screen = run_in_terminal(
        "train", "--data", str(data), "--backbone", "hashing", "--epochs", "6", "--patience",
        "100", "--out", str(tmp_path / "model"))
    assert code == 0, screen[-3000:]
    for phase in ("encode", "l2 folds", "epochs"):
        assert_advances(screen, phase)
    assert {done for done, _ in counts_drawn(screen, "epochs")} >= {1, 6}
    # and with --quiet, the same run draws no bar
    code, quiet = run_in_terminal(
        "--quiet", "train", "--data", str(data), "--backbone", "hashing", "--epochs", "2",
        "--out", str(tmp_path / "quiet"))
    assert code == 0, quiet[-3000:]
    assert not counts_drawn(quiet, "epochs") and "saved" in quiet


def test_lab_constrained_shows_its_phases_advancing_on_a_terminal(tmp_path):
    code, screen = run_in_terminal(
        "lab", "constrained", "--out", str(tmp_path / "c.json"), "--proxy-size", "60",
        "--n-prompts", "80", "--test-prompts", "4", "--val-prompts", "8", "--pool-size", "8",
        "--pg-steps", "30", "--seed", "2")
    assert code == 0, screen[-3000:]
    for phase in ("train proxies", "proxy points", "constrained", "fixed sum"):
        assert_advances(screen, phase)
    assert (30, 30) in counts_drawn(screen, "fixed sum")
    assert counts_drawn(screen, "score pool")  # one chunk: drawn once, done


def write_pairs(path, n: int) -> None:
    """``n`` prompt/chosen/rejected rows in the tiny tokenizers' vocabulary."""
    import json

    words = ["the sky is blue", "hello world", "what is the cat", "yes it is good",
             "no", "the dog is red"]
    path.write_text("".join(json.dumps({
        "prompt": f"{words[i % 6]} {i % 10}", "chosen": words[(i + 1) % 6],
        "rejected": words[(i + 2) % 6] + " " + str(i)}) + "\n" for i in range(n)))


def test_eval_with_a_judge_shows_its_batches_and_stages_on_a_terminal(tmp_path):
    from tiny_hf import save_causal_lm

    lm = save_causal_lm(tmp_path / "lm")
    write_pairs(tmp_path / "pairs.jsonl", 12)
    code, screen = run_in_terminal(
        "eval", "--model", f"judge:{lm}", "--data", str(tmp_path / "pairs.jsonl"),
        "--out", str(tmp_path / "eval.json"), "--token-budget", "64")
    assert code == 0, screen[-3000:]
    assert_advances(screen, "forward batches", passes=True)
    # two passes, each text over the 64-token budget (one text a batch): the suite's prob
    # (12 pairs in both orders: 24) and calibration's (both pair orders, each both ways: 48)
    assert {total for _, total in counts_drawn(screen, "forward batches")} == {24, 48}
    assert counts_drawn(screen, "suite:pairs") >= {(0, 1), (1, 1)}   # started, then done
    assert counts_drawn(screen, "calibration") >= {(0, 1), (1, 1)}


def test_score_with_a_hugging_face_model_prints_no_transformers_bars_or_warnings(tmp_path):
    """transformers imported before the app runs (as here, or in a notebook): its "Loading
    weights" bar and its over-long-input warning must still stay out of the output."""
    import json
    import logging

    from typer.testing import CliRunner

    from rewardlab.cli.main import app
    from tiny_hf import save_decoder_rm

    folder = save_decoder_rm(tmp_path / "rm")  # imports transformers
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"prompt": "hello " * 600, "response": "the sky is blue"})
                            + "\n" for _ in range(3)))  # 600 tokens > the tokenizer's 256
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("transformers").addHandler(handler)
    try:
        result = CliRunner().invoke(app, ["score", "--model", str(folder), "--data", str(data),
                                          "--out", str(tmp_path / "scores.jsonl")])
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    assert result.exit_code == 0, result.output
    assert "scored 3 responses" in result.output
    assert "Loading weights" not in result.output
    assert not [r for r in records if "Token indices" in r.getMessage()]
    # and as a command of its own (transformers imported after the options are read)
    done = subprocess.run([*CLI, "score", "--model", str(folder), "--data", str(data),
                           "--out", str(tmp_path / "again.jsonl")],
                          capture_output=True, text=True, env=env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Loading weights" not in done.stdout + done.stderr
    assert "Token indices" not in done.stdout + done.stderr


def test_lab_overopt_shows_training_scoring_and_optimizing_on_a_terminal(tmp_path):
    code, screen = run_in_terminal(
        "lab", "overopt", "--out", str(tmp_path / "lab"), "--proxy-sizes", "60",
        "--label-noise", "0,0.25", "--pool-size", "12", "--test-prompts", "5",
        "--n-prompts", "80", "--val-prompts", "8", "--n", "1,2,4,12")
    assert code == 0, screen[-3000:]
    assert_advances(screen, "train")
    assert_advances(screen, "optimize hashing")  # one proxy per noise: 1/2, then 2/2
    assert (2, 2) in counts_drawn(screen, "optimize hashing")


def test_train_of_a_structured_head_and_of_a_backbone_ensemble_shows_progress(tmp_path):
    write_pairs(tmp_path / "pairs.jsonl", 60)
    code, screen = run_in_terminal(
        "train", "--data", str(tmp_path / "pairs.jsonl"), "--backbone", "hashing", "--head",
        "gpm", "--epochs", "4", "--patience", "100", "--out", str(tmp_path / "gpm"))
    assert code == 0, screen[-3000:]
    assert_advances(screen, "epochs")
    assert (4, 4) in counts_drawn(screen, "epochs")
    code, screen = run_in_terminal(
        "train", "--data", str(tmp_path / "pairs.jsonl"), "--backbone", "hashing,hashing",
        "--epochs", "3", "--out", str(tmp_path / "ensemble"))
    assert code == 0, screen[-3000:]
    assert counts_drawn(screen, "backbones") == {(0, 2), (1, 2), (2, 2)}


def test_score_with_a_hugging_face_classifier_shows_its_batches_on_a_terminal(tmp_path):
    import json

    from tiny_hf import save_decoder_rm

    folder = save_decoder_rm(tmp_path / "rm")
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"hello {i}", "response": "the sky is blue"})
                            + "\n" for i in range(6)))
    code, screen = run_in_terminal("score", "--model", str(folder), "--data", str(data),
                                   "--out", str(tmp_path / "scores.jsonl"), "--token-budget", "1")
    assert code == 0, screen[-3000:]
    assert counts_drawn(screen, "forward batches") >= {(1, 6), (6, 6)}  # one row a batch
    assert "Loading weights" not in screen
