"""Published Hugging Face reward models through ``load_reward_model`` (tiny random checkpoints)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rewardlab.load import load_reward_ensemble, load_reward_model
from rewardlab.models.lm.chat import token_budget_batches
from rewardlab.models.lm.hf_reward import HFRewardModel
from rewardlab.models.lm.hub import HubModelOptions
from tiny_hf import fill_hub_cache, save_causal_lm, save_decoder_rm, save_encoder_rm

PROMPTS = ["what is the sky", "how can i help the dog", "hello", "why is water blue"]
RESPONSES = ["the sky is blue", "good dog", "hello world", "it is the sky . thanks"]
LABELS = {0: "helpfulness", 1: "correctness", 2: "verbosity"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {
        "decoder": save_decoder_rm(root / "decoder"),
        "encoder": save_encoder_rm(root / "encoder"),
        "multi": save_decoder_rm(root / "multi", num_labels=3, id2label=LABELS, seed=1),
        "causal": save_causal_lm(root / "causal"),
    }


def direct_scores(folder, ids_list) -> np.ndarray:
    """One unpadded AutoModelForSequenceClassification forward per input, fp32."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return np.stack([model(input_ids=torch.tensor([ids])).logits[0].numpy()
                         for ids in ids_list])


def test_decoder_score_is_a_direct_forward_of_the_chat_template(folders):
    from transformers import AutoTokenizer

    model = load_reward_model(folders["decoder"])
    assert isinstance(model, HFRewardModel)
    tok = AutoTokenizer.from_pretrained(folders["decoder"])
    texts = [tok.apply_chat_template([{"role": "user", "content": p},
                                      {"role": "assistant", "content": r}], tokenize=False)
             for p, r in zip(PROMPTS, RESPONSES, strict=True)]
    assert model.texts(PROMPTS, RESPONSES) == texts
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert all(i[0] == tok.bos_token_id and i[1] != tok.bos_token_id for i in ids)  # BOS once
    expected = direct_scores(folders["decoder"], ids)[:, 0]
    np.testing.assert_allclose(model.score(PROMPTS, RESPONSES), expected, atol=1e-5, rtol=0)
    assert np.ptp(expected) > 1e-3  # the inputs really score differently


def test_encoder_without_template_reads_the_plain_join_with_special_tokens(folders):
    from transformers import AutoTokenizer

    model = load_reward_model(folders["encoder"])
    tok = AutoTokenizer.from_pretrained(folders["encoder"])
    texts = [f"{p}\n\n{r}" for p, r in zip(PROMPTS, RESPONSES, strict=True)]
    assert model.texts(PROMPTS, RESPONSES) == texts
    ids = [tok(t)["input_ids"] for t in texts]
    assert ids[0][0] == tok.bos_token_id and ids[0][-1] == tok.eos_token_id
    expected = direct_scores(folders["encoder"], ids)[:, 0]
    np.testing.assert_allclose(model.score(PROMPTS, RESPONSES), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["decoder", "encoder"])
def test_batch_size_and_input_order_never_change_a_score(folders, kind):
    one = load_reward_model(folders[kind], hub=HubModelOptions(token_budget=1))
    big = load_reward_model(folders[kind], hub=HubModelOptions(token_budget=10_000))
    base = one.score(PROMPTS, RESPONSES)
    np.testing.assert_allclose(big.score(PROMPTS, RESPONSES), base, atol=1e-6, rtol=0)
    perm = [2, 0, 3, 1]
    shuffled = big.score([PROMPTS[i] for i in perm], [RESPONSES[i] for i in perm])
    np.testing.assert_allclose(shuffled, base[perm], atol=1e-6, rtol=0)


def test_token_budget_batches_are_length_sorted_and_within_budget():
    batches = list(token_budget_batches([3, 10, 4, 10, 1], token_budget=20))
    assert [b.tolist() for b in batches] == [[1, 3], [2, 0, 4]]
    assert list(token_budget_batches([50], token_budget=8))[0].tolist() == [0]


def test_truncation_cuts_the_prompt_from_the_left_and_keeps_the_response(folders):
    from transformers import AutoTokenizer

    model = load_reward_model(folders["decoder"], hub=HubModelOptions(max_length=24))
    tok = AutoTokenizer.from_pretrained(folders["decoder"])
    prompt = " ".join(["one two three four five six"] * 10) + " what is the sky"
    response = "the sky is blue . thanks"
    (text,) = model.texts([prompt], [response])
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) <= 24
    assert text.endswith(f"<|assistant|> {response} </s> ")
    assert "what is the sky" in text and not text.startswith("<s><|user|> one two")
    expected = direct_scores(folders["decoder"], [ids])[0, 0]
    assert model.score([prompt], [response])[0] == pytest.approx(expected, abs=1e-5)


