"""One Hugging Face boundary: the same weights score the same by every route.

A tiny transformer reward model is fine-tuned by ``rewardlab train --backbone
transformer:TINY`` (a Llama-style decoder with a chat template that writes BOS, the
same with a template that does not, so the tokenizer adds it, and a BERT-style
encoder without a template; ``tests/tiny_hf.py``), then the same texts are scored
(a) through the saved rewardlab directory, (b) through the same weights saved as a
plain Hub folder (no ``rewardlab.json``), (c) by a direct transformers forward
written here from the model card's rules (chat template or ``prompt\\n\\nresponse``,
special tokens unless the template wrote BOS, one unpadded sequence at a time).
The loading options change a fine-tuned directory as they change a Hub folder.
Also: one CLIP loader for the backbone and the image rewards, one causal-LM loader
for judges, LM-derived rewards and generation.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rewardlab.cli.main import app
from rewardlab.load import load_reward_model
from rewardlab.models.lm.hub import HubModelOptions
from tiny_hf import CHAT_TEMPLATE, save_causal_lm, save_decoder_rm, save_encoder_rm

PROMPTS = ["what is the sky", "how can i help the dog", "hello", "why is water blue"]
RESPONSES = ["the sky is blue", "good dog", "hello world", "it is the sky . thanks"]
LONG = " ".join(["one two three four five six"] * 8) + " what is the sky"
GOOD = ["good answer yes", "sure here is the answer", "yes the fact is true", "thanks good"]
BAD = ["bad", "no", "false", "long bad no"]


def base_model(kind: str, folder):
    """The model to fine-tune: ``decoder-no-bos`` has a template without ``{{ bos_token }}``,
    so the tokenizer's own BOS is added (at training and at scoring alike)."""
    from transformers import AutoTokenizer

    if kind == "encoder":
        return save_encoder_rm(folder)
    save_decoder_rm(folder)
    if kind == "decoder-no-bos":
        tok = AutoTokenizer.from_pretrained(folder)
        tok.chat_template = CHAT_TEMPLATE.removeprefix("{{ bos_token }}")
        tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", params=["decoder", "decoder-no-bos", "encoder"])
def fine_tuned(request, tmp_path_factory):
    """(rewardlab directory, the same weights as a plain Hub folder) after `rewardlab train`."""
    root = tmp_path_factory.mktemp(request.param)
    base = base_model(request.param, root / "base")
    data = root / "pairs.jsonl"
    data.write_text("".join(
        json.dumps({"prompt": PROMPTS[i % 4], "chosen": GOOD[i % 4], "rejected": BAD[i % 3]})
        + "\n" for i in range(24)))
    out = root / "ft"
    result = CliRunner().invoke(app, [
        "train", "--data", str(data), "--backbone", f"transformer:{base}", "--out", str(out),
        "--max-length", "48", "--batch-size", "4", "--epochs", "2", "--lr", "0.001",
        "--val-fraction", "0.25", "--patience", "1",
    ])
    assert result.exit_code == 0, result.output
    hub = root / "hub"
    shutil.copytree(out, hub, ignore=shutil.ignore_patterns("rewardlab.json", "metrics.json"))
    return out, hub


