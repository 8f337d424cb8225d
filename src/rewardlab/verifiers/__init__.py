"""Verifiable rewards: rules that check a response, most against a per-sample reference.

Every verifier is a :class:`~rewardlab.protocols.ReferenceRewardModel`
registered in :data:`VERIFIERS` (``make_verifier("math")``; a typo gets a
did-you-mean error). A rule that crashes on one sample gives that sample the
verifier's ``failure_reward`` (default 0.0) and logs the reason on the
``rewardlab.verifiers`` logger; it never fails the batch.

========== =================================================== ==========
name        rule                                                reference
========== =================================================== ==========
math        final answer equivalent (math-verify)               gold answer
choice      final choice letter equal                           letter
exact       response equal after stripping                     string(s)
normalized  equal after SQuAD normalization                     string(s)
format      regex full match, optional partial credit           —
json        parses as JSON                                      —
json_schema conforms to a JSON Schema                           schema
code        pass fraction / all-pass of tests in a sandbox      tests
overlong    DAPO soft overlong penalty                          —
repetition  −n-gram repetition rate                             —
========== =================================================== ==========
"""

from rewardlab.verifiers import (  # noqa: F401 - importing registers each verifier
    choice,
    code,
    format,
    json_schema,
    length,
    match,
    math,
    repetition,
)
from rewardlab.verifiers.base import Verifier
from rewardlab.verifiers.registry import VERIFIERS, make_verifier

__all__ = ["VERIFIERS", "Verifier", "make_verifier"]
