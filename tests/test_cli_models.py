"""``--model`` of the CLI takes any reward model (tiny offline checkpoints, end to end).

Hugging Face folders, ``hf:ORG/NAME`` from a pre-filled cache, comma-list
ensembles, multi-output attributes, a GPM (a preference model) in ``eval`` and
``bon``, RewardBench's own files beside ``eval --out``, and ``serve``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.data.record import Comparison
from tiny_hf import fill_hub_cache, save_decoder_rm

PROMPTS = ["what is the sky", "how can i help the dog", "hello", "why is water blue"]
RESPONSES = ["the sky is blue", "good dog", "hello world", "it is the sky . thanks"]
LABELS = {0: "helpfulness", 1: "correctness", 2: "verbosity"}
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_torch_thread", "hub_offline")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {
        "a": save_decoder_rm(root / "a", seed=0),
        "b": save_decoder_rm(root / "b", seed=1),
        "multi": save_decoder_rm(root / "multi", num_labels=3, id2label=LABELS, seed=2),
    }


def invoke(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def scored_input(tmp_path: Path) -> Path:
    return write_rows(tmp_path / "in.jsonl", [
        {"prompt": p, "response": r, "id": i}
        for i, (p, r) in enumerate(zip(PROMPTS, RESPONSES, strict=True))
    ])


def direct_logits(folder: Path, responses: list[str] = RESPONSES) -> np.ndarray:
    """An AutoModelForSequenceClassification forward per input (chat template, fp32, no pad)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for p, r in zip(PROMPTS, responses, strict=True):
            text = tok.apply_chat_template([{"role": "user", "content": p},
                                            {"role": "assistant", "content": r}], tokenize=False)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            out.append(model(input_ids=torch.tensor([ids])).logits[0].numpy())
    return np.stack(out)


