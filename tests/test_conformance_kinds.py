"""Contract tests of the registries that ``tests/test_conformance.py`` does not cover, each
parametrized over its registry at collection, so a new component is checked without an edit:

- verifiers: its declared ``examples`` score as declared (``None``: the sample gets the
  ``failure_reward``), every sample on its own (a batch gives what each sample alone gives,
  in any order), deterministically; ``requires_reference`` means a missing or empty
  reference is refused and ``False`` means references are not needed; a rule that crashes
  gives ``failure_reward`` and never fails the batch; the class's ``name`` is its
  registered name;
- data formats: the example of ``tests/data/formats/NAME/`` loads to records whose
  ``source`` points at a line of the file, the same twice; the rows written back by
  rewardlab's writer load to the same records (the round trip); ``auto`` recognises the
  example as its own format when the format declares a rule; and every field of the last
  row, dropped or given a value of the wrong type, either loads or is one ``DataError``
  naming the file, that line and a field, never another exception;
- build methods: each reads the options class it declares (``BuildMethod.options``), refuses any
  other option given to it before the pool is scored, and builds JSON rows from a tiny
  pool, the same for the same seed;
- compat routes: the example body of each route parses into texts to score (with one
  reference per text where the route carries references), its answer is JSON and follows
  the rewards; a body that is not an object, or lacks the route's fields, is a 400
  naming the field;
- forecast methods: a forecast on the grid, finite, deterministic, its peak inside the
  reach (at the reach when censored);
- query strategies: distinct indices of the candidates, as many as asked (or all), the
  same for the same generator state;
- routing criteria: one value per record, invariant to the order of the members, and a
  unanimous large gap less uncertain than members that split around a tie;
- step reductions: what each gives on one step, the empty rule (``tests/test_step_reductions.py``
  checks the values by hand).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data.errors import DataError
from rewardlab.data.formats import FORMATS
from rewardlab.data.formats._base import detection_of
from rewardlab.data.formats.auto import detect_format
from rewardlab.data.io import read_rows, write_jsonl
from rewardlab.data.modality import response_key
from rewardlab.data.trajectory import Trajectory
from rewardlab.lab.agent.queries import QUERY_STRATEGIES
from rewardlab.lab.forecast.axis import bon_axis
from rewardlab.lab.forecast.methods import FORECAST_METHODS
from rewardlab.optimize.methods import (
    PAIR_METHODS,
    PAIR_OPTIONS,
    SFT_METHODS,
    SFT_OPTIONS,
    method_options,
)
from rewardlab.optimize.pairs import FILTRATION_STRATEGIES
from rewardlab.optimize.pool import PromptPool
from rewardlab.options import OptionError, declared
from rewardlab.protocols import STEP_REDUCTIONS, MissingReferenceError, reduce_steps
from rewardlab.robust.routing import ROUTING_CRITERIA
from rewardlab.serve.compat import ROUTES, Outcome
from rewardlab.serve.schemas import RequestError
from rewardlab.serve.settings import ServeSettings
from rewardlab.strict_json import dumps
from rewardlab.verifiers import VERIFIERS, Verifier, make_verifier
from rewardlab.verifiers._deps import MissingExtra
from rewardlab.verifiers.sandbox import SandboxUnavailable

EXAMPLES = Path(__file__).resolve().parent / "data" / "formats"
FAILURE = -0.375  # a failure reward no rule gives


# ---------------------------------------------------------------- verifiers


def verifier_or_skip(name: str) -> Verifier:
    cls = VERIFIERS.get(name)
    try:
        return make_verifier(name, **cls.example_params, failure_reward=FAILURE)
    except MissingExtra as err:
        pytest.skip(str(err))


def scored(verifier: Verifier, examples, references=True) -> list[float]:
    try:
        return verifier.score(["q"] * len(examples), [e.response for e in examples],
                              [e.reference for e in examples] if references else None).tolist()
    except SandboxUnavailable as err:
        pytest.skip(str(err))


@pytest.mark.parametrize("name", VERIFIERS.names())
def test_verifier_scores_its_examples_per_sample_and_deterministically(name):
    verifier = verifier_or_skip(name)
    examples = VERIFIERS.get(name).examples
    assert verifier.name == name
    assert len({e.reward for e in examples if e.reward is not None}) >= 2, "declare examples"
    expected = [FAILURE if e.reward is None else e.reward for e in examples]
    rewards = scored(verifier, examples)
    assert rewards == pytest.approx(expected, abs=1e-12)
    assert scored(verifier, examples) == rewards
    assert scored(verifier, examples[::-1]) == rewards[::-1]
    assert [scored(verifier, [e])[0] for e in examples] == rewards


@pytest.mark.parametrize("name", VERIFIERS.names())
def test_verifier_reference_rule(name):
    verifier = verifier_or_skip(name)
    examples = VERIFIERS.get(name).examples
    if verifier.requires_reference:
        with pytest.raises(MissingReferenceError):
            scored(verifier, examples, references=False)
        with pytest.raises(MissingReferenceError):
            verifier.score(["q"], [examples[0].response], [""])  # empty is missing
    else:
        assert scored(verifier, examples, references=False) == scored(verifier, examples)


def _crash(prompt, response, reference):
    raise RuntimeError("rule crashed")


@pytest.mark.parametrize("name", VERIFIERS.names())
def test_a_crashing_rule_gives_the_failure_reward(name, caplog):
    verifier = verifier_or_skip(name)
    examples = VERIFIERS.get(name).examples
    if type(verifier).score is not Verifier.score:  # its own batch rule: a failing example
        assert any(e.reward is None for e in examples), f"{name}: declare a failing example"
        return
    verifier.timeout = None  # in this process, so the crashing rule is the one that runs
    verifier.check = _crash
    assert scored(verifier, examples) == [FAILURE] * len(examples)
    assert "rule crashed" in caplog.text and repr(name) in caplog.text


# ---------------------------------------------------------------- data formats


FORMAT_NAMES = [name for name in FORMATS.names() if name != "auto"]
"""``auto`` has no example of its own: it reads the others'."""


