"""From comparison records to the training units a loss needs (pairs, rankings, points).

A ranking of k responses yields every ordered pair it implies (i ranked above
j), as in InstructGPT (Ouyang et al., 2022), which trains on all C(k, 2)
comparisons of a ranking. Ties and unranked records yield no pair; the count
of each is returned so nothing is dropped silently.

For the generalized trainer, :func:`pair_units` (pairs, optionally with tie
pairs flagged), :func:`ranking_units` (one padded, possibly partial ranking
per record) and :func:`point_units` (one target row per rated response) give
:class:`Units` whose indices point into one list of distinct (prompt,
response) texts, so each text is encoded once however many units share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rewardlab.data.record import Comparison


@dataclass
class PairTable:
    """Flat pairs; ``margin`` is NaN where the record had no strength."""

    prompts: list[str] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    skipped_ties: int = 0
    skipped_unranked: int = 0

    def __len__(self) -> int:
        return len(self.prompts)

    def margins(self) -> np.ndarray | None:
        values = np.asarray(self.margin, dtype=np.float32)
        return None if np.all(np.isnan(values)) else np.nan_to_num(values, nan=0.0)


def pair_table(records: Sequence[Comparison]) -> PairTable:
    """Every ordered pair implied by each record's ranking."""
    table = PairTable()
    for record in records:
        if record.tie:
            table.skipped_ties += 1
            continue
        if len(record.ranking) < 2:
            table.skipped_unranked += 1
            continue
        strength = np.nan if record.strength is None else float(record.strength)
        for a, better in enumerate(record.ranking):
            for worse in record.ranking[a + 1 :]:
                table.prompts.append(record.prompt)
                table.chosen.append(record.responses[better])
                table.rejected.append(record.responses[worse])
                table.margin.append(strength)
    return table


@dataclass
class Units:
    """Training units as rows of a feature matrix (one row per distinct text).

    ``index`` (N, k) holds feature rows, −1 where a ranking is padded; a pair
    is (chosen, rejected). ``margin`` (N,) per pair (NaN-free; None when the
    data has none), ``tie`` (N,) marks tie pairs, ``n_ranked`` (N,) is each
    ranking's ranked prefix, ``target`` (N, A) the pointwise labels.
    """

    kind: str
    index: np.ndarray
    margin: np.ndarray | None = None
    tie: np.ndarray | None = None
    n_ranked: np.ndarray | None = None
    target: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class UnitTable:
    """Units plus the distinct (prompt, response) texts their indices point to."""

    units: Units
    prompts: list[str]
    responses: list[str]
    attributes: tuple[str, ...] = ()
    skipped_ties: int = 0
    skipped_unranked: int = 0
    skipped_unrated: int = 0