def test_several_outputs_are_named_attributes_and_reduced_by_weights(folders):
    model = load_reward_model(folders["multi"])
    assert model.attribute_names == ["helpfulness", "correctness", "verbosity"]
    attrs = model.score_attributes(PROMPTS, RESPONSES)
    rows = np.stack([attrs[n] for n in model.attribute_names])
    np.testing.assert_allclose(model.score(PROMPTS, RESPONSES), rows.mean(axis=0), atol=1e-12)
    weighted = load_reward_model(folders["multi"], hub=HubModelOptions(weights=(1.0, 0.0, -2.0)))
    np.testing.assert_allclose(weighted.score(PROMPTS, RESPONSES), rows[0] - 2 * rows[2],
                               atol=1e-5)
    with pytest.raises(ValueError, match="has 3 outputs, got 2 weights"):
        load_reward_model(folders["multi"], hub=HubModelOptions(weights=(1.0, 1.0)))
    wco = load_reward_model(folders["multi"], aggregate="wco")
    np.testing.assert_allclose(wco.score(PROMPTS, RESPONSES), rows.min(axis=0), atol=1e-5)


def test_hf_name_resolves_through_an_offline_cache(folders, tmp_path, monkeypatch):
    fill_hub_cache(tmp_path / "hub", "tiny-org/tiny-rm", folders["decoder"])
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    by_name = load_reward_model("hf:tiny-org/tiny-rm")
    by_path = load_reward_model(folders["decoder"])
    np.testing.assert_allclose(by_name.score(PROMPTS, RESPONSES),
                               by_path.score(PROMPTS, RESPONSES), atol=1e-6)
    with pytest.raises(ValueError, match="'hf:tiny-org/absent'.*not in the Hugging Face cache"):
        load_reward_model("hf:tiny-org/absent")
    with pytest.raises(ValueError, match="expected hf:ORG/NAME"):
        load_reward_model("hf:no-slash")


def test_bad_specs_give_one_clear_line(folders, tmp_path):
    with pytest.raises(ValueError, match=r"'nope:x'.*hf:ORG/NAME, judge:PATH") as err:
        load_reward_model("nope:x")
    assert "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty: no config.json"):
        load_reward_model(tmp_path / "empty")
    remote = tmp_path / "remote"
    shutil.copytree(folders["decoder"], remote)
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_x.XForReward"}
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="remote/config.json: .*--trust-remote-code"):
        load_reward_model(remote)
    with pytest.raises(ValueError, match="not a sequence classifier.*judge:"):
        load_reward_model(folders["causal"])
    with pytest.raises(ValueError, match="option 'dtype'"):
        HubModelOptions(dtype="int3")


def test_hub_models_form_one_ensemble(folders):
    members = np.stack([load_reward_model(folders[k]).score(PROMPTS, RESPONSES)
                        for k in ("decoder", "encoder")])
    for aggregate, expected in [("mean", members.mean(axis=0)), ("wco", members.min(axis=0)),
                                ("uwo", members.mean(axis=0) - 2.0 * members.var(axis=0))]:
        params = {"lam": 2.0} if aggregate == "uwo" else {}
        ens = load_reward_ensemble([folders["decoder"], folders["encoder"]], aggregate, **params)
        np.testing.assert_allclose(ens.score(PROMPTS, RESPONSES), expected, atol=1e-5)


def test_cli_score_adds_a_reward_field_from_a_hub_folder(folders, tmp_path):
    from rewardlab.cli.main import app

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n"
                           for p, r in zip(PROMPTS, RESPONSES, strict=True)))
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["score", "--model", str(folders["decoder"]),
                                      "--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rewards = [json.loads(line)["reward"] for line in out.read_text().splitlines()]
    expected = load_reward_model(folders["decoder"]).score(PROMPTS, RESPONSES)
    np.testing.assert_allclose(rewards, expected, atol=1e-6)


def test_hf_scoring_benchmark_tiny_run_matches_the_pipeline(tmp_path, shared_data):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import hf_scoring

    out = tmp_path / "hf.json"
    result = hf_scoring.main(["--n", "6", "--repeats", "1", "--max-length", "64",
                              "--data", str(shared_data), "--out", str(out)])
    assert json.loads(out.read_text())["n_texts"] == 6
    assert result["max_abs_score_diff"] < 1e-4  # same model, same texts, same scores
    assert result["speedup"] > 0 and len(result["runs_s"]["pipeline"]) == 1


def test_cli_eval_of_a_hub_folder_leaves_the_folder_untouched(folders, tmp_path):
    from rewardlab.cli.main import app

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "chosen": r, "rejected": "bad"}) + "\n"
                            for p, r in zip(PROMPTS, RESPONSES, strict=True)))
    out = tmp_path / "res.json"
    result = CliRunner().invoke(app, ["eval", "--model", str(folders["encoder"]),
                                      "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    model = load_reward_model(folders["encoder"])
    chosen = model.score(PROMPTS, RESPONSES)
    rejected = model.score(PROMPTS, ["bad"] * len(PROMPTS))
    assert json.loads(out.read_text())["metrics"]["accuracy"] == pytest.approx(
        np.mean(chosen > rejected))
    assert not (folders["encoder"] / "metrics.json").exists()