def example_of(name: str) -> Path:
    found = sorted((EXAMPLES / name).glob("example.*"))
    assert len(found) == 1, f"data format {name!r}: add tests/data/formats/{name}/example.*"
    return found[0]


def load(name: str, path: Path) -> list:
    return FORMATS.get(name)(read_rows(path), str(path))


def without_source(records: list) -> list:
    """Each record's fields but its ``source``, with responses as their keys (an image file
    by its pixels' digest, wherever the file lies)."""
    return [{f.name: tuple(map(response_key, r.responses)) if f.name == "responses"
             else getattr(r, f.name) for f in fields(r) if f.name != "source"}
            for r in records]


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_format_loads_its_example_with_sources(name):
    path = example_of(name)
    records = load(name, path)
    assert records and records == load(name, path)
    lines = [line for line, _ in read_rows(path)]
    folder = re.escape(str(path.parent))
    for record in records:
        pointers = re.findall(rf"{folder}/[^ :]+:(\d+)", record.source or "")
        assert pointers, f"{record.source!r} names no line of the example"
        assert {int(p) for p in pointers if str(path) in record.source} <= set(lines)
    detection = detection_of(name)
    if detection is not None:
        first = next(read_rows(path))[1]
        assert detect_format(first) == name
        assert without_source(FORMATS.get("auto")(read_rows(path), str(path))) == \
            without_source(records)


def write_rows(rows: list[dict], path: Path) -> Path:
    """The rows written to ``path`` by rewardlab's writer (JSONL), or as Parquet for a
    Parquet example (its rows hold encoded images)."""
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        write_jsonl(path, rows)
    return path


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_format_round_trip_through_the_writer(name, tmp_path):
    path = example_of(name)
    copy = shutil.copytree(path.parent, tmp_path / name)  # assets beside it, the same name
    rows = [row for _, row in read_rows(path)]
    written = write_rows(rows, copy / path.name)
    assert without_source(load(name, written)) == without_source(load(name, path))


WRONG = {"not": ["what", "was", "expected"]}
"""A value of the wrong type for every field a format reads."""