class _Texts:
    """Distinct (prompt, response) → feature row, in order of first appearance."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], int] = {}

    def row(self, prompt: str, response: str) -> int:
        return self.rows.setdefault((prompt, response), len(self.rows))

    def table(self, units: Units, **counts) -> UnitTable:
        prompts = [p for p, _ in self.rows]
        responses = [r for _, r in self.rows]
        return UnitTable(units, prompts, responses, **counts)


def _where(record: Comparison, i: int) -> str:
    return record.source or f"record {i}"


def _rating(record: Comparison, i: int, response: int, attribute: str) -> float:
    ratings = record.ratings
    value = None if ratings is None else ratings[response].get(attribute)
    if value is None:
        raise ValueError(f"{_where(record, i)}: field 'ratings[{response}].{attribute}': missing")
    return float(value)


def pair_units(
    records: Sequence[Comparison],
    with_ties: bool = False,
    strength_from: str | None = None,
    needs_margin: bool = False,
) -> UnitTable:
    """The pairs of :func:`pair_table` (same order) as feature-row indices.

    With ``with_ties`` a tie record yields a tie pair of its first two ranked
    responses (flagged in ``tie``) plus its other implied pairs. The margin is
    ``strength``, or |rating gap| on attribute ``strength_from``; with
    ``needs_margin`` a pair without one is an error naming its record.
    """
    texts, index, margin, tie = _Texts(), [], [], []
    skipped_ties = skipped_unranked = 0
    for i, record in enumerate(records):
        if record.tie and not with_ties:
            skipped_ties += 1
            continue
        if len(record.ranking) < 2:
            skipped_unranked += 1
            continue
        for a, better in enumerate(record.ranking):
            for b in range(a + 1, len(record.ranking)):
                worse = record.ranking[b]
                if strength_from is not None:
                    gap = _rating(record, i, better, strength_from)
                    strength = abs(gap - _rating(record, i, worse, strength_from))
                elif record.strength is not None:
                    strength = float(record.strength)
                elif needs_margin:
                    raise ValueError(
                        f"{_where(record, i)}: field 'strength': missing; this loss needs a "
                        "strength per pair (or loss param strength_from=ATTRIBUTE)"
                    )
                else:
                    strength = np.nan
                index.append(
                    (texts.row(record.prompt, record.responses[better]),
                     texts.row(record.prompt, record.responses[worse]))
                )
                margin.append(strength)
                tie.append(record.tie and (a, b) == (0, 1))
    values = np.asarray(margin, dtype=np.float32)
    units = Units(
        "ties" if with_ties else "pairs",
        np.asarray(index, dtype=np.int64).reshape(-1, 2),
        margin=None if np.all(np.isnan(values)) else np.nan_to_num(values, nan=0.0),
        tie=np.asarray(tie, dtype=bool) if with_ties else None,
    )
    return texts.table(units, skipped_ties=skipped_ties, skipped_unranked=skipped_unranked)


def ranking_units(records: Sequence[Comparison]) -> UnitTable:
    """One unit per record with ≥ 2 responses and a ranking: ranked responses
    first (best first), then the unranked ones; padded with −1 to the longest."""
    texts, rows, n_ranked = _Texts(), [], []
    skipped_ties = skipped_unranked = 0
    for record in records:
        if record.tie:
            skipped_ties += 1
            continue
        if not record.ranking or len(record.responses) < 2:
            skipped_unranked += 1
            continue
        order = list(record.ranking) + [
            j for j in range(len(record.responses)) if j not in record.ranking
        ]
        rows.append([texts.row(record.prompt, record.responses[j]) for j in order])
        n_ranked.append(len(record.ranking))
    width = max((len(r) for r in rows), default=2)
    index = np.full((len(rows), width), -1, dtype=np.int64)
    for u, row in enumerate(rows):
        index[u, : len(row)] = row
    units = Units("rankings", index, n_ranked=np.asarray(n_ranked, dtype=np.int64))
    return texts.table(units, skipped_ties=skipped_ties, skipped_unranked=skipped_unranked)


def point_units(records: Sequence[Comparison], attributes: Sequence[str] | None = None) -> UnitTable:
    """One unit per distinct rated (prompt, response), target = its ratings on
    ``attributes`` (default: the first rated response's attributes), averaged
    over repeats of the same text. Records without ratings are counted."""
    texts, sums, counts = _Texts(), [], []
    names = None if attributes is None else tuple(attributes)
    skipped_unrated = 0
    for i, record in enumerate(records):
        if record.ratings is None:
            skipped_unrated += 1
            continue
        if names is None:
            names = tuple(record.ratings[0])
        for j, response in enumerate(record.responses):
            values = [_rating(record, i, j, name) for name in names]
            row = texts.row(record.prompt, response)
            if row == len(sums):
                sums.append(np.zeros(len(names)))
                counts.append(0)
            sums[row] += values
            counts[row] += 1
    target = np.asarray(
        [s / c for s, c in zip(sums, counts, strict=True)], dtype=np.float32
    ).reshape(len(sums), len(names or ()))
    units = Units("points", np.arange(len(sums), dtype=np.int64)[:, None], target=target)
    table = texts.table(units, skipped_unrated=skipped_unrated)
    table.attributes = names or ()
    return table
