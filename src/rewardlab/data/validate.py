"""Counting (and dropping) records that would mislead training, never silently.

Three problems are checked, in this order, and a record is counted under the
first it has:

- ``empty_response``: some response is empty (text: empty or whitespace
  only; an image is never empty, a corrupt one is an error of its loader);
- ``identical_pair``: two of its responses are the same (the same string, or
  the same pixels: :func:`rewardlab.data.modality.response_key`), so the label
  carries no information;
- ``duplicate``: same prompt and same responses (in order) as an earlier
  record, which would weigh that comparison twice (records of different
  annotators are not duplicates: pluralistic data labels the same pair often).

``total = kept + empty_response + identical_pair + duplicate`` when
``drop=True``; with ``drop=False`` every record is kept and the problems are
still counted. ``examples`` keeps the first few ``source`` strings per problem
so the user can look at them.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from rewardlab.data.errors import DataError
from rewardlab.data.modality import is_empty_response, response_key
from rewardlab.data.record import Comparison

PROBLEMS = ("empty_response", "identical_pair", "duplicate")


@dataclass
class DataReport:
    """What validation found: counts per problem and example sources."""

    total: int = 0
    kept: int = 0
    empty_response: int = 0
    identical_pair: int = 0
    duplicate: int = 0
    dropped: bool = True
    examples: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> str:
        """One line, e.g. ``"10 records, 7 kept; dropped: 1 empty response, …"``."""
        problems = (
            f"{self.empty_response} empty response, {self.identical_pair} identical pair, "
            f"{self.duplicate} duplicate"
        )
        verb = "dropped" if self.dropped else "found (kept)"
        return f"{self.total} records, {self.kept} kept; {verb}: {problems}"


def _problem(record: Comparison, seen: set[Hashable]) -> str | None:
    if any(is_empty_response(response) for response in record.responses):
        return "empty_response"
    keys = tuple(response_key(response) for response in record.responses)
    if len(set(keys)) < len(keys):
        return "identical_pair"
    key = (record.prompt, keys, record.annotator)
    if key in seen:
        return "duplicate"
    seen.add(key)
    return None


def validate(
    records: Iterable[Comparison], drop: bool = True, max_examples: int = 5
) -> tuple[list[Comparison], DataReport]:
    """Check every record; return the kept records and the report."""
    report = DataReport(dropped=drop, examples={name: [] for name in PROBLEMS})
    kept: list[Comparison] = []
    seen: set[Hashable] = set()
    for record in records:
        report.total += 1
        try:
            problem = _problem(record, seen)
        except (TypeError, ValueError) as err:  # a response that cannot be decoded
            raise DataError(str(err), path=record.source or f"record {report.total}") from None
        if problem is not None:
            setattr(report, problem, getattr(report, problem) + 1)
            if len(report.examples[problem]) < max_examples:
                report.examples[problem].append(record.source or f"record {report.total}")
            if drop:
                continue
        kept.append(record)
    report.kept = len(kept)
    return kept, report
