"""Every long command shows its bars advance on a terminal (issue 30): each one driven with a
tiny input under a pseudo-terminal (:func:`test_cli_progress.run_in_terminal`), its phases
read back from what it drew (the commands of ``test_cli_progress`` are not repeated)."""

from __future__ import annotations

import json
from pathlib import Path

from model_kinds import head_model
from test_cli_progress import assert_advances, counts_drawn, run_in_terminal, write_pairs

WORDS = ["the sky is blue", "hello world", "what is the cat", "yes it is good", "no",
         "the dog is red"]


def write_pool(path: Path, prompts: int = 40, size: int = 8) -> Path:
    """``prompts`` × ``size`` candidates ``{prompt, response, gold}`` in the tiny
    vocabulary (320 rows by default: two batches of a model's 256)."""
    rows = [{"prompt": f"{WORDS[p % 6]} {p}", "response": f"{WORDS[(p + k) % 6]} {k} {p}",
             "gold": float((p * 7 + k * 3) % 11) / 10}
            for p in range(prompts) for k in range(size)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_compare_shows_its_loading_and_each_reward_scored(tmp_path):
    write_pairs(tmp_path / "pairs.jsonl", 200)  # 400 responses: two batches of 256
    first, second = head_model(tmp_path / "a"), head_model(tmp_path / "b", seed=1)
    args = ["compare", "--model", f"{first},{second}", "--data", str(tmp_path / "pairs.jsonl"),
            "--out", str(tmp_path / "c.json")]
    code, screen = run_in_terminal(*args)
    assert code == 0, screen[-3000:]
    assert counts_drawn(screen, " load ") == {(0, 2), (1, 2), (2, 2)}
    for phase in ("scoring 0:", "scoring 1:"):
        assert counts_drawn(screen, phase) == {(0, 400), (256, 400), (400, 400)}
    assert "None" not in screen and "wrote" in screen
    # --quiet: the same run draws no bar
    code, quiet = run_in_terminal("--quiet", *args)
    assert code == 0, quiet[-3000:]
    assert not counts_drawn(quiet, "scoring 0:") and "pair_agreement" in quiet


def test_data_strength_shows_the_pairs_scored(tmp_path):
    write_pairs(tmp_path / "pairs.jsonl", 300)  # a model ensemble scores 128 pairs a call
    code, screen = run_in_terminal(
        "data", "strength", "--model", str(head_model(tmp_path / "ens", n_members=2)),
        "--data", str(tmp_path / "pairs.jsonl"), "--out", str(tmp_path / "strength.jsonl"))
    assert code == 0, screen[-3000:]
    assert counts_drawn(screen, " load ") == {(0, 1), (1, 1)}
    assert counts_drawn(screen, "scoring pairs") == {(0, 300), (128, 300), (256, 300),
                                                     (300, 300)}
    assert "wrote 300 pairs" in screen


def test_bon_shows_the_candidates_scored(tmp_path):
    code, screen = run_in_terminal(
        "bon", "--model", str(head_model(tmp_path / "m")), "--data",
        str(write_pool(tmp_path / "pool.jsonl")), "--gold-column", "gold", "--n", "1,2,8",
        "--out", str(tmp_path / "bon.json"))
    assert code == 0, screen[-3000:]
    assert counts_drawn(screen, " load ") == {(0, 1), (1, 1)}
    assert counts_drawn(screen, "scoring candidates") == {(0, 320), (256, 320), (320, 320)}


def test_build_sft_and_pairs_show_the_pool_scored_by_a_model_or_a_verifier(tmp_path):
    pool = write_pool(tmp_path / "pool.jsonl")
    code, screen = run_in_terminal(
        "build", "sft", "--model", str(head_model(tmp_path / "m")), "--data", str(pool),
        "--method", "topk", "--k", "2", "--out", str(tmp_path / "sft.jsonl"))
    assert code == 0, screen[-3000:]
    assert_advances(screen, "scoring candidates")
    assert (320, 320) in counts_drawn(screen, "scoring candidates")
    # a verifier scores the whole pool in one call: its bar is drawn at 0, then done
    code, screen = run_in_terminal(
        "build", "pairs", "--rewards", "repetition", "--data", str(pool),
        "--out", str(tmp_path / "pairs.jsonl"))
    assert code == 0, screen[-3000:]
    assert counts_drawn(screen, "scoring candidates") == {(0, 320), (320, 320)}


def test_forecast_shows_the_proxy_scored_the_curves_and_the_bootstrap(tmp_path):
    code, screen = run_in_terminal(
        "forecast", "--model", str(head_model(tmp_path / "m")), "--data",
        str(write_pool(tmp_path / "pool.jsonl")), "--gold-column", "gold", "--gold-budget",
        "20", "--bootstrap", "50", "--out", str(tmp_path / "forecast.json"))
    assert code == 0, screen[-3000:]
    assert counts_drawn(screen, "scoring proxy") == {(0, 320), (256, 320), (320, 320)}
    assert_advances(screen, "gold curves")
    assert (20, 20) in counts_drawn(screen, "gold curves")
    assert_advances(screen, "bootstrap")  # the forecast methods' bootstraps, each in turn
    assert_advances(screen, "realized curve")


def test_lab_weak_to_strong_shows_its_pool_training_and_scoring(tmp_path):
    code, screen = run_in_terminal(
        "lab", "weak-to-strong", "--out", str(tmp_path / "w2s.json"), "--strong", "hashing",
        "--weak-pairs", "60", "--transfer-pairs", "60", "--pool-size", "8", "--test-prompts",
        "4", "--n-prompts", "60", "--val-prompts", "6")
    assert code == 0, screen[-3000:]
    assert_advances(screen, "pool")
    assert counts_drawn(screen, "train") == {(0, 3), (1, 3), (2, 3), (3, 3)}
    for phase in ("score weak", "score strong"):  # 4 test prompts × 8 candidates
        assert counts_drawn(screen, phase) == {(0, 32), (32, 32)}


def test_lab_agent_shows_each_policy_from_its_first_step_and_the_report(tmp_path):
    code, screen = run_in_terminal(
        "lab", "agent", "--out", str(tmp_path / "agent"), "--steps", "512", "--iterations",
        "2", "--comparisons", "12", "--seeds", "1", "--eval-episodes", "2",
        "--segment-length", "10")
    assert code == 0, screen[-3000:]
    for phase in ("seed 0 true reward", "seed 0 random"):
        assert counts_drawn(screen, phase) == {(0, 512), (256, 512), (512, 512)}
    assert counts_drawn(screen, "report") == {(0, 1), (1, 1)}


def test_lab_agent_overopt_shows_the_reward_models_each_variant_and_the_report(tmp_path):
    code, screen = run_in_terminal(
        "lab", "agent-overopt", "--out", str(tmp_path / "overopt"), "--steps", "768",
        "--checkpoints", "3", "--comparisons", "16", "--random-episodes", "4", "--seeds", "1",
        "--eval-episodes", "2", "--segment-length", "10", "--ensemble", "2", "--variants",
        "single,mean,lipschitz")
    assert code == 0, screen[-3000:]
    # single, the ensemble of mean, lipschitz (a gradient penalty): three models
    assert counts_drawn(screen, "seed 0 reward models") == {(0, 3), (1, 3), (2, 3), (3, 3)}
    for variant in ("single", "mean", "lipschitz"):
        assert counts_drawn(screen, f"seed 0 {variant} ") >= {(0, 768), (768, 768)}
        assert_advances(screen, f"seed 0 {variant} ")
    assert counts_drawn(screen, "report") == {(0, 1), (1, 1)}


def test_lab_diffusion_shows_generator_proxy_optimizers_and_report(tmp_path):
    code, screen = run_in_terminal(
        "lab", "diffusion", "--out", str(tmp_path / "diffusion"), "--optimizer",
        "draft,ddpo,bon,fk,reno,d3po", "--channels", "8,16", "--train-steps", "3", "--gen-batch-size",
        "8", "--train-timesteps", "20", "--sample-steps", "3", "--eval-prompts", "10",
        "--proxy-sizes", "60", "--bon-pool", "4", "--draft-updates", "2", "--draft-k", "2",
        "--ddpo-updates", "2", "--ddpo-batch", "8", "--eval-every", "1", "--fk-particles",
        "2", "--fk-lambdas", "0,4", "--reno-updates", "2", "--d3po-updates", "2",
        "--d3po-batch", "2")
    assert code == 0, screen[-3000:]
    # trained here (steps reported every 20 and at the end) or read from the cache: 0, then 3
    assert counts_drawn(screen, "generator") == {(0, 3), (3, 3)}
    assert_advances(screen, "proxy l2 folds")
    assert_advances(screen, "proxy epochs")
    for phase in ("draft", "ddpo", "reno", "d3po"):
        assert counts_drawn(screen, phase) == {(0, 2), (1, 2), (2, 2)}
    assert counts_drawn(screen, "bon pool") == {(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)}
    assert counts_drawn(screen, "fk") == {(0, 2), (1, 2), (2, 2)}
    assert counts_drawn(screen, "report") == {(0, 1), (1, 1)}
