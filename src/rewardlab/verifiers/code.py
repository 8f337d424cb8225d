"""Code execution against test cases, in the sandbox (:mod:`rewardlab.verifiers.sandbox`).

The program is the response's last fenced ```` ```python ```` block (else its
last fenced block, else the whole response). The reference holds the tests,
as a dict or its JSON text, in one of two forms:

- ``{"tests": [{"input": "...", "output": "..."}, …]}``: each test runs the
  program with ``input`` on stdin; it passes when the run exits with status 0
  and its stdout equals ``output`` (both compared line by line with trailing
  whitespace and trailing blank lines removed);
- ``{"asserts": ["assert f(1) == 2", …], "setup": "..."}``: each assert is
  split (:mod:`rewardlab.verifiers.code_asserts`): its probes (``f(1)``) run
  in the sandbox after the program and ``setup``, their plain values come
  back, and the comparison with the expected values (``== 2``) is made here.
  An assert that cannot be split that way makes the sample a failure (failure
  reward, logged with the assert).

Expected outputs and values never enter the sandbox: what the program can
see is its stdin, the setup code and the probe expressions. A run that exits
early (``os._exit(0)``) returns no values and fails its assert; an object
with an ``__eq__`` that always returns True cannot leave the sandbox.

Every test is its own sandboxed run; all tests of all samples in a batch go
to one worker pool. The reward is the share of tests passed
(``mode="fraction"``) or 1.0 only when every test passes (``mode="all"``, the
binary accuracy reward of DeepSeek-R1, Guo et al., 2025). A run that times
out, is killed, crashes or prints the wrong output fails its test (reward,
not an error); a reference without tests is a failure (failure reward,
logged). Where no sandbox can be made (no bubblewrap, no user namespaces),
scoring raises :class:`~rewardlab.verifiers.sandbox.SandboxUnavailable`
naming what is missing, unless ``unsafe_no_sandbox=True``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.protocols import check_lengths, check_references
from rewardlab.verifiers.base import Example, Verifier
from rewardlab.verifiers.code_asserts import SplitAssert, bound_names, split_assert
from rewardlab.verifiers.registry import VERIFIERS
from rewardlab.verifiers.sandbox import (
    Job,
    RunResult,
    SandboxLimits,
    require_sandbox,
    run_many,
)

_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)
MODES = ("fraction", "all")


def extract_program(response: str) -> str:
    """The last ```python block, else the last fenced block, else the whole response."""
    blocks = _FENCE.findall(response)
    python = [body for lang, body in blocks if lang.lower() in ("python", "py", "python3")]
    if python:
        return python[-1]
    return blocks[-1][1] if blocks else response


def _same_output(got: str, want: str) -> bool:
    def lines(text: str) -> list[str]:
        out = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        while out and not out[-1]:
            out.pop()
        return out

    return lines(got) == lines(want)


@dataclass(frozen=True)
class CodeTest:
    """One test of a reference: the sandboxed job, and what its result must be.

    ``output`` is the expected stdout (``tests`` form); ``check`` the split
    assert (``asserts`` form). Neither ever enters the sandbox.
    """

    job: Job
    output: str | None = None
    check: SplitAssert | None = None

    def passed(self, result: RunResult) -> bool:
        """Whether ``result`` passes this test (decided here, outside the sandbox)."""
        if result.status != "ok":
            return False
        if self.check is None:
            return _same_output(result.stdout, str(self.output))
        return result.values is not None and self.check.passes(result.values)


def _assert_tests(program: str, spec: dict[str, Any]) -> list[CodeTest]:
    setup = str(spec.get("setup", ""))
    setup_names = bound_names(setup, "the reference's setup")
    try:
        program_names = bound_names(program, "the program")
    except ValueError:
        program_names = set()  # the run reports the syntax error; its asserts fail
    tests = []
    for text in spec["asserts"]:
        split = split_assert(str(text), setup_names, program_names)
        tests.append(CodeTest(Job(program, "", split.probes, setup), check=split))
    return tests


def tests_for(program: str, reference: Any) -> list[CodeTest]:
    """One :class:`CodeTest` per test in ``reference`` (a dict or its JSON text)."""
    spec = json.loads(reference) if isinstance(reference, str) else reference
    if not isinstance(spec, dict):
        raise ValueError("the reference must be an object with 'tests' or 'asserts'")
    if spec.get("tests"):
        return [CodeTest(Job(program, str(t["input"])), str(t["output"])) for t in spec["tests"]]
    if spec.get("asserts"):
        return _assert_tests(program, spec)
    raise ValueError("the reference has no 'tests' and no 'asserts'")


_PLUS_ONE = "```python\nprint(int(input()) + 1)\n```"


@VERIFIERS.register("code")
class CodeVerifier(Verifier):
    """Pass fraction (or all-pass) of the response's program on the reference's tests."""

    name = "code"
    requires_reference = True
    default_timeout = None  # its own score: every test run is bounded by the sandbox
    examples = (Example(_PLUS_ONE, {"tests": [{"input": "1", "output": "2"}]}, 1.0),
                Example(_PLUS_ONE, {"tests": [{"input": "1", "output": "3"}]}, 0.0),
                Example(_PLUS_ONE, {}, None))  # a reference without tests

    def __init__(
        self,
        mode: str = "fraction",
        cpu_seconds: int = 2,
        wall_seconds: float = 5.0,
        memory_mb: int = 512,
        output_bytes: int = 1_000_000,
        processes: int = 8,
        workers: int | None = None,
        failure_reward: float = 0.0,
        unsafe_no_sandbox: bool = False,
    ) -> None:
        super().__init__(failure_reward)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.limits = SandboxLimits(cpu_seconds, wall_seconds, memory_mb, output_bytes, processes)
        self.workers = workers
        self.unsafe_no_sandbox = bool(unsafe_no_sandbox)

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        references: Sequence[Any] | None = None,
    ) -> np.ndarray:
        n = check_lengths(prompts, responses)
        refs = check_references(references, n, "reference", f"verifier {self.name!r}")
        require_sandbox(self.unsafe_no_sandbox)
        rewards = np.zeros(n)
        planned: list[tuple[int, CodeTest]] = []
        for i, (response, ref) in enumerate(zip(responses, refs, strict=True)):
            try:
                tests = tests_for(extract_program(response), ref)
            except (ValueError, KeyError, TypeError) as err:
                rewards[i] = self.failed(i, err)
                continue
            planned += [(i, test) for test in tests]
        jobs = [test.job for _, test in planned]
        results = run_many(jobs, self.limits, self.workers, self.unsafe_no_sandbox)
        passed: dict[int, list[bool]] = {}
        for (i, test), result in zip(planned, results, strict=True):
            passed.setdefault(i, []).append(test.passed(result))
        for i, outcome in passed.items():
            rewards[i] = float(np.mean(outcome)) if self.mode == "fraction" else float(all(outcome))
        return rewards

    def check(self, prompt: str, response: str, reference: Any) -> float:
        return float(self.score([prompt], [response], [reference])[0])