def wrong(value, parquet: bool):
    """:data:`WRONG`; in a Parquet column, which holds one type, a bad value of that type."""
    if not parquet:
        return WRONG
    if isinstance(value, bytes | bytearray):
        return b"not an encoded image"
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return -1.5
    return ""


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_format_errors_name_the_file_line_and_field(name, tmp_path):
    example = example_of(name)
    copy = shutil.copytree(example.parent, tmp_path / name)
    rows = [row for _, row in read_rows(example)]
    last = len(rows)
    refused = 0
    for key in rows[-1]:
        for change in ("drop", "wrong"):
            row = {k: v for k, v in rows[-1].items() if k != key or change == "wrong"}
            if change == "wrong":
                row[key] = wrong(rows[-1][key], example.suffix == ".parquet")
            path = write_rows([*rows[:-1], row], copy / example.name)
            try:
                load(name, path)
            except DataError as err:
                refused += 1
                assert (err.path, err.line) == (str(path), last), str(err)
                assert err.field, f"{key} {change}: {err} names no field"
    assert refused, f"{name}: no corrupted field was refused"


def test_auto_reads_every_format_it_recognises():
    recognised = [name for name in FORMAT_NAMES if detection_of(name) is not None]
    ranks = [detection_of(name).rank for name in recognised]
    assert len(set(ranks)) == len(ranks), "two formats share a detection rank"
    assert len(recognised) >= 2


# ---------------------------------------------------------------- build methods


OTHER_VALUES = {"k": 2, "quantile": 0.5, "threshold": 0.25, "temperature": 0.5,
                "strategy": FILTRATION_STRATEGIES[-1], "pairs_per_prompt": 2,
                "template": "Score {score}: {prompt}", "conversational": True,
                "gold_column": "gold"}
"""A valid value other than the default of every build-method option but ``seed``."""
POOLS = [PromptPool(f"q{i}", tuple(f"answer {i}.{j} " + "word " * j for j in range(5)),
                    scores=np.array([0.1, 0.9, 0.4, 0.7, 0.2]) + i,
                    gold=np.array([0.0, 1.0, 0.5, 0.5, 0.0]))
         for i in range(4)]
FAMILIES = {"sft": (SFT_METHODS, SFT_OPTIONS), "pairs": (PAIR_METHODS, PAIR_OPTIONS)}
METHODS = [(kind, name) for kind, (registry, _) in FAMILIES.items()
           for name in registry.names()]


def test_every_option_has_another_value():
    assert declared(SFT_OPTIONS, PAIR_OPTIONS) - {"seed"} == set(OTHER_VALUES)


@pytest.mark.parametrize(("kind", "name"), METHODS, ids=[n for _, n in METHODS])
def test_build_method_reads_what_it_declares_and_refuses_the_rest(kind, name):
    registry, family = FAMILIES[kind]
    reads = declared(registry.get(name).options)
    for option, value in OTHER_VALUES.items():
        if option not in declared(family):
            continue
        if option in reads:
            made = method_options(registry, name, {option: value}, family)
            assert getattr(made, option) == value
        else:
            flag = f"--{option.replace('_', '-')}"
            with pytest.raises(OptionError, match=f"{flag}: not read by --method {name}"):
                method_options(registry, name, {option: value}, family)


@pytest.mark.parametrize(("kind", "name"), METHODS, ids=[n for _, n in METHODS])
def test_build_method_builds_json_rows_fixed_by_the_seed(kind, name):
    registry, _ = FAMILIES[kind]
    entry = registry.get(name)
    options = (entry.options(seed=3) if "seed" in declared(entry.options)
               else entry.options())
    built = entry.build(POOLS, options)
    assert built.rows and all(isinstance(row, dict) for row in built.rows)
    json.loads(dumps(built.rows))
    assert entry.build(POOLS, options).rows == built.rows
    prompts = {pool.prompt for pool in POOLS}
    assert all(any(p in json.dumps(row) for p in prompts) for row in built.rows)


# ---------------------------------------------------------------- compat routes


SETTINGS = ServeSettings()


