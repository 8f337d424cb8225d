"""Probes: ``PROBES.get(name)`` is a :class:`Probe` that declares its metrics.

One module per probe (length bias, off-topic answers, perturbations,
sycophancy, attack search; ``PROBES.names()`` lists them), each ending with
its ``PROBES.add``. A probe that compares two responses (``Probe.pairwise``)
also takes a preference model; the others need a scalar reward. Importing the
package imports every module, so a new probe is its module plus its test.
"""

from rewardlab.evaluate.probes.base import PROBES, Metric, Probe
from rewardlab.registry import import_modules

import_modules(__name__, __path__)

__all__ = ["PROBES", "Metric", "Probe"]
