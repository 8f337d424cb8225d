"""Math answer equivalence: the response's final answer against the gold answer.

The final answer is extracted by these rules, in priority order (the table
test in ``tests/test_verifiers_math.py`` names the rule of each case):

1. Marker. The last, by position, of: ``\\boxed{…}`` / ``\\fbox{…}`` (braces
   balanced), a GSM8K ``#### …`` line, a line ``A: …``, and "(the) (final)
   answer is / answer: / answer = …" up to the end of its sentence (". " or
   the line's end). A later marker overrides an earlier one ("the answer is
   18. Wait: the answer is 20" answers 20).
2. A boxed answer is taken as written (LaTeX; math-verify drops ``\\text{…}``
   units).
3. Any other marker's answer is the first mathematical expression after it:
   the longest run of numbers, single-letter variables, LaTeX commands with
   their ``{…}`` groups, operators (``+ - * / ^ = < > %``), brackets and spaces
   that holds a digit or a LaTeX command. Words before it are skipped ("a total
   of 18"). The run ends at a word of two or more letters ("18 dollars",
   "0.5 because …"), a comma outside brackets ("5, since 2 + 3 = 5"), ``;``,
   ``:``, ``!``, ``?``, a letter after a number and a space (a unit: "12 m"),
   or a bracket after a number and a space (an aside: "6 (2 + 4)").
   Trailing operators and unclosed brackets are cut. An expression followed
   by "or" and another number ("5 or 6", "either 12 or 13") is a hedge: no
   answer. A marker with no expression ("the answer is unclear") gives no
   answer.
4. Inline math. ``\\(…\\)``, ``\\[…\\]`` and ``$…$`` are taken whole when the
   run starts there; ``$`` pairs follow pandoc's rule (``tex_math_dollars``:
   non-space right inside both signs, no digit right after the closing one),
   and any other ``$`` is a currency sign and is dropped ("$1,250").
5. Cleaning before rule 3: thousands separators ("1,000,000" → 1000000),
   ``\\$``, ``\\%`` → ``%``, the Unicode minus, and markdown ``**``/``__``.
6. No marker at all: math-verify's own extraction of the last mathematical
   expression of the whole response; none gives 0.
7. Equivalence: both answers are parsed by math-verify (Kydlíček et al.,
   Hugging Face, 2025: LaTeX and plain expressions turned into SymPy) and
   compared symbolically (``3/4 = 0.75 = \\frac{3}{4}``, ``18.00 = 18``; an
   equation "x = 5" or "2 + 3 = 5" by its right-hand side; math-verify takes
   ``25%`` as equal to both 25 and 0.25).

The gold answer is read by the same rules from the reference, and is the
whole reference when that gives no answer (``"72"``, ``"\\frac{1}{2}"``). Reward
1.0 when equivalent, else 0.0: only the final answer counts, so the right
number earlier in the reasoning with a different final answer scores 0. A
response with no answer scores 0; a reference with none is a failure (failure
reward, logged).

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
from bisect import bisect_left
from typing import Any

from rewardlab.verifiers._deps import math_verify
from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.bounded import worker_timeout
from rewardlab.verifiers.registry import VERIFIERS

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*([^\n]+)")
_A_LINE = re.compile(r"(?m)^\s*A:\s*([^\n]+)")
_ANSWER_IS = re.compile(
    r"(?i)\banswer\s*(?:is|:|=)\s*:?\s*(.+?)(?=\.\s|\.?\s*$|\n)", re.MULTILINE
)
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TOKEN = re.compile(
    r"(?P<num>\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<cmd>\\[A-Za-z]+)"
    r"|(?P<var>(?<![A-Za-z])[A-Za-z](?![A-Za-z]))"
    r"|(?P<op>[-+*/^=<>×÷·%]|\\[,;!% ])"
    r"|(?P<space>[ \t]+)"
)
_STARTS = set("-+([{\\.") | set("0123456789")
_TRAILING = " \t+-*/^=<>×÷·([{,\\"
_HEDGE = re.compile(r"\s*,?\s*or\s+(?:maybe\s+|perhaps\s+|possibly\s+)?[-+$]?\d")


def _brace_ends(text: str) -> dict[int, int]:
    """Index of each ``{`` → the index just past its matching ``}`` (matched ones only)."""
    ends: dict[int, int] = {}
    stack: list[int] = []
    for i, char in enumerate(text):
        if char == "{":
            stack.append(i)
        elif char == "}" and stack:
            ends[stack.pop()] = i + 1
    return ends


def _boxed_spans(text: str) -> list[tuple[int, str]]:
    ends = _brace_ends(text)
    spans = []
    for match in _BOX.finditer(text):
        end = ends.get(match.end() - 1)
        if end is not None:
            spans.append((end - 1, text[match.end() : end - 1]))
    return spans


class _Indexed:
    """A span with its braces and closing math delimiters found once, so that
    scanning it stays linear in its length."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.brace_ends = _brace_ends(text)
        self.closers = {
            "\\(": [m.start() for m in re.finditer(r"\\\)", text)],
            "\\[": [m.start() for m in re.finditer(r"\\\]", text)],
            "$": [  # pandoc: a non-space before the closing $ and no digit after it
                j for j in range(1, len(text))
                if text[j] == "$" and not text[j - 1].isspace()
                and not text[j + 1 : j + 2].isdigit()
            ],
        }

    def inline_math(self, i: int) -> tuple[str, int] | None:
        """``(content, end)`` of an inline-math segment opening at ``i``, or None (rule 4)."""
        text = self.text
        if text.startswith(("\\(", "\\["), i):
            opening, skip = text[i : i + 2], 2
        elif text[i] == "$" and i + 1 < len(text) and not text[i + 1].isspace():
            opening, skip = "$", 1
        else:
            return None
        closers = self.closers[opening]
        k = bisect_left(closers, i + 2)
        if k == len(closers):
            return None
        return text[i + skip : closers[k]], closers[k] + skip

    def run_at(self, i: int) -> tuple[str | None, int]:
        """The expression starting at ``i`` (None when it holds no digit or LaTeX
        command) and where the run of math tokens from ``i`` ends (rule 3)."""
        text = self.text
        pos, depth, valid, last, spaced = i, 0, False, "", False
        while pos < len(text):
            char = text[pos]
            if char == "{" and pos in self.brace_ends:  # a LaTeX group is taken whole
                close = self.brace_ends[pos]
                valid = valid or any(c.isdigit() for c in text[pos:close])
                pos, last, spaced = close, "group", False
                continue
            if char == "(" and last == "num" and spaced:
                break  # "6 (2 + 4)": a bracket after a number and a space is an aside
            if char in "([" or (char in ")]," and depth > 0):  # "," inside a tuple (2, 3)
                depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
                pos, last, spaced = pos + 1, "bracket", False
                continue
            match = _TOKEN.match(text, pos)
            if match is None or (match.lastgroup == "var" and last == "num" and spaced):
                break  # "12 m": a letter after a number and a space is a unit
            if match.lastgroup == "space":
                spaced = True
            else:
                valid = valid or match.lastgroup in ("num", "cmd")
                last, spaced = match.lastgroup, False
            pos = match.end()
        run = _close_brackets(text[i:pos].rstrip(_TRAILING))
        if not valid or not any(c.isdigit() or c == "\\" for c in run):
            return None, pos
        return run, pos