def direct_scores(folder, prompts, responses) -> np.ndarray:
    """transformers alone: the text by the chat template or the plain join, with the
    tokenizer's special tokens unless the template wrote BOS itself; one fp32 forward per
    text, no padding."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for prompt, response in zip(prompts, responses, strict=True):
            if tok.chat_template:
                text = tok.apply_chat_template([{"role": "user", "content": prompt},
                                                {"role": "assistant", "content": response}],
                                               tokenize=False)
                ids = tok(text, add_special_tokens=not text.startswith(tok.bos_token))[
                    "input_ids"]
                assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id  # BOS once
            else:
                ids = tok(f"{prompt}\n\n{response}")["input_ids"]
                assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
            out.append(float(model(input_ids=torch.tensor([ids])).logits[0, 0]))
    return np.array(out)


def test_the_fine_tuned_directory_a_hub_folder_and_a_direct_forward_agree(fine_tuned):
    out, hub = fine_tuned
    saved, plain = load_reward_model(out), load_reward_model(hub)
    assert saved.max_length == 48 and saved.id.startswith("rewardlab-transformer-")
    a, b = saved.score(PROMPTS, RESPONSES), plain.score(PROMPTS, RESPONSES)
    c = direct_scores(out, PROMPTS, RESPONSES)
    np.testing.assert_allclose(a, c, atol=1e-5, rtol=0)
    np.testing.assert_allclose(b, c, atol=1e-5, rtol=0)
    assert np.ptp(c) > 1e-3  # the texts really score differently
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(out.parent / "base").eval()
    tuned = AutoModelForSequenceClassification.from_pretrained(out).eval()
    with torch.no_grad():
        moved = max(float((p - q).abs().max()) for p, q in
                    zip(base.parameters(), tuned.parameters(), strict=True))
    assert moved > 1e-4  # training changed the weights that are scored


def forward_calls(model) -> list[int]:
    calls: list[int] = []
    model.model.register_forward_pre_hook(lambda module, args, kwargs: calls.append(
        len(kwargs["input_ids"])), with_kwargs=True)
    return calls


def test_loading_options_change_a_fine_tuned_directory_as_a_hub_folder(fine_tuned):
    out, hub = fine_tuned
    prompts, responses = [LONG, *PROMPTS[1:]], RESPONSES
    default = load_reward_model(out).score(prompts, responses)
    # --max-length: the long prompt is cut from the left to 16 tokens, the same way in both
    short = [load_reward_model(m, hub=HubModelOptions(max_length=16)) for m in (out, hub)]
    assert short[0].texts(prompts, responses) == short[1].texts(prompts, responses)
    assert max(len(ids) for ids in short[0].token_ids(short[0].texts(prompts, responses))) <= 16
    cut = [m.score(prompts, responses) for m in short]
    np.testing.assert_allclose(cut[0], cut[1], atol=1e-6, rtol=0)
    assert abs(cut[0][0] - default[0]) > 1e-4
    # --dtype: the weights are loaded in bf16, in both
    half = [load_reward_model(m, hub=HubModelOptions(dtype="bf16")) for m in (out, hub)]
    assert all(next(m.model.parameters()).dtype == torch.bfloat16 for m in half)
    bf16 = [m.score(PROMPTS, RESPONSES) for m in half]
    np.testing.assert_allclose(bf16[0], bf16[1], atol=1e-6, rtol=0)
    assert np.abs(bf16[0] - load_reward_model(out).score(PROMPTS, RESPONSES)).max() > 1e-4
    # --token-budget: one text per forward at a budget of 1, all in one forward by default
    for folder in (out, hub):
        one, big = (load_reward_model(folder, hub=HubModelOptions(token_budget=t))
                    for t in (1, 16384))
        calls_one, calls_big = forward_calls(one), forward_calls(big)
        np.testing.assert_allclose(one.score(PROMPTS, RESPONSES), big.score(PROMPTS, RESPONSES),
                                   atol=1e-5, rtol=0)
        assert calls_one == [1, 1, 1, 1] and calls_big == [4]


def test_cli_loading_flags_reach_a_fine_tuned_directory(fine_tuned, tmp_path):
    out, _ = fine_tuned
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"prompt": p, "response": r}) + "\n"
                              for p, r in zip([LONG, *PROMPTS[1:]], RESPONSES, strict=True)))
    result = CliRunner().invoke(app, ["score", "--model", str(out), "--data", str(source),
                                      "--out", str(tmp_path / "o.jsonl"), "--max-length", "16",
                                      "--dtype", "bf16", "--token-budget", "64"])
    assert result.exit_code == 0, result.output
    rewards = [json.loads(line)["reward"] for line in
               (tmp_path / "o.jsonl").read_text().splitlines()]
    expected = load_reward_model(out, hub=HubModelOptions(max_length=16, dtype="bf16"))
    np.testing.assert_allclose(rewards, expected.score([LONG, *PROMPTS[1:]], RESPONSES),
                               atol=1e-6, rtol=0)


def test_one_clip_loader_for_the_backbone_and_the_image_rewards(tmp_path):
    from rewardlab.features.backbones import build_backbone
    from tiny_clip import save_clip

    folder = save_clip(tmp_path / "clip")
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((32, 32), (40, 57))]
    prompts = ["a red cat", "the dog"]
    backbone = build_backbone(f"clip-vision:{folder}")
    reward = load_reward_model(f"clip:{folder}", hub=HubModelOptions(device="cpu", dtype="fp32"))
    assert type(backbone.towers) is type(reward.tower)
    features = backbone.encode(prompts, images)
    with torch.inference_mode():
        v = reward.tower.image_features(images).numpy()
        t = reward.tower.text_features(prompts).numpy()
    np.testing.assert_allclose(features[:, :16], v, atol=1e-6)
    np.testing.assert_allclose(features[:, 16:32], v * t, atol=1e-6)
    half = load_reward_model(f"clip:{folder}", hub=HubModelOptions(dtype="bf16"))
    assert half.tower.dtype == torch.bfloat16


def test_one_causal_lm_loader_for_judges_derived_rewards_and_generation(tmp_path):
    from rewardlab.models.lm.derived import LMScorer
    from rewardlab.optimize.generate import TransformersGenerator

    lm = save_causal_lm(tmp_path / "lm")
    options = HubModelOptions(dtype="bf16", device="cpu")
    judge = load_reward_model(f"judge:{lm}", hub=options)
    scorer = LMScorer.from_path(str(lm), hub=options)
    generator = TransformersGenerator.from_path(str(lm), hub=options)
    for model in (judge.model, scorer.model, generator.model):
        assert next(model.parameters()).dtype == torch.bfloat16 and not model.training
    rm = save_decoder_rm(tmp_path / "rm")
    for load in (lambda: LMScorer.from_path(str(rm)), lambda: TransformersGenerator.from_path(
            str(rm)), lambda: load_reward_model(f"judge:{rm}")):
        with pytest.raises(ValueError, match="is not a causal LM"):
            load()
    with pytest.raises(ValueError, match="--max-length: 4096 tokens is more than the 512"):
        LMScorer.from_path(str(lm), hub=HubModelOptions(max_length=4096))
