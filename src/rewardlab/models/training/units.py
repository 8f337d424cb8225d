"""From comparison records to the training units a loss needs (pairs, rankings, points).

A ranking of k responses yields every ordered pair it implies (i ranked above
j), as in InstructGPT (Ouyang et al., 2022), which trains on all C(k, 2)
comparisons of a ranking. :func:`ranked_pairs` is that expansion, for every
trainer; ties and unranked records yield no pair, and the count of each is
returned so nothing is dropped silently.

For the generalized trainer, :func:`pair_units` (pairs, optionally with tie
pairs flagged), :func:`ranking_units` (one padded, possibly partial ranking
per record) and :func:`point_units` (one target row per rated response) give
:class:`Units` whose indices point into one list of distinct (prompt,
response) texts, so each text is encoded once however many units share it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from rewardlab.data.modality import response_key
from rewardlab.data.record import Comparison
from rewardlab.protocols import Response


class RankedPair(NamedTuple):
    """Response ``better`` ranked above ``worse`` in ``record`` (``records[position]``);
    ``tie`` marks the first two ranked responses of a tie record."""

    position: int
    record: Comparison
    better: int
    worse: int
    tie: bool


@dataclass
class RankedPairs:
    """The ordered pairs of some records' rankings, and the records that gave none."""

    pairs: list[RankedPair] = field(default_factory=list)
    skipped_ties: int = 0
    skipped_unranked: int = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[RankedPair]:
        return iter(self.pairs)

    def skipped(self) -> dict[str, int]:
        """``{"ties": n, "unranked": m}``, as the structured models' configs report it."""
        return {"ties": self.skipped_ties, "unranked": self.skipped_unranked}


def ranked_pairs(records: Sequence[Comparison], with_ties: bool = False) -> RankedPairs:
    """Every ordered pair (better, worse) of every record's ranking, record by record.

    A ranking (r_1, …, r_k) gives the C(k, 2) pairs (r_a, r_b), a < b. A tie
    record is skipped and counted, unless ``with_ties``: then its pairs are kept
    and the pair of its first two ranked responses is flagged ``tie``. A record
    with fewer than two ranked responses is skipped and counted as unranked.
    """
    out = RankedPairs()
    for position, record in enumerate(records):
        if record.tie and not with_ties:
            out.skipped_ties += 1
            continue
        ranking = record.ranking
        if len(ranking) < 2:
            out.skipped_unranked += 1
            continue
        for a, better in enumerate(ranking):
            for b in range(a + 1, len(ranking)):
                tie = record.tie and (a, b) == (0, 1)
                out.pairs.append(RankedPair(position, record, better, ranking[b], tie))
    return out


@dataclass
class PairTable:
    """Flat pairs; ``margin`` is NaN where the record had no strength."""

    prompts: list[str] = field(default_factory=list)
    chosen: list[Response] = field(default_factory=list)
    rejected: list[Response] = field(default_factory=list)
    margin: list[float] = field(default_factory=list)
    skipped_ties: int = 0
    skipped_unranked: int = 0

    def __len__(self) -> int:
        return len(self.prompts)

    def margins(self) -> np.ndarray | None:
        return margins_or_none(self.margin)


def margins_or_none(margin: Sequence[float]) -> np.ndarray | None:
    """Pair margins as float32 with NaN (no strength) read as 0; None when no pair has one."""
    values = np.asarray(margin, dtype=np.float32)
    return None if np.all(np.isnan(values)) else np.nan_to_num(values, nan=0.0)


def pair_table(records: Sequence[Comparison]) -> PairTable:
    """Every ordered pair of :func:`ranked_pairs` as texts, with the record's strength."""
    expanded = ranked_pairs(records)
    table = PairTable(
        skipped_ties=expanded.skipped_ties, skipped_unranked=expanded.skipped_unranked
    )
    for _, record, better, worse, _ in expanded:
        table.prompts.append(record.prompt)
        table.chosen.append(record.responses[better])
        table.rejected.append(record.responses[worse])
        table.margin.append(np.nan if record.strength is None else float(record.strength))
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
    responses: list[Response]
    attributes: tuple[str, ...] = ()
    skipped_ties: int = 0
    skipped_unranked: int = 0
    skipped_unrated: int = 0


class _Texts:
    """Distinct (prompt, response) → feature row, in order of first appearance; responses
    of any modality are told apart by :func:`rewardlab.data.modality.response_key`."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, Hashable], int] = {}
        self.pairs: list[tuple[str, Response]] = []

    def row(self, prompt: str, response: Response) -> int:
        key = (prompt, response_key(response))
        row = self.rows.setdefault(key, len(self.rows))
        if row == len(self.pairs):
            self.pairs.append((prompt, response))
        return row

    def table(self, units: Units, **counts) -> UnitTable:
        prompts = [p for p, _ in self.pairs]
        responses = [r for _, r in self.pairs]
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
    expanded = ranked_pairs(records, with_ties)
    for i, record, better, worse, is_tie in expanded:
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
        tie.append(is_tie)
    units = Units(
        "ties" if with_ties else "pairs",
        np.asarray(index, dtype=np.int64).reshape(-1, 2),
        margin=margins_or_none(margin),
        tie=np.asarray(tie, dtype=bool) if with_ties else None,
    )
    return texts.table(
        units, skipped_ties=expanded.skipped_ties, skipped_unranked=expanded.skipped_unranked
    )


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
