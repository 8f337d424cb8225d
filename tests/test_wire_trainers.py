"""Each trainer's own reward-calling code against a real ``rewardlab serve``: the served
reward equals a direct transformers forward on the text the trainer's own reward server
would score (OpenRLHF ``serve_rm.py``, LLaMA-Factory's API server, vLLM's classify).

The reward model is a tiny random ``LlamaForSequenceClassification`` with a byte-level BPE
tokenizer and Qwen2-Instruct's chat template, built offline (``tests/tiny_hf.py``). The
trainers' code is in ``tests/trainer_clients.py``, copied with repository and commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from cli_server import start_cli, stop
from rewardlab.load import load_reward_model
from rewardlab.models.lm.hub import HubModelOptions
from rewardlab.serve.app import create_app
from rewardlab.serve.runner import BackgroundServer
from tiny_hf import save_qwen_style_rm

pytest.importorskip("aiohttp")
from trainer_clients import (  # noqa: E402
    SingleTurnAgentExecutor,
    llamafactory_get_rewards,
)

QUESTIONS = ["What is 2 + 2?", "Why is the sky blue?", "Name a red fruit."]
ANSWERS = ["The answer is 4.", "Because of water and the sky.", "A red apple, please."]


@pytest.fixture(scope="module")
def chat_rm(tmp_path_factory) -> Path:
    return save_qwen_style_rm(tmp_path_factory.mktemp("wire") / "chat_rm")


@pytest.fixture(scope="module")
def tok(chat_rm):
    return AutoTokenizer.from_pretrained(chat_rm)


@pytest.fixture(scope="module")
def direct(chat_rm, tok):
    """A transformers forward on a text as given, no special tokens added: what OpenRLHF's
    serve_rm.py and LLaMA-Factory's hf_engine._get_scores compute for a request's text."""
    model = AutoModelForSequenceClassification.from_pretrained(chat_rm).eval()

    def forward(text: str) -> float:
        ids = tok(text, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            return float(model(**ids).logits[0, 0])

    return forward


@pytest.fixture(scope="module")
def chat_cli(chat_rm) -> Iterator[str]:
    """``rewardlab serve --model CHAT_RM`` (default --chat-template auto)."""
    proc, url = start_cli(["--model", str(chat_rm)])
    yield url
    stop(proc)


def chat_prompt(tok, question: str) -> str:
    """The prompt OpenRLHF builds with --apply_chat_template (prompts_dataset.preprocess_data:
    apply_chat_template(chat, tokenize=False, add_generation_prompt=True))."""
    return tok.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                   add_generation_prompt=True)


class FakeVLLM:
    """Stands in for OpenRLHF's vLLM engine: 'generates' a fixed answer and EOS."""

    def __init__(self, tok, answer: str) -> None:
        self.ids = tok(answer, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        out = SimpleNamespace(token_ids=list(self.ids), finish_reason="stop", logprobs=None)
        return SimpleNamespace(outputs=[out])


def openrlhf_rollout(url: str, tok, question: str, answer: str, label: str = "") -> dict:
    """One rollout through OpenRLHF's SingleTurnAgentExecutor (its own HTTP reward call)."""
    executor = SingleTurnAgentExecutor(remote_rm_url=[f"{url}/get_reward"])
    params = SimpleNamespace(max_tokens=64, logprobs=None)
    return asyncio.run(executor.execute(chat_prompt(tok, question), label, params, 256, tok,
                                        FakeVLLM(tok, answer)))


# --------------------------------------------------------------------- OpenRLHF


def test_openrlhf_executor_gets_the_forward_on_its_single_templated_query(chat_cli, tok, direct):
    for question, answer in zip(QUESTIONS, ANSWERS, strict=True):
        out = openrlhf_rollout(chat_cli, tok, question, answer)
        query = chat_prompt(tok, question) + answer + "<|im_end|>"  # what the executor sends
        assert tok.decode(out["observation_tokens"], skip_special_tokens=False) == query
        # the executor keeps the answer's one-element lists ("rewards", "scores")
        assert out["reward"] == pytest.approx([direct(query)], abs=1e-4)
        assert out["scores"] == out["reward"]
        assert out["extra_logs"]["prompt_split"] == [1.0]
        assert out["extra_logs"]["suffix_stripped"] == [0.0]  # read as sent, EOS kept


def test_templating_twice_would_be_far_off(chat_rm, tok, direct):
    """--chat-template always (rewardlab's old behaviour) wraps the templated query again."""
    model = load_reward_model(chat_rm, hub=HubModelOptions(chat_template="always"))
    with BackgroundServer(create_app(model)) as server:
        gaps = []
        for question, answer in zip(QUESTIONS, ANSWERS, strict=True):
            out = openrlhf_rollout(server.url, tok, question, answer)
            gaps.append(abs(out["reward"][0] - direct(chat_prompt(tok, question) + answer
                                                   + "<|im_end|>")))
    assert max(gaps) > 1e-2


def test_untemplated_openrlhf_query_gets_the_template_once(chat_cli, tok, direct):
    """Without --apply_chat_template the query is raw text: the policy's EOS is cut and the
    served model's template is applied once, as on /score."""
    question, answer = QUESTIONS[0], ANSWERS[0]
    body = {"query": [question + " " + answer + "<|im_end|>"], "prompts": [question + " "],
            "labels": [""]}
    out = httpx.post(f"{chat_cli}/get_reward", json=body).json()
    once = tok.apply_chat_template(
        [{"role": "user", "content": question + " "}, {"role": "assistant", "content": answer}],
        tokenize=False,
    )
    assert out["rewards"][0] == pytest.approx(direct(once), abs=1e-4)
    assert out["extra_logs"]["suffix_stripped"] == [1.0]
    score = httpx.post(f"{chat_cli}/score", json={"prompts": [question + " "],
                                                  "responses": [answer]}).json()
    assert score["rewards"][0] == pytest.approx(direct(once), abs=1e-4)


def test_multi_attribute_model_logs_each_attribute(tmp_path, tok):
    names = {0: "helpful", 1: "honest"}
    folder = save_qwen_style_rm(tmp_path / "multi", num_labels=2, id2label=names, seed=3)
    hf = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with BackgroundServer(create_app(load_reward_model(folder))) as server:
        out = openrlhf_rollout(server.url, tok, QUESTIONS[1], ANSWERS[1])
        info = httpx.get(f"{server.url}/info").json()
        score = httpx.post(f"{server.url}/score", json={"prompts": [chat_prompt(tok, QUESTIONS[1])],
                                                        "responses": [ANSWERS[1] + "<|im_end|>"]})
    query = chat_prompt(tok, QUESTIONS[1]) + ANSWERS[1] + "<|im_end|>"
    with torch.no_grad():
        logits = hf(**tok(query, add_special_tokens=False, return_tensors="pt")).logits[0]
    assert out["extra_logs"]["helpful"] == pytest.approx([float(logits[0])], abs=1e-4)
    assert out["extra_logs"]["honest"] == pytest.approx([float(logits[1])], abs=1e-4)
    assert out["reward"] == pytest.approx([float(logits.mean())], abs=1e-4)
    assert info["attributes"] == ["helpful", "honest"]
    assert score.json()["attributes"] == {k: v for k, v in out["extra_logs"].items()
                                          if k in ("helpful", "honest")}


# --------------------------------------------------------------------- LLaMA-Factory and verl


def test_llamafactory_client_gets_what_its_api_server_computes(chat_cli, tok, direct):
    queries = [torch.tensor(tok(chat_prompt(tok, q), add_special_tokens=False)["input_ids"])
               for q in QUESTIONS]
    responses = [torch.tensor(tok(a, add_special_tokens=False)["input_ids"]
                              + [tok.eos_token_id]) for a in ANSWERS]
    rewards = llamafactory_get_rewards(tok, f"{chat_cli}/v1/score/evaluation", queries,
                                       responses)
    expected = [direct(chat_prompt(tok, q) + a + "<|im_end|>") for q, a in zip(QUESTIONS, ANSWERS)]
    assert rewards.tolist() == pytest.approx(expected, abs=1e-4)
    # a text in another format is scored as sent too (LLaMA-Factory's server templates nothing)
    plain = "Human: hi\nAssistant: hello there<|im_end|>"
    out = httpx.post(f"{chat_cli}/v1/score/evaluation", json={"model": "m", "messages": [plain]})
    assert out.json()["scores"] == pytest.approx([direct(plain)], abs=1e-4)


def test_vllm_classify_reads_verls_templated_text_as_sent(chat_cli, tok, direct):
    """verl's compute_score_disrm renders the RM's chat template (and cuts a BOS text, which
    this tokenizer has none of) and posts it to /classify with activation false."""
    text = tok.apply_chat_template(
        [{"role": "user", "content": QUESTIONS[2]}, {"role": "assistant", "content": ANSWERS[2]}],
        tokenize=False,
    )
    out = httpx.post(f"{chat_cli}/classify",
                     json={"model": "rm", "input": text, "activation": False}).json()
    assert out["data"][-1]["probs"][-1] == pytest.approx(direct(text), abs=1e-4)


def test_chat_template_always_templates_whole_texts_too(chat_rm, direct):
    """--chat-template always: a whole text loses its end-of-turn text and becomes the
    assistant turn after an empty user turn (rewardlab's behaviour before)."""
    model = load_reward_model(chat_rm, hub=HubModelOptions(chat_template="always"))
    with BackgroundServer(create_app(model)) as server:
        out = httpx.post(f"{server.url}/v1/score/evaluation",
                         json={"messages": ["just some text<|im_end|>"]}).json()
    wrapped = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
               "<|im_end|>\n<|im_start|>assistant\njust some text<|im_end|>\n")
    assert out["scores"] == pytest.approx([direct(wrapped)], abs=1e-4)