def _close_brackets(run: str) -> str:
    """``run`` cut before its first bracket that is never closed."""
    opened: list[int] = []
    for k, char in enumerate(run):
        if char in "([":
            opened.append(k)
        elif char in ")]" and opened:
            opened.pop()
    return run[: opened[0]].rstrip(_TRAILING) if opened else run


def first_expression(text: str) -> str | None:
    """The first mathematical expression in ``text`` by rules 3 to 5 of the module doc.

    None when there is none; "" when it is followed by "or" and another number.
    """
    text = _DIGIT_COMMA.sub("", text.replace("\u2212", "-").replace("**", "").replace("__", ""))
    indexed = _Indexed(text)
    i = 0
    while i < len(text):
        found = indexed.inline_math(i)
        if found is None and (text[i] in _STARTS or text[i].isalpha()):
            run, end = indexed.run_at(i)
            if run is None:  # a run from inside this one holds no digit either
                i = max(end, i + 1)
                continue
            found = run, end
        if found is None:
            i += 1
            continue
        expression, end = found
        return "" if _HEDGE.match(text, end) else expression.strip()
    return None


def final_answer_span(text: str) -> str | None:
    """The final answer of ``text`` by the module doc's rule, or None when it has no marker.

    "" when the last marker holds no answer (no expression, or a hedge).
    """
    found = [(end, span, True) for end, span in _boxed_spans(text)]
    for pattern in (_HASHES, _A_LINE, _ANSWER_IS):
        found += [(m.end(1), m.group(1), False) for m in pattern.finditer(text)]
    if not found:
        return None
    _, span, boxed = max(found, key=lambda item: item[0])
    if boxed:
        return span.strip()
    return first_expression(span.replace("\\$", "$").replace("$$", "$")) or ""


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
    needs = (math_verify,)
    examples = (Example("so \\boxed{4}", "4", 1.0), Example("so \\boxed{5}", "4", 0.0),
                Example("so \\boxed{4}", "$$", None))  # no answer in the reference

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
