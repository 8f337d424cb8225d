"""Verifiable rewards: rules that check a response, most against a per-sample reference.

Every verifier is a :class:`~rewardlab.protocols.ReferenceRewardModel`
registered in :data:`VERIFIERS` (``make_verifier("math")``; a typo gets a
did-you-mean error). A rule that crashes on one sample gives that sample the
verifier's ``failure_reward`` (default 0.0) and logs the reason on the
``rewardlab.verifiers`` logger; it never fails the batch.

Each module of this package registers its verifiers (math: final answer
equivalent, via math-verify; choice; exact and normalized match; format;
json and json-schema; code in a sandbox; overlong; repetition), and importing
the package imports every module, so a new verifier is its module plus its
test; ``VERIFIERS.names()`` lists them and each class's docstring states its
rule and the reference it reads.
"""

from rewardlab.registry import import_modules
from rewardlab.verifiers.base import Verifier
from rewardlab.verifiers.registry import VERIFIERS, make_verifier

import_modules(__name__, __path__)

__all__ = ["VERIFIERS", "Verifier", "make_verifier"]