@pytest.mark.parametrize("path", ROUTES.names())
def test_route_parses_its_example_and_answers_with_the_rewards(path):
    route = ROUTES.get(path)
    call = route.parse(route.example, SETTINGS)
    n = len(call.responses)
    assert n >= 1 and len(call.prompts) == n
    if route.references is None:
        assert call.references is None
    else:
        assert call.references is not None and len(call.references) == n
    first = call.answer(Outcome([0.5] * n, model="m"))
    second = call.answer(Outcome([-2.0] * n, model="m"))
    assert isinstance(first, dict) and json.loads(dumps(first)) == first
    assert first != second


@pytest.mark.parametrize("path", ROUTES.names())
def test_route_refuses_a_bad_body_naming_the_field(path):
    route = ROUTES.get(path)
    with pytest.raises(RequestError):
        route.parse(["not", "an", "object"], SETTINGS)
    for key in route.example:
        body = {k: v for k, v in route.example.items() if k != key}
        try:
            route.parse(body, SETTINGS)
        except RequestError as err:
            assert err.status == 400 and err.field, str(err)


# ---------------------------------------------------------------- forecast methods


AXIS = bon_axis(64)


@pytest.mark.parametrize("name", FORECAST_METHODS.names())
@pytest.mark.parametrize("shape", ["rises-then-falls", "rises"])
def test_forecast_method_gives_a_curve_and_a_peak_in_reach(name, shape):
    d = AXIS.d
    curve = d * (1.5 - 0.5 * d) if shape == "rises-then-falls" else np.log1p(d)
    method = FORECAST_METHODS.get(name)
    estimate = method(AXIS, curve)
    assert np.asarray(estimate.curve).shape == AXIS.x.shape
    assert np.all(np.isfinite(estimate.curve)) and np.isfinite(estimate.gain)
    assert AXIS.x[0] <= estimate.peak <= AXIS.x[-1]
    if estimate.censored:
        assert estimate.peak == AXIS.x[-1]
    again = method(AXIS, curve)
    assert again.peak == estimate.peak and np.array_equal(again.curve, estimate.curve)


# ---------------------------------------------------------------- query strategies


CANDIDATES = [(Trajectory(np.full((3, 2), i, np.float32), np.zeros(3, np.int64)),
               Trajectory(np.full((3, 2), -i, np.float32), np.ones(3, np.int64)))
              for i in range(6)]


@pytest.mark.parametrize("name", QUERY_STRATEGIES.names())
def test_query_strategy_picks_distinct_candidates(name):
    strategy = QUERY_STRATEGIES.get(name)
    assert isinstance(strategy.oversample, bool) and strategy.summary
    for n in (1, 4, 10):
        picked = strategy.select(CANDIDATES, n, None, "task", np.random.default_rng(0))
        assert len(picked) == len(set(picked)) == min(n, len(CANDIDATES))
        assert all(0 <= i < len(CANDIDATES) for i in picked)
        assert picked == strategy.select(CANDIDATES, n, None, "task", np.random.default_rng(0))


# ---------------------------------------------------------------- routing criteria


@pytest.mark.parametrize("name", ROUTING_CRITERIA.names())
def test_routing_criterion_shape_member_order_and_direction(name):
    criterion = ROUTING_CRITERIA.get(name)
    gaps = np.array([[2.0, 1.0, 0.3], [2.0, -1.0, 0.1], [2.0, 0.5, -0.2]])
    values = criterion(gaps)
    assert values.shape == (3,) and np.all(np.isfinite(values))
    np.testing.assert_array_equal(criterion(gaps[::-1]), values)
    assert values[0] < values[1]  # all agree on a large gap < members split around a tie


# ---------------------------------------------------------------- step reductions


@pytest.mark.parametrize("name", STEP_REDUCTIONS.names())
def test_step_reduction_of_one_step_is_that_step_and_none_is_refused(name):
    assert reduce_steps([0.25], name) == 0.25
    assert isinstance(reduce_steps(np.array([0.5, 0.25, 0.75]), name), float)
    with pytest.raises(ValueError, match="no step rewards"):
        reduce_steps([], name)
