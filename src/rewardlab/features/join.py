"""How a prompt and a response become one text for an encoder.

The joined text is ``<prompt tail>\\n\\n<response>``. Encoders have a token
budget (``max_length``); when the pair does not fit, the *start* of the prompt
is dropped (left truncation), because in a multi-turn transcript the last turns
are the ones the response answers, and the response itself is never cut for the
prompt's sake. The prompt keeps at least ``max_length // 4`` of its last tokens
when it has that many, so a long response does not lose its context entirely;
the tokenizer then truncates the joined text from the right.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

SEPARATOR = "\n\n"

CountTokens = Callable[[Sequence[str]], list[list[tuple[int, int]]]]
"""Returns, for each text, the (start, end) character span of each token."""


def join_pair(prompt: str, response: str) -> str:
    """The joined text when the pair fits the budget."""
    if not prompt:
        return response
    return f"{prompt}{SEPARATOR}{response}"


def prompt_token_budget(n_prompt: int, n_response: int, max_length: int) -> int:
    """How many trailing prompt tokens to keep (2 slots go to special tokens)."""
    room = max_length - 2 - len(SEPARATOR.split()) - n_response
    return min(n_prompt, max(room, max_length // 4))


def join_truncated(
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int,
    token_spans: CountTokens,
) -> list[str]:
    """Join each pair, cutting the prompt from the left to fit ``max_length`` tokens.

    ``token_spans`` maps texts to the character spans of their tokens (a fast
    tokenizer's offsets), so the cut falls on a token boundary of the original
    string and the kept tail is the exact original text.
    """
    prompt_spans = token_spans(prompts)
    response_counts = [len(s) for s in token_spans(responses)]
    joined = []
    for prompt, response, spans, n_response in zip(
        prompts, responses, prompt_spans, response_counts, strict=True
    ):
        keep = prompt_token_budget(len(spans), n_response, max_length)
        if keep < len(spans):
            prompt = prompt[spans[len(spans) - keep][0] :] if keep > 0 else ""
        joined.append(join_pair(prompt, response))
    return joined