def test_score_hf_folder_equals_a_direct_forward_and_writes_nothing_beside_it(folders, tmp_path):
    before = sorted(os.listdir(folders["a"]))
    source = scored_input(tmp_path)
    invoke("score", "--model", folders["a"], "--data", source, "--out", tmp_path / "out.jsonl")
    rows = read_rows(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [0, 1, 2, 3]  # input columns are kept
    expected = direct_logits(folders["a"])[:, 0]
    np.testing.assert_allclose([r["reward"] for r in rows], expected, atol=1e-5, rtol=0)
    assert np.ptp(expected) > 1e-3
    assert sorted(os.listdir(folders["a"])) == before


def test_score_hf_name_from_an_offline_cache(folders, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    fill_hub_cache(cache, "org/tiny-rm", folders["a"])
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    source = scored_input(tmp_path)
    invoke("score", "--model", "hf:org/tiny-rm", "--data", source, "--out", tmp_path / "o.jsonl")
    rewards = [r["reward"] for r in read_rows(tmp_path / "o.jsonl")]
    np.testing.assert_allclose(rewards, direct_logits(folders["a"])[:, 0], atol=1e-5, rtol=0)
    result = runner.invoke(app, ["score", "--model", "hf:org/absent", "--data", str(source),
                                 "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "hf:org/absent" in result.output


@pytest.mark.parametrize(("aggregate", "reduce"), [("mean", np.mean), ("min", np.min)])
def test_comma_list_is_an_ensemble_of_the_models(folders, tmp_path, aggregate, reduce):
    source = scored_input(tmp_path)
    invoke("score", "--model", f"{folders['a']},{folders['b']}", "--aggregate", aggregate,
           "--data", source, "--out", tmp_path / "e.jsonl")
    members = np.stack([direct_logits(folders[k])[:, 0] for k in ("a", "b")])
    assert np.abs(members[0] - members[1]).max() > 1e-3  # two different models
    rewards = [r["reward"] for r in read_rows(tmp_path / "e.jsonl")]
    np.testing.assert_allclose(rewards, reduce(members, axis=0), atol=1e-5, rtol=0)


def test_attributes_and_weights_of_a_multi_output_model(folders, tmp_path):
    source = scored_input(tmp_path)
    logits = direct_logits(folders["multi"])
    invoke("score", "--model", folders["multi"], "--attributes", "--data", source,
           "--out", tmp_path / "m.jsonl")
    rows = read_rows(tmp_path / "m.jsonl")
    for k, name in LABELS.items():
        np.testing.assert_allclose([r[name] for r in rows], logits[:, k], atol=1e-5, rtol=0)
    np.testing.assert_allclose([r["reward"] for r in rows], logits.mean(axis=1), atol=1e-5,
                               rtol=0)
    invoke("score", "--model", folders["multi"], "--weights", "2,0,-1", "--dtype", "fp32",
           "--token-budget", "8", "--data", source, "--out", tmp_path / "w.jsonl")
    np.testing.assert_allclose([r["reward"] for r in read_rows(tmp_path / "w.jsonl")],
                               2 * logits[:, 0] - logits[:, 2], atol=1e-5, rtol=0)


def rewardlab_model(folder: Path) -> Path:
    from rewardlab.features.hashing import HashingBackbone
    from rewardlab.models.heads import HEADS
    from rewardlab.models.io import save_model
    from rewardlab.models.normalizer import Normalizer
    from rewardlab.models.reward_model import TrainedRewardModel

    torch.manual_seed(0)
    backbone = HashingBackbone(8)
    config = {"feature_dim": backbone.dim, "n_members": 1,
              "head": {"name": "linear", "params": {}}, "backbone": backbone.config()}
    model = TrainedRewardModel(backbone, Normalizer(backbone.dim),
                               HEADS.get("linear")(backbone.dim, 1), config)
    return save_model(model, folder)


@pytest.mark.parametrize(("flag", "value"), [
    ("--dtype", "fp16"), ("--max-length", "16"), ("--token-budget", "4"), ("--weights", "1,2"),
    ("--judge-rating", "yes-no"), ("--trust-remote-code", None),
])
def test_hub_options_a_rewardlab_directory_cannot_read_are_refused(tmp_path, flag, value):
    """A rewardlab directory reads none of the Hugging Face loading flags: given, they are
    refused (they used to be dropped silently) as a bad option, naming the flag, before the
    (absent) data is read."""
    folder = rewardlab_model(tmp_path / "rm")
    result = runner.invoke(app, ["score", "--model", str(folder), "--data",
                                 str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                                 flag, *([value] if value else [])])
    assert result.exit_code == 2, result.output
    assert result.output == (f"error: Invalid value for '{flag}': not read by --model {folder} "
                             "(a rewardlab model) as score reads it; leave it out\n")
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(("args", "code", "named"), [
    (["--model", "no/such/model"], 1, ("no/such/model", "hf:ORG/NAME", "judge:")),
    (["--dtype", "fp8"], 2, ("--dtype", "fp8")),
    (["--weights", "1,x"], 2, ("--weights", "1,x")),
    (["--judge-rating", "stars"], 2, ("--judge-rating", "stars")),
])
def test_bad_model_options_are_one_line(folders, tmp_path, args, code, named):
    base = {"--model": str(folders["a"])}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for kv in base.items() for x in kv]
    result = runner.invoke(app, ["score", *flat, "--data", str(scored_input(tmp_path)),
                                 "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    for word in named:
        assert word in lines[0]
    assert not (tmp_path / "x.jsonl").exists()


WORDS = ["good", "bad", "fine", "kind", "rude", "clear"]


@pytest.fixture(scope="module")
def gpm_dir(tmp_path_factory):
    from rewardlab.features.backbones import build_backbone
    from rewardlab.models.structured.gpm import GPMOptions, save_gpm, train_gpm

    torch.manual_seed(0)
    records = [Comparison(f"p{i}", (f"{WORDS[i % 3]} answer {i}", f"{WORDS[3 + i % 3]} reply {i}"),
                          ranking=(0, 1)) for i in range(40)]
    model = train_gpm(records, build_backbone("hashing", n_features=256),
                      GPMOptions(k=2, epochs=30))
    return save_gpm(model, tmp_path_factory.mktemp("gpm") / "gpm")


def test_eval_a_gpm_reports_its_pairwise_accuracy(gpm_dir, tmp_path):
    from rewardlab.load import load_reward_model

    pairs = [{"prompt": f"q{i}", "chosen": f"{WORDS[i % 3]} {WORDS[(i + 1) % 3]}",
              "rejected": f"{WORDS[3 + i % 3]} {WORDS[(i + 2) % 3]}"} for i in range(6)]
    pairs += [{"prompt": "q9", "chosen": "rude bad", "rejected": "kind good"}]
    data = write_rows(tmp_path / "pairs.jsonl", pairs)
    invoke("eval", "--model", gpm_dir, "--data", data, "--out", tmp_path / "res.json")
    res = json.loads((tmp_path / "res.json").read_text())
    gpm = load_reward_model(gpm_dir)
    p = gpm.prob([r["prompt"] for r in pairs], [r["chosen"] for r in pairs],
                 [r["rejected"] for r in pairs])
    expected = float(np.mean((p > 0.5) + 0.5 * (p == 0.5)))
    assert 0 < expected < 1
    assert res["metrics"]["accuracy"] == pytest.approx(expected, abs=1e-12)


def test_bon_with_a_preference_model_picks_by_copeland(gpm_dir, tmp_path):
    from rewardlab.load import load_reward_model
    from rewardlab.optimize.preference_bon import best_of_n_by_preference

    pools = {f"q{i}": [" ".join(WORDS[(i + j) % 6] for j in range(k)) for k in (1, 2, 3, 4)]
             for i in range(3)}
    golds = {p: [float(len(r)) for r in rs] for p, rs in pools.items()}
    rows = [{"prompt": p, "response": r, "gold": g}
            for p, rs in pools.items() for r, g in zip(rs, golds[p], strict=True)]
    source = write_rows(tmp_path / "pool.jsonl", rows)
    invoke("bon", "--model", gpm_dir, "--data", source, "--gold-column", "gold",
           "--n", "1,4", "--out", tmp_path / "bon.json")
    curve = {pt["n"]: pt for pt in json.loads((tmp_path / "bon.json").read_text())["curve"]}
    _, wins = best_of_n_by_preference(load_reward_model(gpm_dir), list(pools),
                                      list(pools.values()))
    # n = pool size: the Copeland winner (ties averaged); n = 1: a uniform candidate
    top_gold = [np.mean(np.array(golds[p])[w == w.max()]) for p, w in zip(pools, wins,
                                                                           strict=True)]
    assert curve[4]["gold"] == pytest.approx(np.mean(top_gold), abs=1e-9)
    assert curve[4]["proxy"] == pytest.approx(np.mean([w.max() for w in wins]), abs=1e-9)
    assert curve[1]["gold"] == pytest.approx(np.mean([np.mean(g) for g in golds.values()]))


def test_eval_rewardbench_writes_its_own_files_beside_out(folders, tmp_path):
    rows = [{"prompt": p, "chosen": r, "rejected": RESPONSES[(i + 1) % 4], "id": f"x{i}",
             "subset": ["alpacaeval-easy", "refusals-dangerous"][i % 2]}
            for i, (p, r) in enumerate(zip(PROMPTS, RESPONSES, strict=True))]
    data = write_rows(tmp_path / "rb.jsonl", rows)
    invoke("eval", "--model", folders["a"], "--data", data, "--format", "rewardbench",
           "--suite", "rewardbench", "--out", tmp_path / "res.json")
    res = json.loads((tmp_path / "res.json").read_text())
    results_file = json.loads((tmp_path / "res.rewardbench.json").read_text())
    scores_file = json.loads((tmp_path / "res.scores.json").read_text())
    assert results_file == res["suite_results"]["results_file"]
    assert scores_file == res["suite_results"]["scores_file"]
    logits = direct_logits(folders["a"])[:, 0]
    rejected = direct_logits(folders["a"], [RESPONSES[(i + 1) % 4] for i in range(4)])[:, 0]
    np.testing.assert_allclose(scores_file["scores_chosen"], logits, atol=1e-5, rtol=0)
    np.testing.assert_allclose(scores_file["scores_rejected"], rejected, atol=1e-5, rtol=0)
    wins = (logits > rejected).astype(float)
    assert results_file["alpacaeval-easy"] == pytest.approx(wins[::2].mean())
    assert not (folders["a"] / "metrics.json").exists()  # nothing written into a HF folder


def test_serve_a_hf_folder(folders, monkeypatch):
    from fastapi.testclient import TestClient

    import rewardlab.serve.runner as serve_runner
    from rewardlab.serve import create_app

    served = []
    monkeypatch.setattr(serve_runner, "run_server", lambda m, s, **kw: served.append((m, s)))
    invoke("serve", "--model", folders["a"], "--port", "0", "--max-length", "64")
    ((model, settings),) = served
    with TestClient(create_app(model, settings)) as client:
        out = client.post("/score", json={"prompts": PROMPTS, "responses": RESPONSES})
    assert out.status_code == 200, out.text
    body = out.json()
    rewards = body["rewards"] if isinstance(body, dict) else body
    np.testing.assert_allclose(rewards, direct_logits(folders["a"])[:, 0], atol=1e-5, rtol=0)


@pytest.mark.parametrize(("extra", "split"), [([], "filtered"), (["--split", "raw"], "raw")])
def test_rewardbench_split_defaults_to_filtered(folders, tmp_path, monkeypatch, extra, split):
    import types

    asked = []
    records = [Comparison(p, (r, RESPONSES[(i + 1) % 4]), ranking=(0, 1),
                          category="alpacaeval-easy")
               for i, (p, r) in enumerate(zip(PROMPTS, RESPONSES, strict=True))]

    def load_comparisons(data, format, split):
        asked.append((data, split))
        return types.SimpleNamespace(records=records,
                                     report=types.SimpleNamespace(summary=lambda: "4 pairs"))

    monkeypatch.setattr("rewardlab.data.load.load_comparisons", load_comparisons)
    invoke("eval", "--model", folders["a"], "--data", "hf:allenai/reward-bench",
           "--suite", "rewardbench", "--out", tmp_path / "res.json", *extra)
    assert asked == [("hf:allenai/reward-bench", split)]
