"""The chat template is applied once: detection of already-templated text, the three modes,
and what a Hub reward model reads, checked against a direct transformers forward.

The model is a tiny random ``LlamaForSequenceClassification`` with a byte-level BPE
tokenizer trained offline and Qwen2-Instruct's chat template (``tests/tiny_hf.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rewardlab.load import load_reward_model
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.models.lm.transformer_rm import (
    carries_chat_template,
    read_as_sent,
    template_markers,
)
from tiny_hf import save_decoder_rm, save_encoder_rm, save_qwen_style_rm

SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
PROMPT, RESPONSE = "What is 2 + 2?", "The answer is 4."


@pytest.fixture(scope="module")
def qwen_rm(tmp_path_factory):
    return save_qwen_style_rm(tmp_path_factory.mktemp("qwen") / "rm")


@pytest.fixture(scope="module")
def direct(qwen_rm):
    """A transformers forward on a text as given (what OpenRLHF's serve_rm.py does)."""
    tok = AutoTokenizer.from_pretrained(qwen_rm)
    model = AutoModelForSequenceClassification.from_pretrained(qwen_rm).eval()

    def forward(text: str) -> float:
        ids = tok(text, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            return float(model(**ids).logits[0, 0])

    return forward


def templated_prompt(prompt: str = PROMPT) -> str:
    """Qwen2's rendering of one user turn with the generation prompt, written out by hand."""
    return f"{SYSTEM}<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


def test_markers_of_a_qwen_template_are_its_opening_and_its_turn_marker(qwen_rm):
    tok = AutoTokenizer.from_pretrained(qwen_rm)
    openings, turn = template_markers(tok)
    assert openings == (f"{SYSTEM}<|im_start|>user\n",)
    assert turn == "<|im_end|>\n<|im_start|>assistant\n"


def test_detection_both_branches(qwen_rm, tmp_path):
    markers = template_markers(AutoTokenizer.from_pretrained(qwen_rm))
    assert carries_chat_template(templated_prompt() + RESPONSE + "<|im_end|>", markers)
    own_system = "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
    assert carries_chat_template(own_system + "<|im_start|>assistant\nok", markers)  # turn marker
    assert not carries_chat_template(PROMPT + RESPONSE, markers)
    assert not carries_chat_template("User: hi <|im_end|> Assistant: ok", markers)
    # a template that starts with BOS: a text without the BOS text (verl cuts it) is detected
    bos_markers = template_markers(AutoTokenizer.from_pretrained(save_decoder_rm(tmp_path / "d")))
    assert bos_markers == (("<s><|user|> ", "<|user|> "), " </s> <|assistant|> ")
    assert carries_chat_template("<|user|> hi </s> ", bos_markers)


def test_a_template_without_markers_detects_nothing(qwen_rm):
    tok = AutoTokenizer.from_pretrained(qwen_rm)
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    assert template_markers(tok) == ((), None)  # blank markers would match any text
    assert read_as_sent(tok, ["a\nb"], ["c\n"]) == [False]


def test_modes_and_a_tokenizer_without_a_template(qwen_rm, tmp_path):
    tok = AutoTokenizer.from_pretrained(qwen_rm)
    prompts, responses = [templated_prompt(), PROMPT], [RESPONSE + "<|im_end|>", RESPONSE]
    assert read_as_sent(tok, prompts, responses) == [True, False]
    assert read_as_sent(tok, prompts, responses, "always") == [False, False]
    assert read_as_sent(tok, prompts, responses, "never") == [True, True]
    plain = AutoTokenizer.from_pretrained(save_encoder_rm(tmp_path / "e"))
    assert read_as_sent(plain, prompts, responses, "never") == [False, False]
    with pytest.raises(ValueError, match="'sometimes' is not one of auto, always, never"):
        read_as_sent(tok, prompts, responses, "sometimes")
    with pytest.raises(ValueError, match="option 'chat_template'"):
        HubModelOptions(chat_template="sometimes")


def test_hub_model_reads_a_templated_pair_as_sent_and_templates_a_raw_pair_once(qwen_rm, direct):
    query_prompt, query_response = templated_prompt(), RESPONSE + "<|im_end|>"
    single = templated_prompt() + RESPONSE + "<|im_end|>\n"  # Qwen's render of the two turns
    auto = load_reward_model(qwen_rm)
    got = auto.score([query_prompt, PROMPT], [query_response, RESPONSE])
    assert got == pytest.approx([direct(query_prompt + query_response), direct(single)], abs=1e-5)
    assert auto.reads_as_sent([query_prompt, PROMPT], [query_response, RESPONSE]) == [True, False]
    # always: the old behaviour, the whole templated query wrapped in the template again
    always = load_reward_model(qwen_rm, hub=HubModelOptions(chat_template="always"))
    double = templated_prompt(query_prompt) + query_response + "<|im_end|>\n"
    assert always.score([query_prompt], [query_response]) == pytest.approx([direct(double)],
                                                                           abs=1e-5)
    assert abs(direct(double) - direct(query_prompt + query_response)) > 1e-3  # it matters
    never = load_reward_model(qwen_rm, hub=HubModelOptions(chat_template="never"))
    assert never.score([PROMPT], [RESPONSE]) == pytest.approx([direct(PROMPT + RESPONSE)],
                                                              abs=1e-5)


def test_score_as_sent_reads_whole_texts_unchanged(qwen_rm, direct):
    texts = [templated_prompt() + RESPONSE + "<|im_end|>", "just some text"]
    model = load_reward_model(qwen_rm)
    assert model.score_as_sent(texts) == pytest.approx([direct(t) for t in texts], abs=1e-5)


def test_attributes_and_reward_come_from_one_forward(tmp_path):
    folder = save_qwen_style_rm(tmp_path / "multi", num_labels=3,
                                id2label={0: "helpful", 1: "honest", 2: "brief"})
    model = load_reward_model(folder)
    prompts, responses = [PROMPT, "hi"], [RESPONSE, "hello there"]
    total, attrs = model.score_with_attributes(prompts, responses)
    members = model.score_members(prompts, responses)
    assert list(attrs) == ["helpful", "honest", "brief"]
    assert np.allclose(np.stack(list(attrs.values())), members)
    assert total == pytest.approx(members.mean(axis=0)) and total == pytest.approx(
        model.score(prompts, responses))
