"""Code execution against test cases, in the sandbox (:mod:`rewardlab.verifiers.sandbox`).

The program is the response's last fenced ```` ```python ```` block (else its
last fenced block, else the whole response). The reference holds the tests,
as a dict or its JSON text, in one of two forms:

- ``{"tests": [{"input": "...", "output": "..."}, …]}``: each test runs the
  program with ``input`` on stdin and passes when its stdout equals
  ``output`` (both compared line by line with trailing whitespace and
  trailing blank lines removed);
- ``{"asserts": ["assert f(1) == 2", …], "setup": "..."}``: each assert runs
  after the program, in its namespace (``setup`` first); it passes when the
  run reaches its end (see :func:`~rewardlab.verifiers.sandbox.run_python`).

Every test is its own sandboxed run; all tests of all samples in a batch go
to one worker pool. The reward is the share of tests passed
(``mode="fraction"``) or 1.0 only when every test passes (``mode="all"``, the
binary accuracy reward of DeepSeek-R1, Guo et al., 2025). A run
that times out, is killed, crashes or prints the wrong output fails its test
(reward, not an error); a reference without tests is a failure (failure
reward, logged).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.protocols import check_lengths, check_references
from rewardlab.verifiers.base import Verifier
from rewardlab.verifiers.registry import VERIFIERS
from rewardlab.verifiers.sandbox import Job, SandboxLimits, run_many

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


def jobs_for(program: str, reference: Any) -> list[tuple[Job, str | None]]:
    """One (job, expected stdout or None for an assert) per test in ``reference``."""
    spec = json.loads(reference) if isinstance(reference, str) else reference
    if not isinstance(spec, dict):
        raise ValueError("the reference must be an object with 'tests' or 'asserts'")
    if spec.get("tests"):
        return [(Job(program, str(t["input"])), str(t["output"])) for t in spec["tests"]]
    if spec.get("asserts"):
        setup = str(spec.get("setup", ""))
        return [(Job(program, "", f"{setup}\n{a}"), None) for a in spec["asserts"]]
    raise ValueError("the reference has no 'tests' and no 'asserts'")


@VERIFIERS.register("code")
class CodeVerifier(Verifier):
    """Pass fraction (or all-pass) of the response's program on the reference's tests."""

    name = "code"
    requires_reference = True
    default_timeout = None  # its own score: every test run is bounded by the sandbox

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
    ) -> None:
        super().__init__(failure_reward)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.limits = SandboxLimits(cpu_seconds, wall_seconds, memory_mb, output_bytes, processes)
        self.workers = workers

    def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str],
        references: Sequence[Any] | None = None,
    ) -> np.ndarray:
        n = check_lengths(prompts, responses)
        refs = check_references(references, n, "reference", f"verifier {self.name!r}")
        rewards = np.zeros(n)
        planned: list[tuple[int, Job, str | None]] = []
        for i, (response, ref) in enumerate(zip(responses, refs, strict=True)):
            try:
                tests = jobs_for(extract_program(response), ref)
            except (ValueError, KeyError, TypeError) as err:
                rewards[i] = self.failed(i, err)
                continue
            planned += [(i, job, want) for job, want in tests]
        results = run_many([job for _, job, _ in planned], self.limits, self.workers)
        passed: dict[int, list[bool]] = {}
        for (i, _, want), result in zip(planned, results, strict=True):
            ok = result.status == "ok" and (want is None or _same_output(result.stdout, want))
            passed.setdefault(i, []).append(ok)
        for i, outcome in passed.items():
            rewards[i] = float(np.mean(outcome)) if self.mode == "fraction" else float(all(outcome))
        return rewards

    def check(self, prompt: str, response: str, reference: Any) -> float:
        return float(self.score([prompt], [response], [reference])[0])
