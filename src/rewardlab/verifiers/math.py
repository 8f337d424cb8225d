"""Math answer equivalence: the response's final answer against the gold answer.

Rule. The *final answer* of a text is the last of these spans (by position):
``\\boxed{…}`` / ``\\fbox{…}`` (braces balanced), a GSM8K ``#### n`` line, a
line ``A: n``, and "(the) (final) answer is n" / "answer: n" up to the end of
its sentence or line. When the response has none of them, math-verify's own
extraction of the last mathematical expression is used. The gold answer is
read the same way from the reference, and is the whole reference when it has
no marker (``"72"``, ``"\\frac{1}{2}"``). Both are parsed by math-verify
(Kydlíček et al., Hugging Face, 2025: LaTeX and plain expressions turned into
SymPy) and compared for symbolic equivalence (``1/2 = 0.5 = \\frac{1}{2}``,
``1,000 = 1000``). Reward 1.0 when equivalent, else 0.0: only the final answer
counts, so the right number earlier in the reasoning with a different final
answer scores 0. A response with no parsable final answer scores 0; a
reference with none is a failure (failure reward, logged).

Each sample is checked in a worker process under a hard ``timeout`` (5 s by
default; :mod:`rewardlab.verifiers.bounded`), so an answer that makes SymPy
compute for minutes (``\\boxed{9^{9^{9}}}``) gets the failure reward in any
thread. There the check runs in the main thread, where math-verify's own
``signal.alarm`` timeouts work; they are set past the hard bound, so that the
bound, not math-verify's quiet ``False``, decides.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from rewardlab.verifiers._deps import math_verify
from rewardlab.verifiers.base import Verifier
from rewardlab.verifiers.bounded import worker_timeout
from rewardlab.verifiers.registry import VERIFIERS

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*([^\n]+)")
_A_LINE = re.compile(r"(?m)^\s*A:\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?i)\banswer\s*(?:is|:|=)\s*:?\s*(.+?)(?=\.\s|\.?\s*$|\n)", re.MULTILINE
)
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")


def _boxed_spans(text: str) -> list[tuple[int, str]]:
    spans = []
    for match in _BOX.finditer(text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                spans.append((i, text[start:i]))
                break
    return spans


def final_answer_span(text: str) -> str | None:
    """The text of the last final-answer marker in ``text`` (see the module doc), or None."""
    found = _boxed_spans(text)
    for pattern in (_HASHES, _A_LINE, _ANSWER_IS):
        found += [(m.end(1), m.group(1)) for m in pattern.finditer(text)]
    if not found:
        return None
    span = max(found, key=lambda item: item[0])[1]
    return span.strip().rstrip(".").strip()


def _clean(span: str) -> str:
    span = span.replace("\\$", "").replace("\\%", "%")
    return _DIGIT_COMMA.sub("", span)


def _timeout() -> int | None:
    """math-verify's signal-based timeout (seconds), only possible in the main thread.

    In a bounded worker it is set past the worker's hard per-sample bound, so
    that bound decides (the failure reward, logged) rather than math-verify's
    quiet ``False``; elsewhere 5 s, math-verify's default.
    """
    bound = worker_timeout()
    if bound is not None:
        return int(bound) + 1
    return 5 if threading.current_thread() is threading.main_thread() else None


def _parse(text: str) -> list[Any]:
    mv = math_verify()
    configs = [mv.LatexExtractionConfig(), mv.ExprExtractionConfig()]
    return mv.parse(text, extraction_config=configs, parsing_timeout=_timeout())


def _as_math(span: str) -> str:
    """Wrap a bare span so math-verify's LaTeX extraction sees it as one expression."""
    return span if "$" in span or "\\(" in span else f"${span}$"


@VERIFIERS.register("math")
class MathVerifier(Verifier):
    """1.0 when the response's final answer is equivalent to the reference's, else 0.0.

    See the module docstring for how final answers are found.
    """

    name = "math"
    requires_reference = True
    preload = ("math_verify",)

    def check(self, prompt: str, response: str, reference: Any) -> float:
        gold_span = final_answer_span(str(reference)) or str(reference).strip()
        gold = _parse(_as_math(_clean(gold_span))) or _parse(_clean(gold_span))
        if not gold:
            raise ValueError(f"no answer could be parsed from the reference {gold_span[:80]!r}")
        span = final_answer_span(response)
        if span is None:
            answer = _parse(_clean(response))
        else:
            answer = _parse(_as_math(_clean(span))) or _parse(_clean(span))
        if not answer:
            return 0.0
        return 1.0 if math_verify().verify(gold, answer, timeout_seconds=_timeout()) else 0.0
