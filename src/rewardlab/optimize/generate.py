"""Generators: what guided search, steering and value-augmented sampling draw text from.

A :class:`Generator` samples whole responses (``generate(prompt, n)``); a
:class:`StepGenerator` also proposes next steps of a partial solution
(``propose(prompt, partial_steps, k)``), a step being a line or a sentence.
An empty proposal means the generator ended its turn there, so the partial
solution is complete.

:class:`TransformersGenerator` implements both on a Hugging Face causal LM
(SmolLM2-135M-Instruct by default): the prompt is rendered with the chat
template (user turn = prompt, HH-RLHF transcripts become their turns) and the
partial steps follow the assistant header, each ended by a newline (lines) or
a space (sentences); whitespace before a step is skipped. Sampling is
the usual temperature + nucleus (top-p, Holtzman et al. 2020, "The Curious
Case of Neural Text Degeneration"): keep the smallest set of most likely
tokens whose probability reaches p, renormalize, draw. Draws use a
``torch.Generator`` seeded from ``(seed, crc32(prompt and partial steps))``,
so the same question gets the same answer and nothing touches global RNGs:
the k draws of one ``propose`` call are independent, but two calls with the
same prefix return the same draws, so a caller that needs m independent next
steps of one prefix asks for them in one call (as FK steering does).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from rewardlab.models.lm.derived import render_parts, to_messages

SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s")
STEP_UNITS = ("line", "sentence")


@runtime_checkable
class Generator(Protocol):
    """Samples ``n`` responses to a prompt."""

    def generate(self, prompt: str, n: int) -> list[str]: ...


@runtime_checkable
class StepGenerator(Generator, Protocol):
    """Also proposes ``k`` independent candidate next steps ("" = the response ends here)."""

    def propose(self, prompt: str, partial_steps: Sequence[str], k: int) -> list[str]: ...


@dataclass
class SamplingConfig:
    """How :class:`TransformersGenerator` samples.

    Attributes:
        max_new_tokens: most tokens of a whole response.
        max_step_tokens: most tokens of one proposed step.
        temperature: logits are divided by it (> 0).
        top_p: nucleus mass kept (0 < top_p ≤ 1).
        seed: base seed of every draw.
        step_unit: ``"line"`` (a step ends at a newline) or ``"sentence"``.

    Where the model runs and in which dtype is the loader's business
    (:func:`rewardlab.models.lm.loading.load_causal_lm`).
    """

    max_new_tokens: int = 128
    max_step_tokens: int = 64
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 0
    step_unit: str = "line"

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"field 'temperature': must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"field 'top_p': must be in (0, 1], got {self.top_p}")
        if self.step_unit not in STEP_UNITS:
            raise ValueError(
                f"field 'step_unit': expected one of {STEP_UNITS}, got {self.step_unit!r}"
            )


def nucleus_filter(logits: Any, top_p: float) -> Any:
    """Logits with every token outside the top-p nucleus set to −inf (per row)."""
    import torch

    if top_p >= 1:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    before = probs.cumsum(-1) - probs  # mass of the strictly more likely tokens
    drop_sorted = before >= top_p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def step_end(text: str, unit: str) -> int | None:
    """Length of the first complete step in ``text`` (boundary included), or None."""
    if unit == "line":
        cut = text.find("\n")
        return None if cut < 0 else cut + 1
    match = SENTENCE_END.search(text)
    return None if match is None else match.end()


class TransformersGenerator:
    """A :class:`StepGenerator` sampling from a causal LM with a KV cache."""

    def __init__(self, model: Any, tokenizer: Any, config: SamplingConfig | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or SamplingConfig()

    @classmethod
    def from_path(
        cls, path: str | None = None, config: SamplingConfig | None = None, hub: Any = None
    ) -> TransformersGenerator:
        """Load a causal LM (default: the cached SmolLM2-135M-Instruct) with the loading
        options ``hub`` (:func:`rewardlab.models.lm.loading.load_causal_lm`)."""
        from rewardlab.models.lm.loading import load_causal_lm

        model, tokenizer = load_causal_lm(path, hub)
        return cls(model, tokenizer, config)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def context_ids(self, prompt: str, partial_steps: Sequence[str] = ()) -> list[int]:
        """Token ids of the rendered prompt, assistant header and the steps so far."""
        before, _ = render_parts(self.tokenizer, to_messages(prompt), ["assistant"])
        joiner = "\n" if self.config.step_unit == "line" else " "
        text = before + "".join(s + joiner for s in partial_steps)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _seeded(self, prompt: str, partial_steps: Sequence[str]) -> Any:
        import torch

        key = zlib.crc32("\x1f".join([prompt, *partial_steps]).encode("utf-8"))
        return torch.Generator().manual_seed(self.config.seed * 1_000_003 + key)

    def sample(
        self,
        context: list[int],
        n: int,
        max_tokens: int,
        rng: Any,
        stop: Callable[[str], bool] | None = None,
    ) -> list[str]:
        """``n`` continuations of ``context``, each until end of turn, ``max_tokens``
        or ``stop(decoded text so far)``."""
        import torch

        if n < 1:
            raise ValueError(f"field 'n': need n >= 1, got {n}")
        device = self.device
        eos = (
            {int(self.tokenizer.eos_token_id)} if self.tokenizer.eos_token_id is not None else set()
        )
        ids = torch.tensor([context] * n, dtype=torch.long, device=device)
        tokens: list[list[int]] = [[] for _ in range(n)]
        done = [False] * n
        with torch.inference_mode():
            out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
            for _ in range(max_tokens):
                logits = nucleus_filter(
                    out.logits[:, -1].float() / self.config.temperature, self.config.top_p
                )
                probs = logits.softmax(-1).cpu()
                nxt = torch.multinomial(probs, 1, generator=rng).squeeze(-1)
                for i in range(n):
                    if done[i]:
                        continue
                    token = int(nxt[i])
                    if token in eos:
                        done[i] = True
                        continue
                    tokens[i].append(token)
                    if stop is not None and stop(self.tokenizer.decode(tokens[i])):
                        done[i] = True
                if all(done):
                    break
                out = self.model(
                    input_ids=nxt[:, None].to(device),
                    past_key_values=out.past_key_values,
                    use_cache=True,
                    logits_to_keep=1,
                )
        return [self.tokenizer.decode(t, skip_special_tokens=True) for t in tokens]

    def generate(self, prompt: str, n: int) -> list[str]:
        """``n`` sampled responses (stripped)."""
        rng = self._seeded(prompt, ())
        texts = self.sample(self.context_ids(prompt), n, self.config.max_new_tokens, rng)
        return [t.strip() for t in texts]

    def propose(self, prompt: str, partial_steps: Sequence[str], k: int) -> list[str]:
        """``k`` sampled next steps (boundary and surrounding space stripped)."""
        unit = self.config.step_unit
        rng = self._seeded(prompt, partial_steps)
        texts = self.sample(
            self.context_ids(prompt, partial_steps),
            k,
            self.config.max_step_tokens,
            rng,
            stop=lambda text: step_end(text.lstrip(), unit) is not None,
        )
        steps = []
        for text in texts:
            text = text.lstrip()
            cut = step_end(text, unit)
            steps.append((text if cut is None else text[:cut]).strip())
        return steps
